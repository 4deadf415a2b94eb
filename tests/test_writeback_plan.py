"""Write-back without a CRM: the desired values, value normalisation and the plan (diff)."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from connectors.writeback import normalise, plan, skipped_accounts, wire
from connectors.writeback_settings import WritebackSettings
from engine.account_fields import COLUMNS, account_fields, truncate
from engine.store import Store

STAMP = dt.datetime(2026, 11, 15, 6, 30, 12, 345678)


def _engine_results():
    snapshot = pd.DataFrame({"account_id": ["A", "B", "C"], "score": [72.5, 40.0, float("nan")],
                             "band": ["Healthy", "Critical", None], "coverage": [0.875, 1.0, 0.0],
                             "computed_at": [STAMP] * 3})
    deltas = pd.DataFrame({"account_id": ["A"], "delta_7": [-3.0], "delta_30": [None],
                           "drivers_text": ["usage trend −12, failed payment −8"]})
    renewals = pd.DataFrame({
        "account_id": ["A", "A"], "renewal_date": [dt.date(2027, 6, 1), dt.date(2026, 12, 1)],
        "rag": ["green", "amber"], "next_milestone": [180.0, 14.0],
        "next_milestone_action": ["Plan renewal", "Confirm renewal"],
        "next_milestone_date": [dt.date(2026, 12, 3), dt.date(2026, 11, 17)]})
    triggers = pd.DataFrame({"account_id": ["A", "A", "A", "B"], "kind": ["risk", "risk", "expansion", "expansion"]})
    playbooks = pd.DataFrame({"account_id": ["A", "B"], "title": ["Early warning", "Active save"]})
    return snapshot, deltas, renewals, triggers, playbooks


def test_account_fields_from_engine_results():
    out = account_fields(*_engine_results(), text_length=20)
    assert list(out.columns) == COLUMNS
    assert list(out["account_id"]) == ["A", "B"]  # C has no score: nothing to write
    a, b = out.to_dict("records")
    assert a == {
        "account_id": "A", "health_score": 72.5, "health_band": "Healthy",
        "health_change_7d": -3.0, "health_change_30d": None,
        # 34 characters cut to ≤ 20 at the last whole driver: "usage trend −12" + "…"
        "top_drivers": "usage trend −12…",
        "data_coverage": 87.5,                      # 0.875 × 100
        "renewal_date": dt.date(2026, 12, 1),       # the earlier of the two renewals
        "renewal_rag": "amber", "next_milestone": "14 days: Confirm renewal",
        "next_milestone_due": dt.date(2026, 11, 17), "active_playbook": "Early warning",
        "open_risk_triggers": 2, "open_expansion_triggers": 1, "last_computed_at": STAMP}
    assert b["renewal_date"] is None and b["top_drivers"] is None and b["health_change_7d"] is None
    assert (b["data_coverage"], b["open_risk_triggers"], b["open_expansion_triggers"]) == (100.0, 0, 1)


@pytest.mark.parametrize("text,length,expected", [
    ("short", 20, "short"), (None, 20, None), ("", 20, None),
    ("a, b, c", 6, "a, b…"),                 # "a, b" (4) + "…" fits 6; "a, b, c" does not
    ("abcdefghij", 5, "abcd…"),               # no separator: a hard cut of length − 1
])
def test_truncate(text, length, expected):
    assert truncate(text, length) == expected
    assert expected is None or len(expected) <= length


@pytest.mark.parametrize("kind,value,expected", [
    ("number", 72.5, "72.5"), ("number", "72.50", "72.5"), ("number", 3, "3"), ("number", "3.0", "3"),
    ("number", -0.6, "-0.6"), ("number", None, None), ("number", float("nan"), None), ("number", "", None),
    ("date", dt.date(2026, 12, 1), "2026-12-01"), ("date", "2026-12-01", "2026-12-01"),
    ("date", "1764547200000", "2025-12-01"),  # 1,764,547,200 s = 2025-12-01T00:00Z
    ("datetime", STAMP, "2026-11-15T06:30:12Z"), ("datetime", "2026-11-15T06:30:12.000+0000", "2026-11-15T06:30:12Z"),
    ("datetime", "2026-11-15T07:30:12+01:00", "2026-11-15T06:30:12Z"), ("datetime", "2026-11-15T06:30:12.345Z",
                                                                         "2026-11-15T06:30:12Z"),
    ("text", "Healthy", "Healthy"), ("text", "", None),
])
def test_normalise(kind, value, expected):
    assert normalise(kind, value) == expected


def test_wire_values():
    assert wire("salesforce", "number", "72.5") == 72.5 and wire("salesforce", "number", "3") == 3
    assert wire("salesforce", "text", None) is None and wire("hubspot", "text", None) == ""
    assert wire("hubspot", "number", "72.5") == "72.5"


@pytest.fixture
def store(tmp_path):
    with Store(tmp_path / "s.duckdb") as s:
        s.upsert("accounts", "salesforce", pd.DataFrame({
            "account_id": ["A", "B"], "name": ["Alpha", "Beta"], "source_id": ["001A", "001B"]}))
        yield s


def _current(store, values: dict[tuple[str, str], str | None]):
    with store.transaction() as con:
        con.executemany("INSERT INTO crm_values VALUES ('salesforce', ?, ?, ?, now())",
                        [[r, f, v] for (r, f), v in values.items()])


def _desired(**over):
    rows = {"A": {"health_score": 72.5, "health_band": "Healthy", "last_computed_at": STAMP},
            "B": {"health_score": 40.0, "health_band": "Critical", "last_computed_at": STAMP}}
    for acc, vals in over.items():
        rows[acc].update(vals)
    return pd.DataFrame([{"account_id": k, **v} for k, v in rows.items()]).reindex(columns=COLUMNS)


TARGET = WritebackSettings.model_validate({"salesforce": {"fields": {
    f: "" for f in COLUMNS[1:] if f not in ("health_score", "health_band", "last_computed_at")}}}).salesforce


def test_plan_lists_only_changed_mapped_fields(store):
    _current(store, {("001A", "health_score"): "70", ("001A", "health_band"): "Healthy",
                     ("001A", "last_computed_at"): "2026-11-14T06:00:00Z",
                     ("001B", "health_score"): "40", ("001B", "health_band"): "Critical",
                     ("001B", "last_computed_at"): "2026-11-14T06:00:00Z"})
    p = plan(store, "salesforce", TARGET, _desired())
    # A: score 70 → 72.5 changed, band equal; the stamp rides along. B: only the stamp moved → not written.
    assert [(c.record_id, c.crm_field, c.old, c.new) for c in p.changes] == [
        ("001A", "NRR_Health_Score__c", "70", "72.5"),
        ("001A", "NRR_Last_Computed_At__c", "2026-11-14T06:00:00Z", "2026-11-15T06:30:12Z")]
    assert list(p.records()) == ["001A"]


def test_plan_for_records_never_read_writes_every_mapped_field(store):
    p = plan(store, "salesforce", TARGET, _desired())
    assert len(p.changes) == 6 and {c.old for c in p.changes} == {None}   # 2 records × 3 mapped fields


def test_plan_skips_accounts_whose_inputs_did_not_sync(store):
    store.upsert("contracts", "stripe", pd.DataFrame({
        "contract_id": ["sub_1"], "account_id": ["B"], "start_date": [dt.date(2026, 1, 1)],
        "mrr": ["100"], "currency": ["USD"]}))
    skip = skipped_accounts(store, {"stripe"})
    assert skip == {"B"}
    p = plan(store, "salesforce", TARGET, _desired(), skip)
    assert {c.account_id for c in p.changes} == {"A"} and p.skipped == 1
    assert skipped_accounts(store, set()) == set()


def test_mapping_an_unknown_field_is_a_settings_error():
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="unknown field.*health_scor"):
        WritebackSettings.model_validate({"hubspot": {"fields": {"health_scor": "nrr_health_score"}}})
    with pytest.raises(ValidationError):
        WritebackSettings.model_validate({"salesforce": {"batch_size": 201}})   # the sObject Collections maximum
