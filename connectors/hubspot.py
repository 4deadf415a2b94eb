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

Contract lines are a company's, not a deal's: a downgrade deal holds the size of the cut
and a lost renewal ends a monthly contract, so lines are derived by :func:`deal_lines` from
all of a company's deals. A first (or ``--full``) pass sees every deal and derives all lines
with its last page — cut short, it starts again from the first page. An incremental pass
reads, for each page's companies, all their deals (companies → deals associations, then a
batch read of the deals not seen in this run; once per company per run).
"""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal, InvalidOperation
from typing import Any, Iterator

import urllib3
from hubspot import HubSpot
from hubspot.crm.associations.v4 import BatchInputPublicFetchAssociationsBatchRequest, PublicFetchAssociationsBatchRequest
from hubspot.crm.objects import BatchReadInputSimplePublicObjectId, PublicObjectSearchRequest

from connectors.errors import ConnectorError, TransientError, classify, require_credential
from connectors.identity import Resolver, domain_of
from connectors.pagination import AfterCursor, IdFloor, paginate
from connectors.ratelimit import RateLimiter
from connectors.retry import Guard, RetryPolicy
from connectors.settings import HubSpotSettings
from connectors.batch import Batch, Stream
from connectors.writeback import ValuesRead
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
BATCH_READ = 100       # objects per batch read


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
        token = require_credential(SOURCE, credentials, "access_token")
        self.settings, self.resolver, self.map = settings, resolver, settings.fields
        extra = {"host": settings.base_url.rstrip("/")} if settings.base_url else {}
        if settings.ca_bundle:
            extra["ssl_ca_cert"] = str(settings.ca_bundle)
        self.client = HubSpot(access_token=token, **extra)
        window = settings.rate_window_seconds
        limiter = RateLimiter.shared((SOURCE, settings.base_url), int(settings.rate_limit * window) if settings.rate_limit
                                     else None, window, clock=policy.monotonic, sleep=policy.sleep)
        self.guard = Guard(SOURCE, translate, policy, limiter)
        self.stats = self.guard.stats
        self._roles: dict[str, dict] = {}
        self._company_deals: dict[str, list[dict]] = {}  # this run's reads: a company spans pages
        self._seen_deals: dict[str, dict] = {}             # deals on this run's search pages
        self._deal_company: dict[str, str] = {}            # deal → company, on a first pass
        self._deals_first_pass = False
        self.values: ValuesRead | None = None   # write-back properties to read with the companies (set by the sync)
        self.values_read: int | None = None
        self._riding: ValuesRead | None = None

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
        extra = self._riding.fields() if stream == "companies" and self._riding else []
        return list(dict.fromkeys(["hs_lastmodifieddate", *mapped, *extra]))

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

    def _deals_of(self, companies: list[str]) -> dict[str, list[dict]]:
        """Every deal of each company (v4 association read, then batch reads of the deals):
        a company's contract lines are derived from all its deals at once. Read once per
        company per run — the deals of a company usually sit on neighbouring pages."""
        wanted = [c for c in companies if c not in self._company_deals]
        if wanted:
            self._company_deals.update(self._read_company_deals(wanted))
        return {c: self._company_deals.get(c, []) for c in companies}

    def _read_company_deals(self, companies: list[str]) -> dict[str, list[dict]]:
        body = BatchInputPublicFetchAssociationsBatchRequest(inputs=[PublicFetchAssociationsBatchRequest(id=c) for c in companies])
        api = self.client.crm.associations.v4.batch_api
        res = self.call("read companies → deals", lambda **kw: api.get_page("companies", "deals", body, **kw))
        owned = {str(r["from"]["id"]): [str(t["toObjectId"]) for t in r.get("to") or []] for r in res.get("results") or []}
        found = {d: self._seen_deals[d] for deals in owned.values() for d in deals if d in self._seen_deals}
        ids = sorted({d for deals in owned.values() for d in deals} - set(found))
        for i in range(0, len(ids), BATCH_READ):
            found.update(self._read_deals(ids[i:i + BATCH_READ]))
        return {c: [found[d] for d in deals if d in found] for c, deals in owned.items()}

    def _read_deals(self, ids: list[str]) -> dict[str, dict]:
        body = BatchReadInputSimplePublicObjectId(inputs=[{"id": i} for i in ids], properties=self._properties("deals"))
        api = self.client.crm.objects.batch_api
        res = self.call("read deals", lambda **kw: api.read("deals", body, **kw))
        return {str(r["id"]): r for r in res.get("results") or []}

    def _archived(self, stream: str, after: str | None) -> dict:
        api = self.client.crm.objects.basic_api
        args = {"limit": ARCHIVED_PAGE, "archived": True, "properties": ["hs_object_id"], **({"after": after} if after else {})}
        return self.call(f"list archived {stream}", lambda **kw: api.get_page(stream, **args, **kw))

    # -- streams ---------------------------------------------------------------------
    def read(self, stream: Stream, cursor: str | None) -> Iterator[Batch]:
        state = json.loads(cursor) if cursor else {"since": None, "floor": 0, "high": None}
        if stream.name == "deals" and state["since"] is None:
            # a first pass derives every company's lines from all deals at its end (see
            # _all_company_lines); one cut short starts again rather than lose its first pages
            state, self._deals_first_pass = {"since": None, "floor": 0, "high": None}, True
        since = state["since"] - self.settings.lookback_minutes * 60_000 if state["since"] is not None else None
        high = state.get("high")
        # the write-back's read rides along on a pass that starts here, no later than where it stopped
        ride = self.values if stream.name == "companies" and not state["floor"] else None
        self._riding = ride if ride and (since is None or since <= int(ride.since)) else None
        for page in paginate(lambda tok: self._search(stream.name, since, int(tok or state["floor"])), IdFloor()):
            batch = Batch(read=len(page.items))
            self._apply(stream.name, page.items, batch)
            stamps = [_ms(r["properties"].get(MODIFIED.get(stream.name, "hs_lastmodifieddate"))) for r in page.items]
            high = max([s for s in stamps if s is not None] + ([high] if high else []), default=None)
            floor = page.next_token
            batch.cursor = json.dumps({"since": state["since"], "floor": int(floor), "high": high} if floor
                                      else {"since": high if high is not None else state["since"], "floor": 0, "high": None})
            if self._riding is not None:
                self._ride_along(page.items, batch, high if floor is None else None)
            if floor is None and stream.name == "deals" and self._deals_first_pass:
                self._all_company_lines(batch)
            if floor is None and stream.name != "contacts":
                yield batch
                yield from self._deletes(stream.name)
                return
            yield batch

    def _ride_along(self, items: list[dict], batch: Batch, pass_high: int | None) -> None:
        """The write-back's current values of this page's companies; with the pass's
        largest stamp on its last page, the write-back's read cursor."""
        ride = self._riding
        batch.values = [ride.row(str(r["id"]), r["properties"]) for r in items]
        self.values_read = (self.values_read or 0) + len(batch.values)
        if pass_high is not None or not items:
            batch.values_cursor = ride.cursor(str(max(int(ride.since), pass_high or 0)))

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
            getattr(self, f"_{stream}")(rec["id"], self._mapped(stream, rec), owners.get(rec["id"]), batch)
        if stream == "deals":
            self._seen_deals.update((str(r["id"]), r) for r in items)
            if self._deals_first_pass:
                self._deal_company.update(owners)
                return
            for company, deals in self._deals_of(sorted(set(owners.values()))).items():
                self._company_lines(company, deals, batch)

    def _all_company_lines(self, batch: Batch) -> None:
        """End of a first pass: every deal has been seen, so every company's lines are derived
        here without further reads (and the lines of deals without a company are dropped)."""
        by_company: dict[str, list[dict]] = {}
        for deal_id, company in self._deal_company.items():
            by_company.setdefault(company, []).append(self._seen_deals[deal_id])
        batch.replace.setdefault("contracts", []).extend(self._seen_deals)
        for company, deals in sorted(by_company.items()):
            self._company_lines(company, deals, batch)

    def _mapped(self, stream: str, rec: dict) -> dict:
        return {col: rec["properties"].get(p) for col, p in getattr(self.map, MAPPING[stream]).items() if p}

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
        for kind in ("churn_reasons",) if self._deals_first_pass else ("contracts", "churn_reasons"):
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
        if outcome == "lost" and self.map.is_churn(v.get("type")) and _date(v.get("close_date")):
            batch.add("churn_reasons", {"source_id": rec_id, "account_id": account, "day": _date(v["close_date"]),
                                        "reason": self.map.churn_reason(v.get("loss_reason"))})
        # won deals become lines in _company_lines, from all the company's deals together

    def _company_lines(self, company: str, deals: list[dict], batch: Batch) -> None:
        """Contract lines of one company from all its deals (:func:`deal_lines`)."""
        account = self.resolver.account_for(SOURCE, company)
        facts = []
        for rec in deals:
            batch.replace.setdefault("contracts", []).append(str(rec["id"]))
            v = self._mapped("deals", rec)
            if v.get("pipeline") and self.map.pipelines and v["pipeline"] not in self.map.pipelines:
                continue
            facts.append({**v, "id": str(rec["id"]), "outcome": self.map.outcome(v.get("stage")),
                          "change": self.map.change(v.get("type")), "churn": self.map.is_churn(v.get("type"))})
        if not account:
            return
        rows, skipped = deal_lines(facts, account, self.map)
        batch.rows.setdefault("contracts", []).extend(rows)
        batch.skipped.extend(skipped)

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


# -- deals → contract lines (pure) ------------------------------------------------------

MRR_PLACES = Decimal("0.000001")


def _deal_value(v: dict, mapping: Any) -> tuple[Decimal | None, str]:
    """A won deal's monthly value: ``hs_mrr``, else ``hs_arr`` / 12, else from ``amount``
    (``amount_basis``). For a downgrade it is the size of the cut; for a monthly upsell
    the size of the increase (what HubSpot's deal amounts mean)."""
    amount, mrr, arr = _decimal(v.get("amount")), _decimal(v.get("mrr")), _decimal(v.get("arr"))
    value = mrr if mrr is not None else (arr / 12 if arr is not None else None)
    if value is None and amount is not None:
        value = mapping.deal_mrr(amount, _int(v.get("term_months")))
    if value is None:
        return None, "won deal has no amount"
    if value < 0:
        return None, f"negative amount {value}"
    return value, ""


def _paid_through(line: dict, day: dt.date) -> dt.date:
    """Last day of the month of service paid when a monthly line is not renewed on ``day``:
    the day before the first billing date (the line's start day of month) on or after it."""
    anchor = line["start_date"].day
    year, month = day.year, day.month
    while True:
        try:
            bill = dt.date(year, month, anchor)
        except ValueError:  # the 29th–31st in a short month: bills on its last day
            bill = dt.date(year, month % 12 + 1, 1) - dt.timedelta(days=1) if month < 12 else dt.date(year, 12, 31)
        if bill >= day:
            return bill - dt.timedelta(days=1)
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)


def deal_lines(deals: list[dict], account: str, mapping: Any) -> tuple[list[dict], list[tuple[str, str]]]:
    """Contract lines of one company from its deals, replayed in date order (every line mrr ≥ 0):

    * a won new/renewal/upsell deal opens a line at its value from ``contract_start_date``
      to ``contract_end_date`` (none: evergreen, a monthly contract);
    * a won **downgrade** (value = the cut) ends every line running the day before it
      starts and opens one line at (their MRR − the cut);
    * a lost renewal (a churn) ends the evergreen lines at the end of the month already
      paid: the day before their first billing day on or after the close date.

    Returns (rows, skipped (deal id, reason))."""
    lines: list[dict] = []
    skipped: list[tuple[str, str]] = []
    for deal in sorted(deals, key=_deal_order):
        if deal["outcome"] == "lost" and deal["churn"] and _date(deal.get("close_date")):
            day = _date(deal["close_date"])
            for line in lines:
                if line["end_date"] is None and line["start_date"] <= day:
                    line["end_date"] = _paid_through(line, day)
        elif deal["outcome"] == "won":
            row, why = _won_line(deal, lines, account, mapping)
            if row is not None:
                lines.append(row)
            elif why:
                skipped.append((deal["id"], why))
    return [ln for ln in lines if ln["end_date"] is None or ln["end_date"] >= ln["start_date"]], skipped


def _deal_order(deal: dict) -> tuple:
    day = _date(deal.get("start_date")) if deal["outcome"] == "won" else None
    return (day or _date(deal.get("close_date")) or dt.date.max, deal["outcome"] != "won", deal["id"])


def _won_line(deal: dict, lines: list[dict], account: str, mapping: Any) -> tuple[dict | None, str]:
    value, why = _deal_value(deal, mapping)
    start = _date(deal.get("start_date")) or _date(deal.get("close_date"))
    if value is None or start is None:
        return None, why or "won deal has no start date"
    currency = (deal.get("currency") or mapping.default_currency).upper()
    if deal["change"] == "downgrade":
        value, why = _after_cut(lines, start, value, currency)
        if value is None:
            return None, why
    end = _date(deal.get("end_date"))
    return {"source_id": deal["id"], "contract_id": deal["id"], "account_id": account, "product": deal.get("product"),
            "start_date": start, "end_date": end, "mrr": value.quantize(MRR_PLACES), "currency": currency,
            "status": "won", "auto_renew": end is None}, ""


def _after_cut(lines: list[dict], start: dt.date, cut: Decimal, currency: str) -> tuple[Decimal | None, str]:
    """New MRR after a downgrade of ``cut`` starting on ``start``; ends the lines it replaces."""
    eve = start - dt.timedelta(days=1)
    running = [ln for ln in lines if ln["start_date"] <= eve and (ln["end_date"] is None or ln["end_date"] >= eve)]
    if any(ln["currency"] != currency for ln in running):
        return None, "downgrade in another currency than the lines it changes"
    before = sum((ln["mrr"] for ln in running), Decimal(0))
    if cut > before:
        return None, f"downgrade of {cut.normalize():f} is larger than the MRR it changes ({before.normalize():f})"
    for line in running:
        line["end_date"] = eve
    return before - cut, ""


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
