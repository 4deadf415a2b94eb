"""Retention figures for a period: waterfall, TTM NRR/GRR/logo retention, period NRR/GRR.

Definitions (design "Revenue definitions"; T = the period's closing month-end):

* TTM base = accounts with MRR > 0 at month-end T−12.
* ``nrr_ttm`` = Σ_base MRR(T) ÷ Σ_base MRR(T−12).
* ``grr_ttm`` = Σ_base min(MRR(T), MRR(T−12)) ÷ Σ_base MRR(T−12)  (capped per account).
* ``logo_retention_ttm`` = #base with MRR(T) > 0 ÷ #base.
* ``nrr_period`` = (start + expansion − contraction − churn) ÷ start and
  ``grr_period`` = (start − contraction − churn) ÷ start, from the period's movements
  (new and reactivation excluded).
* ``quick_ratio`` = (new + expansion + reactivation) ÷ (contraction + churn).
* ARR = 12 × MRR. A ratio whose denominator is zero is ``None``.

Sums are exact decimals; :mod:`engine.revenue.metrics` rounds them for output.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

import ibis

from engine.revenue.breakdowns import UNASSIGNED, group_keys, with_group
from engine.revenue.movements import LOGO_KEYS, MOVEMENTS, Waterfall, chain_months, check_waterfall, movement_rows
from engine.revenue.mrr import SUM_MONEY, first_paid, snapshots
from engine.revenue.periods import Period
from engine.revenue.errors import WaterfallError


def ratio(numerator: Decimal | int, denominator: Decimal | int) -> Decimal | None:
    """numerator ÷ denominator as an exact-enough Decimal; None when the denominator is 0."""
    if not denominator:
        return None
    return Decimal(numerator) / Decimal(denominator)


@dataclass
class TTM:
    """Sums over the TTM base (accounts with MRR at T−12)."""

    base_mrr: Decimal = Decimal(0)
    now_mrr: Decimal = Decimal(0)
    floor_mrr: Decimal = Decimal(0)
    base_logos: int = 0
    retained_logos: int = 0

    def plus(self, other: "TTM") -> "TTM":
        return TTM(*(getattr(self, f) + getattr(other, f) for f in self.__dataclass_fields__))

    @property
    def nrr(self) -> Decimal | None:
        return ratio(self.now_mrr, self.base_mrr)

    @property
    def grr(self) -> Decimal | None:
        return ratio(self.floor_mrr, self.base_mrr)

    @property
    def logo_retention(self) -> Decimal | None:
        return ratio(self.retained_logos, self.base_logos)


@dataclass
class Figures:
    """Everything reported for one group (or the total) over one period."""

    waterfall: Waterfall
    ttm: TTM
    months: list[Waterfall] = field(default_factory=list)

    @property
    def nrr_period(self) -> Decimal | None:
        w = self.waterfall
        return ratio(w.start + w.expansion - w.contraction - w.churn, w.start)

    @property
    def grr_period(self) -> Decimal | None:
        w = self.waterfall
        return ratio(w.start - w.contraction - w.churn, w.start)

    @property
    def quick_ratio(self) -> Decimal | None:
        w = self.waterfall
        return ratio(w.new + w.expansion + w.reactivation, w.contraction + w.churn)

    @property
    def gross_mrr_churn_rate(self) -> Decimal | None:
        """(contraction + churn) ÷ start."""
        w = self.waterfall
        return ratio(w.contraction + w.churn, w.start)

    @property
    def net_mrr_churn_rate(self) -> Decimal | None:
        """(contraction + churn − expansion) ÷ start; negative when expansion outweighs losses."""
        w = self.waterfall
        return ratio(w.contraction + w.churn - w.expansion, w.start)


@dataclass
class PeriodFigures:
    period: Period
    total: Figures
    groups: dict[str, Figures]
    by: str | None = None


def _money(v) -> Decimal:
    return Decimal(0) if v is None else Decimal(v)


MONTH_COUNTS = ("n_start", "n_end", "n_new", "n_churned", "n_reactivated", "unbalanced")
TTM_MONEY = ("base_mrr", "now_mrr", "floor_mrr")
TTM_COUNTS = ("base_logos", "retained_logos")


def _monthly_agg(snap: ibis.Table, paid: ibis.Table, groups: ibis.Table | None, k1: int, k2: int) -> ibis.Table:
    """Waterfall sums and logo counts per (group, month) for months k1..k2."""
    rows = with_group(movement_rows(snap, paid, k1, k2), groups)
    gap = rows.start_mrr + rows.new + rows.reactivation + rows.expansion - rows.contraction - rows.churn - rows.end_mrr
    n = rows.account_id
    return rows.group_by(["grp", "k"]).aggregate(
        start=rows.start_mrr.sum().cast(SUM_MONEY),
        end=rows.end_mrr.sum().cast(SUM_MONEY),
        **{m: rows[m].sum().cast(SUM_MONEY) for m in MOVEMENTS},
        n_start=n.count(where=rows.start_mrr > 0),
        n_end=n.count(where=rows.end_mrr > 0),
        n_new=n.count(where=rows.new > 0),
        n_churned=n.count(where=rows.churn > 0),
        n_reactivated=n.count(where=rows.reactivation > 0),
        unbalanced=n.count(where=gap != 0),
    )


def _ttm_agg(snap: ibis.Table, groups: ibis.Table | None, ends: list[int]) -> ibis.Table:
    """TTM base sums per (group, T) for each closing month-end T in ``ends``."""
    base = snap.filter(snap.k.isin([t - 12 for t in ends]))
    base = base.select("account_id", t=base.k + 12, base_mrr=base.mrr)
    now = snap.filter(snap.k.isin(ends)).select(now_id="account_id", now_k="k", now_mrr="mrr")
    j = base.left_join(now, [base.account_id == now.now_id, base.t == now.now_k])
    j = with_group(j.mutate(now_mrr=j.now_mrr.fill_null(0).cast(SUM_MONEY)), groups)
    return j.group_by(["grp", "t"]).aggregate(
        base_mrr=j.base_mrr.sum().cast(SUM_MONEY),
        now_mrr=j.now_mrr.sum().cast(SUM_MONEY),
        floor_mrr=ibis.least(j.now_mrr, j.base_mrr).sum().cast(SUM_MONEY),
        base_logos=j.account_id.count(),
        retained_logos=j.account_id.count(where=j.now_mrr > 0),
    )


def _padded(t: ibis.Table, kind: str, k: str) -> ibis.Table:
    """One common column set for both aggregates, so they come back in a single query."""
    money = ("start", "end", *MOVEMENTS, *TTM_MONEY)
    counts = (*MONTH_COUNTS, *TTM_COUNTS)
    cols = {c: (t[c] if c in t.columns else ibis.null(SUM_MONEY)).cast(SUM_MONEY) for c in money}
    cols |= {c: (t[c] if c in t.columns else ibis.null("int64")).cast("int64") for c in counts}
    return t.select(kind=ibis.literal(kind), grp=t.grp, k=t[k].cast("int64"), **cols)


def sums(lines: ibis.Table, groups_for, k1: int, k2: int, ends: list[int]) -> tuple[dict, dict]:
    """({(group, month): Waterfall}, {(group, T): TTM}) from one query over one set of snapshots.

    ``groups_for(snap)`` returns the grouping table (or None); it may use the snapshots,
    which cover months k1−1..k2 and every T−12.
    """
    snap = snapshots(lines, sorted({*range(k1 - 1, k2 + 1), *(t - 12 for t in ends), *ends}))
    groups = groups_for(snap)
    monthly = _padded(_monthly_agg(snap, first_paid(lines), groups, k1, k2), "month", "k")
    ttm = _padded(_ttm_agg(snap, groups, ends), "ttm", "t")
    months, ttms = {}, {}
    for r in ibis.union(monthly, ttm, distinct=False).to_pyarrow().to_pylist():
        if r["kind"] == "month":
            months[(r["grp"], r["k"])] = _waterfall(r)
        else:
            ttms[(r["grp"], r["k"])] = TTM(*(_money(r[c]) for c in TTM_MONEY), *(r[c] for c in TTM_COUNTS))
    return months, ttms


def _waterfall(r: dict) -> Waterfall:
    if r["unbalanced"]:
        raise WaterfallError(f"{r['unbalanced']} account(s) in group {r['grp']!r} do not balance in month {r['k']}")
    w = Waterfall(start=_money(r["start"]), end=_money(r["end"]), **{m: _money(r[m]) for m in MOVEMENTS})
    w.logos = {k: r[f"n_{k}"] for k in LOGO_KEYS}
    check_waterfall(w, f"group {r['grp']!r}, month index {r['k']}")
    return w


def _assemble(period: Period, group: str, months: dict, ttms: dict) -> Figures:
    ks = range(period.first_k, period.last_k + 1)
    series = [months.get((group, k), Waterfall()) for k in ks]
    return Figures(waterfall=chain_months(series, f"{period.label} group {group!r}"),
                   ttm=ttms.get((group, period.last_k), TTM()), months=series)


def _combine(period: Period, parts: list[Figures], where: str) -> Figures:
    months = [Waterfall() for _ in range(period.first_k, period.last_k + 1)]
    ttm = TTM()
    for f in parts:
        months = [a.plus(b) for a, b in zip(months, f.months)]
        ttm = ttm.plus(f.ttm)
    return Figures(waterfall=chain_months(months, where), ttm=ttm, months=months)


def period_figures(lines: ibis.Table, accounts: ibis.Table | None, period: Period, by: str | None = None) -> PeriodFigures:
    """Figures for ``period`` over prepared ``lines``, in total and (with ``by``) per group.

    The total is the exact sum of the groups, so breakdowns always add up to it.
    """
    months, ttms = sums(lines, lambda snap: group_keys(snap, accounts, period, by),
                        period.first_k, period.last_k, [period.last_k])
    names = sorted({g for g, _ in months} | {g for g, _ in ttms})
    per_group = {g: _assemble(period, g, months, ttms) for g in names}
    total = _combine(period, list(per_group.values()), f"{period.label} total")
    return PeriodFigures(period, total, per_group if by else {}, by)


def series_figures(lines: ibis.Table, periods: list[Period]) -> list[Figures]:
    """Total figures for consecutive periods with one query (board trend charts)."""
    months, ttms = sums(lines, lambda snap: None, periods[0].first_k, periods[-1].last_k, [p.last_k for p in periods])
    return [_assemble(p, UNASSIGNED, months, ttms) for p in periods]
