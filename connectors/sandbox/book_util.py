"""Small vectorised helpers shared by the book modules: ids, calendar, timestamps."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

DAY = np.timedelta64(1, "D")


def ids(prefix: str, numbers: np.ndarray, width: int = 6) -> np.ndarray:
    """``prefix`` + zero-padded numbers, e.g. ``ids("ACC-", [1]) -> ["ACC-000001"]``."""
    s = pd.Series(np.asarray(numbers, dtype=np.int64)).astype(str).str.zfill(width)
    return (prefix + s).to_numpy(dtype=object)


def month_starts(as_of: dt.date, window: int, extra: int) -> np.ndarray:
    """First day of each simulated month: ``window`` months ending with as_of's month, then ``extra``."""
    first = np.datetime64(as_of, "M") - (window - 1)
    return (first + np.arange(window + extra + 14)).astype("datetime64[D]")


def event_dates(starts: np.ndarray, month: np.ndarray, anchor: np.ndarray) -> np.ndarray:
    """The anchor day (1–28) of simulated month ``month``."""
    return starts[month] + (anchor - 1).astype("timedelta64[D]")


def to_ns(days: np.ndarray) -> np.ndarray:
    return np.asarray(days).astype("datetime64[ns]")


def stamps(rng, day: np.ndarray, spread_days: np.ndarray | int = 0) -> np.ndarray:
    """A business-hours instant on ``day`` plus up to ``spread_days`` days (UTC, ns)."""
    n = len(day)
    base = np.asarray(day).astype("datetime64[s]")
    offset = (rng.integers(0, np.maximum(1, np.asarray(spread_days) + 1), n) * 86400
              + rng.integers(8 * 3600, 18 * 3600, n))
    return (base + offset.astype("timedelta64[s]")).astype("datetime64[ns]")


def updated_and_deleted(rng, created: np.ndarray, as_of: dt.date, recent: float, deleted: float):
    """``updated_at`` between created and as_of (a ``recent`` share in the last 3 days) and
    a ``deleted`` share flagged with ``deleted_at`` in the last 7 days."""
    n = len(created)
    end = np.datetime64(as_of, "s") + np.timedelta64(18 * 3600, "s")
    c = created.astype("datetime64[s]")
    span = np.maximum(0, (end - c).astype(np.int64))
    upd = c + (rng.random(n) * span).astype("timedelta64[s]")
    fresh = rng.random(n) < recent
    recent_at = end - rng.integers(0, 3 * 86400, n).astype("timedelta64[s]")
    upd = np.where(fresh & (recent_at > c), recent_at, upd)
    gone = rng.random(n) < deleted
    del_at = end - rng.integers(0, 7 * 86400, n).astype("timedelta64[s]")
    gone &= del_at > c
    del_at = np.where(gone, del_at, np.datetime64("NaT"))
    upd = np.where(gone, np.maximum(upd, del_at), upd)
    return upd.astype("datetime64[ns]"), gone, del_at.astype("datetime64[ns]")


def pick(rng, choices: np.ndarray, n: int, p: np.ndarray | None = None) -> np.ndarray:
    return np.asarray(choices, dtype=object)[rng.choice(len(choices), n, p=p)]
