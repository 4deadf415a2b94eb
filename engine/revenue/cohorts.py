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

from engine.revenue.mrr import SUM_MONEY, first_paid, prepare_lines, snapshots
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


def monthly_cells(lines: ibis.Table, as_of_k: int, first_k: int | None = None) -> dict[tuple[int, int], tuple[Decimal, int]]:
    """{(first month f, offset o): (Σ MRR, #accounts with MRR)} for monthly cohorts up to as_of_k."""
    paid = first_paid(lines)
    paid = paid.filter(paid.first_k.notnull() & (paid.first_k <= as_of_k))
    if first_k is None:
        first_k = paid.first_k.min().to_pyarrow().as_py()
        if first_k is None:
            return {}
    paid = paid.filter(paid.first_k >= first_k).select("account_id", f="first_k")
    snap = snapshots(lines, list(range(first_k, as_of_k + 1)))
    j = snap.join(paid, "account_id")
    j = j.mutate(offset=j.k - j.f)
    agg = j.group_by(["f", "offset"]).aggregate(mrr=j.mrr.sum().cast(SUM_MONEY), accounts=j.account_id.count())
    return {(r["f"], r["offset"]): (Decimal(r["mrr"]), r["accounts"]) for r in agg.to_pyarrow().to_pylist()}


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
