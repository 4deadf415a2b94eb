"""Project commands: init, import, status, config show, demo."""

from __future__ import annotations

import json
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from connectors.files import import_dir
from nrr import config as config_mod
from nrr import credentials as creds_mod
from nrr.project import init_project, load_context

IMPORT_HELP = """Import CSV/Parquet files from DIR (the `files` source).

\b
Reads any subset of these files (.csv or .parquet), one row per record:
  accounts.csv       account_id*, name*, domain, segment, industry, owner,
                     customer_since, icp_tier, licensed_seats, plan, plan_limit
  contracts.csv      contract_id*, account_id*, product, start_date*, end_date,
                     mrr*, currency*, quantity, status, auto_renew
                     (or amount + interval month|quarter|year|week instead of mrr;
                     end_date = inclusive last day of service, empty = evergreen)
  invoices.csv       invoice_id*, account_id*, issued_at*, due_at, paid_at,
                     amount*, currency*, status, attempt_count
  tickets.csv        ticket_id*, account_id*, created_at*, closed_at, priority,
                     status, subject, body, csat
  usage.csv          account_id*, user_id*, day*, feature*, quantity*, team
  nps.csv            account_id*, user_id, day*, score*, comment
  churn_reasons.csv  account_id*, day*, reason*
(* = required). Dates are YYYY-MM-DD, timestamps ISO 8601, money plain decimals.

All files are checked before anything is stored; any problem is reported with
file, row, column and value and nothing from the import is stored. Each file is
a full snapshot: re-importing is a no-op, changed rows update, removed rows are
marked deleted.

\b
Example:
  nrr import ./exports
"""


def register(group: click.Group) -> None:
    group.add_command(init)
    group.add_command(import_cmd)
    group.add_command(status)
    group.add_command(config_group)
    group.add_command(demo)


@click.command()
@click.argument("directory", default=".", type=click.Path(file_okay=False, path_type=Path))
@click.option("--force", is_flag=True, help="Overwrite existing nrr.toml / credentials.toml / .gitignore.")
def init(directory: Path, force: bool) -> None:
    """Create a project in DIRECTORY (default: here): nrr.toml, credentials.toml, .gitignore.

    \b
    Example:
      nrr init acme-retention
    """
    written = init_project(directory, force=force)
    for path in written:
        click.echo(f"wrote {path}")
    if not written:
        click.echo(f"{directory} is already a project (use --force to rewrite its files)")
    click.echo("next: edit nrr.toml and credentials.toml, then `nrr import DIR` or `nrr sync`")


@click.command("import", help=IMPORT_HELP)
@click.argument("directory", type=click.Path(path_type=Path))
@click.option("--max-errors", default=20, show_default=True, help="Stop listing problems after this many.")
@click.pass_context
def import_cmd(ctx: click.Context, directory: Path, max_errors: int) -> None:
    project = load_context(ctx)
    with project.store() as store:
        report = import_dir(store, directory, project.config.revenue.settings(), max_errors=max_errors)
    if report.unchanged:
        click.echo(f"{directory}: the same files as the last import (SHA-256 match); nothing to store")
        return
    table = Table("file", "new", "updated", "unchanged", "deleted", title=f"imported {directory}")
    for kind, res in report.results.items():
        table.add_row(report.files[kind].name, str(res.new), str(res.updated), str(res.unchanged), str(res.deleted))
    Console().print(table)


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
@click.pass_context
def status(ctx: click.Context, as_json: bool) -> None:
    """What is in the store: records per table and source, last sync, last run.

    \b
    Example:
      nrr status --json
    """
    project = load_context(ctx)
    if not project.store_path.exists():
        click.echo(f"project {project.dir}: store is empty (run `nrr import` or `nrr sync`)")
        return
    with project.store(read_only=True) as store:
        counts, syncs, run = store.counts(), store.last_sync(), store.last_run()
        version = store.schema_version
    if as_json:
        click.echo(json.dumps({
            "project": str(project.dir), "schema": version,
            "records": [{"table": t, "source": s, "live": live, "deleted": dead} for t, s, live, dead in counts],
            "last_sync": {s: str(v) for s, v in syncs.items()},
            "last_run": None if run is None else {"run_id": run[0], "command": run[1], "started_at": str(run[2]), "status": run[4]},
        }, indent=2))
        return
    console = Console()
    console.print(f"project [bold]{project.dir}[/] · store {project.store_path} · schema {version}")
    table = Table("table", "source", "live", "deleted", title="records")
    for t, s, live, dead in counts:
        table.add_row(t, s, f"{live:,}", f"{dead:,}")
    console.print(table if counts else "no records yet")
    for source, when in syncs.items():
        console.print(f"last sync {source}: {when} UTC")
    console.print("last run: " + ("none" if run is None else f"{run[1]} {run[4]} at {run[2]} UTC ({run[0]})"))


@click.group("config")
def config_group() -> None:
    """Inspect the project's configuration."""


@config_group.command("show")
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
@click.pass_context
def config_show(ctx: click.Context, as_json: bool) -> None:
    """Print effective settings (defaults filled in) and credentials with secrets masked.

    \b
    Example:
      nrr config show
    """
    project = load_context(ctx)
    data = config_mod.dump(project.config)
    data["credentials"] = creds_mod.masked(creds_mod.load_raw(project.credentials_path))
    warning = project.credentials_warning()
    if warning:
        click.secho(f"warning: {warning}", fg="yellow", err=True)
    if as_json:
        click.echo(json.dumps(data, indent=2, default=str))
        return
    for section, values in data.items():
        _print_section(section, values)


def _print_section(prefix: str, values: object) -> None:
    if isinstance(values, dict):
        scalars = {k: v for k, v in values.items() if not isinstance(v, dict)}
        if scalars:
            click.echo(f"[{prefix}]")
            for k, v in scalars.items():
                click.echo(f"{k} = {json.dumps(v, default=str)}")
            click.echo()
        for k, v in values.items():
            if isinstance(v, dict):
                _print_section(f"{prefix}.{k}", v)


DEMO_HELP = """Run the whole product on a synthetic company — no credentials needed.

\b
Generates a book of business, starts local Salesforce, HubSpot and Stripe API
emulators in this process, creates a project in --dir whose sources point at them,
and runs the same pipeline as `nrr run`: sync, score, triggers, renewals, write-back
into the sandbox CRMs and the reports. Prints a summary and where the outputs are.
With --sample-files it imports the bundled 60-account sample files instead.

\b
Examples:
  nrr demo
  nrr demo --dir /tmp/nrr-demo --accounts 1000
"""


@click.command(help=DEMO_HELP)
@click.option("--dir", "directory", default="nrr-demo", show_default=True, type=click.Path(path_type=Path),
              help="Where to create the demo project.")
@click.option("--accounts", default=300, show_default=True, type=click.IntRange(min=10), help="Size of the synthetic book.")
@click.option("--seed", default=7, show_default=True, help="Seed of the synthetic book.")
@click.option("--as-of", "as_of", type=click.DateTime(formats=["%Y-%m-%d"]), help="Run as of this day (default: today, UTC).")
@click.option("--sample-files", is_flag=True, help="Import the bundled sample files instead of using the sandbox APIs.")
@click.pass_context
def demo(ctx: click.Context, directory: Path, accounts: int, seed: int, as_of, sample_files: bool) -> None:
    from nrr import logs
    from nrr.commands.run import print_summary
    from nrr.demo import print_headline, run_demo

    logs.configure(directory.expanduser().resolve() / ".nrr" / "logs")
    project, report = run_demo(directory, accounts=accounts, seed=seed,
                               as_of=as_of.date() if as_of else None, sample_files=sample_files)
    print_summary(report)
    if report.status == "ok":
        print_headline(project, report)
    ctx.exit(report.exit_code)
