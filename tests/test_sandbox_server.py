"""Sandbox server mechanics over real HTTPS with simple-salesforce as the client.

The org here is hand-made so every expected count is simple arithmetic:
4,500 accounts ``ACC-000001..ACC-004500``, every 10th one deleted, so
4,500 - 450 = 4,050 are live.
"""

from __future__ import annotations

import datetime as dt
import time

import pytest
import requests
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import (
    SalesforceExpiredSession,
    SalesforceGeneralError,
    SalesforceRefusedRequest,
)

from connectors.sandbox.app import Sandbox
from connectors.sandbox.faults import FaultConfig, FaultPlan
from connectors.sandbox.salesforce import SalesforceEmulator
from connectors.sandbox.sf_schema import id_for_key
from connectors.sandbox.tls import trusting_session

T0 = dt.datetime(2025, 1, 1, tzinfo=dt.timezone.utc)
ACCOUNTS = 4500
LIVE = ACCOUNTS - ACCOUNTS // 10  # 4,050
ALL_LIVE = "SELECT Id, Name FROM Account"


def _account(i: int) -> dict:
    stamp = T0 + dt.timedelta(hours=i)
    return {"Id": id_for_key("Account", f"ACC-{i:06d}"), "IsDeleted": i % 10 == 0, "CreatedDate": T0,
            "LastModifiedDate": stamp, "SystemModstamp": stamp, "Name": f"Account {i:04d}"}


@pytest.fixture(scope="module")
def org():
    emulator = SalesforceEmulator(records={"Account": [_account(i) for i in range(1, ACCOUNTS + 1)]})
    with Sandbox(None, emulators=("salesforce",), instances={"salesforce": emulator}) as sb:
        yield sb


@pytest.fixture
def sb(org):
    org.set_faults("salesforce", FaultConfig())
    org.clear_stats()
    yield org
    org.set_faults("salesforce", FaultConfig())


def login(sb: Sandbox) -> Salesforce:
    creds = sb.credentials["salesforce"]
    return Salesforce(username=creds["username"], password=creds["password"],
                      security_token=creds["security_token"], domain=creds["domain"],
                      session=trusting_session(sb.ca_path), version="60.0")


def direct(sb: Sandbox) -> Salesforce:
    creds = sb.credentials["salesforce"]
    return Salesforce(session_id=creds["session_id"], instance_url=creds["instance_url"],
                      session=trusting_session(sb.ca_path), version="60.0")


def faults(sb: Sandbox, **settings) -> None:
    sb.set_faults("salesforce", FaultConfig(**settings))


def counts(sb: Sandbox) -> dict:
    return sb.stats()["salesforce"]


def test_binds_only_to_loopback_and_serves_https(sb):
    server = sb.servers["salesforce"]
    assert server._httpd.server_address[0] == "127.0.0.1"
    assert sb.urls["salesforce"] == f"https://127.0.0.1:{server.port}"


def test_client_without_the_sandbox_ca_is_refused(sb):
    untrusted = requests.Session()  # system CA bundle only: the sandbox CA is not in it
    with pytest.raises(requests.exceptions.SSLError):
        untrusted.get(sb.urls["salesforce"] + "/services/data", timeout=5)
    with pytest.raises(requests.exceptions.SSLError):
        Salesforce(session_id="x", instance_url=sb.urls["salesforce"], session=untrusted).query(ALL_LIVE)


def test_paging_to_the_end_counts_each_page(sb):
    sf = login(sb)
    rows = sf.query_all(ALL_LIVE)["records"]
    assert len(rows) == LIVE
    assert len({r["Id"] for r in rows}) == LIVE
    stats = counts(sb)
    # 4,050 rows at 2,000 per page = 3 pages: 1 query + 2 nextRecordsUrl calls, after 1 SOAP login
    assert stats["endpoints"] == {"POST /services/Soap/u": 1, "GET /services/data/query": 1,
                                  "GET /services/data/query/{locator}": 2}
    assert stats["total"] == 4 and stats["faults"] == {}


def test_latency_is_added_to_every_request(sb):
    sf = direct(sb)
    faults(sb, latency_ms=200)
    started = time.monotonic()
    sf.query("SELECT Id FROM Account LIMIT 1")
    sf.query("SELECT Id FROM Account LIMIT 1")
    assert time.monotonic() - started >= 0.4  # 2 requests × 200 ms


def test_rate_limit_burst_uses_salesforce_concurrency_error_then_recovers(sb):
    sf = direct(sb)
    faults(sb, rate_limit_burst=2)
    for _ in range(2):
        with pytest.raises(SalesforceRefusedRequest) as err:
            sf.query("SELECT Id FROM Account LIMIT 1")
        assert err.value.status == 403
        assert err.value.content == [{"message": "ConcurrentPerOrgLongTxn Limit exceeded.",
                                      "errorCode": "REQUEST_LIMIT_EXCEEDED"}]
    assert sf.query("SELECT Id FROM Account LIMIT 1")["totalSize"] == 1
    assert counts(sb)["faults"] == {"rate_limit": 2}
    assert counts(sb)["endpoints"]["GET /services/data/query"] == 3


def test_server_error_burst_then_recovers(sb):
    sf = direct(sb)
    faults(sb, server_error_burst=1)
    with pytest.raises(SalesforceGeneralError) as err:
        sf.query("SELECT Id FROM Account LIMIT 1")
    assert err.value.status == 503
    assert err.value.content[0]["errorCode"] == "SERVER_UNAVAILABLE"
    assert sf.query("SELECT Id FROM Account LIMIT 1")["totalSize"] == 1


def test_fault_after_n_requests_breaks_paging_midway(sb):
    sf = direct(sb)
    faults(sb, after=1, server_error_burst=1)
    first = sf.query(ALL_LIVE)
    assert len(first["records"]) == 2000 and not first["done"]
    with pytest.raises(SalesforceGeneralError):
        sf.query_more(first["nextRecordsUrl"], identifier_is_url=True)
    second = sf.query_more(first["nextRecordsUrl"], identifier_is_url=True)  # the cursor survived
    assert len(second["records"]) == 2000


def test_connection_reset_gives_no_response(sb):
    sf = direct(sb)
    faults(sb, reset_burst=1)
    with pytest.raises(requests.exceptions.ConnectionError):
        sf.query("SELECT Id FROM Account LIMIT 1")
    assert sf.query("SELECT Id FROM Account LIMIT 1")["totalSize"] == 1
    assert counts(sb)["faults"] == {"reset": 1}


def test_slow_response_exceeds_the_client_timeout(sb):
    sf = direct(sb)
    faults(sb, slow_burst=1, slow_seconds=1.0)
    with pytest.raises(requests.exceptions.ReadTimeout):
        sf.query("SELECT Id FROM Account LIMIT 1", timeout=0.3)
    assert sf.query("SELECT Id FROM Account LIMIT 1", timeout=5)["totalSize"] == 1


def test_malformed_body_is_truncated_json_with_status_200(sb):
    session = trusting_session(sb.ca_path)
    creds = sb.credentials["salesforce"]
    faults(sb, malformed_burst=1)
    raw = session.get(sb.urls["salesforce"] + "/services/data/v60.0/query",
                      params={"q": "SELECT Id FROM Account LIMIT 1"},
                      headers={"Authorization": f"Bearer {creds['session_id']}"})
    assert raw.status_code == 200
    with pytest.raises(ValueError):
        raw.json()
    with pytest.raises(ValueError):  # the official client fails the same way on the next one
        faults(sb, malformed_burst=1)
        direct(sb).query("SELECT Id FROM Account LIMIT 1")


def test_request_budget_is_a_fixed_quota(sb):
    sf = direct(sb)
    faults(sb, request_budget=3)
    for _ in range(3):
        sf.query("SELECT Id FROM Account LIMIT 1")
    for _ in range(2):  # stays spent
        with pytest.raises(SalesforceRefusedRequest) as err:
            sf.query("SELECT Id FROM Account LIMIT 1")
        assert err.value.content[0] == {"message": "TotalRequests Limit exceeded.",
                                        "errorCode": "REQUEST_LIMIT_EXCEEDED"}
    assert counts(sb)["faults"] == {"quota": 2}


def test_session_expiry_fault_makes_password_client_log_in_again(sb):
    sf = login(sb)
    faults(sb, session_expiry_burst=1)
    assert sf.query("SELECT Id FROM Account LIMIT 1")["totalSize"] == 1
    # login, expired query, automatic re-login, retried query
    assert counts(sb)["endpoints"] == {"POST /services/Soap/u": 2, "GET /services/data/query": 2}
    assert counts(sb)["faults"] == {"session_expired": 1}


def test_session_expiry_fault_fails_a_client_holding_only_a_session_id(sb):
    sf = direct(sb)
    faults(sb, session_expiry_burst=1)
    with pytest.raises(SalesforceExpiredSession) as err:
        sf.query("SELECT Id FROM Account LIMIT 1")
    assert err.value.content[0]["errorCode"] == "INVALID_SESSION_ID"
    with pytest.raises(SalesforceExpiredSession):  # the old session really is gone
        sf.query("SELECT Id FROM Account LIMIT 1")


def test_control_endpoints_set_faults_and_report_stats(sb):
    session = trusting_session(sb.ca_path)
    base = sb.urls["salesforce"]
    set_resp = session.post(base + "/__sandbox/faults", json={"server_error_burst": 1})
    assert set_resp.status_code == 200 and set_resp.json()["server_error_burst"] == 1
    with pytest.raises(SalesforceGeneralError):
        direct(sb).query("SELECT Id FROM Account LIMIT 1")
    stats = session.get(base + "/__sandbox/stats").json()
    assert stats == {"total": 1, "endpoints": {"GET /services/data/query": 1}, "faults": {"server_error": 1}}
    bad = session.post(base + "/__sandbox/faults", json={"server_eror_burst": 1})
    assert bad.status_code == 400 and "server_eror_burst" in bad.json()["error"]
    assert session.post(base + "/__sandbox/faults", json={"latency_ms": -5}).status_code == 400


def test_fault_plan_consumes_bursts_in_documented_order():
    plan = FaultPlan(FaultConfig(after=1, reset_burst=1, rate_limit_burst=2, malformed_burst=1, request_budget=5))
    kinds = [plan.decide().kind for _ in range(7)]
    # request 1 passes (after=1); then reset, 429 ×2, malformed; requests 6-7 exceed the budget of 5
    assert kinds == [None, "reset", "rate_limit", "rate_limit", "malformed", "quota", "quota"]


def test_shared_fixture_runs_all_three_emulators(sandbox):
    assert set(sandbox.urls) == {"salesforce", "hubspot", "stripe"}
    assert sandbox.urls["salesforce"].startswith("https://127.0.0.1:")
    assert all(sandbox.credentials[name] for name in sandbox.urls)
    assert sandbox.ca_path.read_text().startswith("-----BEGIN CERTIFICATE-----")


def test_serve_command_prints_urls_and_working_credentials(monkeypatch):
    from click.testing import CliRunner

    from nrr.cli import cli
    from nrr.commands import sandbox as command

    seen = {}

    def ready_then_stop(sandbox):
        command_print(sandbox)
        creds = sandbox.credentials["salesforce"]
        sf = Salesforce(username=creds["username"], password=creds["password"],
                        security_token=creds["security_token"], domain=creds["domain"],
                        session=trusting_session(sandbox.ca_path), version="60.0")
        seen["accounts"] = sf.query("SELECT COUNT() FROM Account")["totalSize"]
        seen["url"] = sandbox.urls["salesforce"]
        raise KeyboardInterrupt  # what Ctrl-C does

    command_print = command._print_ready
    monkeypatch.setattr(command, "_print_ready", ready_then_stop)
    result = CliRunner().invoke(cli, ["sandbox", "serve", "--accounts", "12", "--seed", "3"])
    assert result.exit_code == 0, result.output
    assert seen["accounts"] >= 1
    for name in ("[salesforce]  https://127.0.0.1:", "[hubspot]  http://127.0.0.1:", "[stripe]  http://127.0.0.1:",
                 "security_token = ", "access_token = ", "api_key = ", "CA certificate: "):
        assert name in result.output
    with pytest.raises(requests.exceptions.ConnectionError):  # stopped on Ctrl-C
        requests.get(seen["url"], timeout=2)


def test_faults_given_at_start_apply_from_the_first_request():
    emulator = SalesforceEmulator(records={"Account": [_account(1)]})
    start_faults = {"salesforce": FaultConfig(server_error_burst=1)}
    with Sandbox(None, start_faults, emulators=("salesforce",), instances={"salesforce": emulator}) as small:
        sf = direct(small)
        with pytest.raises(SalesforceGeneralError):
            sf.query("SELECT Id FROM Account")
        assert sf.query("SELECT Id FROM Account")["totalSize"] == 1
        assert small.stats()["salesforce"]["faults"] == {"server_error": 1}
