"""The Stripe emulator driven by the official stripe-python client over real HTTP.

Expected values come from the book's own tables (``connectors/sandbox/book.py``),
never from the emulator's state, so a projection bug shows up as a mismatch.
"""

from __future__ import annotations

import dataclasses
import math
from datetime import datetime, timedelta, timezone

import pandas as pd
import pytest
import stripe

from connectors.sandbox.app import Sandbox
from connectors.sandbox.book import generate_book
from connectors.sandbox.faults import FaultConfig
from connectors.sandbox.stripe_api import StripeEmulator

ACCOUNTS = 60  # seed 1: five discounted live lines, three of them repeating
MONTHS_PER_INTERVAL = {"month": 1, "year": 12}


class Clock:
    """A settable clock so retention and the rate limit never depend on the wall."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture(scope="module")
def book():
    return generate_book(accounts=ACCOUNTS, seed=1)


@pytest.fixture(scope="module")
def clock(book):
    return Clock(datetime.combine(book.as_of, datetime.min.time(), tzinfo=timezone.utc) + timedelta(hours=12))


def _start(book, clock, **options):
    emulator = StripeEmulator(book, clock=clock, rate_limit=None, **options)
    return Sandbox(book, emulators=("stripe",), instances={"stripe": emulator}), emulator


@pytest.fixture(scope="module")
def stripe_sandbox(book, clock):
    """Only the Stripe emulator, on a fixed clock and without the rate limit."""
    sb, emulator = _start(book, clock)
    with sb:
        yield sb, emulator


@pytest.fixture(scope="module")
def legacy_sandbox(book, clock):
    """The Stripe emulator answering in the 2024 shapes (``legacy_shapes=True``)."""
    sb, _ = _start(book, clock, legacy_shapes=True)
    with sb:
        yield sb


def _client(sb, api_key=None, retries=0, version=None):
    return stripe.StripeClient(api_key or sb.credentials["stripe"]["api_key"],
                               base_addresses={"api": sb.urls["stripe"]},
                               max_network_retries=retries, stripe_version=version)


def _unix(value) -> int:
    return int(pd.Timestamp(value).value // 1_000_000_000)


def _live_lines(book) -> pd.DataFrame:
    """Contract lines in service on the book's as_of day."""
    as_of, lines = pd.Timestamp(book.as_of), book.contracts
    return lines[(lines["start_date"] <= as_of) & (lines["end_date"].isna() | (lines["end_date"] >= as_of))]


def _live_customer_ids(book) -> set[str]:
    accounts = book.accounts[(book.accounts["stripe_customer_id"] != "") & ~book.accounts["deleted"]]
    return set(accounts["stripe_customer_id"])


def test_customers_page_forward_to_the_end_newest_first(stripe_sandbox, book):
    sb, _ = stripe_sandbox
    sb.clear_stats()
    seen = list(_client(sb).v1.customers.list({"limit": 7}).auto_paging_iter())
    expected = _live_customer_ids(book)
    assert [c.id for c in seen if c.id not in expected] == []
    assert len(seen) == len(expected) == len({c.id for c in seen})
    assert all(a.created >= b.created for a, b in zip(seen, seen[1:]))
    # pages of 7 until has_more is false: ceil(n / 7) requests, no extra empty page
    assert sb.stats()["stripe"]["endpoints"]["GET /v1/customers"] == math.ceil(len(expected) / 7)


def test_customers_page_backward_from_the_oldest(stripe_sandbox, book):
    sb, _ = stripe_sandbox
    client = _client(sb)
    newest_first = [c.id for c in client.v1.customers.list({"limit": 100}).auto_paging_iter()]
    oldest = newest_first[-1]
    walked = [c.id for c in client.v1.customers.list({"limit": 6, "ending_before": oldest}).auto_paging_iter()]
    # ending_before pages walk toward newer objects; the iterator yields oldest → newest
    assert walked == list(reversed(newest_first[:-1]))


def test_customer_metadata_links_follow_the_book(stripe_sandbox, book):
    sb, _ = stripe_sandbox
    by_id = {c.id: c for c in _client(sb).v1.customers.list({"limit": 100}).auto_paging_iter()}
    for row in book.accounts[book.accounts["stripe_customer_id"].isin(by_id)].itertuples():
        metadata = by_id[row.stripe_customer_id].metadata.to_dict()
        expected = {"crm_account_id": row.account_id} if row.stripe_link == "metadata" else {}
        assert metadata == expected, row.account_id
        assert by_id[row.stripe_customer_id].email == row.billing_email


def test_subscriptions_default_hides_canceled_and_status_all_shows_them(stripe_sandbox, book):
    sb, _ = stripe_sandbox
    client = _client(sb)
    default = {s.id for s in client.v1.subscriptions.list({"limit": 100}).auto_paging_iter()}
    everything = {s.id for s in client.v1.subscriptions.list({"limit": 100, "status": "all"}).auto_paging_iter()}
    subs = book.subscriptions
    assert everything == set(subs["subscription_id"])
    assert default == set(subs.loc[subs["status"] != "canceled", "subscription_id"])
    canceled = client.v1.subscriptions.list({"limit": 100, "status": "canceled"})
    assert {s.id for s in canceled} == everything - default


def test_subscription_items_carry_price_quantity_period_and_match_book_mrr(stripe_sandbox, book):
    sb, _ = stripe_sandbox
    live = _live_lines(book)
    for sub in _client(sb).v1.subscriptions.list({"limit": 100}).auto_paging_iter():
        # MRR = Σ unit_amount × quantity ÷ months per interval; e.g. 54 seats × 31200/yr ÷ 12 = 140400
        stripe_mrr = sum(item.price.unit_amount * item.quantity
                         / MONTHS_PER_INTERVAL[item.price.recurring.interval] for item in sub["items"].data)
        book_mrr = live.loc[live["subscription_id"] == sub.id, "list_mrr_minor"].sum()
        assert stripe_mrr == pytest.approx(book_mrr), sub.id
        row = book.subscriptions.set_index("subscription_id").loc[sub.id]
        for item in sub["items"].data:
            assert item.current_period_start == _unix(row.current_period_start)
            assert item.current_period_end == _unix(row.current_period_end) + 86_400  # exclusive end


def test_non_renewing_subscriptions_carry_cancel_at(stripe_sandbox, book):
    expected = {}
    for sub_id, lines in _live_lines(book).groupby("subscription_id"):
        if not lines["auto_renew"].any() and lines["end_date"].notna().all():
            expected[sub_id] = _unix(lines["end_date"].max()) + 86_400  # the day after the last day
    subs = _client(stripe_sandbox[0]).v1.subscriptions.list({"limit": 100}).auto_paging_iter()
    got = {s.id: s.cancel_at for s in subs if s.cancel_at is not None}
    assert expected and got == expected


def test_invoices_created_filter_matches_book(stripe_sandbox, book):
    sb, _ = stripe_sandbox
    inv = book.invoices
    low, high = _unix(inv["created_at"].quantile(0.4)), _unix(inv["created_at"].quantile(0.6))
    got = {i.id for i in _client(sb).v1.invoices.list(
        {"limit": 100, "created": {"gte": low, "lt": high}}).auto_paging_iter()}
    created = inv["created_at"].map(_unix)
    assert got == set(inv.loc[(created >= low) & (created < high), "invoice_id"])
    assert got  # the 40–60% quantile window of ~400 invoices is never empty


def test_invoice_tax_one_time_fees_and_totals(stripe_sandbox, book):
    sb, _ = stripe_sandbox
    with_fee = book.invoices[book.invoices["one_time_minor"] > 0].iloc[0]
    got = _client(sb).v1.invoices.retrieve(with_fee.invoice_id)
    one_time = [line for line in got.lines.data if line.parent.type == "invoice_item_details"]
    assert [line.amount for line in one_time] == [with_fee.one_time_minor]
    assert sum(t.amount for t in got.total_taxes) == with_fee.tax_minor
    # total = recurring after discount + one-time + tax (book's total_minor)
    assert got.total == with_fee.subscription_minor + with_fee.one_time_minor + with_fee.tax_minor
    assert got.parent.subscription_details.subscription == with_fee.subscription_id
    assert got.attempt_count == with_fee.attempt_count and got.status == with_fee.status


def test_expand_customer_discounts_and_coupon(stripe_sandbox, book):
    sb, _ = stripe_sandbox
    discounted = book.contracts[(book.contracts["discount_percent"] > 0)
                                & (book.contracts["status"] == "active")].iloc[0]
    subs = _client(sb).v1.subscriptions.list({"customer": _customer_of(book, discounted.account_id), "limit": 100,
                                              "expand": ["data.customer", "data.discounts.source.coupon",
                                                         "data.items.data.price",  # always embedded: a no-op
                                                         "data.items.data.price.product"]})
    sub = next(s for s in subs if s.id == discounted.subscription_id)
    assert sub.customer.object == "customer" and sub.customer.id == _customer_of(book, discounted.account_id)
    discounts = list(sub.discounts) + [d for item in sub["items"].data for d in item.discounts]
    assert [d.source.coupon.percent_off for d in discounts] == [discounted.discount_percent]
    assert discounts[0].source.coupon.duration == ("forever" if pd.isna(discounted.discount_end) else "repeating")
    assert sub["items"].data[0].price.product.object == "product"


def test_expanding_a_scalar_is_a_400_without_retry(stripe_sandbox):
    sb, _ = stripe_sandbox
    with pytest.raises(stripe.InvalidRequestError) as err:
        _client(sb).v1.customers.list({"expand": ["data.metadata"]})
    assert err.value.http_status == 400
    assert "cannot be expanded (data.metadata)" in err.value.user_message
    assert err.value.headers["stripe-should-retry"] == "false"


def test_limit_over_100_is_rejected(stripe_sandbox):
    sb, _ = stripe_sandbox
    with pytest.raises(stripe.InvalidRequestError) as err:
        _client(sb).v1.invoices.list({"limit": 101})
    assert err.value.param == "limit"


def test_events_keep_30_days_and_filter_by_type(stripe_sandbox, book, clock):
    sb, emulator = stripe_sandbox
    client = _client(sb)
    events = list(client.v1.events.list({"limit": 100}).auto_paging_iter())
    cutoff = int(clock().timestamp()) - 30 * 86_400
    assert events and min(e.created for e in events) >= cutoff
    stored = list(emulator.store.newest_first("events"))
    expired = [e for e in stored if e["created"] < cutoff]
    assert expired, "the seed covers 45 days, so some events are past retention"
    with pytest.raises(stripe.InvalidRequestError) as err:
        client.v1.events.retrieve(expired[0]["id"])
    assert err.value.http_status == 404
    money = client.v1.events.list({"types": ["invoice.paid", "invoice.payment_failed"], "limit": 100})
    assert money.data and {e.type for e in money.auto_paging_iter()} <= {"invoice.paid", "invoice.payment_failed"}
    paid = [e for e in money.auto_paging_iter() if e.type == "invoice.paid"]
    book_paid = book.invoices.set_index("invoice_id").loc[[e.data.object.id for e in paid], "paid_at"]
    assert all(_unix(t) >= cutoff for t in book_paid)
    # "customer.*" also matches customer.subscription.* (Stripe's wildcard is a prefix glob)
    customers = client.v1.events.list({"type": "customer.*", "limit": 100}).auto_paging_iter()
    assert [e.id for e in customers] == [e.id for e in events if e.type.startswith("customer.")]
    assert {e.data.object.object for e in events if e.type.startswith("customer.subscription.")} == {"subscription"}


def test_book_deleted_customers_are_gone_but_evented(book, clock):
    # deletions are rare in generated books, so delete two billed accounts in a copy:
    # one 2 days before as_of (evented and listed) and one 40 days before (past retention)
    accounts = book.accounts.copy()
    billed = accounts.index[accounts["stripe_customer_id"] != ""][:2]
    accounts.loc[billed, "deleted"] = True
    as_of = pd.Timestamp(book.as_of)
    accounts.loc[billed, "deleted_at"] = [as_of - pd.Timedelta(days=2), as_of - pd.Timedelta(days=40)]
    edited = dataclasses.replace(book, accounts=accounts)
    gone = accounts.loc[billed]
    sb, _ = _start(edited, clock)
    with sb:
        client = _client(sb)
        for customer_id in gone["stripe_customer_id"]:
            assert client.v1.customers.retrieve(customer_id).deleted is True
        deletions = [e.data.object.id for e in client.v1.events.list({"type": "customer.deleted"})]
        assert deletions == [gone.iloc[0].stripe_customer_id]
        listed = {c.id for c in client.v1.customers.list({"limit": 100}).auto_paging_iter()}
        assert listed == _live_customer_ids(edited) == _live_customer_ids(book) - set(gone["stripe_customer_id"])


def test_legacy_shapes_by_flag(legacy_sandbox, book):
    client = _client(legacy_sandbox)
    sub = client.v1.subscriptions.list({"limit": 1}).data[0]
    assert "current_period_end" in sub and "current_period_end" not in sub["items"].data[0]
    with_fee = book.invoices[(book.invoices["one_time_minor"] > 0) & (book.invoices["tax_minor"] > 0)].iloc[0]
    inv = client.v1.invoices.retrieve(with_fee.invoice_id)
    assert "parent" not in inv and "total_taxes" not in inv
    assert (inv.subscription, inv.tax) == (with_fee.subscription_id, with_fee.tax_minor)
    assert [line.type for line in inv.lines.data][-1] == "invoiceitem"
    assert {line.type for line in inv.lines.data[:-1]} == {"subscription"}


def test_legacy_shapes_by_stripe_version_header(stripe_sandbox):
    sb, _ = stripe_sandbox
    old = _client(sb, version="2024-06-20").v1.subscriptions.list({"limit": 1}).data[0]
    new = _client(sb).v1.subscriptions.list({"limit": 1}).data[0]
    assert "current_period_end" in old and "current_period_end" not in new
    assert new["items"].data[0].current_period_end == old.current_period_end


def test_legacy_discount_is_one_object_with_its_coupon(legacy_sandbox, book):
    live = book.contracts[(book.contracts["discount_percent"] > 0) & (book.contracts["status"] == "active")]
    percent_of = dict(zip(live["subscription_id"], live["discount_percent"]))
    subs = _client(legacy_sandbox).v1.subscriptions.list({"limit": 100}).auto_paging_iter()
    found = {s.id: s.discount.coupon for s in subs if s.discount is not None}
    assert found and set(found) <= set(percent_of)
    assert {sub_id: coupon.percent_off for sub_id, coupon in found.items()} == \
        {sub_id: percent_of[sub_id] for sub_id in found}
    # the current expansion path does not exist in the 2024 shape, as on Stripe
    with pytest.raises(stripe.InvalidRequestError):
        _client(legacy_sandbox).v1.subscriptions.list({"expand": ["data.discounts.source.coupon"]})


def test_wrong_api_key_is_401(stripe_sandbox):
    sb, _ = stripe_sandbox
    with pytest.raises(stripe.AuthenticationError) as err:
        _client(sb, api_key="sk_test_wrong_key_1234").v1.customers.list()
    assert err.value.http_status == 401
    assert err.value.error.type == "invalid_request_error" and err.value.error.code == "api_key_invalid"
    assert "sk_test_wrong_key_1234" not in str(err.value)  # only the last four characters are shown


def test_rate_limit_25_per_second_with_should_retry(book):
    clock = Clock(datetime(2026, 11, 15, 12, tzinfo=timezone.utc))
    emulator = StripeEmulator(book, clock=clock, rate_limit=25)
    with Sandbox(book, emulators=("stripe",), instances={"stripe": emulator}) as sb:
        client = _client(sb)
        for _ in range(25):
            client.v1.products.list({"limit": 1})
        with pytest.raises(stripe.RateLimitError) as err:
            client.v1.products.list({"limit": 1})
        assert err.value.http_status == 429 and err.value.headers["stripe-should-retry"] == "true"
        assert err.value.error.type == "rate_limit_error"
        clock.now += timedelta(seconds=1)  # the one-second window has passed
        assert client.v1.products.list({"limit": 1}).data


def test_injected_429_burst_is_retried_by_the_client(stripe_sandbox):
    sb, _ = stripe_sandbox
    sb.set_faults("stripe", FaultConfig(rate_limit_burst=2))
    try:
        sb.clear_stats()
        assert _client(sb, retries=2).v1.prices.list({"limit": 3}).data
        # 2 rate-limited attempts + 1 that got through
        assert sb.stats()["stripe"]["total"] == 3
    finally:
        sb.set_faults("stripe", FaultConfig())


def test_idempotent_update_replays_and_emits_one_event(book, clock):
    sb, emulator = _start(book, clock)
    with sb:
        client = _client(sb)
        customer_id = sorted(_live_customer_ids(book))[0]
        params = {"metadata": {"crm_account_id": "ACC-999999"}}
        first = client.v1.customers.update(customer_id, params, {"idempotency_key": "link-1"})
        again = client.v1.customers.update(customer_id, params, {"idempotency_key": "link-1"})
        assert again.last_response.headers.get("Idempotent-Replayed") == "true"
        assert first.last_response.headers.get("Idempotent-Replayed") is None
        assert client.v1.customers.retrieve(customer_id).metadata["crm_account_id"] == "ACC-999999"
        updates = [e for e in client.v1.events.list({"type": "customer.updated", "limit": 100})
                   if e.data.object.id == customer_id and e.created == int(clock().timestamp())]
        assert len(updates) == 1
        assert updates[0].data.object.metadata["crm_account_id"] == "ACC-999999"
        book_row = book.accounts.set_index("stripe_customer_id").loc[customer_id]
        was = book_row.account_id if book_row.stripe_link == "metadata" else None
        assert updates[0].data.previous_attributes.to_dict() == {"metadata": {"crm_account_id": was}}
        with pytest.raises(stripe.IdempotencyError):
            client.v1.customers.update(customer_id, {"metadata": {"crm_account_id": "ACC-1"}},
                                       {"idempotency_key": "link-1"})
        clock.now += timedelta(hours=24)  # keys live 24 h: after that the key is new again
        try:
            later = client.v1.customers.update(customer_id, {"metadata": {"crm_account_id": "ACC-1"}},
                                               {"idempotency_key": "link-1"})
        finally:
            clock.now -= timedelta(hours=24)
        assert later.last_response.headers.get("Idempotent-Replayed") is None
        assert later.metadata["crm_account_id"] == "ACC-1"


@pytest.mark.parametrize("fault, error, status, retry_header", [
    (FaultConfig(request_budget=0), stripe.RateLimitError, 429, "false"),
    (FaultConfig(session_expiry_burst=1), stripe.AuthenticationError, 401, None),
    (FaultConfig(server_error_burst=1), stripe.APIError, 500, None),
])
def test_fault_kinds_use_stripe_error_bodies(stripe_sandbox, fault, error, status, retry_header):
    sb, _ = stripe_sandbox
    sb.set_faults("stripe", fault)
    try:
        with pytest.raises(error) as err:
            _client(sb).v1.customers.list({"limit": 1})
        assert err.value.http_status == status
        assert err.value.error.message and err.value.error.type
        assert (err.value.headers or {}).get("stripe-should-retry") == retry_header
    finally:
        sb.set_faults("stripe", FaultConfig())


def test_create_then_delete_customer(book, clock):
    sb, _ = _start(book, clock)
    with sb:
        client = _client(sb)
        made = client.v1.customers.create({"email": "ap@newco.example", "metadata": {"crm_account_id": "ACC-1"}})
        assert client.v1.customers.list({"limit": 1}).data[0].id == made.id  # newest first
        assert client.v1.customers.delete(made.id).deleted is True
        assert made.id not in {c.id for c in client.v1.customers.list({"limit": 100}).auto_paging_iter()}
        kinds = [e.type for e in client.v1.events.list({"limit": 2})]
        assert kinds == ["customer.deleted", "customer.created"]  # same second: later write listed first


def test_shared_sandbox_serves_the_book_prices(sandbox, sandbox_book):
    client = stripe.StripeClient(sandbox.credentials["stripe"]["api_key"],
                                 base_addresses={"api": sandbox.urls["stripe"]}, max_network_retries=3)
    recurring = {p.id for p in client.v1.prices.list({"limit": 100, "type": "recurring"}).auto_paging_iter()}
    assert recurring == set(sandbox_book.prices["price_id"])


def _customer_of(book, account_id: str) -> str:
    return book.accounts.set_index("account_id").loc[account_id, "stripe_customer_id"]
