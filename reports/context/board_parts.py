"""Board-report sections read from health snapshots, open triggers and the renewal timeline.

* **Health movement**: bands on the latest snapshot day vs the snapshot ``compare_days``
  earlier; an account improved/declined when its band rank changed.
* **At risk**: accounts scoring below 70, with an open risk trigger, or with a red/amber
  renewal in the next two quarters — ordered by ARR on the as-of date.
* **Renewal outlook**: renewals dated in the two quarters after the report quarter (from the
  as-of date on) by R/A/G: count, ARR, expected ARR.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pandas as pd

from engine.renewal_settings import RAG
from engine.revenue import Period
from reports import filters as f
from reports.context.common import BANDS
from reports.context.data import ReportInputs

AT_RISK_BELOW = 70.0


@dataclass(frozen=True)
class BandRow:
    band: str
    accounts: int
    accounts_before: int | None
    arr: Decimal


@dataclass(frozen=True)
class HealthView:
    day: dt.date | None
    compare_day: dt.date | None
    bands: list[BandRow]
    improved: int
    declined: int
    unchanged: int
    scored: int
    mean_score: float | None
    mean_coverage: float | None

    @property
    def has_movement(self) -> bool:
        return self.compare_day is not None


@dataclass(frozen=True)
class AtRiskRow:
    account_id: str
    name: str
    owner: str
    arr: Decimal
    score: float | None
    band: str | None
    delta_30: float | None
    drivers: str
    reasons: tuple[str, ...]


@dataclass(frozen=True)
class OutlookRow:
    quarter: str
    rag: str  # red | amber | green | all
    renewals: int
    arr: Decimal
    expected_arr: Decimal


@dataclass(frozen=True)
class Indicator:
    label: str
    value: str
    detail: str


def _rank(band: Any) -> int:
    return BANDS.index(band) if band in BANDS else -1


def health_view(data: ReportInputs, compare_days: int) -> HealthView:
    now = data.scores
    then_day = data.history_day(compare_days)
    then = data.score_distribution(then_day) if then_day else None
    before = then["band"].value_counts() if then is not None else None
    bands = [BandRow(b, int((now["band"] == b).sum()), None if before is None else int(before.get(b, 0)),
                     sum((data.arr.get(a, Decimal(0)) for a in now.loc[now["band"] == b, "account_id"]), Decimal(0)))
             for b in BANDS]
    moves = {"improved": 0, "declined": 0, "unchanged": 0}
    if then is not None:
        old = dict(zip(then["account_id"], then["band"]))
        for a, b in zip(now["account_id"], now["band"]):
            if a in old:
                d = _rank(b) - _rank(old[a])
                moves["improved" if d < 0 else "declined" if d > 0 else "unchanged"] += 1
    mean = lambda s: None if s.empty else round(float(s.mean()), 1)  # noqa: E731
    return HealthView(data.health_day, then_day, bands, scored=len(now), mean_score=mean(now["score"]),
                      mean_coverage=None if now.empty else float(now["coverage"].mean()), **moves)


def _risk_accounts(triggers: pd.DataFrame) -> dict[str, list[str]]:
    if triggers is None or triggers.empty:
        return {}
    risk = triggers[triggers["kind"] == "risk"]
    out: dict[str, set[str]] = {}
    for a, t in zip(risk["account_id"], risk["trigger"]):
        out.setdefault(a, set()).add(t)
    return {a: sorted(ts) for a, ts in out.items()}


def at_risk_rows(data: ReportInputs, top: int, quarter: Period) -> list[AtRiskRow]:
    """The ``top`` accounts by ARR among those below 70, with a risk trigger or a red/amber renewal."""
    d = data.deltas
    score = dict(zip(d["account_id"], d["score"]))
    risk, renewals = _risk_accounts(data.triggers), _renewal_flags(data, quarter)
    low = {a for a, v in score.items() if v < AT_RISK_BELOW}
    zero = Decimal(0)
    chosen = sorted(low | set(risk) | set(renewals), key=lambda a: (-data.arr.get(a, zero), a))[:top]
    rows = {a: r for a, r in zip(d["account_id"], d.to_dict("records")) if a in set(chosen)}
    return [_at_risk_row(a, rows.get(a), risk.get(a, []), renewals.get(a, []), data) for a in chosen]


def _at_risk_row(a: str, s: dict | None, risk: list[str], renewals: list[str], data: ReportInputs) -> AtRiskRow:
    reasons = [f"health {s['score']:g}"] if s is not None and s["score"] < AT_RISK_BELOW else []
    reasons += [t.replace("_", " ") for t in risk] + renewals
    return AtRiskRow(a, data.names.get(a, a), data.owners.get(a, "Unassigned"), data.arr.get(a, Decimal(0)),
                     None if s is None else float(s["score"]), None if s is None else s["band"],
                     None if s is None or pd.isna(s["delta_30"]) else float(s["delta_30"]),
                     "" if s is None else (s["drivers_text"] or ""), tuple(reasons))


def _renewal_flags(data: ReportInputs, quarter: Period) -> dict[str, list[str]]:
    tl = data.timeline(_outlook_days(data, quarter))
    out: dict[str, list[str]] = {}
    for r in tl.renewals.itertuples(index=False):
        if r.rag in ("red", "amber"):
            out.setdefault(r.account_id, []).append(f"{r.rag} renewal {f.date(r.renewal_date)}")
    return out


def _outlook_days(data: ReportInputs, quarter: Period) -> int:
    return max((quarter.shift(2).end - data.as_of).days, 0)


def outlook_rows(data: ReportInputs, quarter: Period) -> tuple[list[OutlookRow], tuple[str, ...]]:
    """Renewals in the two quarters after ``quarter`` by R/A/G (plus an ``all`` row per quarter)."""
    quarters = (quarter.shift(1), quarter.shift(2))
    days = _outlook_days(data, quarter)
    r = data.timeline(days).renewals if days > 0 else pd.DataFrame(columns=["renewal_date", "rag", "arr", "expected_arr"])
    rows = []
    for q in quarters:
        inside = r[[q.first_day <= d <= q.end for d in r["renewal_date"]]]
        for rag in (*RAG, "all"):
            part = inside if rag == "all" else inside[inside["rag"] == rag]
            rows.append(OutlookRow(q.label, rag, len(part), sum(part["arr"], Decimal(0)),
                                   sum(part["expected_arr"], Decimal(0))))
    return rows, tuple(q.label for q in quarters)


def leading_indicators(data: ReportInputs, cohorts: Any) -> list[Indicator]:
    """Signals that move before NRR does (recovery notes: save rate, expansion pipeline, cohort logo retention)."""
    cur = data.revenue.reporting_currency
    arr = lambda ids: sum((data.arr.get(a, Decimal(0)) for a in set(ids)), Decimal(0))  # noqa: E731
    t = data.triggers if data.triggers is not None and len(data.triggers) else pd.DataFrame(columns=["account_id", "kind"])
    risk, exp = t[t["kind"] == "risk"]["account_id"], t[t["kind"] == "expansion"]["account_id"]
    d = data.deltas
    falling = d[d["delta_30"] <= -10]["account_id"] if len(d) else pd.Series(dtype=object)
    tl = data.timeline(90)
    red = tl.renewals[tl.renewals["rag"] == "red"] if len(tl.renewals) else tl.renewals
    overdue = int((tl.milestones["status"] == "overdue").sum()) if len(tl.milestones) else 0
    out = [
        Indicator("Accounts with open risk triggers", f.number(risk.nunique()), f"{f.money(arr(risk), cur)} ARR"),
        Indicator("Accounts with open expansion triggers", f.number(exp.nunique()),
                  f"{f.money(arr(exp), cur)} ARR (expansion pipeline to work)"),
        Indicator("Health down 10+ points in 30 days", f.number(falling.nunique()), f"{f.money(arr(falling), cur)} ARR"),
        Indicator("Red renewals in the next 90 days", f.number(len(red)),
                  f"{f.money(sum(red['arr'], Decimal(0)), cur)} ARR up for renewal"),
        Indicator("Overdue renewal milestones (next 90 days)", f.number(overdue), "actions past their due window"),
    ]
    return out + _cohort_indicator(cohorts)


def _cohort_indicator(cohorts: Any, month: int = 3) -> list[Indicator]:
    """Logo retention at month 3 of the newest cohort that has reached it, against the older cohorts."""
    reached = [c for c in cohorts.cohorts if len(c.cells) > month and c.cells[month].base_accounts]
    if not reached:
        return []
    new, older = reached[-1], reached[:-1]
    detail = f"cohort {new.label}"
    if older:
        base = sum(c.cells[month].base_accounts for c in older)
        kept = sum(c.cells[month].accounts for c in older)
        detail += f"; earlier cohorts {f.percent(Decimal(kept) / base)}"
    return [Indicator(f"Logo retention at month {month} (newest cohort)", f.percent(new.cells[month].logo_retention),
                      detail)]


def coverage_rows(data: ReportInputs) -> list[tuple[str, str]]:
    """What the figures rest on: record counts, dates, scored accounts, currency."""
    rec, rows = data.records, []
    for label, table in (("Accounts", rec.accounts), ("Contract lines", rec.contracts), ("Invoices", rec.invoices),
                         ("Support tickets", rec.tickets), ("Usage rows", rec.usage), ("NPS responses", rec.nps)):
        rows.append((label, "not connected" if table is None else f.number(table.count().execute())))
    rows.append(("Paying accounts on the as-of date", f.number(len(data.arr))))
    rows.append(("Health snapshot used", f.date(data.health_day) if data.health_day else "none stored"))
    rows.append(("Accounts scored", f.number(len(data.scores))))
    if len(data.scores):
        rows.append(("Mean score coverage", f.percent(data.scores["coverage"].mean(), 0)))
    rates = ", ".join(f"{k} {v}" for k, v in sorted(data.revenue.fx_rates.items())) or "none"
    rows.append(("Reporting currency", f"{data.revenue.reporting_currency} (fixed rates: {rates})"))
    return rows
