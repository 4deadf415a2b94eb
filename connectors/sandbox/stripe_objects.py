"""Builders for Stripe objects in the current API shape (stripe-python 16,
API version ``2026-10-28.endive``).

Only the fields a revenue connector reads are filled; the rest of a real
object's fields are present with Stripe's neutral values where cheap
(``livemode: false``, ``metadata: {}``).  Expandable references are stored as
ids (``customer``, ``discounts``, ``source.coupon``, ``product``,
``parent.subscription_details.subscription``) and become objects only when a
request names them in ``expand[]`` (``stripe_render.py``).

All amounts are integers in the currency's minor unit; all instants are Unix
seconds.  ``stripe_render.legacy`` turns these into the pre-2025 shapes.
"""

from __future__ import annotations

from typing import Any

Obj = dict[str, Any]


def _base(obj_id: str, kind: str, created: int, **fields: Any) -> Obj:
    return {"id": obj_id, "object": kind, "created": created, "livemode": False, **fields}


def customer(obj_id: str, created: int, *, name: str, email: str | None,
             metadata: dict[str, str], currency: str | None) -> Obj:
    """A customer; ``metadata.crm_account_id`` links it to the CRM (when set)."""
    return _base(obj_id, "customer", created, name=name, email=email, metadata=dict(metadata),
                 currency=currency, description=None, balance=0, delinquent=False,
                 invoice_prefix=obj_id[-8:].upper(), tax_exempt="none", address=None, phone=None)


def deleted_customer(obj_id: str) -> Obj:
    """What ``GET /v1/customers/{id}`` returns once the customer is deleted."""
    return {"id": obj_id, "object": "customer", "deleted": True}


def product(obj_id: str, created: int, *, name: str) -> Obj:
    return _base(obj_id, "product", created, name=name, active=True, type="service",
                 description=None, default_price=None, metadata={}, updated=created, images=[],
                 marketing_features=[], unit_label=None, url=None)


def price(obj_id: str, created: int, *, product_id: str, currency: str, unit_amount: int,
          interval: str | None, interval_count: int = 1, nickname: str | None = None) -> Obj:
    """A per-unit price; ``interval=None`` makes a one-time price (setup fees)."""
    recurring = None
    if interval is not None:
        recurring = {"interval": interval, "interval_count": interval_count,
                     "usage_type": "licensed", "meter": None, "trial_period_days": None}
    return _base(obj_id, "price", created, active=True, billing_scheme="per_unit",
                 currency=currency, unit_amount=unit_amount, unit_amount_decimal=str(unit_amount),
                 product=product_id, recurring=recurring, nickname=nickname, metadata={},
                 lookup_key=None, tax_behavior="exclusive",
                 type="recurring" if recurring else "one_time")


def coupon(obj_id: str, created: int, *, duration: str, percent_off: float | None = None,
           amount_off: int | None = None, currency: str | None = None,
           duration_in_months: int | None = None) -> Obj:
    """``duration`` is once | repeating (for ``duration_in_months``) | forever."""
    return _base(obj_id, "coupon", created, duration=duration, duration_in_months=duration_in_months,
                 percent_off=percent_off, amount_off=amount_off, currency=currency,
                 name=None, metadata={}, valid=True, times_redeemed=1, max_redemptions=None,
                 redeem_by=None)


def discount(obj_id: str, *, coupon_id: str, customer_id: str, subscription_id: str | None,
             start: int, end: int | None) -> Obj:
    """A coupon applied to a subscription; ``end`` is set only for ``repeating``."""
    return {"id": obj_id, "object": "discount", "source": {"type": "coupon", "coupon": coupon_id},
            "customer": customer_id, "subscription": subscription_id, "subscription_item": None,
            "invoice": None, "invoice_item": None, "promotion_code": None, "checkout_session": None,
            "start": start, "end": end}


def list_object(url: str, data: list[Obj]) -> Obj:
    """An embedded list (subscription items, invoice lines)."""
    return {"object": "list", "data": data, "has_more": False, "total_count": len(data), "url": url}


def subscription_item(obj_id: str, created: int, *, subscription_id: str, price_obj: Obj,
                      quantity: int, period: tuple[int, int]) -> Obj:
    """Billing period lives on the item in the current API."""
    return _base(obj_id, "subscription_item", created, subscription=subscription_id,
                 price=dict(price_obj), quantity=quantity, discounts=[], metadata={},
                 current_period_start=period[0], current_period_end=period[1], tax_rates=[])


def subscription(obj_id: str, created: int, *, customer_id: str, currency: str, items: list[Obj],
                 status: str, start_date: int, discounts: list[str], **dates: int | None) -> Obj:
    """``dates`` holds trial_start, trial_end, canceled_at, ended_at, cancel_at
    (None when not applicable) and latest_invoice may be passed the same way."""
    known = ("trial_start", "trial_end", "canceled_at", "ended_at", "cancel_at", "latest_invoice")
    extra = {key: dates.get(key) for key in known}
    return _base(obj_id, "subscription", created, customer=customer_id, currency=currency,
                 items=list_object(f"/v1/subscription_items?subscription={obj_id}", items),
                 status=status, start_date=start_date, billing_cycle_anchor=start_date,
                 cancel_at_period_end=False, collection_method="charge_automatically",
                 days_until_due=None, discounts=list(discounts), metadata={}, description=None,
                 cancellation_details={"comment": None, "feedback": None, "reason": None},
                 **extra)


def invoice_line(obj_id: str, *, invoice_id: str, price_obj: Obj, quantity: int, amount: int,
                 period: tuple[int, int], subscription_id: str | None,
                 subscription_item_id: str | None, description: str) -> Obj:
    """A line generated by a subscription item, or by a one-time invoice item
    (``subscription_item_id=None``: setup fees and other one-offs)."""
    if subscription_item_id is not None:
        parent = {"type": "subscription_item_details", "invoice_item_details": None,
                  "subscription_item_details": {"subscription": subscription_id,
                                                "subscription_item": subscription_item_id,
                                                "invoice_item": None, "proration": False,
                                                "proration_details": None}}
    else:
        parent = {"type": "invoice_item_details", "subscription_item_details": None,
                  "invoice_item_details": {"invoice_item": "ii_" + obj_id[3:],
                                           "subscription": subscription_id, "proration": False,
                                           "proration_details": None}}
    pricing = {"type": "price_details", "unit_amount_decimal": str(price_obj["unit_amount"]),
               "price_details": {"price": price_obj["id"], "product": price_obj["product"]}}
    return {"id": obj_id, "object": "line_item", "invoice": invoice_id, "livemode": False,
            "amount": amount, "subtotal": amount, "currency": price_obj["currency"],
            "description": description, "quantity": quantity, "period": {"start": period[0], "end": period[1]},
            "parent": parent, "pricing": pricing, "discountable": True, "discounts": [],
            "discount_amounts": [], "metadata": {}, "taxes": []}


def invoice(obj_id: str, created: int, *, customer_id: str, subscription_id: str | None,
            currency: str, lines: list[Obj], discount_amount: int, tax: int, status: str,
            due_date: int | None, paid_at: int | None, attempt_count: int,
            discount_id: str | None = None) -> Obj:
    """Totals: subtotal = Σ lines; total = subtotal − discount + tax;
    amount_paid = total once paid, else 0; amount_remaining = due − paid
    (0 for a void invoice, which nobody owes any more)."""
    subtotal = sum(line["amount"] for line in lines)
    total = subtotal - discount_amount + tax
    paid = total if status == "paid" else 0
    remaining = 0 if status == "void" else total - paid
    discounts = [{"amount": discount_amount, "discount": discount_id}] if discount_id else []
    parent = None
    if subscription_id is not None:
        parent = {"type": "subscription_details", "quote_details": None,
                  "subscription_details": {"subscription": subscription_id, "metadata": {}}}
    taxes = [{"amount": tax, "tax_behavior": "exclusive", "type": "tax_rate_details",
              "taxable_amount": subtotal - discount_amount, "taxability_reason": "standard_rated",
              "tax_rate_details": {"tax_rate": "txr_standard"}}] if tax else []
    transitions = {"finalized_at": created, "paid_at": paid_at, "voided_at": None,
                   "marked_uncollectible_at": None}
    if status in ("void", "uncollectible"):
        transitions["voided_at" if status == "void" else "marked_uncollectible_at"] = due_date or created
    return _base(obj_id, "invoice", created, customer=customer_id, currency=currency, status=status,
                 parent=parent, subtotal=subtotal, subtotal_excluding_tax=subtotal,
                 total_discount_amounts=discounts, total_excluding_tax=subtotal - discount_amount,
                 total_taxes=taxes, total=total, amount_due=total, amount_paid=paid,
                 amount_remaining=remaining, attempt_count=attempt_count, attempted=attempt_count > 0,
                 due_date=due_date, effective_at=created, period_start=lines[0]["period"]["start"],
                 period_end=lines[0]["period"]["end"], billing_reason="subscription_cycle",
                 collection_method="charge_automatically", metadata={},
                 discounts=[discount_id] if discount_id else [], number=f"{obj_id[-8:].upper()}-0001", status_transitions=transitions,
                 lines=list_object(f"/v1/invoices/{obj_id}/lines", lines))


def event(obj_id: str, created: int, *, kind: str, snapshot: Obj,
          previous_attributes: dict[str, Any] | None = None) -> Obj:
    """An event with a frozen ``data.object`` snapshot (Stripe never re-renders it)."""
    data: Obj = {"object": snapshot}
    if previous_attributes is not None:
        data["previous_attributes"] = previous_attributes
    return {"id": obj_id, "object": "event", "api_version": "2026-10-28.endive", "created": created,
            "data": data, "livemode": False, "pending_webhooks": 0, "type": kind,
            "request": {"id": None, "idempotency_key": None}}
