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
an inclusive book end date maps to the next midnight.  Events for the book's
recent history come from ``stripe_events.py``.
"""

from __future__ import annotations

from typing import Any, Callable

import pandas as pd

from connectors.sandbox import stripe_objects as so
from connectors.sandbox.stripe_events import seed_events
from connectors.sandbox.stripe_store import StripeStore

DAY = 86_400
SETUP_PRODUCT = "prod_onboarding_setup"
NextId = Callable[[str], str]


def ts(value: Any) -> int | None:
    """A book date/instant (naive UTC) as Unix seconds; None for NaT/None."""
    if value is None or pd.isna(value):
        return None
    return int(pd.Timestamp(value).tz_localize(None).value // 1_000_000_000)


def end_ts(value: Any) -> int | None:
    """An inclusive last day as Stripe's exclusive end instant (next midnight)."""
    start = ts(value)
    return None if start is None else start + DAY


def seed_from_book(store: StripeStore, book: Any, next_id: NextId) -> None:
    """Fill ``store`` with the book's Stripe objects and recent events."""
    as_of = ts(pd.Timestamp(book.as_of))
    _products_and_prices(store, book)
    deleted = _customers(store, book.accounts)
    lines = book.contracts[book.contracts["subscription_id"].fillna("") != ""]
    by_sub = {sub_id: group for sub_id, group in lines.groupby("subscription_id", sort=False)}
    newest_invoice = book.invoices.sort_values("issued_at").groupby("subscription_id")["status"].last()
    for row in book.subscriptions.sort_values("created_at", kind="stable").itertuples(index=False):
        _subscription(store, row, by_sub.get(row.subscription_id), as_of, next_id,
                      newest_invoice.get(row.subscription_id))
    for row in book.invoices.sort_values("created_at", kind="stable").itertuples(index=False):
        _invoice(store, row, by_sub.get(row.subscription_id), next_id)
    seed_events(store, book, as_of, next_id, deleted)


def _products_and_prices(store: StripeStore, book: Any) -> None:
    for row in book.products.sort_values("created_at").itertuples(index=False):
        store.add("products", so.product(row.product_id, ts(row.created_at), name=row.name))
    for row in book.prices.sort_values("created_at").itertuples(index=False):
        store.add("prices", so.price(row.price_id, ts(row.created_at), product_id=row.product_id,
                                     currency=row.currency.lower(), unit_amount=int(row.unit_amount_minor),
                                     interval=row.interval, nickname=f"{row.plan} {row.interval}ly"))
    first = ts(book.products["created_at"].min()) or 0
    store.add("products", so.product(SETUP_PRODUCT, first, name="Onboarding & setup"))


def _customers(store: StripeStore, accounts: pd.DataFrame) -> dict[str, dict]:
    """Add customers; return id → last live object of the deleted ones."""
    deleted = {}
    linked = accounts[accounts["stripe_customer_id"].fillna("") != ""]
    for row in linked.sort_values("created_at", kind="stable").itertuples(index=False):
        metadata = {"crm_account_id": row.account_id} if row.stripe_link == "metadata" else {}
        obj = so.customer(row.stripe_customer_id, ts(row.created_at), name=row.name,
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


def _live_lines(lines: pd.DataFrame | None, day: Any) -> pd.DataFrame:
    """Contract lines in service on ``day`` (latest-starting lines if none are)."""
    if lines is None or lines.empty:
        return pd.DataFrame()
    day = pd.Timestamp(day)
    live = lines[(lines["start_date"] <= day) & (lines["end_date"].isna() | (lines["end_date"] >= day))]
    return live if not live.empty else lines[lines["start_date"] == lines["start_date"].max()]


def _discount_for(store: StripeStore, line: Any, customer_id: str, sub_id: str, next_id: NextId) -> str:
    """Create the coupon + discount of a discounted contract line; return the discount id."""
    pct = int(line.discount_percent)
    start = ts(line.start_date)
    end = end_ts(line.discount_end)
    months = None if end is None else max(1, round((end - start) / (DAY * 30.44)))
    coupon_id = f"{pct}OFF-{line.contract_id}"
    store.put("coupons", so.coupon(coupon_id, start, duration="forever" if end is None else "repeating",
                                   percent_off=float(pct), duration_in_months=months))
    discount_id = next_id("di")
    store.put("discounts", so.discount(discount_id, coupon_id=coupon_id, customer_id=customer_id,
                                       subscription_id=sub_id, start=start, end=end))
    return discount_id


def _subscription(store: StripeStore, row: Any, lines: pd.DataFrame | None, as_of: int,
                  next_id: NextId, newest_invoice_status: str | None) -> None:
    ended = row.status == "canceled" and pd.notna(row.ended_at)
    live = _live_lines(lines, row.ended_at - pd.Timedelta(days=1) if ended else pd.Timestamp(as_of, unit="s"))
    period = (ts(row.current_period_start), end_ts(row.current_period_end))
    items, discounts = _items(store, row, live, period, next_id)
    cancel_at = None if ended else _cancel_at(live)
    obj = so.subscription(
        row.subscription_id, ts(row.created_at), customer_id=row.stripe_customer_id,
        currency=row.currency.lower(), items=items, status=_status(row, as_of, newest_invoice_status),
        start_date=ts(row.start_date), discounts=discounts, trial_start=ts(row.trial_start),
        trial_end=ts(row.trial_end), canceled_at=ts(row.canceled_at), ended_at=ts(row.ended_at),
        cancel_at=cancel_at)
    obj["cancel_at_period_end"] = cancel_at is not None and cancel_at == period[1]
    store.add("subscriptions", obj)


def _items(store: StripeStore, row: Any, live: pd.DataFrame, period: tuple[int, int],
           next_id: NextId) -> tuple[list[dict], list[str]]:
    """One item per price; returns (items, subscription-level discount ids).
    A discount shared by every item goes on the subscription, else on its item."""
    items, item_discounts = [], []
    for price_id, group in (live.groupby("price_id", sort=False) if not live.empty else []):
        item = so.subscription_item(item_id(row.subscription_id, price_id), ts(group["start_date"].min()),
                                    subscription_id=row.subscription_id, price_obj=store.get(price_id),
                                    quantity=int(group["quantity"].sum()), period=period)
        discounted = group[group["discount_percent"] > 0]
        if not discounted.empty:
            line = next(discounted.itertuples(index=False))
            item_discounts.append((item, _discount_for(store, line, row.stripe_customer_id,
                                                       row.subscription_id, next_id)))
        items.append(item)
    if item_discounts and len(item_discounts) == len(items):
        return items, [item_discounts[0][1]]
    for item, discount_id in item_discounts:
        item["discounts"] = [discount_id]
    return items, []


def _cancel_at(live: pd.DataFrame) -> int | None:
    """A subscription whose live lines all end without auto-renewal is set to
    cancel at the end of the last one (Stripe's ``cancel_at``)."""
    if live.empty or live["auto_renew"].any() or live["end_date"].isna().any():
        return None
    return end_ts(live["end_date"].max())


def _status(row: Any, as_of: int, newest_invoice_status: str | None) -> str:
    trial_end = ts(row.trial_end)
    if row.status != "canceled" and trial_end is not None and trial_end > as_of:
        return "trialing"
    if row.status == "past_due" and newest_invoice_status == "uncollectible":
        return "unpaid"
    return row.status


def _invoice(store: StripeStore, row: Any, lines: pd.DataFrame | None, next_id: NextId) -> None:
    period = (ts(row.period_start), end_ts(row.period_end))
    gross = int(row.subscription_minor) + int(row.discount_minor)
    items = _recurring_lines(store, row, _live_lines(lines, row.period_start), gross, period, next_id)
    if int(row.one_time_minor) > 0:
        price = _setup_price(store, row.currency.lower(), int(row.one_time_minor), ts(row.created_at))
        items.append(so.invoice_line(next_id("il"), invoice_id=row.invoice_id, price_obj=price, quantity=1,
                                     amount=int(row.one_time_minor), period=period,
                                     subscription_id=row.subscription_id, subscription_item_id=None,
                                     description=row.one_time_description or "Onboarding & setup"))
    discount_id = None
    subscription = store.get(row.subscription_id) if row.subscription_id else None
    if int(row.discount_minor) and subscription is not None:
        ids = subscription["discounts"] or [d for i in subscription["items"]["data"] for d in i["discounts"]]
        discount_id = ids[0] if ids else None
    obj = so.invoice(row.invoice_id, ts(row.created_at), customer_id=row.stripe_customer_id,
                     subscription_id=row.subscription_id or None, currency=row.currency.lower(), lines=items,
                     discount_amount=int(row.discount_minor), tax=int(row.tax_minor), status=row.status,
                     due_date=ts(row.due_at), paid_at=ts(row.paid_at), attempt_count=int(row.attempt_count),
                     discount_id=discount_id)
    obj["number"] = row.number
    store.add("invoices", obj)
    if subscription is not None:
        subscription["latest_invoice"] = row.invoice_id  # invoices arrive oldest first


def _recurring_lines(store: StripeStore, row: Any, live: pd.DataFrame, gross: int,
                     period: tuple[int, int], next_id: NextId) -> list[dict]:
    """One line per price when quantity × unit price adds up to the billed
    amount; otherwise (prorations, mid-period changes) one line for it all."""
    grouped = [] if live.empty else [(price_id, int(g["quantity"].sum()), int(g.iloc[0].unit_amount_minor))
                                     for price_id, g in live.groupby("price_id", sort=False)]
    if not grouped or gross <= 0:
        return []
    if sum(qty * unit for _, qty, unit in grouped) != gross:
        grouped = [(grouped[0][0], 1, gross)]
    out = []
    for price_id, qty, unit in grouped:
        out.append(so.invoice_line(next_id("il"), invoice_id=row.invoice_id, price_obj=store.get(price_id),
                                   quantity=qty, amount=qty * unit, period=period,
                                   subscription_id=row.subscription_id,
                                   subscription_item_id=item_id(row.subscription_id, price_id),
                                   description=f"{qty} × {store.get(price_id)['nickname']}"))
    return out


def _setup_price(store: StripeStore, currency: str, amount: int, created: int) -> dict:
    price_id = f"price_setup_{currency}_{amount}"
    found = store.get(price_id)
    if found is None:
        found = store.add("prices", so.price(price_id, created, product_id=SETUP_PRODUCT, currency=currency,
                                             unit_amount=amount, interval=None, nickname="Onboarding & setup"))
    return found

