"""The playbook report and the renewal timeline as DOCX, from the same contexts as their PDFs."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from reports import filters as f
from reports.context.playbook import PlaybookContext
from reports.context.renewals import RenewalsContext
from reports.docx_writer import RAG_FILL, DocWriter


def _definitions(w: DocWriter, defs) -> None:
    w.heading("Definitions", new_page=True)
    w.table(["Term", "Definition"], [(d.term, d.text) for d in defs])


def _play_card(w: DocWriter, a, cur: str) -> None:
    w.heading(f"{a.name} ({a.account_id})", 3)
    w.para(f"ARR {f.money(a.arr, cur) if a.arr else '–'} · score {f.score(a.score)}"
           f"{f' ({a.band})' if a.band else ''} · 7 d {f.signed(a.delta_7)} · 30 d {f.signed(a.delta_30)} · "
           f"due {f.date(a.due_date)} · {a.owner_role}", size=8)
    w.para(a.reason)
    if a.drivers and a.drivers not in a.reason:
        w.para(f" {a.drivers}", bold_prefix="Drivers (30 days):")
    if a.triggers:
        w.para("", bold_prefix="Open triggers:")
        w.bullets(f"{t['trigger'].replace('_', ' ')} ({t['kind']}, {t['severity']}, fired {f.date(t['day'])}, "
                  f"due {f.date(t['due_date'])}): {t['evidence']}" for t in a.triggers)
    if a.actions:
        w.para("", bold_prefix="Recommended actions:")
        w.bullets(a.actions)
    if a.escalation:
        w.para(f"Escalation: {a.escalation}", colour="555555")


def _sla(g) -> str:
    return "by churn reason" if g.key == "win_back" else "same day" if g.sla_days == 0 else f"{g.sla_days} d"


def write_playbook_docx(ctx: PlaybookContext, out: Path, *, created: dt.datetime | None = None) -> None:
    cur = ctx.currency
    w = DocWriter("Playbook report", ctx.brand.company, ctx.brand.accent, f"As of {f.date(ctx.as_of)}")
    w.cover(ctx.brand.company, "Playbook report",
            f"Accounts of {ctx.owner_filter}" if ctx.owner_filter else "Every account, by playbook and owner",
            [f"Playbooks as of {f.date(ctx.as_of)}; health from the snapshot of "
             f"{f.date(ctx.health_day) if ctx.health_day else 'none stored'}."], ctx.brand.logo)
    w.heading("Summary")
    if not ctx.health_day:
        w.para("No health scores are stored yet, so only churned accounts (win-back) can be listed: run `nrr score` "
               "first.")
    if not ctx.total:
        w.para("No account has a playbook" + (f" for owner “{ctx.owner_filter}”" if ctx.owner_filter else "") + ".")
    w.table(["Playbook", "Who acts", "SLA", "Accounts", "ARR"],
            [(g.title, g.owner_role, _sla(g), len(g.accounts), "–" if g.key == "win_back" else f.money(g.arr, cur))
             for g in ctx.groups], numeric=(2, 3, 4))
    w.heading("By playbook", new_page=True)
    for g in ctx.groups:
        w.heading(f"{g.title} · {g.owner_role}", 2)
        if not g.accounts:
            w.para("No accounts in this playbook.", colour="6B6B6B")
            continue
        w.table(["Account", "Owner", "ARR", "Score", "30 d", "Due", "Why"],
                [(a.name, a.owner, f.money(a.arr, cur) if a.arr else "–", f.score(a.score), f.signed(a.delta_30),
                  f.date(a.due_date), a.reason) for a in g.accounts], numeric=(2, 3, 4),
                widths=(32, 26, 20, 13, 12, 22, 53))   # the reason gets the room
    for o in ctx.owners:
        w.heading(o.owner, new_page=True)
        w.para(f"{o.count} account{'s' if o.count != 1 else ''} to act on, as of {f.date(ctx.as_of)}.")
        for g in o.groups:
            w.heading(g.title, 2)
            for a in g.accounts:
                _play_card(w, a, cur)
    _definitions(w, ctx.definitions)
    w.save(out, company=ctx.brand.company, created=created)


def _renewal_block(w: DocWriter, r, cur: str) -> None:
    w.heading(f"{f.date(r.renewal_date)} · {r.name} · {r.rag.upper()}", 3)
    w.para(f"Owner {r.owner} · ARR {f.money(r.arr, cur)} · expected {f.money(r.expected_arr, cur)} · health "
           f"{f.score(r.score)}{f' ({r.band})' if r.band else ''} · 30 d {f.signed(r.delta_30)}"
           + (" · monthly evergreen" if r.term != "term" else "") + (" · auto-renews" if r.auto_renew else ""), size=8)
    if r.rag_reasons:
        w.para("R/A/G: " + "; ".join(r.rag_reasons), size=7.5)
    if r.milestones:
        w.table(["Milestone", "Date", "Action", "Owner", "Status"],
                [(f"{m.days_before} days", f.date(m.date), m.action, m.owner, m.status) for m in r.milestones],
                widths=(22, 26, 70, 36, 24))


def write_renewals_docx(ctx: RenewalsContext, out: Path, *, created: dt.datetime | None = None) -> None:
    cur = ctx.currency
    w = DocWriter("Renewal timeline", ctx.brand.company, ctx.brand.accent, f"As of {f.date(ctx.as_of)}")
    w.cover(ctx.brand.company, "Renewal timeline", f"{f.date(ctx.as_of)} to {f.date(ctx.last_day)} · {ctx.days} days",
            [f"Renewals, R/A/G and milestones as of {f.date(ctx.as_of)}. Money in {cur} at fixed exchange rates."],
            ctx.brand.logo)
    w.heading("Summary")
    if not ctx.renewals:
        w.para(f"No renewals fall between {f.date(ctx.as_of)} and {f.date(ctx.last_day)}.")
    else:
        fills = {(i, 0): RAG_FILL[t.rag] for i, t in enumerate(ctx.totals) if t.rag in RAG_FILL}
        w.table(["R/A/G", "Renewals", "ARR", "Expected ARR"],
                [("Total" if t.rag == "all" else t.rag.upper(), t.renewals, f.money(t.arr, cur),
                  f.money(t.expected_arr, cur)) for t in ctx.totals], numeric=(1, 2, 3), fills=fills, total_last=True)
        w.table(["Month", "Renewals", "ARR", "Expected ARR"],
                [(f.date(g.month, "month"), len(g.renewals), f.money(g.arr, cur), f.money(g.expected_arr, cur))
                 for g in ctx.months], numeric=(1, 2, 3))
    for i, g in enumerate(ctx.months):
        w.heading(f.date(g.month, "month"), new_page=i == 0)
        w.para(f"{len(g.renewals)} renewal{'s' if len(g.renewals) != 1 else ''} · ARR {f.money(g.arr, cur)} · "
               f"expected {f.money(g.expected_arr, cur)}", colour="6B6B6B")
        for r in g.renewals:
            _renewal_block(w, r, cur)
    _definitions(w, ctx.definitions)
    w.save(out, company=ctx.brand.company, created=created)
