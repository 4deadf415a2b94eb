"""Column parsing for imported files: text → typed values, with every bad cell named.

All checks are vectorised (a usage file may have millions of rows). Empty cells become
NULL; a required column with an empty cell is a problem. Dates are ``YYYY-MM-DD``;
timestamps are ISO 8601 (UTC when no offset is given); money is a plain decimal number
(``1234.50``, no thousands separators or currency symbols); booleans are
true/false, yes/no or 1/0.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from engine.records import RecordKind

NUMBER = r"-?\d+(\.\d+)?"
INTEGER = r"-?\d+"
TRUE = {"true", "yes", "1", "t", "y"}
FALSE = {"false", "no", "0", "f", "n"}
INTERVAL_FACTORS = {"month": Decimal(1), "quarter": Decimal(1) / 3, "year": Decimal(1) / 12, "week": Decimal(52) / 12}


@dataclass(frozen=True)
class ColumnProblem:
    row: int
    column: str
    value: str
    message: str


def _text(s: pd.Series) -> pd.Series:
    """Strings with surrounding spaces removed; empty → NA."""
    if isinstance(s.array, pd.arrays.ArrowStringArray):   # Arrow already (Parquet, pandas' str): stay in Arrow
        trimmed = pc.utf8_trim_whitespace(pa.chunked_array(pa.array(s.array)))
        blank = pc.equal(trimmed, "")
        return pd.Series(pd.arrays.ArrowStringArray(pc.if_else(blank, pa.scalar(None, trimmed.type), trimmed)),
                         index=s.index, name=s.name)
    out = s.astype("string").str.strip()
    return out.mask(out == "", pd.NA)


def _bad(s: pd.Series, ok: pd.Series, rows: pd.Series, column: str, message: str) -> list[ColumnProblem]:
    mask = s.notna() & ~ok.fillna(False).astype(bool)
    return [ColumnProblem(int(rows[i]), column, str(s[i]), message) for i in s.index[mask][:5]]


def _dates(s: pd.Series, rows, column, timestamp: bool) -> tuple[pd.Series, list[ColumnProblem]]:
    if pd.api.types.is_datetime64_any_dtype(s):
        parsed = s.dt.tz_localize(None) if getattr(s.dt, "tz", None) is not None else s
        return (parsed if timestamp else parsed.dt.date).astype(object).where(parsed.notna(), None), []
    if s.dtype == object and pd.api.types.infer_dtype(s, skipna=True) in ("date", "datetime"):
        return s.where(s.notna(), None), []
    text = _text(s)
    if timestamp:
        parsed = pd.to_datetime(text, format="ISO8601", errors="coerce", utc=True).dt.tz_localize(None)
        expected = "expected an ISO 8601 date-time such as 2026-03-31T14:05:00Z"
    else:
        parsed = pd.to_datetime(text, format="%Y-%m-%d", errors="coerce")
        expected = "expected a date as YYYY-MM-DD"
    problems = _bad(text, parsed.notna(), rows, column, expected)
    values = parsed if timestamp else parsed.dt.date
    return values.astype(object).where(parsed.notna(), None), problems


def _money(s: pd.Series, rows, column) -> tuple[pd.Series, list[ColumnProblem]]:
    if pd.api.types.is_numeric_dtype(s):
        return s.map(lambda v: None if pd.isna(v) else Decimal(str(v))), []
    text = _text(s)
    ok = text.str.fullmatch(NUMBER)
    problems = _bad(text, ok, rows, column, "expected a number such as 1234.50 (no currency symbols or separators)")
    values = text.where(ok.fillna(False).astype(bool), None)
    return values.map(lambda v: None if v is None or v is pd.NA else Decimal(v)).astype(object), problems


def _integers(s: pd.Series, rows, column) -> tuple[pd.Series, list[ColumnProblem]]:
    if pd.api.types.is_integer_dtype(s):
        return s.astype("Int64"), []
    text = _text(s)
    ok = text.str.fullmatch(INTEGER)
    problems = _bad(text, ok, rows, column, "expected a whole number")
    return pd.to_numeric(text.where(ok.fillna(False).astype(bool), None)).astype("Int64"), problems


def _floats(s: pd.Series, rows, column) -> tuple[pd.Series, list[ColumnProblem]]:
    if pd.api.types.is_numeric_dtype(s):
        return s.astype("float64"), []
    text = _text(s)
    parsed = pd.to_numeric(text, errors="coerce")
    return parsed.astype("float64"), _bad(text, parsed.notna(), rows, column, "expected a number")


def _booleans(s: pd.Series, rows, column) -> tuple[pd.Series, list[ColumnProblem]]:
    if pd.api.types.is_bool_dtype(s):
        return s.astype("boolean"), []
    text = _text(s).str.lower()
    ok = text.isin(TRUE | FALSE)
    problems = _bad(text, ok, rows, column, "expected true or false")
    return text.map(lambda v: True if v in TRUE else False if v in FALSE else None).astype("boolean"), problems


def parse_frame(raw: pd.DataFrame, kind: RecordKind, first_row: int) -> tuple[pd.DataFrame, list[ColumnProblem]]:
    """Typed copy of ``raw`` with only the kind's columns plus ``_row`` (the file row)."""
    raw = raw.reset_index(drop=True)
    rows = pd.Series(np.arange(first_row, first_row + len(raw)), index=raw.index)
    out = pd.DataFrame({"_row": rows})
    problems: list[ColumnProblem] = []
    for column in kind.columns:
        if column not in raw.columns:
            out[column] = None
            continue
        values, col_problems = _parse_column(raw[column], kind, column, rows)
        problems += col_problems
        if column in kind.required:   # a text column's values are the trimmed cells: NA = blank
            blank = values.isna() if _is_text(kind, column) else None
            problems += _missing(values, raw[column], rows, column, blank)
        out[column] = values
    return out, problems


def _is_text(kind: RecordKind, column: str) -> bool:
    typed = (kind.dates, kind.timestamps, kind.money, kind.integers, kind.floats, kind.booleans)
    return not any(column in group for group in typed)


def _parse_column(s: pd.Series, kind: RecordKind, column: str, rows: pd.Series):
    if column in kind.dates or column in kind.timestamps:
        return _dates(s, rows, column, timestamp=column in kind.timestamps)
    if column in kind.money:
        return _money(s, rows, column)
    if column in kind.integers:
        return _integers(s, rows, column)
    if column in kind.floats:
        return _floats(s, rows, column)
    if column in kind.booleans:
        return _booleans(s, rows, column)
    text = _text(s)
    if column in kind.currency_columns:
        text = text.str.upper()
    return text, []   # Arrow-backed strings, NA for empty: millions of rows stay compact


def _missing(values: pd.Series, original: pd.Series, rows: pd.Series, column: str,
             blank: pd.Series | None = None) -> list[ColumnProblem]:
    if blank is None:
        blank = original.isna().to_numpy()
        if original.dtype == object or pd.api.types.is_string_dtype(original):
            # a blank cell parses to NA: only cells that did not parse need the (slow) text check
            unparsed = np.flatnonzero(values.isna().to_numpy() & ~blank)
            if len(unparsed):
                blank = blank.copy()
                blank[unparsed[_text(original.iloc[unparsed]).isna().to_numpy()]] = True
    idx = values.index[np.asarray(blank, dtype=bool)][:5]
    return [ColumnProblem(int(rows[i]), column, "", "required value is empty") for i in idx]


def amount_to_mrr(raw: pd.DataFrame, first_row: int) -> tuple[pd.DataFrame, list[ColumnProblem]]:
    """Fill ``mrr`` from ``amount`` and ``interval`` where ``mrr`` is empty.

    MRR = amount × factor: month 1, quarter 1/3, year 1/12, week 52/12 (design.md,
    "MRR normalisation"), kept to 6 decimal places.
    """
    raw = raw.reset_index(drop=True).copy()
    rows = pd.Series(np.arange(first_row, first_row + len(raw)), index=raw.index)
    mrr = _text(raw["mrr"].astype("string")) if "mrr" in raw.columns else pd.Series(pd.NA, index=raw.index)
    need = mrr.isna()
    problems: list[ColumnProblem] = []
    amount = _text(raw.get("amount", pd.Series(pd.NA, index=raw.index)).astype("string"))
    interval = _text(raw.get("interval", pd.Series(pd.NA, index=raw.index)).astype("string")).str.lower()
    for i in raw.index[need]:
        a, iv = amount[i], interval[i]
        if pd.isna(a) or pd.isna(iv):
            problems.append(ColumnProblem(int(rows[i]), "mrr", "", "give either mrr, or amount and interval"))
            continue
        if iv not in INTERVAL_FACTORS:
            problems.append(ColumnProblem(int(rows[i]), "interval", iv, "expected month, quarter, year or week"))
            continue
        try:
            value = Decimal(a) * INTERVAL_FACTORS[iv]
        except ArithmeticError:
            problems.append(ColumnProblem(int(rows[i]), "amount", a, "expected a number such as 1234.50"))
            continue
        raw.loc[i, "mrr"] = str(value.quantize(Decimal("0.000001")))
    return raw, problems
