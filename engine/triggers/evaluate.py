"""Evaluate trigger rules for every account as of a date.

A trigger fires for an account when ``metric op threshold`` and all its extra conditions
hold on the account's features (missing values never fire), unless

* it is an expansion trigger and the account's health is below
  ``expansion_min_health`` or unknown (suppressed: fix health before upselling), or
* the same trigger fired for the account within its ``cooldown_days``
  (an earlier event on day d blocks days d … d + cooldown − 1).

Health features come from score snapshots: ``score_change_7`` = score(as_of) −
score(as_of − 7) (the latest snapshot in the week before that day when that day is
missing); ``band_drop`` = rank of the previous snapshot's band − rank of today's band
(previous = the latest snapshot in the 7 days before ``as_of``).
"""

from __future__ import annotations

import datetime as dt
import math
import operator
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd

from engine.renewal_settings import RenewalSettings
from engine.triggers.features import TriggerInputs, compute_features
from engine.triggers.settings import TriggerDef, TriggerSettings

OPS = {">=": operator.ge, ">": operator.gt, "<=": operator.le, "<": operator.lt, "==": operator.eq}

EVENT_COLUMNS = ["event_id", "account_id", "trigger", "kind", "day", "severity", "owner_role", "action",
                 "sla_days", "due_date", "title", "summary", "evidence"]


def _snapshot_frame(history: pd.DataFrame | None) -> pd.DataFrame:
    if history is None or history.empty:
        return pd.DataFrame({"account_id": pd.Series(dtype=str), "day": pd.Series(dtype="datetime64[ns]"),
                             "score": pd.Series(dtype=float), "band": pd.Series(dtype=str)})
    h = history[["account_id", "day", "score", "band"]].copy()
    h["day"] = pd.to_datetime(h["day"])
    return h


def _latest_in(h: pd.DataFrame, lo: pd.Timestamp, hi: pd.Timestamp) -> pd.DataFrame:
    part = h[(h["day"] >= lo) & (h["day"] <= hi)].sort_values("day")
    return part.groupby("account_id").tail(1).set_index("account_id")


def health_features(scores: pd.DataFrame, history: pd.DataFrame | None, settings: TriggerSettings,
                    as_of: dt.date) -> pd.DataFrame:
    """account_id, score, band, score_7d_ago, score_change_7, previous_band, band_drop."""
    a = pd.Timestamp(as_of)
    h = _snapshot_frame(history)
    out = scores[["account_id", "score", "band"]].drop_duplicates("account_id").set_index("account_id")
    out["score"] = out["score"].astype("float64")
    week = _latest_in(h, a - pd.Timedelta(days=14), a - pd.Timedelta(days=7))
    out["score_7d_ago"] = week["score"].reindex(out.index).astype("float64")
    out["score_change_7"] = out["score"] - out["score_7d_ago"]
    prev = _latest_in(h, a - pd.Timedelta(days=7), a - pd.Timedelta(days=1))
    out["previous_band"] = prev["band"].reindex(out.index)
    rank = {b: i for i, b in enumerate(settings.band_order)}
    out["band_drop"] = out["previous_band"].map(rank).astype("float64") - out["band"].map(rank).astype("float64")
    return out.reset_index()


def renewal_features(inputs: TriggerInputs, as_of: dt.date, renewal_settings: RenewalSettings,
                     settings: TriggerSettings) -> pd.DataFrame:
    """account_id, renewal_date (the nearest unbooked renewal), days_to_renewal.

    Evergreen monthly renewals count only when both ``settings.evergreen_renewals`` and
    the renewal settings' ``include_evergreen`` say so: a monthly account is always
    within 60 days of a renewal, which would make renewal triggers mere noise.
    """
    from engine.renewals import renewing_lines  # renewals imports this package's features

    rs = renewal_settings.model_copy(
        update={"include_evergreen": renewal_settings.include_evergreen and settings.evergreen_renewals})
    lines = pd.DataFrame() if inputs.contracts is None else renewing_lines(inputs.contracts, as_of, rs.horizon_days, rs)
    if lines.empty:
        return pd.DataFrame({"account_id": pd.Series(dtype=str), "renewal_date": pd.Series(dtype="datetime64[ns]"),
                             "days_to_renewal": pd.Series(dtype=float)})
    nearest = lines.groupby("account_id")["renewal_date"].min().reset_index()
    nearest["days_to_renewal"] = (nearest["renewal_date"] - pd.Timestamp(as_of)).dt.days.astype("float64")
    return nearest


def _mask(f: pd.DataFrame, t: TriggerDef) -> np.ndarray:
    if t.metric not in f:
        raise KeyError(f"trigger {t.id!r} reads unknown metric {t.metric!r}")
    m = OPS[t.op](f[t.metric].astype("float64"), t.threshold).fillna(False).to_numpy(dtype=bool)
    for c in t.conditions:
        if c.metric not in f:
            raise KeyError(f"trigger {t.id!r} condition reads unknown metric {c.metric!r}")
        m = m & OPS[c.op](f[c.metric].astype("float64"), c.value).fillna(False).to_numpy(dtype=bool)
    return m


def _cooling(recent: pd.DataFrame | None, t: TriggerDef, as_of: dt.date) -> set[str]:
    """Accounts for which ``t`` fired within its cooldown before (or on) ``as_of``."""
    if recent is None or recent.empty or t.cooldown_days == 0:
        return set()
    r = recent[recent["trigger"] == t.id]
    age = (pd.Timestamp(as_of) - pd.to_datetime(r["day"])).dt.days
    return set(r.loc[(age >= 0) & (age < t.cooldown_days), "account_id"])


def _plain(v: Any) -> Any:
    """A JSON-ready scalar: floats rounded to 4 places (integral ones as int), dates ISO."""
    if isinstance(v, float):  # numpy float64 is a float subclass
        if math.isnan(v):
            return None
        return int(v) if v.is_integer() else round(float(v), 4)
    if v is None or v is pd.NaT:
        return None
    if isinstance(v, (pd.Timestamp, dt.date)):
        return pd.Timestamp(v).date().isoformat()
    if isinstance(v, np.floating):
        return _plain(float(v))
    if isinstance(v, np.integer):
        return int(v)
    if isinstance(v, Decimal):
        return str(v)
    return v if not pd.isna(v) else None


def _plain_list(col: pd.Series) -> list[Any]:
    """A column as JSON-ready scalars (see :func:`_plain`), vectorised for the common dtypes."""
    if pd.api.types.is_float_dtype(col) or pd.api.types.is_integer_dtype(col):
        return [None if x != x else (int(x) if float(x).is_integer() else round(x, 4)) for x in col.astype("float64").tolist()]
    if pd.api.types.is_datetime64_any_dtype(col):
        return [x if isinstance(x, str) else None for x in col.dt.strftime("%Y-%m-%d").tolist()]
    return [_plain(v) for v in col.tolist()]


def _fired_frame(sub: pd.DataFrame, t: TriggerDef, as_of: dt.date) -> pd.DataFrame:
    """Event rows for the accounts in ``sub`` (already masked and out of cooldown)."""
    extra = list(dict.fromkeys([*(c.metric for c in t.conditions), *(e for e in t.evidence if e in sub)]))
    plain = {c: _plain_list(sub[c]) for c in dict.fromkeys([t.metric, *extra])}
    threshold = _plain(float(t.threshold))
    evidence = []
    for i, value in enumerate(plain[t.metric]):
        ev = {t.metric: value, "op": t.op, "threshold": threshold}
        ev.update({c: plain[c][i] for c in extra if c != t.metric})
        evidence.append(ev)
    ids = sub["account_id"].astype(str)
    return pd.DataFrame({
        "event_id": (ids + f"|{t.id}|{as_of.isoformat()}").to_numpy(), "account_id": ids.to_numpy(),
        "trigger": t.id, "kind": t.kind, "day": as_of, "severity": t.severity, "owner_role": t.owner_role,
        "action": t.action, "sla_days": t.sla_days, "due_date": as_of + dt.timedelta(days=t.sla_days),
        "title": t.title, "summary": [f"{t.title}: {t.metric} = {v} ({t.op} {threshold})" for v in plain[t.metric]],
        "evidence": evidence,
    }, columns=EVENT_COLUMNS)


def fire(features: pd.DataFrame, settings: TriggerSettings, as_of: dt.date,
         recent_events: pd.DataFrame | None = None) -> pd.DataFrame:
    """Apply every trigger definition to a feature frame (one row per account)."""
    frames = []
    healthy = (features["score"].astype("float64") >= settings.expansion_min_health).fillna(False).to_numpy(dtype=bool)
    for t in settings.definitions():
        m = _mask(features, t)
        if t.kind == "expansion":
            m = m & healthy
        sub = features.loc[m]
        sub = sub[~sub["account_id"].isin(_cooling(recent_events, t, as_of))]
        if len(sub):
            frames.append(_fired_frame(sub, t, as_of))
    if not frames:
        return pd.DataFrame(columns=EVENT_COLUMNS)
    return pd.concat(frames, ignore_index=True)


def evaluate_triggers(
    inputs: TriggerInputs,
    scores: pd.DataFrame,
    history: pd.DataFrame | None,
    settings: TriggerSettings,
    as_of: dt.date,
    *,
    recent_events: pd.DataFrame | None = None,
    features: pd.DataFrame | None = None,
    renewal_settings: RenewalSettings | None = None,
) -> pd.DataFrame:
    """Triggers fired on ``as_of``: one row per (account, trigger) with evidence.

    Only accounts in ``scores`` are evaluated (the scored, active book: a churned
    account's silence is not a signal).

    ``scores``: account_id, score, band as of the date; ``history``: score snapshots
    (account_id, day, score, band) covering at least the 14 days before; ``recent_events``:
    earlier trigger events (account_id, trigger, day) for the cooldown.
    """
    f = features if features is not None else compute_features(inputs, settings, as_of)
    f = f.merge(health_features(scores, history, settings, as_of), on="account_id", how="inner")
    f = f.merge(renewal_features(inputs, as_of, renewal_settings or RenewalSettings(), settings), on="account_id", how="left")
    return fire(f, settings, as_of, recent_events)
