"""Usage signals for every day of a range in one pass (the history rebuild's fast path).

Scoring day by day re-reads up to 90 days of events for each day, so a year of daily
snapshots reads each event ~90 times. Here each trailing-window quantity is built once
for the whole range, with the definitions of :func:`engine.health.signals.usage_signals`
(a test checks both agree day by day):

* "distinct keys active in the last W days" (users, user×feature pairs, features): a key
  active on days a₁ < a₂ < … counts on day d iff some aᵢ ∈ [d − W + 1, d]; each aᵢ covers
  [aᵢ, min(aᵢ + W − 1, aᵢ₊₁ − 1)], so the count is a running sum of +1 at each cover's
  start and −1 after its end. The value on day d is the running sum as of d (ASOF join).
* windowed quantity sums: differences of the running total, C(d) − C(d − 30).
* champion / sponsor silence: the last activity day on or before d (ASOF join).
"""

from __future__ import annotations

import datetime as dt

import ibis
import pandas as pd

from engine.health.settings import HealthSettings
from engine.health.signals import USAGE_SIGNALS


def _days(n: int) -> ibis.Value:
    return ibis.interval(days=n)


def _cover_deltas(acts: ibis.Table, keys: list[str], group: list[str], width: int, shift: int = 0) -> ibis.Table:
    """Running count of distinct ``keys`` active in the trailing ``width`` days, per ``group``.

    ``acts`` holds one row per key and active day; ``shift`` moves the covers later (a
    30-day shift gives "active in the prior 30 days"). Returns ``[*group, day, n]`` rows at
    the days the count changes.
    """
    w = ibis.window(group_by=keys, order_by="day")
    stop = ibis.least(acts.day + _days(width - 1), acts.day.lead().over(w) - _days(1))
    iv = acts.mutate(start=(acts.day + _days(shift)).cast("date"), end=(stop + _days(1 + shift)).cast("date"))
    ups = iv.select(*group, day=iv.start, d=ibis.literal(1, "int64"))
    downs = iv.select(*group, day=iv.end, d=ibis.literal(-1, "int64"))
    both = ups.union(downs, distinct=False)
    per_day = both.group_by([*group, "day"]).aggregate(d=both.d.sum())
    run = ibis.cumulative_window(group_by=group or None, order_by="day")
    return per_day.select(*group, "day", n=per_day.d.sum().over(run))


def _asof(grid: ibis.Table, steps: ibis.Table, group: list[str], value: str, name: str, back: int = 0) -> ibis.Table:
    """Add ``name`` = the latest ``value`` in ``steps`` on or before ``day − back`` (same group)."""
    r = steps.rename({f"_r_{c}": c for c in [*group, "day"]}).rename({"_r_v": value})
    probe = grid.mutate(_probe=(grid.day - _days(back)).cast("date") if back else grid.day)
    j = probe.asof_join(r, on=probe._probe >= r._r_day, predicates=[probe[c] == r[f"_r_{c}"] for c in group])
    return j.select(*grid.columns, **{name: j._r_v})


def usage_signal_range(usage: ibis.Table, accounts: ibis.Table, settings: HealthSettings,
                       since: dt.date, until: dt.date) -> pd.DataFrame:
    """``[account_id, day, <usage signals>]`` for every account and every day ``since … until``."""
    lookback = max(90, settings.champion_lookback_days)
    ev = usage.filter((usage.day >= since - dt.timedelta(days=lookback - 1)) & (usage.day <= until))
    au = ev.select("account_id", "user_id", "day").distinct()
    auf = ev.select("account_id", "user_id", "feature", "day").distinct()
    af = auf.filter(auf.feature.isin(list(settings.core_features))) if settings.core_features else auf
    af = af.select("account_id", "feature", "day").distinct()
    qd = ev.group_by(["account_id", "day"]).aggregate(q=ev.quantity.sum())
    qrun = qd.select("account_id", "day", c=qd.q.sum().over(ibis.cumulative_window(group_by="account_id", order_by="day")))
    days = ibis.memtable(pd.DataFrame({"day": pd.date_range(since, until, freq="D").date}))
    days = days.select(day=days.day.cast("date"))
    a = accounts.select("account_id", "licensed_seats", "champion_user_id", "sponsor_user_id")
    grid = a.cross_join(days)
    acct = ["account_id"]
    grid = _asof(grid, _cover_deltas(au, ["account_id", "user_id"], acct, 30), acct, "n", "users_cur")
    grid = _asof(grid, _cover_deltas(au, ["account_id", "user_id"], acct, 30, shift=30), acct, "n", "users_prev")
    grid = _asof(grid, _cover_deltas(auf, ["account_id", "user_id", "feature"], acct, 30), acct, "n", "feat_sum")
    grid = _asof(grid, _cover_deltas(af, ["account_id", "feature"], acct, 30), acct, "n", "n_core")
    for name, back in (("c0", 0), ("c30", 30), ("c60", 60)):
        grid = _asof(grid, qrun, acct, "c", name, back)
    grid = _last_seen(grid, au, "champion_user_id", "champion_last")
    grid = _last_seen(grid, au, "sponsor_user_id", "sponsor_last")
    if settings.core_features:
        grid = grid.mutate(n_total=ibis.literal(len(settings.core_features), "int64"))
    else:
        feats = auf.select("feature", "day").distinct()
        grid = _asof(grid, _cover_deltas(feats, ["feature"], [], 90), [], "n", "n_total")
    out = _finish(grid, settings).to_pandas()
    out["day"] = pd.to_datetime(out["day"]).dt.date
    return out


def _last_seen(grid: ibis.Table, au: ibis.Table, user_col: str, name: str) -> ibis.Table:
    """The last day on or before ``day`` the account's named user (champion/sponsor) was active."""
    people = grid.select("account_id", user_col).distinct()
    seen = au.inner_join(people, [au.account_id == people.account_id, au.user_id == people[user_col]])
    seen = seen.select("account_id", "day", last=seen.day)
    return _asof(grid, seen, ["account_id"], "last", name)


def _ratio(num: ibis.Value, den: ibis.Value) -> ibis.Value:
    return ibis.cases((den > 0, num.cast("float64") / den.cast("float64")), else_=ibis.null("float64"))


def _silence(user: ibis.Value, last: ibis.Value, day: ibis.Value, lookback: int) -> ibis.Value:
    days = day.delta(last, unit="day").cast("float64")
    capped = ibis.cases((last.isnull(), float(lookback)), (days > lookback - 1, float(lookback)), else_=days)
    return ibis.cases((user.isnull(), ibis.null("float64")), else_=capped)


def _finish(g: ibis.Table, settings: HealthSettings) -> ibis.Table:
    users, zero = g.users_cur.fill_null(0), ibis.literal(0, "int64")
    c0, c30, c60 = g.c0.fill_null(0), g.c30.fill_null(0), g.c60.fill_null(0)
    cap = settings.champion_lookback_days
    out = g.select(
        "account_id", "day",
        feature_breadth=_ratio(g.n_core.fill_null(zero), g.n_total),
        seat_utilisation=_ratio(users, g.licensed_seats),
        usage_depth=ibis.cases((users > 0, g.feat_sum.cast("float64") / users), else_=0.0),
        usage_trend=_ratio(c0 - c30, c30 - c60) - 1,
        active_user_trend=_ratio(users, g.users_prev.fill_null(zero)) - 1,
        champion_days_silent=_silence(g.champion_user_id, g.champion_last, g.day, cap),
        sponsor_days_silent=_silence(g.sponsor_user_id, g.sponsor_last, g.day, cap),
    )
    assert tuple(out.columns[2:]) == USAGE_SIGNALS
    return out
