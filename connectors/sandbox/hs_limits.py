"""HubSpot's API rate limits: a rolling ten-second window per token and a daily allowance.

Private apps get 100 requests per rolling 10 s (``TEN_SECONDLY_ROLLING``) and a daily
allowance per portal that resets at midnight (the portal's time zone; UTC here).  Every
admitted response carries the ``X-HubSpot-RateLimit-*`` headers a client uses to pace
itself; a refused one is a 429 whose ``policyName`` says which limit was hit.

Time comes from the emulator's injectable clock, so tests move time instead of sleeping.
"""

from __future__ import annotations

import datetime as dt
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from connectors.sandbox.hs_errors import rate_limited
from connectors.sandbox.http import Response


@dataclass(frozen=True)
class RateLimit:
    """Limits of one private app (HubSpot's Professional/Enterprise defaults)."""

    max_requests: int = 100
    interval_ms: int = 10_000
    daily: int = 250_000


class RateLimiter:
    """Counts requests and decides whether the next one is admitted."""

    def __init__(self, limit: RateLimit, clock: Callable[[], dt.datetime]) -> None:
        self.limit = limit
        self.clock = clock
        self._recent: dict[str, deque[dt.datetime]] = {}
        self._day: dt.date | None = None
        self._used_today = 0

    def admit(self, token: str) -> tuple[Response | None, dict[str, str]]:
        """``(None, headers)`` when admitted, else ``(429 response, headers)``."""
        now = self.clock()
        self._roll_day(now.date())
        recent = self._window(token, now)
        if self._used_today >= self.limit.daily:
            headers = self._headers(len(recent))
            return rate_limited("DAILY", headers), headers
        if len(recent) >= self.limit.max_requests:
            headers = self._headers(len(recent))
            return rate_limited("TEN_SECONDLY_ROLLING", headers), headers
        recent.append(now)
        self._used_today += 1
        return None, self._headers(len(recent))

    def daily_exhausted(self) -> Response:
        """The 429 a client sees once the day's allowance is spent."""
        return rate_limited("DAILY", self._headers(0, daily_remaining=0))

    def ten_secondly(self) -> Response:
        """The 429 of a full ten-second window (used for injected bursts)."""
        return rate_limited("TEN_SECONDLY_ROLLING", self._headers(self.limit.max_requests))

    def _window(self, token: str, now: dt.datetime) -> deque[dt.datetime]:
        """The token's requests within the rolling interval ending ``now``."""
        recent = self._recent.setdefault(token, deque())
        cutoff = now - dt.timedelta(milliseconds=self.limit.interval_ms)
        while recent and recent[0] <= cutoff:
            recent.popleft()
        return recent

    def _roll_day(self, today: dt.date) -> None:
        if today != self._day:
            self._day, self._used_today = today, 0

    def _headers(self, used: int, daily_remaining: int | None = None) -> dict[str, str]:
        left_today = self.limit.daily - self._used_today if daily_remaining is None else daily_remaining
        return {
            "X-HubSpot-RateLimit-Max": str(self.limit.max_requests),
            "X-HubSpot-RateLimit-Remaining": str(max(self.limit.max_requests - used, 0)),
            "X-HubSpot-RateLimit-Interval-Milliseconds": str(self.limit.interval_ms),
            "X-HubSpot-RateLimit-Daily": str(self.limit.daily),
            "X-HubSpot-RateLimit-Daily-Remaining": str(max(left_today, 0)),
        }
