"""Every trigger's fire / no-fire case on one hand-made book (as of 2026-06-30).

Windows (inclusive): last 30 d = 05-31..06-30, prior 30 d = 05-01..05-30,
last 14 d = 06-17..06-30, prior 14 d = 06-03..06-16. Every account scores 90 unless
the case says otherwise, so expansion triggers are not suppressed.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from test_triggers_fixtures import AS_OF, account, contract, days_before, inputs, make_store, usage_rows
from engine.triggers import TriggerSettings, evaluate_triggers

A = AS_OF
one = lambda acc, user, n_back, qty, team=None: usage_rows(acc, user, days_before(n_back), days_before(n_back), qty, team)  # noqa: E731


def _t(acc: str, n_back: int, hour: int = 9) -> dict:
    created = dt.datetime.combine(days_before(n_back), dt.time(hour))
    return {"ticket_id": f"{acc}-{n_back}-{hour}", "account_id": acc, "created_at": created, "priority": "normal"}


def _inv(iid: str, acc: str, due_back: int, status: str, paid_back: int | None = None, attempts: int = 1) -> dict:
    return {"invoice_id": iid, "account_id": acc, "issued_at": days_before(due_back + 14), "due_at": days_before(due_back),
            "paid_at": None if paid_back is None else days_before(paid_back), "amount": "100.00", "currency": "USD",
            "status": status, "attempt_count": attempts}


ACCOUNTS = [
    # plan limit 100: usage over the last 30 days / 100
    account("pl90", plan_limit=100), account("pl79", plan_limit=100), account("pl50", plan_limit=100),
    account("pl100", plan_limit=100), account("pl90_sick", plan_limit=100),
    account("users3"), account("users2"), account("users_new_acct"),
    account("seats_over", licensed_seats=2), account("seats_equal", licensed_seats=3),
    account("grow21"), account("grow20"), account("team_new"), account("team_same"),
    account("drop41"), account("drop40"),
    account("spike"), account("spike_low"), account("spike_floor"), account("spike_floor_low"),
    account("champ14", champion_user_id="c"), account("champ13", champion_user_id="c"),
    account("champ_never", champion_user_id="ghost"),
    account("flat"), account("not_flat"), account("idle"),
    account("pay7"), account("pay6"), account("pay_paid"), account("pay_late_history"),
    account("nps6"), account("nps7"), account("nps_old"),
    account("renew59_sick"), account("renew59_ok"), account("renew60_sick"),
    account("renew90"), account("renew91"),
    account("drop15"), account("drop14"), account("band_down"), account("band_same"), account("band_stale"),
]

USAGE = (
    usage_rows("pl90", "u", days_before(59), A, 3.0)            # last 30: 30×3 = 90 → 0.90
    + one("pl79", "u", 0, 79.0)                                  # 79/100 = 0.79
    + one("pl50", "u", 0, 50.0)                                  # 0.50
    + one("pl100", "u", 0, 100.0)                                # 1.00
    + usage_rows("pl90_sick", "u", days_before(29), A, 3.0)      # 0.90 but health 65
    # new users: u0 active 60 days back (prior lookback), then 3 (or 2) first seen in the last 30 days
    + one("users3", "u0", 60, 1) + one("users3", "u1", 1, 1) + one("users3", "u2", 2, 1) + one("users3", "u3", 3, 1)
    + one("users2", "u0", 60, 1) + one("users2", "u1", 1, 1) + one("users2", "u2", 2, 1)
    + one("users_new_acct", "u1", 1, 1) + one("users_new_acct", "u2", 2, 1) + one("users_new_acct", "u3", 3, 1)
    # seats: 3 active users against 2 (fires) or 3 (not) licensed
    + [r for u in ("a", "b", "c") for acc in ("seats_over", "seats_equal") for r in one(acc, u, 5, 1)]
    # growth: last 30 = 121 (or 120) vs prior 30 = 100
    + one("grow21", "u", 40, 100) + one("grow21", "u", 5, 121)
    + one("grow20", "u", 40, 100) + one("grow20", "u", 5, 120)
    # teams: 'ops' seen before; 'finance' first seen in the last 30 days
    + one("team_new", "u", 60, 1, "ops") + one("team_new", "v", 3, 1, "finance")
    + one("team_same", "u", 60, 1, "ops") + one("team_same", "v", 3, 1, "ops")
    # 14-day drop: prior 14 = 100 (day −20), last 14 = 59 (−41 %) or 60 (−40 %, not below)
    + one("drop41", "u", 20, 100) + one("drop41", "u", 5, 59)
    + one("drop40", "u", 20, 100) + one("drop40", "u", 5, 60)
    # champion last seen 14 (fires) / 13 days ago
    + one("champ14", "c", 14, 1) + one("champ13", "c", 13, 1)
    # plateau: last 30 = 100 vs prior 105 (|−4.8 %| ≤ 5 %) or 110 (9.1 %)
    + one("flat", "u", 40, 105) + one("flat", "u", 5, 100)
    + one("not_flat", "u", 40, 110) + one("not_flat", "u", 5, 100)
)

TICKETS = (
    # baseline window 03-19..06-16 (90 d): 9 tickets → 9×14/90 = 1.4 per 14 days
    [_t("spike", 20 + i) for i in range(9)] + [_t("spike", i) for i in range(5)]          # 5 / 1.4 = 3.57
    + [_t("spike_low", 20 + i) for i in range(9)] + [_t("spike_low", i) for i in range(4)]  # 4 / 1.4 = 2.86
    + [_t("spike_floor", i) for i in range(3)]      # no baseline: 3 / max(0, floor 1) = 3.0
    + [_t("spike_floor_low", i) for i in range(2)]  # 2 / 1 = 2.0
)

INVOICES = [
    _inv("i1", "pay7", 7, "failed"),                 # unresolved 7 days → fires
    _inv("i2", "pay6", 6, "failed"),                 # 6 days
    _inv("i3", "pay_paid", 10, "paid", paid_back=1, attempts=2),    # resolved before as_of
    _inv("i4", "pay_late_history", 9, "paid", paid_back=-3, attempts=3),  # paid after as_of: unresolved on it
]

NPS = [
    {"account_id": "nps6", "user_id": "x", "day": days_before(10), "score": 6},
    {"account_id": "nps7", "user_id": "x", "day": days_before(10), "score": 7},
    {"account_id": "nps_old", "user_id": "x", "day": days_before(30), "score": 3},  # outside 06-01..06-30
]

CONTRACTS = [
    # renewal = end + 1; as_of + 59 = 2026-08-28 → end 08-27
    contract("r59s", "renew59_sick", "2025-08-28", "2026-08-27", "100"),
    contract("r59o", "renew59_ok", "2025-08-28", "2026-08-27", "100"),
    contract("r60s", "renew60_sick", "2025-08-29", "2026-08-28", "100"),   # renewal 08-29 = 60 days
    contract("r90", "renew90", "2025-09-28", "2026-09-27", "100"),          # renewal 09-28 = 90 days
    contract("r91", "renew91", "2025-09-29", "2026-09-28", "100"),          # 91 days
]

SCORES = {"pl90_sick": 65, "renew59_sick": 65, "renew60_sick": 65, "drop15": 65, "drop14": 66,
          "band_down": 65, "band_same": 60, "band_stale": 65}

HISTORY = [
    ("drop15", 7, 80, "Healthy"), ("drop14", 7, 80, "Healthy"),
    ("band_down", 1, 75, "Healthy"), ("band_same", 1, 65, "At risk"), ("band_stale", 8, 75, "Healthy"),
]


@pytest.fixture(scope="module")
def fired(tmp_path_factory) -> pd.DataFrame:
    store = make_store(tmp_path_factory.mktemp("trig"), ACCOUNTS, USAGE, CONTRACTS, TICKETS, INVOICES, NPS)
    scores = pd.DataFrame([{"account_id": a["account_id"], "score": float(SCORES.get(a["account_id"], 90)),
                            "band": "At risk" if SCORES.get(a["account_id"], 90) < 70 else "Thriving"} for a in ACCOUNTS])
    history = pd.DataFrame([{"account_id": a, "day": days_before(n), "score": s, "band": b} for a, n, s, b in HISTORY])
    try:
        return evaluate_triggers(inputs(store), scores, history, TriggerSettings(), A)
    finally:
        store.close()


CASES = [
    ("pl90", "plan_limit_80", True), ("pl79", "plan_limit_80", False), ("pl100", "plan_limit_80", True),
    ("pl90_sick", "plan_limit_80", False),       # suppressed: health 65 < 70
    ("pl90_sick", "usage_notice_90", False),     # suppressed too
    ("pl50", "usage_notice_50", True), ("pl79", "usage_notice_50", False), ("pl79", "usage_notice_75", True),
    ("pl90", "usage_notice_90", True), ("pl90", "usage_notice_75", False), ("pl100", "usage_notice_100", True),
    ("pl100", "usage_notice_90", False),
    ("users3", "users_added", True), ("users2", "users_added", False), ("users_new_acct", "users_added", False),
    ("seats_over", "seats_exceeded", True), ("seats_equal", "seats_exceeded", False),
    ("grow21", "usage_growth", True), ("grow20", "usage_growth", False),
    ("team_new", "new_team", True), ("team_same", "new_team", False),
    ("renew90", "renewal_expansion", True), ("renew91", "renewal_expansion", False),
    ("drop41", "usage_drop", True), ("drop40", "usage_drop", False),
    ("spike", "ticket_spike", True), ("spike_low", "ticket_spike", False),
    ("spike_floor", "ticket_spike", True), ("spike_floor_low", "ticket_spike", False),
    ("champ14", "champion_silent", True), ("champ13", "champion_silent", False),
    ("champ_never", "champion_silent", True), ("flat", "champion_silent", False),
    ("flat", "usage_plateau", True), ("not_flat", "usage_plateau", False), ("idle", "usage_plateau", False),
    ("pl90_sick", "usage_plateau", False),       # no prior-30 usage: change undefined
    ("pl90", "usage_plateau", True),             # 90 vs 90: risk triggers are never suppressed
    ("pay7", "payment_failed", True), ("pay6", "payment_failed", False), ("pay_paid", "payment_failed", False),
    ("pay_late_history", "payment_failed", True),
    ("nps6", "nps_detractor", True), ("nps7", "nps_detractor", False), ("nps_old", "nps_detractor", False),
    ("renew59_sick", "renewal_low_health", True), ("renew59_ok", "renewal_low_health", False),
    ("renew60_sick", "renewal_low_health", False),
    ("drop15", "health_drop", True), ("drop14", "health_drop", False),
    ("band_down", "band_down", True), ("band_same", "band_down", False),
    ("drop15", "band_down", True),     # Healthy on 06-23 (within the week) → At risk today
    ("band_stale", "band_down", False),  # last snapshot 8 days ago: no previous band this week
]


@pytest.mark.parametrize("account_id,trigger,fires", CASES)
def test_trigger_fires_or_not(fired, account_id, trigger, fires):
    got = set(fired.loc[fired["account_id"] == account_id, "trigger"])
    assert (trigger in got) is fires, f"{account_id}: fired {sorted(got)}"


def test_evidence_carries_the_numbers(fired):
    ev = fired.set_index(["account_id", "trigger"]).loc[("spike", "ticket_spike"), "evidence"]
    # 5 tickets in 14 days against 9 × 14 / 90 = 1.4 → 5 / 1.4 = 3.5714
    assert ev == {"ticket_ratio_14": 3.5714, "op": ">=", "threshold": 3, "tickets_14": 5, "ticket_baseline_14": 1.4}
    ev = fired.set_index(["account_id", "trigger"]).loc[("drop41", "usage_drop"), "evidence"]
    assert ev == {"usage_change_14": -0.41, "op": "<", "threshold": -0.4, "usage_14": 59, "usage_prev_14": 100}
    ev = fired.set_index(["account_id", "trigger"]).loc[("renew59_sick", "renewal_low_health"), "evidence"]
    assert ev["days_to_renewal"] == 59 and ev["score"] == 65 and ev["renewal_date"] == "2026-08-28"


def test_event_rows_have_owner_sla_and_due_date(fired):
    row = fired[(fired["account_id"] == "pay7") & (fired["trigger"] == "payment_failed")].iloc[0]
    assert (row["owner_role"], row["severity"], row["sla_days"]) == ("Finance", "high", 7)
    assert row["due_date"] == dt.date(2026, 7, 7)  # 06-30 + 7 days
    assert row["event_id"] == "pay7|payment_failed|2026-06-30"


def test_payment_failed_days_counts_from_due_date(fired):
    ev = fired[(fired["account_id"] == "pay_late_history") & (fired["trigger"] == "payment_failed")].iloc[0]["evidence"]
    assert ev["payment_failed_days"] == 9  # due 06-21, unpaid on 06-30
