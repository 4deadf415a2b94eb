"""Health signals per account as of a date: one Ibis expression, one row per account.

Windows are whole days ending on ``as_of`` (inclusive): "last 30 days" is
``as_of − 29 … as_of``, "prior 30 days" is ``as_of − 59 … as_of − 30``.

Adoption
  feature_breadth      distinct core features used in the last 30 d ÷ number of core features
  seat_utilisation     distinct active users in the last 30 d ÷ licensed seats (NULL without seats)
  usage_depth          mean number of distinct features per active user in the last 30 d
Engagement trajectory
  usage_trend          Σ quantity last 30 d ÷ Σ quantity prior 30 d − 1 (NULL when prior is 0)
  active_user_trend    active users last 30 d ÷ active users prior 30 d − 1 (NULL when prior is 0)
  champion_days_silent days since the champion's last usage, capped at ``champion_lookback_days``
  sponsor_days_silent  the same for the executive sponsor (NULL when the account names none)
Support & sentiment
  ticket_volume_ratio  (tickets last 30 d + 1) ÷ (tickets in the 90 d before that ÷ 3 + 1) — the
                       account against its own baseline; +1 keeps quiet accounts at 1.0
  open_high_priority   high/urgent tickets open at the end of ``as_of``
  ticket_sentiment     mean sentiment (−1…1) of tickets opened in the last 90 d (NULL if none)
  csat                 mean CSAT of tickets opened in the last 90 d (NULL if none rated)
  nps                  mean NPS answer (0–10) in the last ``nps_lookback_days`` (NULL if none)
Commercial
  days_to_renewal      days from ``as_of`` to the earliest renewal date (last day of a fixed-term
                       line active today + 1); NULL when every active line is evergreen
  payment_issues       invoices issued by ``as_of``, unpaid at ``as_of`` and overdue or failed
                       (past due date, retried, or status failed/past_due/uncollectible)
  contraction_90d      max(0, 1 − MRR(as_of) ÷ MRR(as_of − 90)); NULL when MRR 90 days ago was 0

Usage signals are 0 (not missing) for an account with no usage while the book has usage
data; signals of a record kind the store has no rows of are NULL for every account.
The output also carries ``mrr`` (contract MRR on ``as_of``, the contract currency) for
weighting churned ARR; it is not a signal.
"""

from __future__ import annotations

import datetime as dt

import ibis

from engine.health.inputs import Inputs
from engine.health.sentiment import ticket_sentiments
from engine.health.settings import HealthSettings

USAGE_SIGNALS = ("feature_breadth", "seat_utilisation", "usage_depth", "usage_trend", "active_user_trend",
                 "champion_days_silent", "sponsor_days_silent")
TICKET_SIGNALS = ("ticket_volume_ratio", "open_high_priority", "ticket_sentiment", "csat")
CLOSED_STATUSES = ("closed", "solved", "resolved")
SKIP_INVOICE_STATUSES = ("void", "draft", "deleted")
FAILED_INVOICE_STATUSES = ("failed", "past_due", "uncollectible")


def _back(day: ibis.Value, n: int) -> ibis.Value:
    return day - ibis.interval(days=n) if n else day


def _between(col: ibis.Value, day: ibis.Value, first_back: int, last_back: int) -> ibis.Value:
    """``day − first_back ≤ col ≤ day − last_back`` on dates.

    All date arithmetic is relative to the one ``day`` expression, so the whole query
    depends on a single as-of value (see :func:`as_of_value`).
    """
    return (col >= _back(day, first_back)) & (col <= _back(day, last_back))


def as_of_value(as_of: dt.date | ibis.Value) -> ibis.Value:
    return ibis.literal(as_of, type="date") if isinstance(as_of, dt.date) else as_of


def _ratio(num: ibis.Value, den: ibis.Value) -> ibis.Value:
    return ibis.cases((den > 0, num.cast("float64") / den.cast("float64")), else_=ibis.null("float64"))


def _breadth(per_feat: ibis.Table, settings: HealthSettings, as_of: ibis.Value):
    """(per-account distinct core features used in the last 30 d, number of core features).

    Core features are the configured ones, or every feature used anywhere in the book in
    the last 90 days (a scalar subquery, so the query stays one expression).
    """
    used = per_feat.filter(per_feat.seen_cur.notnull())
    if settings.core_features:
        used = used.filter(used.feature.isin(list(settings.core_features)))
        total = ibis.literal(len(settings.core_features))
    else:
        recent = per_feat.filter(per_feat.last_day >= _back(as_of, 89))
        total = recent.feature.nunique().as_scalar()
    return used.group_by("account_id").aggregate(n_core=used.feature.nunique()), total


def usage_signals(usage: ibis.Table, accounts: ibis.Table, settings: HealthSettings, as_of: ibis.Value) -> ibis.Table:
    """Adoption and engagement signals from usage events (see the module docstring).

    One pass over the events, grouped by (account, user, feature); users and accounts are
    rolled up from that (a distinct count per user over raw events is several times slower).
    """
    lookback = max(90, settings.champion_lookback_days)
    u = usage.filter(_between(usage.day, as_of, lookback - 1, 0))
    cur, prev = _between(u.day, as_of, 29, 0), _between(u.day, as_of, 59, 30)
    per_feat = u.group_by(["account_id", "user_id", "feature"]).aggregate(
        q_cur=u.quantity.sum(where=cur), q_prev=u.quantity.sum(where=prev),
        seen_cur=u.day.max(where=cur), seen_prev=u.day.max(where=prev), last_day=u.day.max(),
    )
    f = per_feat
    per_user = f.group_by(["account_id", "user_id"]).aggregate(
        q_cur=f.q_cur.sum(), q_prev=f.q_prev.sum(), seen_cur=f.seen_cur.max(), seen_prev=f.seen_prev.max(),
        n_feat=f.seen_cur.count(), last_day=f.last_day.max(),
    )
    per_acct = per_user.group_by("account_id").aggregate(
        q_cur=per_user.q_cur.sum(), q_prev=per_user.q_prev.sum(),
        users_cur=per_user.seen_cur.count(), users_prev=per_user.seen_prev.count(),
        feat_sum=per_user.n_feat.sum(),
    )
    breadth, n_core = _breadth(per_feat, settings, as_of)
    a = accounts.select("account_id", "licensed_seats", "champion_user_id", "sponsor_user_id")
    j = a.left_join(per_acct, "account_id").drop("account_id_right")
    j = j.left_join(breadth, "account_id").drop("account_id_right")
    j = _with_last_seen(j, per_user, "champion_user_id", "champion_last")
    j = _with_last_seen(j, per_user, "sponsor_user_id", "sponsor_last")
    users_cur = j.users_cur.fill_null(0)
    return j.select(
        "account_id",
        feature_breadth=_ratio(j.n_core.fill_null(0), n_core),
        seat_utilisation=_ratio(users_cur, j.licensed_seats),
        usage_depth=ibis.cases((users_cur > 0, j.feat_sum.cast("float64") / users_cur), else_=0.0),
        usage_trend=_ratio(j.q_cur.fill_null(0), j.q_prev) - 1,
        active_user_trend=_ratio(users_cur, j.users_prev) - 1,
        champion_days_silent=_silence(j.champion_user_id, j.champion_last, as_of, settings.champion_lookback_days),
        sponsor_days_silent=_silence(j.sponsor_user_id, j.sponsor_last, as_of, settings.champion_lookback_days),
    )


def _with_last_seen(j: ibis.Table, per_user: ibis.Table, user_col: str, name: str) -> ibis.Table:
    seen = per_user.select(k_acct=per_user.account_id, k_user=per_user.user_id, **{name: per_user.last_day})
    out = j.left_join(seen, (j.account_id == seen.k_acct) & (j[user_col] == seen.k_user))
    return out.drop("k_acct", "k_user")


def _silence(user: ibis.Value, last: ibis.Value, as_of: ibis.Value, cap: int) -> ibis.Value:
    """Days since the user's last activity, capped; NULL when the account names no such user."""
    days = as_of.delta(last, unit="day").cast("float64")
    capped = ibis.cases((last.isnull(), float(cap)), (days > cap, float(cap)), else_=days)
    return ibis.cases((user.isnull(), ibis.null("float64")), else_=capped)


def ticket_signals(records: Inputs, settings: HealthSettings, as_of: ibis.Value) -> ibis.Table:
    """Support signals from tickets; sentiment from :mod:`engine.health.sentiment`."""
    t = records.tickets
    t = t.mutate(created=t.created_at.date(), closed=t.closed_at.date())
    t = t.filter(t.created <= as_of)
    recent = _between(t.created, as_of, 89, 0)
    open_now = ibis.cases(
        (t.closed.notnull(), t.closed > as_of),
        else_=~t.status.lower().fill_null("").isin(list(CLOSED_STATUSES)),
    )
    high = t.priority.lower().isin([p.lower() for p in settings.high_priorities]) & open_now
    agg = t.group_by("account_id").aggregate(
        n_cur=t.count(where=_between(t.created, as_of, 29, 0)),
        n_base=t.count(where=_between(t.created, as_of, 119, 30)),
        open_high=t.count(where=high),
        csat=t.csat.mean(where=recent),
    )
    scores = records.ticket_sentiment
    if scores is None:
        scores = ticket_sentiments(t.filter(recent))
    tr = t.filter(recent)
    ts = tr.inner_join(scores, "ticket_id")
    sent = ts.group_by("account_id").aggregate(ticket_sentiment=ts.sentiment.mean())
    j = records.accounts.select("account_id").left_join(agg, "account_id").drop("account_id_right")
    j = j.left_join(sent, "account_id").drop("account_id_right")
    return j.select(
        "account_id",
        ticket_volume_ratio=(j.n_cur.fill_null(0) + 1).cast("float64") / (j.n_base.fill_null(0) / 3.0 + 1),
        open_high_priority=j.open_high.fill_null(0).cast("float64"),
        ticket_sentiment=j.ticket_sentiment.cast("float64"),
        csat=j.csat.cast("float64"),
    )


def nps_signal(nps: ibis.Table, settings: HealthSettings, as_of: ibis.Value) -> ibis.Table:
    n = nps.filter(_between(nps.day, as_of, settings.nps_lookback_days - 1, 0))
    return n.group_by("account_id").aggregate(nps=n.score.mean().cast("float64"))


def contract_signals(contracts: ibis.Table, as_of: ibis.Value) -> ibis.Table:
    """MRR now and 90 days ago, renewal distance and contraction, from contract lines."""
    c = contracts
    then = _back(as_of, 90)

    def active(day: ibis.Value) -> ibis.Value:
        return (c.start_date <= day) & (c.end_date.isnull() | (c.end_date >= day))

    agg = c.group_by("account_id").aggregate(
        mrr=c.mrr.sum(where=active(as_of)).cast("float64"),
        mrr_then=c.mrr.sum(where=active(then)).cast("float64"),
        renews=c.end_date.min(where=active(as_of) & c.end_date.notnull()),
    )
    lost = 1 - agg.mrr.fill_null(0) / agg.mrr_then
    return agg.select(
        "account_id", "mrr",
        days_to_renewal=(agg.renews.delta(as_of, unit="day") + 1).cast("float64"),
        contraction_90d=ibis.cases((agg.mrr_then > 0, ibis.greatest(lost, 0.0)), else_=ibis.null("float64")),
    )


def invoice_signal(invoices: ibis.Table, as_of: ibis.Value) -> ibis.Table:
    i = invoices
    status = i.status.lower().fill_null("")
    unpaid = (i.issued_at <= as_of) & (i.paid_at.isnull() | (i.paid_at > as_of)) & ~status.isin(list(SKIP_INVOICE_STATUSES))
    failing = (i.due_at < as_of) | (i.attempt_count.fill_null(0) > 1) | status.isin(list(FAILED_INVOICE_STATUSES))
    return i.group_by("account_id").aggregate(payment_issues=i.count(where=unpaid & failing).cast("float64"))


def compute_signals(records: Inputs, settings: HealthSettings, as_of: dt.date | ibis.Value) -> ibis.Table:
    """One row per account: ``account_id, segment, mrr`` and one float column per signal.

    With contract lines present and ``settings.active_customers_only`` (the default), only
    accounts with MRR > 0 on ``as_of`` are scored: churned and prospective accounts have no
    health to speak of. ``as_of`` may also be an Ibis date expression (the history rebuild
    compiles the query once); then ``records.ticket_sentiment`` must be precomputed.
    """
    as_of = as_of_value(as_of)
    accounts = records.accounts
    out = accounts.select("account_id", segment=accounts.segment.lower())
    parts: list[tuple[ibis.Table | None, tuple[str, ...]]] = [
        (usage_signals(records.usage, accounts, settings, as_of) if records.usage is not None else None, USAGE_SIGNALS),
        (ticket_signals(records, settings, as_of) if records.tickets is not None else None, TICKET_SIGNALS),
        (nps_signal(records.nps, settings, as_of) if records.nps is not None else None, ("nps",)),
        (invoice_signal(records.invoices, as_of) if records.invoices is not None else None, ("payment_issues",)),
        (contract_signals(records.contracts, as_of) if records.contracts is not None else None,
         ("mrr", "days_to_renewal", "contraction_90d")),
    ]
    columns: dict[str, ibis.Value] = {}
    for part, names in parts:
        if part is None:
            columns.update({n: ibis.null("float64") for n in names})
            continue
        out = out.left_join(part, "account_id").drop("account_id_right")
    if records.invoices is not None:
        columns["payment_issues"] = out.payment_issues.fill_null(0.0)
    out = out.mutate(**columns) if columns else out
    if records.contracts is not None and settings.active_customers_only:
        out = out.filter(out.mrr > 0)
    return out.select("account_id", "segment", "mrr", *settings.signals)


_SENTINEL = dt.date(1901, 2, 3)
_SENTINEL_SQL = "MAKE_DATE(1901, 2, 3)"


def signals_sql(backend: ibis.BaseBackend, records: Inputs, settings: HealthSettings) -> str:
    """The signal query compiled once, with the as-of date as the bind parameter ``$as_of``.

    Compiling the expression costs more than running it on a small book, so a daily history
    rebuild compiles once and executes per day. Every date in the query is derived from one
    as-of literal (see :func:`_between`); it is compiled from a sentinel date and swapped
    for the parameter. Needs ``records.ticket_sentiment`` when tickets are present.
    """
    if records.tickets is not None and records.ticket_sentiment is None:
        raise ValueError("signals_sql needs precomputed ticket sentiment (Inputs.with_sentiment)")
    sql = backend.compile(compute_signals(records, settings, _SENTINEL))
    if _SENTINEL_SQL not in sql:
        raise RuntimeError("could not find the as-of literal in the compiled signal query")
    return sql.replace(_SENTINEL_SQL, "CAST($as_of AS DATE)")
