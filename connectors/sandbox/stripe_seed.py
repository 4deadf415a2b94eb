"""Project the book of business (``book.py``) into Stripe objects.

Book table → Stripe object:

* ``products``/``prices`` → products and recurring prices (ids kept); one
  "Onboarding & setup" product with a one-time price per (currency, amount)
  for the one-off fees on invoices.
* ``accounts`` with a ``stripe_customer_id`` → customers; ``stripe_link``
  decides the link: ``metadata`` sets ``metadata.crm_account_id``, ``domain``
  leaves metadata empty (the billing email's domain is the account's),
  ``none`` leaves both unmatched.  Deleted accounts become deleted customers.
* ``subscriptions`` → subscriptions; items are the ``contracts`` lines of the
  subscription live at ``as_of`` (for ended ones, on their last day), merged
  per price (Stripe allows one item per price).  A discounted line adds a
  coupon (``percent_off``; ``forever`` without ``discount_end``, else
  ``repeating`` with ``discount.end`` = the day after ``discount_end``): on the
  subscription when every item shares it, else on the item.  ``trial_end``
  after ``as_of`` → ``trialing``; ``past_due`` whose newest invoice is
  uncollectible → ``unpaid``.  Live lines that all end without auto-renewal
  set ``cancel_at`` to the day after the last one ends.
* ``invoices`` → invoices; a recurring line per price billed in the period
  (or one line for the whole recurring amount when the lines do not add up),
  a one-time line for ``one_time_minor``; ``discount_minor`` and
  ``tax_minor`` as invoice discount and tax.

Dates become Unix seconds at 00:00 UTC; Stripe's period ends are exclusive, so
an inclusive book end date maps to the next midnight.  Tables are turned into
plain rows once (:func:`plain_rows`, datetimes vectorised to seconds) because
per-row pandas access would make a 100,000-account book take hours.  Events for the book's
recent history come from ``stripe_events.py``.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any, Callable, Iterable

import numpy as np
import pandas as pd

from connectors.sandbox import stripe_objects as so
from connectors.sandbox.stripe_events import seed_events
from connectors.sandbox.stripe_store import StripeStore

DAY = 86_400
SETUP_PRODUCT = "prod_onboarding_setup"
NextId = Callable[[str], str]
SEEDED = ("accounts", "products", "prices", "contracts", "subscriptions", "invoices")


def plain_rows(frame: pd.DataFrame) -> list[Any]:
    """Rows as namedtuples of Python values; datetime columns become Unix
    seconds (int) or None for NaT."""
    out = frame.copy()
    for name in out.columns:
        if pd.api.types.is_datetime64_any_dtype(out[name]):
            seconds = out[name].to_numpy(dtype="datetime64[s]").astype(np.int64).tolist()
            for index in np.flatnonzero(out[name].isna().to_numpy()):
                seconds[index] = None
            out[name] = pd.Series(seconds, index=out.index, dtype=object)
    return list(out.itertuples(index=False, name="Row"))


def end_ts(start: int | None) -> int | None:
    """An inclusive last day as Stripe's exclusive end instant (next midnight)."""
    return None if start is None else start + DAY


def by_created(rows: Iterable[Any]) -> list[Any]:
    """Oldest first (stable), the order objects are added in."""
    return sorted(rows, key=lambda row: row.created_at or 0)


def seed_from_book(store: StripeStore, book: Any, next_id: NextId) -> None:
    """Fill ``store`` with the book's Stripe objects and recent events."""
    rows = {name: plain_rows(book.table(name)) for name in SEEDED}
    as_of = int(pd.Timestamp(book.as_of).value // 1_000_000_000)
    _products_and_prices(store, rows["products"], rows["prices"])
    deleted = _customers(store, rows["accounts"])
    lines: dict[str, list[Any]] = defaultdict(list)
    for line in rows["contracts"]:
        if line.subscription_id:
            lines[line.subscription_id].append(line)
    newest_invoice = {row.subscription_id: row.status for row in sorted(rows["invoices"], key=lambda r: r.issued_at)}
    for row in by_created(rows["subscriptions"]):
        _subscription(store, row, lines.get(row.subscription_id, []), as_of, next_id,
                      newest_invoice.get(row.subscription_id))
    for row in by_created(rows["invoices"]):
        _invoice(store, row, lines.get(row.subscription_id, []), next_id)
    seed_events(store, rows, as_of, next_id, deleted)


def _products_and_prices(store: StripeStore, products: list[Any], prices: list[Any]) -> None:
    for row in by_created(products):
        store.add("products", so.product(row.product_id, row.created_at, name=row.name))
    for row in by_created(prices):
        store.add("prices", so.price(row.price_id, row.created_at, product_id=row.product_id,
                                     currency=row.currency.lower(), unit_amount=int(row.unit_amount_minor),
                                     interval=row.interval, nickname=f"{row.plan} {row.interval}ly"))
    first = min((row.created_at for row in products), default=0)
    store.add("products", so.product(SETUP_PRODUCT, first, name="Onboarding & setup"))


def _customers(store: StripeStore, accounts: list[Any]) -> dict[str, dict]:
    """Add customers; return id → last live object of the deleted ones."""
    deleted = {}
    for row in by_created(row for row in accounts if row.stripe_customer_id):
        metadata = {"crm_account_id": row.account_id} if row.stripe_link == "metadata" else {}
        obj = so.customer(row.stripe_customer_id, row.created_at, name=row.name,
                          email=row.billing_email or None, metadata=metadata,
                          currency=row.currency.lower())
        store.add("customers", obj)
        if row.deleted:
            deleted[obj["id"]] = obj
            store.put("customers", so.deleted_customer(row.stripe_customer_id))
    return deleted


def item_id(subscription_id: str, price_id: str) -> str:
    """Stable subscription item id: one item per (subscription, price)."""
    return f"si_{subscription_id.removeprefix('sub_')}_{price_id.removeprefix('price_')}"


def _live_lines(lines: list[Any], day: int) -> list[Any]:
    """Contract lines in service on ``day`` (latest-starting lines if none are)."""
    live = [ln for ln in lines if ln.start_date <= day and (ln.end_date is None or ln.end_date >= day)]
    if live or not lines:
        return live
    latest = max(ln.start_date for ln in lines)
    return [ln for ln in lines if ln.start_date == latest]


def _per_price(lines: list[Any]) -> dict[str, list[Any]]:
    grouped: dict[str, list[Any]] = {}
    for line in lines:
        grouped.setdefault(line.price_id, []).append(line)
    return grouped


def _discount_for(store: StripeStore, line: Any, customer_id: str, sub_id: str, next_id: NextId) -> str:
    """Create the coupon + discount of a discounted contract line; return the discount id."""
    pct, start, end = int(line.discount_percent), line.start_date, end_ts(line.discount_end)
    months = None if end is None else max(1, round((end - start) / (DAY * 30.44)))
    coupon_id = f"{pct}OFF-{line.contract_id}"
    store.put("coupons", so.coupon(coupon_id, start, duration="forever" if end is None else "repeating",
                                   percent_off=float(pct), duration_in_months=months))
    discount_id = next_id("di")
    store.put("discounts", so.discount(discount_id, coupon_id=coupon_id, customer_id=customer_id,
                                       subscription_id=sub_id, start=start, end=end))
    return discount_id


def _subscription(store: StripeStore, row: Any, lines: list[Any], as_of: int,
                  next_id: NextId, newest_invoice_status: str | None) -> None:
    ended = row.status == "canceled" and row.ended_at is not None
    live = _live_lines(lines, row.ended_at - DAY if ended else as_of)
    period = (row.current_period_start, end_ts(row.current_period_end))
    items, discounts = _items(store, row, live, period, next_id)
    cancel_at = None if ended else _cancel_at(live)
    obj = so.subscription(
        row.subscription_id, row.created_at, customer_id=row.stripe_customer_id,
        currency=row.currency.lower(), items=items, status=_status(row, as_of, newest_invoice_status),
        start_date=row.start_date, discounts=discounts, trial_start=row.trial_start,
        trial_end=row.trial_end, canceled_at=row.canceled_at, ended_at=row.ended_at, cancel_at=cancel_at)
    obj["cancel_at_period_end"] = cancel_at is not None and cancel_at == period[1]
    store.add("subscriptions", obj)


def _items(store: StripeStore, row: Any, live: list[Any], period: tuple[int, int],
           next_id: NextId) -> tuple[list[dict], list[str]]:
    """One item per price; returns (items, subscription-level discount ids).
    A discount shared by every item goes on the subscription, else on its item."""
    items, item_discounts = [], []
    for price_id, group in _per_price(live).items():
        item = so.subscription_item(item_id(row.subscription_id, price_id), min(ln.start_date for ln in group),
                                    subscription_id=row.subscription_id, price_obj=store.get(price_id),
                                    quantity=sum(int(ln.quantity) for ln in group), period=period)
        discounted = [ln for ln in group if ln.discount_percent > 0]
        if discounted:
            item_discounts.append((item, _discount_for(store, discounted[0], row.stripe_customer_id,
                                                       row.subscription_id, next_id)))
        items.append(item)
    if item_discounts and len(item_discounts) == len(items):
        return items, [item_discounts[0][1]]
    for item, discount_id in item_discounts:
        item["discounts"] = [discount_id]
    return items, []


def _cancel_at(live: list[Any]) -> int | None:
    """A subscription whose live lines all end without auto-renewal is set to
    cancel at the end of the last one (Stripe's ``cancel_at``)."""
    if not live or any(ln.auto_renew or ln.end_date is None for ln in live):
        return None
    return end_ts(max(ln.end_date for ln in live))


def _status(row: Any, as_of: int, newest_invoice_status: str | None) -> str:
    if row.status != "canceled" and row.trial_end is not None and row.trial_end > as_of:
        return "trialing"
    if row.status == "past_due" and newest_invoice_status == "uncollectible":
        return "unpaid"
    return row.status


def _invoice(store: StripeStore, row: Any, lines: list[Any], next_id: NextId) -> None:
    period = (row.period_start, end_ts(row.period_end))
    gross = int(row.subscription_minor) + int(row.discount_minor)
    items = _recurring_lines(store, row, _live_lines(lines, row.period_start), gross, period, next_id)
    if int(row.one_time_minor) > 0:
        price = _setup_price(store, row.currency.lower(), int(row.one_time_minor), row.created_at)
        items.append(so.invoice_line(next_id("il"), invoice_id=row.invoice_id, price_obj=price, quantity=1,
                                     amount=int(row.one_time_minor), period=period,
                                     subscription_id=row.subscription_id, subscription_item_id=None,
                                     description=row.one_time_description or "Onboarding & setup"))
    subscription = store.get(row.subscription_id) if row.subscription_id else None
    obj = so.invoice(row.invoice_id, row.created_at, customer_id=row.stripe_customer_id,
                     subscription_id=row.subscription_id or None, currency=row.currency.lower(), lines=items,
                     discount_amount=int(row.discount_minor), tax=int(row.tax_minor), status=row.status,
                     due_date=row.due_at, paid_at=row.paid_at, attempt_count=int(row.attempt_count),
                     discount_id=_invoice_discount(subscription) if int(row.discount_minor) else None)
    obj["number"] = row.number
    store.add("invoices", obj)
    if subscription is not None:
        subscription["latest_invoice"] = row.invoice_id  # invoices arrive oldest first


def _invoice_discount(subscription: dict | None) -> str | None:
    if subscription is None:
        return None
    ids = subscription["discounts"] or [d for item in subscription["items"]["data"] for d in item["discounts"]]
    return ids[0] if ids else None


def _recurring_lines(store: StripeStore, row: Any, live: list[Any], gross: int,
                     period: tuple[int, int], next_id: NextId) -> list[dict]:
    """One line per price when quantity × unit price adds up to the billed
    amount; otherwise (prorations, mid-period changes) one line for it all."""
    grouped = [(price_id, sum(int(ln.quantity) for ln in group), int(group[0].unit_amount_minor))
               for price_id, group in _per_price(live).items()]
    if not grouped or gross <= 0:
        return []
    if sum(qty * unit for _, qty, unit in grouped) != gross:
        grouped = [(grouped[0][0], 1, gross)]
    out = []
    for price_id, qty, unit in grouped:
        price = store.get(price_id)
        out.append(so.invoice_line(next_id("il"), invoice_id=row.invoice_id, price_obj=price,
                                   quantity=qty, amount=qty * unit, period=period,
                                   subscription_id=row.subscription_id,
                                   subscription_item_id=item_id(row.subscription_id, price_id),
                                   description=f"{qty} × {price['nickname']}"))
    return out


def _setup_price(store: StripeStore, currency: str, amount: int, created: int) -> dict:
    price_id = f"price_setup_{currency}_{amount}"
    found = store.get(price_id)
    if found is None:
        found = store.add("prices", so.price(price_id, created, product_id=SETUP_PRODUCT, currency=currency,
                                             unit_amount=amount, interval=None, nickname="Onboarding & setup"))
    return found
