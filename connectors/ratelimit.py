"""Client-side rate limiting: keep each source under its vendor's published rate so a 429
is an exception, not the way we discover the limit.

A sliding window (at most ``max_calls`` starts in any ``period`` seconds) rather than a
token bucket: a bucket that starts full lets through a burst of ``max_calls`` and then
the steady rate, i.e. up to twice the limit inside one vendor window (HubSpot counts 100
requests per rolling 10 s). ``margin`` widens our window a little because the vendor
counts arrival times, which trail our send times by a varying network delay.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from typing import Callable


class RateLimiter:
    """``acquire()`` blocks (through the injectable ``sleep``) until a call may start."""

    def __init__(
        self,
        max_calls: int | None,
        period: float = 1.0,
        *,
        margin: float = 0.05,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ):
        if max_calls is not None and max_calls < 1:
            raise ValueError(f"rate limit must allow at least one call per period, got {max_calls}")
        self.max_calls = max_calls
        self.period = period * (1 + margin)
        self.clock = clock
        self.sleep = sleep
        self.waited = 0.0
        self._starts: deque[float] = deque()
        self._lock = threading.Lock()

    @classmethod
    def shared(cls, account: tuple, max_calls: int | None, period: float = 1.0, **kw) -> "RateLimiter":
        """The one limiter of a vendor account in this process (``account``: source and base
        URL). The vendor counts every request we send it, so a sync followed by a write-back,
        or two syncs in a row, must share one window rather than each start an empty one."""
        if max_calls is None:
            return cls(None, **kw)
        key = (account, max_calls, period, kw.get("clock", time.monotonic), kw.get("sleep", time.sleep))
        with _SHARED_LOCK:
            if key not in _SHARED:
                _SHARED[key] = cls(max_calls, period, **kw)
            return _SHARED[key]

    @classmethod
    def per_second(cls, rate: float | None, *, account: tuple | None = None, **kw) -> "RateLimiter":
        """A limiter from a plain calls-per-second setting (None = unlimited)."""
        if rate is None:
            return cls(None, **kw)
        calls, period = (int(rate), 1.0) if rate >= 1 else (1, 1.0 / rate)
        return cls.shared(account, calls, period, **kw) if account else cls(calls, period, **kw)

    def acquire(self) -> None:
        if self.max_calls is None:
            return
        with self._lock:
            while True:
                now = self.clock()
                while self._starts and now - self._starts[0] >= self.period:
                    self._starts.popleft()
                if len(self._starts) < self.max_calls:
                    self._starts.append(now)
                    return
                wait = self.period - (now - self._starts[0])
                self.waited += wait
                self.sleep(wait)


_SHARED: dict[tuple, RateLimiter] = {}
_SHARED_LOCK = threading.Lock()
