"""`nrr writeback` and `nrr crm setup`: thin wrappers over connectors.writeback and crm_setup.

``project_account_fields`` (the desired CRM values from the project's stored engine
results) and ``project_writeback`` are also what the `nrr run` write-back step calls.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid

import click
import pandas as pd
from rich.console import Console
from rich.table import Table

from connectors.crm_setup import open_crm, setup
from connectors.writeback import TargetReport, targets, write_back
from engine.account_fields import account_fields
from engine.store import Store, utcnow
from nrr.errors import NrrError
from nrr.project import ProjectContext, load_context

log = logging.getLogger("nrr.writeback")
DATE = click.DateTime(formats=["%Y-%m-%d"])


def register(group: click.Group) -> None:
    group.add_command(writeback_cmd)
    group.add_command(crm_group)


def _snapshot(store: Store, as_of: dt.date) -> pd.DataFrame:
    snap = store.con.execute("SELECT account_id, score, band, coverage, computed_at FROM score_snapshots "
                             "WHERE day = ? ORDER BY account_id", [as_of]).df()
    if snap.empty:
        raise NrrError(f"no health scores stored for {as_of}: run `nrr score --as-of {as_of}` first")
    return snap


def project_account_fields(pctx: ProjectContext, store: Store, as_of: dt.date, timeline=None) -> pd.DataFrame:
    """Desired CRM values per account from the stored snapshot, deltas, open triggers,
    renewal timeline (computed unless given) and playbooks. Without contract lines the
    renewal fields stay empty rather than failing the write-back."""
    from engine.health.drivers import deltas
    from engine.triggers import open_triggers
    from nrr.commands.triggers import project_playbooks, project_timeline

    cfg, snap = pctx.config, _snapshot(store, as_of)
    score_deltas, open_events = deltas(store, as_of, cfg.health), open_triggers(store, as_of, cfg.triggers)
    plays = None
    try:
        timeline = timeline or project_timeline(pctx, store, as_of, cfg.renewals.horizon_days)
        plays = project_playbooks(pctx, store, as_of, timeline, score_deltas=score_deltas, open_events=open_events)
    except NrrError as exc:
        log.warning("write-back without renewals and playbooks: %s", exc)
    return account_fields(snap, score_deltas, timeline.renewals if timeline else None, open_events, plays,
                          text_length=cfg.writeback.text_length)


def project_writeback(pctx: ProjectContext, store: Store, as_of: dt.date, run_id: str, *, dry_run: bool = False,
                      only: str | None = None, failed_sources=(), timeline=None,
                      values_read: dict[str, int] | None = None) -> list[TargetReport]:
    cfg = pctx.config
    if not only and not targets(cfg.sources, cfg.writeback):
        raise NrrError("no write-back target: enable [sources.salesforce] or [sources.hubspot] in nrr.toml "
                       "(and keep [writeback.<crm>] enabled)")
    desired = project_account_fields(pctx, store, as_of, timeline)
    return write_back(store, cfg.sources, cfg.writeback, pctx.credentials, desired, run_id, dry_run=dry_run,
                      only=only, failed_sources=failed_sources, values_read=values_read)


@click.command("writeback")
@click.option("--dry-run", is_flag=True, help="Print the plan (account, field, old → new); write nothing.")
@click.option("--as-of", "as_of", type=DATE, help="Scores of this day (default: today).")
@click.option("--target", type=click.Choice(["salesforce", "hubspot"]), help="Only this CRM.")
@click.option("--limit", default=50, show_default=True, help="Changes listed per target with --dry-run (0 = all).")
@click.pass_context
def writeback_cmd(ctx: click.Context, dry_run: bool, as_of, target: str | None, limit: int) -> None:
    """Write health, renewal and playbook fields to the CRM (only changed values).

    \b
    Examples:
      nrr writeback --dry-run
      nrr writeback --as-of 2026-11-15 --target hubspot
    """
    pctx = load_context(ctx)
    day = as_of.date() if as_of else dt.date.today()
    run_id = f"writeback-{utcnow():%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:6]}"
    with pctx.store() as store:
        reports = project_writeback(pctx, store, day, run_id, dry_run=dry_run, only=target)
    console = Console()
    for r in reports:
        print_target(console, r, dry_run, limit)
    ctx.exit(1 if any(r.error or (r.result and r.result.records_failed) for r in reports) else 0)


def print_target(console: Console, r: TargetReport, dry_run: bool, limit: int) -> None:
    if r.skipped or r.error:
        console.print(f"[red]{r.target}:[/red] {r.skipped or r.error}", highlight=False)
        return
    changes = r.plan.changes
    records = len(r.plan.records())
    console.print(f"{r.target}: {len(changes)} field change(s) on {records} record(s); {r.read} record(s) read",
                  highlight=False)
    if dry_run and changes:
        limit = limit or len(changes)
        t = Table("account", "field", "old → new")
        for c in changes[:limit]:
            t.add_row(c.account_id, c.crm_field, f"{c.old if c.old is not None else '∅'} → "
                                                 f"{c.new if c.new is not None else '∅'}")
        console.print(t)
        if len(changes) > limit:
            console.print(f"... and {len(changes) - limit} more (use --limit)")
    if r.result:
        res = r.result
        console.print(f"  written {res.records_written} record(s) in {res.calls} call(s); failed "
                      f"{res.records_failed} (retried next run)", highlight=False)
        for err in res.errors[:10]:
            console.print(f"  [red]failed[/red] {err}", highlight=False)


@click.group("crm")
def crm_group() -> None:
    """The CRM health fields that `nrr writeback` fills (see `nrr crm setup`)."""


@crm_group.command("setup")
@click.option("--target", type=click.Choice(["salesforce", "hubspot"]), help="Only this CRM.")
@click.option("--check", is_flag=True, help="Only check; print the fields to add instead of creating them.")
@click.pass_context
def crm_setup_cmd(ctx: click.Context, target: str | None, check: bool) -> None:
    """Create the health fields the write-back maps to (safe to run again).

    HubSpot: the `nrr_engine` company property group and any missing property.
    Salesforce: missing Account custom fields through the Tooling API when the user may
    customise the org, else the exact fields to add (API name, type, length).

    \b
    Examples:
      nrr crm setup
      nrr crm setup --target salesforce --check
    """
    pctx = load_context(ctx)
    cfg = pctx.config
    names = [target] if target else targets(cfg.sources, cfg.writeback)
    if not names:
        raise NrrError("no write-back target: enable [sources.salesforce] or [sources.hubspot] in nrr.toml")
    incomplete = False
    for name in names:
        crm = open_crm(name, cfg.sources, cfg.writeback, pctx.credentials(name))
        try:
            res = setup(crm, cfg.writeback.target(name), cfg.writeback.text_length, create=not check)
        finally:
            crm.close()
        click.echo(f"{name}: {len(res.present)} present, {len(res.created)} created"
                   + (f": {', '.join(res.created)}" if res.created else ""))
        if res.to_add:
            incomplete = True
            click.echo(f"{name}: {res.message or 'add these fields'}:")
            for line in res.to_add:
                click.echo(f"  {line}")
    ctx.exit(1 if incomplete else 0)
