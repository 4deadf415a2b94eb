"""The renewal timeline's context: :func:`engine.renewals.renewal_timeline` rows with names,
owners, health trend and milestones, grouped by month for the PDF/DOCX timeline view.

The CSV/XLSX/ICS exports read the same :class:`RenewalRow` and :class:`MilestoneRow` lists.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pandas as pd

from engine.renewal_settings import RAG
from reports.context.common import Brand, Definition, brand, rag_definition
from reports.context.data import ReportInputs


@dataclass(frozen=True)
class MilestoneRow:
    account_id: str
    name: str
    renewal_date: dt.date
    days_before: int
    date: dt.date
    action: str
    owner: str
    status: str


@dataclass(frozen=True)
class RenewalRow:
    account_id: str
    name: str
    owner: str
    segment: str
    renewal_date: dt.date
    days_to_renewal: int
    term: str
    contract_ids: tuple[str, ...]
    auto_renew: bool
    arr: Decimal
    expected_arr: Decimal
    rag: str
    rag_reasons: tuple[str, ...]
    score: float | None
    band: str | None
    delta_30: float | None
    milestones: tuple[MilestoneRow, ...]


@dataclass(frozen=True)
class MonthGroup:
    month: dt.date  # first day of the month
    renewals: list[RenewalRow]

    @property
    def arr(self) -> Decimal:
        return sum((r.arr for r in self.renewals), Decimal(0))

    @property
    def expected_arr(self) -> Decimal:
        return sum((r.expected_arr for r in self.renewals), Decimal(0))


@dataclass(frozen=True)
class RagTotal:
    rag: str
    renewals: int
    arr: Decimal
    expected_arr: Decimal


@dataclass(frozen=True)
class RenewalsContext:
    brand: Brand
    as_of: dt.date
    days: int
    currency: str
    renewals: list[RenewalRow]
    milestones: list[MilestoneRow]
    months: list[MonthGroup]
    totals: list[RagTotal]
    definitions: list[Definition]

    @property
    def last_day(self) -> dt.date:
        return self.as_of + dt.timedelta(days=self.days)


def _num(v: Any) -> float | None:
    return None if v is None or pd.isna(v) else float(v)


def milestone_rows(ms: pd.DataFrame, names: dict[str, str]) -> list[MilestoneRow]:
    return [MilestoneRow(r.account_id, names.get(r.account_id, r.account_id), r.renewal_date, int(r.days_before),
                         r.date, r.action, r.owner, r.status) for r in ms.itertuples(index=False)]


def renewal_rows(tl: Any, data: ReportInputs, milestones: list[MilestoneRow]) -> list[RenewalRow]:
    by_key: dict[tuple[str, dt.date], list[MilestoneRow]] = {}
    for m in milestones:
        by_key.setdefault((m.account_id, m.renewal_date), []).append(m)
    trend = dict(zip(data.deltas["account_id"], data.deltas["delta_30"])) if len(data.deltas) else {}
    rows = []
    for r in tl.renewals.itertuples(index=False):
        a = r.account_id
        rows.append(RenewalRow(
            a, data.names.get(a, a), data.owners.get(a, "Unassigned"), r.segment if isinstance(r.segment, str) else "",
            r.renewal_date, int(r.days_to_renewal), r.term, tuple(r.contract_ids), bool(r.auto_renew), r.arr,
            r.expected_arr, r.rag, tuple(r.rag_reasons), _num(r.score), r.band if isinstance(r.band, str) else None,
            _num(trend.get(a)), tuple(by_key.get((a, r.renewal_date), ()))))
    return rows


def by_month(rows: list[RenewalRow]) -> list[MonthGroup]:
    months: dict[dt.date, list[RenewalRow]] = {}
    for r in rows:
        months.setdefault(r.renewal_date.replace(day=1), []).append(r)
    return [MonthGroup(m, rs) for m, rs in sorted(months.items())]


def totals(rows: list[RenewalRow]) -> list[RagTotal]:
    out = []
    for rag in (*RAG, "all"):
        part = [r for r in rows if rag == "all" or r.rag == rag]
        out.append(RagTotal(rag, len(part), sum((r.arr for r in part), Decimal(0)),
                            sum((r.expected_arr for r in part), Decimal(0))))
    return out


def build_renewals(data: ReportInputs, days: int) -> RenewalsContext:
    """Renewals dated from ``data.as_of`` to ``as_of + days`` with their milestones."""
    tl = data.timeline(days)
    ms = milestone_rows(tl.milestones, data.names)
    rows = renewal_rows(tl, data, ms)
    defs = rag_definition(data.config.renewals) + [
        Definition("Renewal date", "The day after a contract line's last day of service; lines renewing the same day "
                                   "are one renewal; a renewal already booked (a line starting that day) is not listed."),
        Definition("ARR", "12 × MRR of the renewing lines in the reporting currency at fixed rates.")]
    return RenewalsContext(brand(data.config), data.as_of, days, data.revenue.reporting_currency, rows, ms,
                           by_month(rows), totals(rows), defs)
