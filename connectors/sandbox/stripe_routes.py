"""Stripe endpoints served by the emulator: the list/retrieve table and the
customer writes.

=====================  ===============  ==========================================
path                   collection       filters beyond created/paging
=====================  ===============  ==========================================
/v1/customers          customers        email; deleted customers are never listed
/v1/subscriptions      subscriptions    status (default: all but canceled; ``all``
                                        includes canceled; ``ended`` = canceled),
                                        customer, price
/v1/invoices           invoices         customer, subscription, status
/v1/events             events           type (``*`` wildcard) / types[]; only the
                                        last 30 days (``EVENT_RETENTION``)
/v1/products           products         active
/v1/prices             prices           product, active, type
=====================  ===============  ==========================================

Writes: ``POST /v1/customers`` (create), ``POST /v1/customers/{id}`` (update
name/email/description/metadata; ``metadata[key]=`` with an empty value removes
the key) and ``DELETE /v1/customers/{id}``, each emitting its
``customer.created|updated|deleted`` event with a ``data.object`` snapshot.
"""

from __future__ import annotations

import copy
import fnmatch
from datetime import timedelta
from typing import Any, Callable

from connectors.sandbox import stripe_objects as so
from connectors.sandbox.stripe_params import ListParams, StripeError, as_list
from connectors.sandbox.stripe_store import StripeStore, UnknownCursor

EVENT_RETENTION = timedelta(days=30)
Obj = dict[str, Any]
Predicate = Callable[[Obj], bool]
Filter = Callable[[dict[str, Any], int], Predicate]
OBJECT_NAMES = {"customers": "customer", "subscriptions": "subscription", "invoices": "invoice",
                "events": "event", "products": "product", "prices": "price"}


def _equals(param: str, field: str) -> Filter:
    def build(params: dict[str, Any], now: int) -> Predicate:
        wanted = params.get(param)
        return (lambda obj: True) if wanted is None else (lambda obj: obj.get(field) == wanted)
    return build


def _subscription_status(params: dict[str, Any], now: int) -> Predicate:
    status = params.get("status")
    if status is None:
        return lambda obj: obj["status"] not in ("canceled", "incomplete_expired")
    if status == "all":
        return lambda obj: True
    if status == "ended":
        return lambda obj: obj["status"] in ("canceled", "incomplete_expired")
    return lambda obj: obj["status"] == status


def _subscription_price(params: dict[str, Any], now: int) -> Predicate:
    wanted = params.get("price")
    if wanted is None:
        return lambda obj: True
    return lambda obj: any(item["price"]["id"] == wanted for item in obj["items"]["data"])


def _invoice_subscription(params: dict[str, Any], now: int) -> Predicate:
    wanted = params.get("subscription")
    if wanted is None:
        return lambda obj: True
    return lambda obj: ((obj.get("parent") or {}).get("subscription_details") or {}).get("subscription") == wanted


def _event_types(params: dict[str, Any], now: int) -> Predicate:
    if params.get("type") and params.get("types"):
        raise StripeError(400, "You may only specify one of these parameters: type, types.", param="types")
    patterns = as_list(params.get("types"), "types") or as_list(params.get("type"), "type")
    if not patterns:
        return lambda obj: True
    return lambda obj: any(fnmatch.fnmatchcase(obj["type"], pattern) for pattern in patterns)


def _retained(params: dict[str, Any], now: int) -> Predicate:
    cutoff = now - int(EVENT_RETENTION.total_seconds())
    return lambda obj: obj["created"] >= cutoff


def _not_deleted(params: dict[str, Any], now: int) -> Predicate:
    return lambda obj: not obj.get("deleted")


def _bool_equals(param: str) -> Filter:
    def build(params: dict[str, Any], now: int) -> Predicate:
        wanted = params.get(param)
        if wanted is None:
            return lambda obj: True
        return lambda obj: bool(obj.get(param)) == (wanted == "true")
    return build


LIST_FILTERS: dict[str, tuple[Filter, ...]] = {
    "customers": (_not_deleted, _equals("email", "email")),
    "subscriptions": (_subscription_status, _equals("customer", "customer"), _subscription_price),
    "invoices": (_equals("customer", "customer"), _equals("status", "status"), _invoice_subscription),
    "events": (_event_types, _retained),
    "products": (_bool_equals("active"),),
    "prices": (_equals("product", "product"), _bool_equals("active"), _equals("type", "type")),
}


def list_page(store: StripeStore, collection: str, params: dict[str, Any], lp: ListParams,
              now: int) -> Obj:
    """The list object for one page (before rendering/expansion)."""
    checks = [build(params, now) for build in LIST_FILTERS[collection]]

    def match(obj: Obj) -> bool:
        return all(check(obj) for check in checks) and lp.created_ok(obj["created"])

    try:
        page = store.page(collection, match, lp.limit, lp.starting_after, lp.ending_before)
    except UnknownCursor as exc:
        param = "ending_before" if lp.ending_before else "starting_after"
        raise StripeError(400, f"No such {OBJECT_NAMES[collection]}: '{exc.args[0]}'",
                          code="resource_missing", param=param) from None
    return {"object": "list", "data": page.data, "has_more": page.has_more, "url": f"/v1/{collection}"}


def retrieve(store: StripeStore, collection: str, obj_id: str, now: int) -> Obj:
    """One object by id; events past retention are gone, like on Stripe."""
    obj = store.get(obj_id)
    expired = collection == "events" and obj is not None and not _retained({}, now)(obj)
    if obj is None or store.collection_of(obj_id) != collection or expired:
        raise StripeError(404, f"No such {OBJECT_NAMES[collection]}: '{obj_id}'",
                          code="resource_missing", param="id")
    return obj


def _previous(old: dict[str, str], new: dict[str, str]) -> dict[str, str | None]:
    """Stripe's ``previous_attributes.metadata``: only the keys that changed,
    with their old values (None for a key that did not exist)."""
    return {key: old.get(key) for key in sorted(set(old) | set(new)) if old.get(key) != new.get(key)}


class CustomerWrites:
    """Create, update and delete customers, recording each as an event."""

    def __init__(self, store: StripeStore, next_id: Callable[[str], str]) -> None:
        self.store, self.next_id = store, next_id

    def create(self, form: dict[str, Any], now: int) -> Obj:
        metadata = self._metadata(form, {})
        obj = so.customer(self.next_id("cus"), now, name=form.get("name") or "", email=form.get("email"),
                          metadata=metadata, currency=None)
        obj["description"] = form.get("description")
        self.store.add("customers", obj)
        self.emit("customer.created", obj, now)
        return obj

    def update(self, obj_id: str, form: dict[str, Any], now: int) -> Obj:
        obj = self._live(obj_id, now)
        previous: Obj = {}
        changes = {key: form[key] for key in ("name", "email", "description") if key in form}
        if "metadata" in form:
            changes["metadata"] = self._metadata(form, obj["metadata"])
        for key, value in changes.items():
            if obj.get(key) != value:
                previous[key] = _previous(obj.get(key), value) if key == "metadata" else obj.get(key)
                obj[key] = value
        if previous:
            self.emit("customer.updated", obj, now, previous)
        return obj

    def delete(self, obj_id: str, now: int) -> Obj:
        obj = self._live(obj_id, now)
        self.emit("customer.deleted", obj, now)
        stub = so.deleted_customer(obj_id)
        self.store.put("customers", stub)
        return stub

    def emit(self, kind: str, obj: Obj, now: int, previous: Obj | None = None) -> Obj:
        event = so.event(self.next_id("evt"), now, kind=kind, snapshot=copy.deepcopy(obj),
                         previous_attributes=previous)
        return self.store.add("events", event)

    def _live(self, obj_id: str, now: int) -> Obj:
        obj = retrieve(self.store, "customers", obj_id, now)
        if obj.get("deleted"):
            raise StripeError(404, f"No such customer: '{obj_id}'", code="resource_missing", param="id")
        return obj

    @staticmethod
    def _metadata(form: dict[str, Any], current: dict[str, str]) -> dict[str, str]:
        given = form.get("metadata") or {}
        if given == "":
            return {}
        if not isinstance(given, dict):
            raise StripeError(400, "Invalid object", param="metadata")
        merged = dict(current)
        for key, value in given.items():
            if value == "":
                merged.pop(key, None)
            else:
                merged[key] = value
        return merged
