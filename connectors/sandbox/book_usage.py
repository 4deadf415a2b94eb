"""Daily product usage (account, user, day, feature, quantity, team), generated in chunks.

Per account-day an *activity factor* ``f`` scales everything: 1 normally; for an account
that churns (in the past window or latently after ``as_of``) it falls linearly from 1 to
0.2 over the last 30–120 days before the churn day. A user is active on a day with
probability ``p_user × f`` (weekends ×0.2) once they have joined; an active user touches
each feature with probability ``reach × (0.3 + 0.7 f)``, so breadth shrinks with ``f``.
Quantities are sized so an account's monthly total ≈ ``utilisation × plan_limit``;
expanding accounts ramp utilisation from 0.7 to 0.97 of the limit and add users during
the window. Chunks are seeded from (book seed, chunk number), so output is deterministic.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from connectors.sandbox import book_catalog as cat

CELLS_PER_CHUNK = 3_000_000
MAX_USERS = 150
ROWS_PER_ACTIVE_DAY = float(cat.FEATURE_REACH.sum())
SCHEMA = pa.schema([("account_id", pa.string()), ("user_id", pa.string()), ("day", pa.date32()),
                    ("feature", pa.string()), ("quantity", pa.float64()), ("team", pa.string())])


def usage_frame(book, days: int) -> pd.DataFrame:
    tables = list(usage_chunks(book, days))
    return pa.concat_tables(tables).to_pandas() if tables else SCHEMA.empty_table().to_pandas()


def write_usage(book, path: Path, fmt: str, days: int) -> int:
    if fmt not in ("parquet", "csv"):
        raise ValueError(f"usage format must be 'parquet' or 'csv', got {fmt!r}")
    path.parent.mkdir(parents=True, exist_ok=True)
    rows = 0
    writer = pq.ParquetWriter(path, SCHEMA, compression="zstd") if fmt == "parquet" else pacsv.CSVWriter(path, SCHEMA)
    with writer:
        for table in usage_chunks(book, days):
            writer.write_table(table)
            rows += table.num_rows
    return rows


def _account_plan(book, days: int) -> pd.DataFrame:
    """Per account: service days inside the window, users, churn decline, expansion."""
    acc, prof = book.accounts, book.profile
    first = np.datetime64(book.as_of, "D") - (days - 1)
    day0 = lambda col: ((col.to_numpy().astype("datetime64[D]") - first).astype("int64"))  # noqa: E731
    since = day0(acc["customer_since"])
    churned = acc["churned_on"].to_numpy().astype("datetime64[D]")
    end = np.where(np.isnat(churned), days, (churned - first).astype("int64"))
    churn_day = np.where(np.isnat(churned), prof["future_churn"].to_numpy().astype("datetime64[D]"), churned)
    c = np.where(np.isnat(churn_day), 10**6, (churn_day - first).astype("int64"))
    upsell = book.contracts[(book.contracts["change"] == "upsell")
                            & (book.contracts["start_date"] > pd.Timestamp(book.as_of) - pd.Timedelta(days=365))]
    h = prof["health"].to_numpy()
    expander = acc["account_id"].isin(upsell["account_id"]).to_numpy() | (h > 1.0)
    users = np.clip(np.rint(acc["licensed_seats"].to_numpy() * np.clip(0.6 + 0.15 * h, 0.3, 0.95)), 1, MAX_USERS)
    rng = np.random.default_rng([book.seed, days, 1])
    return pd.DataFrame({
        "start": np.clip(since, 0, days), "end": np.clip(end, 0, days), "churn": c,
        "decline": rng.integers(30, 121, len(acc)), "users": users.astype(np.int64),
        "p_user": np.clip(0.5 + 0.1 * h, 0.15, 0.85), "expander": expander,
        "util": np.clip(0.55 + 0.1 * h, 0.25, 0.8), "limit": acc["plan_limit"].to_numpy(),
    }).query("end > start")


def usage_chunks(book, days: int) -> Iterator[pa.Table]:
    if days < 1:
        raise ValueError(f"days must be at least 1, got {days}")
    plan = _account_plan(book, days)
    chunk_of = (np.cumsum(plan["users"].to_numpy() * days) - 1) // CELLS_PER_CHUNK
    cuts = np.flatnonzero(np.diff(chunk_of)) + 1
    for i, (lo, hi) in enumerate(zip(np.r_[0, cuts], np.r_[cuts, len(plan)])):
        if hi > lo:
            yield _chunk(book, plan.iloc[lo:hi], days, np.random.default_rng([book.seed, days, 2, i]))


def _in_service(book, p: pd.DataFrame, days: int) -> np.ndarray:
    """(account, day) → a contract line covers the day; gaps between churn and
    reactivation have no usage. Built from +1/−1 marks at each line's start/end."""
    first = pd.Timestamp(book.as_of) - pd.Timedelta(days=days - 1)
    ids = book.accounts["account_id"].to_numpy()[p.index.to_numpy()]
    c = book.contracts[book.contracts["account_id"].isin(ids)]
    row = pd.Index(ids).get_indexer(c["account_id"])
    s = np.clip((c["start_date"] - first).dt.days.to_numpy(), 0, days)
    e = np.clip((c["end_date"].fillna(pd.Timestamp(book.as_of)) - first).dt.days.to_numpy() + 1, 0, days)
    marks = np.zeros((len(p), days + 1), np.int64)
    np.add.at(marks, (row, s), 1)
    np.add.at(marks, (row, e), -1)
    return np.cumsum(marks, axis=1)[:, :days] > 0


def _factor(book, p: pd.DataFrame, days: int) -> np.ndarray:
    """Activity factor per (account, day): 1, falling to 0.2 across the pre-churn decline."""
    d = np.arange(days)[None, :]
    c, L = p["churn"].to_numpy()[:, None], p["decline"].to_numpy()[:, None]
    f = np.clip(1 - 0.8 * (d - (c - L)) / L, 0.2, 1.0)
    return np.where(_in_service(book, p, days), f, 0.0)


def _chunk(book, p: pd.DataFrame, days: int, rng) -> pa.Table:
    n_users = p["users"].to_numpy()
    ua = np.repeat(np.arange(len(p)), n_users)
    uk = np.arange(len(ua)) - np.repeat(np.cumsum(n_users) - n_users, n_users)
    late = p["expander"].to_numpy()[ua] & (uk >= np.ceil(n_users[ua] * 0.75))
    join = np.where(late, rng.integers(0, days, len(ua)), 0)
    weekday = (np.datetime64(book.as_of, "D") - (days - 1) + np.arange(days)).astype("datetime64[D]").view("int64")
    weekend = np.where(((weekday + 3) % 7) >= 5, 0.2, 1.0)
    f = _factor(book, p, days)
    prob = p["p_user"].to_numpy()[ua, None] * f[ua] * weekend[None, :] * (np.arange(days)[None, :] >= join[:, None])
    u_idx, d_idx = np.nonzero(rng.random(prob.shape) < prob)
    a_idx = ua[u_idx]
    breadth = 0.3 + 0.7 * f[a_idx, d_idx]
    hits = rng.random((len(u_idx), len(cat.FEATURES))) < cat.FEATURE_REACH[None, :] * breadth[:, None]
    r, feat = np.nonzero(hits)
    return _table(book, p, rng, a_idx[r], uk[u_idx][r], d_idx[r], feat, days, f)


def _table(book, p, rng, a, k, d, feat, days, f) -> pa.Table:
    ramp = np.where(p["expander"].to_numpy()[a], 0.7 + 0.27 * d / max(days - 1, 1), p["util"].to_numpy()[a])
    per_day_rows = np.maximum(p["users"].to_numpy()[a] * p["p_user"].to_numpy()[a] * (5 / 7 + 0.2 * 2 / 7) * ROWS_PER_ACTIVE_DAY, 1)
    mean = p["limit"].to_numpy()[a] * ramp * np.maximum(f[a, d], 0.2) / 30.0 / per_day_rows
    qty = np.maximum(1, np.rint(rng.gamma(4.0, mean / 4.0)))
    acct_ids = book.accounts["account_id"].to_numpy()[p.index.to_numpy()[a]]
    user = _user_ids(book, p.index.to_numpy()[a], acct_ids, k)
    day = (np.datetime64(book.as_of, "D") - (days - 1) + d)
    return pa.table({
        "account_id": pa.array(acct_ids, pa.string()), "user_id": pa.array(user, pa.string()),
        "day": pa.array(day, pa.date32()), "feature": pa.array(cat.FEATURES.astype(object)[feat], pa.string()),
        "quantity": pa.array(qty.astype(np.float64)), "team": pa.array(cat.TEAMS.astype(object)[k % len(cat.TEAMS)], pa.string()),
    }, schema=SCHEMA)


def _user_ids(book, acct_rows: np.ndarray, acct_ids: np.ndarray, k: np.ndarray) -> np.ndarray:
    """Product user ids are emails: user k of an account is its k-th contact (the
    champion first, then the sponsor), else ``userNNN@<account domain>``."""
    c = book.contacts
    slot = c["account_id"] + "#" + (c.groupby("account_id").cumcount() + 1).astype(str)
    by_slot = pd.Series(c["user_id"].to_numpy(), index=slot.to_numpy())
    wanted = acct_ids + "#" + pd.Series(k + 1).astype(str).to_numpy(dtype=object)
    found = by_slot.reindex(wanted).to_numpy(dtype=object)
    domain = book.accounts["domain"].to_numpy()[acct_rows]
    fallback = "user" + pd.Series(k + 1).astype(str).str.zfill(3).to_numpy(dtype=object) + "@" + domain
    return np.where(pd.isna(found), fallback, found)
