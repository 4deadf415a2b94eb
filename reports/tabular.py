"""Columns of the renewal exports (CSV and XLSX read the same list, so they always agree).

A column is ``(header, getter, kind)``; kind decides the cell type and format:
text, date, money, int, score, bool. Text cells starting with ``=``, ``+``, ``-``, ``@``
(or a tab / carriage return) could run as formulas in a spreadsheet; :func:`neutralise`
marks them as text.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from reports.context.renewals import MilestoneRow, RenewalRow

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
MILESTONE_DAYS = (180, 120, 90, 60, 30, 14, 7)


def risky(text: str) -> bool:
    return text.startswith(FORMULA_START)


def neutralise(text: str) -> str:
    """Prefix a leading apostrophe to text a spreadsheet would read as a formula (OWASP CSV injection)."""
    return "'" + text if risky(text) else text


@dataclass(frozen=True)
class Column:
    header: str
    get: Callable[[Any], Any]
    kind: str = "text"
    width: float = 14


def _milestone(days: int, attr: str) -> Callable[[RenewalRow], Any]:
    def get(r: RenewalRow) -> Any:
        m = next((m for m in r.milestones if m.days_before == days), None)
        return None if m is None else getattr(m, attr)
    return get


RENEWAL_COLUMNS: list[Column] = [
    Column("Account ID", lambda r: r.account_id, width=13),
    Column("Account", lambda r: r.name, width=28),
    Column("Owner", lambda r: r.owner, width=16),
    Column("Segment", lambda r: r.segment, width=11),
    Column("Renewal date", lambda r: r.renewal_date, "date", 12),
    Column("Days to renewal", lambda r: r.days_to_renewal, "int", 9),
    Column("ARR", lambda r: r.arr, "money", 13),
    Column("Expected ARR", lambda r: r.expected_arr, "money", 13),
    Column("R/A/G", lambda r: r.rag, width=8),
    Column("R/A/G reasons", lambda r: "; ".join(r.rag_reasons), width=30),
    Column("Health", lambda r: r.score, "score", 8),
    Column("Band", lambda r: r.band or "", width=10),
    Column("Health change 30 d", lambda r: r.delta_30, "score", 10),
    Column("Term", lambda r: r.term, width=12),
    Column("Auto-renew", lambda r: r.auto_renew, "bool", 9),
    Column("Contracts", lambda r: " ".join(r.contract_ids), width=18),
] + [c for d in MILESTONE_DAYS for c in (
    Column(f"{d} d milestone date", _milestone(d, "date"), "date", 12),
    Column(f"{d} d status", _milestone(d, "status"), width=9),
)]

MILESTONE_COLUMNS: list[Column] = [
    Column("Account ID", lambda m: m.account_id, width=13),
    Column("Account", lambda m: m.name, width=28),
    Column("Renewal date", lambda m: m.renewal_date, "date", 12),
    Column("Milestone (days before)", lambda m: m.days_before, "int", 10),
    Column("Date", lambda m: m.date, "date", 12),
    Column("Action", lambda m: m.action, width=40),
    Column("Action owner", lambda m: m.owner, width=16),
    Column("Status", lambda m: m.status, width=10),
]


def row_values(columns: list[Column], item: RenewalRow | MilestoneRow) -> list[Any]:
    return [c.get(item) for c in columns]
