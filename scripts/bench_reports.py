"""Benchmark the reports: the board PDF for a generated book and the renewal XLSX for N renewals.

    .venv/bin/python scripts/bench_reports.py --accounts 10000 --renewals 100000 [--store /tmp/rep.duckdb]

``board``: generates a book of ``--accounts`` accounts with SQL (the generator of
scripts/bench_triggers.py: two contract lines per account, a year of history, usage, tickets,
invoices, NPS; the sandbox book generator needs several GB at this size), scores it and
evaluates triggers as of the book's date (not timed), then
times ``render_reports(..., {"board": ["pdf"]})`` end to end (engine queries, charts, WeasyPrint).
``xlsx``: builds a renewal-timeline context of ``--renewals`` renewals with seven milestones
each and times the XLSX writer. Prints seconds per step and peak RSS (ru_maxrss).
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import resource
import tempfile
import time
from decimal import Decimal
from pathlib import Path

from engine.store import Store
from nrr.config import parse

AS_OF = dt.date(2026, 11, 15)
MILESTONES = ((180, "Health score review, risk assessment", "CS Ops"), (120, "QBR with ROI report", "CSM"),
              (90, "Formal renewal conversation + proposal", "CSM"), (60, "Negotiation and contract review", "CSM + Legal"),
              (30, "Final terms, signature push", "CSM"), (14, "Escalation if unsigned", "CS Leadership"),
              (7, "Executive outreach if still unsigned", "VP CS or CRO"))


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def timed(label: str, fn):
    """Wall seconds, CPU seconds of this process (all threads; less sensitive to a busy machine), peak RSS."""
    t0, c0 = time.perf_counter(), time.process_time()
    out = fn()
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    print(f"{label:<34} {wall:7.1f} s wall {cpu:7.1f} s CPU   peak RSS {peak_mb():,.0f} MB", flush=True)
    return out


def load_book(store: Store, accounts: int) -> None:
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from bench_triggers import generate

    generate(store, accounts, usage_rows=accounts * 200)


def prepare(store: Store, config, accounts: int) -> None:
    from engine.health import score_and_store
    from engine.health.inputs import Inputs
    from engine.triggers import evaluate_and_record, load_events

    if store.con.execute("SELECT count(*) FROM accounts").fetchone()[0] == 0:
        timed(f"generate + import {accounts:,} accounts", lambda: load_book(store, accounts))
    scores = timed("score (not part of the report)", lambda: score_and_store(store, config.health, AS_OF))
    if load_events(store, since=AS_OF, until=AS_OF).empty:
        history = scores[["account_id", "day", "score", "band"]]
        timed("triggers (not part of the report)", lambda: evaluate_and_record(
            store, Inputs.from_store(store, "files"), scores[["account_id", "score", "band"]], history,
            config.triggers, AS_OF, renewal_settings=config.renewals))


def bench_board(path: Path, accounts: int, out: Path) -> None:
    from reports.render import render_reports

    config = parse({"project": {"name": "Bench Co"}}, out / "nrr.toml")
    with Store(path) as store:
        prepare(store, config, accounts)
        files = timed("board PDF (render_reports)", lambda: render_reports(
            store, config, AS_OF, {"board": ["pdf"]}, out, quarter="2026-Q3"))
    print(f"  → {files['board'][0]} ({files['board'][0].stat().st_size / 1024:,.0f} KB)")


def synthetic_renewals(n: int):
    """A RenewalsContext of ``n`` renewals spread over 180 days, seven milestones each."""
    from reports.context.common import Brand
    from reports.context.renewals import MilestoneRow, RenewalRow, RenewalsContext, by_month, totals

    rng = random.Random(7)
    rows, ms = [], []
    for i in range(n):
        rd = AS_OF + dt.timedelta(days=rng.randrange(181))
        arr = Decimal(rng.randrange(1_000, 500_000)) / 100 * 12
        rag = rng.choice(("red", "amber", "green", "green"))
        mine = tuple(MilestoneRow(f"A{i}", f"Account {i}", rd, d, rd - dt.timedelta(days=d), a, o,
                                  "upcoming" if rd - dt.timedelta(days=d) > AS_OF else "overdue")
                     for d, a, o in MILESTONES)
        ms.extend(mine)
        rows.append(RenewalRow(f"A{i}", f"Account {i}", f"Owner {i % 40}", "smb", rd, (rd - AS_OF).days, "term",
                               (f"C{i}",), bool(i % 2), arr, (arr * Decimal("0.7")).quantize(Decimal("0.01")), rag,
                               ("health 62 < 70",) if rag != "green" else (), 60.0 + i % 40, "Healthy", -1.5, mine))
    return RenewalsContext(Brand("Bench Co", "#1f4e79"), AS_OF, 180, "USD", rows, ms, by_month(rows), totals(rows), [])


def bench_xlsx(n: int, out: Path) -> None:
    from reports.xlsx import write_renewals_xlsx

    ctx = timed(f"build context ({n:,} renewals)", lambda: synthetic_renewals(n))
    path = timed("renewal XLSX (write_renewals_xlsx)", lambda: write_renewals_xlsx(ctx, out / "renewals.xlsx"))
    print(f"  → {path} ({path.stat().st_size / 1024 / 1024:,.1f} MB, {len(ctx.milestones):,} milestone rows)")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--accounts", type=int, default=10_000)
    p.add_argument("--renewals", type=int, default=100_000)
    p.add_argument("--part", choices=("board", "xlsx", "all"), default="all")
    p.add_argument("--store", type=Path, help="Keep the generated store here and reuse it on the next run.")
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        if args.part in ("board", "all"):
            bench_board(args.store or out / "bench.duckdb", args.accounts, out)
        if args.part in ("xlsx", "all"):
            bench_xlsx(args.renewals, out)


if __name__ == "__main__":
    main()
