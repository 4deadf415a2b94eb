"""Sync against the sandbox emulators with the real client libraries over real HTTP.

"Store equals source" is checked as: the set of (table, source, source_id, row_hash,
deleted) after the sync under test equals the set after one clean full sync of the same
emulator state into an empty store.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import pytest
import requests

from connectors.sandbox.app import Sandbox
from connectors.sandbox.book import generate_book
from connectors.sandbox.hs_book import hubspot_id
from connectors.sandbox.sf_schema import id_for_key
from connectors.retry import RetryPolicy
from connectors.sync import TrustedSession, sync_sources
from engine.records import KINDS
from engine.store import Store

SOURCES = ("salesforce", "hubspot", "stripe")
NO_WAIT = RetryPolicy(sleep=lambda s: None, max_attempts=10)


def config(sb: Sandbox, **overrides) -> dict:
    """Sources pointed at the sandbox; ``overrides[name]`` is merged into that source."""
    out = {}
    for name in SOURCES:
        out[name] = {"enabled": True, "base_url": sb.urls[name], "ca_bundle": str(sb.ca_path),
                     "timeout_seconds": 2.0, **overrides.get(name, {})}
    return out


def sync(sb: Sandbox, store: Store, tmp: Path, *, only=None, full=False, creds=None, **overrides):
    return sync_sources(store, config(sb, **overrides), creds or sb.credentials, only=only, full=full,
                        progress=False, project_dir=tmp, policy=NO_WAIT)


def snapshot(store: Store, source: str | None = None) -> set[tuple]:
    rows = set()
    for kind in KINDS.values():
        where = "WHERE source = ?" if source else ""
        found = store.con.execute(f"SELECT source, source_id, row_hash, deleted FROM {kind.table} {where}",
                                  [source] if source else []).fetchall()
        rows.update((kind.table, *r) for r in found)
    return rows


@pytest.fixture(scope="module")
def book():
    return generate_book(accounts=40, seed=11)


@pytest.fixture(scope="module")
def quiet_sandbox(book):
    """A sandbox nobody writes to: faults are set and reset per test."""
    with Sandbox(book) as sb:
        yield sb


@pytest.fixture(scope="module")
def baseline(quiet_sandbox, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("baseline")
    with Store(tmp / "s.duckdb") as store:
        report = sync(quiet_sandbox, store, tmp)
        assert report.ok, report.to_dict()
        return {"all": snapshot(store), **{s: snapshot(store, s) for s in SOURCES}, "report": report}


def test_full_sync_fills_the_store_from_all_three_sources(baseline, book):
    live_accounts = int((~book.accounts["deleted"].astype(bool)).sum())
    report = baseline["report"]
    sf, hs, st = (report.sources[s] for s in SOURCES)
    assert sf.streams["accounts"].new == live_accounts
    assert hs.streams["companies"].new == live_accounts
    assert st.streams["customers"].new == live_accounts
    assert st.streams["invoices"].new == len(book.invoices)
    # the minimum number of pages: every stream here fits in one page per vendor page size
    assert sf.streams["cases"].pages == 1


def test_second_sync_is_incremental_and_changes_nothing(quiet_sandbox, baseline, tmp_path):
    with Store(tmp_path / "s.duckdb") as store:
        sync(quiet_sandbox, store, tmp_path)
        quiet_sandbox.clear_stats()
        report = sync(quiet_sandbox, store, tmp_path)
        assert snapshot(store) == baseline["all"]
    stats = quiet_sandbox.stats()
    calls = {s: stats[s]["total"] for s in SOURCES}
    # Salesforce: login + one query per stream; HubSpot: a search, an association read (deals,
    # tickets) and an archived list per object, a contacts search, plus — because the lookback
    # re-reads recently modified deals and a company's lines come from all its deals — one
    # companies → deals association read and one deals batch read; Stripe: one events list —
    # the events its lookback re-delivers were applied by the first sync (their ids ride in the
    # cursor), so no subscription is re-derived
    assert calls == {"salesforce": 5, "hubspot": 11, "stripe": 1}
    assert stats["stripe"]["endpoints"] == {"GET /v1/events": 1}
    assert all(st.new == st.updated == 0 for r in report.sources.values() for st in r.streams.values())


def test_changes_and_deletes_arrive_incrementally(book, tmp_path):
    with Sandbox(book) as sb, Store(tmp_path / "s.duckdb") as store:
        sync(sb, store, tmp_path)
        sf_account = id_for_key("Account", book.accounts["account_id"].iloc[0])
        company = str(hubspot_id("companies", book.accounts["account_id"].iloc[1]))
        customer = store.con.execute("SELECT source_id FROM accounts WHERE source = 'stripe' ORDER BY 1 LIMIT 2").fetchall()
        _sf_update(sb, sf_account, {"Name": "Renamed In Salesforce"})
        _hs_update(sb, company, {"name": "Renamed In HubSpot"})
        _stripe(sb, "post", f"/v1/customers/{customer[0][0]}", {"name": "Renamed In Stripe"})
        _stripe(sb, "delete", f"/v1/customers/{customer[1][0]}")
        report = sync(sb, store, tmp_path)
        names = dict(store.con.execute("SELECT source, name FROM accounts WHERE name LIKE 'Renamed In %'").fetchall())
        gone = store.con.execute("SELECT deleted FROM accounts WHERE source = 'stripe' AND source_id = ?",
                                 [customer[1][0]]).fetchone()[0]
    assert names == {"salesforce": "Renamed In Salesforce", "hubspot": "Renamed In HubSpot", "stripe": "Renamed In Stripe"}
    assert report.sources["salesforce"].streams["accounts"].updated == 1
    assert report.sources["hubspot"].streams["companies"].updated == 1
    assert (report.sources["stripe"].streams["events"].updated, report.sources["stripe"].streams["events"].deleted) == (1, 1)
    assert gone is True


def test_records_deleted_at_the_source_are_marked_deleted(quiet_sandbox, book, tmp_path):
    """Book rows flagged deleted are IsDeleted in Salesforce and archived in HubSpot: a
    stored live copy of each must end up deleted, never silently kept."""
    dead = book.accounts.loc[book.accounts["deleted"].astype(bool), "account_id"].iloc[0]
    ids = {"salesforce": id_for_key("Account", dead), "hubspot": str(hubspot_id("companies", dead))}
    with Store(tmp_path / "s.duckdb") as store:
        for source, source_id in ids.items():
            store.upsert("accounts", source, _account_row(source_id))
        report = sync(quiet_sandbox, store, tmp_path, only=None)
        flags = {s: store.con.execute("SELECT deleted FROM accounts WHERE source = ? AND source_id = ?",
                                      [s, i]).fetchone()[0] for s, i in ids.items()}
    assert flags == {"salesforce": True, "hubspot": True}
    assert report.sources["salesforce"].streams["accounts"].deleted == 1


def test_windowed_stripe_listings_store_what_one_listing_stores(quiet_sandbox, tmp_path, monkeypatch):
    from connectors.stripe_billing import StripeSource

    pages = []   # (collection, first page of a window?, window) of every list request we made
    original = StripeSource._list_page

    def spy(self, collection, after, window=None):
        pages.append((collection, after is None, tuple(sorted((window or {}).items()))))
        return original(self, collection, after, window)

    monkeypatch.setattr(StripeSource, "_list_page", spy)
    small = {"page_size": 10}
    with Store(tmp_path / "one.duckdb") as one, Store(tmp_path / "many.duckdb") as many:
        # the emulator's 25 requests / rolling second spans syncs (each sync paces only itself),
        # and the tests' retry policy does not wait: start each sync on a fresh second
        time.sleep(1.1)
        assert sync(quiet_sandbox, one, tmp_path, stripe={**small, "parallel_listings": 1}).ok
        serial, pages[:] = list(pages), []
        time.sleep(1.1)
        assert sync(quiet_sandbox, many, tmp_path, stripe={**small, "parallel_listings": 3}).ok
        assert snapshot(many) == snapshot(one)
    starts = lambda log, c: sum(p[0] == c and p[1] for p in log)  # noqa: E731 - windows listed
    calls = lambda log, c: sum(p[0] == c for p in log)  # noqa: E731
    assert [starts(serial, c) for c in ("customers", "invoices", "subscriptions")] == [1, 1, 1]
    # 2 × 3 windows each for invoices and subscriptions, cut at customer creation times
    assert [starts(pages, c) for c in ("customers", "invoices", "subscriptions")] == [1, 6, 6]
    # each window may end on a short page: at most one extra request per window
    for c in ("invoices", "subscriptions"):
        assert calls(serial, c) <= calls(pages, c) <= calls(serial, c) + 6 - 1


def test_legacy_stripe_shapes_give_the_same_records(book, quiet_sandbox, tmp_path):
    """An account pinned to a 2024 API version (period on the subscription, one
    ``discount`` object) yields exactly the records of the current shape."""
    from connectors.sandbox.stripe_api import StripeEmulator

    def stripe_only(sb, path):
        with Store(path) as store:
            cfg = {"stripe": {"enabled": True, "base_url": sb.urls["stripe"], "ca_bundle": str(sb.ca_path)}}
            report = sync_sources(store, cfg, sb.credentials, progress=False, project_dir=tmp_path, policy=NO_WAIT)
            assert report.ok, report.to_dict()
            return snapshot(store, "stripe")

    current = stripe_only(quiet_sandbox, tmp_path / "current.duckdb")
    with Sandbox(book, emulators=("stripe",), instances={"stripe": StripeEmulator(book, legacy_shapes=True)}) as sb:
        assert stripe_only(sb, tmp_path / "legacy.duckdb") == current


def test_wrong_credentials_stop_only_that_source(quiet_sandbox, tmp_path):
    creds = {k: dict(v) for k, v in quiet_sandbox.credentials.items()}
    creds["stripe"]["api_key"] = "sk_test_wrong_key_0000"
    creds["salesforce"]["password"] = "not-the-password"
    with Store(tmp_path / "s.duckdb") as store:
        report = sync(quiet_sandbox, store, tmp_path, creds=creds)
        counts = {s for _, s, live, _ in store.counts() if live}
    assert not report.sources["stripe"].ok and "credentials rejected" in report.sources["stripe"].error
    assert not report.sources["salesforce"].ok and "login refused" in report.sources["salesforce"].error
    assert report.sources["hubspot"].ok and counts == {"hubspot"}


def test_a_missing_mapped_field_stops_that_source_with_the_field_named(quiet_sandbox, tmp_path):
    fields = {"account": {"name": "Name", "segment": "Tier_Segment__c"}}
    with Store(tmp_path / "s.duckdb") as store:
        report = sync(quiet_sandbox, store, tmp_path, salesforce={"fields": fields})
    sf = report.sources["salesforce"]
    assert not sf.ok and "Tier_Segment__c" in sf.error and "fields" in sf.error
    assert report.sources["stripe"].ok and report.sources["hubspot"].ok


def test_secrets_never_reach_logs_or_the_store(quiet_sandbox, tmp_path, caplog):
    from connectors.sandbox.faults import FaultConfig

    caplog.set_level(logging.DEBUG)
    secrets = [v for c in quiet_sandbox.credentials.values() for k, v in c.items()
               if k in ("password", "security_token", "session_id", "access_token", "api_key", "consumer_secret")]
    assert len(secrets) >= 4
    for name in SOURCES:  # make the connectors log retries and errors too
        quiet_sandbox.set_faults(name, FaultConfig(after=2, server_error_burst=1, rate_limit_burst=1))
    try:
        creds = {k: dict(v) for k, v in quiet_sandbox.credentials.items()}
        creds["hubspot"]["access_token"] = "pat-na1-wrong-token-000000"
        secrets.append(creds["hubspot"]["access_token"])
        with Store(tmp_path / "s.duckdb") as store:
            report = sync(quiet_sandbox, store, tmp_path, creds=creds)
            summary = store.con.execute("SELECT summary FROM runs").fetchall()
    finally:
        for name in SOURCES:
            quiet_sandbox.set_faults(name, FaultConfig())
    text = caplog.text + str(summary) + str(report.to_dict())
    stored = (tmp_path / "s.duckdb").read_bytes()
    assert "credentials rejected" in report.sources["hubspot"].error  # the wrong token was used and reported
    leaked = [s[:6] for s in secrets if s in text or s.encode() in stored]
    assert leaked == []


def _account_row(source_id: str):
    import pyarrow as pa

    return pa.table({"source_id": [source_id], "account_id": [f"X-{source_id}"], "name": ["stale copy"]})


def _sf_update(sb: Sandbox, record_id: str, values: dict) -> None:
    from simple_salesforce import Salesforce

    c = sb.credentials["salesforce"]
    session = TrustedSession(sb.ca_path)
    sf = Salesforce(session_id=c["session_id"], instance_url=c["instance_url"], session=session, version="60.0")
    sf.Account.update(record_id, values)


def _hs_update(sb: Sandbox, company_id: str, props: dict) -> None:
    from hubspot import HubSpot
    from hubspot.crm.companies import SimplePublicObjectInput

    client = HubSpot(access_token=sb.credentials["hubspot"]["access_token"], host=sb.urls["hubspot"])
    client.crm.companies.basic_api.update(company_id, SimplePublicObjectInput(properties=props))


def _stripe(sb: Sandbox, method: str, path: str, form: dict | None = None) -> None:
    key = sb.credentials["stripe"]["api_key"]
    r = requests.request(method, sb.urls["stripe"] + path, data=form, headers={"Authorization": f"Bearer {key}"},
                         verify=str(sb.ca_path), timeout=10)
    r.raise_for_status()


def test_unmatched_customers_are_listed_and_a_links_file_entry_relinks_their_records(quiet_sandbox, tmp_path):
    from connectors.identity import unmatched

    with Store(tmp_path / "s.duckdb") as store:
        sync(quiet_sandbox, store, tmp_path)
        before = unmatched(store)
        target = next(r for r in before if r["source"] == "stripe" and r["mrr"] > 0)
        lines = store.con.execute("SELECT count(*), sum(mrr) FROM contract_lines WHERE account_id = ?",
                                  [f"stripe:{target['source_id']}"]).fetchone()
        (tmp_path / "links.csv").write_text(f"source,source_id,account_id\nstripe,{target['source_id']},ACC-999999\n")
        sync(quiet_sandbox, store, tmp_path)
        after = unmatched(store)
        moved = store.con.execute("SELECT count(*), sum(mrr) FROM contract_lines WHERE account_id = 'ACC-999999'").fetchone()
        method = store.con.execute("SELECT method FROM account_links WHERE source = 'stripe' AND source_id = ?",
                                   [target["source_id"]]).fetchone()[0]
    assert target["mrr"] == lines[1] and lines[0] >= 1  # the listing shows the revenue riding on the link
    assert moved == lines and method == "override"
    assert [r["source_id"] for r in after] == [r["source_id"] for r in before if r is not target]
