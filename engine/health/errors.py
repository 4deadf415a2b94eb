"""Errors the health package raises on purpose; each message says what to do next.

    HealthError (ValueError)
    ├── BacktestError     the store lacks what a backtest needs, or the range is empty
    └── AccountNotFound   `nrr account` got a name or id that matches none or several
"""

from __future__ import annotations


class HealthError(ValueError):
    """Base class: a health operation cannot proceed as asked."""


class BacktestError(HealthError):
    """The store lacks what a backtest needs; the message says what to load."""


class AccountNotFound(HealthError):
    """No account, or more than one, matches what was asked for."""
