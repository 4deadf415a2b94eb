"""The public metric results: ``compute_metrics`` (the ``nrr metrics`` JSON) and ``quarterly_series``.

Key names are a stable interface (CLI ``--json``, board reports). Money is in the
reporting currency rounded half-up to cents; ratios are fractions (1.07, not 107)
rounded to 4 decimals; a ratio with a zero denominator is ``None`` (JSON ``null``).
Values are :class:`decimal.Decimal`; :func:`to_json` writes them as JSON numbers.
The TTM figures are measured at the period's closing month-end.
"""

from __future__ import annotations

import json
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import ibis

from engine.revenue.breakdowns import band_label_order
from engine.revenue.movements import MOVEMENTS
from engine.revenue.mrr import prepare_lines
from engine.revenue.periods import Period
from engine.revenue.retention import Figures, period_figures, series_figures
from engine.settings import RevenueSettings

CENT = Decimal("0.01")
RATIO_PLACES = Decimal("0.0001")

#: Which definition each figure follows, for reports to print next to the number.
DEFINITIONS = {
    "mrr_start": "Σ account MRR at the month-end before the period (contract lines active that day)",
    "mrr_end": "Σ account MRR at the period's last month-end",
    "arr_end": "12 × mrr_end",
    "waterfall": "month-end movements summed over the period's months; start + new + reactivation + "
    "expansion − contraction − churn = end",
    "nrr_ttm": "Σ MRR(T) ÷ Σ MRR(T−12) over accounts with MRR at T−12 (T = period end)",
    "grr_ttm": "Σ min(MRR(T), MRR(T−12)) ÷ Σ MRR(T−12) over the same accounts",
    "logo_retention_ttm": "accounts of the T−12 base still paying at T ÷ accounts in the base",
    "nrr_period": "(start + expansion − contraction − churn) ÷ start",
    "grr_period": "(start − contraction − churn) ÷ start",
    "quick_ratio": "(new + expansion + reactivation) ÷ (contraction + churn)",
    "gross_mrr_churn_rate": "(contraction + churn) ÷ start",
    "net_mrr_churn_rate": "(contraction + churn − expansion) ÷ start",
}


def cents(value: Decimal) -> Decimal:
    """Round money half-up to cents (output only)."""
    return Decimal(value).quantize(CENT, rounding=ROUND_HALF_UP)


OUTFLOWS = ("contraction", "churn")


def balanced_waterfall(start: Decimal, moves: dict[str, Decimal], end: Decimal) -> dict[str, Decimal]:
    """The waterfall rounded to cents so that the printed figures still add up.

    Start and end are rounded half-up like every other amount. Each movement is rounded
    too; the cents the identity is then off by (at most a few) go, one cent at a time, to
    the non-zero movements whose rounding moved them furthest the other way (largest
    remainder), so start + new + reactivation + expansion − contraction − churn = end holds
    on the printed numbers exactly as it does on the exact ones.
    """
    sign = {m: (-1 if m in OUTFLOWS else 1) for m in moves}
    exact = {m: sign[m] * Decimal(v) for m, v in moves.items()}
    rounded = {m: cents(v) for m, v in exact.items()}
    residual = cents(end) - cents(start) - sum(rounded.values(), Decimal(0))
    step = CENT if residual > 0 else -CENT
    candidates = sorted((m for m in exact if exact[m] != 0), key=lambda m: (exact[m] - rounded[m]) * step, reverse=True)
    for m in candidates * 3:
        if residual == 0:
            break
        rounded[m] += step
        residual -= step
    return {"start": cents(start), **{m: sign[m] * rounded[m] for m in moves}, "end": cents(end)}


def fraction(value: Decimal | None) -> Decimal | None:
    """Round a ratio to 4 decimals (output only); None stays None."""
    return None if value is None else value.quantize(RATIO_PLACES, rounding=ROUND_HALF_UP)


def as_period(period: Period | str) -> Period:
    return period if isinstance(period, Period) else Period.parse(period)


def figures_dict(f: Figures) -> dict[str, Any]:
    """The metric keys of one group (or the total), rounded for output."""
    w = f.waterfall
    return {
        "mrr_start": cents(w.start),
        "mrr_end": cents(w.end),
        "arr_end": cents(12 * w.end),
        "waterfall": balanced_waterfall(w.start, {m: getattr(w, m) for m in MOVEMENTS}, w.end),
        "nrr_ttm": fraction(f.ttm.nrr),
        "grr_ttm": fraction(f.ttm.grr),
        "logo_retention_ttm": fraction(f.ttm.logo_retention),
        "nrr_period": fraction(f.nrr_period),
        "grr_period": fraction(f.grr_period),
        "quick_ratio": fraction(f.quick_ratio),
        "accounts": dict(w.logos),
    }


def compute_metrics(
    contracts: ibis.Table,
    accounts: ibis.Table | None,
    settings: RevenueSettings,
    period: Period | str,
    by: str | None = None,
) -> dict[str, Any]:
    """All period metrics in the ``nrr metrics --json`` shape; ``by`` adds one entry per group.

    ``by`` is one of segment | arr_band | industry | owner | icp_tier. Each ``by`` entry
    has the same metric keys as the total (not period/currency/by). Raises
    RevenueDataError for bad contract lines and WaterfallError if anything fails to balance.
    """
    p = as_period(period)
    figures = period_figures(prepare_lines(contracts, settings), accounts, p, by)
    return {
        "period": p.label,
        "currency": settings.reporting_currency,
        **figures_dict(figures.total),
        "by": {g: figures_dict(figures.groups[g]) for g in sorted(figures.groups, key=band_label_order)},
    }


def quarterly_series(
    contracts: ibis.Table,
    accounts: ibis.Table | None,
    settings: RevenueSettings,
    last_quarter: Period | str,
    n: int = 8,
) -> list[dict[str, Any]]:
    """The last ``n`` quarters up to ``last_quarter``, oldest first, for trend charts.

    Each item: period, mrr_end, arr_end, nrr_ttm, grr_ttm, logo_retention_ttm,
    nrr_period, grr_period, quick_ratio (same definitions as :func:`compute_metrics`),
    gross_mrr_churn_rate = (contraction + churn) ÷ start and
    net_mrr_churn_rate = (contraction + churn − expansion) ÷ start.
    ``accounts`` is accepted for symmetry with compute_metrics; the series is company-wide.
    """
    last = as_period(last_quarter)
    if last.grain != "quarter":
        raise ValueError(f"quarterly_series needs a quarter such as 2026-Q3, got {last.label}")
    if n < 1:
        raise ValueError("n must be at least 1")
    periods = [last.shift(i - n + 1) for i in range(n)]
    figures = series_figures(prepare_lines(contracts, settings), periods)
    keep = ("mrr_end", "arr_end", "nrr_ttm", "grr_ttm", "logo_retention_ttm", "nrr_period", "grr_period", "quick_ratio")
    return [
        {"period": p.label, **{k: figures_dict(f)[k] for k in keep},
         "gross_mrr_churn_rate": fraction(f.gross_mrr_churn_rate), "net_mrr_churn_rate": fraction(f.net_mrr_churn_rate)}
        for p, f in zip(periods, figures)
    ]


def _encode(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() and value.as_tuple().exponent >= 0 else float(value)
    raise TypeError(f"cannot encode {type(value).__name__} as JSON")


def to_json(result: Any, indent: int | None = 2) -> str:
    """JSON text of a metrics/cohort result; Decimals become numbers (166.67, not "166.67")."""
    return json.dumps(result, default=_encode, indent=indent, ensure_ascii=False)
