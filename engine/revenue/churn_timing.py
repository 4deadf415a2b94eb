"""Churn timing: how long churned accounts paid before they left.

For each churn movement in a period (account a churns at month-end k), the account's
paid days = last day of service − first paid day + 1, where the first paid day is the
start of a's earliest line with MRR > 0 (ever, so a reactivated account keeps its
original start) and the last day of service is the latest end date of a's paid lines
that covered month-end k−1. Buckets (domain notes, "churn timing cohort analysis"):
0–30 days (activation failure), 31–90 (adoption stall), 91–180 (value gap),
> 180 (relationship decay / strategic shift).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import ibis

from engine.revenue.breakdowns import group_keys, with_group
from engine.revenue.mrr import first_paid, prepare_lines, snapshots
from engine.revenue.movements import movement_rows
from engine.revenue.periods import Period
from engine.settings import RevenueSettings

BUCKETS = (("0-30", 0, 30), ("31-90", 31, 90), ("91-180", 91, 180), (">180", 181, None))


def bucket_of(days: int) -> str:
    """The churn-timing bucket label for a number of paid days."""
    for label, low, high in BUCKETS:
        if days >= low and (high is None or days <= high):
            return label
    return BUCKETS[0][0]


def churn_events(lines: ibis.Table, accounts: ibis.Table | None, period: Period, by: str | None) -> list[dict]:
    """Rows (grp, account_id, k, churn, first_day, last_day) for every churn in ``period``."""
    paid = first_paid(lines)
    k1, k2 = period.first_k, period.last_k
    snap = snapshots(lines, sorted({*range(k1 - 1, k2 + 1), k2 - 12}))
    rows = movement_rows(snap, paid, k1, k2)
    rows = rows.filter(rows.churn > 0)
    pos = lines.filter((lines.mrr > 0) & lines.last_k.between(k1 - 1, k2 - 1))
    ends = pos.group_by(end_id=pos.account_id, end_k=pos.last_k + 1).aggregate(last_day=pos.end_date.max())
    rows = rows.join(ends, [rows.account_id == ends.end_id, rows.k == ends.end_k])
    starts = paid.select(paid_id="account_id", first_day="first_day")
    rows = rows.join(starts, rows.account_id == starts.paid_id)
    rows = with_group(rows.select("account_id", "k", "churn", "first_day", "last_day"), group_keys(snap, accounts, period, by))
    return rows.to_pyarrow().to_pylist()


def _empty() -> dict[str, dict[str, Any]]:
    return {label: {"accounts": 0, "mrr": Decimal(0)} for label, _, _ in BUCKETS}


def churn_timing(
    contracts: ibis.Table,
    settings: RevenueSettings,
    period: Period | str,
    accounts: ibis.Table | None = None,
    by: str | None = None,
) -> dict[str, Any]:
    """Churned accounts and churned MRR per timing bucket, in total and per ``by`` group.

    Returns ``{"period", "currency", "buckets": {label: {"accounts", "mrr"}}, "by": {group: buckets}}``
    with MRR rounded to cents.
    """
    from engine.revenue.metrics import as_period, cents

    p = as_period(period)
    total, groups = _empty(), {}
    for row in churn_events(prepare_lines(contracts, settings), accounts, p, by):
        label = bucket_of((row["last_day"] - row["first_day"]).days + 1)
        for target in (total, groups.setdefault(row["grp"], _empty()) if by else None):
            if target is not None:
                target[label]["accounts"] += 1
                target[label]["mrr"] += Decimal(row["churn"])

    def rounded(b: dict) -> dict:
        return {k: {"accounts": v["accounts"], "mrr": cents(v["mrr"])} for k, v in b.items()}

    return {"period": p.label, "currency": settings.reporting_currency, "buckets": rounded(total),
            "by": {g: rounded(b) for g, b in sorted(groups.items())}}
