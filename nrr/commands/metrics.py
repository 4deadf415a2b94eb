"""Revenue commands: `nrr metrics` and `nrr cohorts`.

Both read the contract lines of the configured revenue source (``[revenue] source`` in
nrr.toml) and the reporting currency and fixed FX rates from ``[revenue]``.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import click
from rich import box
from rich.console import Console
from rich.table import Table

from engine.revenue import GROUPINGS, Period, cohort_matrix, compute_metrics, to_json
from nrr.errors import NrrError
from nrr.project import load_context

DATE = click.DateTime(formats=["%Y-%m-%d"])
WATERFALL_ROWS = ("start", "new", "reactivation", "expansion", "contraction", "churn", "end")
RATIO_ROWS = (("NRR (TTM)", "nrr_ttm"), ("GRR (TTM)", "grr_ttm"), ("Logo retention (TTM)", "logo_retention_ttm"),
              ("NRR (period)", "nrr_period"), ("GRR (period)", "grr_period"))


def register(group: click.Group) -> None:
    group.add_command(metrics)
    group.add_command(cohorts)


def _today() -> dt.date:
    return dt.datetime.now(dt.timezone.utc).date()


def _period(text: str | None) -> Period:
    if text is None:
        return Period.containing(_today()).shift(-1)
    try:
        return Period.parse(text)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--period") from None


def _tables(ctx: click.Context):
    """(store, contracts, accounts) for the configured revenue source; the caller closes the store."""
    project = load_context(ctx)
    source = project.config.revenue.source
    store = project.store(read_only=True)
    contracts = store.records("contracts", [source])
    if contracts.count().execute() == 0:
        store.close()
        raise NrrError(f"no contract lines from the revenue source '{source}': run `nrr import DIR` or `nrr sync`, "
                       f"or set [revenue] source in nrr.toml")
    return store, contracts, store.records("accounts"), project.config.revenue.settings()


@click.command()
@click.option("--period", help="2026-Q3, 2026-09 or 2026 (default: the last complete quarter).")
@click.option("--by", type=click.Choice(GROUPINGS), help="Break every figure down by this account attribute.")
@click.option("--json", "as_json", is_flag=True, help="Print the stable JSON shape instead of a table.")
@click.pass_context
def metrics(ctx: click.Context, period: str | None, by: str | None, as_json: bool) -> None:
    """MRR waterfall, NRR/GRR/logo retention (TTM and period), quick ratio and account counts.

    TTM figures are measured at the period's last month-end; money is in the
    reporting currency, ratios are fractions (1.07 = 107%).

    \b
    Examples:
      nrr metrics --period 2026-Q3
      nrr metrics --period 2026 --by segment --json
    """
    p = _period(period)
    store, contracts, accounts, settings = _tables(ctx)
    with store:
        result = compute_metrics(contracts, accounts, settings, p, by=by)
    if as_json:
        click.echo(to_json(result))
        return
    console = Console()
    needed = 24 + 14 * (1 + len(result["by"]))  # label column, then one money column per group
    console = console if console.width >= needed else Console(width=needed)
    console.print(_metrics_table(result))


def _money(value: Decimal) -> str:
    return f"{value:,.2f}"


def _pct(value: Decimal | None) -> str:
    return "–" if value is None else f"{value * 100:.1f}%"


def _metrics_table(result: dict[str, Any]) -> Table:
    columns = {"Total": result, **result["by"]}
    table = Table(title=f"Revenue {result['period']} ({result['currency']})")
    table.add_column("", no_wrap=True)
    for name in columns:
        table.add_column(name, justify="right", no_wrap=True)
    for key in WATERFALL_ROWS:
        label = {"start": "MRR start", "end": "MRR end"}.get(key, f"  {key}")
        table.add_row(label, *(_money(c["waterfall"][key]) for c in columns.values()))
    table.add_row("ARR end", *(_money(c["arr_end"]) for c in columns.values()))
    for label, key in RATIO_ROWS:
        table.add_row(label, *(_pct(c[key]) for c in columns.values()))
    table.add_row("Quick ratio", *("–" if c["quick_ratio"] is None else f"{c['quick_ratio']:.2f}" for c in columns.values()))
    for key in ("start", "new", "reactivated", "churned", "end"):
        table.add_row(f"Accounts {key}", *(str(c["accounts"][key]) for c in columns.values()))
    return table


@click.command()
@click.option("--grain", type=click.Choice(["month", "quarter"]), default="month", show_default=True,
              help="Group accounts by the month or quarter of their first MRR.")
@click.option("--as-of", "as_of", type=DATE, help="Measure up to the last month-end on or before this day (default: today).")
@click.option("--show", type=click.Choice(["nrr", "logo"]), default="nrr", show_default=True,
              help="Table shows net revenue retention or logo retention.")
@click.option("--months", "max_months", default=12, show_default=True, help="Months since start shown in the table.")
@click.option("--json", "as_json", is_flag=True, help="Print the whole matrix as JSON.")
@click.pass_context
def cohorts(ctx: click.Context, grain: str, as_of: dt.datetime | None, show: str, max_months: int, as_json: bool) -> None:
    """Cohort matrix: retention by months since each cohort's first MRR.

    \b
    Examples:
      nrr cohorts --grain quarter
      nrr cohorts --grain month --as-of 2026-09-30 --json
    """
    day = as_of.date() if as_of else _today()
    store, contracts, _, settings = _tables(ctx)
    with store:
        matrix = cohort_matrix(contracts, settings, day, grain)
    data = matrix.to_dict()
    if as_json:
        click.echo(to_json(data))
        return
    console = Console()
    needed = 30 + 7 * (max_months + 1)  # room for the natural width; the table does not expand
    console = console if console.width >= needed else Console(width=needed)
    console.print(_cohort_table(data, "nrr" if show == "nrr" else "logo_retention", grain, max_months))


def _cohort_table(data: dict[str, Any], key: str, grain: str, max_months: int) -> Table:
    """Cohorts as rows, months since start as columns, values in whole percent."""
    kind = "Net revenue" if key == "nrr" else "Logo"
    table = Table(title=f"{kind} retention (%) by {grain} cohort, as of {data['as_of']}", box=box.SIMPLE_HEAD,
                  padding=(0, 1), pad_edge=False)
    table.add_column("cohort", no_wrap=True, min_width=7)
    table.add_column("accts", justify="right", no_wrap=True, min_width=5)
    for month in range(max_months + 1):
        table.add_column(f"m{month}", justify="right", no_wrap=True, min_width=4)
    for c in data["cohorts"]:
        cells = ["" if v is None else f"{v * 100:.0f}" for v in c[key][: max_months + 1]]
        table.add_row(c["cohort"], str(c["accounts"]), *cells)
    return table
