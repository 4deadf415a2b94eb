"""`nrr run` (the scheduled job) and `nrr runs` (its history)."""

from __future__ import annotations

import datetime as dt
import json
import sys

import click
from rich.console import Console
from rich.table import Table

from nrr import logs
from nrr.pipeline import RunReport, recent_runs, run_pipeline
from nrr.project import load_context
from nrr.steps import pipeline_steps

RUN_HELP = """Sync all sources, score, evaluate triggers and renewals, write back to the CRM
and render the reports listed under [run.reports] — the job cron calls every morning.

\b
One run at a time per project: a second run exits at once naming the run that holds
the lock (a crashed run never leaves it held). A failing source does not stop the
others; write-back skips accounts whose inputs did not sync. Logs go to
<project>/.nrr/logs/nrr.log (rotated). Exit codes: 0 all ok, 1 something failed
(the summary says what), 2 configuration or credential error.

\b
Examples:
  nrr run
  nrr --project /srv/nrr/acme run --json-logs --quiet
  nrr run --as-of 2026-11-15 --steps score,triggers,renewals
"""


def register(group: click.Group) -> None:
    group.add_command(run)
    group.add_command(runs)


@click.command(help=RUN_HELP)
@click.option("--as-of", "as_of", type=click.DateTime(formats=["%Y-%m-%d"]), help="Score as of this day (default: today, UTC).")
@click.option("--steps", help="Comma-separated subset of steps (default: [run] steps in nrr.toml).")
@click.option("--json-logs", is_flag=True, help="Write the log file as JSON lines (for log shippers).")
@click.option("--json", "as_json", is_flag=True, help="Print the run summary as JSON.")
@click.option("--quiet", "-q", is_flag=True, help="Print only failures.")
@click.pass_context
def run(ctx: click.Context, as_of, steps: str | None, json_logs: bool, as_json: bool, quiet: bool) -> None:
    project = load_context(ctx)
    settings = project.config.run
    names = [s.strip() for s in steps.split(",")] if steps else settings.steps
    day = as_of.date() if as_of else dt.datetime.now(dt.timezone.utc).date()
    logs.configure(project.state_dir / "logs", json_logs=json_logs)
    warning = project.credentials_warning()
    if warning:
        click.secho(f"warning: {warning}", fg="yellow", err=True)
    report = run_pipeline(project, pipeline_steps(names), as_of=day)
    if as_json:
        click.echo(json.dumps({"run_id": report.run_id, **report.summary()}, indent=2, default=str))
    elif not quiet or report.status != "ok":
        print_summary(report)
    ctx.exit(report.exit_code)


def print_summary(report: RunReport) -> None:
    console = Console(file=sys.stdout, width=max(Console().width, 110))
    table = Table("step", "status", "seconds", "counts", title=f"{report.run_id} · as of {report.as_of} · {report.status}")
    for s in report.steps:
        colour = {"ok": "green", "failed": "red"}.get(s.status, "yellow")
        table.add_row(s.name, f"[{colour}]{s.status}[/]", f"{s.seconds:.1f}", _counts(s.counts))
    console.print(table)
    for s in report.steps:
        if s.status == "failed":
            console.print(f"[red]{s.name} failed:[/] {s.message}", highlight=False)


def _counts(counts: dict) -> str:
    parts = []
    for key, value in counts.items():
        if isinstance(value, dict):
            inner = ", ".join(f"{k} {v}" for k, v in value.items() if not isinstance(v, dict))
            parts.append(f"{key}: {inner}")
        else:
            parts.append(f"{key} {value}")
    return "; ".join(parts)


@click.command()
@click.option("--limit", default=20, show_default=True, help="How many runs to list.")
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
@click.pass_context
def runs(ctx: click.Context, limit: int, as_json: bool) -> None:
    """Recent runs (nrr run and nrr sync) with status and what failed.

    \b
    Example:
      nrr runs --limit 5
    """
    project = load_context(ctx)
    with project.store(read_only=True) as store:
        rows = recent_runs(store, limit)
    if as_json:
        click.echo(json.dumps(rows, indent=2, default=str))
        return
    table = Table("run", "command", "started (UTC)", "seconds", "status", "steps / failures")
    for r in rows:
        seconds = f"{(r['finished_at'] - r['started_at']).total_seconds():.0f}" if r["finished_at"] else "-"
        detail = "; ".join(r["failed"]) or " ".join(f"{k}:{v}" for k, v in r["steps"].items())
        table.add_row(r["run_id"], r["command"], str(r["started_at"]), seconds, r["status"], detail)
    Console().print(table if rows else "no runs yet")
