"""Cross-cutting faults the sandbox server injects in front of any emulator.

A :class:`FaultConfig` is plain data (set at start, or at run time with
``POST /__sandbox/faults`` whose JSON body has the same field names).  A
:class:`FaultPlan` is the live, thread-safe state built from one config: it
counts requests and hands each one a :class:`Decision`.

Order of checks for one request (first match wins, after ``after`` requests
have passed through untouched):

====================  =====================================================
``request_budget``    requests beyond the budget get the vendor's ``quota``
                      error (a fixed daily quota; never resets by itself)
``reset_burst``       the next N requests: socket closed, no response
``rate_limit_burst``  the next N requests: the vendor's ``rate_limit`` error
``server_error_burst``  the next N requests: the vendor's ``server_error``
``session_expiry_burst``  the next N: the vendor's ``session_expired`` error
``slow_burst``        the next N: answered after ``slow_seconds`` (choose it
                      longer than the client timeout)
``malformed_burst``   the next N: status 200 with a truncated JSON body
====================  =====================================================

Every vendor request counts, logins included; the ``/__sandbox/`` control
endpoints never do.  ``latency_ms`` is added to every request (including
faulted ones).  Bursts are
consumed in the order above, so ``rate_limit_burst=2, server_error_burst=1``
means requests 1-2 get 429s and request 3 gets a 5xx.
"""

from __future__ import annotations

import threading
from dataclasses import asdict, dataclass, fields
from typing import Any

BURSTS = (
    ("reset_burst", "reset"),
    ("rate_limit_burst", "rate_limit"),
    ("server_error_burst", "server_error"),
    ("session_expiry_burst", "session_expired"),
    ("slow_burst", "slow"),
    ("malformed_burst", "malformed"),
)


@dataclass(frozen=True)
class FaultConfig:
    """Which faults to inject; all off by default."""

    latency_ms: int = 0
    after: int = 0
    rate_limit_burst: int = 0
    server_error_burst: int = 0
    reset_burst: int = 0
    session_expiry_burst: int = 0
    slow_burst: int = 0
    slow_seconds: float = 5.0
    malformed_burst: int = 0
    request_budget: int | None = None

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FaultConfig:
        """Build from JSON; unknown keys or bad values raise ``ValueError``."""
        if not isinstance(data, dict):
            raise ValueError("fault config must be a JSON object")
        known = {f.name: f for f in fields(cls)}
        unknown = sorted(set(data) - set(known))
        if unknown:
            raise ValueError(f"unknown fault setting(s) {unknown}; known: {sorted(known)}")
        for key, value in data.items():
            _check_value(key, value)
        return cls(**data)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _check_value(key: str, value: Any) -> None:
    if key == "request_budget" and value is None:
        return
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"fault setting {key} must be a number, got {value!r}")
    if value < 0:
        raise ValueError(f"fault setting {key} must be >= 0, got {value!r}")


@dataclass(frozen=True)
class Decision:
    """What to do with one request: ``kind`` is None (serve normally) or a fault."""

    kind: str | None
    latency_s: float = 0.0
    slow_s: float = 0.0


class FaultPlan:
    """Thread-safe request counter that turns a :class:`FaultConfig` into decisions."""

    def __init__(self, config: FaultConfig | None = None) -> None:
        self._lock = threading.Lock()
        self.reset(config or FaultConfig())

    def reset(self, config: FaultConfig) -> None:
        """Start over with ``config`` (counts of served requests restart too)."""
        with self._lock:
            self.config = config
            self._seen = 0
            self._budget_used = 0
            self._left = {name: getattr(config, name) for name, _ in BURSTS}

    def decide(self) -> Decision:
        """Consume one request and return what should happen to it."""
        with self._lock:
            self._seen += 1
            latency = self.config.latency_ms / 1000.0
            kind = self._next_kind()
            slow = self.config.slow_seconds if kind == "slow" else 0.0
            return Decision(kind, latency, slow)

    def _next_kind(self) -> str | None:
        budget = self.config.request_budget
        if budget is not None:
            self._budget_used += 1
            if self._budget_used > budget:
                return "quota"
        if self._seen <= self.config.after:
            return None
        for name, kind in BURSTS:
            if self._left[name] > 0:
                self._left[name] -= 1
                return kind
        return None
