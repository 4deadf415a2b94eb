"""Signal values on the hand-checked fixture of tests/health_fixtures.py (as of 2026-06-30)."""

from __future__ import annotations

import math

import pytest

from engine.health import HealthSettings, Inputs, compute_signals
from engine.health.sentiment import default_scorer
from engine.store import Store
import test_health_fixtures as fx

SETTINGS = HealthSettings(core_features=["f1", "f2", "f3", "f4"])


@pytest.fixture()
def store(tmp_path):
    with Store(tmp_path / "nrr.duckdb") as s:
        yield fx.load(s)


def signals_of(store, **kw):
    df = compute_signals(Inputs.from_store(store, "files"), kw.get("settings", SETTINGS), fx.AS_OF).to_pandas()
    return {r["account_id"]: r for r in df.to_dict("records")}


def test_churned_account_is_not_scored_and_segment_is_lowercased(store):
    rows = signals_of(store)
    assert sorted(rows) == ["A1", "A2", "A3"]  # A4's last line ended 2026-03-31
    assert rows["A2"]["segment"] == "enterprise"


def test_adoption_and_engagement_signals(store):
    a1 = signals_of(store)["A1"]
    # cur window 06-01..06-30: u1 {f1,f2} q=15, u2 {f1} q=5; prior 05-02..05-31: u1 10, u2 10, u3 20.
    assert a1["feature_breadth"] == pytest.approx(2 / 4)  # {f1,f2} of 4 core features
    assert a1["seat_utilisation"] == pytest.approx(2 / 4)  # 2 active users / 4 seats
    assert a1["usage_depth"] == pytest.approx((2 + 1) / 2)  # mean distinct features per active user
    assert a1["usage_trend"] == pytest.approx(20 / 40 - 1)  # -0.5
    assert a1["active_user_trend"] == pytest.approx(2 / 3 - 1)
    assert a1["champion_days_silent"] == 10  # u1 last on 06-20
    assert a1["sponsor_days_silent"] == 75  # u9 last on 04-16: 14 + 31 + 30


def test_signals_without_history_or_people(store):
    rows = signals_of(store)
    a2, a3 = rows["A2"], rows["A3"]
    assert math.isnan(a2["usage_trend"]) and math.isnan(a2["active_user_trend"])  # nothing in the prior 30 days
    assert math.isnan(a2["sponsor_days_silent"])  # no sponsor named
    assert a2["seat_utilisation"] == pytest.approx(1 / 10)
    # A3 has no usage at all while the book has usage: zero, not missing; champion silent ≥ cap (90).
    assert (a3["feature_breadth"], a3["seat_utilisation"], a3["usage_depth"]) == (0, 0, 0)
    assert a3["champion_days_silent"] == 90


def test_support_signals(store):
    rows = signals_of(store)
    a1 = rows["A1"]
    # tickets last 30 d: T1, T2 (2); prior 90 d (03-02..05-31): T3 (1) → (2+1)/(1/3+1) = 2.25
    assert a1["ticket_volume_ratio"] == pytest.approx(3 / (1 / 3 + 1))
    assert a1["open_high_priority"] == 1  # T1 high and open; T3 urgent but closed
    assert a1["csat"] == pytest.approx((4 + 2) / 2)
    scorer = default_scorer()
    expected = sum(scorer.score_ticket(t["subject"], t["body"]) for t in fx.tickets().to_dict("records")) / 3
    assert a1["ticket_sentiment"] == pytest.approx(expected)
    assert a1["nps"] == pytest.approx((8 + 6) / 2)  # the 2025-12-01 answer is older than 180 days
    # A2: no tickets → ratio (0+1)/(0+1) = 1, nothing open, no sentiment, no CSAT, no NPS
    a2 = rows["A2"]
    assert a2["ticket_volume_ratio"] == 1 and a2["open_high_priority"] == 0
    assert math.isnan(a2["ticket_sentiment"]) and math.isnan(a2["csat"]) and math.isnan(a2["nps"])


def test_commercial_signals(store):
    rows = signals_of(store)
    a1 = rows["A1"]
    assert a1["days_to_renewal"] == 63  # L1 ends 08-31 → renews 09-01, 63 days after 06-30
    assert a1["payment_issues"] == 3  # I1 overdue, I3 paid only after as_of, I4 failed; I2 not due, I5 void
    assert a1["contraction_90d"] == pytest.approx(1 - 1000 / 1500)  # L2 (500) ended 05-15; as_of-90 = 04-01
    assert a1["mrr"] == 1000
    a2, a3 = rows["A2"], rows["A3"]
    assert math.isnan(a2["days_to_renewal"]) and a2["contraction_90d"] == 0 and a2["payment_issues"] == 0
    assert a3["days_to_renewal"] == 305 and math.isnan(a3["contraction_90d"])  # no MRR 90 days ago


def test_kinds_without_rows_give_missing_signals(tmp_path):
    with Store(tmp_path / "nrr.duckdb") as s:
        fx.load(s, with_tickets=False)
        rows = signals_of(s)
    for name in ("ticket_volume_ratio", "open_high_priority", "ticket_sentiment", "csat"):
        assert math.isnan(rows["A1"][name]), name


def test_core_features_default_to_features_seen_in_last_90_days(store):
    rows = signals_of(store, settings=HealthSettings())
    # features used book-wide 04-02..06-30: f1, f2, f3 (f4 only in January) → A1 used {f1,f2} of 3
    assert rows["A1"]["feature_breadth"] == pytest.approx(2 / 3)
