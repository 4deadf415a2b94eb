"""Write-back against the sandbox CRMs over real HTTP (simple-salesforce, hubspot-api-client).

Requests are counted by the sandbox's per-endpoint statistics, so "3 calls" means three
HTTP requests reached the emulator.
"""

from __future__ import annotations

import datetime as dt
import time

import pandas as pd
import pytest

from connectors.crm_setup import open_crm, setup
from connectors.retry import RetryPolicy
from connectors.sandbox.app import Sandbox
from connectors.sandbox.book import generate_book
from connectors.sandbox.faults import FaultConfig
from connectors.sandbox.hs_book import hubspot_id
from connectors.sandbox.sf_schema import id_for_key
from connectors.sandbox.sf_write import WriteError
from connectors.writeback import MappingError, apply, plan, read_current, write_back
from connectors.writeback_settings import WritebackSettings
from engine.account_fields import COLUMNS
from engine.store import Store

ACCOUNTS = 450
NO_WAIT = RetryPolicy(sleep=lambda s: None, max_attempts=3)
SF_WRITE = "PATCH /services/data/composite/sobjects"
HS_WRITE = "POST /crm/v3/objects/companies/batch/update"
STAMP = dt.datetime(2026, 11, 15, 6, 0, 0)


@pytest.fixture(scope="module")
def book():
    return generate_book(accounts=ACCOUNTS, seed=3)


@pytest.fixture(scope="module")
def sb(book):
    with Sandbox(book, emulators=("salesforce", "hubspot")) as running:
        yield running


def sources(sb: Sandbox) -> dict:
    return {n: {"enabled": True, "base_url": sb.urls[n], "ca_bundle": str(sb.ca_path), "timeout_seconds": 5.0}
            for n in sb.urls}


def crm(sb, name, settings=None):
    return open_crm(name, sources(sb), settings or WritebackSettings(), sb.credentials[name], NO_WAIT)


def calls(sb, name: str, endpoint: str | None = None) -> int:
    stats = sb.stats()[name]
    return stats["endpoints"].get(endpoint, 0) if endpoint else stats["total"]


@pytest.fixture(scope="module")
def fields_ready(sb):
    """Create the health fields once (setup is tested on its own sandbox below)."""
    settings = WritebackSettings()
    for name in ("salesforce", "hubspot"):
        client = crm(sb, name)
        setup(client, settings.target(name), settings.text_length)
        client.close()
    return settings


def live_accounts(book) -> pd.DataFrame:
    return book.accounts[~book.accounts["deleted"].astype(bool)].reset_index(drop=True)


def make_store(path, book) -> Store:
    """A store holding the CRM account records (ids as the sandbox derives them)."""
    acc = live_accounts(book)
    store = Store(path)
    store.upsert("accounts", "salesforce", pd.DataFrame({
        "account_id": acc["account_id"], "name": acc["name"],
        "source_id": [id_for_key("Account", k) for k in acc["account_id"]]}))
    store.upsert("accounts", "hubspot", pd.DataFrame({
        "account_id": acc["account_id"], "name": acc["name"],
        "source_id": [str(hubspot_id("companies", k)) for k in acc["account_id"]]}))
    return store


def desired(book, score: float = 55.0, **values) -> pd.DataFrame:
    acc = live_accounts(book)
    frame = pd.DataFrame({"account_id": acc["account_id"], "health_score": score, "health_band": "At risk",
                          "data_coverage": 90.0, "renewal_date": dt.date(2027, 1, 31),
                          "open_risk_triggers": 1, "last_computed_at": STAMP, **values})
    return frame.reindex(columns=COLUMNS).astype(object).where(lambda f: f.notna(), None)


def test_crm_setup_creates_missing_fields_once(book):
    settings = WritebackSettings()
    with Sandbox(book, emulators=("salesforce", "hubspot")) as fresh:
        for name in ("salesforce", "hubspot"):
            client = crm(fresh, name)
            checked = setup(client, settings.target(name), settings.text_length, create=False)
            assert len(checked.to_add) == 14 and not checked.created      # 14 canonical fields, none yet
            first = setup(client, settings.target(name), settings.text_length)
            again = setup(client, settings.target(name), settings.text_length)
            client.close()
            assert len(first.created) == 14 and first.to_add == []
            assert again.created == [] and len(again.present) == 14
        sf_fields = crm(fresh, "salesforce").fields()
        groups_posted = calls(fresh, "hubspot", "POST /crm/v3/properties/companies/groups")
    assert sf_fields["NRR_Top_Drivers__c"].length == 255 and sf_fields["NRR_Top_Drivers__c"].writable
    assert sf_fields["NRR_Renewal_Date__c"].type == "date"
    assert groups_posted == 2   # the second answer is 409 "already exists", which setup treats as done


def test_salesforce_without_permission_prints_the_fields_to_add(book, monkeypatch):
    settings = WritebackSettings()
    with Sandbox(book, emulators=("salesforce",)) as fresh:
        def refuse(body):   # an integration user without "Customize Application"
            raise WriteError(403, "INSUFFICIENT_ACCESS", "insufficient access rights on object id")
        monkeypatch.setattr(fresh.emulator("salesforce").writer, "create_custom_field", refuse)
        client = crm(fresh, "salesforce")
        res = setup(client, settings.salesforce, settings.text_length)
        client.close()
    assert res.created == [] and len(res.to_add) == 14 and "add them by hand" in res.message
    assert "Account.NRR_Top_Drivers__c: Text, length 255 (label 'NRR Top Drivers')" in res.to_add
    assert ("Account.NRR_Open_Risk_Triggers__c: Number, precision 18, scale 0 (label 'NRR Open Risk Triggers')"
            in res.to_add)
    assert "Account.NRR_Renewal_Date__c: Date (label 'NRR Renewal Date')" in res.to_add


@pytest.mark.parametrize("name,field,why", [
    ("salesforce", "No_Such_Field__c", "does not exist"), ("salesforce", "LastModifiedDate", "is not writable"),
    ("salesforce", "Name", "is a string field, not a number one"), ("hubspot", "no_such_property", "does not exist"),
    ("hubspot", "name", "is a string field, not a number one")])
def test_missing_or_read_only_mapping_is_refused_before_any_write(sb, book, fields_ready, tmp_path, name, field, why):
    settings = WritebackSettings.model_validate({name: {"fields": {"health_score": field}}})
    client = crm(sb, name, settings)
    with make_store(tmp_path / "s.duckdb", book) as store:
        the_plan = plan(store, name, settings.target(name), desired(book))
        sb.clear_stats()
        with pytest.raises(MappingError, match=f"{field} \\(health_score\\) {why}"):
            apply(store, client, settings.target(name), the_plan, "run-1")
        audit = store.con.execute("SELECT count(*) FROM writeback_audit").fetchone()[0]
    client.close()
    assert calls(sb, name, SF_WRITE if name == "salesforce" else HS_WRITE) == 0 and audit == 0


def test_batches_of_200_and_100_then_nothing_when_unchanged(sb, book, fields_ready, tmp_path):
    n = len(live_accounts(book))
    assert n >= 401     # 450 generated, a few deleted: still 3 Salesforce and 5 HubSpot batches
    with make_store(tmp_path / "s.duckdb", book) as store:
        sb.clear_stats()
        reports = write_back(store, sources(sb), fields_ready, sb.credentials, desired(book, score=61.0), "run-1",
                             policy=NO_WAIT)
        assert [r.error for r in reports] == [None, None]
        sf, hs = (r.result for r in reports)
        assert calls(sb, "salesforce", SF_WRITE) == 3            # ceil(n / 200) for 401 ≤ n ≤ 600
        assert calls(sb, "hubspot", HS_WRITE) == -(-n // 100)     # ceil(n / 100)
        assert (sf.records_written, hs.records_written, sf.records_failed) == (n, n, 0)
        audit = store.con.execute(
            "SELECT target, status, count(*) FROM writeback_audit GROUP BY ALL ORDER BY 1").fetchall()
        # first write: the 6 non-empty fields (score, band, coverage, renewal date, risk count, stamp); the
        # other 8 are empty in the CRM and in the desired values, so they are no change
        assert audit == [("hubspot", "written", n * 6), ("salesforce", "written", n * 6)]
        # The CRM now holds the values: the sandbox record agrees with the audit.
        rec = sb.emulator("salesforce").record("Account", id_for_key("Account", live_accounts(book)["account_id"][0]))
        assert rec["NRR_Health_Score__c"] == 61.0 and rec["NRR_Renewal_Date__c"] == "2027-01-31"

        sb.clear_stats()
        again = write_back(store, sources(sb), fields_ready, sb.credentials, desired(book, score=61.0), "run-2",
                           policy=NO_WAIT)
        assert [r.plan.changes for r in again] == [[], []]
        assert calls(sb, "salesforce", SF_WRITE) == 0 and calls(sb, "hubspot", HS_WRITE) == 0
        # an apply of the unchanged plan on its own sends no request at all (not even a describe)
        sb.clear_stats()
        client = crm(sb, "hubspot")
        apply(store, client, fields_ready.hubspot, again[1].plan, "run-3")
        assert calls(sb, "hubspot") == 0


def test_dry_run_reads_and_plans_but_writes_nothing(sb, book, fields_ready, tmp_path):
    with make_store(tmp_path / "s.duckdb", book) as store:
        sb.clear_stats()
        reports = write_back(store, sources(sb), fields_ready, sb.credentials, desired(book, score=33.0), "dry",
                             dry_run=True, policy=NO_WAIT)
        assert all(r.plan.changes and r.result is None for r in reports)
        assert calls(sb, "salesforce", SF_WRITE) == 0 and calls(sb, "hubspot", HS_WRITE) == 0
        assert store.con.execute("SELECT count(*) FROM writeback_audit").fetchone()[0] == 0


def test_partial_failures_are_audited_and_retried_next_run(sb, book, fields_ready, tmp_path):
    acc = list(live_accounts(book)["account_id"])
    sf_emu, hs_emu = sb.emulator("salesforce"), sb.emulator("hubspot")
    drivers = ["x" * 30 if i < 2 else "ok" for i in range(len(acc))]      # 2 records too long for 10 chars
    want = desired(book, score=47.0, top_drivers=drivers)
    sf_field = sf_emu.schemas["Account"]["NRR_Top_Drivers__c"]
    # 3 companies are archived while the first write runs (HubSpot: OBJECT_NOT_FOUND in a 207) and restored after
    gone = [hs_emu.portal.get("companies", hubspot_id("companies", a)) for a in acc[5:8]]
    with make_store(tmp_path / "s.duckdb", book) as store:
        sf_field.length = 10
        for obj in gone:
            obj.archived = True
        try:
            first = write_back(store, sources(sb), fields_ready, sb.credentials, want, "run-1", policy=NO_WAIT)
        finally:
            sf_field.length = 255
            for obj in gone:
                obj.archived = False
        assert [(r.result.records_failed, r.result.records_written) for r in first] == [
            (2, len(acc) - 2), (3, len(acc) - 3)]
        failed = store.con.execute("SELECT target, account_id, field, error FROM writeback_audit "
                                   "WHERE status = 'failed' ORDER BY 1, 2, 3").fetchall()
        assert {(t, a) for t, a, *_ in failed} == {("salesforce", acc[0]), ("salesforce", acc[1]),
                                                   ("hubspot", acc[5]), ("hubspot", acc[6]), ("hubspot", acc[7])}
        assert all(e for *_, e in failed) and any("STRING_TOO_LONG" in e for t, *_, e in failed if t == "salesforce")
        sb.clear_stats()
        second = write_back(store, sources(sb), fields_ready, sb.credentials, want, "run-2", policy=NO_WAIT)
        assert [(r.result.records_failed, r.result.records_written) for r in second] == [(0, 2), (0, 3)]
        assert calls(sb, "salesforce", SF_WRITE) == 1 and calls(sb, "hubspot", HS_WRITE) == 1
    rec = sf_emu.record("Account", id_for_key("Account", acc[0]))
    assert rec["NRR_Top_Drivers__c"] == "x" * 30


def test_target_whose_sync_failed_is_skipped_without_requests(sb, book, fields_ready, tmp_path):
    with make_store(tmp_path / "s.duckdb", book) as store:
        sb.clear_stats()
        reports = write_back(store, sources(sb), fields_ready, sb.credentials, desired(book), "run-1",
                             failed_sources={"salesforce"}, only="salesforce", policy=NO_WAIT)
    assert "did not sync" in reports[0].skipped and calls(sb, "salesforce") == 0


def test_current_values_read_incrementally(sb, book, fields_ready, tmp_path):
    from simple_salesforce import Salesforce

    from connectors.sync import TrustedSession

    cfg = sources(sb)
    cfg["salesforce"]["lookback_minutes"] = 0   # earlier tests wrote every record seconds ago
    # one account modified a second after everything else: the newest SystemModstamp is its own
    time.sleep(1.1)
    c = sb.credentials["salesforce"]
    Salesforce(session_id=c["session_id"], instance_url=c["instance_url"], session=TrustedSession(sb.ca_path),
               version="60.0").Account.update(id_for_key("Account", live_accounts(book)["account_id"].iloc[0]),
                                              {"Name": "Renamed"})
    with make_store(tmp_path / "s.duckdb", book) as store:
        client = open_crm("salesforce", cfg, fields_ready, sb.credentials["salesforce"], NO_WAIT)
        first = read_current(store, client, fields_ready.salesforce)
        second = read_current(store, client, fields_ready.salesforce)
        client.close()
    assert first == len(live_accounts(book))   # query (not queryAll): deleted accounts are not read
    # only records modified at or after the first read's high-water mark: the renamed account
    assert second == 1


def test_only_mapped_fields_are_written(sb, book, fields_ready, tmp_path):
    only_band = WritebackSettings.model_validate(
        {"salesforce": {"fields": {f: "" for f in COLUMNS[1:] if f != "health_band"}}})
    record_id = id_for_key("Account", live_accounts(book)["account_id"][0])
    emu = sb.emulator("salesforce")
    before = emu.record("Account", record_id)
    with make_store(tmp_path / "s.duckdb", book) as store:
        reports = write_back(store, sources(sb), only_band, sb.credentials,
                             desired(book, score=12.0, health_band="Churning"), "run-1", only="salesforce",
                             policy=NO_WAIT)
        written = {r[0] for r in store.con.execute("SELECT DISTINCT field FROM writeback_audit").fetchall()}
    after = emu.record("Account", record_id)
    assert reports[0].result.records_failed == 0 and written == {"NRR_Health_Band__c"}
    assert after["NRR_Health_Band__c"] == "Churning"
    untouched = ("NRR_Health_Band__c", "LastModifiedDate", "SystemModstamp")
    assert {k: v for k, v in after.items() if k not in untouched} == \
        {k: v for k, v in before.items() if k not in untouched}


def test_a_batch_call_that_keeps_failing_is_audited_and_stops_the_target(sb, book, fields_ready, tmp_path):
    n = len(live_accounts(book))
    with make_store(tmp_path / "s.duckdb", book) as store:
        read = write_back(store, sources(sb), fields_ready, sb.credentials, desired(book, score=21.0), "dry",
                          only="salesforce", dry_run=True, policy=NO_WAIT)
        assert len(read[0].plan.records()) == n
        # the first batch goes through, then the org answers 503 to everything (3 attempts each)
        sb.set_faults("salesforce", FaultConfig(after=3, server_error_burst=1000))   # login, describe, batch 1
        try:
            client = crm(sb, "salesforce")
            result = apply(store, client, fields_ready.salesforce, read[0].plan, "run-1")
        finally:
            sb.set_faults("salesforce", FaultConfig())
        rows = dict(store.con.execute("SELECT status, count(DISTINCT record_id) FROM writeback_audit "
                                      "GROUP BY ALL").fetchall())
    assert result.stopped and "503" in result.stopped
    # batch 1: 200 written; batch 2: 200 failed; batch 3 never sent (retried on the next run)
    assert (result.records_written, result.records_failed) == (200, 200)
    assert rows == {"written": 200, "failed": 200}
