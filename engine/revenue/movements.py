"""Monthly MRR movements per account, and the waterfall check.

For account a and month-end k, with prev = MRR(a, k−1) and cur = MRR(a, k):

============  ===========================================  =============
movement      when                                         amount
============  ===========================================  =============
new           prev = 0, cur > 0, no MRR at any earlier      cur
              month-end (k is the account's ``first_k``)
reactivation  prev = 0, cur > 0, MRR at an earlier one      cur
expansion     prev > 0, cur > prev                          cur − prev
contraction   prev > 0, 0 < cur < prev                      prev − cur
churn         prev > 0, cur = 0                             prev
============  ===========================================  =============

so that per account and month ``prev + new + reactivation + expansion − contraction −
churn = cur`` exactly. A period's movements are the sum of its months.
:func:`check_waterfall` re-verifies the identity on every aggregate and raises
:class:`WaterfallError` instead of warning.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal

import ibis

from engine.revenue.errors import WaterfallError
from engine.revenue.mrr import SUM_MONEY, first_paid, money_literal, prepare_lines, snapshots
from engine.revenue.periods import month_index, month_end
from engine.settings import RevenueSettings

MOVEMENTS = ("new", "expansion", "contraction", "churn", "reactivation")


def movement_rows(snap: ibis.Table, paid: ibis.Table, first_k: int, last_k: int) -> ibis.Table:
    """Per account and month k in [first_k, last_k]: start_mrr, end_mrr and the five movements.

    ``snap`` must hold month-end MRR for months ``first_k − 1 .. last_k``; ``paid`` is
    :func:`first_paid`. Rows exist where the account had MRR at k−1 or k.
    """
    zero = money_literal(0)
    cur = snap.filter(snap.k.between(first_k, last_k))
    prev = snap.filter(snap.k.between(first_k - 1, last_k - 1))
    both = ibis.union(
        cur.select("account_id", "k", end_mrr=cur.mrr.cast(SUM_MONEY), start_mrr=zero),
        prev.select("account_id", k=prev.k + 1, end_mrr=zero, start_mrr=prev.mrr.cast(SUM_MONEY)),
        distinct=False,
    )
    pairs = both.group_by(["account_id", "k"]).aggregate(
        start_mrr=both.start_mrr.sum().cast(SUM_MONEY), end_mrr=both.end_mrr.sum().cast(SUM_MONEY)
    )
    pairs = pairs.left_join(paid.select("account_id", paid_k="first_k"), "account_id").drop("account_id_right")
    return classify(pairs)


def classify(pairs: ibis.Table) -> ibis.Table:
    """Add the five movement columns to rows of (start_mrr, end_mrr, k, paid_k)."""
    zero = money_literal(0)
    s, e = pairs.start_mrr, pairs.end_mrr
    arriving = (s == 0) & (e > 0)

    def when(cond: ibis.Value, amount: ibis.Value) -> ibis.Value:
        return ibis.cases((cond, amount), else_=zero).cast(SUM_MONEY)

    return pairs.mutate(
        new=when(arriving & (pairs.paid_k >= pairs.k), e),
        reactivation=when(arriving & (pairs.paid_k < pairs.k), e),
        expansion=when((s > 0) & (e > s), e - s),
        contraction=when((s > 0) & (e > 0) & (e < s), s - e),
        churn=when((s > 0) & (e == 0), s),
    )


def monthly_movements(
    contracts: ibis.Table, settings: RevenueSettings, first_month: dt.date, last_month: dt.date
) -> ibis.Table:
    """[account_id, month_end, start_mrr, end_mrr, new, expansion, contraction, churn, reactivation].

    One row per account and month-end from ``first_month`` to ``last_month`` (any day in
    those months) where the account had MRR at the previous or the current month-end.
    """
    lines = prepare_lines(contracts, settings)
    k1, k2 = month_index(first_month), month_index(last_month)
    rows = movement_rows(snapshots(lines, list(range(k1 - 1, k2 + 1))), first_paid(lines), k1, k2)
    ends = ibis.memtable(
        {"k": list(range(k1, k2 + 1)), "month_end": [month_end(k) for k in range(k1, k2 + 1)]},
        schema={"k": "int64", "month_end": "date"},
    )
    rows = rows.join(ends, "k")
    return rows.select("account_id", "month_end", "start_mrr", "end_mrr", *MOVEMENTS)


@dataclass
class Waterfall:
    """Exact sums of a waterfall (any set of accounts and months) and its logo counts."""

    start: Decimal = Decimal(0)
    new: Decimal = Decimal(0)
    expansion: Decimal = Decimal(0)
    contraction: Decimal = Decimal(0)
    churn: Decimal = Decimal(0)
    reactivation: Decimal = Decimal(0)
    end: Decimal = Decimal(0)
    logos: dict[str, int] = field(default_factory=lambda: dict.fromkeys(LOGO_KEYS, 0))

    def gap(self) -> Decimal:
        """start + new + reactivation + expansion − contraction − churn − end; zero when balanced."""
        return self.start + self.new + self.reactivation + self.expansion - self.contraction - self.churn - self.end

    def logo_gap(self) -> int:
        n = self.logos
        return n["start"] + n["new"] + n["reactivated"] - n["churned"] - n["end"]

    def plus(self, other: "Waterfall") -> "Waterfall":
        """The sum of two waterfalls over disjoint accounts (breakdown groups)."""
        out = Waterfall(**{f: getattr(self, f) + getattr(other, f) for f in MONEY_KEYS})
        out.logos = {k: self.logos[k] + other.logos[k] for k in LOGO_KEYS}
        return out

    def then(self, later: "Waterfall") -> "Waterfall":
        """Chain consecutive months: this one's start, the later one's end, movements summed."""
        out = Waterfall(start=self.start, end=later.end, **{m: getattr(self, m) + getattr(later, m) for m in MOVEMENTS})
        summed = {k: self.logos[k] + later.logos[k] for k in LOGO_KEYS}
        out.logos = {**summed, "start": self.logos["start"], "end": later.logos["end"]}
        return out


MONEY_KEYS = ("start", *MOVEMENTS, "end")
LOGO_KEYS = ("start", "new", "churned", "reactivated", "end")


def check_waterfall(w: Waterfall, where: str) -> None:
    """Raise :class:`WaterfallError` unless money and logo counts both balance exactly."""
    if w.gap() != 0:
        raise WaterfallError(
            f"MRR waterfall does not balance for {where}: start {w.start} + new {w.new} + reactivation "
            f"{w.reactivation} + expansion {w.expansion} − contraction {w.contraction} − churn {w.churn} "
            f"≠ end {w.end} (off by {w.gap()})"
        )
    if w.logo_gap() != 0:
        raise WaterfallError(f"account counts do not balance for {where}: {w.logos}")


def chain_months(months: list[Waterfall], where: str) -> Waterfall:
    """Check each month and that each month starts where the previous one ended, then sum them."""
    for i, w in enumerate(months):
        check_waterfall(w, f"{where}, month {i + 1}")
        if i and w.start != months[i - 1].end:
            raise WaterfallError(f"{where}: month {i + 1} starts at {w.start} but month {i} ended at {months[i - 1].end}")
    total = months[0]
    for w in months[1:]:
        total = total.then(w)
    check_waterfall(total, where)
    return total
