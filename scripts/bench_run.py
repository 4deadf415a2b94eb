#!/usr/bin/env python
"""Benchmark: a full `nrr run` on a large sandbox book, cold and then warm (incremental).

    .venv/bin/python scripts/bench_run.py --accounts 10000 --latency-ms 20

Generates the book (usage and NPS written as files for the ``files`` source, like
`nrr demo`), starts the Salesforce, HubSpot and Stripe emulators in their own process with
``--latency-ms`` added to every request (real rate limits on), creates a project pointed
at them and runs the whole pipeline once (cold). Then 1% of accounts are renamed in every
vendor and the pipeline runs again (warm); with ``--rewrite-usage`` once more after another
1% and a rewritten usage export. Each step's seconds come from the run report
(the same figures the ``runs`` table stores). The project renders the reports a new
project's ``[run.reports]`` lists (``--every-report``: every format, as `nrr demo`). Printed: every step's seconds, the total,
the warm run's total / sync ratio (the target is <= 1.3) and the peak RSS of this process.

``--profile DIR`` writes a pyinstrument HTML profile of the warm run's non-sync steps
(pyinstrument must be installed in the venv; it is not a project dependency).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_sync import RemoteSandbox, change_one_percent  # noqa: E402

from connectors.sandbox.book import generate_book  # noqa: E402
from connectors.sandbox.faults import FaultConfig  # noqa: E402
from nrr.demo import demo_config, demo_credentials  # noqa: E402
from nrr.pipeline import RunReport, run_pipeline  # noqa: E402
from nrr.project import CONFIG_FILE, CREDENTIALS_FILE, ProjectContext, init_project  # noqa: E402
from nrr.steps import pipeline_steps  # noqa: E402


def make_project(directory: Path, sb, book, every_report: bool = False) -> ProjectContext:
    """A project like `nrr demo` writes (sources at the sandbox, usage/NPS files in data/),
    with the default ``[run.reports]`` of a new project unless ``every_report``."""
    init_project(directory)
    write_product_data(book, directory / "data")
    (directory / CONFIG_FILE).write_text(demo_config(sb.urls, sb.ca_path, every_report=every_report))
    creds = directory / CREDENTIALS_FILE
    creds.write_text(demo_credentials(sb.credentials))
    creds.chmod(0o600)
    return ProjectContext(directory)


def write_product_data(book, data: Path) -> None:
    """Usage (180 days) and NPS files for the live accounts: an analytics export does not
    list accounts already deleted in the CRM (the files import rejects unknown accounts)."""
    import pyarrow.compute as pc
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    data.mkdir(parents=True, exist_ok=True)
    live = book.accounts.loc[~book.accounts["deleted"].astype(bool), "account_id"].tolist()
    raw = data / "usage-all.parquet"
    book.write_usage(raw, fmt="parquet", days=180)
    usage = pq.read_table(raw)
    pq.write_table(usage.filter(pc.is_in(usage["account_id"], value_set=pa_strings(live))), data / "usage.parquet")
    raw.unlink()
    nps = book.canonical("nps")
    pacsv.write_csv(nps.filter(pc.is_in(nps["account_id"], value_set=pa_strings(live))), data / "nps.csv")


def rewrite_usage(path: Path) -> None:
    """The same usage rows in another order: new bytes, same content."""
    import pyarrow.parquet as pq

    pq.write_table(pq.read_table(path).sort_by([("day", "descending"), ("account_id", "ascending")]), path)
    print(f"rewrote {path.name} (same rows, newest day first)")


def pa_strings(values: list[str]):
    import pyarrow as pa

    return pa.array(values, pa.string())


def run_once(project: ProjectContext, as_of: dt.date, profile: Path | None = None,
             without: tuple[str, ...] = ()) -> tuple[RunReport, float, dict]:
    cpu: dict[str, float] = {}
    names = [n for n in project.config.run.steps if n not in without]
    steps = [(n, _cpu_timed(n, fn, cpu)) for n, fn in pipeline_steps(names)]
    profiler = None
    if profile is not None:
        from pyinstrument import Profiler

        profiler = Profiler(interval=0.005)
        steps = [(n, _profiled(fn, profiler) if n != "sync" else fn) for n, fn in steps]
    t = time.perf_counter()
    report = run_pipeline(project, steps, as_of=as_of, command="bench")
    wall = time.perf_counter() - t
    if profiler is not None:
        profile.mkdir(parents=True, exist_ok=True)
        (profile / "warm_run.html").write_text(profiler.output_html())
        (profile / "warm_run.txt").write_text(profiler.output_text(unicode=False, color=False, show_all=False))
    return report, wall, cpu


def _cpu_timed(name: str, fn, cpu: dict[str, float]):
    """This process's CPU seconds per step: on a shared machine wall time also counts
    waiting for a core; CPU time does not (the emulators' CPU is their own process's)."""
    def step(state):
        t = time.process_time()
        try:
            return fn(state)
        finally:
            cpu[name] = round(time.process_time() - t, 2)
    return step


def _profiled(fn, profiler):
    def step(state):
        profiler.start()
        try:
            return fn(state)
        finally:
            profiler.stop()
    return step


def print_report(title: str, report: RunReport, wall: float, cpu: dict) -> dict:
    print(f"\n== {title} ({report.status}, run {report.run_id})")
    seconds = {s.name: s.seconds for s in report.steps}
    print(f"  {'step':<10}{'wall s':>10}{'cpu s':>9}")
    for s in report.steps:
        note = f"  [{s.status}: {s.message[:120]}]" if s.status != "ok" else ""
        print(f"  {s.name:<10}{s.seconds:>10.2f}{cpu.get(s.name, float('nan')):>9.2f}{note}")
    total = sum(seconds.values())
    sync = seconds.get("sync") or float("nan")
    print(f"  {'total':<10}{total:>9.2f}s   (wall incl. lock/open: {wall:.2f}s)")
    print(f"  total / sync = {total / sync:.2f}   non-sync steps: {total - sync:.2f}s")
    return {"steps": seconds, "cpu": cpu, "total": round(total, 3), "ratio": round(total / sync, 3),
            "status": report.status}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--accounts", type=int, default=10_000)
    ap.add_argument("--latency-ms", type=int, default=20)
    ap.add_argument("--keep", type=Path, help="Create the project here (kept) instead of a temporary folder.")
    ap.add_argument("--profile", type=Path, help="Write a pyinstrument profile of the warm run here.")
    ap.add_argument("--every-report", action="store_true",
                    help="Render every report format (as `nrr demo` does) instead of a new project's [run.reports].")
    ap.add_argument("--rewrite-usage", action="store_true",
                    help="After the warm run, change another 1%% of accounts, rewrite the usage export (same rows, "
                         "newest day first) as a daily analytics export is, and run once more: that run re-reads "
                         "and compares the export instead of skipping it.")
    ap.add_argument("--without", action="append", default=[], metavar="STEP",
                    help="Leave a step out of both runs (e.g. reports), to time the rest; repeatable.")
    args = ap.parse_args()
    sys.stdout.reconfigure(line_buffering=True)   # progress shows up when redirected to a file
    t = time.perf_counter()
    book = generate_book(accounts=args.accounts)   # the same seed the sandbox process uses
    as_of = book.as_of   # the sandbox's book ends on this day
    print(f"book: {args.accounts:,} accounts in {time.perf_counter() - t:.1f}s")
    figures = {}
    with RemoteSandbox(args.accounts) as sb, tempfile.TemporaryDirectory() as tmp:
        for name in sb.urls:
            sb.set_faults(name, FaultConfig(latency_ms=args.latency_ms))
        project = make_project((args.keep or Path(tmp) / "project").resolve(), sb, book, args.every_report)
        figures["cold"] = print_report("cold run", *run_once(project, as_of, without=tuple(args.without)))
        sb.set_faults("hubspot", FaultConfig())   # setup writes without added latency
        changed = change_one_percent(sb, book)
        for name in sb.urls:
            sb.set_faults(name, FaultConfig(latency_ms=args.latency_ms))
        print(f"\nchanged {changed} accounts in each vendor")
        figures["warm"] = print_report("warm run", *run_once(project, as_of, args.profile, tuple(args.without)))
        if args.rewrite_usage:
            sb.set_faults("hubspot", FaultConfig())
            changed = change_one_percent(sb, book, seed=2)
            for name in sb.urls:
                sb.set_faults(name, FaultConfig(latency_ms=args.latency_ms))
            print(f"\nchanged another {changed} accounts in each vendor")
            rewrite_usage(project.dir / "data" / "usage.parquet")
            figures["warm_usage"] = print_report("warm run, usage export rewritten",
                                                 *run_once(project, as_of, without=tuple(args.without)))
    figures["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    print(f"\npeak RSS (this process: book, client, store, steps): {figures['peak_rss_mb']} MB")
    print(json.dumps(figures))
    return 0 if all(figures[k]["status"] == "ok" for k in ("warm", "warm_usage") if k in figures) else 1


if __name__ == "__main__":
    sys.exit(main())
