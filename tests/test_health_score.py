"""Hand-computed scores: thresholds, renormalisation, segment weights, band edges, settings errors."""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError

from engine.health import HealthSettings, Inputs, compute_signals, score_accounts
from engine.health.score import score_wide, signal_points
from engine.store import Store
import test_health_fixtures as fx

DEFAULT = HealthSettings()
DAY = dt.date(2026, 6, 30)


def frame(rows: list[dict], settings: HealthSettings = DEFAULT) -> pd.DataFrame:
    base = {n: np.nan for n in settings.signals}
    return pd.DataFrame([{**base, **r} for r in rows])


def test_thresholds_interpolate_and_clamp():
    t = DEFAULT.signals["seat_utilisation"].thresholds  # (0.3,0) (0.4,15) (0.5,40) (0.6,70) (0.75,100)
    got = signal_points(np.array([0.45, -1.0, 5.0, np.nan, 0.3, 0.7]), t)
    # 0.45 is half-way from 0.4 to 0.5 → 15 + 0.5 × 25 = 27.5; below/above the ends → 0 / 100;
    # 0.3 is the first breakpoint → 0; 0.7 is 2/3 of the way from 0.6 to 0.75 → 70 + 2/3 × 30 = 90
    assert got[:3].tolist() == [27.5, 0, 100] and math.isnan(got[3]) and got[4] == 0
    assert got[5] == pytest.approx(90)
    assert signal_points(np.array([0.5]), DEFAULT.signals["ticket_volume_ratio"].thresholds)[0] == 100


@pytest.mark.parametrize(
    ("segment", "expected", "coverage"),
    [
        # commercial signal weights: renewal 1, payment 0.5, contraction 0.5 → payment gets 0.5/2 of the category
        # mid-market (35/25/20/20): w_fb = .35/3, w_ut = .25/4, w_pay = .20 × .25 = .05; coverage .229167
        # (.116667×75 + .0625×13.3333 + .05×40) / .229167 = (8.75 + .833333 + 2) / .229167 = 11.5833 / .229167 = 50.55
        ("mid-market", 50.5, 0.2292),
        # enterprise (25/40/15/20, champion & sponsor ×1.5): w_fb = .25/3, w_ut = .40×1/5 = .08, w_pay = .20 × .25 = .05
        # (.083333×75 + .08×13.3333 + .05×40) / .213333 = (6.25 + 1.066667 + 2) / .213333 = 9.316667 / .213333 = 43.67
        ("enterprise", 43.7, 0.2133),
        # smb (45/25/15/15): w_fb = .15, w_ut = .0625, w_pay = .15 × .25 = .0375; coverage .25
        # (.15×75 + .0625×13.3333 + .0375×40) / .25 = (11.25 + .833333 + 1.5) / .25 = 13.5833 / .25 = 54.33
        ("smb", 54.3, 0.25),
        ("self-serve", 54.3, 0.25),
        (None, 50.5, 0.2292),  # no segment → default weights
    ],
)
def test_renormalised_score_per_segment(segment, expected, coverage):
    # points: feature_breadth 0.9 → 75 (a breakpoint); usage_trend -0.2 is 1/3 of the way from -0.25 (0) to
    # -0.1 (40) → 13.3333; payment_issues 1 → 40; the rest missing
    df = frame([{"account_id": "X", "segment": segment, "feature_breadth": 0.9, "usage_trend": -0.2, "payment_issues": 1}])
    out = score_accounts(df, DEFAULT, DAY).iloc[0]
    assert out["score"] == expected
    assert out["coverage"] == pytest.approx(coverage, abs=1e-4)
    weights = [s["weight"] for s in out["signals"].values() if s["value"] is not None]
    assert sum(weights) == pytest.approx(1, abs=1e-3)  # effective weights renormalised over present signals
    assert out["signals"]["nps"] == {"category": "support", "value": None, "points": None, "weight": 0.0}


def test_full_coverage_score_is_plain_weighted_mean():
    # every signal present with 100 points except the three adoption ones at 0:
    # adoption carries 35% → score = 65.0 for mid-market, 55.0 for smb (45%)
    good = {"feature_breadth": 0, "seat_utilisation": 0, "usage_depth": 0, "usage_trend": 1, "active_user_trend": 1,
            "champion_days_silent": 0, "sponsor_days_silent": 0, "ticket_volume_ratio": 1, "open_high_priority": 0,
            "ticket_sentiment": 1, "nps": 10, "csat": 5, "days_to_renewal": 365, "payment_issues": 0,
            "contraction_90d": 0}
    df = frame([{"account_id": "M", "segment": "mid-market", **good}, {"account_id": "S", "segment": "smb", **good}])
    out = score_accounts(df, DEFAULT, DAY).set_index("account_id")
    assert out.loc["M", "score"] == 65.0 and out.loc["S", "score"] == 55.0
    assert out.loc["M", "coverage"] == 1.0 and out.loc["M", "band"] == "At risk"


IDENTITY = HealthSettings(signals={"feature_breadth": {"thresholds": [[0, 0], [100, 100]]}})


@pytest.mark.parametrize(
    ("value", "band"),
    [(100, "Thriving"), (85, "Thriving"), (84.96, "Thriving"), (84.9, "Healthy"), (70, "Healthy"),
     (69.9, "At risk"), (50, "At risk"), (49.9, "Critical"), (25, "Critical"), (24.9, "Churning"), (0, "Churning")],
)
def test_band_edges(value, band):
    # only feature_breadth present, mapped 1:1 to points → score = value rounded to 1 dp
    out = score_accounts(frame([{"account_id": "B", "segment": "smb", "feature_breadth": value}], IDENTITY), IDENTITY, DAY)
    assert out.iloc[0]["band"] == band
    assert out.iloc[0]["score"] == round(value, 1)


def test_account_without_any_signal_has_no_score():
    out = score_wide(frame([{"account_id": "N", "segment": "smb"}]), DEFAULT).iloc[0]
    assert math.isnan(out["score"]) and out["band"] is None and out["coverage"] == 0


def test_fixture_enterprise_account_by_hand(tmp_path):
    # A2 (enterprise): points fb 0.25→0 (below 0.6), seats 0.1→0 (below 0.3), depth 1→0 (below 5.5),
    # champion 1 d→100, ticket ratio 1→100 (below 1.25), open 0→100, payment 0→100, contraction 0→100.
    # weights: adoption .25/3 = .083333 ×3; champion .40 × 1.5/5 = .12; support units tv .5 + open .5 +
    # sentiment 1 + nps .5 + csat .5 = 3 → tv, open .15 × .5/3 = .025 each; commercial renewal 1 + payment .5 +
    # contraction .5 = 2 → payment, contraction .20 × .5/2 = .05 each; coverage .25 + .12 + .05 + .10 = .52
    # sum = .12×100 + .025×200 + .05×200 = 12 + 5 + 10 = 27 → 27 / .52 = 51.92
    with Store(tmp_path / "nrr.duckdb") as s:
        fx.load(s)
        settings = HealthSettings(core_features=["f1", "f2", "f3", "f4"])
        out = score_accounts(compute_signals(Inputs.from_store(s, "files"), settings, fx.AS_OF), settings, fx.AS_OF)
    a2 = out.set_index("account_id").loc["A2"]
    assert (a2["score"], a2["band"], a2["coverage"]) == (51.9, "At risk", pytest.approx(0.52, abs=1e-4))
    assert list(out.columns) == ["account_id", "day", "segment", "score", "band", "coverage", "signals"]
    assert a2["signals"]["champion_days_silent"]["points"] == 100


def test_segment_override_changes_weights():
    s = HealthSettings(segments={"enterprise": {"categories": {"adoption": 50, "engagement": 50}}})
    w = s.signal_weights("enterprise")
    assert w["feature_breadth"] == pytest.approx(0.5 / 3) and w["nps"] == 0
    assert sum(w.values()) == pytest.approx(1)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"categories": {"adoption": 35, "usage": 65}}, "unknown categories"),
        ({"signals": {"login_count": {"thresholds": [[0, 0]]}}}, "unknown signal 'login_count'"),
        ({"signals": {"nps": {"thresholds": [[5, 0], [3, 100]]}}}, "must increase"),
        ({"signals": {"nps": {"thresholds": [[0, 0], [10, 120]]}}}, "between 0 and 100"),
        ({"bands": {"thriving": 60, "healthy": 70}}, "thriving > healthy"),
        ({"segments": {"smb": {"signals": {"logins": 2}}}}, "unknown signals"),
        ({"colour": "red"}, "Extra inputs"),
    ],
)
def test_bad_settings_name_the_problem(kwargs, message):
    with pytest.raises(ValidationError, match=message):
        HealthSettings(**kwargs)


def test_partial_signal_override_keeps_other_fields():
    s = HealthSettings(signals={"nps": {"thresholds": [[0, 0], [10, 100]]}})
    assert s.signals["nps"].category == "support" and s.signals["nps"].label == "NPS"
    assert s.signals["csat"] == DEFAULT.signals["csat"]
