"""Reporting periods and the month index the revenue engine counts in.

Every revenue figure is read at a **month-end** (design: "Month figures use the
month-end snapshot"). Months are numbered by a plain integer index
``k = year * 12 + (month - 1)``, so "the month before" is ``k - 1`` and "twelve months
earlier" is ``k - 12`` on every backend without date arithmetic.

A :class:`Period` is a month, a quarter or a year:

* ``start`` — the opening month-end (the day before the period begins), where
  ``mrr_start`` is measured: 2026-06-30 for ``2026-Q3``;
* ``end`` — the closing month-end, where ``mrr_end`` and the TTM figures are measured:
  2026-09-30 for ``2026-Q3``;
* ``months`` — the month-ends inside the period, whose movements sum to the period's.
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
from dataclasses import dataclass

_USAGE = "use a quarter (2026-Q3), a month (2026-09) or a year (2026)"
_PATTERNS = (
    (re.compile(r"^(\d{4})-Q([1-4])$", re.I), "quarter"),
    (re.compile(r"^(\d{4})-(\d{2})$"), "month"),
    (re.compile(r"^(\d{4})$"), "year"),
)


def month_index(day: dt.date) -> int:
    """The month index ``year * 12 + month - 1`` of the month containing ``day``."""
    return day.year * 12 + day.month - 1


def month_end(k: int) -> dt.date:
    """The last day of month index ``k``."""
    year, month0 = divmod(k, 12)
    return dt.date(year, month0 + 1, calendar.monthrange(year, month0 + 1)[1])


def last_month_end_on_or_before(day: dt.date) -> int:
    """Month index of the latest month-end that is not after ``day``."""
    k = month_index(day)
    return k if month_end(k) == day else k - 1


def month_label(k: int) -> str:
    """``2026-09`` for the month index of September 2026."""
    year, month0 = divmod(k, 12)
    return f"{year:04d}-{month0 + 1:02d}"


def quarter_label(k: int) -> str:
    """``2026-Q3`` for any month index in July–September 2026."""
    year, month0 = divmod(k, 12)
    return f"{year:04d}-Q{month0 // 3 + 1}"


@dataclass(frozen=True)
class Period:
    """A month, quarter or year, as the month indices ``first_k .. last_k``."""

    label: str
    grain: str
    first_k: int
    last_k: int

    @classmethod
    def parse(cls, text: str) -> "Period":
        """Parse ``2026-Q3``, ``2026-09`` or ``2026``; anything else is a ValueError."""
        value = str(text).strip()
        for pattern, grain in _PATTERNS:
            match = pattern.match(value)
            if match:
                return cls._build(grain, int(match.group(1)), match.groups()[1:])
        raise ValueError(f"period {text!r} not understood: {_USAGE}")

    @classmethod
    def _build(cls, grain: str, year: int, rest: tuple[str, ...]) -> "Period":
        if grain == "quarter":
            first = year * 12 + (int(rest[0]) - 1) * 3
            return cls(f"{year:04d}-Q{rest[0]}", grain, first, first + 2)
        if grain == "month":
            month = int(rest[0])
            if not 1 <= month <= 12:
                raise ValueError(f"period {year}-{rest[0]}: the month must be 01–12; {_USAGE}")
            first = year * 12 + month - 1
            return cls(month_label(first), grain, first, first)
        return cls(f"{year:04d}", grain, year * 12, year * 12 + 11)

    @classmethod
    def containing(cls, day: dt.date, grain: str = "quarter") -> "Period":
        """The period of ``grain`` that contains ``day``."""
        k = month_index(day)
        if grain == "month":
            return cls.parse(month_label(k))
        if grain == "year":
            return cls.parse(f"{day.year:04d}")
        return cls.parse(quarter_label(k))

    @property
    def start_k(self) -> int:
        """Month index of the opening month-end (the month before the period)."""
        return self.first_k - 1

    @property
    def start(self) -> dt.date:
        return month_end(self.start_k)

    @property
    def end(self) -> dt.date:
        return month_end(self.last_k)

    @property
    def first_day(self) -> dt.date:
        return month_end(self.start_k) + dt.timedelta(days=1)

    @property
    def months(self) -> tuple[dt.date, ...]:
        return tuple(month_end(k) for k in range(self.first_k, self.last_k + 1))

    def shift(self, n: int) -> "Period":
        """The period ``n`` steps later (negative: earlier) of the same grain."""
        span = self.last_k - self.first_k + 1
        first = self.first_k + n * span
        if self.grain == "quarter":
            return self.parse(quarter_label(first))
        if self.grain == "month":
            return self.parse(month_label(first))
        return self.parse(f"{first // 12:04d}")

    def __str__(self) -> str:
        return self.label
