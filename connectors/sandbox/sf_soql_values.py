"""SOQL value semantics: literals, typed comparisons, date keywords and ordering.

``soql.py`` parses; this module decides what a literal means and whether a
stored value satisfies a comparison.  Rules (Salesforce's): text ``=`` and
``LIKE`` ignore case; ``!=`` is true for null values; ids match in 15- or
18-char form; a datetime field needs a datetime literal, and a date keyword
(``TODAY``, ``YESTERDAY``, ``LAST_N_DAYS:n``, ``NEXT_N_DAYS:n``) covers whole
UTC days; ORDER BY sorts text case-insensitively with nulls first ascending.
"""

from __future__ import annotations

import datetime as dt
import operator
import re
from dataclasses import dataclass
from typing import Any, Callable

from connectors.sandbox.sf_schema import Field, normalise_id, parse_datetime

Record = dict[str, Any]


class SoqlError(ValueError):
    """A query Salesforce would reject; ``code`` is the REST ``errorCode``."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code



@dataclass
class DateRange:
    """A date keyword: every moment from ``start`` to ``end`` (inclusive days)."""

    start: dt.date
    end: dt.date


def literal_value(tok: tuple[str, str], today: dt.date) -> Any:
    kind, text = tok
    if kind == "str":
        return re.sub(r"\\(.)", r"\1", text[1:-1])
    if kind == "dtm":
        return parse_datetime(text)
    if kind == "date":
        return dt.date.fromisoformat(text)
    if kind == "num":
        return float(text) if "." in text else int(text)
    if kind == "word":
        return _word_literal(text, today)
    raise SoqlError("MALFORMED_QUERY", f"expected a value but found {text!r}")


def _word_literal(text: str, today: dt.date) -> Any:
    upper = text.upper()
    fixed = {"TRUE": True, "FALSE": False, "NULL": None}
    if upper in fixed:
        return fixed[upper]
    if upper == "TODAY":
        return DateRange(today, today)
    if upper == "YESTERDAY":
        return DateRange(today - dt.timedelta(days=1), today - dt.timedelta(days=1))
    match = re.fullmatch(r"(LAST|NEXT)_N_DAYS:(\d+)", upper)
    if match:
        n = int(match.group(2))
        if match.group(1) == "LAST":
            return DateRange(today - dt.timedelta(days=n), today)
        return DateRange(today, today + dt.timedelta(days=n))
    raise SoqlError("MALFORMED_QUERY", f"unexpected token: {text!r}")


def check_type(fld: Field, value: Any) -> Any:
    if value is None or isinstance(value, DateRange):
        return value
    kind = fld.type
    ok = {
        "datetime": isinstance(value, dt.datetime),
        "date": isinstance(value, dt.date) and not isinstance(value, dt.datetime),
        "boolean": isinstance(value, bool),
    }.get(kind)
    if kind in ("double", "currency", "percent", "int"):
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    if ok is None:
        ok = isinstance(value, str)
        if ok and kind in ("id", "reference"):
            value = normalise_id(value)
    if not ok:
        raise SoqlError("INVALID_FIELD", f"value of filter criterion for field '{fld.name}' must be of "
                        f"type {kind} and should not be enclosed in quotes" if kind != "string"
                        else f"value of filter criterion for field '{fld.name}' must be a quoted string")
    return value


def like(pattern: str) -> re.Pattern[str]:
    body = "".join(".*" if c == "%" else "." if c == "_" else re.escape(c) for c in pattern)
    return re.compile(f"^{body}$", re.IGNORECASE | re.DOTALL)


_OPERATORS: dict[str, Callable[[Any, Any], bool]] = {
    "=": operator.eq, "<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge,
}


def compare(actual: Any, op: str, expected: Any) -> bool:
    """Does stored ``actual`` satisfy ``actual op expected``?"""
    if isinstance(expected, DateRange):
        return _compare_range(actual, op, expected)
    if op in ("!=", "<>"):
        return not compare(actual, "=", expected)
    if actual is None or expected is None:
        return op == "=" and actual is expected
    if isinstance(actual, str) and isinstance(expected, str):
        actual, expected = actual.lower(), expected.lower()
    return _OPERATORS[op](actual, expected)


def _compare_range(actual: Any, op: str, rng: DateRange) -> bool:
    if actual is None:
        return op in ("!=", "<>")
    day = actual.astimezone(dt.timezone.utc).date() if isinstance(actual, dt.datetime) else actual
    inside = rng.start <= day <= rng.end
    return {"=": inside, "!=": not inside, "<>": not inside, "<": day < rng.start,
            "<=": day <= rng.end, ">": day > rng.end, ">=": day >= rng.start}[op]


def sort_records(records: list[Record], order: list[tuple[tuple[str, ...], bool, bool]],
                 value: Callable[[Record, tuple[str, ...]], Any]) -> list[Record]:
    """Stable multi-key sort, last key first; text sorts case-insensitively."""
    rows = list(records)
    for path, desc, nulls_first in reversed(order):
        present = [r for r in rows if value(r, path) is not None]
        missing = [r for r in rows if value(r, path) is None]
        present.sort(key=lambda r: _sort_key(value(r, path)), reverse=desc)
        rows = missing + present if nulls_first else present + missing
    return rows


def _sort_key(value: Any) -> Any:
    return value.lower() if isinstance(value, str) else value
