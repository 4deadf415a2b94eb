"""Salesforce: accounts, contract lines, opportunities (→ churn reasons) and cases.

=============  ===========  ===================================  ===========================
stream         object       writes                               mapped fields (settings)
=============  ===========  ===================================  ===========================
accounts       Account      accounts + identity links            ``fields.account``
contracts      Contract     contract lines (line_source=contracts) ``fields.contract``
opportunities  Opportunity  churn reasons (+ lines when           ``fields.opportunity``
                            line_source=opportunities)
cases          Case         tickets                              ``fields.case``
=============  ===========  ===================================  ===========================

Every stream is one SOQL query through ``queryAll`` (so deleted rows come back with
``IsDeleted = true`` and are marked deleted) ordered by ``SystemModstamp, Id``::

    SELECT <fields> FROM <Object> WHERE SystemModstamp >= <cursor − lookback> ORDER BY SystemModstamp, Id

The cursor after each 2,000-row page is the largest ``SystemModstamp`` seen — a server
timestamp, so it can never run ahead of the sync's start on the server's clock, whatever
our clock says. ``>=`` plus the lookback re-reads the boundary rows; upserts make that a no-op.

Quirks: the concurrency limit and the daily allowance are both 403
``REQUEST_LIMIT_EXCEEDED`` and only the message tells them apart; an expired session is
401 ``INVALID_SESSION_ID`` (log in again once when we hold a password).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from decimal import Decimal, InvalidOperation
from typing import Any, Iterator

import requests
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import SalesforceAuthenticationFailed, SalesforceError

from connectors.errors import AuthFailed, ConnectorError, MissingField, RateLimited, TransientError, classify
from connectors.identity import Resolver, domain_of
from connectors.pagination import NextUrl, paginate
from connectors.ratelimit import RateLimiter
from connectors.retry import Guard, RetryPolicy
from connectors.settings import SalesforceSettings
from connectors.batch import Batch, Stream
from connectors.sync import TrustedSession
from connectors.writeback import ValuesRead
from engine.store import utcnow

log = logging.getLogger("nrr.sync")

SOURCE = "salesforce"
STREAMS = {
    "accounts": (Stream("accounts", ("accounts",)), "Account", "account"),
    "contracts": (Stream("contracts", ("contracts",), stage=1), "Contract", "contract"),
    "opportunities": (Stream("opportunities", ("contracts", "churn_reasons"), stage=1), "Opportunity", "opportunity"),
    "cases": (Stream("cases", ("tickets",), stage=1), "Case", "case"),
}
SYSTEM_FIELDS = ("Id", "IsDeleted", "SystemModstamp")
PRIORITIES = {"low": "low", "medium": "normal", "high": "high", "critical": "urgent", "urgent": "urgent"}
STATUSES = {"new": "open", "working": "pending", "escalated": "pending", "closed": "closed"}


def translate(exc: BaseException, what: str) -> ConnectorError | None:
    if isinstance(exc, SalesforceAuthenticationFailed):
        return AuthFailed(SOURCE, f"login refused during {what}",
                          fix="Check username, password and security_token under [salesforce] in credentials.toml")
    if isinstance(exc, SalesforceError):
        text = json.dumps(exc.content) if not isinstance(exc.content, (str, bytes)) else str(exc.content)
        if exc.status == 403 and "REQUEST_LIMIT_EXCEEDED" in text and "TotalRequests" not in text:
            return RateLimited(SOURCE, f"concurrent request limit during {what}", status=403)
        return classify(SOURCE, exc.status, {}, exc.content, what=what, now=utcnow())
    if isinstance(exc, (requests.RequestException, ValueError)):  # resets, timeouts, truncated JSON
        return TransientError(SOURCE, f"{type(exc).__name__} during {what}")
    return None


def _path(record: dict, field: str | None) -> Any:
    """``Champion__r.Email`` → record["Champion__r"]["Email"] (None along a null relation)."""
    value: Any = record
    for part in (field or "").split("."):
        if not isinstance(value, dict) or not field:
            return None
        value = value.get(part)
    return value


def _date(value: Any) -> dt.date | None:
    return dt.date.fromisoformat(str(value)[:10]) if value else None


def _instant(value: Any) -> dt.datetime | None:
    """Salesforce datetimes look like ``2026-11-15T12:00:00.000+0000``; store naive UTC."""
    if not value:
        return None
    parsed = dt.datetime.strptime(str(value)[:19], "%Y-%m-%dT%H:%M:%S")
    offset = str(value)[-5:]
    if offset[0] in "+-" and offset != "+0000":
        sign = 1 if offset[0] == "+" else -1
        parsed -= sign * dt.timedelta(hours=int(offset[1:3]), minutes=int(offset[3:]))
    return parsed


def _money(value: Any) -> Decimal | None:
    try:
        return Decimal(str(value)) if value not in (None, "") else None
    except InvalidOperation:
        return None


def _int(value: Any) -> int | None:
    return int(float(value)) if value not in (None, "") else None


class SalesforceSource:
    name = SOURCE

    def __init__(self, settings: SalesforceSettings, credentials: dict, resolver: Resolver, policy: RetryPolicy):
        self.settings, self.creds, self.resolver = settings, credentials, resolver
        self.map = settings.fields
        wanted = [k for k in STREAMS if not (k == "contracts" and self.map.line_source != "contracts")]
        self.streams = tuple(STREAMS[k][0] for k in wanted)
        self.session = TrustedSession(settings.ca_bundle, timeout=settings.timeout_seconds)
        can_login = bool(credentials.get("password") or credentials.get("consumer_secret"))
        limiter = RateLimiter.per_second(settings.rate_limit, account=(SOURCE, settings.base_url),
                                         clock=policy.monotonic, sleep=policy.sleep)
        self.guard = Guard(SOURCE, translate, policy, limiter, reauth=self._login if can_login else None)
        self.stats = self.guard.stats
        self.sf: Salesforce | None = None
        self.values: ValuesRead | None = None   # write-back fields to read with the accounts (set by the sync)
        self.values_read: int | None = None
        self.guard.call("login", self._login)

    def _login(self) -> None:
        c, v = self.creds, self.settings.api_version
        common = {"session": self.session, "version": v, "domain": c.get("domain") or "login"}
        if c.get("username") and c.get("password"):
            self.sf = Salesforce(username=c["username"], password=c["password"],
                                 security_token=c.get("security_token") or "", **common)
        elif c.get("consumer_key") and c.get("consumer_secret"):
            self.sf = Salesforce(consumer_key=c["consumer_key"], consumer_secret=c["consumer_secret"], **common)
        elif c.get("session_id") and c.get("instance_url"):
            self.sf = Salesforce(session_id=c["session_id"], instance_url=c["instance_url"],
                                 session=self.session, version=v)
        else:
            raise AuthFailed(SOURCE, "no usable credentials",
                             fix="Set username, password and security_token (or consumer_key and consumer_secret) "
                                 "under [salesforce] in credentials.toml")

    # -- reading -------------------------------------------------------------------
    def _start(self, since: str | None) -> dt.datetime | None:
        return dt.datetime.fromisoformat(since) - dt.timedelta(minutes=self.settings.lookback_minutes) if since else None

    def soql(self, stream: str, since: str | None, extra: list[str] = ()) -> str:
        _, obj, group = STREAMS[stream]
        mapped = [f for f in getattr(self.map, group).values() if f]
        fields = list(dict.fromkeys([*SYSTEM_FIELDS, *([] if stream == "accounts" else ["AccountId"]), *mapped,
                                     *extra]))
        start = self._start(since)
        where = f" WHERE SystemModstamp >= {start:%Y-%m-%dT%H:%M:%S}Z" if start else ""
        return f"SELECT {', '.join(fields)} FROM {obj}{where} ORDER BY SystemModstamp, Id"

    def _riding(self, stream: str, since: str | None) -> ValuesRead | None:
        """The write-back read to take along: accounts only, and only when this read
        starts no later than where the write-back's last read stopped."""
        start, ride = self._start(since), self.values
        if stream != "accounts" or ride is None:
            return None
        return ride if start is None or start <= dt.datetime.fromisoformat(ride.since.rstrip("Z")) else None

    def _fetch(self, stream: str, since: str | None, token: str | None, ride: list) -> dict:
        what = f"query {STREAMS[stream][1]}"
        if token is not None:
            return self.guard.call(f"{what} (next page)",
                                   lambda: self.sf.query_more(token, identifier_is_url=True, include_deleted=True))
        if ride[0] is not None:
            query = self.soql(stream, since, ride[0].fields())
            try:
                return self.guard.call(what, lambda: self.sf.query(query, include_deleted=True))
            except MissingField as exc:   # a write-back field gone from the org: sync without; the write-back says why
                log.warning("salesforce: reading accounts without the write-back fields: %s", exc)
                ride[0] = None
        query = self.soql(stream, since)
        return self.guard.call(what, lambda: self.sf.query(query, include_deleted=True))

    def read(self, stream: Stream, cursor: str | None) -> Iterator[Batch]:
        since = json.loads(cursor)["modstamp"] if cursor else None
        high = since
        apply = getattr(self, f"_{stream.name}")
        ride, riding = [self._riding(stream.name, since)], 0
        for page in paginate(lambda tok: self._fetch(stream.name, since, tok, ride), NextUrl()):
            batch = Batch(read=len(page.items), pass_start=page.token is None and since is None,
                          last=page.next_token is None)
            for rec in page.items:
                apply(rec, batch)
                stamp = _instant(rec.get("SystemModstamp"))
                high = max(high or "", stamp.isoformat()) if stamp else high
            batch.cursor = json.dumps({"modstamp": high}) if high else None
            if ride[0] is not None:
                batch.values = [ride[0].row(r["Id"], r) for r in page.items if not r.get("IsDeleted")]
                riding += len(batch.values)
                if batch.last:
                    batch.values_cursor = ride[0].cursor(max(ride[0].since, f"{high[:19]}Z") if high else None)
                    self.values_read = riding
            yield batch

    # -- records -------------------------------------------------------------------
    def _values(self, rec: dict, group: str) -> dict[str, Any]:
        return {col: _path(rec, f) for col, f in getattr(self.map, group).items()}

    def _accounts(self, rec: dict, batch: Batch) -> None:
        if rec.get("IsDeleted"):
            batch.delete("accounts", rec["Id"])
            return
        v = self._values(rec, "account")
        if not v.get("name"):
            batch.skip(rec["Id"], "account has no name")
            return
        if self.resolver.primary == SOURCE:
            link = self.resolver.primary_account(SOURCE, rec["Id"], v.get("account_id"))
        else:
            link = self.resolver.by_domain(SOURCE, rec["Id"], v.get("domain"))
        batch.links.append(link)
        batch.add("accounts", {
            "source_id": rec["Id"], "account_id": link.resolved, "name": v["name"], "domain": domain_of(v.get("domain")),
            "segment": self.map.segment(v.get("segment")), "industry": v.get("industry"), "owner": v.get("owner"),
            "customer_since": _date(v.get("customer_since")), "icp_tier": v.get("icp_tier"),
            "licensed_seats": _int(v.get("licensed_seats")), "plan": v.get("plan"), "plan_limit": _int(v.get("plan_limit")),
            "employees": _int(v.get("employees")), "champion_user_id": v.get("champion_user_id"),
            "sponsor_user_id": v.get("sponsor_user_id"), "crm_id": rec["Id"]})

    def _account_of(self, rec: dict, batch: Batch) -> str | None:
        account = self.resolver.account_for(SOURCE, rec.get("AccountId"))
        if not account:
            batch.skip(rec["Id"], f"{rec.get('attributes', {}).get('type', 'record')} has no account")
        return account

    def _contracts(self, rec: dict, batch: Batch) -> None:
        batch.replace.setdefault("contracts", []).append(rec["Id"])
        if rec.get("IsDeleted"):
            return
        v = self._values(rec, "contract")
        account = self._account_of(rec, batch)
        mrr, full = _money(v.get("mrr")), _money(v.get("list_mrr"))
        start, end, disc_end = _date(v.get("start_date")), _date(v.get("end_date")), _date(v.get("discount_end"))
        if not account:
            return
        if mrr is None or start is None:
            batch.skip(rec["Id"], "contract has no MRR or start date (check fields.contract mapping)")
            return
        if mrr < 0:
            batch.skip(rec["Id"], f"negative MRR {mrr}")
            return
        base = {"account_id": account, "product": v.get("product"), "currency": v.get("currency") or self.map.default_currency,
                "quantity": _money(v.get("quantity")), "status": v.get("status"), "auto_renew": bool(v.get("auto_renew"))}
        pieces = [(rec["Id"], start, end, mrr)]
        if disc_end and full is not None and full != mrr and start <= disc_end and (end is None or disc_end < end):
            after = disc_end + dt.timedelta(days=1)  # the discount's last day is inclusive
            pieces = [(rec["Id"], start, disc_end, mrr), (f"{rec['Id']}@{after.isoformat()}", after, end, full)]
        for line_id, lo, hi, value in pieces:
            batch.add("contracts", {**base, "source_id": line_id, "contract_id": line_id, "start_date": lo,
                                    "end_date": hi, "mrr": value})

    def _opportunities(self, rec: dict, batch: Batch) -> None:
        batch.replace.setdefault("churn_reasons", []).append(rec["Id"])
        if self.map.line_source == "opportunities":
            batch.replace.setdefault("contracts", []).append(rec["Id"])
        if rec.get("IsDeleted"):
            return
        v = self._values(rec, "opportunity")
        outcome = self.map.outcome(v.get("stage"))
        if outcome is None:
            return
        account = self._account_of(rec, batch)
        if not account:
            return
        if outcome == "lost" and self.map.is_churn(v.get("type")):
            day = _date(v.get("close_date"))
            if day is None:
                batch.skip(rec["Id"], "lost opportunity has no close date")
                return
            batch.add("churn_reasons", {"source_id": rec["Id"], "account_id": account, "day": day,
                                        "reason": self.map.churn_reason(v.get("loss_reason"))})
        elif outcome == "won" and self.map.line_source == "opportunities":
            self._opportunity_line(rec, v, account, batch)

    def _opportunity_line(self, rec: dict, v: dict, account: str, batch: Batch) -> None:
        amount, start = _money(v.get("amount")), _date(v.get("start_date")) or _date(v.get("close_date"))
        if amount is None or start is None:
            batch.skip(rec["Id"], "won opportunity has no amount or start date")
            return
        if amount < 0:
            batch.skip(rec["Id"], f"negative amount {amount}")
            return
        term = _int(v.get("term_months")) or None
        end = _date(v.get("end_date"))
        mrr = self.map.deal_mrr(amount, term) * (-1 if self.map.change(v.get("type")) == "downgrade" else 1)
        batch.add("contracts", {"source_id": rec["Id"], "contract_id": rec["Id"], "account_id": account,
                                "product": v.get("product"), "start_date": start, "end_date": end,
                                "mrr": mrr.quantize(Decimal("0.000001")),
                                "currency": v.get("currency") or self.map.default_currency, "status": "won",
                                "auto_renew": end is None})

    def _cases(self, rec: dict, batch: Batch) -> None:
        if rec.get("IsDeleted"):
            batch.delete("tickets", rec["Id"])
            return
        v = self._values(rec, "case")
        account = self._account_of(rec, batch)
        if not account:
            return
        batch.add("tickets", {
            "source_id": rec["Id"], "ticket_id": rec["Id"], "account_id": account,
            "created_at": _instant(v.get("created_at")), "closed_at": _instant(v.get("closed_at")),
            "priority": PRIORITIES.get(str(v.get("priority") or "").lower(), v.get("priority")),
            "status": STATUSES.get(str(v.get("status") or "").lower(), v.get("status")),
            "subject": v.get("subject"), "body": v.get("body"),
            "csat": float(v["csat"]) if v.get("csat") not in (None, "") else None})

    def close(self) -> None:
        self.session.close()


def open_source(settings: SalesforceSettings, credentials: dict, resolver: Resolver, policy: RetryPolicy) -> SalesforceSource:
    return SalesforceSource(settings, credentials, resolver, policy)
