"""Playbook assignment: each rule, its edges, precedence, SLAs and win-back timing."""

from __future__ import annotations

import datetime as dt

import pandas as pd

from engine.playbooks import PlaybookSettings, assign_playbooks

A = dt.date(2026, 6, 30)


def _scores(**s: float) -> pd.DataFrame:
    return pd.DataFrame([{"account_id": a, "score": v, "band": "b"} for a, v in s.items()])


def _trig(*rows: tuple[str, str, str, str]) -> pd.DataFrame:
    return pd.DataFrame([{"account_id": a, "trigger": t, "kind": k, "due_date": dt.date.fromisoformat(due)}
                         for a, t, k, due in rows])


def _assign(scores, deltas=None, triggers=None, renewals=None, churned=None, settings=None):
    out = assign_playbooks(scores, deltas, triggers, renewals, churned, settings or PlaybookSettings(), A)
    return out.set_index("account_id")


def test_score_bands_and_edges():
    out = _assign(_scores(e24=24.9, s25=25, s49=49.9, n50=50, n70=70, n84=84.9, n85=85))
    assert out["playbook"].to_dict() == {
        "e24": "executive_escalation", "s25": "active_save", "s49": "active_save",
        "n50": "nurture",           # 50–69 but not falling
        "n70": "nurture", "n84": "nurture",
        "n85": "nurture",           # ≥ 85 without an expansion trigger
    }


def test_early_warning_needs_falling():
    deltas = pd.DataFrame([{"account_id": "f7", "delta_7": -3.0, "delta_30": 0.0, "drivers_text": "usage trend −12"},
                           {"account_id": "f30", "delta_7": 1.0, "delta_30": -5.0, "drivers_text": ""},
                           {"account_id": "flat", "delta_7": -2.9, "delta_30": -2.9, "drivers_text": ""}])
    trig = _trig(("risk", "usage_drop", "risk", "2026-07-07"))
    out = _assign(_scores(f7=60, f30=60, flat=60, risk=60, f7hi=75), deltas, trig)
    assert out["playbook"].to_dict() == {"f7": "early_warning", "f30": "early_warning", "flat": "nurture",
                                         "risk": "early_warning", "f7hi": "nurture"}
    assert out.loc["f7", "reason"] == "Health 60 (b); down 3 in 7 days; drivers: usage trend −12."
    # 60 → 2-day SLA from the domain's "within 48 hours"
    assert (out.loc["f7", "owner_role"], out.loc["f7", "due_date"]) == ("CSM", dt.date(2026, 7, 2))
    # a steady at-risk account gets nurture without the soft-expansion step
    assert not any("expansion" in a.lower() for a in out.loc["flat", "actions"])
    assert any("expansion" in a.lower() for a in out.loc["f7hi", "actions"])


def test_expansion_needs_85_and_an_expansion_trigger():
    trig = _trig(("x85", "plan_limit_80", "expansion", "2026-06-30"), ("x85", "usage_growth", "expansion", "2026-07-30"),
                 ("x84", "plan_limit_80", "expansion", "2026-06-30"))
    out = _assign(_scores(x85=85, x84=84.9), triggers=trig)
    assert out.loc["x85", "playbook"] == "expansion" and out.loc["x84", "playbook"] == "nurture"
    assert out.loc["x85", "due_date"] == dt.date(2026, 6, 30)      # the earliest trigger due date
    assert out.loc["x85", "triggers"] == ("plan_limit_80", "usage_growth")


def test_red_renewal_escalates_even_a_healthy_account():
    renewals = pd.DataFrame([
        {"account_id": "r", "renewal_date": dt.date(2026, 8, 1), "days_to_renewal": 32, "rag": "red"},
        {"account_id": "far", "renewal_date": dt.date(2026, 10, 1), "days_to_renewal": 93, "rag": "red"},
        {"account_id": "amber", "renewal_date": dt.date(2026, 8, 1), "days_to_renewal": 32, "rag": "amber"}])
    out = _assign(_scores(r=90, far=90, amber=90), renewals=renewals)
    assert out["playbook"].to_dict() == {"r": "executive_escalation", "far": "nurture", "amber": "nurture"}
    assert (out.loc["r", "owner_role"], out.loc["r", "due_date"]) == ("VP CS or founder", A)   # immediate
    assert "red renewal on 2026-08-01" in out.loc["r", "reason"]


def test_active_save_sla_and_escalation():
    out = _assign(_scores(s=40))
    row = out.loc["s"]
    assert (row["owner_role"], row["sla_days"], row["due_date"]) == ("Senior CSM or CS Manager", 1, dt.date(2026, 7, 1))
    assert row["escalation"] == "No improvement in 21 days: executive escalation"
    assert len(row["actions"]) == 5


def test_win_back_timing_by_reason():
    churned = pd.DataFrame([
        {"account_id": "champ", "day": dt.date(2026, 6, 10), "reason": "champion_left"},  # 30–60 d → 07-10..08-09
        {"account_id": "price", "day": dt.date(2026, 5, 1), "reason": "budget"},          # 60–90 d → 06-30..07-30
        {"account_id": "comp", "day": dt.date(2026, 1, 1), "reason": "competitor"},       # 180–365 d → 06-30..2027-01-01
        {"account_id": "old", "day": dt.date(2026, 1, 1), "reason": "champion_left"},     # window closed 03-02
        {"account_id": "odd", "day": dt.date(2026, 6, 1), "reason": "weird"},             # unknown → other 90–180
    ])
    out = _assign(_scores(champ=10), churned=churned)   # churned beats the score
    assert set(out.index) == {"champ", "price", "comp", "odd"}
    assert (out.loc["champ", "playbook"], out.loc["champ", "due_date"], out.loc["champ", "window_end"]) == (
        "win_back", dt.date(2026, 7, 10), dt.date(2026, 8, 9))
    assert out.loc["price", "due_date"] == dt.date(2026, 6, 30) and out.loc["price", "window_end"] == dt.date(2026, 7, 30)
    assert out.loc["comp", "owner_role"] == "AE" and out.loc["comp", "due_date"] == dt.date(2026, 6, 30)
    assert out.loc["odd", "due_date"] == dt.date(2026, 8, 30)       # 06-01 + 90
    assert out.loc["champ", "actions"][0] == "Reach new stakeholders"


def test_thresholds_are_settings():
    s = PlaybookSettings(expansion_min=80, falling_points=10)
    trig = _trig(("x", "plan_limit_80", "expansion", "2026-07-01"))
    deltas = pd.DataFrame([{"account_id": "w", "delta_7": -5.0, "delta_30": -5.0, "drivers_text": ""}])
    out = _assign(_scores(x=82, w=55), deltas, trig, settings=s)
    assert out.loc["x", "playbook"] == "expansion" and out.loc["w", "playbook"] == "nurture"


def test_unscored_accounts_are_skipped():
    out = _assign(_scores(a=float("nan"), b=90))
    assert list(out.index) == ["b"]


def test_churned_accounts_from_contracts_and_reasons(tmp_path):
    from test_triggers_fixtures import account, contract, make_store
    from engine.playbooks import churned_accounts

    accounts = [account(x) for x in ("gone", "gone_no_reason", "active", "ancient", "renewed")]
    contracts = [
        contract("g", "gone", "2025-06-01", "2026-05-31", "100"),             # no service on 06-30 → churned 06-01
        contract("n", "gone_no_reason", "2025-01-01", "2026-06-29", "50"),    # churned 06-30
        contract("a", "active", "2025-01-01", None, "10"),
        contract("x", "ancient", "2024-01-01", "2025-01-31", "10"),           # ended > 365 days ago
        contract("r1", "renewed", "2025-06-01", "2026-05-31", "100"),
        contract("r2", "renewed", "2026-06-01", "2027-05-31", "100"),
    ]
    store = make_store(tmp_path, accounts, contracts=contracts)
    store.upsert("churn_reasons", "files", pd.DataFrame([
        {"account_id": "gone", "day": dt.date(2026, 5, 20), "reason": "budget"},
        {"account_id": "gone", "day": dt.date(2026, 7, 20), "reason": "competitor"}]))  # after as_of: ignored
    try:
        out = churned_accounts(store.records("contracts"), store.records("churn_reasons"), A)
    finally:
        store.close()
    got = {r.account_id: (r.day, r.reason) for r in out.itertuples()}
    assert got == {"gone": (dt.date(2026, 6, 1), "budget"), "gone_no_reason": (dt.date(2026, 6, 30), "other")}
