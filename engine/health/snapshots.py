"""Daily score snapshots in the store (``score_snapshots``): write, rebuild, read.

One row per account and day, keyed ``(account_id, day)``; writing the same day again
replaces that day's rows (idempotent), so a re-run or a ``--since`` rebuild after a config
change never duplicates. ``signals`` holds the per-signal JSON
``{name: {category, value, points, weight}}`` so every later change can be explained.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Callable

import ibis
import pandas as pd
import pyarrow as pa

from engine.health.inputs import Inputs
from engine.health.score import score_accounts, score_wide
from engine.health.sentiment import ticket_sentiment_frame
from engine.health.settings import HealthSettings
from engine.health.signals import compute_signals, signals_sql
from engine.store import Store, utcnow

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


def write_wide(store: Store, wide: pd.DataFrame, day: dt.date, settings: HealthSettings) -> int:
    """Store a :func:`score_wide` frame for one day, building the JSON inside DuckDB (fast path)."""
    if wide.empty:
        return 0
    with store.transaction() as con:
        con.register("_wide", pa.Table.from_pandas(wide, preserve_index=False))
        try:
            con.execute(
                f"INSERT OR REPLACE INTO score_snapshots ({SNAPSHOT_COLUMNS}) "
                f"SELECT account_id, CAST(? AS DATE), segment, score, band, coverage, "
                f"{_signals_json_sql(settings)}, CAST(? AS TIMESTAMP) FROM _wide",
                [day, utcnow()],
            ).fetchall()
        finally:
            con.unregister("_wide")
    return len(wide)


def score_and_store(store: Store, settings: HealthSettings, as_of: dt.date, *,
                    revenue_source: str | None = None) -> pd.DataFrame:
    """Score every active account as of ``as_of``, store the snapshot and return the scores."""
    scores = score_accounts(compute_signals(Inputs.from_store(store, revenue_source), settings, as_of), settings, as_of)
    write_snapshots(store, scores)
    return scores


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

    Ticket text is scored once for the whole range, not once per day. Returns rows written.
    """
    if until < since:
        raise ValueError(f"--since {since} is after the as-of date {until}")
    records = Inputs.from_store(store, revenue_source)
    if records.tickets is not None:
        t = records.tickets
        window = (t.created_at.date() >= since - dt.timedelta(days=89)) & (t.created_at.date() <= until)
        frame = ticket_sentiment_frame(t.filter(window))
        store.con.register("_health_sentiment", pa.Table.from_pandas(frame, preserve_index=False))
        records = records.with_sentiment(store.ibis.table("_health_sentiment"))
    sql = signals_sql(store.ibis, records, settings)
    written, day = 0, since
    while day <= until:
        signals = store.con.execute(sql, {"as_of": day}).df()
        wide = score_wide(signals, settings)
        written += write_wide(store, wide, day, settings)
        if progress:
            progress(day, len(wide))
        day += dt.timedelta(days=1)
    return written


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
