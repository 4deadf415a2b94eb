"""The board report as DOCX, from the same :class:`BoardContext` as the PDF (PNG charts)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from reports import charts
from reports import filters as f
from reports.context.board import BoardContext
from reports.context.common import BAND_RANGES
from reports.docx_writer import RAG_FILL, DocWriter


def _kpi_value(k, cur: str) -> str:
    return f.money_short(k.value, cur) if k.kind == "money" else f.percent(k.value) if k.kind == "percent" else f.ratio(k.value)


def _kpi_change(k, prior: str) -> str:
    if k.kind == "ratio" and k.prior is not None:
        return f"{prior}: {f.ratio(k.prior)}"
    if k.change is None:
        return f"no {prior} figure"
    text = f.pct_change(k.change) if k.kind == "money" else f.points(k.change) if k.kind == "percent" else f.signed(k.change, 2)
    return f"{text} vs {prior}"


def summary(w: DocWriter, ctx: BoardContext, png: dict[str, bytes]) -> None:
    cur = ctx.currency
    w.heading("Summary")
    w.table(["Figure", ctx.quarter, "Change"], [(k.label, _kpi_value(k, cur), _kpi_change(k, ctx.prior_quarter))
                                                for k in ctx.kpis], numeric=(1, 2))
    if ctx.stage:
        w.para(f" {ctx.stage.sentence}", bold_prefix=f"{ctx.stage.title}.")
    w.heading("What the board should know", 2)
    for x in ctx.findings[:4] or []:
        w.para(f" {x.sentence}", bold_prefix=f"[{x.severity.upper()}] {x.title}.")
    if not ctx.findings:
        w.para("No findings: there is not yet enough history for the diagnosis.")
    w.heading(f"Net and gross revenue retention, last {len(ctx.trend)} quarters", 2)
    w.picture(png["trend"])
    rows = [("NRR (TTM)", *[f.percent(p.nrr) for p in ctx.trend]), ("GRR (TTM)", *[f.percent(p.grr) for p in ctx.trend]),
            ("Logo retention (TTM)", *[f.percent(p.logo_retention) for p in ctx.trend]),
            ("ARR", *[f.money_short(p.arr, cur) for p in ctx.trend]),
            ("TTM base (accounts)", *[str(p.base_accounts) for p in ctx.trend])]
    w.table(["Quarter", *[p.period for p in ctx.trend]], rows, numeric=range(1, len(ctx.trend) + 1))
    if any(p.thin for p in ctx.trend):
        w.para(f"Quarters whose TTM base (accounts paying twelve months earlier) has fewer than {ctx.min_ttm_base} "
               "accounts are left out of the chart: their ratios describe a handful of customers, not a trend.",
               size=7.5, colour="6B6B6B")


def revenue(w: DocWriter, ctx: BoardContext, png: dict[str, bytes]) -> None:
    cur = ctx.currency
    w.heading("Revenue", new_page=True)
    w.heading(f"ARR waterfall, {ctx.quarter}", 2)
    w.picture(png["waterfall"])
    sign = {1: "+", -1: "−", 0: ""}
    w.table(["Movement", f"ARR ({cur})", "Accounts"],
            [(s.label, (sign[s.sign] if s.amount else "") + f.money(s.amount, cur), "" if s.logos is None else s.logos)
             for s in ctx.waterfall], numeric=(1, 2), total_last=True)
    w.heading("Cohort net revenue retention", 2)
    fills = {(r, 2 + i): charts.heat_colour(v) for r, c in enumerate(ctx.cohorts) for i, v in enumerate(c.cells)}
    w.table(["Cohort", "Accounts", *[f"M{o}" for o in ctx.cohort_offsets]],
            [(c.cohort, c.accounts, *["" if v is None else f.percent(v, 0) for v in c.cells]) for c in ctx.cohorts],
            numeric=range(1, 2 + len(ctx.cohort_offsets)), fills=fills)
    w.heading("Segments against benchmarks", 2)
    w.table(["Segment", "Accounts", "ARR", "NRR", "GRR", "Logo ret.", "Median", "Top quartile", "Best-in-class", "Position"],
            [(s.segment, s.accounts, f.money(s.arr, cur), f.percent(s.nrr), f.percent(s.grr), f.percent(s.logo_retention),
              f.percent(s.median, 0), f.percent(s.top_quartile, 0), f.percent(s.best_in_class, 0), s.position)
             for s in ctx.segments], numeric=range(1, 9))


def health(w: DocWriter, ctx: BoardContext, png: dict[str, bytes]) -> None:
    cur, h = ctx.currency, ctx.health
    w.heading("Customer health", new_page=True)
    if h.day is None:
        w.para(f"No health scores are stored up to {f.date(ctx.as_of)}: run `nrr score` to score accounts.")
    else:
        moved = (f" Against {f.date(h.compare_day)}: {h.improved} improved a band, {h.declined} declined, "
                 f"{h.unchanged} unchanged." if h.has_movement else " No earlier snapshot is stored to compare with.")
        w.para(f"{h.scored} accounts scored on {f.date(h.day)}; mean score {f.score(h.mean_score)}, mean data coverage "
               f"{f.percent(h.mean_coverage, 0)}.{moved}")
        w.picture(png["health"])
        w.table(["Band", "Score", "Accounts", *([f"On {f.date(h.compare_day)}"] if h.has_movement else []), "ARR"],
                [(b.band, BAND_RANGES[b.band], b.accounts, *([b.accounts_before] if h.has_movement else []),
                  f.money(b.arr, cur)) for b in h.bands], numeric=(2, 3, 4))
    w.heading("Top accounts at risk by ARR", 2)
    if ctx.at_risk:
        w.table(["Account", "Owner", "ARR", "Score", "30 d", "Why at risk", "Drivers (30 d)"],
                [(r.name, r.owner, f.money(r.arr, cur), f.score(r.score), f.signed(r.delta_30), "; ".join(r.reasons),
                  r.drivers or "–") for r in ctx.at_risk], numeric=(2, 3, 4))
    else:
        w.para("No account is below 70, has an open risk trigger or a red/amber renewal.")


def outlook(w: DocWriter, ctx: BoardContext) -> None:
    cur = ctx.currency
    w.heading("Renewals and outlook", new_page=True)
    w.heading(f"Renewal outlook, {' and '.join(ctx.outlook_quarters)}", 2)
    rows = [(o.quarter, "Total" if o.rag == "all" else o.rag.upper(), o.renewals, f.money(o.arr, cur),
             f.money(o.expected_arr, cur)) for o in ctx.outlook]
    fills = {(i, 1): RAG_FILL[o.rag] for i, o in enumerate(ctx.outlook) if o.rag in RAG_FILL}
    w.table(["Quarter", "R/A/G", "Renewals", "ARR", "Expected ARR"], rows, numeric=(2, 3, 4), fills=fills)
    w.heading("Diagnosis", 2)
    for x in ctx.findings:
        w.para(f" {x.sentence}", bold_prefix=f"[{x.severity.upper()}] {x.title}.")
    if ctx.stage:
        w.para(f" {ctx.stage.sentence}", bold_prefix=f"{ctx.stage.title}.")
    w.heading("Leading indicators", 2)
    w.table(["Indicator", "Now", "Detail"], [(i.label, i.value, i.detail) for i in ctx.indicators], numeric=(1,))


def appendix(w: DocWriter, ctx: BoardContext) -> None:
    w.heading("Appendix", new_page=True)
    w.heading("Definitions", 2)
    w.table(["Figure", "Definition"], [(d.term, d.text) for d in ctx.definitions])
    w.heading("Data coverage", 2)
    w.table(["Item", "Value"], ctx.coverage)


def write_board_docx(ctx: BoardContext, out: Path, *, created: dt.datetime | None = None) -> None:
    png = charts.board_charts(ctx, "png")
    w = DocWriter(f"Board report {ctx.quarter}", ctx.brand.company, ctx.brand.accent, f"As of {f.date(ctx.as_of)}")
    w.cover(ctx.brand.company, "Quarterly board report",
            f"{ctx.quarter} · {f.date(ctx.period_first_day)} to {f.date(ctx.period_end)}",
            [f"Revenue figures for {ctx.quarter}; health, triggers and renewals as of {f.date(ctx.as_of)}.",
             f"All money in {ctx.currency} at fixed exchange rates. Definitions of every figure are in the appendix."],
            ctx.brand.logo)
    summary(w, ctx, png)
    revenue(w, ctx, png)
    health(w, ctx, png)
    outlook(w, ctx)
    appendix(w, ctx)
    w.save(out, company=ctx.brand.company, created=created)
