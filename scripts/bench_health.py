"""Benchmark the health score on synthetic books generated in DuckDB SQL.

    .venv/bin/python scripts/bench_health.py                 # both parts, each in its own process
    .venv/bin/python scripts/bench_health.py --part score --accounts 100000 --usage-rows 50000000
    .venv/bin/python scripts/bench_health.py --part history --accounts 10000 --days 365

``score``: score every account as of one date (signals + sentiment + scores + snapshot write).
Bar: 100,000 accounts with 50M usage rows in < 60 s.
``history``: rebuild one snapshot per account per day for a year. Bar: 10,000 accounts < 5 min.
Data generation is not timed. Prints seconds and the process's peak RSS.
"""

from __future__ import annotations

import argparse
import datetime as dt
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.health import HealthSettings, Inputs, compute_signals, rebuild_history, score_accounts  # noqa: E402
from engine.health.score import score_wide  # noqa: E402
from engine.health import snapshots  # noqa: E402
from engine.health.snapshots import write_wide  # noqa: E402
from engine.store import Store  # noqa: E402

AS_OF = dt.date(2026, 11, 15)
META = "'bench' AS source, CAST(i AS VARCHAR) AS source_id, TIMESTAMP '2026-11-15' AS synced_at, FALSE AS deleted, '' AS row_hash"
USERS_PER_ACCOUNT = 8

SUBJECTS = ["Export broken", "Question about the roadmap", "Sync is slow", "Invoice question", "Outage this morning",
            "How do I add a teammate", "Love the new dashboard", "Integration failing", "Cannot log in", "Feature idea"]
BODIES = ["The export keeps failing and we are frustrated.", "Curious whether reporting is coming, thanks!",
          "Pages take a minute to load, the team is annoyed.", "Please send a copy of last month's invoice.",
          "Everything was down for two hours, this is unacceptable.", "Where is the setting to invite users?",
          "The new dashboard is great, the team loves it.", "The CRM sync errors out on every run.",
          "Password reset email never arrives.", "It would be nice to schedule reports."]


def _h(expr: str, mod: int) -> str:
    """A deterministic pseudo-random integer 0…mod−1 from an expression."""
    return f"CAST(hash({expr}) % {mod} AS BIGINT)"


def generate(store: Store, accounts: int, usage_rows: int, usage_days: int) -> None:
    con = store.con
    acct = "'A' || lpad(CAST(i AS VARCHAR), 7, '0')"
    con.execute(f"""INSERT INTO accounts SELECT {acct}, 'Account ' || i, NULL,
        ['self-serve','smb','mid-market','enterprise'][1 + {_h('i', 4)}], NULL, NULL, NULL, NULL,
        5 + {_h('i * 3', 40)}, NULL, NULL, NULL, {acct} || '-u0',
        CASE WHEN i % 2 = 0 THEN {acct} || '-u1' END, NULL, NULL, {META} FROM range({accounts}) t(i)""")
    con.execute(f"""INSERT INTO contract_lines SELECT 'L' || i, {acct}, 'core',
        DATE '{AS_OF}' - INTERVAL (400 + {_h('i', 300)}) DAY,
        CASE WHEN i % 10 < 7 THEN DATE '{AS_OF}' + INTERVAL (10 + {_h('i * 5', 350)}) DAY END,
        100 + {_h('i * 7', 5000)}, 'USD', 1, 'active', TRUE, {META} FROM range({accounts}) t(i)""")
    con.execute(f"""INSERT INTO contract_lines SELECT 'X' || i, {acct}, 'addon',
        DATE '{AS_OF}' - INTERVAL 300 DAY, DATE '{AS_OF}' - INTERVAL (30 + {_h('i', 30)}) DAY,
        50, 'USD', 1, 'ended', FALSE, {META} FROM range(0, {accounts}, 5) t(i)""")
    con.execute(f"""INSERT INTO invoices SELECT 'I' || i, 'A' || lpad(CAST(i // 3 AS VARCHAR), 7, '0'),
        DATE '{AS_OF}' - INTERVAL (30 * (i % 3) + 5) DAY, DATE '{AS_OF}' - INTERVAL (30 * (i % 3) - 25) DAY,
        CASE WHEN {_h('i', 20)} > 0 THEN DATE '{AS_OF}' - INTERVAL (30 * (i % 3)) DAY END,
        100, 'USD', 'open', 1 + (i % 2), {META} FROM range({accounts * 3}) t(i)""")
    subjects = "[" + ", ".join(f"'{s}'" for s in SUBJECTS) + "]"
    bodies = "[" + ", ".join("'" + b.replace("'", "''") + "'" for b in BODIES) + "]"
    con.execute(f"""INSERT INTO tickets SELECT 'T' || i, 'A' || lpad(CAST({_h('i', accounts)} AS VARCHAR), 7, '0'),
        TIMESTAMP '{AS_OF}' - INTERVAL ({_h('i * 11', 120 * 24)}) HOUR,
        CASE WHEN i % 4 > 0 THEN TIMESTAMP '{AS_OF}' - INTERVAL ({_h('i * 11', 120 * 24)} - 24) HOUR END,
        ['low','normal','high','urgent'][1 + {_h('i * 13', 4)}], CASE WHEN i % 4 > 0 THEN 'closed' ELSE 'open' END,
        {subjects}[1 + {_h('i * 17', len(SUBJECTS))}],
        {bodies}[1 + {_h('i * 19', len(BODIES))}] || ' Ref ' || i || ', user ' || {_h('i', 997)} || '.',
        CASE WHEN i % 3 = 0 THEN 1 + {_h('i', 5)} END, {META} FROM range({accounts * 2 // 3}) t(i)""")
    con.execute(f"""INSERT INTO nps SELECT 'A' || lpad(CAST({_h('i', accounts)} AS VARCHAR), 7, '0'), 'u' || i,
        DATE '{AS_OF}' - INTERVAL ({_h('i * 3', 180)}) DAY, {_h('i * 7', 11)}, NULL, {META}
        FROM range({accounts // 2}) t(i)""")
    per_day = max(usage_rows // usage_days, 1)
    a = _h("i * 2654435761", accounts)
    con.execute(f"""INSERT INTO usage SELECT 'A' || lpad(CAST({a} AS VARCHAR), 7, '0'),
        'A' || lpad(CAST({a} AS VARCHAR), 7, '0') || '-u' || {_h('i * 40503', USERS_PER_ACCOUNT)},
        DATE '{AS_OF}' - INTERVAL ({usage_days - 1} - i // {per_day}) DAY, 'f' || {_h('i * 97', 12)},
        1 + {_h('i * 31', 20)}, NULL, {META} FROM range({per_day * usage_days}) t(i)""")
    con.execute("CHECKPOINT")


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def cpu_seconds() -> float:
    """User + system CPU of this process (all DuckDB threads); wall time suffers on a shared box."""
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def _generated(path: Path, accounts: int, usage_rows: int, usage_days: int) -> Store:
    fresh = not path.exists()
    store = Store(path)
    if fresh:
        t0 = time.perf_counter()
        generate(store, accounts, usage_rows, usage_days=usage_days)
        print(f"generated {accounts:,} accounts, {usage_rows:,} usage rows in {time.perf_counter() - t0:.1f} s")
    return store


def bench_score(path: Path, accounts: int, usage_rows: int) -> None:
    """The `nrr score` path: signals → scores → snapshot rows (JSON built in DuckDB)."""
    with _generated(path, accounts, usage_rows, 90) as store:
        settings = HealthSettings()
        c0, t0 = cpu_seconds(), time.perf_counter()
        signals = compute_signals(Inputs.from_store(store, "bench"), settings, AS_OF).to_pandas()
        t1 = time.perf_counter()
        wide = score_wide(signals, settings)
        t2 = time.perf_counter()
        write_wide(store, wide, AS_OF, settings)
        t3, c3 = time.perf_counter(), cpu_seconds()
        public = score_accounts(signals, settings, AS_OF)
        t4 = time.perf_counter()
    print(f"score: {len(wide):,} accounts as of {AS_OF}: signals {t1 - t0:.1f} s, scores {t2 - t1:.1f} s, "
          f"snapshot write {t3 - t2:.1f} s, total {t3 - t0:.1f} s wall, {c3 - c0:.1f} s CPU; "
          f"(score_accounts with per-signal dicts: {t4 - t3:.1f} s more); peak RSS {peak_rss_mb():,.0f} MB")
    assert len(public) == len(wide)


def bench_history(path: Path, accounts: int, days: int) -> None:
    rows_per_account_day = 5.5  # the density of 50M rows / 100k accounts / 90 days
    usage_days = days + 90
    usage_rows = int(accounts * usage_days * rows_per_account_day)
    with _generated(path, accounts, usage_rows, usage_days) as store:
        c0, t0 = cpu_seconds(), time.perf_counter()
        n = rebuild_history(store, HealthSettings(), AS_OF - dt.timedelta(days=days - 1), AS_OF, revenue_source="bench")
        elapsed = time.perf_counter() - t0
    print(f"history: {days} days × {accounts:,} accounts = {n:,} snapshots in {elapsed:.1f} s "
          f"({elapsed / days:.2f} s/day), {cpu_seconds() - c0:.1f} s CPU; peak RSS {peak_rss_mb():,.0f} MB")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--part", choices=["score", "history", "both"], default="both")
    ap.add_argument("--accounts", type=int)
    ap.add_argument("--usage-rows", type=int, default=50_000_000)
    ap.add_argument("--days", type=int, default=365)
    ap.add_argument("--dir", type=Path, help="Where to put the bench store (default: a temp dir).")
    ap.add_argument("--chunk-rows", type=int, help="Account-days per rebuild chunk (engine.health.snapshots.CHUNK_ROWS).")
    ap.add_argument("--store", type=Path, help="Keep the generated store at this path; reuse it if it exists.")
    args = ap.parse_args()
    if args.part == "both":
        for part in ("score", "history"):
            subprocess.run([sys.executable, __file__, "--part", part, *(["--dir", str(args.dir)] if args.dir else [])],
                           check=True)
        return
    if args.chunk_rows:
        snapshots.CHUNK_ROWS = args.chunk_rows
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        path = args.store or Path(tmp) / "bench.duckdb"
        if args.part == "score":
            bench_score(path, args.accounts or 100_000, args.usage_rows)
        else:
            bench_history(path, args.accounts or 10_000, args.days)


if __name__ == "__main__":
    main()
