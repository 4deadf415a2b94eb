"""Per-account trigger features as of a date, computed with Ibis over the store's tables.

Every window ends on ``as_of`` inclusive; "last 30 days" is ``[as_of − 29, as_of]`` and
"prior 30 days" is ``[as_of − 59, as_of − 30]``. Usage volume is the sum of
``usage.quantity`` over all features (the same unit as ``accounts.plan_limit``, a
monthly allowance). Definitions:

* ``plan_usage_ratio`` = usage_30 ÷ plan_limit (NULL without a positive limit)
* ``usage_growth_mom`` = usage_30 ÷ usage_prev_30 − 1; ``usage_change_abs_30`` = |that|
* ``usage_change_14`` = usage_14 ÷ usage_prev_14 − 1 (NULL when the prior window is 0)
* ``new_users_30`` = users active in the last 30 days with no activity in the
  ``new_entity_lookback_days`` before; NULL for an account with no activity in that
  lookback (a brand-new account's first users are onboarding, not expansion).
  ``new_teams_30`` likewise for ``usage.team``.
* ``seats_over`` = active_users_30 − licensed_seats
* ``power_users_30`` = the account's users whose 30-day usage is at or above the book's
  ``power_user_quantile`` of per-user 30-day usage (NULL in a book with fewer than
  ``power_user_min_population`` active users, where "top 5 %" means nothing)
* ``ticket_ratio_14`` = tickets_14 ÷ max(baseline_14, floor), baseline_14 = tickets in the
  ``ticket_baseline_days`` before the window × 14 ÷ ``ticket_baseline_days``
* ``champion_silent_days`` = as_of − the champion's last usage day (the lookback length
  when unseen in ``champion_lookback_days``; NULL without a champion)
* ``payment_failed_days`` = as_of − the oldest due date among failed invoices still
  unpaid on as_of (failed: a failed status, ≥ 2 attempts, or an attempted open invoice)
* ``nps_min_30`` = lowest NPS score answered in the last ``nps_lookback_days``
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Protocol

import ibis
import numpy as np
import pandas as pd

from engine.triggers.settings import TriggerSettings

DAY = dt.timedelta(days=1)


class TriggerInputs(Protocol):
    """The record tables the features read (the health package's ``Inputs`` fits)."""

    accounts: ibis.Table
    contracts: ibis.Table
    invoices: ibis.Table
    tickets: ibis.Table
    usage: ibis.Table
    nps: ibis.Table


@dataclass(frozen=True)
class StoreInputs:
    """Live record tables of a store (used when the health package's ``Inputs`` is not at hand)."""

    accounts: ibis.Table
    contracts: ibis.Table
    invoices: ibis.Table
    tickets: ibis.Table
    usage: ibis.Table
    nps: ibis.Table

    @classmethod
    def from_store(cls, store, revenue_source: str | None = None) -> "StoreInputs":
        contracts = store.records("contracts", [revenue_source] if revenue_source else None)
        return cls(store.records("accounts"), contracts, store.records("invoices"),
                   store.records("tickets"), store.records("usage"), store.records("nps"))


def _days(as_of: dt.date, n: int) -> ibis.Scalar:
    return ibis.literal(as_of - n * DAY)


def _span(s: TriggerSettings) -> int:
    """Days of usage history the features read (newcomer lookback, champion lookback, 60 d)."""
    return max(30 + s.new_entity_lookback_days, s.champion_lookback_days, 60)


def _user_team_table(usage: ibis.Table, as_of: dt.date, s: TriggerSettings) -> ibis.Table:
    """The one pass over usage: per (account, user, team) the window sums and when seen.

    ``seen_prior`` = last day in the newcomer lookback before the 30-day window.
    """
    u = usage.filter((usage.day >= _days(as_of, _span(s) - 1)) & (usage.day <= ibis.literal(as_of)))
    between = lambda lo, hi: (u.day >= _days(as_of, lo)) & (u.day <= _days(as_of, hi))  # noqa: E731
    return u.group_by(["account_id", "user_id", "team"]).agg(
        last_day=u.day.max(),
        seen_prior=u.day.max(where=between(29 + s.new_entity_lookback_days, 30)),
        q14=u.quantity.sum(where=between(13, 0)),
        qp14=u.quantity.sum(where=between(27, 14)),
        q30=u.quantity.sum(where=between(29, 0)),
        qp30=u.quantity.sum(where=between(59, 30)),
    )


def _user_table(uts: ibis.Table) -> ibis.Table:
    return uts.group_by(["account_id", "user_id"]).agg(
        last_day=uts.last_day.max(), seen_prior=uts.seen_prior.max(), q14=uts.q14.sum(), qp14=uts.qp14.sum(),
        q30=uts.q30.sum(), qp30=uts.qp30.sum(),
    )


def _usage_totals(users: ibis.Table, as_of: dt.date) -> ibis.Table:
    """Account usage sums and user counts from the per-user table."""
    recent = users.last_day >= _days(as_of, 29)
    return users.group_by("account_id").agg(
        usage_14=users.q14.sum(), usage_prev_14=users.qp14.sum(), usage_30=users.q30.sum(),
        usage_prev_30=users.qp30.sum(),
        active_users_30=users.count(where=recent),
        fresh_users_30=users.count(where=recent & users.seen_prior.isnull()),
        prior_users=users.count(where=users.seen_prior.notnull()),
    )


def _team_table(uts: ibis.Table, as_of: dt.date, s: TriggerSettings) -> ibis.Table:
    """Per account: teams active in 30 d, those unseen in the lookback before, and teams seen then."""
    named = uts.filter(uts.team.notnull())
    t = named.group_by(["account_id", "team"]).agg(last_day=named.last_day.max(), seen_prior=named.seen_prior.max())
    recent = t.last_day >= _days(as_of, 29)
    return t.group_by("account_id").agg(
        active_teams_30=t.count(where=recent),
        fresh_teams_30=t.count(where=recent & t.seen_prior.isnull()),
        prior_teams=t.count(where=t.seen_prior.notnull()),
    )


def _power_users(users: ibis.Table, quantile: float, min_population: int) -> ibis.Table:
    """Top users of the whole book; none when fewer than ``min_population`` users are active."""
    active = users.filter(users.q30 > 0)
    cut = active.aggregate(power_user_cutoff=active.q30.quantile(quantile), population=active.count())
    cut = cut.filter(cut.population >= min_population).select("power_user_cutoff")
    t = active.cross_join(cut)
    return t.group_by("account_id").agg(
        power_users_30=t.count(where=t.q30 >= t.power_user_cutoff),
        power_user_cutoff=t.power_user_cutoff.max(),
    )


def _champion(accounts: ibis.Table, users: ibis.Table) -> ibis.Table:
    champs = accounts.filter(accounts.champion_user_id.notnull()).select("account_id", "champion_user_id")
    j = champs.join(users, (champs.account_id == users.account_id) & (champs.champion_user_id == users.user_id))
    return j.select(account_id=champs.account_id, champion_last_seen=j.last_day)


def _tickets(tickets: ibis.Table, as_of: dt.date, baseline_days: int) -> ibis.Table:
    day = tickets.created_at.date()
    t = tickets.mutate(cday=day)
    t = t.filter((t.cday >= _days(as_of, 13 + baseline_days)) & (t.cday <= ibis.literal(as_of)))
    return t.group_by("account_id").agg(
        tickets_14=t.count(where=t.cday >= _days(as_of, 13)),
        tickets_baseline=t.count(where=t.cday < _days(as_of, 13)),
    )


def _failed_invoices(invoices: ibis.Table, as_of: dt.date, s: TriggerSettings) -> ibis.Table:
    i = invoices.mutate(due=ibis.coalesce(invoices.due_at, invoices.issued_at), tries=invoices.attempt_count.fill_null(0))
    a = ibis.literal(as_of)
    unpaid = (i.paid_at > a) | (i.paid_at.isnull() & ~i.status.fill_null("").isin(list(s.ignored_invoice_statuses)))
    failed = i.status.isin(list(s.failed_invoice_statuses)) | (i.tries >= 2) | ((i.status == "open") & (i.tries >= 1))
    f = i.filter(unpaid & failed & (i.due <= a))
    return f.group_by("account_id").agg(oldest_failed_due=f.due.min(), failed_invoices=f.count())


def _nps(nps: ibis.Table, as_of: dt.date, lookback: int) -> ibis.Table:
    n = nps.filter((nps.day >= _days(as_of, lookback - 1)) & (nps.day <= ibis.literal(as_of)))
    return n.group_by("account_id").agg(nps_min_30=n.score.min(), nps_day=n.day.max())


def _left(base: ibis.Table, other: ibis.Table) -> ibis.Table:
    return base.left_join(other, "account_id").drop("account_id_right")


def _parts(inputs: TriggerInputs, s: TriggerSettings, as_of: dt.date) -> list[ibis.Table]:
    """The aggregates whose source tables are present (a missing table leaves NULLs).

    Every usage aggregate derives from one (account, user, team) table, so usage is
    scanned once (DuckDB materialises the shared CTE).
    """
    parts, usage = [], inputs.usage
    if usage is not None:
        uts = _user_team_table(usage, as_of, s)
        users = _user_table(uts)
        parts += [
            _usage_totals(users, as_of),
            _team_table(uts, as_of, s),
            _power_users(users, s.power_user_quantile, s.power_user_min_population),
            _champion(inputs.accounts, users),
        ]
    if inputs.tickets is not None:
        parts.append(_tickets(inputs.tickets, as_of, s.ticket_baseline_days))
    if inputs.invoices is not None:
        parts.append(_failed_invoices(inputs.invoices, as_of, s))
    if inputs.nps is not None:
        parts.append(_nps(inputs.nps, as_of, s.nps_lookback_days))
    return parts


def feature_table(inputs: TriggerInputs, settings: TriggerSettings, as_of: dt.date) -> ibis.Table:
    """All raw per-account aggregates as one Ibis expression (one row per account)."""
    base = inputs.accounts.select("account_id", "licensed_seats", "plan_limit", "champion_user_id")
    for part in _parts(inputs, settings, as_of):
        base = _left(base, part)
    return base


RAW_COLUMNS = ("usage_14", "usage_prev_14", "usage_30", "usage_prev_30", "active_users_30", "fresh_users_30",
               "prior_users", "active_teams_30", "fresh_teams_30", "prior_teams", "power_users_30",
               "power_user_cutoff", "champion_last_seen", "tickets_14", "tickets_baseline", "oldest_failed_due",
               "failed_invoices", "nps_min_30", "nps_day")


def _ratio(num: pd.Series, den: pd.Series) -> pd.Series:
    den = den.astype("float64")
    return (num.astype("float64") / den.where(den > 0)).astype("float64")


def _days_since(as_of: dt.date, col: pd.Series) -> pd.Series:
    d = pd.to_datetime(col)
    return (pd.Timestamp(as_of) - d).dt.days.astype("float64")


def derive(raw: pd.DataFrame, settings: TriggerSettings, as_of: dt.date) -> pd.DataFrame:
    """Turn raw aggregates into the trigger metrics (pandas, vectorised)."""
    f = raw.reindex(columns=[*raw.columns, *[c for c in RAW_COLUMNS if c not in raw.columns]])
    for c in ("usage_14", "usage_prev_14", "usage_30", "usage_prev_30"):
        f[c] = f[c].astype("float64").fillna(0.0)
    for c in ("active_users_30", "fresh_users_30", "prior_users", "active_teams_30", "fresh_teams_30",
              "prior_teams", "power_users_30", "tickets_14", "tickets_baseline", "failed_invoices"):
        f[c] = f[c].astype("float64").fillna(0.0)
    f["plan_usage_ratio"] = _ratio(f["usage_30"], f["plan_limit"])
    f["usage_growth_mom"] = _ratio(f["usage_30"], f["usage_prev_30"]) - 1
    f["usage_change_abs_30"] = f["usage_growth_mom"].abs()
    f["usage_change_14"] = _ratio(f["usage_14"], f["usage_prev_14"]) - 1
    f["new_users_30"] = f["fresh_users_30"].where(f["prior_users"] > 0)
    f["new_teams_30"] = f["fresh_teams_30"].where(f["prior_teams"] > 0)
    f["teams_30"] = f["active_teams_30"]
    f["seats_over"] = f["active_users_30"] - f["licensed_seats"].astype("float64")
    baseline = f["tickets_baseline"] * 14.0 / settings.ticket_baseline_days
    f["ticket_baseline_14"] = baseline.round(3)
    f["ticket_ratio_14"] = f["tickets_14"] / np.maximum(baseline, settings.ticket_floor_per_window)
    silent = _days_since(as_of, f["champion_last_seen"]).fillna(float(settings.champion_lookback_days))
    f["champion_silent_days"] = silent.where(f["champion_user_id"].notna())
    f["payment_failed_days"] = _days_since(as_of, f["oldest_failed_due"])
    f["nps_min_30"] = f["nps_min_30"].astype("float64")
    return f


def compute_features(inputs: TriggerInputs, settings: TriggerSettings, as_of: dt.date) -> pd.DataFrame:
    """Execute :func:`feature_table` and derive the metrics; one row per account."""
    raw = feature_table(inputs, settings, as_of).to_pandas()
    return derive(raw, settings, as_of)
