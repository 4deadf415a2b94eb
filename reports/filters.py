"""Formatting of money, percentages, points and dates — defined once.

The same functions are Jinja filters (HTML/PDF) and plain calls (DOCX, ICS), so a figure
reads identically in every format. Missing values (None/NaN) print as an en dash, never
as 0: "no data" and "zero" must not look alike to a finance reader.
"""

from __future__ import annotations

import datetime as dt
import math
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

DASH = "–"
SYMBOLS = {"USD": "$", "EUR": "€", "GBP": "£", "JPY": "¥"}


def missing(value: Any) -> bool:
    if value is None:
        return True
    try:
        return math.isnan(float(value))
    except (TypeError, ValueError):
        return False


def _round(value: Any, places: int) -> Decimal:
    return Decimal(str(value)).quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)


def _prefix(currency: str) -> str:
    return SYMBOLS.get(currency, f"{currency} ")


def money(value: Any, currency: str = "USD", places: int = 0) -> str:
    """``$806,809`` — half-up rounding; negatives as ``−$1,200``."""
    if missing(value):
        return DASH
    v = _round(value, places)
    sign = "−" if v < 0 else ""
    return f"{sign}{_prefix(currency)}{abs(v):,.{places}f}"


def money_short(value: Any, currency: str = "USD") -> str:
    """``$806.8K``, ``$12.40M`` for tiles and chart labels; exact figures stay in the tables."""
    if missing(value):
        return DASH
    v = Decimal(str(value))
    sign, a = ("−" if v < 0 else ""), abs(v)
    for size, unit, places in ((Decimal(10) ** 9, "B", 2), (Decimal(10) ** 6, "M", 2), (Decimal(1000), "K", 1)):
        if a >= size:
            return f"{sign}{_prefix(currency)}{_round(a / size, places)}{unit}"
    return f"{sign}{_prefix(currency)}{_round(a, 0):,}"


def percent(value: Any, places: int = 1) -> str:
    """A fraction as a percentage: ``1.0148`` → ``101.5%``."""
    if missing(value):
        return DASH
    return f"{_round(Decimal(str(value)) * 100, places)}%"


def points(value: Any, places: int = 1) -> str:
    """A change of a fraction in percentage points: ``0.012`` → ``+1.2 pts``."""
    if missing(value):
        return DASH
    v = _round(Decimal(str(value)) * 100, places)
    return f"{'+' if v > 0 else '−' if v < 0 else '±'}{abs(v)} pts"


def pct_change(value: Any, places: int = 1) -> str:
    """A relative change as a signed percentage: ``0.121`` → ``+12.1%``."""
    if missing(value):
        return DASH
    v = _round(Decimal(str(value)) * 100, places)
    return f"{'+' if v > 0 else '−' if v < 0 else '±'}{abs(v)}%"


def signed(value: Any, places: int = 1) -> str:
    """A score change: ``−12.0``, ``+3.5``, ``±0.0``."""
    if missing(value):
        return DASH
    v = _round(value, places)
    return f"{'+' if v > 0 else '−' if v < 0 else '±'}{abs(v)}"


def number(value: Any, places: int = 0) -> str:
    if missing(value):
        return DASH
    return f"{_round(value, places):,}"


def ratio(value: Any, places: int = 2) -> str:
    """A multiple such as the quick ratio: ``2.97×``."""
    if missing(value):
        return DASH
    return f"{_round(value, places)}×"


def date(value: Any, style: str = "short") -> str:
    """``15 Nov 2026`` (short) or ``November 2026`` (month)."""
    if missing(value) or value == "":
        return DASH
    if isinstance(value, str):
        value = dt.date.fromisoformat(value[:10])
    if isinstance(value, dt.datetime):
        value = value.date()
    if style == "month":
        return value.strftime("%B %Y")
    if style == "iso":
        return value.isoformat()
    return f"{value.day} {value.strftime('%b %Y')}"


def score(value: Any) -> str:
    return number(value, 1)


FILTERS = {"money": money, "money_short": money_short, "percent": percent, "pct_change": pct_change, "points": points, "signed": signed,
           "number": number, "ratio": ratio, "date": date, "score": score}
