"""Backtest on a book whose answer is known: churners log in a lot but shallowly.

C1, C2 (ARR 12k, 36k) end service on 2026-04-30 (churn day 05-01); H1, H2 are evergreen.
Churners: 5 users every day on one feature, 50 seats, champion never active.
Healthy: 2 users every third day on all 4 core features, 2 seats, champion active.
Month-ends 01-31, 02-28, 03-31 are 90, 62 and 31 days before 05-01 → all inside 30–120 days.
So the health score ranks every churner below every healthy account (AUC 1) while login
counts (150 vs 20 user-days) rank them the other way (AUC 0).
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from engine.health import HealthSettings
from engine.health.backtest import BacktestError, churn_events, month_ends, roc_auc, run_backtest
from engine.store import Store

SETTINGS = HealthSettings(core_features=["f1", "f2", "f3", "f4"])
D = dt.date


def _usage() -> pd.DataFrame:
    rows = []
    day = D(2025, 11, 1)
    while day <= D(2026, 3, 31):
        for acct in ("C1", "C2"):
            rows += [(acct, f"{acct}-u{i}", day, "f1", 1.0) for i in range(5)]
        if (day - D(2025, 11, 1)).days % 3 == 0:
            for acct in ("H1", "H2"):
                rows += [(acct, f"{acct}-u{i}", day, f, 2.0) for i in range(2) for f in ("f1", "f2", "f3", "f4")]
        day += dt.timedelta(days=1)
    return pd.DataFrame(rows, columns=["account_id", "user_id", "day", "feature", "quantity"])


@pytest.fixture()
def store(tmp_path):
    with Store(tmp_path / "nrr.duckdb") as s:
        s.upsert("accounts", "files", pd.DataFrame([
            dict(account_id=a, name=a, segment="mid-market", licensed_seats=seats, champion_user_id=champ)
            for a, seats, champ in [("C1", 50, "C1-nobody"), ("C2", 50, "C2-nobody"), ("H1", 2, "H1-u0"), ("H2", 2, "H2-u0")]
        ]))
        s.upsert("contracts", "files", pd.DataFrame([
            ("L1", "C1", D(2025, 1, 1), D(2026, 4, 30), "1000"), ("L2", "C2", D(2025, 1, 1), D(2026, 4, 30), "3000"),
            ("L3", "H1", D(2025, 1, 1), None, "500"), ("L4", "H2", D(2025, 1, 1), None, "500"),
        ], columns=["contract_id", "account_id", "start_date", "end_date", "mrr"]).assign(currency="USD"))
        s.upsert("usage", "files", _usage())
        yield s


def test_known_answer(store):
    r = run_backtest(store, SETTINGS, D(2026, 1, 1), D(2026, 3, 31), horizon_days=90)
    assert r.month_ends == [D(2026, 1, 31), D(2026, 2, 28), D(2026, 3, 31)]
    assert (r.observations, r.positives, r.churn_events, r.churned_arr) == (12, 6, 2, 48_000.0)
    h, b = r.health, r.baseline
    assert (h.auc, h.precision, h.recall, h.churned_arr_flagged_share, h.flagged) == (1.0, 1.0, 1.0, 1.0, 6)
    # the baseline flags as many accounts (2 per month-end), the fewest-login ones: both healthy
    assert (b.auc, b.precision, b.recall, b.churned_arr_flagged_share, b.flagged) == (0.0, 0.0, 0.0, 0.0, 6)
    assert (r.auc_lift, r.arr_share_lift) == (1.0, 1.0)
    assert r.to_dict()["health"]["auc"] == 1.0
    # churner scores are the lowest; flagging below the higher of the two churners' lows (+0.1) flags all ARR
    assert r.bar_threshold is not None and r.health_at_bar.churned_arr_flagged_share == 1.0


def test_churn_sooner_than_lead_is_left_out(store):
    # at 03-31 the churn day 05-01 is 31 days ahead; with a 45-day lead it is "too soon" and
    # the churners are dropped at that month-end; at 01-31 (90 d) and 02-28 (62 d) they count.
    r = run_backtest(store, SETTINGS, D(2026, 1, 1), D(2026, 3, 31), horizon_days=90, lead_days=45)
    assert (r.observations, r.positives) == (10, 4)


def test_no_month_end_or_no_contracts_is_a_clear_error(tmp_path, store):
    with pytest.raises(BacktestError, match="no month-end"):
        run_backtest(store, SETTINGS, D(2026, 1, 2), D(2026, 1, 20))
    with Store(tmp_path / "empty.duckdb") as empty:
        with pytest.raises(BacktestError, match="needs contract lines"):
            run_backtest(empty, SETTINGS, D(2026, 1, 1), D(2026, 3, 31))


def test_churn_events_merge_touching_lines_and_see_reactivation():
    lines = pd.DataFrame([
        ("A", D(2025, 1, 1), D(2025, 6, 30), "100"), ("A", D(2025, 7, 1), D(2025, 12, 31), "150"),  # touching
        ("A", D(2026, 3, 1), None, "200"),  # reactivated, evergreen: no later churn
        ("B", D(2025, 1, 1), D(2025, 3, 31), "50"), ("B", D(2025, 2, 1), D(2025, 5, 31), "70"),  # overlapping
        ("Z", D(2025, 1, 1), D(2025, 1, 31), "0"),  # never paid
    ], columns=["account_id", "start_date", "end_date", "mrr"])
    ev = churn_events(lines)
    assert ev.to_dict("records") == [
        {"account_id": "A", "churn_day": D(2026, 1, 1), "arr": 1800.0},  # 12 × 150 on 2025-12-31
        {"account_id": "B", "churn_day": D(2025, 6, 1), "arr": 840.0},   # 12 × 70 on 2025-05-31
    ]


def test_month_ends_and_auc_ties():
    assert month_ends(D(2024, 1, 31), D(2024, 3, 30)) == [D(2024, 1, 31), D(2024, 2, 29)]
    # positives at risk 3 and 1, negatives at 2 and 2: risk 3 outranks both negatives (2 pairs), risk 1 neither → 2/4
    assert roc_auc(np.array([3.0, 1.0, 2.0, 2.0]), np.array([True, True, False, False])) == 0.5
    assert roc_auc(np.array([1.0, 1.0]), np.array([True, False])) == 0.5  # a tie counts half
    assert roc_auc(np.array([1.0]), np.array([True])) is None


def test_threshold_for_the_arr_bar():
    # events: E1 arr 60 lowest score 40, E2 arr 30 lowest 65, E3 arr 10 lowest 90 → 80% reached at E2
    # (60 + 30 = 90% ≥ 80%), so "flag below 65.1"
    from engine.health.backtest import threshold_for_share

    t = pd.Timestamp("2026-01-31")
    obs = pd.DataFrame({"account_id": ["E1", "E2", "E3", "E2"], "t": [t, t, t, t - pd.Timedelta(days=31)],
                        "score": [40.0, 65.0, 90.0, 80.0]})
    windows = pd.DataFrame({"account_id": ["E1", "E2", "E3", "E2"], "t": [t, t, t, t - pd.Timedelta(days=31)],
                            "churn_day": [D(2026, 4, 1)] * 4, "arr": [60.0, 30.0, 10.0, 30.0]})
    assert threshold_for_share(obs, windows, 0.8) == 65.1
    assert threshold_for_share(obs, windows, 0.5) == 40.1
    assert threshold_for_share(obs, windows.iloc[0:0], 0.8) is None


@pytest.mark.slow
def test_on_the_sandbox_book_the_score_beats_login_counts(tmp_path):
    """The issue's acceptance bar, on a small generated book (120 accounts, 330 days of usage)."""
    from connectors.sandbox.book import generate_book
    from engine.records import KINDS

    book = generate_book(accounts=120, seed=7)
    with Store(tmp_path / "book.duckdb") as s:
        for kind in KINDS:
            s.upsert(kind, "files", book.usage(days=330) if kind == "usage" else book.canonical(kind))
        r = run_backtest(s, HealthSettings(), D(2026, 1, 1), book.as_of - dt.timedelta(days=120), revenue_source="files")
    assert r.churn_events >= 5
    assert r.health.auc > r.baseline.auc
    # at the alert volume that catches 80% of churned ARR, login counts catch far less
    assert r.health_at_bar.churned_arr_flagged_share >= 0.8 > r.baseline_at_bar.churned_arr_flagged_share
