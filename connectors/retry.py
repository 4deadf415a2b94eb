"""The one retry policy every outside call goes through.

A :class:`Guard` wraps each call of one source: wait for the rate limiter, make the call,
translate the client library's exception into a :mod:`connectors.errors` class, and let
the tenacity policy decide:

- :class:`TransientError` (429, 5xx, connection reset, timeout): retry with exponential
  backoff and "equal jitter" — ``min(max_delay, base·2^(n−1)) · U(½, 1)`` — but never
  sooner than the vendor asked (``Retry-After``, HubSpot interval headers). Jitter keeps
  several syncs that failed together from retrying together.
- :class:`SessionExpired`: re-authenticate once (when the credentials allow it) and retry
  at once; a second expiry in the same call is an authentication failure.
- A vendor wait longer than ``max_vendor_wait`` is a quota in all but name: stop cleanly
  with the time to resume rather than hold the process for an hour.
- Everything else (validation, auth, scope, quota) is raised immediately.

Sleep, randomness and clock are injectable so tests run without waiting.
"""

from __future__ import annotations

import datetime as dt
import random
import threading
import time
from dataclasses import dataclass, field
from typing import Callable, TypeVar

import tenacity

from connectors.errors import AuthFailed, ConnectorError, QuotaExhausted, SessionExpired, TransientError
from connectors.ratelimit import RateLimiter

T = TypeVar("T")


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


@dataclass
class CallStats:
    """What one source's calls cost: requests made, retries, re-logins, seconds slept.
    Several streams of a source call at once, hence the lock."""

    calls: int = 0
    retries: int = 0
    reauths: int = 0
    slept: float = 0.0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def add(self, **counts: float) -> None:
        with self._lock:
            for name, n in counts.items():
                setattr(self, name, getattr(self, name) + n)


@dataclass
class RetryPolicy:
    max_attempts: int = 8
    base_delay: float = 0.5
    max_delay: float = 30.0
    max_vendor_wait: float = 300.0
    sleep: Callable[[float], None] = time.sleep
    random: Callable[[], float] = random.random
    clock: Callable[[], dt.datetime] = _utcnow
    monotonic: Callable[[], float] = time.monotonic   # for rate limiters sharing this policy's sleep

    def backoff(self, attempt: int, exc: BaseException | None) -> float:
        """Seconds to wait before attempt ``attempt + 1``."""
        if isinstance(exc, SessionExpired):
            return 0.0
        delay = min(self.max_delay, self.base_delay * 2 ** (attempt - 1)) * (0.5 + self.random() / 2)
        vendor = getattr(exc, "retry_after", None)
        return max(delay, vendor or 0.0)


Translate = Callable[[BaseException, str], "ConnectorError | None"]


@dataclass
class Guard:
    """Rate limit + translate + retry for every call of one source."""

    source: str
    translate: Translate
    policy: RetryPolicy = field(default_factory=RetryPolicy)
    limiter: RateLimiter = field(default_factory=lambda: RateLimiter(None))
    reauth: Callable[[], None] | None = None
    stats: CallStats = field(default_factory=CallStats)
    _session: int = field(default=0, init=False)            # bumped by each re-login
    _login_lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    def _relogin(self, seen: int) -> None:
        """Log in again unless another stream already did since this call's attempt began."""
        with self._login_lock:
            if self._session == seen:
                self.reauth()
                self._session += 1
                self.stats.add(reauths=1)

    def call(self, what: str, fn: Callable[[], T]) -> T:
        """Run ``fn`` under the policy; ``what`` names the call in errors ("query Account")."""
        state = {"reauthed": False}

        def attempt() -> T:
            state["session"] = self._session
            self.limiter.acquire()
            self.stats.add(calls=1)
            try:
                return fn()
            except ConnectorError:
                raise
            except Exception as exc:  # the client libraries raise many unrelated types
                err = self.translate(exc, what)
                if err is None:
                    raise
                raise err from None

        def should_retry(exc: BaseException) -> bool:
            if isinstance(exc, SessionExpired):
                return self.reauth is not None and not state["reauthed"]
            if isinstance(exc, TransientError):
                return (exc.retry_after or 0) <= self.policy.max_vendor_wait
            return False

        def before_sleep(rs: tenacity.RetryCallState) -> None:
            exc = rs.outcome.exception()
            if isinstance(exc, SessionExpired):
                state["reauthed"] = True
                self._relogin(state["session"])
            else:
                self.stats.add(retries=1)
            self.stats.add(slept=rs.upcoming_sleep)

        retrying = tenacity.Retrying(
            stop=tenacity.stop_after_attempt(self.policy.max_attempts),
            wait=lambda rs: self.policy.backoff(rs.attempt_number, rs.outcome.exception()),
            retry=tenacity.retry_if_exception(should_retry),
            sleep=self.policy.sleep,
            before_sleep=before_sleep,
            reraise=True,
        )
        try:
            return retrying(attempt)
        except SessionExpired as exc:
            why = "session rejected again after logging in" if state["reauthed"] else "credentials rejected"
            raise AuthFailed(self.source, f"{why} during {what}", status=exc.status,
                             fix=f"Check the [{self.source}] entry in credentials.toml") from None
        except TransientError as exc:
            if (exc.retry_after or 0) > self.policy.max_vendor_wait:
                resume = self.policy.clock() + dt.timedelta(seconds=exc.retry_after)
                raise QuotaExhausted(self.source, f"asked to wait {exc.retry_after:.0f}s during {what}",
                                     status=exc.status, resume_at=resume) from None
            raise
