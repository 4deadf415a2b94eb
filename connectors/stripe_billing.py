"""Stripe: customers, invoices, and subscriptions (→ contract lines from invoice history).

=============  ===================================  =====================  ==========
stream         endpoint (page size 100)             writes                 deletes
=============  ===================================  =====================  ==========
customers      /v1/customers                        accounts + links       sweep
invoices       /v1/invoices                         invoices               sweep
subscriptions  /v1/subscriptions?status=all         contract lines         sweep
events         /v1/events?types[]=…&created[gte]    all three              *.deleted
=============  ===================================  =====================  ==========

Contract lines are derived per subscription from the recurring lines of all its invoices
plus its current state (``connectors/stripe_lines.py`` documents the derivation), so the
invoices stream runs first: a complete listing in this process keeps each subscription's
invoice segments in memory. Otherwise (a resumed listing, an incremental sync) the
invoices of each subscription being derived are listed with ``?subscription=``. Any
invoice event re-derives its subscription.

Quirks that live here and nowhere else:

- The first sync (and ``--full``) lists everything; later syncs read only the Events API.
  Stripe keeps events for 30 days, so a cursor older than that re-lists everything — and
  Stripe lists forget deleted objects, so a complete listing *sweeps* (rows not seen are
  marked deleted).
- ``customer.subscription.deleted`` is a cancellation, not a deletion: the subscription
  still exists (``status=canceled``) and its lines keep their history with an end date.
- Response shapes: the billing period is on items (current API) or on the subscription
  (2024 versions); discounts are ``discounts`` ids (expanded here to
  ``discounts.source.coupon``) or one legacy ``discount`` object with its ``coupon``;
  invoice lines name their kind in ``parent.type`` or (older) ``type``.
  When the account's API version rejects the current expansion we fall back to legacy.
- Lists embed at most one page of invoice lines (``lines.has_more``); the rest is listed.
- Lists have one order (newest first) and one cursor, so a long listing is a chain of
  round trips. A full listing of invoices or subscriptions is cut into ``created`` windows
  read side by side (``parallel_listings``), cut so each holds a like share: the customers
  listed just before say when billing grew (:func:`window_cuts`). The cursor keeps every
  window's position.
- Amounts are integers in the currency's minor unit (none for zero-decimal currencies).
"""
from __future__ import annotations

import json
import time
from typing import Any, Iterator

import stripe

from connectors.errors import ConnectorError, InvalidRequest, TransientError, classify, require_credential
from connectors.identity import Resolver, domain_of
from connectors.pagination import StartingAfter, paginate, paginate_windows
from connectors.ratelimit import RateLimiter
from connectors.retry import Guard, RetryPolicy
from connectors.settings import StripeSettings
from connectors.stripe_lines import (
    Segment, _day, invoice_segments, invoice_subscription, major, subscription_history)
from connectors.batch import Batch, Stream
from connectors.sync import TrustedSession
from engine.store import utcnow

SOURCE = "stripe"
STREAMS = (
    Stream("customers", ("accounts",), sweep=True),
    Stream("invoices", ("invoices",), sweep=True, stage=1),
    Stream("subscriptions", ("contracts",), sweep=True, stage=2),   # lines need the invoices' history
    Stream("events", ("accounts", "contracts", "invoices"), stage=3),
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
        key = require_credential(SOURCE, credentials, "api_key")
        self.settings, self.resolver = settings, resolver
        self.session = TrustedSession(settings.ca_bundle, timeout=settings.timeout_seconds)
        http = stripe.RequestsClient(timeout=settings.timeout_seconds, session=self.session)
        base = {"api": settings.base_url.rstrip("/")} if settings.base_url else None
        self.client = stripe.StripeClient(key, base_addresses=base, http_client=http, max_network_retries=0)
        limiter = RateLimiter.per_second(settings.rate_limit, account=(SOURCE, settings.base_url),
                                         clock=policy.monotonic, sleep=policy.sleep)
        self.guard = Guard(SOURCE, translate, policy, limiter)
        self.stats = self.guard.stats
        self.legacy = False
        #: subscription id → invoice id → recurring segments, from this process's invoice listing
        self._history: dict[str, dict[str, list[Segment]]] = {}
        self._history_complete = False
        self._customer_created: list[int] | None = None   # from a complete customers listing
        self._listed_fresh: set[str] = set()   # list streams this process read in full from the start
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

    def _list_page(self, collection: str, after: str | None, window: dict | None = None) -> dict:
        params: dict[str, Any] = {"limit": self.settings.page_size, **LISTS.get(collection, {})}
        if after:
            params["starting_after"] = after
        bounds = {op: window[op] for op in ("gte", "lt") if window and window.get(op) is not None}
        if bounds:
            params["created"] = bounds
        expand = [] if self.legacy else CURRENT_EXPAND.get(collection, [])
        try:
            return self._list(collection, {**params, "expand": expand} if expand else params)
        except InvalidRequest as exc:
            if not expand or "expand" not in str(exc):
                raise
            self.legacy = True  # an account pinned to a pre-2025 API version: read `discount`
            return self._list(collection, params)

    def _invoice_lines(self, inv: dict) -> dict:
        """The invoice with all its lines: lists embed the first page only (``has_more``)."""
        lines = inv.get("lines") or {}
        if not lines.get("has_more"):
            return inv
        data = list(lines.get("data") or [])
        path = f"/v1/invoices/{inv['id']}/lines"
        for page in paginate(lambda tok: self._get("list invoice lines", path, {"limit": 100, **({"starting_after": tok} if tok else {})}),
                             StartingAfter(), data[-1]["id"] if data else None):
            data.extend(page.items)
        return {**inv, "lines": {**lines, "data": data, "has_more": False}}

    def _segments_of(self, sub_id: str) -> list[Segment]:
        """Every recurring invoice segment of one subscription: from this process's complete
        invoice listing, else one listing of that subscription's invoices."""
        if self._history_complete:
            return [seg for segs in self._history.get(sub_id, {}).values() for seg in segs]
        params = {"subscription": sub_id, "limit": self.settings.page_size}
        out: list[Segment] = []
        for page in paginate(lambda tok: self._list("invoices", {**params, **({"starting_after": tok} if tok else {})}),
                             StartingAfter()):
            for inv in page.items:
                out.extend(invoice_segments(self._invoice_lines(inv))[0])
        return out

    def _remember(self, inv: dict) -> None:
        sub_id = invoice_subscription(inv)
        if sub_id:
            self._history.setdefault(sub_id, {})[inv["id"]] = invoice_segments(inv)[0]

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
        resumed = not state.get("done") and ("windows" in state or "after" in state)
        anchor = state["anchor"] if resumed else self._anchor()
        # a cursor written before windows existed holds one listing's position
        windows = (state.get("windows") or [{"after": state.get("after")}]) if resumed else self._windows(stream.name)
        if stream.name == "invoices" and not resumed:
            self._history = {}  # a pass from the start: the history it collects is complete at its end
        if stream.name == "customers":
            self._customer_created = None
        created: list[int] = []
        open_ = [w for w in windows if not w.get("done")]
        first = not resumed
        for n, page in paginate_windows(lambda n, tok: self._list_page(stream.name, tok, open_[n]), StartingAfter(),
                                        [w.get("after") for w in open_], self.settings.parallel_listings):
            open_[n].update(after=page.next_token, done=page.next_token is None)
            done = all(w.get("done") for w in windows)
            batch = Batch(read=len(page.items), pass_start=first, last=done)
            first = False
            for obj in page.items:
                self._apply(stream.name, obj, batch)
            if stream.name == "customers":   # their creation times cut the later listings' windows
                created.extend(obj.get("created") or 0 for obj in page.items)
            if done and not resumed:
                self._listed_fresh.add(stream.name)
                if stream.name == "invoices":
                    self._history_complete = True
                if stream.name == "customers":
                    self._customer_created = created
            batch.cursor = json.dumps({"done": True, "anchor": anchor} if done else {"windows": windows, "anchor": anchor})
            yield batch

    def _windows(self, collection: str) -> list[dict]:
        """The ``created`` windows of a full listing: one, unless customers were just listed
        in full (their creation times say where invoices and subscriptions lie)."""
        parts = 2 * self.settings.parallel_listings
        if collection == "customers" or not self._customer_created or parts <= 2:
            return [{}]
        cuts = window_cuts(self._customer_created, parts, max(self._anchor(), max(self._customer_created)),
                           lifetime=collection == "invoices")
        bounds = [None, *cuts, None]
        return [{"gte": lo, "lt": hi} for lo, hi in zip(bounds, bounds[1:])][::-1]   # newest first

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
        """Events since the cursor (less the lookback), oldest first. Skipped: events this
        stream applied before (re-read by the lookback; their ids ride in the cursor) and,
        right after complete listings in this process, events no newer than the listings'
        anchor (the listings already reflect them)."""
        base = self._events_since(state)
        since = base - self.settings.lookback_minutes * 60
        fresh = state is not None and self._events_fresh()
        applied = set(state.get("seen") or []) if fresh else set()
        reflected = base if not fresh and self._listed_fresh >= set(LISTS) else None
        params = {"types": EVENT_TYPES, "created": {"gte": since}, "limit": self.settings.page_size}
        events: list[dict] = []
        for page in paginate(lambda tok: self._list("events", {**params, **({"starting_after": tok} if tok else {})}),
                             StartingAfter()):
            events.extend(page.items)
        events.reverse()  # Stripe lists newest first; apply oldest first
        newest = max((e["created"] for e in events), default=base)
        seen = sorted(e["id"] for e in events if e["created"] >= newest - self.settings.lookback_minutes * 60)
        todo = [e for e in events if e["id"] not in applied and (reflected is None or e["created"] > reflected)]
        size = self.settings.page_size
        chunks = [todo[i:i + size] for i in range(0, len(todo), size)] or [[]]
        for n, chunk in enumerate(chunks):
            last = n == len(chunks) - 1
            batch = Batch(read=len(chunk) + (len(events) - len(todo) if last else 0), last=last)
            touched: dict[str, dict | None] = {}
            for event in _latest_per_object(chunk):
                self._apply_event(event, batch, touched)
            for sub_id, snapshot in touched.items():
                self._apply("subscriptions", snapshot or self._subscription(sub_id), batch)
            # a pass cut short resumes after the last committed chunk, skipping what it applied
            if last:
                batch.cursor = json.dumps({"since": newest, "at": self.started, "seen": seen})
            else:
                upto = chunk[-1]["created"]
                done = applied | {e["id"] for c in chunks[:n + 1] for e in c}
                batch.cursor = json.dumps({"since": upto, "at": self.started, "seen": sorted(
                    e["id"] for e in events if e["id"] in done and e["created"] >= upto - self.settings.lookback_minutes * 60)})
            yield batch

    # -- records -----------------------------------------------------------------
    def _apply_event(self, event: dict, batch: Batch, touched: dict[str, dict | None]) -> None:
        """Apply one event; subscriptions whose lines must be re-derived go into ``touched``
        (id → snapshot, or None to retrieve it) — an invoice changes its subscription's history."""
        obj = event["data"]["object"]
        kind = event["type"]
        if kind == "customer.deleted":
            batch.delete("accounts", obj["id"])
        elif kind.startswith("customer.subscription."):
            if not self.legacy and any(isinstance(d, str) for d in obj.get("discounts") or []):
                obj = self._subscription(obj["id"])  # event snapshots carry discount ids only
            touched[obj["id"]] = obj
        elif kind.startswith("customer."):
            self._apply("customers", obj, batch)
        else:
            sub_id = invoice_subscription(obj)
            if kind == "invoice.deleted":
                batch.delete("invoices", obj["id"])
                self._history.get(sub_id or "", {}).pop(obj["id"], None)
            else:
                self._apply("invoices", obj, batch)
            if sub_id:
                touched.setdefault(sub_id, None)

    def _apply(self, collection: str, obj: dict, batch: Batch) -> None:
        if collection == "customers":
            self._customer(obj, batch)
            return
        account = self.resolver.account_for(SOURCE, _id(obj.get("customer")))
        if collection == "subscriptions":
            segments = self._segments_of(obj["id"])
            rows, skipped = subscription_history(obj, segments, account, self.settings.past_due_grace_days)
            batch.rows.setdefault("contracts", []).extend(rows)
            batch.replace.setdefault("contracts", []).append(f"{obj['id']}/")
            batch.skipped.extend(skipped)
        else:
            obj = self._invoice_lines(obj)
            self._remember(obj)
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


def window_cuts(customer_created: list[int], parts: int, now: int, *, lifetime: bool) -> list[int]:
    """Times cutting billing history into ``parts`` windows of like size, from when the
    customers were created: subscriptions start with their customer (equal numbers of
    customers per window); invoices accrue while a customer lives, so the expected count
    before ``t`` is Σ (t − created) over customers created before ``t`` (``lifetime``)."""
    import numpy as np

    born = np.sort(np.asarray(customer_created, dtype=float))
    if born.size == 0 or parts < 2 or now <= born[0]:
        return []
    shares = np.arange(1, parts) / parts
    if lifetime:   # W(t) rises strictly after the first customer: invert it on a fine grid
        grid = np.linspace(born[0], now, 1024)
        before = np.searchsorted(born, grid, side="right")
        weight = before * grid - np.concatenate([[0.0], np.cumsum(born)])[before]
        cuts = np.interp(weight[-1] * shares, weight, grid)
    else:          # the window before born[k] holds the k first customers
        cuts = born[np.ceil(shares * born.size).astype(int).clip(0, born.size - 1)]
    return sorted({int(c) for c in cuts if born[0] < c < now})


def _id(ref: Any) -> str | None:
    return ref.get("id") if isinstance(ref, dict) else ref


def _latest_per_object(events: list[dict]) -> list[dict]:
    """Within one chunk only the newest snapshot of each object matters (oldest-first input)."""
    last: dict[str, dict] = {}
    for event in events:
        last.pop(event["data"]["object"]["id"], None)
        last[event["data"]["object"]["id"]] = event
    return list(last.values())


# -- invoices and customers: vendor JSON → canonical rows (pure) -------------------

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
