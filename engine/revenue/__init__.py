"""Revenue metrics: MRR, movements, NRR/GRR/logo retention, waterfall, cohorts, breakdowns.

Inputs are Ibis tables of canonical contract lines (and accounts for breakdowns) plus
:class:`engine.settings.RevenueSettings`; every function takes an explicit period or
as-of date and is pure, so the same code runs on DuckDB and PySpark. Definitions are
those of the design's "Revenue definitions"; each module's docstring states its formulas.

Modules: ``periods`` (Period, month indices), ``validate`` (bad contract lines),
``mrr`` (MRR on a day and at month-ends), ``movements`` (new/expansion/contraction/
churn/reactivation and the waterfall check), ``retention`` (TTM and period ratios),
``breakdowns`` (segment, ARR band, …), ``metrics`` (the ``nrr metrics`` result),
``cohorts`` and ``churn_timing``.
"""

from engine.revenue.breakdowns import ARR_BANDS, GROUPINGS
from engine.revenue.churn_timing import BUCKETS, churn_timing
from engine.revenue.cohorts import CohortMatrix, cohort_matrix
from engine.revenue.errors import RevenueDataError, RevenueError, WaterfallError
from engine.revenue.metrics import DEFINITIONS, compute_metrics, quarterly_series, to_json
from engine.revenue.movements import Waterfall, monthly_movements
from engine.revenue.mrr import account_mrr_on, month_end_mrr, monthly_amount, prepare_lines
from engine.revenue.periods import Period
from engine.revenue.retention import Figures, PeriodFigures, period_figures

#: Errors the CLI reports as one clear line instead of a traceback.
USER_ERRORS = (RevenueError,)

__all__ = [
    "ARR_BANDS",
    "BUCKETS",
    "CohortMatrix",
    "DEFINITIONS",
    "Figures",
    "GROUPINGS",
    "Period",
    "PeriodFigures",
    "RevenueDataError",
    "RevenueError",
    "USER_ERRORS",
    "Waterfall",
    "WaterfallError",
    "account_mrr_on",
    "churn_timing",
    "cohort_matrix",
    "compute_metrics",
    "month_end_mrr",
    "monthly_amount",
    "monthly_movements",
    "period_figures",
    "prepare_lines",
    "quarterly_series",
    "to_json",
]
