"""Cohort retention: by month (or quarter) of an account's first positive month-end MRR.

For an account a with first month-end f(a) (its ``first_k``) and a month offset o
("months since start"), its MRR is MRR(a, f(a) + o). For a cohort C and offset o,
over the accounts of C that have reached offset o by the as-of month-end T
(f(a) + o ≤ T):

* net revenue retention(C, o) = Σ MRR(a, f(a)+o) ÷ Σ MRR(a, f(a))
* logo retention(C, o)        = #{a : MRR(a, f(a)+o) > 0} ÷ #{a}

For monthly cohorts every account of C reaches offset o at once; a quarterly cohort's
later-starting accounts join the average at offset o only once they have lived that
long, so no cohort is diluted by accounts that have not had the chance to churn.
Reactivated accounts stay in the cohort of their first start.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import ibis

from engine.revenue.mrr import SUM_MONEY, prepare_lines
from engine.revenue.periods import last_month_end_on_or_before, month_end, month_label, quarter_label
from engine.revenue.retention import ratio
from engine.settings import RevenueSettings

GRAINS = {"month": month_label, "quarter": quarter_label}


@dataclass(frozen=True)
class CohortCell:
    """One cell: a cohort at ``months_since_start`` (exact sums; ratios unrounded)."""

    months_since_start: int
    base_accounts: int
    base_mrr: Decimal
    accounts: int
    mrr: Decimal

    @property
    def nrr(self) -> Decimal | None:
        return ratio(self.mrr, self.base_mrr)

    @property
    def logo_retention(self) -> Decimal | None:
        return ratio(self.accounts, self.base_accounts)


@dataclass
class Cohort:
    label: str
    accounts: int
    mrr_start: Decimal
    cells: list[CohortCell] = field(default_factory=list)


@dataclass
class CohortMatrix:
    """Cohorts (oldest first), each with cells for months since start 0, 1, 2, … up to as_of."""

    grain: str
    as_of: dt.date
    currency: str
    cohorts: list[Cohort]

    def to_dict(self) -> dict[str, Any]:
        """JSON shape of ``nrr cohorts --json``: rows of NRR and logo retention by months since start."""
        from engine.revenue.metrics import cents, fraction

        return {
            "grain": self.grain,
            "as_of": self.as_of.isoformat(),
            "currency": self.currency,
            "cohorts": [
                {
                    "cohort": c.label,
                    "accounts": c.accounts,
                    "mrr_start": cents(c.mrr_start),
                    "nrr": [fraction(x.nrr) for x in c.cells],
                    "logo_retention": [fraction(x.logo_retention) for x in c.cells],
                }
                for c in self.cohorts
            ],
        }

    def to_rows(self) -> list[dict[str, Any]]:
        """Long format (one row per cohort and month since start) for CSV/XLSX exports."""
        return [
            {"cohort": c.label, "months_since_start": x.months_since_start, "base_accounts": x.base_accounts,
             "base_mrr": x.base_mrr, "accounts": x.accounts, "mrr": x.mrr, "nrr": x.nrr,
             "logo_retention": x.logo_retention}
            for c in self.cohorts for x in c.cells
        ]


def _paid_spans(lines: ibis.Table, as_of_k: int) -> ibis.Table:
    """Paid lines up to as_of_k with the account's first month ``f`` and an ``island`` number.

    Consecutive or overlapping lines of an account form one island (a stretch of
    month-ends with MRR > 0); a gap of at least one month-end starts a new island.
    """
    pos = lines.filter((lines.mrr > 0) & (lines.first_k <= lines.last_k) & (lines.first_k <= as_of_k))
    pos = pos.select("account_id", "mrr", a="first_k", b=ibis.least(pos.last_k, as_of_k))
    ordered = ibis.window(group_by="account_id", order_by=["a", "b"], rows=(None, -1))
    pos = pos.mutate(prev_b=pos.b.max().over(ordered), f=pos.a.min().over(group_by="account_id"))
    starts = ibis.cases((pos.prev_b.isnull() | (pos.a > pos.prev_b + 1), 1), else_=0)
    running = ibis.window(group_by="account_id", order_by=["a", "b"], rows=(None, 0))
    return pos.mutate(island=starts.sum().over(running))


def _edges(rows: ibis.Table, as_of_k: int, *carry: str) -> ibis.Table:
    """Where a span starts (sign +1 at offset a−f) and ends (sign −1 at offset b+1−f, if ≤ as_of_k)."""
    up = rows.select("f", *carry, offset=rows.a - rows.f, sign=ibis.literal(1, "int64"))
    ended = rows.filter(rows.b < as_of_k)
    down = ended.select("f", *carry, offset=ended.b + 1 - ended.f, sign=ibis.literal(-1, "int64"))
    return ibis.union(up, down, distinct=False)


def monthly_cells(lines: ibis.Table, as_of_k: int, first_k: int | None = None) -> dict[tuple[int, int], tuple[Decimal, int]]:
    """{(first month f, offset o): (Σ MRR, #accounts with MRR)} for monthly cohorts up to as_of_k.

    Computed from changes only: each paid line adds its MRR from its first month-end to
    its last, each island of an account adds one logo over its span; the running sums
    of these deltas over the offsets give every cell without a dense account×month grid.
    """
    spans = _paid_spans(lines, as_of_k)
    if first_k is not None:
        spans = spans.filter(spans.f >= first_k)
    islands = spans.group_by(["account_id", "island"]).aggregate(f=spans.f.min(), a=spans.a.min(), b=spans.b.max())
    zero = ibis.literal(0, "int64")
    revenue = _edges(spans, as_of_k, "mrr").mutate(logo=zero)
    logos = _edges(islands.mutate(mrr=ibis.literal(0).cast(SUM_MONEY)), as_of_k, "mrr").mutate(logo=ibis.literal(1, "int64"))
    edges = ibis.union(revenue.mutate(mrr=revenue.mrr.cast(SUM_MONEY)), logos, distinct=False)
    signed = ibis.cases((edges.sign > 0, edges.mrr), else_=-edges.mrr).cast(SUM_MONEY)
    agg = edges.group_by(["f", "offset"]).aggregate(d_mrr=signed.sum().cast(SUM_MONEY), d_n=(edges.sign * edges.logo).sum())
    return _running(agg.to_pyarrow().to_pylist(), as_of_k)


def _running(deltas: list[dict], as_of_k: int) -> dict[tuple[int, int], tuple[Decimal, int]]:
    """Running sums of the (f, offset) deltas over offsets 0 .. as_of_k − f."""
    by_cell = {(r["f"], r["offset"]): (Decimal(r["d_mrr"]), int(r["d_n"])) for r in deltas}
    cells = {}
    for f in sorted({f for f, _ in by_cell}):
        mrr, n = Decimal(0), 0
        for offset in range(0, as_of_k - f + 1):
            d_mrr, d_n = by_cell.get((f, offset), (Decimal(0), 0))
            mrr, n = mrr + d_mrr, n + d_n
            cells[(f, offset)] = (mrr, n)
    return cells


def _cohort(label: str, starts: list[int], cells: dict, as_of_k: int) -> Cohort:
    def total(fs: list[int], offset: int) -> tuple[Decimal, int]:
        parts = [cells.get((f, offset), (Decimal(0), 0)) for f in fs]
        return sum((p[0] for p in parts), Decimal(0)), sum(p[1] for p in parts)

    base_mrr, base_n = total(starts, 0)
    out = Cohort(label, base_n, base_mrr)
    for offset in range(0, as_of_k - min(starts) + 1):
        reached = [f for f in starts if f + offset <= as_of_k]
        b_mrr, b_n = total(reached, 0)
        mrr, n = total(reached, offset)
        out.cells.append(CohortCell(offset, b_n, b_mrr, n, mrr))
    return out


def cohort_matrix(
    contracts: ibis.Table,
    settings: RevenueSettings,
    as_of: dt.date,
    grain: str = "month",
    since: dt.date | None = None,
) -> CohortMatrix:
    """Cohort net revenue and logo retention by months since start, measured up to ``as_of``.

    ``as_of`` is rounded down to a month-end; ``since`` (optional) drops cohorts that
    started before its month.
    """
    if grain not in GRAINS:
        raise ValueError(f"cohort grain {grain!r} not understood: use month or quarter")
    as_of_k = last_month_end_on_or_before(as_of)
    lines = prepare_lines(contracts, settings)
    since_k = None if since is None else since.year * 12 + since.month - 1
    cells = monthly_cells(lines, as_of_k, since_k)
    by_label: dict[str, list[int]] = {}
    for f in sorted({f for f, _ in cells}):
        by_label.setdefault(GRAINS[grain](f), []).append(f)
    cohorts = [_cohort(label, starts, cells, as_of_k) for label, starts in by_label.items()]
    return CohortMatrix(grain, month_end(as_of_k), settings.reporting_currency, cohorts)
