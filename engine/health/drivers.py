"""Why a score moved: score deltas over 7 and 30 days and the signals that drove them.

A signal's contribution to a score is ``weight × points`` (its effective, renormalised
weight times its 0–100 points; a missing signal contributes 0), and the score is the sum of
the contributions. So the change of a signal's contribution between two snapshots,

    driver_s = w_s(now) × p_s(now) − w_s(then) × p_s(then),

adds up over all signals to the score change (up to the 1 dp rounding of stored values),
and "usage trend −12" means the usage-trend signal alone took 12 points off the score.
"""

from __future__ import annotations

import datetime as dt
import json

import pandas as pd

from engine.health.settings import HealthSettings
from engine.store import Store

#: Look back at most this many extra days for a comparison snapshot (a skipped daily run).
SLACK_DAYS = 3


def contribution(entry: dict | None) -> float:
    if not entry or entry.get("points") is None:
        return 0.0
    return float(entry.get("weight") or 0.0) * float(entry["points"])


def driver_changes(now: dict, then: dict, *, top: int = 3, min_change: float = 0.5) -> list[tuple[str, float]]:
    """The ``top`` signals whose contribution moved most, as ``(signal, points change)``."""
    names = list(dict.fromkeys([*now, *then]))
    changes = [(n, round(contribution(now.get(n)) - contribution(then.get(n)), 1)) for n in names]
    changes = [c for c in changes if abs(c[1]) >= min_change]
    return sorted(changes, key=lambda c: (-abs(c[1]), c[0]))[:top]


def format_change(value: float) -> str:
    """``−12``, ``+8``, ``−0.6`` — whole points unless the change is under one point."""
    mag = abs(value)
    text = f"{round(mag):d}" if mag >= 1 else f"{mag:.1f}"
    return ("−" if value < 0 else "+") + text


def drivers_text(drivers: list[tuple[str, float]], settings: HealthSettings | None = None) -> str:
    """``"usage trend −12, failed payment −8"`` using the signals' labels."""
    specs = (settings or HealthSettings()).signals
    return ", ".join(f"{specs[n].label if n in specs else n} {format_change(v)}" for n, v in drivers)


_DELTAS_SQL = """
WITH cur AS (SELECT account_id, score, band, signals FROM score_snapshots WHERE day = $as_of),
prev AS (
  SELECT account_id,
         arg_max(score, day) FILTER (WHERE day BETWEEN $d7 - $slack AND $d7) AS score_7,
         arg_max(signals, day) FILTER (WHERE day BETWEEN $d7 - $slack AND $d7) AS signals_7,
         arg_max(score, day) FILTER (WHERE day BETWEEN $d30 - $slack AND $d30) AS score_30,
         arg_max(signals, day) FILTER (WHERE day BETWEEN $d30 - $slack AND $d30) AS signals_30
  FROM score_snapshots WHERE day BETWEEN $d30 - $slack AND $d7 GROUP BY account_id)
SELECT cur.account_id, cur.score, cur.band, cur.score - prev.score_7 AS delta_7,
       cur.score - prev.score_30 AS delta_30, cur.signals, prev.signals_7, prev.signals_30
FROM cur LEFT JOIN prev USING (account_id) ORDER BY cur.account_id
"""


def deltas(store: Store, as_of: dt.date, settings: HealthSettings | None = None, *, window: int = 7,
           top: int = 3) -> pd.DataFrame:
    """Per account scored on ``as_of``: score, band, delta_7, delta_30 and drivers.

    The comparison snapshot for "k days ago" is the latest one on ``as_of − k`` or up to
    :data:`SLACK_DAYS` days earlier; without one the delta is NULL. Drivers explain the
    ``window``-day change (7 by default), or the 30-day one when ``window=30``.
    """
    params = {"as_of": as_of, "d7": as_of - dt.timedelta(days=7), "d30": as_of - dt.timedelta(days=30),
              "slack": dt.timedelta(days=SLACK_DAYS)}
    df = store.con.execute(_DELTAS_SQL, params).df()
    base = df["signals_7" if window == 7 else "signals_30"]
    drivers = [
        driver_changes(json.loads(now), json.loads(then), top=top) if isinstance(then, str) else []
        for now, then in zip(df["signals"], base)
    ]
    out = df[["account_id", "score", "band", "delta_7", "delta_30"]].copy()
    for col in ("delta_7", "delta_30"):
        out[col] = out[col].round(1)
    out["drivers"] = drivers
    out["drivers_text"] = [drivers_text(d, settings) for d in drivers]
    return out
