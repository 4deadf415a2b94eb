"""A local HubSpot CRM (v3 objects, v4 associations, properties, owners) seeded from the book.

``HubSpotEmulator(book, clock=..., rate_limit=RateLimit(), tokens=None,
search_ceiling=10_000)`` serves the sandbox protocol (``connectors/sandbox/http.py``);
point hubspot-api-client at it with ``HubSpot(access_token=emu.token)`` and
``configuration.host = <sandbox url>`` (plain HTTP).

Endpoints
---------
========  ==========================================================  =====================
GET       /crm/v3/objects/{type}  (limit ≤ 100, after, properties,     ``<type>.read`` scope
          associations, archived)
GET       /crm/v3/objects/{type}/{id}  (properties, associations,      read
          archived, idProperty)
PATCH     /crm/v3/objects/{type}/{id}                                  write
POST      /crm/v3/objects/{type}/search  (limit ≤ 200, 10,000 ceiling) read
POST      /crm/v3/objects/{type}/batch/read | batch/update (≤ 100)     read | write
GET/POST  /crm/v3/properties/{type}[/groups], GET .../{name}           crm.schemas.<type>.*
GET       /crm/v4/objects/{type}/{id}/associations/{to}                read
POST      /crm/v4/associations/{type}/{to}/batch/read                  read
GET       /crm/v3/owners/                                              crm.objects.owners.read
GET       /oauth/v1/access-tokens/{token}  (token → scopes, hub id)    none
POST      /oauth/v2/private-apps/get/access-token-info                 none
========  ==========================================================  =====================

``{type}`` is ``companies``, ``contacts``, ``deals`` or ``tickets`` (singular names and
``0-2``-style ids work too).  Tickets use the single ``tickets`` scope.

Book projection (property names the HubSpot connector maps; see ``hs_book.py``)
-------------------------------------------------------------------------------
* companies: ``name, domain, industry, numberofemployees, country, lifecyclestage``
  (``customer``; ``other`` once churned), ``hubspot_owner_id`` (owners = the book's CSMs),
  custom ``account_id`` (the book/CRM account id Stripe metadata refers to), ``segment``,
  ``icp_tier``, ``licensed_seats``, ``plan``, ``plan_limit``, ``customer_since`` (date).
* contacts: ``email, firstname, lastname, jobtitle, phone, associatedcompanyid``,
  ``hs_buying_role`` (``CHAMPION`` / ``EXECUTIVE_SPONSOR`` / ``END_USER``), custom
  ``product_user_id`` (the user id in usage files).  Contacts carry ``lastmodifieddate``
  (HubSpot's contact quirk) as well as ``hs_lastmodifieddate``.
* deals: ``dealname, amount`` (annual value in the deal currency), ``closedate``,
  ``pipeline`` = ``default``, ``dealstage`` = ``closedwon|closedlost``, ``dealtype`` =
  ``newbusiness|existingbusiness``, ``deal_currency_code``, ``hs_mrr``/``hs_arr`` on about
  two thirds of won deals, ``closed_lost_reason`` (a churn-reason category), custom
  ``closed_lost_detail``, ``contract_start_date``, ``contract_end_date`` (inclusive; empty =
  evergreen), ``term_months``, ``contract_change`` (``new|renewal|upsell|downgrade``).
* tickets: ``subject, content, hs_pipeline`` = ``0``, ``hs_pipeline_stage`` (``1`` new,
  ``2`` waiting on contact, ``4`` closed), ``hs_ticket_priority`` (LOW/MEDIUM/HIGH/URGENT),
  ``hs_ticket_category``, ``closed_date``, custom ``csat_score``.
* every object: ``hs_object_id, createdate, hs_lastmodifieddate``; rows the book marks
  deleted are archived (``archived=true`` lists them).  Associations: contacts, deals
  and tickets → their company (primary), tickets → the contact who raised them.

Behaviour worth knowing: list cursors are ids; search ``after`` is an offset and a
page past ``search_ceiling`` is a 400; search responses carry no rate-limit headers
(as in HubSpot); 401 ``INVALID_AUTHENTICATION`` for an unknown token, 403
``MISSING_SCOPES`` for a token without the scope; 429 ``TEN_SECONDLY_ROLLING`` past
``rate_limit`` (``None`` disables it) and ``DAILY`` once the daily allowance is spent.
"""

from __future__ import annotations

import datetime as dt
import re
import threading
import uuid
from collections.abc import Callable, Iterable
from urllib.parse import unquote

from connectors.sandbox import hs_errors as err
from connectors.sandbox import hs_meta as meta
from connectors.sandbox import hs_objects as objs
from connectors.sandbox.hs_book import project_book
from connectors.sandbox.hs_data import Portal
from connectors.sandbox.hs_limits import RateLimit, RateLimiter
from connectors.sandbox.hs_schema import OBJECT_TYPES, TYPE_ALIASES
from connectors.sandbox.hs_search import SEARCH_CEILING, Searcher
from connectors.sandbox.hs_wire import BadRequest, resolve_type
from connectors.sandbox.http import Request, Response

ALL_SCOPES = frozenset(
    [s for t in OBJECT_TYPES.values() for s in (t.read_scope, t.write_scope, *t.schema_read_scopes,
                                                  t.schema_write_scope)]
    + ["crm.objects.owners.read"])

_T = r"(?P<type>[A-Za-z0-9_-]+)"
# (method, path pattern, handler, scope rule, endpoint key template)
ROUTES = [
    ("GET", rf"/crm/v3/objects/{_T}", objs.list_objects, "read", "/crm/v3/objects/{type}"),
    ("POST", rf"/crm/v3/objects/{_T}/search", objs.search, "read", "/crm/v3/objects/{type}/search"),
    ("POST", rf"/crm/v3/objects/{_T}/batch/read", objs.batch_read, "read", "/crm/v3/objects/{type}/batch/read"),
    ("POST", rf"/crm/v3/objects/{_T}/batch/update", objs.batch_update, "write",
     "/crm/v3/objects/{type}/batch/update"),
    ("GET", rf"/crm/v3/objects/{_T}/(?P<id>[^/]+)", objs.read_object, "read", "/crm/v3/objects/{type}/{id}"),
    ("PATCH", rf"/crm/v3/objects/{_T}/(?P<id>[^/]+)", objs.update_object, "write",
     "/crm/v3/objects/{type}/{id}"),
    ("GET", rf"/crm/v3/properties/{_T}", meta.list_properties, "schema_read", "/crm/v3/properties/{type}"),
    ("POST", rf"/crm/v3/properties/{_T}", meta.create_property, "schema_write", "/crm/v3/properties/{type}"),
    ("GET", rf"/crm/v3/properties/{_T}/groups", meta.list_groups, "schema_read",
     "/crm/v3/properties/{type}/groups"),
    ("POST", rf"/crm/v3/properties/{_T}/groups", meta.create_group, "schema_write",
     "/crm/v3/properties/{type}/groups"),
    ("GET", rf"/crm/v3/properties/{_T}/(?P<name>[^/]+)", meta.read_property, "schema_read",
     "/crm/v3/properties/{type}/{name}"),
    ("GET", rf"/crm/v4/objects/{_T}/(?P<id>[^/]+)/associations/(?P<to>[^/]+)", meta.v4_list, "read",
     "/crm/v4/objects/{type}/{id}/associations/{to}"),
    ("POST", rf"/crm/v4/associations/{_T}/(?P<to>[^/]+)/batch/read", meta.v4_batch_read, "read",
     "/crm/v4/associations/{type}/{to}/batch/read"),
    ("GET", r"/crm/v3/owners/?", meta.list_owners, "owners", "/crm/v3/owners/"),
    ("GET", r"/oauth/v1/access-tokens/(?P<token>[^/]+)", meta.token_info, "public",
     "/oauth/v1/access-tokens/{token}"),
    ("POST", r"/oauth/v2/private-apps/get/access-token-info", meta.private_app_token_info, "public",
     "/oauth/v2/private-apps/get/access-token-info"),
]
_COMPILED = [(m, re.compile(p + r"/?$"), h, s, k) for m, p, h, s, k in ROUTES]


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


class HubSpotEmulator:
    """The HubSpot side of the sandbox: state, auth, scopes, rate limits and routing."""

    name = "hubspot"
    tls = False

    def __init__(self, book=None, *, clock: Callable[[], dt.datetime] = _utcnow,
                 rate_limit: RateLimit | None = RateLimit(), tokens: dict[str, Iterable[str]] | None = None,
                 search_ceiling: int = SEARCH_CEILING, portal: Portal | None = None) -> None:
        self.clock = clock
        self.portal = portal or (project_book(book) if book is not None else Portal())
        self.searcher = Searcher(self.portal)
        self.search_ceiling = search_ceiling
        self.limiter = RateLimiter(rate_limit, clock) if rate_limit else None
        seed = getattr(book, "seed", 0)
        self.token = "pat-na1-" + str(uuid.uuid5(uuid.NAMESPACE_URL, f"nrr-sandbox-hubspot/{seed}"))
        self.tokens = {self.token: frozenset(ALL_SCOPES)} if tokens is None else {
            t: frozenset(s) for t, s in tokens.items()}
        self.host = "127.0.0.1"
        self.hub_id, self.app_id, self.user_id = 24_000_000 + seed, 3_100_000 + seed, 61_000_000 + seed
        self._lock = threading.RLock()

    @property
    def credentials(self) -> dict[str, str]:
        """What a HubSpot connector needs: a private-app access token."""
        return {"access_token": self.token}

    def add_token(self, token: str, scopes: Iterable[str]) -> None:
        """Register another private-app token with only ``scopes`` (e.g. to test ``doctor``)."""
        with self._lock:
            self.tokens[token] = frozenset(scopes)

    def handle(self, req: Request) -> Response:
        route = self._route(req)
        if route is None:
            return err.not_found(f"No HubSpot endpoint {req.method} {req.path} in the sandbox")
        _, match, handler, rule, _ = route
        if rule == "public":  # token introspection: the token is the argument, not the credential
            with self._lock:
                return self._dispatch(req, match, handler, rule, "")
        token = self._token(req)
        if token is None:
            return err.unauthorized()
        with self._lock:
            refused, headers = self.limiter.admit(token) if self.limiter else (None, {})
            if refused is not None:
                return refused
            response = self._dispatch(req, match, handler, rule, token)
        if handler is not objs.search:  # HubSpot's search API sends no rate-limit headers
            response.headers.update(headers)
        return response

    def _dispatch(self, req: Request, match: re.Match, handler, rule: str, token: str) -> Response:
        parts = {k: unquote(v) for k, v in match.groupdict().items()}
        try:
            otype = resolve_type(parts["type"]) if "type" in parts else None
            missing = self._missing_scopes(token, rule, otype)
            if missing:
                return err.missing_scopes(missing)
            return handler(self, req, otype, parts)
        except BadRequest as exc:
            return err.invalid(str(exc))

    def _missing_scopes(self, token: str, rule: str, otype) -> tuple[str, ...]:
        """Scopes any one of which the call needs, or ``()`` when the token has one."""
        if rule == "public":
            return ()
        needed = {"read": lambda: (otype.read_scope,), "write": lambda: (otype.write_scope,),
                  "schema_read": lambda: otype.schema_read_scopes,
                  "schema_write": lambda: (otype.schema_write_scope,),
                  "owners": lambda: ("crm.objects.owners.read",)}[rule]()
        return () if self.tokens[token] & set(needed) else tuple(needed)

    def _route(self, req: Request):
        for method, pattern, handler, rule, key in _COMPILED:
            match = pattern.match(req.path)
            if match and method == req.method.upper():
                return method, match, handler, rule, key
        return None

    def _token(self, req: Request) -> str | None:
        auth = req.header("authorization") or ""
        token = auth[7:].strip() if auth.lower().startswith("bearer ") else ""
        return token if token in self.tokens else None

    def endpoint_key(self, req: Request) -> str:
        route = self._route(req)
        if route is None:
            return f"{req.method.upper()} {req.path}"
        method, match, _, _, key = route
        type_name = match.groupdict().get("type")
        if type_name:
            otype = TYPE_ALIASES.get(type_name.lower())
            key = key.replace("{type}", otype.name if otype else type_name)
        return f"{method} {key}"

    def fault_response(self, kind: str, req: Request) -> Response:
        """HubSpot's own answer for an injected fault."""
        limiter = self.limiter or RateLimiter(RateLimit(), self.clock)
        if kind == "rate_limit":
            return limiter.ten_secondly()
        if kind == "quota":
            return limiter.daily_exhausted()
        if kind == "session_expired":
            return err.expired()
        return err.server_error()
