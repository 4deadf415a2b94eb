"""`nrr demo`: the whole product on a synthetic company, no credentials needed.

It generates a book of business, starts the Salesforce, HubSpot and Stripe sandbox
emulators in this process, writes a project whose sources point at them, and runs the
same pipeline cron runs (`nrr run`): sync from all three APIs, score, triggers,
renewals, write-back into the sandbox CRMs, reports. With ``--sample-files`` it imports
the bundled 60-account sample files instead of using the sandbox.
"""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from pathlib import Path

import click

from nrr.pipeline import RunReport, run_pipeline
from nrr.project import CONFIG_FILE, CREDENTIALS_FILE, ProjectContext, copy_sample, init_project
from nrr.steps import pipeline_steps

DEMO_COMPANY = "Northwind Analytics (demo)"


def _toml_value(value) -> str:
    return json.dumps(value)


def demo_config(urls: dict[str, str] | None = None, ca_path: Path | None = None, *,
                every_report: bool = True) -> str:
    """nrr.toml for the demo: pointed at the in-process sandbox when ``urls`` are given,
    else reading only the bundled sample files. Every report format is rendered unless
    ``every_report`` is off (then ``[run.reports]`` keeps its defaults, as in a new project)."""
    lines = [
        "# Demo project written by `nrr demo`.",
        "[project]", f"name = {_toml_value(DEMO_COMPANY)}", "",
        "[revenue]", f"source = {_toml_value('salesforce' if urls else 'files')}", 'reporting_currency = "USD"', "",
        "[revenue.fx_rates]", "EUR = 1.08", "GBP = 1.27", "",
        "[sources.files]", "enabled = true", 'path = "data"', "",
    ]
    if every_report:
        lines += ["[run.reports]", 'board = ["pdf", "docx"]', 'playbook = ["pdf", "docx"]',
                  'renewals = ["csv", "xlsx", "ics", "pdf", "docx"]', ""]
    if not urls:
        return "\n".join(lines)
    lines += [
        "[sync]", 'primary = "salesforce"', "",
        "# A fresh sandbox org has no health fields yet: create them on the first run.",
        "[writeback.salesforce]", "create_missing_fields = true", "",
        "[writeback.hubspot]", "create_missing_fields = true", "",
    ]
    for name, url in urls.items():
        lines += [f"[sources.{name}]", "enabled = true", f"base_url = {_toml_value(url)}",
                  f"ca_bundle = {_toml_value(str(ca_path))}", ""]
    return "\n".join(lines)


def demo_credentials(credentials: dict[str, dict]) -> str:
    """credentials.toml with the sandbox's (throw-away) credentials."""
    lines = ["# Sandbox credentials written by `nrr demo`; they only work against the local emulators."]
    for name, values in credentials.items():
        lines.append(f"[{name}]")
        lines += [f"{key} = {_toml_value(str(v))}" for key, v in values.items()]
        lines.append("")
    return "\n".join(lines)


def run_demo(directory: Path, *, accounts: int = 300, seed: int = 7, as_of: dt.date | None = None,
             sample_files: bool = False) -> tuple[ProjectContext, RunReport]:
    directory = directory.expanduser().resolve()
    init_project(directory)
    project = ProjectContext(directory)
    as_of = as_of or dt.datetime.now(dt.timezone.utc).date()
    if sample_files:
        copy_sample(directory / "data")
        (directory / CONFIG_FILE).write_text(demo_config())
        return project, run_pipeline(project, pipeline_steps(project.config.run.steps), as_of=as_of, command="demo")
    from connectors.sandbox.app import Sandbox
    from connectors.sandbox.book import generate_book

    click.echo(f"generating a {accounts}-account book of business (seed {seed}) ...", err=True)
    book = generate_book(accounts=accounts, seed=seed, as_of=as_of)
    _write_product_data(book, directory / "data")
    with Sandbox(book, tls_dir=project.state_dir / "sandbox-tls") as sandbox:
        (directory / CONFIG_FILE).write_text(demo_config(sandbox.urls, sandbox.ca_path))
        creds = directory / CREDENTIALS_FILE
        creds.write_text(demo_credentials(sandbox.credentials))
        creds.chmod(0o600)
        click.echo("sandbox: " + ", ".join(f"{n} {u}" for n, u in sandbox.urls.items()), err=True)
        report = run_pipeline(project, pipeline_steps(project.config.run.steps), as_of=as_of, command="demo")
    return project, report


def _write_product_data(book, data: Path) -> None:
    """Product usage and NPS come from analytics and survey exports, not the CRM or
    billing APIs: the demo writes the book's as files for the `files` source."""
    import pyarrow.csv as pacsv

    data.mkdir(parents=True, exist_ok=True)
    book.write_usage(data / "usage.parquet", fmt="parquet", days=180)
    pacsv.write_csv(book.canonical("nps"), data / "nps.csv")


def headline(project: ProjectContext, as_of: dt.date) -> dict:
    """The few numbers the demo prints: TTM NRR/GRR, accounts by band, renewals at risk."""
    from engine.revenue import Period, compute_metrics

    cfg = project.config
    with project.store(read_only=True) as store:
        contracts = store.records("contracts", sources=[cfg.revenue.source])
        accounts = store.records("accounts")
        month = as_of.replace(day=1) - dt.timedelta(days=1)  # last complete month
        metrics = compute_metrics(contracts, accounts, cfg.revenue.settings(), Period.parse(f"{month:%Y-%m}"))
        bands = dict(store.con.execute(
            "SELECT band, count(*) FROM score_snapshots WHERE day = ? GROUP BY band", [as_of]).fetchall())
    return {"month": f"{month:%Y-%m}", "metrics": metrics, "bands": bands}


def print_headline(project: ProjectContext, report: RunReport) -> None:
    data = headline(project, report.as_of)
    m = data["metrics"]

    def pct(v):
        return "n/a" if v is None else f"{Decimal(str(v)) * 100:.1f}%"

    click.echo(f"\n{DEMO_COMPANY} as of {report.as_of} (revenue source: {project.config.revenue.source})")
    click.echo(f"  ARR {m['currency']} {m['arr_end']:,.0f} · TTM NRR {pct(m['nrr_ttm'])} · TTM GRR {pct(m['grr_ttm'])}"
               f" · logo retention {pct(m['logo_retention_ttm'])} (at {data['month']} month-end)")
    click.echo("  accounts by health band: " + ", ".join(f"{b} {n}" for b, n in sorted(data["bands"].items())))
    for step in report.steps:
        if step.name == "renewals" and step.status == "ok":
            c = step.counts
            click.echo(f"  renewals in the next 180 days: {c.get('renewals', 0)} "
                       f"(red {c.get('red', 0)}, amber {c.get('amber', 0)}, green {c.get('green', 0)})")
    out = project.dir / "out"
    if out.exists():
        click.echo(f"  reports and exports: {out}")
        for path in sorted(out.iterdir()):
            click.echo(f"    {path.name}")
    click.echo(f"  explore with `nrr --project {project.dir} COMMAND`, e.g. status, metrics --period {data['month']},"
               " renewals, playbooks, account NAME, runs")
