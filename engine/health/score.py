"""From signal values to a 0–100 health score, a band and the data coverage.

For an account of segment g, with signal values v_s:

    points_s  = interp(v_s, thresholds_s)                 (0–100, see settings)
    w_s       = W_c(g)/ΣW(g) × sw_s(g)/Σ_{s'∈c} sw_s'(g)   (signal s in category c; Σ_s w_s = 1)
    P         = signals with a value (missing ones are left out)
    coverage  = Σ_{s∈P} w_s                                (share of the weight that had data)
    score     = Σ_{s∈P} w_s × points_s ÷ coverage          (weights renormalised over P)

The score is rounded to 1 dp and the band read from the rounded score, so what a person
sees (84.9 → Healthy, 85.0 → Thriving) is what was banded. An account
without any signal has no score (NULL) and no band.
"""

from __future__ import annotations

import datetime as dt

import ibis
import numpy as np
import pandas as pd

from engine.health.settings import HealthSettings

PUBLIC_COLUMNS = ["account_id", "day", "segment", "score", "band", "coverage", "signals"]


def signal_points(values: np.ndarray, thresholds: list[tuple[float, float]]) -> np.ndarray:
    """Piecewise-linear map value → points, flat outside the breakpoints; NaN stays NaN."""
    xs = np.array([x for x, _ in thresholds], dtype=float)
    ys = np.array([y for _, y in thresholds], dtype=float)
    out = np.interp(values, xs, ys)
    return np.where(np.isnan(values), np.nan, out)


def _weight_matrix(segments: pd.Series, settings: HealthSettings) -> np.ndarray:
    names = list(settings.signals)
    seg = segments.fillna("").astype(str).str.lower()
    table = {s: [settings.signal_weights(s)[n] for n in names] for s in seg.unique()}
    return np.array([table[s] for s in seg], dtype=float).reshape(len(seg), len(names))


def score_wide(signals: pd.DataFrame, settings: HealthSettings) -> pd.DataFrame:
    """Score a frame of signal values; one row per account with ``v__/p__/w__<signal>`` columns.

    ``w__`` is the signal's effective weight in this account's score (renormalised, so the
    present signals' weights sum to 1) and ``w × p`` its contribution in score points.
    """
    names = list(settings.signals)
    values = signals[names].to_numpy(dtype=float, na_value=np.nan)
    points = np.column_stack([signal_points(values[:, i], settings.signals[n].thresholds) for i, n in enumerate(names)]) \
        if len(signals) else np.empty((0, len(names)))
    weights = np.where(np.isnan(values), 0.0, _weight_matrix(signals["segment"], settings))
    coverage = weights.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        eff = weights / coverage[:, None]
        raw = np.nansum(eff * np.nan_to_num(points), axis=1)
    score = np.where(coverage > 0, np.round(raw, 1), np.nan)
    out = pd.DataFrame({
        "account_id": signals["account_id"].astype(str).to_numpy(),
        "segment": signals["segment"].to_numpy(),
        "score": score,
        "band": [settings.bands.band(s) if not np.isnan(s) else None for s in score],
        "coverage": np.round(coverage, 4),
    })
    cols = {}
    for i, n in enumerate(names):
        cols[f"v__{n}"] = values[:, i]
        cols[f"p__{n}"] = np.round(points[:, i], 2)
        cols[f"w__{n}"] = np.round(np.nan_to_num(eff[:, i]), 4)
    return pd.concat([out, pd.DataFrame(cols, index=out.index)], axis=1)


def _num(x: float) -> float | None:
    return None if np.isnan(x) else float(x)


def wide_to_signal_dicts(wide: pd.DataFrame, settings: HealthSettings) -> list[dict]:
    """The per-account ``{signal: {category, value, points, weight}}`` dictionaries."""
    names = list(settings.signals)
    cats = [settings.signals[n].category for n in names]
    v = wide[[f"v__{n}" for n in names]].to_numpy(dtype=float)
    p = wide[[f"p__{n}" for n in names]].to_numpy(dtype=float)
    w = wide[[f"w__{n}" for n in names]].to_numpy(dtype=float)
    return [
        {n: {"category": cats[j], "value": _num(v[i, j]), "points": _num(p[i, j]), "weight": float(w[i, j])}
         for j, n in enumerate(names)}
        for i in range(len(wide))
    ]


def score_accounts(signals: ibis.Table | pd.DataFrame, settings: HealthSettings, as_of: dt.date) -> pd.DataFrame:
    """``account_id, day, segment, score, band, coverage, signals`` for every row of ``signals``."""
    frame = signals.to_pandas() if isinstance(signals, ibis.Table) else signals
    wide = score_wide(frame, settings)
    out = wide[["account_id", "segment", "score", "band", "coverage"]].copy()
    out.insert(1, "day", as_of)
    out["signals"] = wide_to_signal_dicts(wide, settings)
    return out[PUBLIC_COLUMNS].sort_values("account_id", ignore_index=True)
