#!/usr/bin/env python
"""Benchmark: re-importing a project's files source after its usage export was rewritten.

    .venv/bin/python scripts/bench_run.py --accounts 10000 --keep /tmp/nrr-10k   # makes the project
    .venv/bin/python scripts/bench_import.py /tmp/nrr-10k --order-by user_id

Rewrites ``data/usage.parquet`` with the same rows in another order (``--order-by`` a usage
column, then newest day first), as a daily analytics export arrives: new bytes, same
content, so the import reads, validates and compares every row instead of skipping the
unchanged file. Prints the import's seconds, what it changed (nothing, for the same rows)
and the peak RSS of this process. The project's ``[project] memory_limit`` applies.
Use a different ``--order-by`` on each run: the same order writes the same bytes, which
the import skips.
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from connectors.files import import_dir  # noqa: E402
from nrr.project import ProjectContext  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("project", type=Path, help="A project directory whose data/ holds usage.parquet.")
    ap.add_argument("--order-by", default="user_id", choices=["account_id", "user_id", "feature", "team"])
    args = ap.parse_args()
    import pyarrow.parquet as pq

    project = ProjectContext(args.project.resolve())
    path = project.dir / "data" / "usage.parquet"
    usage = pq.read_table(path)
    pq.write_table(usage.sort_by([(args.order_by, "ascending"), ("day", "descending")]), path)
    print(f"rewrote {path} ({usage.num_rows:,} rows, ordered by {args.order_by})")
    del usage
    with project.store() as store:
        t = time.perf_counter()
        report = import_dir(store, project.dir / "data", project.config.revenue.settings())
        seconds = time.perf_counter() - t
    if report.unchanged:
        print("the files were imported unchanged before (same bytes): choose another --order-by")
        return 1
    changed = {k: f"new {r.new:,}, updated {r.updated:,}, deleted {r.deleted:,}" for k, r in report.results.items()}
    print(f"import: {seconds:.1f} s  {changed}")
    print(f"peak RSS: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:,.0f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
