"""Events for the book's recent history (the last ``SEED_WINDOW`` before ``as_of``).

Stripe keeps events for 30 days; seeding 45 days means the oldest 15 days of
events exist but are no longer listed, like on a real account.

=================================  ===========================================
event                              when (book column)
=================================  ===========================================
customer.created / .updated        accounts.created_at / updated_at
customer.deleted                   accounts.deleted_at
customer.subscription.created      subscriptions.created_at (status at start)
customer.subscription.updated      subscriptions.updated_at (when after created)
customer.subscription.deleted      subscriptions.ended_at of canceled ones
invoice.created                    invoices.created_at (open, nothing paid)
invoice.payment_failed             every failed attempt, 3 days apart from issue
invoice.paid                       invoices.paid_at
=================================  ===========================================

``data.object`` is the object as it stood then, as far as the book knows it;
the book does not say which fields an update touched, so seeded
``previous_attributes`` is ``{}`` (writes through the API fill it properly).
"""

from __future__ import annotations

import copy
from datetime import timedelta
from typing import Any, Callable

from connectors.sandbox import stripe_objects as so
from connectors.sandbox.stripe_store import StripeStore

SEED_WINDOW = timedelta(days=45)
RETRY_GAP_DAYS = 3
Pending = list[tuple[int, str, dict, dict | None]]


def seed_events(store: StripeStore, rows: dict[str, list[Any]], as_of: int, next_id: Callable[[str], str],
                deleted: dict[str, dict]) -> None:
    """Add the window's events in time order.  ``rows``: the book's tables as
    plain rows with datetimes in Unix seconds (``stripe_seed.plain_rows``);
    ``deleted``: customer id → last live snapshot of customers the book deleted."""
    start = as_of - int(SEED_WINDOW.total_seconds())
    pending: Pending = []
    in_window = lambda t: t is not None and start <= t <= as_of  # noqa: E731 - tiny predicate
    _customer_events(store, rows["accounts"], deleted, in_window, pending)
    _subscription_events(store, rows["subscriptions"], in_window, pending)
    _invoice_events(store, rows["invoices"], in_window, pending)
    pending.sort(key=lambda event: event[0])
    for created, kind, snapshot, previous in pending:
        store.add("events", so.event(next_id("evt"), created, kind=kind, snapshot=snapshot,
                                     previous_attributes=previous))


def _customer_events(store: StripeStore, accounts: list[Any], deleted: dict[str, dict],
                     in_window: Callable, pending: Pending) -> None:
    for row in (row for row in accounts if row.stripe_customer_id):
        obj = deleted.get(row.stripe_customer_id) or store.get(row.stripe_customer_id)
        created, updated, gone = row.created_at, row.updated_at, row.deleted_at
        if in_window(created):
            pending.append((created, "customer.created", copy.deepcopy(obj), None))
        if in_window(updated) and updated > (created or 0):
            pending.append((updated, "customer.updated", copy.deepcopy(obj), {}))
        if row.deleted and in_window(gone):
            pending.append((gone, "customer.deleted", copy.deepcopy(obj), None))


def _subscription_events(store: StripeStore, subs: list[Any], in_window: Callable,
                         pending: Pending) -> None:
    for row in subs:
        obj = store.get(row.subscription_id)
        created, updated, ended = row.created_at, row.updated_at, row.ended_at
        if in_window(created):
            first = copy.deepcopy(obj)
            first.update(status="trialing" if obj["trial_end"] else "active", canceled_at=None, ended_at=None)
            pending.append((created, "customer.subscription.created", first, None))
        if in_window(updated) and updated > (created or 0) and obj["status"] != "canceled":
            pending.append((updated, "customer.subscription.updated", copy.deepcopy(obj), {}))
        if obj["status"] == "canceled" and in_window(ended):
            pending.append((ended, "customer.subscription.deleted", copy.deepcopy(obj), None))


def _invoice_events(store: StripeStore, invoices: list[Any], in_window: Callable,
                    pending: Pending) -> None:
    for row in invoices:
        obj = store.get(row.invoice_id)
        created = row.created_at
        if in_window(created):
            pending.append((created, "invoice.created", _unpaid(obj, 0), None))
        failures = obj["attempt_count"] - (1 if obj["status"] == "paid" else 0)
        for attempt in range(1, failures + 1):
            failed_at = created + attempt * RETRY_GAP_DAYS * 86_400 if created is not None else None
            if in_window(failed_at):
                pending.append((failed_at, "invoice.payment_failed", _unpaid(obj, attempt), None))
        paid = row.paid_at
        if obj["status"] == "paid" and in_window(paid):
            pending.append((paid, "invoice.paid", copy.deepcopy(obj), None))


def _unpaid(invoice: dict, attempts: int) -> dict:
    """The invoice as it stood before payment, after ``attempts`` tries."""
    snap = copy.deepcopy(invoice)
    snap.update(status="open", amount_paid=0, amount_remaining=snap["amount_due"],
                attempt_count=attempts, attempted=attempts > 0)
    snap["status_transitions"] = {**snap["status_transitions"], "paid_at": None, "voided_at": None,
                                  "marked_uncollectible_at": None}
    return snap
