"""Fired triggers in the store's ``trigger_events`` table.

An event's id is ``account|trigger|day``, so recording the same evaluation twice is a
no-op. Recording also re-checks the cooldown against stored events, so a caller that
evaluated without ``recent_events`` cannot create a duplicate inside a cooldown.

An event is *open* on a date from its day until its cooldown ends (while it cannot
re-fire, it is the account's live signal) unless its status was set to ``resolved`` or
``dismissed``; after the cooldown, a condition that still holds fires a new event.
"""

from __future__ import annotations

import datetime as dt
import json

import pandas as pd
import pyarrow as pa

from engine.store import Store, utcnow
from engine.triggers.evaluate import EVENT_COLUMNS, _cooling
from engine.triggers.settings import TriggerSettings

STATUSES = ("open", "resolved", "dismissed")
_COLUMNS = ("event_id, account_id, trigger, kind, day, severity, owner_role, action, sla_days, evidence, "
            "status, created_at")


def load_events(store: Store, since: dt.date | None = None, until: dt.date | None = None) -> pd.DataFrame:
    """Stored events with ``since <= day <= until`` (either bound optional), oldest first."""
    where, args = [], []
    if since is not None:
        where.append("day >= ?")
        args.append(since)
    if until is not None:
        where.append("day <= ?")
        args.append(until)
    sql = f"SELECT {_COLUMNS} FROM trigger_events" + (" WHERE " + " AND ".join(where) if where else "")
    df = store.con.execute(sql + " ORDER BY day, account_id, trigger", args).df()
    df["day"] = [d.date() if hasattr(d, "date") else d for d in df["day"]]
    df["evidence"] = [json.loads(e) if e else {} for e in df["evidence"]]
    df["due_date"] = [d + dt.timedelta(days=int(s or 0)) for d, s in zip(df["day"], df["sla_days"])]
    return df


def record_triggers(store: Store, fired: pd.DataFrame, as_of: dt.date,
                    settings: TriggerSettings | None = None) -> int:
    """Store fired events not already stored nor inside their cooldown; returns how many."""
    if fired is None or fired.empty:
        return 0
    settings = settings or TriggerSettings()
    longest = max((t.cooldown_days for t in settings.definitions()), default=0)
    recent = load_events(store, since=as_of - dt.timedelta(days=longest), until=as_of)
    keep = []
    for trig, part in fired.groupby("trigger"):
        try:
            others = recent[~recent["event_id"].isin(part["event_id"])]
            cooling = _cooling(others, settings.by_id(trig), as_of)
        except KeyError:
            cooling = set()
        keep.append(part[~part["account_id"].isin(cooling)])
    rows = pd.concat(keep)
    if rows.empty:
        return 0
    batch = pa.table({
        "event_id": rows["event_id"].astype(str).tolist(), "account_id": rows["account_id"].astype(str).tolist(),
        "trigger": rows["trigger"].tolist(), "kind": rows["kind"].tolist(),
        "day": pa.array(pd.to_datetime(rows["day"]).dt.date.tolist(), pa.date32()),
        "severity": rows["severity"].tolist(), "owner_role": rows["owner_role"].tolist(),
        "action": rows["action"].tolist(), "sla_days": pa.array([int(v) for v in rows["sla_days"]], pa.int32()),
        "evidence": [json.dumps(e, sort_keys=True) for e in rows["evidence"]],
    })
    # One set-based insert (row-by-row executemany took minutes for tens of thousands of events).
    with store.transaction() as con:
        before = con.execute("SELECT count(*) FROM trigger_events").fetchall()[0][0]
        con.register("_fired", batch)
        try:
            con.execute(
                f"INSERT INTO trigger_events ({_COLUMNS}) SELECT event_id, account_id, trigger, kind, day, severity, "
                "owner_role, action, sla_days, evidence, 'open', ? FROM _fired ON CONFLICT DO NOTHING", [utcnow()])
        finally:
            con.unregister("_fired")
        after = con.execute("SELECT count(*) FROM trigger_events").fetchall()[0][0]
    return after - before


def open_triggers(store: Store, as_of: dt.date, settings: TriggerSettings | None = None) -> pd.DataFrame:
    """Events open on ``as_of``: status open and ``day <= as_of < day + cooldown``.

    A trigger id no longer configured keeps its event open for its SLA days.
    """
    settings = settings or TriggerSettings()
    cooldown = {t.id: t.cooldown_days for t in settings.definitions()}
    longest = max([*cooldown.values(), 365])
    ev = load_events(store, since=as_of - dt.timedelta(days=longest), until=as_of)
    if ev.empty:
        return ev.reindex(columns=[*ev.columns])
    span = [max(cooldown.get(t, int(s or 0)), 1) for t, s in zip(ev["trigger"], ev["sla_days"])]
    age = [(as_of - d).days for d in ev["day"]]
    live = [(st == "open") and a < sp for st, a, sp in zip(ev["status"], age, span)]
    return ev[live].reset_index(drop=True)


def set_status(store: Store, event_id: str, status: str) -> None:
    """Mark an event resolved or dismissed (or reopen it)."""
    if status not in STATUSES:
        raise ValueError(f"status must be one of {', '.join(STATUSES)}, got {status!r}")
    with store.transaction() as con:
        n = con.execute("UPDATE trigger_events SET status = ? WHERE event_id = ? RETURNING 1",
                        [status, event_id]).fetchall()
    if not n:
        raise KeyError(f"no trigger event {event_id!r}; list them with `nrr triggers`")


def evaluate_and_record(store: Store, inputs, scores: pd.DataFrame, history: pd.DataFrame | None,
                        settings: TriggerSettings, as_of: dt.date, **kwargs) -> pd.DataFrame:
    """The pipeline step: evaluate with stored events as the cooldown history, then record."""
    from engine.triggers.evaluate import evaluate_triggers

    longest = max((t.cooldown_days for t in settings.definitions()), default=0)
    recent = load_events(store, since=as_of - dt.timedelta(days=longest), until=as_of)
    fired = evaluate_triggers(inputs, scores, history, settings, as_of, recent_events=recent, **kwargs)
    record_triggers(store, fired, as_of, settings)
    return fired.reindex(columns=EVENT_COLUMNS)
