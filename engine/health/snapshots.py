"""Daily score snapshots in the store (``score_snapshots``): write, rebuild, read.

One row per account and day, keyed ``(account_id, day)``; writing the same day again
replaces that day's rows (idempotent), so a re-run or a ``--since`` rebuild after a config
change never duplicates. ``signals`` holds the per-signal JSON
``{name: {category, value, points, weight}}`` so every later change can be explained.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import replace
from typing import Callable

import pandas as pd
import pyarrow as pa

from engine.health.errors import HealthError
from engine.health.inputs import Inputs
from engine.health.score import score_wide
from engine.health.sentiment import ticket_sentiment_frame
from engine.health.settings import HealthSettings
from engine.health.signals import USAGE_SIGNALS, compute_signals, signals_sql
from engine.health.usage_range import usage_signal_range
from engine.store import Store, utcnow

#: Account-days of usage signals computed (and written) together in a rebuild: bounds memory
#: (a year of 10,000 accounts goes in three passes over the events).
CHUNK_ROWS = 1_500_000

SNAPSHOT_COLUMNS = "account_id, day, segment, score, band, coverage, signals, computed_at"


def _insert(store: Store, table: pa.Table) -> int:
    """INSERT OR REPLACE a batch shaped like ``score_snapshots`` in one transaction."""
    with store.transaction() as con:
        con.register("_snap", table)
        try:
            con.execute(
                f"INSERT OR REPLACE INTO score_snapshots ({SNAPSHOT_COLUMNS}) "
                f"SELECT {SNAPSHOT_COLUMNS} FROM _snap"
            ).fetchall()
        finally:
            con.unregister("_snap")
    return table.num_rows


def write_snapshots(store: Store, scores: pd.DataFrame) -> int:
    """Store the rows of :func:`~engine.health.score.score_accounts`; returns rows written."""
    if scores.empty:
        return 0
    frame = scores[["account_id", "day", "segment", "score", "band", "coverage"]].copy()
    frame["signals"] = [json.dumps(s, separators=(",", ":")) for s in scores["signals"]]
    frame["computed_at"] = utcnow()
    return _insert(store, pa.Table.from_pandas(frame, preserve_index=False))


def _signals_json_sql(settings: HealthSettings) -> str:
    """A DuckDB expression building the signals JSON from ``v__/p__/w__`` columns."""
    parts = []
    for name, spec in settings.signals.items():
        inner = (f"json_object('category', '{spec.category}', 'value', \"v__{name}\", "
                 f"'points', \"p__{name}\", 'weight', \"w__{name}\")")
        parts.append(f"'{name}', {inner}")
    return "CAST(json_object(" + ", ".join(parts) + ") AS VARCHAR)"


def write_wide(store: Store, wide: pd.DataFrame, day: dt.date | None, settings: HealthSettings, *,
               upsert: bool = True) -> int:
    """Store a :func:`score_wide` frame, building the JSON inside DuckDB (fast path).

    ``day`` stamps every row; with ``None`` the frame's own ``day`` column is used (a
    rebuild writes many days at once). ``upsert=False`` inserts plainly, for days the
    caller has just cleared.
    """
    if wide.empty:
        return 0
    day_sql = "CAST(? AS DATE)" if day is not None else "CAST(day AS DATE)"
    params = [day, utcnow()] if day is not None else [utcnow()]
    with store.transaction() as con:
        con.register("_wide", pa.Table.from_pandas(wide, preserve_index=False))
        try:
            con.execute(
                f"INSERT {'OR REPLACE ' if upsert else ''}INTO score_snapshots ({SNAPSHOT_COLUMNS}) "
                f"SELECT account_id, {day_sql}, segment, score, band, coverage, "
                f"{_signals_json_sql(settings)}, CAST(? AS TIMESTAMP) FROM _wide",
                params,
            ).fetchall()
        finally:
            con.unregister("_wide")
    return len(wide)


def score_and_store(store: Store, settings: HealthSettings, as_of: dt.date, *,
                    revenue_source: str | None = None) -> pd.DataFrame:
    """Score every active account as of ``as_of`` and store the day's snapshot (`nrr score`).

    Returns ``account_id, day, segment, score, band, coverage``; the per-signal detail goes
    straight to the store as JSON (built in DuckDB — much faster than Python dicts at 100k
    accounts). Use :func:`score_accounts` when the dictionaries are wanted in memory.
    """
    signals = compute_signals(Inputs.from_store(store, revenue_source), settings, as_of).to_pandas()
    wide = score_wide(signals, settings)
    write_wide(store, wide, as_of, settings)
    out = wide[["account_id", "segment", "score", "band", "coverage"]].copy()
    out.insert(1, "day", as_of)
    return out


def rebuild_history(
    store: Store,
    settings: HealthSettings,
    since: dt.date,
    until: dt.date,
    *,
    revenue_source: str | None = None,
    progress: Callable[[dt.date, int], None] | None = None,
) -> int:
    """Recompute and store a snapshot for every day ``since … until`` (inclusive).

    Ticket text is scored once for the whole range, not once per day; usage signals are
    computed for chunks of days at once (:mod:`engine.health.usage_range`) instead of
    re-reading 90 days of events per day; the rest runs as one compiled query per day with
    the day as a bind parameter. Returns rows written.
    """
    if until < since:
        raise HealthError(f"--since {since} is after the as-of date {until}: give an earlier --since")
    records = Inputs.from_store(store, revenue_source)
    if records.tickets is not None:
        t = records.tickets
        window = (t.created_at.date() >= since - dt.timedelta(days=89)) & (t.created_at.date() <= until)
        frame = ticket_sentiment_frame(t.filter(window))
        store.con.register("_health_sentiment", pa.Table.from_pandas(frame, preserve_index=False))
        records = records.with_sentiment(store.ibis.table("_health_sentiment"))
    sql = signals_sql(store.ibis, replace(records, usage=None), settings)
    chunk = max(7, CHUNK_ROWS // max(1, int(records.accounts.count().execute())))
    written, start = 0, since
    while start <= until:
        stop = min(until, start + dt.timedelta(days=chunk - 1))
        usage = None if records.usage is None else \
            usage_signal_range(records.usage, records.accounts, settings, start, stop).groupby("day")
        frames = []
        for day in _days(start, stop):
            signals = store.con.execute(sql, {"as_of": day}).df()
            if usage is not None:
                signals = _with_usage(signals, usage.get_group(day) if day in usage.groups else None)
            frames.append(score_wide(signals, settings).assign(day=day))
            if progress:
                progress(day, len(frames[-1]))
        written += _replace_days(store, pd.concat(frames, ignore_index=True), start, stop, settings)
        start = stop + dt.timedelta(days=1)
    return written


def _replace_days(store: Store, wide: pd.DataFrame, start: dt.date, stop: dt.date, settings: HealthSettings) -> int:
    """Replace every snapshot of ``start … stop`` with ``wide`` in one transaction.

    Deleting the days and inserting is several times faster than a keyed upsert of
    millions of rows, and also drops snapshots of accounts no longer scored on those days.
    """
    with store.transaction() as con:
        con.execute("DELETE FROM score_snapshots WHERE day BETWEEN ? AND ?", [start, stop]).fetchall()
        return write_wide(store, wide, None, settings, upsert=False)


def _days(start: dt.date, stop: dt.date) -> list[dt.date]:
    return [start + dt.timedelta(days=i) for i in range((stop - start).days + 1)]


def _with_usage(signals: pd.DataFrame, usage: pd.DataFrame | None) -> pd.DataFrame:
    """Replace the (NULL) usage columns of a day's signals with the range computation's."""
    base = signals.drop(columns=list(USAGE_SIGNALS))
    if usage is None:
        return base.assign(**{c: float("nan") for c in USAGE_SIGNALS})
    return base.merge(usage[["account_id", *USAGE_SIGNALS]], on="account_id", how="left")


def score_history(store: Store, account_id: str | None = None, since: dt.date | None = None) -> pd.DataFrame:
    """Stored snapshots (oldest first) with ``signals`` parsed back into dictionaries."""
    where, params = ["TRUE"], []
    if account_id is not None:
        where.append("account_id = ?")
        params.append(account_id)
    if since is not None:
        where.append("day >= ?")
        params.append(since)
    df = store.con.execute(
        f"SELECT account_id, day, segment, score, band, coverage, signals FROM score_snapshots "
        f"WHERE {' AND '.join(where)} ORDER BY account_id, day",
        params,
    ).df()
    df["day"] = pd.to_datetime(df["day"]).dt.date
    df["signals"] = [json.loads(s) if s else {} for s in df["signals"]]
    return df
