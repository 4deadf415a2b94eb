"""The HubSpot emulator driven by the official hubspot-api-client over real HTTP.

Expected values come from the book's tables (``connectors/sandbox/book.py``) and
the id rule of ``hs_book.hubspot_id``, never from the emulator's own state, so a
projection bug shows up as a mismatch.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest
from hubspot import HubSpot
from hubspot.crm.companies import ApiException as CompanyApiException
from hubspot.crm.contacts import PublicObjectSearchRequest
from hubspot.crm.deals import BatchInputSimplePublicObjectBatchInput, SimplePublicObjectBatchInput
from hubspot.crm.properties import PropertyCreate, PropertyGroupCreate

from connectors.sandbox.app import Sandbox
from connectors.sandbox.faults import FaultConfig
from connectors.sandbox.hs_book import hubspot_id
from connectors.sandbox.hs_limits import RateLimit
from connectors.sandbox.hubspot import HubSpotEmulator

class Clock:
    """A settable clock: the rate limit and write stamps never depend on the wall."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture(scope="module")
def book(sandbox_book):
    """The shared 120-account book: it has deleted contacts, deals and tickets to archive."""
    return sandbox_book


@pytest.fixture
def clock(book):
    return Clock(datetime.combine(book.as_of, datetime.min.time(), tzinfo=timezone.utc) + timedelta(hours=9))


@pytest.fixture
def serve(book, clock):
    """Start a private HubSpot sandbox: ``serve(**emulator_options) -> (client, emulator, sandbox)``."""
    running = []

    def start(token: str | None = None, **options):
        options.setdefault("rate_limit", None)
        emulator = HubSpotEmulator(book, clock=clock, **options)
        sb = Sandbox(book, emulators=("hubspot",), instances={"hubspot": emulator})
        running.append(sb)
        return HubSpot(access_token=token or emulator.token, host=sb.urls["hubspot"]), emulator, sb

    yield start
    for sb in running:
        sb.stop()


def _live(frame):
    return frame[~frame["deleted"]]


def _body(exc) -> dict:
    return json.loads(exc.body)


def test_companies_page_to_the_end_in_id_order(serve, book):
    client, _, _ = serve()
    ids, after, pages = [], None, 0
    while True:
        page = client.crm.companies.basic_api.get_page(limit=7, after=after, properties=["name", "account_id"])
        assert len(page.results) <= 7
        ids += [int(c.id) for c in page.results]
        pages += 1
        if page.paging is None:
            break
        after = page.paging.next.after
    expected = sorted(hubspot_id("companies", a) for a in _live(book.accounts)["account_id"])
    assert ids == expected
    assert pages == -(-len(expected) // 7)  # ceil(n / 7) pages, the last one partial or full


def test_get_all_contacts_carry_book_values_and_always_returned_properties(serve, book):
    client, _, _ = serve()
    contacts = client.crm.contacts.get_all(properties=["email", "hs_buying_role", "product_user_id"])
    live = _live(book.contacts).set_index("contact_id")
    assert len(contacts) == len(live)
    sample = live.iloc[0]
    got = next(c for c in contacts if c.id == str(hubspot_id("contacts", live.index[0])))
    assert got.properties["email"] == sample["email"]
    assert got.properties["product_user_id"] == sample["user_id"]
    role = {"champion": "CHAMPION", "sponsor": "EXECUTIVE_SPONSOR", "user": "END_USER"}[sample["role"]]
    assert got.properties["hs_buying_role"] == role
    assert {"createdate", "hs_object_id", "lastmodifieddate"} <= set(got.properties)


def test_archived_listing_returns_exactly_the_deleted_rows(serve, book):
    client, _, _ = serve()
    for type_name, frame, key in (("contacts", book.contacts, "contact_id"), ("deals", book.opportunities,
                                                                             "opportunity_id"),
                                  ("tickets", book.tickets, "ticket_id")):
        api = getattr(client.crm, type_name).basic_api
        page = api.get_page(limit=100, archived=True)
        expected = {hubspot_id(type_name, k) for k in frame[frame["deleted"]][key]}
        assert {int(o.id) for o in page.results} == expected and expected
        assert all(o.archived and o.archived_at is not None for o in page.results)
        live_page = api.get_page(limit=100, archived=False)
        assert not {int(o.id) for o in live_page.results} & expected


def test_read_one_deal_with_its_company_association(serve, book):
    client, _, _ = serve()
    opp = book.opportunities[book.opportunities["is_won"]].iloc[0]
    deal = client.crm.deals.basic_api.get_by_id(str(hubspot_id("deals", opp["opportunity_id"])),
                                                properties=["amount", "dealstage", "contract_start_date"],
                                                associations=["companies"])
    assert deal.properties["dealstage"] == "closedwon"
    assert Decimal(deal.properties["amount"]) * 100 == int(opp["amount_minor"])  # major units × 100 = minor units
    assert deal.properties["contract_start_date"] == opp["contract_start"].strftime("%Y-%m-%d")
    company = str(hubspot_id("companies", opp["account_id"]))
    types = {(a.id, a.type) for a in deal.associations["companies"].results}
    assert types == {(company, "deal_to_company"), (company, "deal_to_company_unlabeled")}


def test_v4_associations_name_the_primary_company(serve, book):
    client, _, _ = serve()
    ticket = _live(book.tickets).iloc[0]
    page = client.crm.associations.v4.basic_api.get_page("tickets", str(hubspot_id("tickets", ticket["ticket_id"])),
                                                         "companies")
    assert [int(r.to_object_id) for r in page.results] == [hubspot_id("companies", ticket["account_id"])]
    assert [(t.type_id, t.label) for t in page.results[0].association_types] == [(26, "Primary"), (339, None)]


def test_search_windows_past_the_ceiling(serve, book):
    client, emulator, _ = serve(search_ceiling=50)
    assert HubSpotEmulator(None).search_ceiling == 10_000  # the real ceiling is the default
    search = client.crm.contacts.search_api
    sort = [{"propertyName": "hs_object_id", "direction": "ASCENDING"}]
    first = search.do_search(PublicObjectSearchRequest(sorts=sort, limit=25, after="25"))
    assert first.total == len(_live(book.contacts)) > 50
    with pytest.raises(Exception) as refused:  # after 40 + limit 25 = 65 > 50
        search.do_search(PublicObjectSearchRequest(sorts=sort, limit=25, after="40"))
    assert refused.value.status == 400 and _body(refused.value)["category"] == "VALIDATION_ERROR"
    seen, last = [], 0
    while True:  # the windowing a connector does: restart the query above the last id seen
        window = [{"filters": [{"propertyName": "hs_object_id", "operator": "GT", "value": str(last)}]}]
        page = search.do_search(PublicObjectSearchRequest(filter_groups=window, sorts=sort, limit=50))
        if not page.results:
            break
        seen += [int(r.id) for r in page.results]
        last = seen[-1]
    assert seen == sorted(hubspot_id("contacts", c) for c in _live(book.contacts)["contact_id"])


def test_search_by_last_modified_matches_the_book(serve, book):
    client, _, _ = serve()
    cutoff = datetime.combine(book.as_of, datetime.min.time()) - timedelta(days=30)
    millis = str(int(cutoff.replace(tzinfo=timezone.utc).timestamp() * 1000))
    request = PublicObjectSearchRequest(
        filter_groups=[{"filters": [{"propertyName": "hs_lastmodifieddate", "operator": "GTE", "value": millis}]}],
        sorts=[{"propertyName": "hs_lastmodifieddate", "direction": "ASCENDING"}], limit=200)
    found = client.crm.deals.search_api.do_search(request)
    live = _live(book.opportunities)
    # updated_at carries sub-second digits; HubSpot stamps keep milliseconds, so compare at that precision.
    expected = live[live["updated_at"].dt.floor("ms") >= cutoff]
    assert found.total == len(expected) > 0
    assert {int(r.id) for r in found.results} == {hubspot_id("deals", o) for o in expected["opportunity_id"]}
    stamps = [r.properties["hs_lastmodifieddate"] for r in found.results]
    assert stamps == sorted(stamps)


def test_search_eq_on_a_custom_property_and_text_query(serve, book):
    client, _, _ = serve()
    live = _live(book.accounts)
    request = PublicObjectSearchRequest(
        filter_groups=[{"filters": [{"propertyName": "segment", "operator": "EQ", "value": "enterprise"}]},
                       {"filters": [{"propertyName": "segment", "operator": "EQ", "value": "smb"}]}],
        properties=["segment"], limit=100)
    found = client.crm.companies.search_api.do_search(request)
    expected = live[live["segment"].isin(["enterprise", "smb"])]  # two groups are ORed
    assert found.total == len(expected) > 0
    assert {r.properties["segment"] for r in found.results} <= {"enterprise", "smb"}
    name = live.iloc[0]["name"]
    by_text = client.crm.companies.search_api.do_search(PublicObjectSearchRequest(query=name, limit=10))
    assert str(hubspot_id("companies", live.iloc[0]["account_id"])) in {r.id for r in by_text.results}


def test_list_limit_over_100_is_400(serve):
    client, _, _ = serve()
    with pytest.raises(Exception) as refused:
        client.crm.companies.basic_api.get_page(limit=101)
    assert refused.value.status == 400 and _body(refused.value)["category"] == "VALIDATION_ERROR"


def _batch(inputs):
    return BatchInputSimplePublicObjectBatchInput(
        inputs=[SimplePublicObjectBatchInput(id=i, properties=p) for i, p in inputs])


def test_custom_property_then_batch_update_200_and_207(serve, book, clock):
    client, _, _ = serve()
    client.crm.properties.groups_api.create("deals", PropertyGroupCreate(name="nrr_engine", label="NRR Engine"))
    client.crm.properties.core_api.create("deals", PropertyCreate(
        name="nrr_health_status", label="Health status", type="enumeration", field_type="select",
        group_name="nrr_engine", options=[{"label": "Healthy", "value": "healthy"},
                                          {"label": "At risk", "value": "at_risk"}]))
    deals = [str(hubspot_id("deals", o)) for o in _live(book.opportunities)["opportunity_id"][:3]]
    clock.now += timedelta(minutes=5)
    ok, status, _ = client.crm.deals.batch_api.update_with_http_info(
        _batch([(deals[0], {"nrr_health_status": "healthy"}), (deals[1], {"nrr_health_status": "at_risk"})]))
    assert status == 200 and ok.status == "COMPLETE" and len(ok.results) == 2
    again = client.crm.deals.basic_api.get_by_id(deals[1], properties=["nrr_health_status"])
    assert again.properties["nrr_health_status"] == "at_risk"
    assert again.updated_at == clock.now
    mixed, status, _ = client.crm.deals.batch_api.update_with_http_info(_batch([
        (deals[2], {"nrr_health_status": "healthy"}), ("999", {"nrr_health_status": "healthy"}),
        (deals[0], {"no_such_field": "x"}), (deals[1], {"nrr_health_status": "thriving"})]))
    assert status == 207 and mixed.num_errors == 3 and [r.id for r in mixed.results] == [deals[2]]
    by_id = {e.context["ids"][0]: e for e in mixed.errors}
    assert by_id["999"].category == "OBJECT_NOT_FOUND"
    assert by_id[deals[0]].errors[0].code == "PROPERTY_DOESNT_EXIST"
    assert by_id[deals[1]].errors[0].code == "INVALID_OPTION"
    still = client.crm.deals.basic_api.get_by_id(deals[1], properties=["nrr_health_status"])
    assert still.properties["nrr_health_status"] == "at_risk"  # the failed input changed nothing


def test_batch_over_100_inputs_is_refused_whole(serve):
    client, _, _ = serve()
    with pytest.raises(Exception) as refused:
        client.crm.deals.batch_api.update(_batch([(str(i), {"amount": "1"}) for i in range(101)]))
    assert refused.value.status == 400 and "limit is 100" in _body(refused.value)["message"]


def test_duplicate_property_and_group_are_409(serve):
    client, _, _ = serve()
    with pytest.raises(Exception) as dup_prop:
        client.crm.properties.core_api.create("companies", PropertyCreate(
            name="segment", label="Segment", type="string", field_type="text", group_name="customer_success"))
    with pytest.raises(Exception) as dup_group:
        client.crm.properties.groups_api.create("companies", PropertyGroupCreate(
            name="customer_success", label="Again"))
    for exc in (dup_prop.value, dup_group.value):
        assert exc.status == 409 and _body(exc)["category"] == "OBJECT_ALREADY_EXISTS"


def test_wrong_token_401_and_missing_scope_403(serve):
    client, emulator, sb = serve(token="pat-na1-not-a-real-token")
    with pytest.raises(CompanyApiException) as denied:
        client.crm.companies.basic_api.get_page()
    assert denied.value.status == 401 and _body(denied.value)["category"] == "INVALID_AUTHENTICATION"
    emulator.add_token("pat-na1-companies-only", ["crm.objects.companies.read"])
    narrow = HubSpot(access_token="pat-na1-companies-only", host=sb.urls["hubspot"])
    assert narrow.crm.companies.basic_api.get_page(limit=1).results
    with pytest.raises(Exception) as forbidden:
        narrow.crm.deals.basic_api.get_page()
    body = _body(forbidden.value)
    assert forbidden.value.status == 403 and body["category"] == "MISSING_SCOPES"
    assert body["errors"][0]["context"]["requiredGranularScopes"] == ["crm.objects.deals.read"]
    with pytest.raises(Exception) as cannot_write:
        narrow.crm.properties.groups_api.create("companies", PropertyGroupCreate(name="x", label="X"))
    assert _body(cannot_write.value)["errors"][0]["context"]["requiredGranularScopes"] == [
        "crm.schemas.companies.write"]


def test_rolling_ten_second_limit_and_daily_allowance(serve, clock):
    client, _, _ = serve(rate_limit=RateLimit(max_requests=3, interval_ms=10_000, daily=5))
    api = client.crm.companies.basic_api
    remaining = []
    for _ in range(3):
        _, status, headers = api.get_page_with_http_info(limit=1)
        remaining.append(headers["X-HubSpot-RateLimit-Remaining"])
    assert remaining == ["2", "1", "0"]  # max 3: 3-1, 3-2, 3-3
    assert headers["X-HubSpot-RateLimit-Interval-Milliseconds"] == "10000"
    assert headers["X-HubSpot-RateLimit-Daily-Remaining"] == "2"  # daily 5 - 3 used
    with pytest.raises(Exception) as limited:
        api.get_page(limit=1)
    body = _body(limited.value)
    assert limited.value.status == 429
    assert (body["errorType"], body["policyName"]) == ("RATE_LIMIT", "TEN_SECONDLY_ROLLING")
    clock.now += timedelta(seconds=10)  # the first three fall out of the rolling window
    api.get_page(limit=1)
    api.get_page(limit=1)
    with pytest.raises(Exception) as daily:  # the 6th admitted request would exceed daily = 5
        api.get_page(limit=1)
    assert _body(daily.value)["policyName"] == "DAILY"
    clock.now += timedelta(days=1)
    assert api.get_page(limit=1).results


def test_search_responses_carry_no_rate_limit_headers(serve):
    client, _, _ = serve(rate_limit=RateLimit())
    _, _, headers = client.crm.companies.search_api.do_search_with_http_info(PublicObjectSearchRequest(limit=1))
    assert not any(k.lower().startswith("x-hubspot-ratelimit") for k in headers)


def test_injected_faults_use_hubspot_error_formats(serve):
    client, _, sb = serve()
    api = client.crm.companies.basic_api
    sb.set_faults("hubspot", FaultConfig(rate_limit_burst=1, session_expiry_burst=1, server_error_burst=1))
    expected = [(429, "policyName", "TEN_SECONDLY_ROLLING"), (500, "category", "INTERNAL_ERROR"),
                (401, "category", "EXPIRED_AUTHENTICATION")]  # bursts run in the server's fixed order
    for status, key, value in expected:
        with pytest.raises(Exception) as fault:
            api.get_page(limit=1)
        assert (fault.value.status, _body(fault.value)[key]) == (status, value)
    sb.set_faults("hubspot", FaultConfig(request_budget=1))
    api.get_page(limit=1)
    with pytest.raises(Exception) as spent:
        api.get_page(limit=1)
    assert spent.value.status == 429 and _body(spent.value)["policyName"] == "DAILY"
    assert sb.stats()["hubspot"]["endpoints"]["GET /crm/v3/objects/companies"] == 5


def test_owners_and_property_catalog(serve, book):
    client, _, _ = serve()
    owners = client.crm.owners.owners_api.get_page(limit=100).results
    assert sorted(o.email for o in owners) == sorted(book.accounts["owner_email"].unique())
    props = {p.name: p for p in client.crm.properties.core_api.get_all("companies").results}
    assert {"segment", "icp_tier", "licensed_seats", "plan", "account_id"} <= set(props)
    assert props["hs_object_id"].modification_metadata.read_only_value is True
    assert {o.label for o in props["industry"].options} == set(book.accounts["industry"])


def test_shared_sandbox_serves_hubspot(sandbox, sandbox_book):
    creds = sandbox.credentials["hubspot"]
    client = HubSpot(access_token=creds["access_token"], host=sandbox.urls["hubspot"])
    first = client.crm.companies.basic_api.get_page(limit=1, properties=["account_id"])
    assert first.results[0].properties["account_id"] == sorted(_live(sandbox_book.accounts)["account_id"])[0]


def test_token_introspection_lists_scopes_for_doctor(serve):
    client, emulator, sb = serve()
    emulator.add_token("pat-na1-read-only", ["crm.objects.companies.read", "crm.objects.owners.read"])
    info = client.oauth.access_tokens_api.get("pat-na1-read-only")
    assert info.scopes == ["crm.objects.companies.read", "crm.objects.owners.read"]
    assert info.hub_id == emulator.hub_id
    with pytest.raises(Exception) as unknown:
        client.oauth.access_tokens_api.get("pat-na1-nobody")
    assert unknown.value.status == 404


def test_patch_one_object_and_read_by_unique_property(serve, book, clock):
    client, _, _ = serve()
    contact = _live(book.contacts).iloc[0]
    contact_id = str(hubspot_id("contacts", contact["contact_id"]))
    clock.now += timedelta(hours=1)
    from hubspot.crm.contacts import SimplePublicObjectInput

    client.crm.contacts.basic_api.update(contact_id, SimplePublicObjectInput(properties={"jobtitle": "VP Ops"}))
    found = client.crm.contacts.basic_api.get_by_id(contact["email"], id_property="email", properties=["jobtitle"])
    assert (found.id, found.properties["jobtitle"]) == (contact_id, "VP Ops")
    assert found.properties["lastmodifieddate"] == clock.now.strftime("%Y-%m-%dT%H:%M:%S.000Z")
    with pytest.raises(Exception) as read_only:
        client.crm.contacts.basic_api.update(contact_id, SimplePublicObjectInput(properties={"createdate": "1"}))
    assert read_only.value.status == 400 and "READ_ONLY_VALUE" in _body(read_only.value)["message"]


def test_v4_batch_read_of_company_deals(serve, book):
    client, _, _ = serve()
    from hubspot.crm.associations.v4 import BatchInputPublicFetchAssociationsBatchRequest

    opps = _live(book.opportunities)
    account = opps["account_id"].value_counts().index[0]  # the account with the most live deals
    company = str(hubspot_id("companies", account))
    result = client.crm.associations.v4.batch_api.get_page(
        "companies", "deals", BatchInputPublicFetchAssociationsBatchRequest(inputs=[{"id": company}]))
    assert [r._from.id for r in result.results] == [company]
    expected = sorted(hubspot_id("deals", o) for o in opps[opps["account_id"] == account]["opportunity_id"])
    assert sorted(int(t.to_object_id) for t in result.results[0].to) == expected


@pytest.mark.parametrize("flag, archived", [("false", False), ("False", False), ("true", True), ("TRUE", True)])
def test_archived_flag_spellings(book, flag, archived):
    from connectors.sandbox.http import Request

    emulator = HubSpotEmulator(book, rate_limit=None)
    req = Request("GET", "/crm/v3/objects/contacts", {"archived": [flag], "limit": ["100"]},
                  {"authorization": f"Bearer {emulator.token}"})
    answer = emulator.handle(req)
    assert answer.status == 200 and {r["archived"] for r in answer.body["results"]} == {archived}


@pytest.mark.parametrize("body, fragment", [
    (b"{not json", "Invalid input JSON"),
    (json.dumps({"limit": 201}).encode(), "between 1 and 200"),
    (json.dumps({"filterGroups": [{"filters": [{"propertyName": "nope", "operator": "EQ", "value": "1"}]}]}
                ).encode(), "'nope' does not exist"),
    (json.dumps({"filterGroups": [{"filters": [{"propertyName": "name", "operator": "LIKE", "value": "a"}]}]}
                ).encode(), "Unknown filter operator"),
    (json.dumps({"filterGroups": [{"filters": []}] * 6}).encode(), "at most 5 groups"),
])
def test_bad_search_bodies_are_400_validation_errors(book, body, fragment):
    from connectors.sandbox.http import Request

    emulator = HubSpotEmulator(book, rate_limit=None)
    answer = emulator.handle(Request("POST", "/crm/v3/objects/companies/search", {},
                                     {"authorization": f"Bearer {emulator.token}"}, body))
    assert answer.status == 400 and answer.body["category"] == "VALIDATION_ERROR"
    assert fragment in answer.body["message"]


def test_endpoint_keys_group_ids_and_type_aliases(book):
    from connectors.sandbox.http import Request

    emulator = HubSpotEmulator(book, rate_limit=None)
    assert emulator.endpoint_key(Request("GET", "/crm/v3/objects/0-2/20000000001")) == \
        "GET /crm/v3/objects/companies/{id}"
    assert emulator.endpoint_key(Request("POST", "/crm/v3/objects/deal/batch/update")) == \
        "POST /crm/v3/objects/deals/batch/update"
