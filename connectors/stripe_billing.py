"""Stripe: customers, subscriptions (→ monthly-normalised contract lines) and invoices.

=============  ===================================  =====================  ==========
stream         endpoint (page size 100)             writes                 deletes
=============  ===================================  =====================  ==========
customers      /v1/customers                        accounts + links       sweep
subscriptions  /v1/subscriptions?status=all         contract lines         sweep
invoices       /v1/invoices                         invoices               sweep
events         /v1/events?types[]=…&created[gte]    all three              *.deleted
=============  ===================================  =====================  ==========

Quirks that live here and nowhere else:

- The first sync (and ``--full``) lists everything; later syncs read only the Events API.
  Stripe keeps events for 30 days, so a cursor older than that re-lists everything — and
  Stripe lists forget deleted objects, so a complete listing *sweeps* (rows not seen are
  marked deleted).
- ``customer.subscription.deleted`` is a cancellation, not a deletion: the subscription
  still exists (``status=canceled``) and its lines keep their history with an end date.
- Response shapes: the billing period is on items (current API) or on the subscription
  (2024 versions); discounts are ``discounts`` ids (expanded here to
  ``discounts.source.coupon``) or one legacy ``discount`` object with its ``coupon``.
  When the account's API version rejects the current expansion we fall back to legacy.
- Amounts are integers in the currency's minor unit (none for zero-decimal currencies).

The money rules (design: "MRR normalisation") are the pure functions at the end of the
module, from :func:`subscription_lines` down.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from decimal import Decimal
from typing import Any, Iterator

import stripe

from connectors.errors import ConnectorError, InvalidRequest, TransientError, classify
from connectors.identity import Resolver, domain_of
from connectors.pagination import StartingAfter, paginate
from connectors.ratelimit import RateLimiter
from connectors.retry import Guard, RetryPolicy
from connectors.settings import StripeSettings
from connectors.sync import Batch, Stream, TrustedSession
from engine.store import utcnow

SOURCE = "stripe"
STREAMS = (
    Stream("customers", ("accounts",), sweep=True),
    Stream("subscriptions", ("contracts",), sweep=True, stage=1),
    Stream("invoices", ("invoices",), sweep=True, stage=1),
    Stream("events", ("accounts", "contracts", "invoices"), stage=2),
)
LISTS = {"customers": {}, "subscriptions": {"status": "all"}, "invoices": {}}
CURRENT_EXPAND = {"subscriptions": ["data.discounts.source.coupon"]}
EVENT_TYPES = [
    "customer.created", "customer.updated", "customer.deleted",
    "customer.subscription.created", "customer.subscription.updated", "customer.subscription.deleted",
    "customer.subscription.paused", "customer.subscription.resumed",
    "invoice.created", "invoice.finalized", "invoice.updated", "invoice.paid", "invoice.payment_failed",
    "invoice.payment_succeeded", "invoice.voided", "invoice.marked_uncollectible", "invoice.deleted",
]


def translate(exc: BaseException, what: str) -> ConnectorError | None:
    """stripe-python exceptions → our error table (Stripe-Should-Retry is honoured there)."""
    if isinstance(exc, stripe.APIConnectionError):
        return TransientError(SOURCE, f"connection failed during {what}")
    if isinstance(exc, stripe.StripeError):
        status = exc.http_status or 0
        if 200 <= status < 300:  # "Invalid response body": a truncated/garbled answer
            return TransientError(SOURCE, f"unreadable response during {what}", status=status)
        if status == 0:
            return TransientError(SOURCE, f"no response during {what}")
        return classify(SOURCE, status, dict(exc.headers or {}), exc.http_body or exc.json_body, what=what, now=utcnow())
    return None


class StripeSource:
    name = SOURCE
    streams = STREAMS

    def __init__(self, settings: StripeSettings, credentials: dict, resolver: Resolver, policy: RetryPolicy):
        key = credentials.get("api_key")
        if not key:
            raise ConnectorError(SOURCE, "no api_key", fix="Add api_key under [stripe] in credentials.toml")
        self.settings, self.resolver = settings, resolver
        self.session = TrustedSession(settings.ca_bundle, timeout=settings.timeout_seconds)
        http = stripe.RequestsClient(timeout=settings.timeout_seconds, session=self.session)
        base = {"api": settings.base_url.rstrip("/")} if settings.base_url else None
        self.client = stripe.StripeClient(key, base_addresses=base, http_client=http, max_network_retries=0)
        limiter = RateLimiter.per_second(settings.rate_limit, clock=policy.monotonic, sleep=policy.sleep)
        self.guard = Guard(SOURCE, translate, policy, limiter)
        self.stats = self.guard.stats
        self.legacy = False
        self._anchor_at: int | None = None
        self.started = int(time.time())  # our clock: only compared with our own earlier syncs

    # -- calls -------------------------------------------------------------------
    def _get(self, what: str, path: str, params: dict[str, Any]) -> dict:
        """One GET through the official client's requestor (auth, encoding, error types),
        kept as plain JSON: building StripeObjects for thousands of invoice lines per
        page costs more CPU than the whole rest of the sync."""
        return self.guard.call(what, lambda: self.client.raw_request("get", path, **params).data)

    def _list(self, collection: str, params: dict[str, Any]) -> dict:
        return self._get(f"list {collection}", f"/v1/{collection}", params)

    def _list_page(self, collection: str, after: str | None) -> dict:
        params: dict[str, Any] = {"limit": self.settings.page_size, **LISTS.get(collection, {})}
        if after:
            params["starting_after"] = after
        expand = [] if self.legacy else CURRENT_EXPAND.get(collection, [])
        try:
            return self._list(collection, {**params, "expand": expand} if expand else params)
        except InvalidRequest as exc:
            if not expand or "expand" not in str(exc):
                raise
            self.legacy = True  # an account pinned to a pre-2025 API version: read `discount`
            return self._list(collection, params)

    def _subscription(self, sub_id: str) -> dict:
        params = {} if self.legacy else {"expand": ["discounts.source.coupon"]}
        return self._get("retrieve subscription", f"/v1/subscriptions/{sub_id}", params)

    # -- streams -----------------------------------------------------------------
    def read(self, stream: Stream, cursor: str | None) -> Iterator[Batch]:
        if stream.name == "events":
            yield from self._events(json.loads(cursor) if cursor else None)
            return
        state = json.loads(cursor) if cursor else {}
        if state.get("done") and self._events_fresh():
            return
        after = None if state.get("done") else state.get("after")
        anchor = state["anchor"] if after else self._anchor()
        for page in paginate(lambda tok: self._list_page(stream.name, tok), StartingAfter(), after):
            batch = Batch(read=len(page.items), pass_start=page.token is None, last=page.next_token is None)
            for obj in page.items:
                self._apply(stream.name, obj, batch)
            done = page.next_token is None
            batch.cursor = json.dumps({"done": True, "anchor": anchor} if done else {"after": page.next_token, "anchor": anchor})
            yield batch

    def _anchor(self) -> int:
        """Creation time (Stripe's clock) of the newest event before a full listing starts:
        the events replayed afterwards begin here, so nothing changed mid-listing is lost."""
        if self._anchor_at is None:
            newest = self._list("events", {"limit": 1})["data"]
            self._anchor_at = newest[0]["created"] if newest else 0
        return self._anchor_at

    def _events_fresh(self) -> bool:
        raw = self.resolver.stored_cursor(SOURCE, "events")
        if not raw:
            return False
        age = self.started - json.loads(raw)["at"]
        return age < (self.settings.event_retention_days - 1) * 86400

    def _events_since(self, state: dict | None) -> int:
        if state and self._events_fresh():
            return state["since"]
        anchors = [json.loads(c).get("anchor", 0) for c in
                   (self.resolver.stored_cursor(SOURCE, s) for s in LISTS) if c]
        return min(anchors or [0])

    def _events(self, state: dict | None) -> Iterator[Batch]:
        base = self._events_since(state)
        since = base - self.settings.lookback_minutes * 60
        params = {"types": EVENT_TYPES, "created": {"gte": since}, "limit": self.settings.page_size}
        events: list[dict] = []
        for page in paginate(lambda tok: self._list("events", {**params, **({"starting_after": tok} if tok else {})}),
                             StartingAfter()):
            events.extend(page.items)
        events.reverse()  # Stripe lists newest first; apply oldest first
        size = self.settings.page_size
        chunks = [events[i:i + size] for i in range(0, len(events), size)] or [[]]
        for n, chunk in enumerate(chunks):
            batch = Batch(read=len(chunk), last=n == len(chunks) - 1)
            for event in _latest_per_object(chunk):
                self._apply_event(event, batch)
            batch.cursor = json.dumps({"since": chunk[-1]["created"] if chunk else base, "at": self.started})
            yield batch

    # -- records -----------------------------------------------------------------
    def _apply_event(self, event: dict, batch: Batch) -> None:
        obj = event["data"]["object"]
        kind = event["type"]
        if kind == "customer.deleted":
            batch.delete("accounts", obj["id"])
        elif kind == "invoice.deleted":
            batch.delete("invoices", obj["id"])
        elif kind.startswith("customer.subscription."):
            if not self.legacy and any(isinstance(d, str) for d in obj.get("discounts") or []):
                obj = self._subscription(obj["id"])  # event snapshots carry discount ids only
            self._apply("subscriptions", obj, batch)
        else:
            self._apply("customers" if kind.startswith("customer.") else "invoices", obj, batch)

    def _apply(self, collection: str, obj: dict, batch: Batch) -> None:
        if collection == "customers":
            self._customer(obj, batch)
            return
        account = self.resolver.account_for(SOURCE, _id(obj.get("customer")))
        if collection == "subscriptions":
            rows, skipped = subscription_lines(obj, account, self.settings.past_due_grace_days)
            batch.rows.setdefault("contracts", []).extend(rows)
            batch.replace.setdefault("contracts", []).append(f"{obj['id']}/")
            batch.skipped.extend(skipped)
        else:
            row, reason = invoice_row(obj, account)
            if row:
                batch.add("invoices", row)
            else:
                batch.skip(obj["id"], reason)

    def _customer(self, obj: dict, batch: Batch) -> None:
        if obj.get("deleted"):
            batch.delete("accounts", obj["id"])
            return
        meta = (obj.get("metadata") or {}).get(self.settings.account_metadata_key) or None
        link = self.resolver.by_domain(SOURCE, obj["id"], domain_of(obj.get("email")), meta)
        batch.links.append(link)
        batch.add("accounts", customer_row(obj, link.resolved))

    def close(self) -> None:
        self.session.close()


def _id(ref: Any) -> str | None:
    return ref.get("id") if isinstance(ref, dict) else ref


def _latest_per_object(events: list[dict]) -> list[dict]:
    """Within one chunk only the newest snapshot of each object matters (oldest-first input)."""
    last: dict[str, dict] = {}
    for event in events:
        last.pop(event["data"]["object"]["id"], None)
        last[event["data"]["object"]["id"]] = event
    return list(last.values())


# -- money: vendor JSON → canonical rows (pure) --------------------------------------

ZERO_DECIMAL = frozenset("bif clp djf gnf jpy kmf krw mga pyg rwf ugx vnd vuv xaf xof xpf".split())
#: interval → (numerator, denominator) turning one interval's amount into a month's
PER_MONTH = {"day": (365, 12), "week": (52, 12), "month": (1, 1), "year": (1, 12)}
MRR_PLACES = Decimal("0.000001")
NO_REVENUE = frozenset({"incomplete", "incomplete_expired"})
DUNNING = frozenset({"past_due", "unpaid"})


def major(amount_minor: Any, currency: str) -> Decimal:
    """Minor units → currency units (cents /100; zero-decimal currencies as they are)."""
    return Decimal(str(amount_minor)).scaleb(0 if currency.lower() in ZERO_DECIMAL else -2)


def monthly(amount: Decimal, interval: str, count: int = 1) -> Decimal:
    """Per-month value of ``amount`` billed every ``count`` ``interval`` s:
    annual /12, quarterly (3 months) /3, weekly ×52/12, daily ×365/12."""
    num, den = PER_MONTH[interval]
    return amount * num / (den * count)


def _day(ts: int | None) -> dt.date | None:
    return dt.datetime.fromtimestamp(ts, dt.timezone.utc).date() if ts else None


def _discounts(sub: dict) -> list[dict] | None:
    """Discount objects with their coupon, either shape; None when only ids are present."""
    objs = [d for d in sub.get("discounts") or [] if isinstance(d, dict)]
    if not objs and isinstance(sub.get("discount"), dict):
        objs = [sub["discount"]]
    if len(objs) < len(sub.get("discounts") or []) and not sub.get("discount"):
        return None
    out = []
    for d in objs:
        coupon = d.get("coupon") or (d.get("source") or {}).get("coupon")
        if not isinstance(coupon, dict):
            return None
        if coupon.get("duration") != "once":  # a one-invoice coupon is not a recurring discount
            out.append({"coupon": coupon, "start": _day(d.get("start")), "end": _day(d.get("end"))})
    return out


def _service_window(sub: dict, item: dict, grace_days: int) -> tuple[dt.date, dt.date | None]:
    """(first paid day, inclusive last day or None). Trials are not revenue; a canceled or
    scheduled-to-cancel subscription ends the day before ``ended_at``/``cancel_at``; a
    past-due one stays revenue for ``grace_days`` from the start of its unpaid period."""
    start = max(d for d in (_day(sub.get("start_date")), _day(item.get("created")), _day(sub.get("trial_end"))) if d)
    stops = [_day(sub.get("ended_at")), _day(sub.get("cancel_at"))]
    if sub.get("status") in DUNNING:
        period = _day(item.get("current_period_start") or sub.get("current_period_start"))
        stops.append(period + dt.timedelta(days=grace_days) if period else None)
    stop = min((d for d in stops if d), default=None)
    return start, (stop - dt.timedelta(days=1) if stop else None)


def _item_mrr(item: dict) -> tuple[Decimal | None, str]:
    """List MRR of one item (tax is never in a price; one-time and metered prices are not MRR)."""
    price = item.get("price") or item.get("plan") or {}
    recurring = price.get("recurring") or ({"interval": price["interval"], "interval_count": price.get("interval_count")}
                                           if price.get("interval") else None)
    if not recurring:
        return None, "one-time price is not recurring revenue"
    if recurring.get("usage_type") == "metered":
        return None, "metered price has no fixed monthly amount"
    unit = price.get("unit_amount_decimal") or price.get("unit_amount", price.get("amount"))
    currency = str(price.get("currency") or "")
    if unit is None:
        return None, "price has no per-unit amount (tiered pricing is not supported)"
    if len(currency) != 3 or not currency.isalpha():
        return None, f"unknown currency {currency!r}"
    qty = item.get("quantity") if item.get("quantity") is not None else 1
    amount = major(unit, currency) * qty
    if amount < 0:
        return None, f"negative amount {amount}"
    return monthly(amount, recurring["interval"], int(recurring.get("interval_count") or 1)), ""


def _segments(start: dt.date, end: dt.date | None, discounts: list[dict]) -> list[tuple[dt.date, dt.date | None, list[dict]]]:
    """Split [start, end] where a discount starts or ends; each piece with the discounts active on it."""
    cuts = sorted({d for disc in discounts for d in (disc["start"], disc["end"])
                   if d and d > start and (end is None or d <= end)})
    bounds = [start, *cuts]
    pieces = []
    for i, lo in enumerate(bounds):
        hi = bounds[i + 1] - dt.timedelta(days=1) if i + 1 < len(bounds) else end
        active = [d for d in discounts if (d["start"] or lo) <= lo and (d["end"] is None or d["end"] > lo)]
        pieces.append((lo, hi, active))
    return pieces


def _discounted(list_mrr: Decimal, share: Decimal, active: list[dict], interval: tuple[str, int], currency: str) -> Decimal:
    """percent_off scales the item; amount_off (per invoice) is spread over items by their share."""
    mrr = list_mrr
    for disc in active:
        coupon = disc["coupon"]
        if coupon.get("percent_off"):
            mrr = mrr * (100 - Decimal(str(coupon["percent_off"]))) / 100
        elif coupon.get("amount_off") and (coupon.get("currency") or currency).lower() == currency.lower():
            mrr -= monthly(major(coupon["amount_off"], currency), *interval) * share
    return max(mrr, Decimal(0))


def subscription_lines(sub: dict, account_id: str | None, grace_days: int) -> tuple[list[dict], list[tuple[str, str]]]:
    """Contract lines of one subscription: one per item, split where a recurring
    discount starts or ends. Returns (rows, skipped (id, reason))."""
    sub_id = sub["id"]
    if not account_id:
        return [], [(sub_id, "subscription has no customer")]
    if sub.get("status") in NO_REVENUE:
        return [], []
    discounts = _discounts(sub)
    if discounts is None:
        return [], [(sub_id, "discount details missing (coupon not expanded)")]
    items = (sub.get("items") or {}).get("data") or []
    priced = [(item, *_item_mrr(item)) for item in items]
    total = sum((m for _, m, _ in priced if m is not None), Decimal(0))
    rows, skipped = [], []
    for item, list_mrr, why in priced:
        if list_mrr is None:
            skipped.append((f"{sub_id}/{item['id']}", why))
            continue
        rows.extend(_item_rows(sub, item, list_mrr, list_mrr / total if total else Decimal(0), discounts, account_id, grace_days))
    return rows, skipped


def _item_rows(sub: dict, item: dict, list_mrr: Decimal, share: Decimal, discounts: list[dict],
               account_id: str, grace_days: int) -> list[dict]:
    price = item.get("price") or item.get("plan") or {}
    recurring = price.get("recurring") or {"interval": price.get("interval"), "interval_count": price.get("interval_count")}
    interval = (recurring["interval"], int(recurring.get("interval_count") or 1))
    currency = str(price["currency"]).upper()
    start, end = _service_window(sub, item, grace_days)
    if end is not None and end < start:
        return []  # ended during its trial: never revenue
    rows = []
    for n, (lo, hi, active) in enumerate(_segments(start, end, discounts)):
        mrr = _discounted(list_mrr, share, active, interval, currency).quantize(MRR_PLACES)
        if rows and rows[-1]["mrr"] == mrr:  # a cut that changes nothing
            rows[-1]["end_date"] = hi
            continue
        line_id = f"{sub['id']}/{item['id']}" + (f"@{lo.isoformat()}" if n else "")
        rows.append({"source_id": line_id, "contract_id": line_id, "account_id": account_id,
                     "product": price.get("nickname") or _ref(price.get("product")), "start_date": lo, "end_date": hi,
                     "mrr": mrr, "currency": currency, "quantity": Decimal(item.get("quantity") or 1),
                     "status": sub.get("status"),
                     "auto_renew": sub.get("status") not in ("canceled",) and not sub.get("cancel_at")
                     and not sub.get("cancel_at_period_end")})
    return rows


def _ref(value: Any) -> str | None:
    return value.get("name") or value.get("id") if isinstance(value, dict) else value


def invoice_row(inv: dict, account_id: str | None) -> tuple[dict | None, str]:
    """One invoice: total as billed (tax included; invoices are not revenue figures)."""
    currency = str(inv.get("currency") or "")
    if not account_id:
        return None, "invoice has no customer"
    if len(currency) != 3 or not currency.isalpha():
        return None, f"unknown currency {currency!r}"
    if (inv.get("total") or 0) < 0:
        return None, f"negative total {inv.get('total')}"
    moves = inv.get("status_transitions") or {}
    return {"source_id": inv["id"], "invoice_id": inv["id"], "account_id": account_id,
            "issued_at": _day(moves.get("finalized_at") or inv.get("created")), "due_at": _day(inv.get("due_date")),
            "paid_at": _day(moves.get("paid_at")), "amount": major(inv.get("total") or 0, currency),
            "currency": currency.upper(), "status": inv.get("status"),
            "attempt_count": inv.get("attempt_count") or 0}, ""


def customer_row(cus: dict, account_id: str) -> dict:
    return {"source_id": cus["id"], "account_id": account_id, "name": cus.get("name") or cus.get("email") or cus["id"],
            "domain": domain_of(cus.get("email")), "billing_id": cus["id"],
            "crm_id": None}


def open_source(settings: StripeSettings, credentials: dict, resolver: Resolver, policy: RetryPolicy) -> StripeSource:
    return StripeSource(settings, credentials, resolver, policy)
