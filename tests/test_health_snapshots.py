"""Snapshots are idempotent per account/day; deltas and drivers explain the change."""

from __future__ import annotations

import datetime as dt
import math

import pandas as pd
import pytest

from engine.health import HealthSettings, Inputs, compute_signals, score_accounts
from engine.health.drivers import deltas, driver_changes, drivers_text, format_change
from engine.health.snapshots import rebuild_history, score_history, write_snapshots
from engine.store import Store
import test_health_fixtures as fx

SETTINGS = HealthSettings(core_features=["f1", "f2", "f3", "f4"])
DAY = dt.date(2026, 6, 30)


@pytest.fixture()
def store(tmp_path):
    with Store(tmp_path / "nrr.duckdb") as s:
        yield s


def snap(account: str, day: dt.date, score: float, trend_points: float, pay_points: float) -> dict:
    sig = {
        "usage_trend": {"category": "engagement", "value": 0.0, "points": trend_points, "weight": 0.5},
        "payment_issues": {"category": "commercial", "value": 0.0, "points": pay_points, "weight": 0.5},
    }
    return dict(account_id=account, day=day, segment="smb", score=score, band="x", coverage=1.0, signals=sig)


def count(store) -> int:
    return store.con.execute("SELECT count(*) FROM score_snapshots").fetchall()[0][0]


def test_write_is_idempotent_per_account_and_day(store):
    write_snapshots(store, pd.DataFrame([snap("A", DAY, 90, 80, 100), snap("B", DAY, 50, 0, 100)]))
    write_snapshots(store, pd.DataFrame([snap("A", DAY, 70, 56, 84)]))
    assert count(store) == 2
    hist = score_history(store, "A")
    assert hist["score"].tolist() == [70] and hist["signals"][0]["usage_trend"]["points"] == 56


def test_rebuild_writes_one_row_per_account_day_and_matches_single_day_scoring(store):
    fx.load(store)
    since = DAY - dt.timedelta(days=3)
    assert rebuild_history(store, SETTINGS, since, DAY, revenue_source="files") == 12  # 3 active accounts × 4 days
    assert rebuild_history(store, SETTINGS, since, DAY, revenue_source="files") == 12
    assert count(store) == 12
    today = score_accounts(compute_signals(Inputs.from_store(store, "files"), SETTINGS, DAY), SETTINGS, DAY)
    stored = score_history(store, since=DAY)
    assert stored["score"].tolist() == today["score"].tolist()
    assert stored["signals"].tolist() == today["signals"].tolist()  # fast JSON path == dict path
    write_snapshots(store, today)
    assert count(store) == 12


def test_rebuild_rejects_reversed_range(store):
    with pytest.raises(ValueError, match="after the as-of date"):
        rebuild_history(store, SETTINGS, DAY, DAY - dt.timedelta(days=1))


def test_deltas_and_drivers(store):
    rows = [
        snap("A", DAY - dt.timedelta(days=32), 75, 60, 90),   # 30-day comparison (within 3 days slack)
        snap("A", DAY - dt.timedelta(days=7), 90, 80, 100),
        snap("A", DAY, 70, 56, 84),
        snap("B", DAY - dt.timedelta(days=11), 40, 40, 40),   # too old for the 7-day comparison
        snap("B", DAY, 45, 50, 40),
    ]
    write_snapshots(store, pd.DataFrame(rows))
    out = deltas(store, DAY).set_index("account_id")
    a = out.loc["A"]
    assert (a["score"], a["delta_7"], a["delta_30"]) == (70, -20, -5)
    # usage trend: .5×56 − .5×80 = −12; payment: .5×84 − .5×100 = −8; together the −20 of the score
    assert a["drivers"] == [("usage_trend", -12.0), ("payment_issues", -8.0)]
    assert a["drivers_text"] == "usage trend −12, failed payment −8"
    b = out.loc["B"]
    assert math.isnan(b["delta_7"]) and math.isnan(b["delta_30"]) and b["drivers"] == [] and b["drivers_text"] == ""
    a30 = deltas(store, DAY, window=30).set_index("account_id").loc["A"]
    assert a30["drivers"] == [("payment_issues", -3.0), ("usage_trend", -2.0)]  # 42−45, 28−30


def test_driver_changes_rank_filter_and_missing_signals():
    now = {"a": {"weight": 0.5, "points": 10}, "b": {"weight": 0.5, "points": 90}, "c": {"weight": 0, "points": None}}
    then = {"a": {"weight": 0.25, "points": 40}, "b": {"weight": 0.25, "points": 100}, "c": {"weight": 0.5, "points": 80}}
    # a: 5 − 10 = −5; b: 45 − 25 = +20; c: 0 − 40 = −40 (signal went missing)
    assert driver_changes(now, then) == [("c", -40.0), ("b", 20.0), ("a", -5.0)]
    assert driver_changes(now, then, top=1) == [("c", -40.0)]
    assert driver_changes({"a": {"weight": 1, "points": 50.3}}, {"a": {"weight": 1, "points": 50}}) == []
    assert [format_change(v) for v in (-12.4, 8, -0.6)] == ["−12", "+8", "−0.6"]
    assert drivers_text([("nps", 3.0), ("unknown_signal", -1.0)]) == "NPS +3, unknown_signal −1"
