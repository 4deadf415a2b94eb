"""Inputs the `nrr run` steps share: stored scores read without the signal JSON, and the
playbook assignment's per-account lookups (plain dictionaries instead of DataFrame filters)."""

from __future__ import annotations

import datetime as dt

import pandas as pd

from engine.playbooks import PlaybookSettings, assign_playbooks
from engine.store import Store
from nrr.commands.triggers import stored_scores

AS_OF = dt.date(2026, 11, 15)


def _snapshot(con, account: str, day: dt.date, score: float, band: str) -> None:
    con.execute("INSERT INTO score_snapshots VALUES (?, ?, 'smb', ?, ?, 1.0, '{\"x\": {}}', now())",
                [account, day, score, band])


def test_stored_scores_window_is_the_14_days_before_and_on_as_of(tmp_path):
    with Store(tmp_path / "s.duckdb") as store:
        con = store.con
        _snapshot(con, "b", AS_OF, 61.0, "Watch")
        _snapshot(con, "a", AS_OF, 80.5, "Healthy")
        _snapshot(con, "a", AS_OF - dt.timedelta(days=14), 70.0, "Healthy")   # first day of the window
        _snapshot(con, "a", AS_OF - dt.timedelta(days=15), 10.0, "Critical")  # one day too old
        _snapshot(con, "a", AS_OF + dt.timedelta(days=1), 99.0, "Healthy")    # after as_of: never seen
        _snapshot(con, "c", AS_OF - dt.timedelta(days=1), 40.0, "At risk")     # not scored on as_of
        scores, history = stored_scores(store, AS_OF)
    assert list(scores.columns) == ["account_id", "score", "band"]
    assert scores.to_dict("records") == [{"account_id": "a", "score": 80.5, "band": "Healthy"},
                                         {"account_id": "b", "score": 61.0, "band": "Watch"}]
    # ordered by account, then day; days are datetime.date
    assert [(r.account_id, r.day, r.score) for r in history.itertuples()] == [
        ("a", dt.date(2026, 11, 1), 70.0), ("a", AS_OF, 80.5), ("b", AS_OF, 61.0), ("c", dt.date(2026, 11, 14), 40.0)]


def test_playbook_lookups_with_several_triggers_and_missing_deltas():
    scores = pd.DataFrame([{"account_id": "x", "score": 90.0, "band": "Healthy"},
                           {"account_id": "w", "score": 60.0, "band": "Watch"},
                           {"account_id": "n", "score": 60.0, "band": "Watch"}])
    trig = pd.DataFrame([
        {"account_id": "x", "trigger": "usage_growth", "kind": "expansion", "due_date": pd.Timestamp("2026-11-29")},
        {"account_id": "x", "trigger": "seat_limit", "kind": "expansion", "due_date": pd.Timestamp("2026-11-20")},
        {"account_id": "x", "trigger": "seat_limit", "kind": "expansion", "due_date": pd.Timestamp("2026-11-22")},
        {"account_id": "x", "trigger": "ticket_spike", "kind": "risk", "due_date": pd.Timestamp("2026-11-16")},
        {"account_id": "w", "trigger": "ticket_spike", "kind": "risk", "due_date": pd.Timestamp("2026-11-16")},
    ])
    deltas = pd.DataFrame([{"account_id": "n", "delta_7": float("nan"), "delta_30": -3.0, "drivers_text": None}])
    out = assign_playbooks(scores, deltas, trig, None, None, PlaybookSettings(), AS_OF).set_index("account_id")
    # x: 90 ≥ 85 with expansion triggers → expansion, due on the earliest expansion due date (11-20),
    # sla = 11-20 − 11-15 = 5 days; triggers listed once each, sorted, risk included
    assert out.loc["x", "playbook"] == "expansion"
    assert (out.loc["x", "due_date"], out.loc["x", "sla_days"]) == (dt.date(2026, 11, 20), 5)
    assert out.loc["x", "triggers"] == ("seat_limit", "ticket_spike", "usage_growth")
    assert out.loc["x", "reason"] == ("Health 90 (Healthy); 1 open risk trigger; "
                                      "expansion triggers: seat_limit, usage_growth.")
    # w: 60 with an open risk trigger → falling → early warning, due as_of + 2 days
    assert (out.loc["w", "playbook"], out.loc["w", "due_date"]) == ("early_warning", dt.date(2026, 11, 17))
    # n: 7-day change unknown, 30-day −3 ≤ −3 → falling; a None driver text is left out
    assert out.loc["n", "playbook"] == "early_warning"
    assert out.loc["n", "reason"] == "Health 60 (Watch); down 3 in 30 days."
