"""Account MRR in the reporting currency: on a day, and at month-ends.

Contract lines carry a monthly-normalised ``mrr`` in their own currency (connectors do
the normalisation with :func:`monthly_amount`). Here each line is converted at the fixed
rate of :class:`RevenueSettings` (constant currency) and kept exact as
``DECIMAL(28,10)``; every later figure is a sum or difference of these values, so the
waterfall balances to the last digit and rounding to cents happens only on output.

* A line is **active on day d** when ``start_date <= d`` and ``end_date`` (the inclusive
  last day) is empty or ``>= d``.
* **Account MRR on d** = Σ mrr of its active lines. Accounts with no MRR are absent
  from the result tables (absent ⇔ 0).
* A line **covers month-end k** when it is active on the last day of month k, i.e. for
  ``first_k <= k <= last_k`` with ``first_k`` the month of ``start_date`` and
  ``last_k`` the month of ``end_date`` (or the month before, if the line ends before
  that month's last day). A line shorter than a month may cover no month-end at all.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import ibis
import ibis.expr.datatypes as dt_types

from engine.revenue.periods import month_end
from engine.revenue.validate import check_contract_lines
from engine.settings import RevenueSettings

#: The canonical contract-line MRR type (engine.records.MONEY).
SOURCE_MONEY = dt_types.Decimal(20, 6)
#: Exact type of a converted line MRR, and of every sum built from it.
LINE_MONEY = dt_types.Decimal(28, 10)
SUM_MONEY = dt_types.Decimal(38, 10)
#: ``last_k`` of an evergreen line (no end date): far beyond any real month.
EVERGREEN_K = 10_000_000

#: Monthly normalisation as (numerator, denominator), so 300/quarter is exactly 100.
_PER_MONTH = {"month": (1, 1), "quarter": (1, 3), "year": (1, 12), "week": (52, 12)}
_INTERVAL_ALIASES = {"monthly": "month", "quarterly": "quarter", "yearly": "year", "annual": "year",
                     "annually": "year", "weekly": "week"}


def monthly_amount(amount: Decimal, interval: str, interval_count: int = 1) -> Decimal:
    """Monthly-normalised recurring amount: annual ÷12, quarterly ÷3, weekly ×52/12.

    ``interval_count`` handles "every N intervals" prices (the amount covers N intervals).
    """
    key = interval.strip().lower()
    factor = _PER_MONTH.get(_INTERVAL_ALIASES.get(key, key))
    if factor is None:
        raise ValueError(f"billing interval {interval!r} not understood: use month, quarter, year or week")
    if interval_count < 1:
        raise ValueError(f"interval_count must be at least 1, got {interval_count}")
    numerator, denominator = factor
    return Decimal(amount) * numerator / (denominator * interval_count)


def money_literal(value: Decimal | int, type_: dt_types.Decimal = SUM_MONEY) -> ibis.Value:
    """A typed DECIMAL literal (so unions and sums keep one exact type on every backend)."""
    return ibis.literal(Decimal(value), type=type_)


def _rate_literal(rate: Decimal) -> ibis.Value:
    scale = max(0, -rate.as_tuple().exponent)
    return ibis.literal(rate, type=dt_types.Decimal(max(18, scale + 8), scale))


def _in_reporting_currency(t: ibis.Table, settings: RevenueSettings) -> ibis.Value:
    """``mrr × rate(currency)`` as DECIMAL(28,10); the reporting currency has rate 1."""
    code = t.currency.upper()
    mrr = t.mrr.cast(SOURCE_MONEY)  # one input type on every backend, whatever the loader inferred
    branches = [(code == cur, mrr * _rate_literal(rate)) for cur, rate in sorted(settings.fx_rates.items())]
    converted = ibis.cases(*branches, else_=mrr) if branches else mrr
    return converted.cast(LINE_MONEY)


def _last_covered_k(end: ibis.Value) -> ibis.Value:
    """Month index of the last month-end a line ending on ``end`` (inclusive) covers."""
    k = end.year() * 12 + end.month() - 1
    ends_on_month_end = (end + ibis.interval(days=1)).month() != end.month()
    return ibis.cases((end.isnull(), EVERGREEN_K), (ends_on_month_end, k), else_=k - 1)


def prepare_lines(contracts: ibis.Table, settings: RevenueSettings) -> ibis.Table:
    """Validate contract lines, then return them in the reporting currency with month indices.

    Columns: contract_id, account_id, start_date, end_date, mrr (DECIMAL(28,10), reporting
    currency), first_k, last_k. Raises :class:`RevenueDataError` on any bad line.
    """
    check_contract_lines(contracts, settings)
    c = contracts
    return c.select(
        contract_id=c.contract_id.cast("string"),
        account_id=c.account_id.cast("string"),
        start_date=c.start_date.cast("date"),
        end_date=c.end_date.cast("date"),
        mrr=_in_reporting_currency(c, settings),
        first_k=(c.start_date.year() * 12 + c.start_date.month() - 1).cast("int64"),
        last_k=_last_covered_k(c.end_date.cast("date")).cast("int64"),
    )


def _positive(lines: ibis.Table) -> ibis.Table:
    return lines.filter(lines.mrr > 0)


def _months_table(ks: list[int]) -> ibis.Table:
    return ibis.memtable(
        {"k": list(ks), "month_end": [month_end(k) for k in ks]},
        schema={"k": "int64", "month_end": "date"},
    )


def snapshots(lines: ibis.Table, ks: list[int]) -> ibis.Table:
    """Month-end MRR per account for the given month indices: [account_id, k, mrr], mrr > 0 only."""
    months = _months_table(sorted(set(ks)))
    pos = _positive(lines)
    joined = pos.join(months, [pos.first_k <= months.k, pos.last_k >= months.k])
    return joined.group_by([joined.account_id, joined.k]).aggregate(mrr=joined.mrr.sum().cast(SUM_MONEY))


def first_paid(lines: ibis.Table) -> ibis.Table:
    """Per account: ``first_k`` (first month-end with MRR > 0) and ``first_day`` (first paid day).

    ``first_k`` decides new versus reactivation and the cohort; ``first_day`` starts the
    clock for churn timing. Accounts whose paid lines never reach a month-end have a NULL
    ``first_k``: they never show in month-end figures.
    """
    pos = _positive(lines)
    covering = pos.first_k <= pos.last_k
    return pos.group_by(pos.account_id).aggregate(
        first_k=ibis.cases((covering, pos.first_k), else_=ibis.null("int64")).min(),
        first_day=pos.start_date.min(),
    )


def account_mrr_on(contracts: ibis.Table, settings: RevenueSettings, day: dt.date) -> ibis.Table:
    """MRR per account on ``day`` in the reporting currency: [account_id, mrr] (mrr > 0 only).

    MRR(a, d) = Σ mrr of a's lines with start_date <= d <= end_date (end NULL = evergreen).
    """
    lines = _positive(prepare_lines(contracts, settings))
    on = ibis.literal(day, type="date")
    active = lines.filter((lines.start_date <= on) & (lines.end_date.isnull() | (lines.end_date >= on)))
    return active.group_by(active.account_id).aggregate(mrr=active.mrr.sum().cast(SUM_MONEY))


def month_end_mrr(
    contracts: ibis.Table, settings: RevenueSettings, first_month: dt.date | str, last_month: dt.date | str
) -> ibis.Table:
    """Month-end MRR per account for every month from ``first_month`` to ``last_month``.

    Months are given as any day inside them (or ``"2026-07"``). Returns
    [account_id, month_end, mrr] with mrr > 0 only.
    """
    lines = prepare_lines(contracts, settings)
    ks = list(range(_k_of(first_month), _k_of(last_month) + 1))
    if not ks:
        raise ValueError(f"first_month {first_month} is after last_month {last_month}")
    snap = snapshots(lines, ks)
    months = _months_table(ks)
    out = snap.join(months, "k")
    return out.select("account_id", "month_end", "mrr")


def _k_of(month: dt.date | str) -> int:
    if isinstance(month, str):
        year, mon = month.split("-")[:2]
        return int(year) * 12 + int(mon) - 1
    return month.year * 12 + month.month - 1
