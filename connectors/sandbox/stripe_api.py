"""Stripe API emulator: the sandbox's ``/v1`` billing endpoints over the shared
:mod:`connectors.sandbox.http` protocol, seeded from the book of business.

Served (details in ``stripe_routes.py``): list + retrieve for customers,
subscriptions, invoices, events, products and prices; customer create, update
and delete.  What the connector maps (current API shape; the pre-2025 shape
with ``legacy_shapes=True`` is tabled in ``stripe_render.py``):

* **customer** ``metadata.crm_account_id`` = CRM account id (most customers);
  some carry only ``email`` whose domain is the account's domain; a few match
  nothing.  ``currency`` is the billing currency.  Deleted customers answer
  ``{"deleted": true}`` and appear as ``customer.deleted`` events.
* **subscription** one per contract: ``status`` trialing | active | past_due |
  unpaid | canceled; ``items.data[]`` with ``price`` (``unit_amount`` minor
  units, ``currency``, ``recurring.interval`` month | year | week,
  ``interval_count``), ``quantity``, ``current_period_start/end``;
  MRR = Σ unit_amount × quantity ÷ months-per-interval (year 12, month 1,
  week 12/52), × interval_count.  ``discounts`` ids expand to discounts
  whose ``source.coupon`` expands to a coupon (``percent_off`` or
  ``amount_off``; ``duration`` once | repeating | forever; ``discount.end``
  when repeating).  ``trial_end``, ``cancel_at``, ``canceled_at``,
  ``ended_at`` are Unix seconds or null.
* **invoice** ``status`` paid | open | uncollectible | void, ``amount_due``,
  ``amount_paid``, ``total``, ``total_taxes[].amount`` (tax, excluded from
  revenue), ``attempt_count`` (> 1 = failed payments), ``due_date``,
  ``status_transitions.paid_at`` (late when > due_date),
  ``parent.subscription_details.subscription``; ``lines.data[].parent.type``
  ``subscription_item_details`` (recurring) or ``invoice_item_details``
  (one-time fee, excluded from MRR).
* **event** ``type`` customer.created|updated|deleted,
  customer.subscription.created|updated|deleted, invoice.created|paid|
  payment_failed; ``data.object`` is the snapshot at that moment,
  ``data.previous_attributes`` on updates.  Only the last 30 days are listed.

Shapes follow the request's ``Stripe-Version`` header like Stripe itself:
versions before ``2025-03-31`` get the legacy shape; ``legacy_shapes=True``
serves the legacy shape to every request (an account pinned to 2024-06-20).

Mechanics: ``Authorization: Bearer <api_key>`` (401 otherwise); an optional
rate limit of ``rate_limit`` requests per second (Stripe test mode: 25) with
Stripe's 429; POST idempotency by ``Idempotency-Key`` (first response stored
24 h and replayed with ``Idempotent-Replayed: true``; the same key with other
parameters is a 400 ``idempotency_error``).
"""

from __future__ import annotations

import hashlib
import re
import threading
from collections import deque
from datetime import datetime, timedelta, timezone
from typing import Any, Callable

from connectors.sandbox.http import Request, Response
from connectors.sandbox.stripe_params import ListParams, StripeError, as_list, nest
from connectors.sandbox.stripe_render import CannotExpand, render
from connectors.sandbox.stripe_routes import LIST_FILTERS, CustomerWrites, list_page, retrieve
from connectors.sandbox.stripe_store import StripeStore

DEFAULT_API_KEY = "sk_test_nrrsandbox51Lq8vE2demo0000000000"  # works only against the sandbox
IDEMPOTENCY_TTL = timedelta(hours=24)
CURRENT_VERSION = "2026-10-28.endive"
LEGACY_VERSION = "2024-06-20"
SHAPES_CHANGED = "2025-03-31"  # basil: billing periods moved to items, invoice.parent, total_taxes
_OBJECT_PATH = re.compile(r"^/v1/(customers|subscriptions|invoices|events|products|prices)/([^/]+)$")
Clock = Callable[[], datetime]


def _utcnow() -> datetime:
    return datetime.now(timezone.utc)


class StripeEmulator:
    """Stripe's REST API over in-memory state seeded from ``book``."""

    name = "stripe"
    tls = False  # Stripe clients accept an http:// base address (as for stripe-mock).

    def __init__(self, book: Any = None, *, clock: Clock | None = None, rate_limit: int | None = 25,
                 legacy_shapes: bool = False, api_key: str = DEFAULT_API_KEY) -> None:
        self.clock = clock or _default_clock(book)
        self.rate_limit = rate_limit
        self.legacy_shapes = legacy_shapes
        self.api_key = api_key
        self.credentials = {"api_key": api_key}
        self.store = StripeStore()
        self._lock = threading.RLock()
        self._ids: dict[str, int] = {}
        self._recent: deque[float] = deque()
        self._idempotent: dict[str, tuple[str, Response, datetime]] = {}
        self.customers = CustomerWrites(self.store, self.next_id)
        if book is not None:
            from connectors.sandbox.stripe_seed import seed_from_book
            seed_from_book(self.store, book, self.next_id)

    # -- protocol -----------------------------------------------------------------
    def handle(self, req: Request) -> Response:
        with self._lock:
            try:
                self._authenticate(req)
                self._throttle()
                response = self._idempotent_dispatch(req)
            except StripeError as exc:
                response = exc.response()
            response.headers.setdefault("Request-Id", "req_" + self.next_id("req")[4:])
            response.headers.setdefault("Stripe-Version", self._version(req))
            return response

    def endpoint_key(self, req: Request) -> str:
        match = _OBJECT_PATH.match(req.path)
        path = f"/v1/{match.group(1)}/{{id}}" if match else req.path
        return f"{req.method.upper()} {path}"

    def fault_response(self, kind: str, req: Request) -> Response:
        """Stripe's own bodies for the server's injected faults."""
        if kind == "rate_limit":
            return _rate_limited().response()
        if kind == "server_error":
            return StripeError(500, "An unknown error occurred", type_="api_error",
                               should_retry=None).response()
        if kind == "quota":
            return StripeError(429, "Request budget for this API key is spent; try again tomorrow.",
                               type_="rate_limit_error", code="rate_limit", should_retry=False).response()
        if kind == "session_expired":
            return StripeError(401, f"Expired API Key provided: {_mask(self.api_key)}",
                               code="api_key_expired", should_retry=None).response()
        raise ValueError(f"unknown fault kind {kind!r}")

    # -- helpers shared with seeding and routes ----------------------------------
    def next_id(self, prefix: str) -> str:
        """Deterministic ids: ``<prefix>_`` + 14 hex digits hashed from a per-prefix counter,
        so two emulators built from the same book hand out the same ids."""
        self._ids[prefix] = self._ids.get(prefix, 0) + 1
        digest = hashlib.sha1(f"{prefix}:{self._ids[prefix]}".encode()).hexdigest()
        return f"{prefix}_{int(digest[:16], 16):x}"[: len(prefix) + 15]

    def now(self) -> int:
        return int(self.clock().timestamp())

    # -- request pipeline ----------------------------------------------------------
    def _authenticate(self, req: Request) -> None:
        header = req.header("authorization") or ""
        if not header:
            raise StripeError(401, "You did not provide an API key. You need to provide your API key "
                              "in the Authorization header, using Bearer auth.", should_retry=None)
        scheme, _, key = header.partition(" ")
        if scheme.lower() != "bearer" or key.strip() != self.api_key:
            raise StripeError(401, f"Invalid API Key provided: {_mask(key.strip())}",
                              code="api_key_invalid", should_retry=None)

    def _throttle(self) -> None:
        """Sliding one-second window, as Stripe's per-second test-mode limit."""
        if self.rate_limit is None:
            return
        now = self.clock().timestamp()
        while self._recent and self._recent[0] <= now - 1.0:
            self._recent.popleft()
        if len(self._recent) >= self.rate_limit:
            raise _rate_limited()
        self._recent.append(now)

    def _idempotent_dispatch(self, req: Request) -> Response:
        key = req.header("idempotency-key")
        if req.method.upper() != "POST" or not key:
            return self._dispatch(req)
        fingerprint = hashlib.sha256(req.method.encode() + req.path.encode() + req.body).hexdigest()
        now = self.clock()
        stored = self._idempotent.get(key)
        if stored and now - stored[2] < IDEMPOTENCY_TTL:
            if stored[0] != fingerprint:
                raise StripeError(400, "Keys for idempotent requests can only be used with the same "
                                  f"parameters they were first used with. Try using a key other than "
                                  f"'{key}' if you meant to execute a different request.",
                                  type_="idempotency_error")
            first = stored[1]
            return Response(first.status, first.body, {**first.headers, "Idempotent-Replayed": "true"})
        response = self._dispatch(req)
        self._forget_expired_keys(now)
        self._idempotent[key] = (fingerprint, response, now)
        return Response(response.status, response.body, {**response.headers, "Idempotency-Key": key})

    def _forget_expired_keys(self, now: datetime) -> None:
        """Keys are stored in arrival order, so expired ones are at the front."""
        while self._idempotent:
            oldest = next(iter(self._idempotent))
            if now - self._idempotent[oldest][2] < IDEMPOTENCY_TTL:
                return
            del self._idempotent[oldest]

    def _dispatch(self, req: Request) -> Response:
        method = req.method.upper()
        params = nest(req.form() if method == "POST" else req.query)
        expand = as_list(params.get("expand"), "expand")
        collection = req.path[len("/v1/"):] if req.path.startswith("/v1/") else ""
        if method == "GET" and collection in LIST_FILTERS:
            page = list_page(self.store, collection, params, ListParams.parse(params), self.now())
            return self._rendered(req, page, expand)
        match = _OBJECT_PATH.match(req.path)
        if match and method == "GET":
            return self._rendered(req, retrieve(self.store, match.group(1), match.group(2), self.now()), expand)
        return self._rendered(req, self._write(method, req.path, match, params), expand)

    def _write(self, method: str, path: str, match: re.Match | None, params: dict[str, Any]) -> dict:
        if method == "POST" and path == "/v1/customers":
            return self.customers.create(params, self.now())
        if match and match.group(1) == "customers" and method == "POST":
            return self.customers.update(match.group(2), params, self.now())
        if match and match.group(1) == "customers" and method == "DELETE":
            return self.customers.delete(match.group(2), self.now())
        raise StripeError(404, f"Unrecognized request URL ({method}: {path}). Please see "
                          "https://stripe.com/docs or we can help at https://support.stripe.com/.")

    def _version(self, req: Request) -> str:
        """The API version answered: the request's ``Stripe-Version`` (as
        Stripe does), forced to a 2024 version by ``legacy_shapes``."""
        asked = req.header("stripe-version") or CURRENT_VERSION
        return LEGACY_VERSION if self.legacy_shapes and asked >= SHAPES_CHANGED else asked

    def _rendered(self, req: Request, obj: dict, expand: list[str]) -> Response:
        legacy = self._version(req) < SHAPES_CHANGED
        try:
            return Response(200, render(obj, self.store.get, legacy, expand))
        except CannotExpand as exc:
            hint = f" You may want to try expanding 'data.{exc}' instead." if obj.get("object") == "list" else ""
            raise StripeError(400, f"This property cannot be expanded ({exc}).{hint}",
                              param="expand") from None


def _rate_limited() -> StripeError:
    return StripeError(429, "Request rate limit exceeded. You can learn more about rate limits here "
                       "https://stripe.com/docs/rate-limits.", type_="rate_limit_error",
                       code="rate_limit", should_retry=True)


def _mask(key: str) -> str:
    """Stripe shows only the last four characters of a key it rejects."""
    return (key[:8] + "*" * max(len(key) - 12, 0) + key[-4:]) if len(key) > 12 else "****"


def _default_clock(book: Any) -> Clock:
    """Wall-clock time, shifted so "now" is the book's as-of instant when it has one,
    keeping the 30-day event window over the book's recent history."""
    as_of = getattr(book, "as_of", None)
    if as_of is None:
        return _utcnow
    if not isinstance(as_of, datetime):
        as_of = datetime(as_of.year, as_of.month, as_of.day, 12, tzinfo=timezone.utc)
    offset = as_of - _utcnow()
    return lambda: _utcnow() + offset
