"""Breakdown keys: which group each account falls in for ``by=...``.

* ``segment``, ``industry``, ``owner``, ``icp_tier`` come from the account record
  (``unassigned`` when empty or when the account has no record).
* ``arr_band`` is ARR = 12 × MRR at the **base date**, the period's opening month-end.
  An account with no MRR then is banded by its ARR at the TTM base (twelve months before
  the period's end) if it had MRR there (so churned base accounts keep their band), else
  by its highest month-end ARR inside the period (new and reactivated accounts).
  Bands are in reporting-currency units: ``<10K``, ``10K-25K`` (10,000 ≤ ARR < 25,000),
  ``25K-100K`` (25,000 ≤ ARR ≤ 100,000) and ``>100K``.
"""

from __future__ import annotations

import ibis

from engine.revenue.mrr import SUM_MONEY, money_literal
from engine.revenue.periods import Period

ATTRIBUTE_GROUPS = ("segment", "industry", "owner", "icp_tier")
GROUPINGS = ("segment", "arr_band", "industry", "owner", "icp_tier")
UNASSIGNED = "unassigned"
ARR_BANDS = ("<10K", "10K-25K", "25K-100K", ">100K")


def check_by(by: str | None) -> None:
    if by is not None and by not in GROUPINGS:
        raise ValueError(f"cannot break down by {by!r}: choose one of {', '.join(GROUPINGS)}")


def attribute_groups(accounts: ibis.Table, by: str) -> ibis.Table:
    """[account_id, grp] from the account records; one row per account even if sources overlap."""
    value = accounts[by].cast("string")
    clean = ibis.cases((value.isnull() | (value.strip() == ""), ibis.null("string")), else_=value.strip())
    rows = accounts.select(account_id=accounts.account_id.cast("string"), grp=clean)
    # Several sources may describe the same account: take one deterministic value.
    return rows.group_by("account_id").aggregate(grp=rows.grp.max())


def band_of(arr: ibis.Value) -> ibis.Value:
    """The ARR band label of an ARR value (reporting currency)."""
    return ibis.cases(
        (arr < money_literal(10_000), ARR_BANDS[0]),
        (arr < money_literal(25_000), ARR_BANDS[1]),
        (arr <= money_literal(100_000), ARR_BANDS[2]),
        else_=ARR_BANDS[3],
    )


def arr_band_groups(snap: ibis.Table, period: Period) -> ibis.Table:
    """[account_id, grp]: the ARR band at the base date, with the fallbacks in the module doc.

    ``snap`` holds month-end MRR at least for the opening month-end, the TTM base and
    the period's months.
    """
    ttm_base = period.last_k - 12
    zero = money_literal(0)

    def at(cond: ibis.Value) -> ibis.Value:
        return ibis.cases((cond, snap.mrr), else_=zero).cast(SUM_MONEY).max()

    per = snap.group_by("account_id").aggregate(
        at_start=at(snap.k == period.start_k),
        at_base=at(snap.k == ttm_base),
        in_period=at(snap.k.between(period.first_k, period.last_k)),
    )
    mrr = ibis.cases((per.at_start > 0, per.at_start), (per.at_base > 0, per.at_base), else_=per.in_period)
    return per.select("account_id", grp=band_of(mrr * 12))


def group_keys(snap: ibis.Table, accounts: ibis.Table | None, period: Period, by: str | None) -> ibis.Table | None:
    """The grouping table for ``by`` (None when there is no breakdown); ``snap`` as for arr_band_groups."""
    check_by(by)
    if by is None:
        return None
    if by == "arr_band":
        return arr_band_groups(snap, period)
    if accounts is None:
        raise ValueError(f"a breakdown by {by} needs the account records")
    return attribute_groups(accounts, by)


def with_group(rows: ibis.Table, groups: ibis.Table | None) -> ibis.Table:
    """Attach ``grp`` to per-account rows (``unassigned`` for accounts without a group)."""
    if groups is None:
        return rows.mutate(grp=ibis.literal(UNASSIGNED))
    joined = rows.left_join(groups, rows.account_id == groups.account_id).drop("account_id_right")
    return joined.mutate(grp=joined.grp.fill_null(UNASSIGNED))


def band_label_order(label: str) -> tuple[int, str]:
    """Sort key that lists ARR bands small to large and other groups alphabetically."""
    return (ARR_BANDS.index(label), label) if label in ARR_BANDS else (len(ARR_BANDS), label)

