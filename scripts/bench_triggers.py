"""Benchmark: trigger evaluation and the renewal timeline for a large synthetic book.

Generates accounts, contract lines, usage, tickets, invoices and NPS directly in a DuckDB
store with SQL, then times (1) the trigger features, (2) rule evaluation, (3) the
180-day renewal timeline, as of one date. Prints seconds per step and peak RSS.

    .venv/bin/python scripts/bench_triggers.py --accounts 100000 --usage-rows 50000000 [--store /tmp/b.duckdb]
"""

from __future__ import annotations

import argparse
import datetime as dt
import resource
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from engine.renewal_settings import RenewalSettings
from engine.renewals import renewal_timeline
from engine.store import Store
from engine.triggers import StoreInputs, TriggerSettings, compute_features
from engine.triggers.evaluate import evaluate_triggers

AS_OF = dt.date(2026, 11, 15)
META = "'files', {id}, now()::TIMESTAMP, false, 'x'"


def generate(store: Store, accounts: int, usage_rows: int) -> None:
    con, a = store.con, f"DATE '{AS_OF}'"
    con.execute(f"""INSERT INTO accounts (account_id, name, segment, licensed_seats, plan_limit, champion_user_id,
        source, source_id, synced_at, deleted, row_hash)
        SELECT 'A' || i, 'Account ' || i, ['smb','mid-market','enterprise'][1 + i % 3], 5 + i % 40,
               CASE WHEN i % 4 = 0 THEN NULL ELSE 2000 + (i % 50) * 100 END, 'A' || i || '-U' || (i % 7),
               {META.format(id="'A' || i")} FROM range({accounts}) t(i)""")
    con.execute(f"""INSERT INTO contract_lines (contract_id, account_id, product, start_date, end_date, mrr, currency,
        status, auto_renew, source, source_id, synced_at, deleted, row_hash)
        SELECT 'C' || i || '-' || k, 'A' || i, 'core',
               CASE WHEN k = 0 THEN {a} - 400 - i % 300 ELSE {a} - 30 - i % 300 END,
               CASE WHEN k = 0 THEN {a} - 31 - i % 300 WHEN i % 5 = 0 THEN NULL ELSE {a} + (i * 7) % 365 END,
               100 + i % 900, CASE WHEN i % 10 = 0 THEN 'EUR' ELSE 'USD' END, 'active', true,
               {META.format(id="'C' || i || '-' || k")}
        FROM (SELECT CAST(range AS INTEGER) AS i FROM range({accounts})) t, range(2) s(k)""")
    con.execute(f"""INSERT INTO usage (account_id, user_id, day, feature, quantity, team,
        source, source_id, synced_at, deleted, row_hash)
        SELECT 'A' || (i % {accounts}), 'A' || (i % {accounts}) || '-U' || ((i // {accounts}) % 9),
               {a} - CAST((i * 7919) % 120 AS INTEGER), 'f' || (i % 10), 1 + i % 13, 't' || ((i // 7) % 3),
               {META.format(id="CAST(i AS VARCHAR)")} FROM range({usage_rows}) t(i)""")
    con.execute(f"""INSERT INTO tickets (ticket_id, account_id, created_at, priority, status,
        source, source_id, synced_at, deleted, row_hash)
        SELECT 'T' || i, 'A' || (i % {accounts}), CAST({a} - CAST((i * 31) % 100 AS INTEGER) AS TIMESTAMP), 'normal',
               'open', {META.format(id="'T' || i")} FROM range({accounts * 3}) t(i)""")
    con.execute(f"""INSERT INTO invoices (invoice_id, account_id, issued_at, due_at, paid_at, amount, currency, status,
        attempt_count, source, source_id, synced_at, deleted, row_hash)
        SELECT 'I' || i, 'A' || (i % {accounts}), {a} - 40 - i % 60, {a} - 10 - i % 60,
               CASE WHEN i % 17 = 0 THEN NULL ELSE {a} - 5 - i % 60 END, 100, 'USD',
               CASE WHEN i % 17 = 0 THEN 'failed' ELSE 'paid' END, 1 + (i % 17 = 0)::INT,
               {META.format(id="'I' || i")} FROM (SELECT CAST(range AS INTEGER) AS i FROM range({accounts * 4})) t""")
    con.execute(f"""INSERT INTO nps (account_id, user_id, day, score, source, source_id, synced_at, deleted, row_hash)
        SELECT 'A' || i, 'u', {a} - i % 60, i % 11, {META.format(id="'N' || i")} FROM (SELECT CAST(range AS INTEGER) AS i FROM range({accounts})) t""")


def timed(label: str, fn):
    t0 = time.perf_counter()
    out = fn()
    print(f"{label:<28} {time.perf_counter() - t0:7.1f} s")
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--accounts", type=int, default=100_000)
    p.add_argument("--usage-rows", type=int, default=50_000_000)
    p.add_argument("--store", type=Path, help="Keep the generated store here and reuse it on the next run.")
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = args.store or Path(tmp) / "bench.duckdb"
        fresh = not path.exists()
        with Store(path) as store:
            if fresh:
                timed(f"generate {args.accounts:,} / {args.usage_rows:,}",
                      lambda: generate(store, args.accounts, args.usage_rows))
            run(store, args.accounts)


def run(store: Store, accounts: int) -> None:
    """Time features, rules and the timeline as of :data:`AS_OF` on random health scores."""
    rng = np.random.default_rng(7)
    ids = [f"A{i}" for i in range(accounts)]
    scores = pd.DataFrame({"account_id": ids, "score": rng.uniform(10, 100, accounts).round(1)})
    scores["band"] = pd.cut(scores["score"], [0, 25, 50, 70, 85, 101], right=False,
                            labels=["Churning", "Critical", "At risk", "Healthy", "Thriving"]).astype(str)
    inputs, ts = StoreInputs.from_store(store), TriggerSettings()
    t0 = time.perf_counter()
    feats = timed("trigger features", lambda: compute_features(inputs, ts, AS_OF))
    fired = timed("evaluate rules", lambda: evaluate_triggers(inputs, scores, None, ts, AS_OF, features=feats))
    tl = timed("renewal timeline (180 d)",
               lambda: renewal_timeline(inputs, scores, fired, RenewalSettings(), AS_OF, features=feats))
    total = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"{'triggers + renewals total':<28} {total:7.1f} s   fired {len(fired):,}, renewals {len(tl.renewals):,}, "
          f"milestones {len(tl.milestones):,}; peak RSS {peak:,.0f} MB")


if __name__ == "__main__":
    main()
