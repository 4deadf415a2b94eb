"""`nrr report board|playbook|renewals`: thin wrappers over :func:`reports.render.render_reports`."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import click

from nrr.project import ProjectContext, load_context

DATE = click.DateTime(formats=["%Y-%m-%d"])


def register(group: click.Group) -> None:
    group.add_command(report)


def output_dir(pctx: ProjectContext, out: str | None) -> Path:
    """--out, else [reports].output_dir under the project (default ``out/``)."""
    if out:
        return Path(out).expanduser().resolve()
    return pctx.dir / pctx.config.reports.output_dir


def _formats(value: str) -> list[str]:
    return [f.strip().lower() for f in value.split(",") if f.strip()]


def _render(ctx: click.Context, name: str, formats: str, as_of, out: str | None, **opts) -> None:
    from reports.render import render_reports

    pctx = load_context(ctx)
    day = as_of.date() if as_of else dt.datetime.now(dt.timezone.utc).date()
    with pctx.store() as store:
        written = render_reports(store, pctx.config, day, {name: _formats(formats)}, output_dir(pctx, out), **opts)
    for path in written.get(name, []):
        click.echo(str(path))


def _common(fn):
    fn = click.option("--out", metavar="DIR", help="Output folder (default: [reports].output_dir, i.e. out/).")(fn)
    fn = click.option("--as-of", "as_of", type=DATE, help="Health, triggers and renewals as of this day (default: today).")(fn)
    return fn


@click.group()
def report() -> None:
    """Render the board report, the playbook report or the renewal timeline."""


@report.command()
@click.option("--quarter", help="Quarter such as 2026-Q3 (default: the last full quarter before --as-of).")
@click.option("--format", "formats", default="pdf", show_default=True, help="Comma-separated: pdf, docx.")
@_common
@click.pass_context
def board(ctx: click.Context, quarter: str | None, formats: str, as_of, out: str | None) -> None:
    """Quarterly board report: KPIs, trends, waterfall, cohorts, benchmarks, health, outlook, diagnosis.

    \b
    Examples:
      nrr report board --quarter 2026-Q3 --format pdf,docx
      nrr report board --as-of 2026-11-15 --out /tmp/board
    """
    from engine.revenue import Period

    try:
        period = Period.parse(quarter) if quarter else None
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--quarter") from None
    if period is not None and period.grain != "quarter":
        raise click.BadParameter(f"{quarter} is not a quarter; use e.g. 2026-Q3", param_hint="--quarter")
    _render(ctx, "board", formats, as_of, out, quarter=period)


@report.command()
@click.option("--owner", metavar="NAME", help="Only this owner's accounts (as named in the CRM).")
@click.option("--format", "formats", default="pdf", show_default=True, help="Comma-separated: pdf, docx.")
@_common
@click.pass_context
def playbook(ctx: click.Context, owner: str | None, formats: str, as_of, out: str | None) -> None:
    """Playbook report: accounts grouped by playbook, with a section per owner.

    \b
    Examples:
      nrr report playbook --format pdf,docx
      nrr report playbook --owner "Mei Tanaka"
    """
    _render(ctx, "playbook", formats, as_of, out, owner=owner)


@report.command()
@click.option("--days", type=click.IntRange(1, 3660), help="Horizon in days (default: [run].renewal_days, 180).")
@click.option("--format", "formats", default="csv,xlsx,ics", show_default=True,
              help="Comma-separated: csv, xlsx, ics, pdf, docx.")
@_common
@click.pass_context
def renewals(ctx: click.Context, days: int | None, formats: str, as_of, out: str | None) -> None:
    """Renewal timeline: one row per renewal with R/A/G, expected ARR and milestones.

    \b
    Examples:
      nrr report renewals --days 180 --format csv,xlsx,ics,pdf,docx
    """
    _render(ctx, "renewals", formats, as_of, out, days=days)
