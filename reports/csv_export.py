"""Renewal timeline as CSV: ``renewals-….csv`` (one row per renewal) and ``…-milestones.csv``.

Plain, typed text: ISO dates, money with two decimals and no separators, booleans as
true/false, empty for missing. Text that a spreadsheet would run as a formula gets a
leading apostrophe (see :func:`reports.tabular.neutralise`). UTF-8 with a BOM so Excel
reads accented names correctly.
"""

from __future__ import annotations

import csv
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

from reports.tabular import MILESTONE_COLUMNS, RENEWAL_COLUMNS, Column, neutralise


def cell(value: Any, kind: str) -> str:
    if value is None:
        return ""
    if kind == "money":
        return str(Decimal(value).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))
    if kind == "date":
        return value.isoformat()
    if kind == "bool":
        return "true" if value else "false"
    if kind == "score":
        return f"{float(value):.1f}"
    if kind == "int":
        return str(int(value))
    return neutralise(str(value))


def write_csv(columns: list[Column], items: list[Any], out: Path) -> Path:
    with out.open("w", newline="", encoding="utf-8-sig") as fh:
        w = csv.writer(fh)
        w.writerow([c.header for c in columns])
        for item in items:
            w.writerow([cell(c.get(item), c.kind) for c in columns])
    return out


def write_renewals_csv(ctx: Any, stem: Path) -> list[Path]:
    return [write_csv(RENEWAL_COLUMNS, ctx.renewals, stem.with_suffix(".csv")),
            write_csv(MILESTONE_COLUMNS, ctx.milestones, stem.with_name(stem.name + "-milestones.csv"))]
