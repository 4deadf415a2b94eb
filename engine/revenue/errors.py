"""Errors raised by the revenue engine.

::

    RevenueError                 anything the revenue engine refuses to compute
    ├── RevenueDataError         a bad contract line (named by contract id) or a missing FX rate
    └── WaterfallError           start + new + reactivation + expansion − contraction − churn ≠ end

Both are raised before any result is returned, so a caller never sees partial figures.
"""

from __future__ import annotations


class RevenueError(Exception):
    """The revenue engine cannot produce trustworthy figures; the message says why."""


class RevenueDataError(RevenueError, ValueError):
    """A contract line the engine cannot use. ``contract_id`` names the first offender."""

    def __init__(self, message: str, *, contract_id: str | None = None, bad_lines: int = 1):
        super().__init__(message)
        self.contract_id = contract_id
        self.bad_lines = bad_lines


class WaterfallError(RevenueError):
    """The MRR waterfall does not balance for a month or an aggregate (an engine bug or corrupt data)."""
