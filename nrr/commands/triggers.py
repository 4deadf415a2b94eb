"""`nrr triggers` and `nrr renewals`: thin wrappers over engine.triggers and engine.renewals.

``project_triggers`` and ``project_timeline`` are also the `nrr run` steps' entry points:
they read the project's settings and store and call one engine function each.
"""

from __future__ import annotations

import datetime as dt
import json

import click
import pandas as pd
from rich.console import Console
from rich.table import Table

from engine.renewals import RenewalDataError, RenewalTimeline, renewal_timeline
from engine.store import Store
from engine.triggers import evaluate_and_record, load_events, open_triggers
from nrr.errors import NrrError
from nrr.project import ProjectContext, load_context

DATE = click.DateTime(formats=["%Y-%m-%d"])


def register(group: click.Group) -> None:
    group.add_command(triggers)
    group.add_command(renewals)
    group.add_command(playbooks)


def _inputs(pctx: ProjectContext, store: Store):
    from engine.health import Inputs

    return Inputs.from_store(store, pctx.config.revenue.source)


def stored_scores(store: Store, as_of: dt.date) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(scores on ``as_of``, snapshots of the 14 days before and on it) from ``score_snapshots``.

    Reads only the columns returned: the per-signal JSON is not needed here, and parsing
    it for 15 days of every account was most of this function's time.
    """
    hist = store.con.execute(
        "SELECT account_id, day, score, band FROM score_snapshots WHERE day BETWEEN ? AND ? ORDER BY account_id, day",
        [as_of - dt.timedelta(days=14), as_of],
    ).df()
    hist["day"] = pd.to_datetime(hist["day"]).dt.date
    return hist[hist["day"] == as_of][["account_id", "score", "band"]], hist[["account_id", "day", "score", "band"]]


def project_features(pctx: ProjectContext, store: Store, as_of: dt.date) -> pd.DataFrame:
    """The per-account usage, support and billing metrics both the triggers and the renewal
    R/A/G read (one pass over the records; `nrr run` computes them once for both steps)."""
    from engine.triggers import compute_features

    return compute_features(_inputs(pctx, store), pctx.config.triggers, as_of)


def project_triggers(pctx: ProjectContext, store: Store, as_of: dt.date,
                     features: pd.DataFrame | None = None) -> pd.DataFrame:
    """Evaluate every trigger as of ``as_of`` on the stored scores and record what fired."""
    scores, history = stored_scores(store, as_of)
    if scores.empty:
        raise NrrError(f"no health scores stored for {as_of}: run `nrr score --as-of {as_of}` first")
    cfg = pctx.config
    try:
        return evaluate_and_record(store, _inputs(pctx, store), scores, history, cfg.triggers, as_of,
                                   renewal_settings=cfg.renewals, features=features)
    except KeyError as exc:
        raise NrrError(f"nrr.toml [triggers]: {exc.args[0]}") from None


def project_timeline(pctx: ProjectContext, store: Store, as_of: dt.date, days: int,
                     features: pd.DataFrame | None = None) -> RenewalTimeline:
    """The renewal timeline as of ``as_of`` with stored scores and open triggers
    (``features``: :func:`project_features` of this store and day, when already computed)."""
    cfg = pctx.config
    scores, _ = stored_scores(store, as_of)
    try:
        return renewal_timeline(_inputs(pctx, store), scores, open_triggers(store, as_of, cfg.triggers),
                                cfg.renewals, as_of, days, revenue=cfg.revenue.settings(),
                                trigger_settings=cfg.triggers, features=features)
    except RenewalDataError as exc:
        raise NrrError(str(exc)) from None


def project_playbooks(pctx: ProjectContext, store: Store, as_of: dt.date,
                      timeline: RenewalTimeline | None = None, *, score_deltas: pd.DataFrame | None = None,
                      open_events: pd.DataFrame | None = None) -> pd.DataFrame:
    """One playbook per account as of ``as_of`` (stored scores and deltas, open triggers,
    the renewal timeline and churned accounts). The timeline, deltas and open triggers are
    computed unless given — a caller that already read them from this store for this
    ``as_of`` passes them instead of reading them twice."""
    from engine.health.drivers import deltas
    from engine.playbooks import assign_playbooks, churned_accounts

    cfg = pctx.config
    scores, _ = stored_scores(store, as_of)
    timeline = timeline or project_timeline(pctx, store, as_of, cfg.renewals.horizon_days)
    inputs = _inputs(pctx, store)
    churned = None if inputs.contracts is None else churned_accounts(
        inputs.contracts, store.records("churn_reasons"), as_of)
    score_deltas = deltas(store, as_of, cfg.health) if score_deltas is None else score_deltas
    open_events = open_triggers(store, as_of, cfg.triggers) if open_events is None else open_events
    return assign_playbooks(scores, score_deltas, open_events, timeline, churned, cfg.playbooks, as_of)


def _day(value: dt.datetime | None) -> dt.date:
    return value.date() if value else dt.date.today()


@click.command()
@click.option("--since", type=DATE, help="List events fired on or after this day (default: 30 days before --as-of).")
@click.option("--as-of", "as_of", type=DATE, help="Evaluation / listing date (default: today).")
@click.option("--evaluate", is_flag=True, help="Evaluate the triggers on --as-of first and record what fires.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@click.pass_context
def triggers(ctx: click.Context, since, as_of, evaluate: bool, as_json: bool) -> None:
    """List fired expansion and risk triggers with their evidence.

    \b
    Examples:
      nrr triggers --since 2026-10-01
      nrr triggers --evaluate --as-of 2026-11-15
    """
    pctx, day = load_context(ctx), _day(as_of)
    with pctx.store() as store:
        if evaluate:
            fired = project_triggers(pctx, store, day)
            click.echo(f"{len(fired)} trigger(s) fired on {day}", err=True)
        events = load_events(store, since=_day(since) if since else day - dt.timedelta(days=30), until=day)
    if as_json:
        click.echo(json.dumps(events.to_dict("records"), default=str, indent=2))
        return
    table = Table("day", "account", "trigger", "owner · due", "evidence")
    for r in events.itertuples(index=False):
        flag = "" if r.status == "open" else f" [{r.status}]"
        table.add_row(str(r.day), r.account_id, f"{r.trigger} ({r.severity}){flag}", f"{r.owner_role} · {r.due_date}",
                      ", ".join(f"{k}={v}" for k, v in r.evidence.items() if k not in ("op", "threshold")))
    Console().print(table if len(events) else "No trigger events in that window.")


@click.command()
@click.option("--days", default=180, show_default=True, type=click.IntRange(1, 3660), help="Horizon in days.")
@click.option("--as-of", "as_of", type=DATE, help="Date the timeline is computed for (default: today).")
@click.option("--json", "as_json", is_flag=True, help="Print renewals, milestones and outlook as JSON.")
@click.pass_context
def renewals(ctx: click.Context, days: int, as_of, as_json: bool) -> None:
    """Renewals within the horizon: milestones, R/A/G, expected ARR and the outlook.

    \b
    Examples:
      nrr renewals
      nrr renewals --days 90 --json > renewals.json
    """
    pctx, day = load_context(ctx), _day(as_of)
    with pctx.store() as store:
        tl = project_timeline(pctx, store, day, days)
    if as_json:
        click.echo(json.dumps(tl.to_dict(), indent=2, default=str))
        return
    _print_timeline(tl)


def _print_timeline(tl: RenewalTimeline) -> None:
    console = Console()
    if tl.renewals.empty:
        console.print(f"No renewals in the {tl.days} days from {tl.as_of}.")
        return
    t = Table("renewal", "account", "ARR", "R/A/G", "health", "expected", "next milestone",
              title=f"Renewals {tl.as_of} + {tl.days} days")
    for r in tl.renewals.itertuples(index=False):
        nxt = f"{r.next_milestone_date} ({int(r.next_milestone)} d, {r.next_milestone_owner})" if pd.notna(
            r.next_milestone) else "-"
        health = "-" if pd.isna(r.score) else f"{r.score:g}"
        name = r.name if isinstance(r.name, str) and r.name else r.account_id
        rag = r.rag + (f": {'; '.join(r.rag_reasons)}" if r.rag_reasons else "")
        t.add_row(str(r.renewal_date), name, f"{r.arr:,.0f}", rag, health, f"{r.expected_arr:,.0f}", nxt)
    console.print(t)
    o = Table("within", "R/A/G", "renewals", "ARR", "expected ARR", title="Outlook")
    for r in tl.outlook.itertuples(index=False):
        o.add_row(f"{r.window_days} d", r.rag, str(r.renewals), f"{r.arr:,.2f}", f"{r.expected_arr:,.2f}")
    console.print(o)


@click.command()
@click.option("--as-of", "as_of", type=DATE, help="Date the playbooks are assigned for (default: today).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@click.pass_context
def playbooks(ctx: click.Context, as_of, as_json: bool) -> None:
    """One playbook per account: owner, due date, the reason and the recommended actions.

    \b
    Example:
      nrr playbooks --as-of 2026-11-15
    """
    pctx, day = load_context(ctx), _day(as_of)
    with pctx.store() as store:
        out = project_playbooks(pctx, store, day)
    if as_json:
        click.echo(json.dumps(out.to_dict("records"), default=str, indent=2))
        return
    t = Table("account", "playbook", "owner · due", "reason", title=f"Playbooks {day}")
    order = {k: i for i, k in enumerate(("executive_escalation", "active_save", "early_warning", "expansion",
                                         "nurture", "win_back"))}
    for r in sorted(out.itertuples(index=False), key=lambda r: (order.get(r.playbook, 9), str(r.due_date))):
        t.add_row(r.account_id, r.title, f"{r.owner_role} · {r.due_date}", r.reason)
    Console().print(t if len(out) else "No accounts to assign.")
