"""Salesforce emulator driven by simple-salesforce over HTTPS, seeded from the book.

Expected values come from the book's own tables (``sandbox_book`` in conftest)
filtered by hand in pandas, never from the emulator's code.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import (
    SalesforceAuthenticationFailed,
    SalesforceExpiredSession,
    SalesforceMalformedRequest,
    SalesforceRefusedRequest,
    SalesforceResourceNotFound,
)

from connectors.sandbox.app import Sandbox
from connectors.sandbox.salesforce import SalesforceEmulator
from connectors.sandbox.sf_schema import build_objects, id_for_key, with_checksum
from connectors.sandbox.soql import SoqlError, parse
from connectors.sandbox.tls import trusting_session

UTC = dt.timezone.utc


class ManualClock:
    def __init__(self, start: dt.datetime) -> None:
        self.now = start

    def __call__(self) -> dt.datetime:
        return self.now


@pytest.fixture(scope="module")
def clock(sandbox_book):
    as_of = sandbox_book.as_of
    # the book stamps rows until late on as_of; the emulator's "now" starts the day after
    return ManualClock(dt.datetime(as_of.year, as_of.month, as_of.day, tzinfo=UTC) + dt.timedelta(days=1))


@pytest.fixture(scope="module")
def sb(sandbox_book, clock):
    emulator = SalesforceEmulator(sandbox_book, clock=clock)
    with Sandbox(sandbox_book, emulators=("salesforce",), instances={"salesforce": emulator}) as running:
        yield running


@pytest.fixture(scope="module")
def sf(sb):
    creds = sb.credentials["salesforce"]
    return Salesforce(username=creds["username"], password=creds["password"],
                      security_token=creds["security_token"], domain=creds["domain"],
                      session=trusting_session(sb.ca_path), version="60.0")


def live(frame: pd.DataFrame) -> pd.DataFrame:
    return frame[~frame["deleted"].astype(bool)]


def page_all(sf: Salesforce, soql: str, batch: int | None = None, include_deleted: bool = False):
    """Follow nextRecordsUrl by hand; return (records, number of pages)."""
    headers = {"Sforce-Query-Options": f"batchSize={batch}"} if batch else {}
    result = sf.query(soql, include_deleted=include_deleted, headers=headers)
    records, pages = list(result["records"]), 1
    while not result["done"]:
        result = sf.query_more(result["nextRecordsUrl"], identifier_is_url=True, headers=headers)
        records += result["records"]
        pages += 1
    return records, pages, result["totalSize"]


# -- login flows -------------------------------------------------------------------

def test_oauth_password_and_client_credentials_flows(sb):
    creds = sb.credentials["salesforce"]
    session = trusting_session(sb.ca_path)
    by_password = Salesforce(username=creds["username"], password=creds["password"] + creds["security_token"],
                             consumer_key=creds["consumer_key"], consumer_secret=creds["consumer_secret"],
                             domain=creds["domain"], session=session, version="60.0")
    by_client = Salesforce(consumer_key=creds["consumer_key"], consumer_secret=creds["consumer_secret"],
                           domain=creds["domain"], session=session, version="60.0")
    for client in (by_password, by_client):
        assert client.sf_instance == sb.urls["salesforce"].removeprefix("https://")
        assert client.query("SELECT COUNT() FROM Account")["totalSize"] > 0


def test_wrong_password_and_wrong_secret_are_rejected(sb):
    creds = sb.credentials["salesforce"]
    session = trusting_session(sb.ca_path)
    with pytest.raises(SalesforceAuthenticationFailed, match="INVALID_LOGIN"):
        Salesforce(username=creds["username"], password="nope", security_token=creds["security_token"],
                   domain=creds["domain"], session=session)
    with pytest.raises(SalesforceAuthenticationFailed, match="invalid_client"):
        Salesforce(consumer_key=creds["consumer_key"], consumer_secret="nope", domain=creds["domain"],
                   session=session)


# -- query / queryAll ------------------------------------------------------------------

def test_paging_contacts_to_the_end_with_batch_size(sf, sandbox_book):
    expected = set(live(sandbox_book.contacts)["contact_id"].map(lambda k: id_for_key("Contact", k)))
    records, pages, total = page_all(sf, "SELECT Id, Email FROM Contact", batch=200)
    assert {r["Id"] for r in records} == expected and len(records) == len(expected) == total
    assert pages == -(-len(expected) // 200)  # ceil(n / 200) pages of 200
    assert records[0]["attributes"]["type"] == "Contact"


def test_batch_size_below_200_is_raised_to_200(sf):
    result = sf.query("SELECT Id FROM Contact", headers={"Sforce-Query-Options": "batchSize=50"})
    assert len(result["records"]) == min(200, result["totalSize"])


def test_query_all_shows_deleted_rows(sf, sandbox_book):
    tickets = sandbox_book.tickets
    deleted = set(tickets[tickets["deleted"].astype(bool)]["ticket_id"].map(lambda k: id_for_key("Case", k)))
    assert deleted, "the book deletes a few tickets in its last week"
    query_rows, _, _ = page_all(sf, "SELECT Id, IsDeleted FROM Case")
    all_rows, _, _ = page_all(sf, "SELECT Id, IsDeleted FROM Case", include_deleted=True)
    assert len(all_rows) == len(tickets) and len(query_rows) == len(tickets) - len(deleted)
    assert {r["Id"] for r in all_rows if r["IsDeleted"]} == deleted
    assert not any(r["IsDeleted"] for r in query_rows)


def test_where_system_modstamp_matches_book_updates(sf, sandbox_book):
    accounts = live(sandbox_book.accounts)
    since = pd.Timestamp(sandbox_book.as_of) - pd.Timedelta(days=10)
    expected = set(accounts[accounts["updated_at"] >= since]["account_id"])
    soql = f"SELECT AccountNumber, SystemModstamp FROM Account WHERE SystemModstamp >= {since:%Y-%m-%dT%H:%M:%SZ}"
    rows, _, _ = page_all(sf, soql)
    assert {r["AccountNumber"] for r in rows} == expected
    assert all(r["SystemModstamp"].endswith("+0000") for r in rows)


def test_where_with_and_or_parentheses_in_dates_and_booleans(sf, sandbox_book):
    opps = live(sandbox_book.opportunities)
    mask = (opps["is_won"].astype(bool) & opps["type"].isin(["Renewal", "Upsell"])
            & (opps["close_date"] >= pd.Timestamp("2025-01-01"))) | (opps["stage"] == "Closed Lost")
    expected = set(opps[mask]["opportunity_id"].map(lambda k: id_for_key("Opportunity", k)))
    soql = ("SELECT Id FROM Opportunity WHERE (IsWon = true AND Type IN ('Renewal', 'Upsell') "
            "AND CloseDate >= 2025-01-01) OR StageName = 'closed lost'")
    rows, _, _ = page_all(sf, soql)
    assert {r["Id"] for r in rows} == expected


def test_order_by_limit_and_relationship_field(sf, sandbox_book):
    opps = live(sandbox_book.opportunities).sort_values(["amount_minor", "opportunity_id"], ascending=[False, True])
    names = dict(zip(sandbox_book.accounts["account_id"], sandbox_book.accounts["name"]))
    account_of = {id_for_key("Opportunity", o): a for o, a in zip(opps["opportunity_id"], opps["account_id"])}
    rows = sf.query("SELECT Id, Amount, Account.Name FROM Opportunity ORDER BY Amount DESC LIMIT 5")["records"]
    assert [r["Amount"] for r in rows] == [a / 100 for a in opps["amount_minor"].head(5)]
    assert rows[0]["Account"]["Name"] == names[account_of[rows[0]["Id"]]]
    assert rows[0]["Account"]["attributes"]["type"] == "Account"


def test_bad_soql_is_a_json_error_list(sf):
    with pytest.raises(SalesforceMalformedRequest) as err:
        sf.query("SELECT Nope__c FROM Account")
    assert err.value.content[0]["errorCode"] == "INVALID_FIELD"
    with pytest.raises(SalesforceMalformedRequest) as err:
        sf.query("SELECT Id FROM Account WHERE SystemModstamp >= 2026-01-01")
    assert err.value.content[0]["errorCode"] == "INVALID_FIELD"  # a datetime needs a datetime literal


# -- describe, record read, custom fields ------------------------------------------------

def test_describe_lists_standard_and_custom_fields(sf):
    fields = {f["name"]: f for f in sf.Opportunity.describe()["fields"]}
    assert fields["Contract_Start__c"]["type"] == "date" and fields["Contract_Start__c"]["custom"] is True
    assert fields["Amount"]["type"] == "currency" and fields["Amount"]["custom"] is False
    assert fields["Id"]["updateable"] is False and fields["SystemModstamp"]["type"] == "datetime"
    assert fields["AccountId"]["referenceTo"] == ["Account"]
    account = {f["name"] for f in sf.Account.describe()["fields"]}
    assert {"ICP_Tier__c", "Licensed_Seats__c", "Plan__c", "Plan_Limit__c"} <= account


def test_custom_field_created_through_tooling_api_appears_and_takes_writes(sb, sf, clock):
    names = {f["name"] for f in sf.Account.describe()["fields"]}
    assert "NRR_Health_Score__c" not in names
    body = {"FullName": "Account.NRR_Health_Score__c",
            "Metadata": {"type": "Number", "label": "NRR Health Score", "precision": 5, "scale": 1}}
    created = sf.toolingexecute("sobjects/CustomField", method="POST", data=body)
    assert created["success"] is True and created["id"].startswith("00N")
    field = {f["name"]: f for f in sf.Account.describe()["fields"]}["NRR_Health_Score__c"]
    assert (field["type"], field["custom"], field["updateable"]) == ("double", True, True)
    with pytest.raises(SalesforceMalformedRequest, match="DUPLICATE_DEVELOPER_NAME"):
        sf.toolingexecute("sobjects/CustomField", method="POST", data=body)
    account_id = id_for_key("Account", "ACC-000002")
    assert sf.Account.update(account_id, {"NRR_Health_Score__c": 71.5}) == 204
    assert sf.Account.get(account_id)["NRR_Health_Score__c"] == 71.5


# -- composite writes --------------------------------------------------------------------

def _composite(sf: Salesforce, records: list[dict], all_or_none: bool) -> list[dict]:
    return sf.restful("composite/sobjects", method="PATCH", json={"allOrNone": all_or_none, "records": records})


def test_composite_patch_partial_failure(sf, sandbox_book, clock):
    tickets = sandbox_book.tickets
    deleted_case = id_for_key("Case", tickets[tickets["deleted"].astype(bool)]["ticket_id"].iloc[0])
    good = id_for_key("Account", "ACC-000003")
    clock.now += dt.timedelta(minutes=5)
    results = _composite(sf, [
        {"attributes": {"type": "Account"}, "id": good, "ICP_Tier__c": "Tier 1"},
        {"attributes": {"type": "Case"}, "id": deleted_case, "Priority": "High"},
        {"attributes": {"type": "Account"}, "id": id_for_key("Account", "ACC-000004"), "Health__c": 3},
        {"attributes": {"type": "Account"}, "id": id_for_key("Account", "ACC-000004"), "CreatedDate": "2020-01-01T00:00:00Z"},
    ], all_or_none=False)
    assert results[0] == {"id": good, "success": True, "errors": []}
    assert [r["success"] for r in results] == [True, False, False, False]
    assert results[1]["errors"][0]["statusCode"] == "ENTITY_IS_DELETED"
    assert results[2]["errors"][0]["statusCode"] == "INVALID_FIELD"
    assert results[2]["errors"][0]["fields"] == ["Health__c"]
    assert results[3]["errors"][0]["statusCode"] == "INVALID_FIELD"  # not updateable
    written = sf.Account.get(good)
    assert written["ICP_Tier__c"] == "Tier 1"
    assert written["SystemModstamp"] == clock.now.strftime("%Y-%m-%dT%H:%M:%S.000+0000")
    again = sf.query(f"SELECT Id FROM Account WHERE SystemModstamp >= {clock.now:%Y-%m-%dT%H:%M:%SZ}")
    assert [r["Id"] for r in again["records"]] == [good]


def test_composite_all_or_none_rolls_everything_back(sf):
    target = id_for_key("Account", "ACC-000005")
    before = sf.Account.get(target)["Plan__c"]
    results = _composite(sf, [
        {"attributes": {"type": "Account"}, "id": target, "Plan__c": "Changed"},
        {"attributes": {"type": "Account"}, "id": target, "NumberOfEmployees": "many"},
    ], all_or_none=True)
    assert results[0]["errors"][0]["statusCode"] == "ALL_OR_NONE_OPERATION_ROLLED_BACK"
    assert results[1]["errors"][0]["statusCode"] == "INVALID_TYPE_ON_FIELD_IN_RECORD"
    assert sf.Account.get(target)["Plan__c"] == before


def test_composite_rejects_more_than_200_records(sf):
    record = {"attributes": {"type": "Account"}, "id": id_for_key("Account", "ACC-000001"), "Plan__c": "Team"}
    with pytest.raises(SalesforceMalformedRequest, match="EXCEEDED_ID_LIMIT"):
        _composite(sf, [record] * 201, all_or_none=False)


# -- sessions and the daily allowance -----------------------------------------------------

def _small_sandbox(clock: ManualClock, **options):
    account = {"Id": id_for_key("Account", "ACC-000001"), "IsDeleted": False, "CreatedDate": clock.now,
               "LastModifiedDate": clock.now, "SystemModstamp": clock.now, "Name": "Only"}
    emulator = SalesforceEmulator(records={"Account": [account]}, clock=clock, **options)
    return Sandbox(None, emulators=("salesforce",), instances={"salesforce": emulator})


def test_session_expires_after_its_lifetime():
    clock = ManualClock(dt.datetime(2026, 3, 1, 9, tzinfo=UTC))
    with _small_sandbox(clock, session_ttl=dt.timedelta(hours=2)) as small:
        creds = small.credentials["salesforce"]
        session = trusting_session(small.ca_path)
        direct = Salesforce(session_id=creds["session_id"], instance_url=creds["instance_url"], session=session)
        relogin = Salesforce(username=creds["username"], password=creds["password"],
                             security_token=creds["security_token"], domain=creds["domain"], session=session)
        clock.now += dt.timedelta(hours=1, minutes=59)
        assert direct.query("SELECT Id FROM Account")["totalSize"] == 1
        clock.now += dt.timedelta(minutes=1)  # exactly 2 h after issue: expired
        with pytest.raises(SalesforceExpiredSession):
            direct.query("SELECT Id FROM Account")
        assert relogin.query("SELECT Id FROM Account")["totalSize"] == 1  # logs in again by itself


def test_daily_allowance_is_reported_and_enforced():
    clock = ManualClock(dt.datetime(2026, 3, 1, 9, tzinfo=UTC))
    with _small_sandbox(clock, daily_api_limit=3, session_ttl=dt.timedelta(days=2)) as small:
        creds = small.credentials["salesforce"]
        sf = Salesforce(session_id=creds["session_id"], instance_url=creds["instance_url"],
                        session=trusting_session(small.ca_path))
        for used in (1, 2, 3):
            sf.query("SELECT Id FROM Account")
            assert (sf.api_usage["api-usage"].used, sf.api_usage["api-usage"].total) == (used, 3)
        with pytest.raises(SalesforceRefusedRequest) as err:
            sf.query("SELECT Id FROM Account")
        assert err.value.content == [{"message": "TotalRequests Limit exceeded.", "errorCode": "REQUEST_LIMIT_EXCEEDED"}]
        clock.now += dt.timedelta(days=1)  # a new UTC day resets the allowance
        assert sf.query("SELECT Id FROM Account")["totalSize"] == 1


# -- ids and SOQL details (no HTTP) ---------------------------------------------------------

def test_id_checksum_matches_salesforce():
    # documented example pair: a0D30000001n7Pi → a0D30000001n7PiEAI
    # chunks a0D30 (D at 2 → 4 → E), 00000 (→ A), 1n7Pi (P at 3 → 8 → I)
    assert with_checksum("a0D30000001n7Pi") == "a0D30000001n7PiEAI"


@pytest.mark.parametrize("where, expected", [
    ("Name = 'o''k'", None),  # SOQL escapes quotes with a backslash, not doubling
    ("Name = 'O\\'Brien Co'", ["a"]),
    ("Name != 'x'", ["a", "b"]),  # != keeps nulls
    ("Name = null", ["b"]),
    ("Name LIKE 'o%'", ["a"]),
    ("NumberOfEmployees NOT IN (10, 20)", ["b"]),
    ("NOT (NumberOfEmployees > 15) AND Name != null", ["a"]),
    ("Customer_Since__c = YESTERDAY", ["a"]),
    ("Customer_Since__c >= LAST_N_DAYS:3", ["a"]),
    ("CreatedDate = TODAY", ["b"]),
])
def test_soql_where_semantics(where, expected):
    schemas = build_objects()
    today = dt.date(2026, 3, 10)
    rows = {
        "a": {"Name": "O'Brien Co", "NumberOfEmployees": 10, "Customer_Since__c": dt.date(2026, 3, 9),
              "CreatedDate": dt.datetime(2026, 3, 9, 23, 59, tzinfo=UTC)},
        "b": {"Name": None, "NumberOfEmployees": 30, "Customer_Since__c": dt.date(2026, 1, 1),
              "CreatedDate": dt.datetime(2026, 3, 10, 0, 0, tzinfo=UTC)},
    }
    if expected is None:
        with pytest.raises(SoqlError):
            parse(f"SELECT Id FROM Account WHERE {where}", schemas, today, lambda r, p: None)
        return
    query = parse(f"SELECT Id FROM Account WHERE {where}", schemas, today, lambda r, p: None)
    assert [key for key, row in rows.items() if query.where(row)] == expected


def test_custom_relationship_path_and_two_key_order(sf, sandbox_book):
    emails = dict(zip(sandbox_book.contacts["contact_id"], sandbox_book.contacts["email"]))
    champions = dict(zip(sandbox_book.accounts["account_id"], sandbox_book.accounts["champion_contact_id"]))
    rows, _, _ = page_all(sf, "SELECT AccountNumber, Champion__r.Email, SystemModstamp FROM Account "
                              "ORDER BY SystemModstamp, Id", include_deleted=True)
    assert len(rows) == len(sandbox_book.accounts)
    for row in rows:
        expected = emails.get(champions[row["AccountNumber"]])
        assert (row["Champion__r"] or {}).get("Email") == expected
    stamps = [r["SystemModstamp"] for r in rows]
    assert stamps == sorted(stamps)  # same-offset ISO strings sort like the instants


def test_describe_global_limits_and_missing_resources(sf, sandbox_book):
    assert {o["name"] for o in sf.describe()["sobjects"]} == {"Account", "Contact", "Opportunity", "Contract", "Case"}
    limits = sf.limits()["DailyApiRequests"]
    assert limits["Max"] == 100_000 and 0 < limits["Remaining"] < 100_000
    tickets = sandbox_book.tickets
    deleted_case = id_for_key("Case", tickets[tickets["deleted"].astype(bool)]["ticket_id"].iloc[0])
    with pytest.raises(SalesforceResourceNotFound):  # deleted rows are only visible through queryAll
        sf.Case.get(deleted_case)
    with pytest.raises(SalesforceResourceNotFound):
        sf.restful("sobjects/Invoice__c/describe")
