"""Customer health: signals, scores, daily snapshots, drivers of change and the backtest.

Public API (other engine areas and the CLI depend on these names)::

    Inputs.from_store(store, revenue_source) -> Inputs
    compute_signals(records, settings, as_of) -> ibis.Table
    score_accounts(signals, settings, as_of) -> pandas.DataFrame
    write_snapshots(store, scores), rebuild_history(store, settings, since, until)
    score_history(store, account_id=None, since=None), deltas(store, as_of)
    run_backtest(store, settings, start, end, horizon_days=90) -> BacktestResult
"""

from engine.health.inputs import Inputs
from engine.health.score import score_accounts
from engine.health.settings import HealthSettings
from engine.health.signals import compute_signals

__all__ = ["HealthSettings", "Inputs", "compute_signals", "score_accounts"]
