"""Backtest: does the health score predict churn, and does it beat counting logins?

Every active account is scored at each month-end t in ``[start, end]`` from the data as it
stood then (the engine is a pure function of ``as_of``). An observation (account, t) is
*positive* when the account churns between ``t + lead_days`` and ``t + lead_days +
horizon_days`` (30–120 days ahead by default); accounts that churn sooner than ``lead_days``
after t are left out at that t, because a warning that late cannot be acted on.

* churn day: the first day an account has no contract line with MRR > 0 after having had one
  (lines that touch or overlap count as continuous service); churned ARR = 12 × MRR the day
  before.
* flagged: score below the at-risk threshold (``settings.flag_below``, 70 by default).
* ROC AUC of the risk ranking (lower score = riskier; Mann–Whitney with tied ranks averaged;
  an account without any signal counts as a neutral 50).
* precision / recall of "flagged" over all observations.
* churned-ARR share flagged ≥ lead days ahead: over churn events that had at least one
  scoring month-end 30–120 days before them, the ARR of those flagged at one of those
  month-ends ÷ all their ARR. The domain bar is 80%.

The baseline ranks accounts by login count only — distinct (user, day) pairs with any usage
in the 30 days to t — and, to compare at equal alert volume, flags at each t the same number
of accounts (the fewest logins) as the health score flagged.

Both are also evaluated at ``bar_threshold``: the lowest "flag below" score at which the
health score would have flagged 80% of churned ARR — what the at-risk threshold would have to
be on this book, and the precision that costs (use it to recalibrate ``[health.bands]``).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass, field

import ibis
import numpy as np
import pandas as pd

from engine.health.errors import BacktestError
from engine.health.inputs import Inputs
from engine.health.score import score_wide
from engine.health.settings import HealthSettings
from engine.health.signals import compute_signals
from engine.store import Store


#: The domain notes' bar for a predictive score: 80% of churn flagged 30+ days out.
ARR_BAR = 0.8


@dataclass(frozen=True)
class ModelResult:
    name: str
    auc: float | None
    precision: float | None
    recall: float | None
    churned_arr_flagged_share: float | None
    flagged: int


@dataclass(frozen=True)
class BacktestResult:
    start: dt.date
    end: dt.date
    horizon_days: int
    lead_days: int
    month_ends: list[dt.date]
    observations: int
    positives: int
    churn_events: int
    churned_arr: float
    health: ModelResult
    baseline: ModelResult
    threshold: float = 70.0
    bar_threshold: float | None = None
    health_at_bar: ModelResult | None = None
    baseline_at_bar: ModelResult | None = None
    auc_lift: float | None = field(default=None)
    arr_share_lift: float | None = field(default=None)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["start"], d["end"] = self.start.isoformat(), self.end.isoformat()
        d["month_ends"] = [m.isoformat() for m in self.month_ends]
        return d


def month_ends(start: dt.date, end: dt.date) -> list[dt.date]:
    """Every calendar month-end in ``[start, end]``."""
    out, year, month = [], start.year, start.month
    while True:
        nxt = dt.date(year + month // 12, month % 12 + 1, 1)
        last = nxt - dt.timedelta(days=1)
        if last > end:
            return out
        if last >= start:
            out.append(last)
        year, month = nxt.year, nxt.month


def churn_events(contracts: pd.DataFrame) -> pd.DataFrame:
    """``[account_id, churn_day, arr]``: days an account's paid service stops (see module doc)."""
    c = contracts[contracts["mrr"].astype(float) > 0].copy()
    c["start"] = pd.to_datetime(c["start_date"])
    c["end"] = pd.to_datetime(c["end_date"])
    rows = []
    for account, lines in c.sort_values(["account_id", "start"]).groupby("account_id", sort=False):
        for stop in _coverage_ends(lines):
            before = stop - pd.Timedelta(days=1)
            live = (lines["start"] <= before) & (lines["end"].isna() | (lines["end"] >= before))
            rows.append((account, stop.date(), 12 * float(lines.loc[live, "mrr"].astype(float).sum())))
    return pd.DataFrame(rows, columns=["account_id", "churn_day", "arr"])


def _coverage_ends(lines: pd.DataFrame) -> list[pd.Timestamp]:
    """Day after each maximal run of covered days; none for a run that is still evergreen."""
    ends, run_end = [], None
    for start, end in zip(lines["start"], lines["end"]):
        if run_end is not None and start > run_end + pd.Timedelta(days=1):
            ends.append(run_end + pd.Timedelta(days=1))
            run_end = None
        end = pd.Timestamp.max if pd.isna(end) else end
        run_end = end if run_end is None else max(run_end, end)
    if run_end is not None and run_end != pd.Timestamp.max:
        ends.append(run_end + pd.Timedelta(days=1))
    return ends


def login_counts(usage: ibis.Table | None, as_of: dt.date) -> pd.DataFrame:
    """``[account_id, logins]``: distinct (user, day) pairs with usage in the 30 days to ``as_of``."""
    if usage is None:
        return pd.DataFrame({"account_id": pd.Series(dtype=str), "logins": pd.Series(dtype=float)})
    u = usage.filter((usage.day > as_of - dt.timedelta(days=30)) & (usage.day <= as_of))
    pairs = u.select("account_id", "user_id", "day").distinct()
    return pairs.group_by("account_id").aggregate(logins=pairs.count()).to_pandas()


def roc_auc(risk: np.ndarray, positive: np.ndarray) -> float | None:
    """P(a random positive ranks riskier than a random negative), ties counted half."""
    n_pos, n_neg = int(positive.sum()), int((~positive).sum())
    if n_pos == 0 or n_neg == 0:
        return None
    ranks = pd.Series(risk).rank(method="average").to_numpy()
    return float((ranks[positive].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def _observations(records: Inputs, settings: HealthSettings, ends: list[dt.date]) -> pd.DataFrame:
    """``[account_id, t, score, logins]`` for every account active at each month-end."""
    frames = []
    for t in ends:
        scored = score_wide(compute_signals(records, settings, t).to_pandas(), settings)[["account_id", "score"]]
        obs = scored.merge(login_counts(records.usage, t), on="account_id", how="left")
        obs["logins"] = obs["logins"].fillna(0).astype(float)
        obs["t"] = pd.Timestamp(t)
        frames.append(obs)
    obs = pd.concat(frames, ignore_index=True)
    obs["score"] = obs["score"].fillna(50.0)
    return obs


def _label(obs: pd.DataFrame, events: pd.DataFrame, lead: int, horizon: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Observations labelled ``positive`` (too-soon ones dropped) and the (event, observation) pairs in window."""
    pairs = obs[["account_id", "t"]].merge(events, on="account_id")
    pairs["gap"] = (pd.to_datetime(pairs["churn_day"]) - pairs["t"]).dt.days
    in_window = pairs[(pairs["gap"] >= lead) & (pairs["gap"] <= lead + horizon)]
    too_soon = pairs[(pairs["gap"] > 0) & (pairs["gap"] < lead)]
    key = ["account_id", "t"]
    obs = obs.merge(too_soon[key].drop_duplicates().assign(too_soon=True), on=key, how="left")
    obs = obs[obs["too_soon"].isna()].drop(columns="too_soon")
    obs = obs.merge(in_window[key].drop_duplicates().assign(positive=True), on=key, how="left")
    obs["positive"] = obs["positive"].fillna(False).astype(bool)
    return obs.reset_index(drop=True), in_window[[*key, "churn_day", "arr"]]


def _flags(obs: pd.DataFrame, threshold: float) -> pd.DataFrame:
    """Health flags (score < threshold) and, at each t, as many fewest-login baseline flags."""
    obs = obs.sort_values(["t", "logins", "account_id"], kind="stable").reset_index(drop=True)
    obs["health_flag"] = obs["score"] < threshold
    quota = obs.groupby("t")["health_flag"].transform("sum")
    obs["baseline_flag"] = obs.groupby("t").cumcount() < quota
    return obs


def _model(name: str, obs: pd.DataFrame, windows: pd.DataFrame, risk: np.ndarray, flag_col: str) -> ModelResult:
    pos, flag = obs["positive"].to_numpy(), obs[flag_col].to_numpy()
    tp = int((pos & flag).sum())
    hits = windows.merge(obs[["account_id", "t", flag_col]], on=["account_id", "t"])
    per_event = hits.groupby(["account_id", "churn_day"]).agg(arr=("arr", "first"), hit=(flag_col, "any"))
    total = float(per_event["arr"].sum())
    return ModelResult(
        name=name,
        auc=roc_auc(risk, pos),
        precision=tp / int(flag.sum()) if flag.sum() else None,
        recall=tp / int(pos.sum()) if pos.sum() else None,
        churned_arr_flagged_share=float(per_event.loc[per_event["hit"], "arr"].sum()) / total if total else None,
        flagged=int(flag.sum()),
    )


def _evaluate(obs: pd.DataFrame, windows: pd.DataFrame, threshold: float) -> tuple[ModelResult, ModelResult]:
    obs = _flags(obs, threshold)
    return (_model("health score", obs, windows, -obs["score"].to_numpy(), "health_flag"),
            _model("login count", obs, windows, -obs["logins"].to_numpy(), "baseline_flag"))


def threshold_for_share(obs: pd.DataFrame, windows: pd.DataFrame, share: float) -> float | None:
    """The lowest "flag below" score that flags ``share`` of churned ARR ahead of time.

    Per churn event, the lowest score it had in its window; events sorted by it; the
    threshold is 0.1 above the score at which their cumulative ARR reaches ``share``.
    """
    lows = windows.merge(obs[["account_id", "t", "score"]], on=["account_id", "t"])
    lows = lows.groupby(["account_id", "churn_day"]).agg(arr=("arr", "first"), low=("score", "min")).sort_values("low")
    total = lows["arr"].sum()
    if not total:
        return None
    reached = lows["arr"].cumsum() / total >= share - 1e-12
    return round(float(lows.loc[reached, "low"].iloc[0]) + 0.1, 1)


def _diff(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None else a - b


def run_backtest(
    store: Store,
    settings: HealthSettings,
    start: dt.date,
    end: dt.date,
    horizon_days: int = 90,
    *,
    lead_days: int = 30,
    revenue_source: str | None = None,
) -> BacktestResult:
    """Score every month-end in ``[start, end]`` and compare with later churn (module doc)."""
    ends = month_ends(start, end)
    if not ends:
        raise BacktestError(f"no month-end between {start} and {end}: widen --from or the as-of date")
    records = Inputs.from_store(store, revenue_source)
    if records.contracts is None:
        raise BacktestError("the backtest needs contract lines to know who churned: import or sync contracts first")
    events = churn_events(records.contracts.select("account_id", "start_date", "end_date", "mrr").to_pandas())
    obs, windows = _label(_observations(records, settings, ends), events, lead_days, horizon_days)
    health, baseline = _evaluate(obs, windows, settings.flag_below)
    bar = threshold_for_share(obs, windows, ARR_BAR)
    at_bar = _evaluate(obs, windows, bar) if bar is not None else (None, None)
    counted = windows.drop_duplicates(["account_id", "churn_day"])
    return BacktestResult(
        start=start, end=end, horizon_days=horizon_days, lead_days=lead_days, month_ends=ends,
        observations=len(obs), positives=int(obs["positive"].sum()), churn_events=len(counted),
        churned_arr=float(counted["arr"].sum()), health=health, baseline=baseline,
        threshold=settings.flag_below, bar_threshold=bar, health_at_bar=at_bar[0], baseline_at_bar=at_bar[1],
        auc_lift=_diff(health.auc, baseline.auc),
        arr_share_lift=_diff(health.churned_arr_flagged_share, baseline.churned_arr_flagged_share),
    )
