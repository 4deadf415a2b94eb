"""Rendering stored Stripe objects for a response: older API shapes and ``expand[]``.

Stored objects are in the current shape (``stripe_objects.py``).  With
``legacy=True`` the emulator answers like an account pinned to a 2024 API
version, so a connector can be tested against both:

=============================  ======================================  ==============================
fact                           current shape                           legacy shape
=============================  ======================================  ==============================
billing period                 ``items.data[].current_period_start``   ``current_period_start`` on the
                               / ``_end``                              subscription (not on items)
discount on a subscription     ``discounts: [id]`` (expand →           ``discount`` object with a full
                               ``source.coupon`` id, expand again)     ``coupon``; ``discounts`` ids too
invoice's subscription         ``parent.subscription_details.          ``subscription``
                               subscription``
invoice tax                    ``total_taxes[].amount``                ``tax`` (sum), ``total_tax_amounts``
invoice line kind              ``parent.type`` =                       ``type`` = subscription |
                               subscription_item_details |             invoiceitem, full ``price``
                               invoice_item_details                    object, ``subscription``
=============================  ======================================  ==============================

Expansion follows Stripe: a dotted path walks dicts, lists and list objects;
an id string under an expandable key is replaced by the (rendered) object;
a path through a scalar, ending at a plain hash (``metadata``) or at a missing
key is a 400 "This property cannot be expanded".  A path that reaches an object that is always embedded (such as
``data.items.data.price``) is accepted and changes nothing.
"""

from __future__ import annotations

import copy
from typing import Any, Callable

Obj = dict[str, Any]
Lookup = Callable[[str], "Obj | None"]

EXPANDABLE_KEYS = frozenset({"customer", "discounts", "coupon", "product", "default_price", "price",
                             "subscription", "latest_invoice", "invoice"})


class CannotExpand(ValueError):
    """A requested ``expand[]`` path names something that is not expandable."""


def render(obj: Obj, lookup: Lookup, legacy: bool, expand: list[str]) -> Obj:
    """A deep copy of ``obj`` in the requested shape with ``expand`` applied."""
    out = copy.deepcopy(obj)
    if legacy:
        out = to_legacy(out, lookup)
    for path in expand:
        out = _expand(out, path.split("."), path, lookup, legacy)
    return out


def _expand(node: Any, segs: list[str], path: str, lookup: Lookup, legacy: bool) -> Any:
    if isinstance(node, list):
        return [_expand(item, segs, path, lookup, legacy) for item in node]
    if not segs or node is None:
        return node
    if not isinstance(node, dict) or segs[0] not in node:
        raise CannotExpand(path)
    key, child = segs[0], node[segs[0]]
    if isinstance(child, str) or (isinstance(child, list) and child and isinstance(child[0], str)):
        child = _resolve(child, key, path, lookup, legacy)
    elif not isinstance(child, (dict, list)) and child is not None:
        raise CannotExpand(path)
    elif len(segs) == 1 and isinstance(child, dict) and "object" not in child:
        raise CannotExpand(path)  # a plain hash such as metadata is not a resource
    node[key] = _expand(child, segs[1:], path, lookup, legacy)
    return node


def _resolve(value: Any, key: str, path: str, lookup: Lookup, legacy: bool) -> Any:
    """Replace an id (or a list of ids) under an expandable key by objects."""
    if key not in EXPANDABLE_KEYS:
        raise CannotExpand(path)
    if isinstance(value, list):
        return [_resolve(item, key, path, lookup, legacy) for item in value]
    found = lookup(value)
    if found is None:
        raise CannotExpand(path)
    found = copy.deepcopy(found)
    return to_legacy(found, lookup) if legacy else found


def to_legacy(obj: Obj, lookup: Lookup) -> Obj:
    """Rewrite one object (in place, recursively for embedded ones)."""
    kind = obj.get("object")
    if kind == "list":
        obj["data"] = [to_legacy(item, lookup) for item in obj["data"]]
    elif kind == "event":
        obj["data"]["object"] = to_legacy(obj["data"]["object"], lookup)
    elif kind in _LEGACY:
        _LEGACY[kind](obj, lookup)
    return obj


def _legacy_discount(obj: Obj, lookup: Lookup) -> None:
    source = obj.pop("source", None) or {}
    coupon = source.get("coupon")
    obj["coupon"] = copy.deepcopy(lookup(coupon)) if isinstance(coupon, str) else coupon


def _first_discount(ids: list[str], lookup: Lookup) -> Obj | None:
    if not ids:
        return None
    found = lookup(ids[0]) if isinstance(ids[0], str) else ids[0]
    return to_legacy(copy.deepcopy(found), lookup) if found else None


def _legacy_subscription(obj: Obj, lookup: Lookup) -> None:
    items = obj["items"]["data"]
    for item in items:
        start, end = item.pop("current_period_start"), item.pop("current_period_end")
        obj.setdefault("current_period_start", start)
        obj.setdefault("current_period_end", end)
        item["plan"] = _plan_of(item["price"])
    obj["discount"] = _first_discount(obj.get("discounts", []), lookup)


def _plan_of(price: Obj) -> Obj:
    """The legacy ``plan`` twin of a recurring price."""
    recurring = price.get("recurring") or {}
    return {"id": price["id"], "object": "plan", "amount": price["unit_amount"],
            "currency": price["currency"], "interval": recurring.get("interval"),
            "interval_count": recurring.get("interval_count"), "product": price["product"],
            "active": price["active"], "usage_type": "licensed"}


def _legacy_invoice(obj: Obj, lookup: Lookup) -> None:
    parent = obj.pop("parent", None) or {}
    details = parent.get("subscription_details") or {}
    obj["subscription"] = details.get("subscription")
    taxes = obj.pop("total_taxes", None) or []
    obj["tax"] = sum(t["amount"] for t in taxes) if taxes else None
    obj["total_tax_amounts"] = [{"amount": t["amount"], "inclusive": False, "tax_rate": "txr_standard"}
                                for t in taxes]
    obj["paid"] = obj["status"] == "paid"
    obj["discount"] = _first_discount(obj.get("discounts", []), lookup)
    for line in obj["lines"]["data"]:
        _legacy_line(line, lookup)


def _legacy_line(line: Obj, lookup: Lookup) -> None:
    parent = line.pop("parent")
    pricing = line.pop("pricing")
    sub_details = parent.get("subscription_item_details")
    details = sub_details or parent.get("invoice_item_details") or {}
    line["type"] = "subscription" if sub_details else "invoiceitem"
    line["subscription"] = details.get("subscription")
    line["subscription_item"] = sub_details.get("subscription_item") if sub_details else None
    line["invoice_item"] = details.get("invoice_item")
    line["proration"] = False
    price_id = pricing["price_details"]["price"]
    line["price"] = copy.deepcopy(lookup(price_id)) if isinstance(price_id, str) else price_id


def _legacy_customer(obj: Obj, lookup: Lookup) -> None:
    if not obj.get("deleted"):
        obj.setdefault("discount", None)


_LEGACY: dict[str, Callable[[Obj, Lookup], None]] = {
    "discount": _legacy_discount,
    "subscription": _legacy_subscription,
    "invoice": _legacy_invoice,
    "customer": _legacy_customer,
}
