"""NRR diagnosis for the board report: structured findings with their evidence.

Inputs are the revenue engine's results (see :func:`diagnosis_inputs`):

* ``metrics_by_quarter`` — :func:`engine.revenue.quarterly_series` rows (oldest first):
  period, nrr_ttm, grr_ttm, logo_retention_ttm (fractions);
* ``cohorts`` — :class:`engine.revenue.CohortMatrix` or its ``to_rows()``: cohort,
  months_since_start, base_accounts, accounts;
* ``churn_events`` — one row per churned account: first_day (first paid day), last_day
  (last day of service), churn (MRR lost), industry (optional);
* ``breakdowns`` — ``{"segment" | "arr_band" | "industry": compute_metrics(by=…)["by"]}``.

Findings (recovery notes' diagnostic sweep; thresholds in :class:`DiagnosisSettings`):

* ``nrr_grr_trend`` — change over the last ``trend_quarters`` quarters: GRR down ≥ 2 pts
  is a retention problem; NRR down ≥ 2 pts with GRR holding is an expansion problem;
  4+ consecutive GRR declines add the notes' "recovery may not work" warning.
* ``nrr_stage`` — the NRR-stage guidance (< 90 % stop and fix GRR … 120 %+ compound).
* ``retention_benchmarks`` — NRR, GRR and logo retention against acceptable/good/best.
* ``segment_benchmark:<segment>`` — segment TTM NRR against the benchmark table.
* ``cohort_regression`` — recent cohorts' logo retention at month ``cohort_age`` below
  older cohorts' by ≥ ``cohort_gap`` (ICP drift).
* ``onboarding_cliff`` / ``renewal_cliff`` — share of churned accounts whose tenure
  (paid days ÷ 30.4375) fell in months 3–6, i.e. (2, 6], or around month 12, (11, 13].
* ``arr_band_churn:<band>`` — annual logo churn (1 − TTM logo retention): < $10K at 30 %+
  is normal for small accounts; > $25K bands at 15 %+ are broken.
* ``industry_concentration`` — one industry with ≥ 60 % of churned accounts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd
from pydantic import Field

from engine.settings import EngineModel

DAYS_PER_MONTH = 30.4375

#: Post-sale GTM notes: segment → (median, top quartile, best in class) NRR.
SEGMENT_BENCHMARKS = {"Enterprise": (1.15, 1.20, 1.30), "Mid-Market": (1.08, 1.15, 1.25), "SMB": (0.98, 1.05, 1.15)}
#: Key metrics table: (acceptable from, good from, best in class from).
RETENTION_BENCHMARKS = {"nrr_ttm": ("NRR", 1.00, 1.05, 1.15), "grr_ttm": ("GRR", 0.85, 0.90, 0.95),
                        "logo_retention_ttm": ("Logo retention", 0.80, 0.85, 0.92)}
#: NRR stages: (below, stage, guidance).
STAGES = ((0.90, "fix gross retention", "Stop: fix gross retention first (churn root causes, onboarding, support quality)."),
          (1.00, "stabilise", "Stabilise: reduce contraction and introduce basic expansion (health scores, usage alerts)."),
          (1.10, "grow", "Grow: build systematic expansion motions (PQA scoring, CSM playbooks, upsell triggers)."),
          (1.20, "optimise", "Optimise: maximise expansion per account (cross-sell, usage-based pricing, advocacy)."),
          (float("inf"), "compound", "Compound: protect and extend the moat (platform, ecosystem, annual contracts)."))


@dataclass(frozen=True)
class Finding:
    id: str
    severity: str  # critical | high | medium | low | info
    title: str
    sentence: str
    evidence: dict[str, Any] = field(default_factory=dict)


class DiagnosisSettings(EngineModel):
    trend_quarters: int = Field(4, ge=2)
    trend_points: float = 0.02
    cohort_age: int = 6
    cohort_recent: int = 3
    cohort_min_older: int = 2
    cohort_gap: float = 0.05
    onboarding_months: tuple[float, float] = (2.0, 6.0)
    onboarding_share: float = 0.35
    renewal_months: tuple[float, float] = (11.0, 13.0)
    renewal_share: float = 0.25
    min_churn_events: int = 5
    small_bands: tuple[str, ...] = ("<10K",)
    small_band_churn: float = 0.30
    large_bands: tuple[str, ...] = ("25K-100K", ">100K")
    large_band_churn: float = 0.15
    industry_share: float = 0.60
    segment_benchmark_rows: dict[str, str] = Field(default_factory=lambda: {
        "enterprise": "Enterprise", "mid-market": "Mid-Market", "smb": "SMB", "self-serve": "SMB"})


def pct(x: float) -> str:
    return f"{100 * float(x):.1f}%"


def _num(v: Any) -> float | None:
    return None if v is None or pd.isna(v) else float(v)


def _frame(x: Any) -> pd.DataFrame:
    if x is None:
        return pd.DataFrame()
    if hasattr(x, "to_rows"):
        x = x.to_rows()
    return x.copy() if isinstance(x, pd.DataFrame) else pd.DataFrame(list(x))


def trend_finding(q: pd.DataFrame, s: DiagnosisSettings) -> Finding | None:
    q = q.dropna(subset=["nrr_ttm", "grr_ttm"]).tail(s.trend_quarters)
    if len(q) < 2:
        return None
    n0, n1, g0, g1 = (_num(q["nrr_ttm"].iloc[0]), _num(q["nrr_ttm"].iloc[-1]),
                      _num(q["grr_ttm"].iloc[0]), _num(q["grr_ttm"].iloc[-1]))
    span, first, last = len(q) - 1, q["period"].iloc[0], q["period"].iloc[-1]
    grr = [_num(v) for v in q["grr_ttm"]]
    streak = 0
    for a, b in zip(grr[::-1][1:], grr[::-1]):
        if b < a:
            streak += 1
        else:
            break
    ev = {"from": first, "to": last, "nrr": [n0, n1], "grr": [g0, g1], "grr_declining_quarters": streak,
          "series": {p: [_num(n), _num(g)] for p, n, g in zip(q["period"], q["nrr_ttm"], q["grr_ttm"])}}
    moved = f"NRR {pct(n0)} → {pct(n1)} and GRR {pct(g0)} → {pct(g1)} from {first} to {last}"
    if g1 - g0 <= -s.trend_points:
        sev, title = "high", "Retention problem: GRR is falling"
        text = f"GRR fell {pct(g0 - g1)} points over {span} quarters ({moved}): the problem is retention, not expansion."
        if streak >= 4:
            sev, text = "critical", text + f" GRR has declined {streak} quarters running: consider whether recovery is the right frame."
    elif n1 - n0 <= -s.trend_points:
        sev, title = "medium", "Expansion problem: NRR falls while GRR holds"
        text = f"NRR fell {pct(n0 - n1)} points while GRR held ({moved}): the problem is expansion, not churn."
    elif max(n1 - n0, g1 - g0) >= s.trend_points:
        sev, title, text = "info", "NRR and GRR improving", f"Retention is improving: {moved}."
    else:
        sev, title, text = "info", "NRR and GRR holding", f"No regression: {moved}."
    return Finding("nrr_grr_trend", sev, title, text, ev)


def stage_finding(q: pd.DataFrame) -> Finding | None:
    q = q.dropna(subset=["nrr_ttm"])
    if q.empty:
        return None
    nrr = _num(q["nrr_ttm"].iloc[-1])
    below, stage, guidance = next(row for row in STAGES if nrr < row[0])
    sev = {"fix gross retention": "high", "stabilise": "medium"}.get(stage, "info")
    return Finding("nrr_stage", sev, f"NRR stage: {stage}", f"TTM NRR is {pct(nrr)}. {guidance}",
                   {"nrr_ttm": nrr, "stage": stage, "period": q["period"].iloc[-1]})


def benchmark_finding(q: pd.DataFrame) -> Finding | None:
    if q.empty:
        return None
    last, parts, ev, weak = q.iloc[-1], [], {}, 0
    for key, (label, ok, good, best) in RETENTION_BENCHMARKS.items():
        v = _num(last.get(key))
        if v is None:
            continue
        grade = "best in class" if v >= best else "good" if v >= good else "acceptable" if v >= ok else "below acceptable"
        weak += grade == "below acceptable"
        ev[key] = {"value": v, "grade": grade, "acceptable": ok, "good": good, "best": best}
        parts.append(f"{label} {pct(v)} ({grade})")
    if not parts:
        return None
    return Finding("retention_benchmarks", "medium" if weak else "info", "Retention against benchmarks",
                   "; ".join(parts) + ".", ev)


def segment_findings(by_segment: dict[str, dict], s: DiagnosisSettings) -> list[Finding]:
    out = []
    for seg, m in sorted((by_segment or {}).items()):
        row, nrr = s.segment_benchmark_rows.get(str(seg).lower()), _num(m.get("nrr_ttm"))
        if row is None or nrr is None:
            continue
        median, top, best = SEGMENT_BENCHMARKS[row]
        where = ("above best-in-class" if nrr >= best else "top quartile" if nrr >= top
                 else "above median" if nrr >= median else "below median")
        text = f"{seg} NRR {pct(nrr)} is {where} for {row} (median {pct(median)}, top quartile {pct(top)})."
        out.append(Finding(f"segment_benchmark:{seg}", "medium" if where == "below median" else "info",
                           f"{seg} against the {row} benchmark", text,
                           {"segment": seg, "nrr_ttm": nrr, "benchmark": row, "median": median, "top_quartile": top,
                            "best_in_class": best, "position": where}))
    return out


def cohort_finding(cohorts: pd.DataFrame, s: DiagnosisSettings) -> Finding | None:
    if cohorts.empty:
        return None
    at = cohorts[cohorts["months_since_start"] == s.cohort_age].sort_values("cohort")
    at = at[at["base_accounts"] > 0]
    if len(at) < s.cohort_recent + s.cohort_min_older:
        return None
    recent, older = at.tail(s.cohort_recent), at.head(len(at) - s.cohort_recent)
    r = float(recent["accounts"].sum()) / float(recent["base_accounts"].sum())
    o = float(older["accounts"].sum()) / float(older["base_accounts"].sum())
    ev = {"months_since_start": s.cohort_age, "recent_cohorts": list(recent["cohort"]), "recent_logo_retention": r,
          "older_cohorts": list(older["cohort"]), "older_logo_retention": o}
    if o - r < s.cohort_gap:
        return None
    return Finding("cohort_regression", "high", "Recent cohorts churn faster",
                   f"Cohorts {recent['cohort'].iloc[0]}–{recent['cohort'].iloc[-1]} keep {pct(r)} of accounts at month "
                   f"{s.cohort_age} against {pct(o)} for earlier cohorts: a sign of ICP drift.", ev)


def _tenure(churn: pd.DataFrame) -> pd.Series:
    days = (pd.to_datetime(churn["last_day"]) - pd.to_datetime(churn["first_day"])).dt.days + 1
    return days / DAYS_PER_MONTH


def cliff_findings(churn: pd.DataFrame, s: DiagnosisSettings) -> list[Finding]:
    if len(churn) < s.min_churn_events:
        return []
    months, out = _tenure(churn), []
    for fid, (lo, hi), bar, title, cause in (
        ("onboarding_cliff", s.onboarding_months, s.onboarding_share, "Onboarding cliff", "time-to-value failure"),
        ("renewal_cliff", s.renewal_months, s.renewal_share, "Renewal cliff", "the annual renewal is the churn point"),
    ):
        hit = (months > lo) & (months <= hi)
        share = float(hit.mean())
        if share >= bar:
            span = f"months {int(lo) + 1}–{int(hi)}"
            out.append(Finding(fid, "high", title,
                               f"{pct(share)} of churned accounts ({int(hit.sum())} of {len(churn)}) left in {span} "
                               f"of their life: {cause}.",
                               {"share": share, "accounts": int(hit.sum()), "churned": len(churn),
                                "months": [lo, hi], "threshold": bar}))
    return out


def band_findings(by_band: dict[str, dict], s: DiagnosisSettings) -> list[Finding]:
    out = []
    for band, m in (by_band or {}).items():
        lr = _num(m.get("logo_retention_ttm"))
        if lr is None:
            continue
        churn = 1 - lr
        if band in s.large_bands and churn >= s.large_band_churn:
            sev, verdict = "high", f"broken for accounts above $25K (bar {pct(s.large_band_churn)})"
        elif band in s.small_bands and churn >= s.small_band_churn:
            sev, verdict = "info", "normal for accounts below $10K (30%+ is common)"
        else:
            continue
        out.append(Finding(f"arr_band_churn:{band}", sev, f"Churn in the {band} ARR band",
                           f"Annual logo churn in the {band} band is {pct(churn)}: {verdict}.",
                           {"band": band, "logo_churn": churn, "logo_retention_ttm": lr}))
    return out


def industry_finding(churn: pd.DataFrame, s: DiagnosisSettings) -> Finding | None:
    if "industry" not in churn or len(churn) < s.min_churn_events:
        return None
    counts = churn["industry"].fillna("unassigned").value_counts()
    top, n = counts.index[0], int(counts.iloc[0])
    share = n / len(churn)
    if share < s.industry_share:
        return None
    return Finding("industry_concentration", "high", f"Churn concentrated in {top}",
                   f"{pct(share)} of churned accounts ({n} of {len(churn)}) are in {top}: a vertical problem "
                   f"(product gap, ICP misfit or competitive loss).",
                   {"industry": top, "share": share, "accounts": n, "churned": len(churn),
                    "by_industry": {str(k): int(v) for k, v in counts.items()}})


def diagnose(metrics_by_quarter: Any, cohorts: Any, churn_events: Any, breakdowns: dict[str, dict] | None,
             settings: DiagnosisSettings | None = None) -> list[Finding]:
    """All findings, most severe first (stable within a severity)."""
    s = settings or DiagnosisSettings()
    q, c, ch, b = _frame(metrics_by_quarter), _frame(cohorts), _frame(churn_events), breakdowns or {}
    found = [trend_finding(q, s) if not q.empty else None, stage_finding(q) if not q.empty else None,
             benchmark_finding(q), *segment_findings(b.get("segment", {}), s), cohort_finding(c, s),
             *cliff_findings(ch, s), *band_findings(b.get("arr_band", {}), s), industry_finding(ch, s)]
    rank = {"critical": 0, "high": 1, "medium": 2, "low": 3, "info": 4}
    return sorted([f for f in found if f is not None], key=lambda f: rank[f.severity])


def diagnosis_inputs(contracts: Any, accounts: Any, settings: Any, quarter: str, n: int = 8) -> dict[str, Any]:
    """Build :func:`diagnose`'s inputs from the revenue engine for the quarters up to ``quarter``.

    Churn events cover the last four quarters (trailing twelve months).
    """
    from engine.revenue import Period, cohort_matrix, compute_metrics, prepare_lines, quarterly_series
    from engine.revenue.churn_timing import churn_events

    last = Period.parse(quarter)
    lines = prepare_lines(contracts, settings)
    events = [e for i in range(4) for e in churn_events(lines, accounts, last.shift(-i), "industry")]
    churn = pd.DataFrame(events).rename(columns={"grp": "industry"})
    return {
        "metrics_by_quarter": quarterly_series(contracts, accounts, settings, last, n),
        "cohorts": cohort_matrix(contracts, settings, last.end, grain="quarter"),
        "churn_events": churn,
        "breakdowns": {by: compute_metrics(contracts, accounts, settings, last, by=by)["by"]
                       for by in ("segment", "arr_band", "industry")},
    }
