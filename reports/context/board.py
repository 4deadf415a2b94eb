"""The quarterly board report's context, built from the revenue, health, renewal and diagnosis engines.

Revenue figures come from :func:`engine.revenue.compute_metrics` / ``quarterly_series`` /
``cohort_matrix`` (through :func:`engine.diagnosis.diagnosis_inputs`, so the diagnosis and
the charts read the same numbers); health, at-risk accounts, the renewal outlook and the
leading indicators are in :mod:`reports.context.board_parts`. Nothing is recomputed here:
this module selects, orders and labels.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from engine.diagnosis import SEGMENT_BENCHMARKS, diagnose, diagnosis_inputs
from engine.revenue import DEFINITIONS, Period, compute_metrics
from reports.context.board_parts import (AtRiskRow, HealthView, Indicator, OutlookRow, at_risk_rows, coverage_rows,
                                         health_view, leading_indicators, outlook_rows)
from reports.context.common import HEALTH_DEFINITIONS, Brand, Definition, brand, rag_definition
from reports.context.data import ReportInputs

MIN_TTM_BASE = 10
SEGMENT_LABELS = {"smb": "SMB", "mid-market": "Mid-market", "enterprise": "Enterprise", "self-serve": "Self-serve"}
COHORT_OFFSETS = (0, 3, 6, 9, 12, 15, 18, 21, 24)
WATERFALL_STEPS = (("new", "New", 1), ("reactivation", "Reactivation", 1), ("expansion", "Expansion", 1),
                   ("contraction", "Contraction", -1), ("churn", "Churn", -1))


@dataclass(frozen=True)
class Kpi:
    """A headline figure with its prior-quarter value; ``kind`` picks the format (money/percent/ratio)."""

    key: str
    label: str
    kind: str
    value: Decimal | None
    prior: Decimal | None

    @property
    def change(self) -> Decimal | None:
        """Percent change for money, absolute change otherwise (percentage points for ratios in %)."""
        if self.value is None or self.prior is None:
            return None
        if self.kind == "money":
            return None if not self.prior else self.value / self.prior - 1
        return self.value - self.prior


@dataclass(frozen=True)
class TrendPoint:
    period: str
    nrr: Decimal | None
    grr: Decimal | None
    logo_retention: Decimal | None
    arr: Decimal
    base_accounts: int = 0

    @property
    def thin(self) -> bool:
        """A TTM base this small makes the ratios anecdotes, not trends."""
        return self.base_accounts < MIN_TTM_BASE


@dataclass(frozen=True)
class WaterfallStep:
    label: str
    amount: Decimal
    sign: int  # 0 = a total bar (start/end), +1 adds, −1 subtracts
    logos: int | None = None


@dataclass(frozen=True)
class CohortRow:
    cohort: str
    accounts: int
    cells: tuple[Decimal | None, ...]


@dataclass(frozen=True)
class SegmentRow:
    segment: str
    accounts: int
    arr: Decimal
    nrr: Decimal | None
    grr: Decimal | None
    logo_retention: Decimal | None
    benchmark: str | None
    median: float | None
    top_quartile: float | None
    best_in_class: float | None
    position: str


@dataclass(frozen=True)
class FindingView:
    severity: str
    title: str
    sentence: str


@dataclass(frozen=True)
class BoardContext:
    brand: Brand
    quarter: str
    prior_quarter: str
    period_first_day: dt.date
    period_end: dt.date
    as_of: dt.date
    currency: str
    kpis: list[Kpi]
    trend: list[TrendPoint]
    waterfall: list[WaterfallStep]
    cohort_offsets: tuple[int, ...]
    cohorts: list[CohortRow]
    segments: list[SegmentRow]
    health: HealthView
    at_risk: list[AtRiskRow]
    outlook: list[OutlookRow]
    outlook_quarters: tuple[str, ...]
    findings: list[FindingView]
    stage: FindingView | None
    indicators: list[Indicator]
    definitions: list[Definition]
    coverage: list[tuple[str, str]]
    min_ttm_base: int = MIN_TTM_BASE
    title: str = field(default="Quarterly board report")

    @property
    def has_churn(self) -> bool:
        return any(s.label == "Churn" and s.amount for s in self.waterfall)


def kpis(series: list[dict[str, Any]]) -> list[Kpi]:
    """ARR, TTM NRR, TTM GRR, TTM logo retention and the quarter's quick ratio, against the prior quarter."""
    now, prior = series[-1], (series[-2] if len(series) > 1 else {})
    spec = (("arr_end", "ARR", "money"), ("nrr_ttm", "Net revenue retention (TTM)", "percent"),
            ("grr_ttm", "Gross revenue retention (TTM)", "percent"),
            ("logo_retention_ttm", "Logo retention (TTM)", "percent"), ("quick_ratio", "Quick ratio (quarter)", "ratio"))
    return [Kpi(k, label, kind, now.get(k), prior.get(k)) for k, label, kind in spec]


def trend(series: list[dict[str, Any]], bases: dict[str, int]) -> list[TrendPoint]:
    return [TrendPoint(q["period"], q["nrr_ttm"], q["grr_ttm"], q["logo_retention_ttm"], q["arr_end"],
                       bases.get(q["period"], 0)) for q in series]


def ttm_bases(data: ReportInputs, series: list[dict[str, Any]]) -> dict[str, int]:
    """Accounts in each quarter's TTM base (paying at T−12), from the engine's series figures."""
    from engine.revenue.mrr import prepare_lines
    from engine.revenue.retention import series_figures

    periods = [Period.parse(q["period"]) for q in series]
    figures = series_figures(prepare_lines(data.contracts, data.revenue), periods)
    return {p.label: f.ttm.base_logos for p, f in zip(periods, figures)}


def waterfall(metrics: dict[str, Any]) -> list[WaterfallStep]:
    """Start, the five movements and end; logos: accounts new/churned/reactivated where the engine counts them."""
    w, logos = metrics["waterfall"], metrics["accounts"]
    counts = {"new": logos.get("new"), "reactivation": logos.get("reactivated"), "churn": logos.get("churned")}
    steps = [WaterfallStep("Start ARR", 12 * w["start"], 0, logos.get("start"))]
    steps += [WaterfallStep(label, 12 * w[key], sign, counts.get(key)) for key, label, sign in WATERFALL_STEPS]
    return steps + [WaterfallStep("End ARR", 12 * w["end"], 0, logos.get("end"))]


def cohort_rows(matrix: Any, last_n: int) -> list[CohortRow]:
    """The newest ``last_n`` quarterly cohorts: net revenue retention at 0, 3, 6, … months."""
    rows = []
    for c in matrix.cohorts[-last_n:]:
        cells = tuple(c.cells[o].nrr if o < len(c.cells) else None for o in COHORT_OFFSETS)
        rows.append(CohortRow(c.label, c.accounts, cells))
    return rows


def segment_rows(by_segment: dict[str, dict], diagnosis_settings: Any) -> list[SegmentRow]:
    """Each segment's TTM figures beside the benchmark row it maps to (median / top quartile / best)."""
    rows = []
    mapping = diagnosis_settings.segment_benchmark_rows
    for seg, m in by_segment.items():
        bench = mapping.get(str(seg).lower())
        med, top, best = SEGMENT_BENCHMARKS.get(bench, (None, None, None))
        rows.append(SegmentRow(segment_label(seg), m["accounts"]["end"], m["arr_end"], m["nrr_ttm"], m["grr_ttm"],
                               m["logo_retention_ttm"], bench, med, top, best, _position(m["nrr_ttm"], med, top, best)))
    return sorted(rows, key=lambda r: -r.arr)


def _position(nrr: Decimal | None, med: float | None, top: float | None, best: float | None) -> str:
    """Same wording as the diagnosis' segment findings."""
    if nrr is None or med is None:
        return "no benchmark" if med is None else "no TTM base"
    v = float(nrr)
    return ("above best-in-class" if v >= best else "top quartile" if v >= top
            else "above median" if v >= med else "below median")


def segment_label(key: str) -> str:
    """``smb`` → ``SMB``, ``mid-market`` → ``Mid-market``: segment keys as a reader expects them."""
    return SEGMENT_LABELS.get(str(key).lower(), str(key)[:1].upper() + str(key)[1:])


def _printed(f: Any) -> FindingView:
    """A finding as printed: a segment finding starts with the segment's display label."""
    title, sentence = f.title, f.sentence
    if f.id.startswith("segment_benchmark:"):
        key = f.id.split(":", 1)[1]
        title, sentence = (t.replace(key, segment_label(key), 1) if t.startswith(key) else t for t in (title, sentence))
    return FindingView(f.severity, title[:1].upper() + title[1:], sentence[:1].upper() + sentence[1:])


def finding_views(findings: list[Any]) -> tuple[list[FindingView], FindingView | None]:
    """The diagnosis findings as printed, the NRR-stage guidance apart."""
    views = [_printed(f) for f in findings]
    return [v for v, f in zip(views, findings) if f.id != "nrr_stage"], next(
        (v for v, f in zip(views, findings) if f.id == "nrr_stage"), None)


def definitions(config: Any) -> list[Definition]:
    labels = {"arr_end": "ARR", "waterfall": "ARR waterfall", "nrr_ttm": "Net revenue retention (TTM)",
              "grr_ttm": "Gross revenue retention (TTM)", "logo_retention_ttm": "Logo retention (TTM)",
              "nrr_period": "Net revenue retention (quarter)", "grr_period": "Gross revenue retention (quarter)",
              "quick_ratio": "Quick ratio", "mrr_end": "MRR"}
    out = [Definition(labels[k], DEFINITIONS[k]) for k in labels]
    out.append(Definition("Cohort NRR", "Quarterly cohorts by quarter of first paid month-end; Σ MRR at n months since "
                                        "start ÷ Σ MRR at start, over the cohort's accounts that have reached month n."))
    out.append(Definition("Segment benchmarks", "Median / top quartile / best-in-class NRR by segment from the "
                                                "post-sale GTM benchmark table; self-serve is compared with SMB."))
    return out + HEALTH_DEFINITIONS + rag_definition(config.renewals)


def build_board(data: ReportInputs, quarter: str | Period) -> BoardContext:
    """The board report for ``quarter`` with health and renewals as of ``data.as_of``."""
    cfg, p = data.config, quarter if isinstance(quarter, Period) else Period.parse(quarter)
    if p.grain != "quarter":
        raise ValueError(f"the board report needs a quarter such as 2026-Q3, got {p.label}")
    rs = cfg.reports
    diag_in = diagnosis_inputs(data.contracts, data.records.accounts, data.revenue, p.label, n=rs.trend_quarters)
    metrics = compute_metrics(data.contracts, data.records.accounts, data.revenue, p)
    series = diag_in["metrics_by_quarter"]
    findings, stage = finding_views(diagnose(**diag_in))
    outlook, quarters = outlook_rows(data, p)
    return BoardContext(
        brand=brand(cfg), quarter=p.label, prior_quarter=p.shift(-1).label, period_first_day=p.first_day,
        period_end=p.end, as_of=data.as_of, currency=data.revenue.reporting_currency, kpis=kpis(series),
        trend=trend(series, ttm_bases(data, series)), min_ttm_base=MIN_TTM_BASE, waterfall=waterfall(metrics),
        cohort_offsets=COHORT_OFFSETS,
        cohorts=cohort_rows(diag_in["cohorts"], rs.cohort_quarters),
        segments=segment_rows(diag_in["breakdowns"]["segment"], _diagnosis_settings()),
        health=health_view(data, rs.health_compare_days), at_risk=at_risk_rows(data, rs.top_at_risk, p),
        outlook=outlook, outlook_quarters=quarters, findings=findings, stage=stage,
        indicators=leading_indicators(data, diag_in["cohorts"]), definitions=definitions(cfg),
        coverage=coverage_rows(data))


def _diagnosis_settings():
    from engine.diagnosis import DiagnosisSettings

    return DiagnosisSettings()
