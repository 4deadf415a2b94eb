"""Customer health: signals, scores, daily snapshots, drivers of change and the backtest.

Public API (other engine areas and the CLI depend on these names)::

    Inputs.from_store(store, revenue_source) -> Inputs
    compute_signals(records, settings, as_of) -> ibis.Table
    score_accounts(signals, settings, as_of) -> pandas.DataFrame
    write_snapshots(store, scores), score_and_store(store, settings, as_of)
    rebuild_history(store, settings, since, until), score_history(store, account_id=None, since=None)
    deltas(store, as_of) -> pandas.DataFrame
    account_health(store, settings, key, as_of) -> AccountHealth
    run_backtest(store, settings, start, end, horizon_days=90) -> BacktestResult
"""

from engine.health.account import AccountHealth, account_health, find_account
from engine.health.backtest import BacktestResult, run_backtest
from engine.health.drivers import deltas
from engine.health.errors import AccountNotFound, BacktestError, HealthError
from engine.health.inputs import Inputs
from engine.health.score import score_accounts
from engine.health.settings import HealthSettings
from engine.health.signals import compute_signals
from engine.health.snapshots import rebuild_history, score_and_store, score_history, write_snapshots

#: Errors the CLI reports as one line (see nrr/cli.py).
USER_ERRORS = (HealthError,)

__all__ = [
    "AccountHealth", "AccountNotFound", "BacktestError", "BacktestResult", "HealthError", "HealthSettings", "Inputs",
    "USER_ERRORS", "account_health", "compute_signals", "deltas", "find_account", "rebuild_history", "run_backtest",
    "score_accounts", "score_and_store", "score_history", "write_snapshots",
]
