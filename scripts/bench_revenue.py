"""Benchmark the revenue engine on a synthetic book: all metrics and cohorts for one quarter.

    .venv/bin/python scripts/bench_revenue.py --accounts 100000 [--quarter 2026-Q3] [--keep DIR]

Contract lines are generated directly in DuckDB SQL (vectorised, deterministic): each
account starts in one of the first 12 months of a 3-year window and renews in
3-month amendments (≈10 lines per account) whose MRR drifts up or down; ~20% of
accounts churn early, ~3% come back after a gap, ~15% bill in EUR or GBP. Generation
runs in a child process so the reported peak RSS is the engine's alone.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.revenue import Period, churn_timing, cohort_matrix, compute_metrics  # noqa: E402
from engine.settings import RevenueSettings  # noqa: E402
from engine.store import Store  # noqa: E402

WINDOW_START = "2023-10-01"

GENERATE_SQL = """
CREATE OR REPLACE TEMP TABLE _acct AS
SELECT i,
       'A' || lpad(i::VARCHAR, 7, '0') AS account_id,
       hash(i, 'seed') AS h,
       (hash(i, 'start') % 12)::INT AS start_m,
       CASE WHEN hash(i, 'churn') % 100 < 20 THEN 2 + (hash(i, 'life') % 7)::INT ELSE 10 END AS chunks,
       hash(i, 'react') % 100 < 3 AS reactivates,
       CASE WHEN hash(i, 'cur') % 100 < 10 THEN 'EUR' WHEN hash(i, 'cur') % 100 < 15 THEN 'GBP' ELSE 'USD' END AS currency,
       (['self-serve', 'smb', 'mid-market', 'enterprise'])[1 + (hash(i, 'seg') % 4)::INT] AS segment,
       (50 + hash(i, 'price') % 2000)::DECIMAL(20, 6) * (1 + (hash(i, 'seg') % 4))::DECIMAL(20, 6) AS base_mrr
FROM range({n}) t(i);

INSERT INTO accounts (account_id, name, segment, industry, owner, icp_tier,
                      source, source_id, synced_at, deleted, row_hash)
SELECT account_id, 'Account ' || i, segment,
       (['software', 'fintech', 'health', 'retail', 'education'])[1 + (hash(i, 'ind') % 5)::INT],
       'csm' || (hash(i, 'own') % 40)::VARCHAR,
       (['tier1', 'tier2', 'tier3'])[1 + (hash(i, 'icp') % 3)::INT],
       'files', account_id, TIMESTAMP '2026-10-01', FALSE, md5(account_id)
FROM _acct;

INSERT INTO contract_lines (contract_id, account_id, product, start_date, end_date, mrr, currency,
                            source, source_id, synced_at, deleted, row_hash)
SELECT contract_id, account_id, 'platform', start_date,
       CASE WHEN j = chunks - 1 AND chunks = 10 THEN NULL ELSE end_date END,
       mrr, currency, 'files', contract_id, TIMESTAMP '2026-10-01', FALSE, md5(contract_id)
FROM (
    SELECT a.*, j,
           a.account_id || '-' || j::VARCHAR AS contract_id,
           (DATE '{start}' + to_months(a.start_m + 3 * j + CASE WHEN a.reactivates AND j >= 5 THEN 2 ELSE 0 END)
             + to_days((a.h % 20)::INT))::DATE AS start_date,
           (DATE '{start}' + to_months(a.start_m + 3 * j + 3 + CASE WHEN a.reactivates AND j >= 4 THEN 2 ELSE 0 END)
             + to_days((a.h % 20)::INT - 1))::DATE AS end_date,
           round(a.base_mrr * (1 + ((hash(a.i, j) % 9)::INT - 3) * 0.04 * least(j, 4)), 2)::DECIMAL(20, 6) AS mrr
    FROM _acct a, range(10) r(j)
    WHERE j < a.chunks
) lines;
"""


def generate(path: Path, n: int) -> None:
    """Write a store with n accounts and their contract lines (runs in a child process)."""
    with Store(path) as store:
        with store.transaction() as con:
            for statement in GENERATE_SQL.format(n=n, start=WINDOW_START).split(";\n"):
                if statement.strip():
                    con.execute(statement)


def run(path: Path, quarter: Period, as_of) -> dict[str, tuple[float, float]]:
    """(wall seconds, CPU seconds of all threads) for each computation over the store at ``path``."""
    timings: dict[str, tuple[float, float]] = {}
    settings = RevenueSettings()
    with Store(path, read_only=True) as store:
        contracts = store.records("contracts", ["files"])
        accounts = store.records("accounts", ["files"])
        steps = {
            "metrics": lambda: compute_metrics(contracts, accounts, settings, quarter),
            "metrics by segment": lambda: compute_metrics(contracts, accounts, settings, quarter, by="segment"),
            "metrics by arr_band": lambda: compute_metrics(contracts, accounts, settings, quarter, by="arr_band"),
            "churn timing": lambda: churn_timing(contracts, settings, quarter),
            "cohorts (month)": lambda: cohort_matrix(contracts, settings, as_of, "month"),
        }
        for name, step in steps.items():
            t0, c0 = time.perf_counter(), time.process_time()
            result = step()
            timings[name] = (time.perf_counter() - t0, time.process_time() - c0)
            if name == "metrics":
                print(f"  nrr_ttm={result['nrr_ttm']} grr_ttm={result['grr_ttm']} arr_end={result['arr_end']}")
        timings["lines"] = (contracts.count().execute(), 0.0)
    return timings


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--accounts", type=int, default=100_000)
    ap.add_argument("--quarter", default="2026-Q3")
    ap.add_argument("--keep", type=Path, help="directory to keep the generated store in")
    ap.add_argument("--generate-only", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.generate_only:
        generate(args.generate_only, args.accounts)
        return
    quarter = Period.parse(args.quarter)
    workdir = args.keep or Path(tempfile.mkdtemp(prefix="bench_revenue_"))
    path = workdir / "bench.duckdb"
    if not path.exists():
        t0 = time.perf_counter()
        subprocess.run([sys.executable, __file__, "--accounts", str(args.accounts), "--generate-only", str(path)], check=True)
        print(f"generated {args.accounts:,} accounts in {time.perf_counter() - t0:.1f} s")
    load_before = os.getloadavg()[0]
    t0, c0 = time.perf_counter(), time.process_time()
    timings = run(path, quarter, quarter.end)
    total, cpu = time.perf_counter() - t0, time.process_time() - c0
    lines = int(timings.pop("lines")[0])
    for name, (seconds, cpu_seconds) in timings.items():
        print(f"  {name:<22} {seconds:7.2f} s wall {cpu_seconds:7.2f} s cpu")
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"accounts={args.accounts:,} lines={lines:,} quarter={quarter} total={total:.2f} s wall, {cpu:.2f} s cpu "
          f"peak_rss={peak_mb:.0f} MB load_avg={load_before:.1f}->{os.getloadavg()[0]:.1f} (2 cores shared)")


if __name__ == "__main__":
    main()
