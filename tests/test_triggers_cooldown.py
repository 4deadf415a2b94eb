"""Cooldown, suppression edges, stored events, open triggers, settings and power users."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest
from pydantic import ValidationError

from test_triggers_fixtures import AS_OF, account, days_before, inputs, make_store, scores, usage_rows
from engine.triggers import (TriggerSettings, evaluate_triggers, load_events, open_triggers, record_triggers,
                             set_status)
from engine.triggers.store_events import evaluate_and_record

A = AS_OF


@pytest.fixture
def store(tmp_path):
    # p: 95 units against a plan limit of 100 in the last 30 days → plan_limit_80 and usage_notice_90
    s = make_store(tmp_path, [account("p", plan_limit=100)], usage_rows("p", "u", A, A, 95.0))
    yield s
    s.close()


def _fired(store, score=90.0, recent=None, as_of=A, settings=None):
    out = evaluate_triggers(inputs(store), scores(p=score), None, settings or TriggerSettings(), as_of,
                            recent_events=recent)
    return set(out["trigger"])


def _event(trigger: str, day: dt.date) -> pd.DataFrame:
    return pd.DataFrame([{"account_id": "p", "trigger": trigger, "day": day}])


def test_suppression_edge_at_health_70(store):
    assert "plan_limit_80" in _fired(store, 70.0)        # 70 is healthy enough
    assert "plan_limit_80" not in _fired(store, 69.9)    # below 70: suppressed
    assert _fired(store, float("nan")) == set()           # unknown health: suppressed


def test_cooldown_blocks_until_it_ends(store):
    # plan_limit_80 cooldown 30 days: fired 06-01 blocks 06-01..06-30 inclusive? 06-30 − 06-01 = 29 < 30 → blocked
    assert "plan_limit_80" not in _fired(store, recent=_event("plan_limit_80", A - dt.timedelta(days=29)))
    # fired 05-31: 30 days ago = cooldown over → fires again
    assert "plan_limit_80" in _fired(store, recent=_event("plan_limit_80", A - dt.timedelta(days=30)))
    # another trigger's event does not block this one
    assert "plan_limit_80" in _fired(store, recent=_event("usage_notice_90", A))


def test_record_is_idempotent_and_respects_cooldown(store):
    fired = evaluate_triggers(inputs(store), scores(p=90.0), None, TriggerSettings(), A)
    assert record_triggers(store, fired, A) == 2          # plan_limit_80 + usage_notice_90
    assert record_triggers(store, fired, A) == 0          # same ids: nothing new
    next_day = A + dt.timedelta(days=1)
    again = evaluate_triggers(inputs(store), scores(p=90.0), None, TriggerSettings(), next_day)
    assert set(again["trigger"]) == {"plan_limit_80", "usage_notice_90"}   # evaluated without history
    assert record_triggers(store, again, next_day) == 0                     # but the store refuses: in cooldown
    ev = load_events(store)
    assert list(ev["trigger"]) == ["plan_limit_80", "usage_notice_90"]
    assert ev.iloc[0]["evidence"]["plan_usage_ratio"] == 0.95


def test_evaluate_and_record_reads_stored_cooldown(store):
    first = evaluate_and_record(store, inputs(store), scores(p=90.0), None, TriggerSettings(), A)
    assert len(first) == 2
    later = evaluate_and_record(store, inputs(store), scores(p=90.0), None, TriggerSettings(), A + dt.timedelta(days=5))
    assert later.empty


def test_open_triggers_window_and_status(store):
    fired = evaluate_triggers(inputs(store), scores(p=90.0), None, TriggerSettings(), A)
    record_triggers(store, fired, A)
    # cooldown 30: open on 06-30 … 07-29, closed on 07-30
    assert len(open_triggers(store, A + dt.timedelta(days=29))) == 2
    assert open_triggers(store, A + dt.timedelta(days=30)).empty
    assert open_triggers(store, A - dt.timedelta(days=1)).empty           # not yet fired
    set_status(store, "p|plan_limit_80|2026-06-30", "resolved")
    assert list(open_triggers(store, A)["trigger"]) == ["usage_notice_90"]
    with pytest.raises(KeyError, match="no trigger event"):
        set_status(store, "nope", "resolved")
    with pytest.raises(ValueError, match="status must be one of"):
        set_status(store, "p|plan_limit_80|2026-06-30", "done")


def test_overrides_and_disabled(store):
    s = TriggerSettings(overrides={"plan_limit_80": {"threshold": 0.96}}, disabled=["usage_notice_90"])
    assert _fired(store, settings=s) == set()             # 0.95 < 0.96; notice disabled
    s = TriggerSettings(expansion_min_health=95)
    assert _fired(store, 90.0, settings=s) == set()


def test_unknown_trigger_in_settings_is_named():
    with pytest.raises(ValidationError, match="unknown trigger 'plan_limt_80'"):
        TriggerSettings(overrides={"plan_limt_80": {"threshold": 0.9}})
    with pytest.raises(ValidationError):
        TriggerSettings(overrides={"usage_drop": {"op": "~"}})


def test_power_users_top_five_percent(tmp_path):
    # 20 users in two accounts, 30-day usage 1..19 and one of 100. quantile_cont(0.95) over
    # [1..19, 100]: position 0.95 × 19 = 18.05 → 19 + 0.05 × (100 − 19) = 23.05; only the 100 user is ≥.
    rows = [r for i in range(1, 20) for r in usage_rows("small", f"s{i}", A, A, float(i))]
    rows += usage_rows("big", "b1", A, A, 100.0)
    store = make_store(tmp_path, [account("small"), account("big")], rows)
    try:
        out = evaluate_triggers(inputs(store), scores(small=90.0, big=90.0), None, TriggerSettings(), A)
    finally:
        store.close()
    power = out[out["trigger"] == "power_users"]
    assert list(power["account_id"]) == ["big"]
    assert power.iloc[0]["evidence"]["power_user_cutoff"] == 23.05


def test_renewal_triggers_ignore_evergreen_monthly_by_default(tmp_path):
    from test_triggers_fixtures import contract

    # evergreen from 2026-01-15: next monthly renewal 07-15 = 15 days out; health 65 < 70
    store = make_store(tmp_path, [account("m")], contracts=[contract("e", "m", "2026-01-15", None, "10")])
    try:
        default = evaluate_triggers(inputs(store), scores(m=65.0), None, TriggerSettings(), A)
        opted = evaluate_triggers(inputs(store), scores(m=65.0), None, TriggerSettings(evergreen_renewals=True), A)
    finally:
        store.close()
    assert "renewal_low_health" not in set(default["trigger"])
    row = opted[opted["trigger"] == "renewal_low_health"].iloc[0]
    assert row["evidence"]["days_to_renewal"] == 15 and row["evidence"]["renewal_date"] == "2026-07-15"
