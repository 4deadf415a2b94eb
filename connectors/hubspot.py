"""HubSpot: companies, deals (→ contract lines, churn reasons), tickets, buying roles.

==========  ===========  ===================================  =========================
stream      object type  writes                               mapped properties
==========  ===========  ===================================  =========================
companies   companies    accounts + identity links            ``fields.company``
deals       deals        contract lines, churn reasons        ``fields.deal``
tickets     tickets      tickets                              ``fields.ticket``
contacts    contacts     champion / sponsor on accounts       ``hs_buying_role``
==========  ===========  ===================================  =========================

Each stream is one CRM search per page (200 rows, the search maximum)::

    hs_lastmodifieddate >= since − lookback  AND  hs_object_id > floor   ORDER BY hs_object_id

Paging moves the *id floor* instead of the search ``after`` offset, so a window never
reaches HubSpot's 10,000-result ceiling, and the floor is a resumable cursor. When a pass
ends, ``since`` becomes the largest modification time seen (HubSpot's clock). Deals and
tickets need their company: one v4 association batch read per page. Archived objects are
not searchable, so each sync also lists ``archived=true`` and marks those deleted.
"""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal, InvalidOperation
from typing import Any, Iterator

import urllib3
from hubspot import HubSpot
from hubspot.crm.associations.v4 import BatchInputPublicFetchAssociationsBatchRequest, PublicFetchAssociationsBatchRequest
from hubspot.crm.objects import PublicObjectSearchRequest

from connectors.errors import ConnectorError, TransientError, classify
from connectors.identity import Resolver, domain_of
from connectors.pagination import AfterCursor, IdFloor, paginate
from connectors.ratelimit import RateLimiter
from connectors.retry import Guard, RetryPolicy
from connectors.settings import HubSpotSettings
from connectors.sync import Batch, Stream
from engine.store import utcnow

SOURCE = "hubspot"
STREAMS = (
    Stream("companies", ("accounts",)),
    Stream("deals", ("contracts", "churn_reasons"), stage=1),
    Stream("tickets", ("tickets",), stage=1),
    Stream("contacts", ("accounts",), stage=1),
)
MAPPING = {"companies": "company", "deals": "deal", "tickets": "ticket"}
MODIFIED = {"contacts": "lastmodifieddate"}   # contacts keep the pre-"hs_" name
PRIORITIES = {"LOW": "low", "MEDIUM": "normal", "HIGH": "high", "URGENT": "urgent"}
STAGES = {"1": "open", "2": "pending", "3": "pending", "4": "closed"}
ARCHIVED_PAGE = 100


def translate(exc: BaseException, what: str) -> ConnectorError | None:
    """Every hubspot-api-client module raises its own ``ApiException`` (status, headers, body)."""
    if any(cls.__name__ == "ApiException" for cls in type(exc).__mro__):  # incl. Unauthorized/NotFound/...
        status = getattr(exc, "status", 0) or 0
        if status == 0:
            return TransientError(SOURCE, f"connection failed during {what}")
        return classify(SOURCE, status, dict(getattr(exc, "headers", None) or {}), getattr(exc, "body", None),
                        what=what, now=utcnow())
    if isinstance(exc, (urllib3.exceptions.HTTPError, ConnectionError, TimeoutError, ValueError)):
        return TransientError(SOURCE, f"{type(exc).__name__} during {what}")
    return None


def _ms(value: Any) -> int | None:
    """HubSpot instants: ISO-8601 strings or epoch milliseconds."""
    if value in (None, ""):
        return None
    if str(value).isdigit():
        return int(value)
    parsed = dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return int(parsed.replace(tzinfo=parsed.tzinfo or dt.timezone.utc).timestamp() * 1000)


def _instant(value: Any) -> dt.datetime | None:
    ms = _ms(value)
    return dt.datetime.fromtimestamp(ms / 1000, dt.timezone.utc).replace(tzinfo=None) if ms is not None else None


def _date(value: Any) -> dt.date | None:
    moment = _instant(value)
    return moment.date() if moment else None


def _decimal(value: Any) -> Decimal | None:
    try:
        return Decimal(str(value)) if value not in (None, "") else None
    except InvalidOperation:
        return None


def _int(value: Any) -> int | None:
    number = _decimal(value)
    return int(number) if number is not None else None


class HubSpotSource:
    name = SOURCE
    streams = STREAMS

    def __init__(self, settings: HubSpotSettings, credentials: dict, resolver: Resolver, policy: RetryPolicy):
        token = credentials.get("access_token")
        if not token:
            raise ConnectorError(SOURCE, "no access_token", fix="Add access_token under [hubspot] in credentials.toml")
        self.settings, self.resolver, self.map = settings, resolver, settings.fields
        extra = {"host": settings.base_url.rstrip("/")} if settings.base_url else {}
        if settings.ca_bundle:
            extra["ssl_ca_cert"] = str(settings.ca_bundle)
        self.client = HubSpot(access_token=token, **extra)
        window = settings.rate_window_seconds
        limiter = RateLimiter(int(settings.rate_limit * window), window, clock=policy.monotonic, sleep=policy.sleep) \
            if settings.rate_limit else RateLimiter(None)
        self.guard = Guard(SOURCE, translate, policy, limiter)
        self.stats = self.guard.stats
        self._roles: dict[str, dict] = {}

    # -- calls ---------------------------------------------------------------------
    def call(self, what: str, fn) -> dict:
        """Run one client call under the policy and return the wire JSON. The generated
        client would turn a truncated body into an empty model (an empty page that looks
        like the end of the data), so we parse the raw body ourselves and retry on garbage."""
        def once() -> dict:
            raw = fn(_preload_content=False, _request_timeout=self.settings.timeout_seconds)
            try:
                body = json.loads(raw.data)
            except ValueError:
                raise TransientError(SOURCE, f"unreadable response during {what}") from None
            if not isinstance(body, dict):
                raise TransientError(SOURCE, f"unexpected response during {what}")
            return body
        return self.guard.call(what, once)

    def _properties(self, stream: str) -> list[str]:
        if stream == "contacts":
            return ["email", "hs_buying_role", "associatedcompanyid", "lastmodifieddate"]
        mapped = [p for p in getattr(self.map, MAPPING[stream]).values() if p]
        return list(dict.fromkeys(["hs_lastmodifieddate", *mapped]))

    def _search(self, stream: str, since: int | None, floor: int) -> dict:
        filters = [{"propertyName": "hs_object_id", "operator": "GT", "value": str(floor)}]
        if since is not None:
            filters.append({"propertyName": MODIFIED.get(stream, "hs_lastmodifieddate"), "operator": "GTE", "value": str(since)})
        if stream == "contacts":
            filters.append({"propertyName": "hs_buying_role", "operator": "IN",
                            "values": [self.map.champion_role, self.map.sponsor_role]})
        body = PublicObjectSearchRequest(filter_groups=[{"filters": filters}], properties=self._properties(stream),
                                         sorts=[{"propertyName": "hs_object_id", "direction": "ASCENDING"}],
                                         limit=self.settings.page_size)
        api = self.client.crm.objects.search_api
        return self.call(f"search {stream}", lambda **kw: api.do_search(stream, body, **kw))

    def _companies_of(self, stream: str, ids: list[str]) -> dict[str, str]:
        """object id → associated company id (the first, HubSpot lists the primary first)."""
        if not ids:
            return {}
        body = BatchInputPublicFetchAssociationsBatchRequest(inputs=[PublicFetchAssociationsBatchRequest(id=i) for i in ids])
        api = self.client.crm.associations.v4.batch_api
        res = self.call(f"read {stream} → companies", lambda **kw: api.get_page(stream, "companies", body, **kw))
        return {str(r["from"]["id"]): str(r["to"][0]["toObjectId"]) for r in res.get("results") or [] if r.get("to")}

    def _archived(self, stream: str, after: str | None) -> dict:
        api = self.client.crm.objects.basic_api
        args = {"limit": ARCHIVED_PAGE, "archived": True, "properties": ["hs_object_id"], **({"after": after} if after else {})}
        return self.call(f"list archived {stream}", lambda **kw: api.get_page(stream, **args, **kw))

    # -- streams ---------------------------------------------------------------------
    def read(self, stream: Stream, cursor: str | None) -> Iterator[Batch]:
        state = json.loads(cursor) if cursor else {"since": None, "floor": 0, "high": None}
        since = state["since"] - self.settings.lookback_minutes * 60_000 if state["since"] is not None else None
        high = state.get("high")
        for page in paginate(lambda tok: self._search(stream.name, since, int(tok or state["floor"])), IdFloor()):
            batch = Batch(read=len(page.items))
            self._apply(stream.name, page.items, batch)
            stamps = [_ms(r["properties"].get(MODIFIED.get(stream.name, "hs_lastmodifieddate"))) for r in page.items]
            high = max([s for s in stamps if s is not None] + ([high] if high else []), default=None)
            floor = page.next_token
            batch.cursor = json.dumps({"since": state["since"], "floor": int(floor), "high": high} if floor
                                      else {"since": high if high is not None else state["since"], "floor": 0, "high": None})
            if floor is None and stream.name != "contacts":
                yield batch
                yield from self._deletes(stream.name)
                return
            yield batch

    def _deletes(self, stream: str) -> Iterator[Batch]:
        kinds = {"companies": ["accounts"], "deals": ["contracts", "churn_reasons"], "tickets": ["tickets"]}[stream]
        for page in paginate(lambda tok: self._archived(stream, tok), AfterCursor()):
            batch = Batch(read=len(page.items))
            for obj in page.items:
                for kind in kinds:
                    batch.delete(kind, str(obj["id"]))
            yield batch

    # -- records -----------------------------------------------------------------------
    def _apply(self, stream: str, items: list[dict], batch: Batch) -> None:
        if stream == "contacts":
            self._contacts(items, batch)
            return
        owners = self._companies_of(stream, [r["id"] for r in items]) if stream != "companies" else {}
        self._roles = _stored_roles(self.resolver, [r["id"] for r in items]) if stream == "companies" else {}
        for rec in items:
            props = {col: rec["properties"].get(p) for col, p in getattr(self.map, MAPPING[stream]).items() if p}
            getattr(self, f"_{stream}")(rec["id"], props, owners.get(rec["id"]), batch)

    def _companies(self, rec_id: str, v: dict, _: Any, batch: Batch) -> None:
        if not v.get("name"):
            batch.skip(rec_id, "company has no name")
            return
        if self.resolver.primary == SOURCE:
            link = self.resolver.primary_account(SOURCE, rec_id, v.get("account_id"))
        else:
            link = self.resolver.by_domain(SOURCE, rec_id, v.get("domain"))
        batch.links.append(link)
        roles = self._roles.get(rec_id, {})
        batch.add("accounts", {
            "source_id": rec_id, "account_id": link.resolved, "name": v["name"], "domain": domain_of(v.get("domain")),
            "segment": self.map.segment(v.get("segment")), "industry": v.get("industry"), "owner": v.get("owner"),
            "customer_since": _date(v.get("customer_since")), "icp_tier": v.get("icp_tier"),
            "licensed_seats": _int(v.get("licensed_seats")), "plan": v.get("plan"), "plan_limit": _int(v.get("plan_limit")),
            "employees": _int(v.get("employees")), "crm_id": rec_id, **roles})

    def _deals(self, rec_id: str, v: dict, company: str | None, batch: Batch) -> None:
        for kind in ("contracts", "churn_reasons"):
            batch.replace.setdefault(kind, []).append(rec_id)
        if v.get("pipeline") and self.map.pipelines and v["pipeline"] not in self.map.pipelines:
            return
        outcome = self.map.outcome(v.get("stage"))
        if outcome is None:
            return
        account = self.resolver.account_for(SOURCE, company)
        if not account:
            batch.skip(rec_id, "deal has no company")
            return
        if outcome == "lost":
            if self.map.is_churn(v.get("type")) and _date(v.get("close_date")):
                batch.add("churn_reasons", {"source_id": rec_id, "account_id": account, "day": _date(v["close_date"]),
                                            "reason": self.map.churn_reason(v.get("loss_reason"))})
            return
        self._deal_line(rec_id, v, account, batch)

    def _deal_line(self, rec_id: str, v: dict, account: str, batch: Batch) -> None:
        amount, mrr, arr = _decimal(v.get("amount")), _decimal(v.get("mrr")), _decimal(v.get("arr"))
        mrr = mrr if mrr is not None else (arr / 12 if arr is not None else None)  # HubSpot's own MRR/ARR first
        start = _date(v.get("start_date")) or _date(v.get("close_date"))
        if (amount is None and mrr is None) or start is None:
            batch.skip(rec_id, "won deal has no amount or start date")
            return
        if (mrr if mrr is not None else amount) < 0:
            batch.skip(rec_id, f"negative amount {mrr if mrr is not None else amount}")
            return
        value = mrr if mrr is not None else self.map.deal_mrr(amount, _int(v.get("term_months")))
        sign = -1 if self.map.change(v.get("type")) == "downgrade" else 1
        end = _date(v.get("end_date"))
        batch.add("contracts", {"source_id": rec_id, "contract_id": rec_id, "account_id": account,
                                "product": v.get("product"), "start_date": start, "end_date": end,
                                "mrr": (value * sign).quantize(Decimal("0.000001")),
                                "currency": (v.get("currency") or self.map.default_currency).upper(),
                                "status": "won", "auto_renew": end is None})

    def _tickets(self, rec_id: str, v: dict, company: str | None, batch: Batch) -> None:
        account = self.resolver.account_for(SOURCE, company)
        if not account:
            batch.skip(rec_id, "ticket has no company")
            return
        batch.add("tickets", {
            "source_id": rec_id, "ticket_id": rec_id, "account_id": account,
            "created_at": _instant(v.get("created_at")), "closed_at": _instant(v.get("closed_at")),
            "priority": PRIORITIES.get(str(v.get("priority") or ""), v.get("priority")),
            "status": STAGES.get(str(v.get("status") or ""), v.get("status")),
            "subject": v.get("subject"), "body": v.get("body"), "csat": float(v["csat"]) if v.get("csat") else None})

    def _contacts(self, items: list[dict], batch: Batch) -> None:
        """Buying roles → the company's account row (champion/sponsor user id = email)."""
        roles: dict[str, dict[str, str]] = {}
        for rec in items:
            p = rec["properties"]
            column = {self.map.champion_role: "champion_user_id", self.map.sponsor_role: "sponsor_user_id"}.get(p.get("hs_buying_role"))
            if column and p.get("associatedcompanyid") and p.get("email"):
                roles.setdefault(str(p["associatedcompanyid"]), {})[column] = p["email"].lower()
        batch.patches["accounts"] = roles

    def close(self) -> None:
        pass


def _stored_roles(resolver: Resolver, company_ids: list[str]) -> dict[str, dict]:
    """Champion/sponsor come from the contacts stream; keep them when a company changes."""
    if not company_ids:
        return {}
    marks = ", ".join("?" * len(company_ids))
    rows = resolver.query(f"SELECT source_id, champion_user_id, sponsor_user_id FROM accounts WHERE source = ? "
                          f"AND NOT deleted AND source_id IN ({marks})", [SOURCE, *company_ids])
    return {r.pop("source_id"): r for r in rows}


def open_source(settings: HubSpotSettings, credentials: dict, resolver: Resolver, policy: RetryPolicy) -> HubSpotSource:
    return HubSpotSource(settings, credentials, resolver, policy)


_IdFloor = IdFloor  # the write-back's health-field reader (connectors/crm_setup.py) imports this name
