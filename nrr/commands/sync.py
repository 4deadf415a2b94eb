"""`nrr sync`, `nrr doctor` and `nrr accounts unmatched`: thin wrappers over connectors."""

from __future__ import annotations

import sys

import click
from rich.console import Console
from rich.table import Table

from connectors.doctor import doctor
from connectors.identity import unmatched
from connectors.sync import MODULES, SyncReport, sync_sources
from connectors.writeback import values_riders
from connectors.writeback import targets
from engine.store import utcnow
from nrr import logs
from nrr.project import load_context
from nrr.runlock import RunLock

SYNC_HELP = """Pull accounts, contract lines, invoices and tickets from the enabled sources.

\b
The first run (and --full) reads everything; later runs read only what changed
(Salesforce SystemModstamp, HubSpot hs_lastmodifieddate, Stripe events). Each page is
committed with its cursor, so an interrupted sync resumes where it stopped. A source
that fails (bad credential, missing field, spent daily quota) is reported and the others
still sync; the exit code is then 1.

\b
Examples:
  nrr sync
  nrr sync --source stripe --full
"""


def register(group: click.Group) -> None:
    group.add_command(sync_cmd)
    group.add_command(doctor_cmd)
    group.add_command(accounts_group)


@click.command("sync", help=SYNC_HELP)
@click.option("--source", type=click.Choice(list(MODULES)), help="Sync only this source.")
@click.option("--full", is_flag=True, help="Re-read everything instead of only what changed.")
@click.option("--quiet", "-q", is_flag=True, help="No progress bars (they are off anyway when not on a terminal).")
@click.pass_context
def sync_cmd(ctx: click.Context, source: str | None, full: bool, quiet: bool) -> None:
    project = load_context(ctx)
    cfg = project.config
    logs.configure(project.state_dir / "logs")
    lock = RunLock(project.state_dir, "sync", utcnow().isoformat(timespec="seconds"))
    with lock, project.store() as store:
        report = sync_sources(store, cfg.sources, _credentials(project), only=source, full=full,
                              progress=not quiet, sync_settings=cfg.sections.get("sync"), project_dir=project.dir,
                              current_values=values_riders(store, cfg.sources, cfg.writeback))
    print_report(report, Console(file=sys.stdout, width=max(Console().width, 110)))
    if not report.sources:
        click.echo("No source is enabled: set enabled = true under [sources.<name>] in nrr.toml.")
    ctx.exit(0 if report.ok else 1)


def _credentials(project):
    """Resolve one source's credentials when it is synced, and register the values with
    the log redactor (a last line of defence; the connectors never log them)."""
    def resolve(source: str) -> dict:
        values = project.credentials(source)
        logs.REDACTOR.add(values.values())
        return values
    return resolve


def print_report(report: SyncReport, console: Console) -> None:
    """One row per stream, then each failed source's reason and fix."""
    table = Table(title=f"sync {report.run_id}")
    for col in ("source", "stream", "new", "updated", "deleted", "skipped", "pages", "calls", "retries", "seconds"):
        table.add_column(col, justify="left" if col in ("source", "stream") else "right")
    for name, res in report.sources.items():
        for i, (stream, st) in enumerate(res.streams.items()):
            extra = (str(res.calls), str(res.retries), f"{res.seconds:.1f}") if i == 0 else ("", "", "")
            table.add_row(name if i == 0 else "", stream, str(st.new), str(st.updated), str(st.deleted),
                          str(st.skipped), str(st.pages), *extra)
        if not res.streams:
            table.add_row(name, "-", "", "", "", "", "", str(res.calls), str(res.retries), f"{res.seconds:.1f}")
    console.print(table)
    for name, res in report.sources.items():
        if not res.ok:
            console.print(f"[red]{name} failed:[/red] {res.error}", highlight=False)


@click.command("doctor")
@click.option("--source", type=click.Choice(list(MODULES)), help="Check only this source.")
@click.pass_context
def doctor_cmd(ctx: click.Context, source: str | None) -> None:
    """Check each enabled source: credentials, objects, mapped fields, write-back fields, API budget.

    Every failed check prints the exact fix. Exit code 1 when any check fails.

    \b
    Example:
      nrr doctor --source hubspot
    """
    project = load_context(ctx)
    cfg = project.config
    fields = {name: list(cfg.writeback.target(name).mapped().values()) for name in targets(cfg.sources, cfg.writeback)}
    checks = doctor(cfg.sources, project.credentials, only=source, writeback_fields=fields)
    console = Console(file=sys.stdout)
    for c in checks:
        mark = "[green]ok[/green]  " if c.ok else "[red]FAIL[/red]"
        console.print(f"{mark} {c.source:<10} {c.name:<24} {c.detail}", highlight=False)
        if c.fix:
            console.print(f"       fix: {c.fix}", highlight=False)
    ctx.exit(0 if all(c.ok for c in checks) else 1)


@click.group("accounts")
def accounts_group() -> None:
    """Account identity across sources."""


@accounts_group.command("unmatched")
@click.pass_context
def unmatched_cmd(ctx: click.Context) -> None:
    """List billing customers and CRM records not linked to exactly one account, by revenue.

    Fix one by adding a row `source,source_id,account_id` to the links file
    ([sync] links_file, default links.csv in the project) and running `nrr sync` again.

    \b
    Example:
      nrr accounts unmatched
      echo "stripe,cus_Q2x81,ACC-000042" >> links.csv && nrr sync --source stripe
    """
    project = load_context(ctx)
    with project.store(read_only=True) as store:
        rows = unmatched(store)
    if not rows:
        click.echo("Every synced customer is linked to an account.")
        return
    table = Table()
    for col in ("source", "source_id", "status", "name", "domain", "MRR", "candidates"):
        table.add_column(col, justify="right" if col == "MRR" else "left")
    for r in rows:
        table.add_row(r["source"], r["source_id"], r["method"], r["name"] or "", r["domain"] or "",
                      f"{r['mrr']:,.2f} {r['currency'] or ''}".strip(), r["candidates"] or "")
    Console(file=sys.stdout).print(table)
