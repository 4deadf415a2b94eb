"""Health commands: `nrr score`, `nrr account`, `nrr backtest`.

Settings come from ``[health]`` in nrr.toml (:class:`engine.health.settings.HealthSettings`);
revenue records from the source named in ``[revenue] source``.
"""

from __future__ import annotations

import datetime as dt
import json

import click
import pandas as pd
from rich.console import Console
from rich.table import Table

from engine.health import Inputs, account_health, rebuild_history, run_backtest, score_and_store
from engine.health.settings import BAND_NAMES
from nrr.project import load_context

DATE = click.DateTime(formats=["%Y-%m-%d"])


def _day(value: dt.datetime | None, default: dt.date | None = None) -> dt.date:
    if value is not None:
        return value.date()
    return default or dt.datetime.now(dt.timezone.utc).date()


def register(group: click.Group) -> None:
    group.add_command(score)
    group.add_command(account)
    group.add_command(backtest)


@click.command()
@click.option("--as-of", "as_of", type=DATE, help="Score as of this day (default: today, UTC).")
@click.option("--since", type=DATE, help="Rebuild daily snapshots from this day to --as-of (after a config change).")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@click.pass_context
def score(ctx: click.Context, as_of: dt.datetime | None, since: dt.datetime | None, as_json: bool) -> None:
    """Score every active account and store one snapshot per account per day.

    \b
    Examples:
      nrr score
      nrr score --as-of 2026-11-15 --since 2026-08-01
    """
    project, day = load_context(ctx), _day(as_of)
    settings, source = project.config.health, project.config.revenue.source
    with project.store() as store:
        if since is not None:
            rows = rebuild_history(store, settings, since.date(), day, revenue_source=source)
            summary = {"since": since.date().isoformat(), "as_of": day.isoformat(), "snapshots": rows}
        else:
            scores = score_and_store(store, settings, day, revenue_source=source)
            bands = scores["band"].value_counts()
            summary = {"as_of": day.isoformat(), "accounts": len(scores),
                       "bands": {b: int(bands.get(b, 0)) for b in BAND_NAMES},
                       "mean_score": _round(scores["score"].mean()), "mean_coverage": _round(scores["coverage"].mean(), 3)}
    if as_json:
        click.echo(json.dumps(summary, indent=2))
    elif since is not None:
        click.echo(f"rebuilt {summary['snapshots']:,} snapshots from {summary['since']} to {summary['as_of']}")
    else:
        table = Table("band", "accounts", title=f"health as of {day} · {summary['accounts']:,} accounts stored")
        for band, n in summary["bands"].items():
            table.add_row(band, f"{n:,}")
        Console().print(table)
        click.echo(f"mean score {summary['mean_score']} · mean data coverage {summary['mean_coverage']}")


def _round(v: float, nd: int = 1) -> float | None:
    return None if v != v else round(float(v), nd)


def _fmt(v: float | None, nd: int = 2) -> str:
    return "—" if v is None else f"{v:,.{nd}f}".rstrip("0").rstrip(".") if nd else f"{v:,.0f}"


@click.command()
@click.argument("key", metavar="NAME-OR-ID")
@click.option("--as-of", "as_of", type=DATE, help="As of this day (default: today, UTC).")
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
@click.pass_context
def account(ctx: click.Context, key: str, as_of: dt.datetime | None, as_json: bool) -> None:
    """One account: score, band, trend, every signal, drivers, triggers, renewal and playbook.

    \b
    Example:
      nrr account "Brightpath Labs"
      nrr account ACC-000042 --json
    """
    project, day = load_context(ctx), _day(as_of)
    with project.store() as store:
        view = account_health(store, project.config.health, key, day, revenue_source=project.config.revenue.source)
        plan = account_plan(store, project, view, day)
    if as_json:
        click.echo(json.dumps({**view.to_dict(), **plan}, indent=2, default=str))
        return
    _print_account(view, plan)


def _one_account(records: Inputs, account_id: str) -> Inputs:
    """The inputs restricted to one account (a table the store lacks stays None)."""
    def only(t):
        return None if t is None else t.filter(t.account_id == account_id)
    return Inputs(**{f: only(getattr(records, f)) for f in ("accounts", "contracts", "invoices", "tickets", "usage", "nps")})


def account_plan(store, project, view, day: dt.date) -> dict:
    """Open triggers, upcoming renewals and the playbook for one account (issue 6, part 2 APIs)."""
    from engine.playbooks import assign_playbooks
    from engine.renewals import renewal_timeline
    from engine.triggers.store_events import open_triggers

    cfg = project.config
    trig = open_triggers(store, day, cfg.triggers)
    trig = trig[trig["account_id"] == view.account_id] if len(trig) else trig
    scores = pd.DataFrame([{"account_id": view.account_id, "score": view.score, "band": view.band}])
    records = _one_account(Inputs.from_store(store, cfg.revenue.source), view.account_id)
    renewals = renewal_timeline(records, scores, trig, cfg.renewals, day, revenue=cfg.revenue.settings(),
                                trigger_settings=cfg.triggers) if records.contracts is not None else None
    moves = pd.DataFrame([{"account_id": view.account_id, "delta_7": view.delta_7, "delta_30": view.delta_30,
                           "drivers_text": view.drivers_text}])
    plays = assign_playbooks(scores, moves, trig, renewals, None, cfg.playbooks, day)
    return {
        "triggers": [f"{r.trigger} ({r.kind}, {r.severity}) since {r.day}" for r in trig.itertuples()],
        "renewals": [] if renewals is None else [
            f"{r['renewal_date']} · ARR {r['arr']} · {r['rag']}" for r in renewals.renewals.to_dict("records")],
        "playbook": [f"{r['title']} · owner {r['owner_role']} · due {r['due_date']}" for r in plays.to_dict("records")],
    }


def _print_account(view, plan: dict) -> None:
    console = Console()
    score = "no score" if view.score is None else f"{view.score:.1f} · {view.band}"
    console.print(f"[bold]{view.name}[/] ({view.account_id}) · {view.segment or 'no segment'} · {view.day}")
    console.print(f"health {score} · coverage {view.coverage:.0%}"
                  + ("" if view.stored else " · computed now (no snapshot stored for this day)"))
    deltas = f"7 d {_signed(view.delta_7)} · 30 d {_signed(view.delta_30)}"
    console.print(f"trend {deltas} · {' '.join(f'{s:.0f}' for _, s in view.trend[-10:]) or 'no history'}")
    if view.drivers_text:
        console.print(f"drivers (7 d): {view.drivers_text}")
    table = Table("signal", "category", "value", "points", "weight", "contribution")
    for s in view.signals:
        table.add_row(s["label"], s["category"], _fmt(s["value"]), _fmt(s["points"], 0),
                      f"{s['weight']:.0%}", f"{s['contribution']:.1f}")
    console.print(table)
    for title, lines in plan.items():
        console.print(f"[bold]{title.replace('_', ' ')}[/]: " + ("; ".join(map(str, lines)) if lines else "none"))


def _signed(v: float | None) -> str:
    return "—" if v is None else f"{v:+.1f}".replace("-", "−")


@click.command()
@click.option("--from", "start", type=DATE, help="First month-end to score from (default: 12 months before --to).")
@click.option("--to", "end", type=DATE, help="Last month-end to score (default: --as-of minus lead and horizon).")
@click.option("--as-of", "as_of", type=DATE, help="The date the data is complete to (default: today, UTC).")
@click.option("--horizon-days", default=90, show_default=True, help="Churn window length after the lead time.")
@click.option("--lead-days", default=30, show_default=True, help="Minimum warning time before churn.")
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
@click.pass_context
def backtest(ctx: click.Context, start, end, as_of, horizon_days: int, lead_days: int, as_json: bool) -> None:
    """Score past month-ends and check the score against churn 30–120 days later.

    Compares with a login-count-only baseline flagging as many accounts.

    \b
    Example:
      nrr backtest --from 2026-01-01 --horizon-days 90
    """
    project = load_context(ctx)
    last = _day(end, _day(as_of) - dt.timedelta(days=lead_days + horizon_days))
    first = _day(start, last - dt.timedelta(days=365))
    with project.store() as store:
        result = run_backtest(store, project.config.health, first, last, horizon_days, lead_days=lead_days,
                              revenue_source=project.config.revenue.source)
    if as_json:
        click.echo(json.dumps(result.to_dict(), indent=2))
        return
    table = Table("model", "ROC AUC", "precision", "recall", "churned ARR flagged", "flagged",
                  title=f"backtest {first} → {last}: {result.observations:,} account-months, "
                        f"{result.churn_events} churn events, churned ARR {result.churned_arr:,.0f}")
    for m in (result.health, result.baseline):
        table.add_row(m.name, _pct(m.auc, 3), _pct(m.precision), _pct(m.recall), _pct(m.churned_arr_flagged_share), f"{m.flagged:,}")
    if result.bar_threshold is not None:
        for m in (result.health_at_bar, result.baseline_at_bar):
            table.add_row(f"{m.name} @ < {result.bar_threshold:g}", _pct(m.auc, 3), _pct(m.precision), _pct(m.recall),
                          _pct(m.churned_arr_flagged_share), f"{m.flagged:,}")
    Console().print(table)
    if result.bar_threshold is not None:
        click.echo(f"flagging below {result.bar_threshold:g} (instead of {result.threshold:g}) would have flagged 80% of "
                   f"churned ARR ≥ {lead_days} d ahead; see [health.bands] / at_risk_threshold")
    click.echo(f"lift over login count: AUC {_signed_num(result.auc_lift, 3)}, churned ARR flagged ≥ {lead_days} d "
               f"ahead {_signed_num(result.arr_share_lift, 0, pct=True)} (domain bar: 80% flagged)")


def _signed_num(v: float | None, nd: int, pct: bool = False) -> str:
    if v is None:
        return "—"
    return (f"{v * 100:+.0f} pts" if pct else f"{v:+.{nd}f}").replace("-", "−")


def _pct(v: float | None, nd: int = 0) -> str:
    """Ratios as percentages; AUC and its lift (``nd=3``) as plain numbers."""
    if v is None:
        return "—"
    return f"{v:.3f}" if nd == 3 else f"{v:.0%}"
