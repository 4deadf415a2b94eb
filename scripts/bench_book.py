#!/usr/bin/env python3
"""Benchmark the sandbox book generator: generation time, usage time, peak RSS.

    .venv/bin/python scripts/bench_book.py --accounts 100000 --usage-accounts 2000 --days 180

Usage is timed separately (on its own smaller book) because it is the large table.
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from connectors.sandbox.book import TABLES, generate_book  # noqa: E402


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--accounts", type=int, default=100_000)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--usage-accounts", type=int, default=2_000)
    ap.add_argument("--days", type=int, default=180)
    args = ap.parse_args()

    t0 = time.perf_counter()
    book = generate_book(args.accounts, seed=args.seed)
    gen = time.perf_counter() - t0
    rows = {t: len(book.table(t)) for t in TABLES}
    print(f"generate_book(accounts={args.accounts}): {gen:.1f} s, peak RSS {peak_rss_mb():.0f} MB")
    print("  rows: " + ", ".join(f"{t}={n:,}" for t, n in rows.items()))
    del book

    small = generate_book(args.usage_accounts, seed=args.seed)
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        n = small.write_usage(Path(tmp) / "usage.parquet", days=args.days)
        took = time.perf_counter() - t0
    print(f"write_usage(accounts={args.usage_accounts}, days={args.days}): {n:,} rows in {took:.1f} s "
          f"({n / max(took, 1e-9):,.0f} rows/s), peak RSS {peak_rss_mb():.0f} MB")


if __name__ == "__main__":
    main()
