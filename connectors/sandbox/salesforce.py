"""Salesforce REST API emulator (``SalesforceEmulator(book)``), served over HTTPS.

Endpoints (``vXX.X`` = 31.0 … 66.0; ``/services/data`` lists versions):

==========================================  =======================================
``POST /services/Soap/u/{v}``                SOAP login (simple-salesforce default)
``POST /services/oauth2/token``              password / client_credentials grants
``GET  …/query?q=`` ``…/queryAll?q=``        SOQL subset (``soql.py``), 2,000-row
                                             pages, ``Sforce-Query-Options: batchSize``
``GET  …/query/{locator}-{offset}``          next page (``nextRecordsUrl``)
``GET  …/sobjects``, ``…/{Object}/describe``  describeGlobal / describe
``GET|PATCH …/sobjects/{Object}/{id}``       read one record / update one record
``PATCH …/composite/sobjects``               ≤ 200 updates, ``allOrNone``
``POST …/tooling/sobjects/CustomField``      create a custom field (``sf_write.py``)
``GET  …/limits``                            ``DailyApiRequests``
==========================================  =======================================

Every ``/services/data`` response carries ``Sforce-Limit-Info: api-usage=N/M``;
errors are JSON lists of ``{message, errorCode}``: 401 ``INVALID_SESSION_ID``
(expired/unknown session), 403 ``REQUEST_LIMIT_EXCEEDED`` (daily allowance
spent: "TotalRequests Limit exceeded."; the server's ``rate_limit`` fault is
Salesforce's concurrency limit, also 403 ``REQUEST_LIMIT_EXCEEDED`` but with
"ConcurrentPerOrgLongTxn Limit exceeded."), 503 ``SERVER_UNAVAILABLE``.
The server's ``session_expired`` fault really ends every open session, so a
client holding a password logs in again and one holding only a session id
keeps failing until given a new one.

Objects and fields (all have ``Id``, ``IsDeleted``, ``CreatedDate``,
``LastModifiedDate``, ``SystemModstamp``; book column in brackets):

* **Account**: Name, AccountNumber [account_id], Type (Customer|Former Customer
  [status]), Industry, Segment__c (self-serve|smb|mid-market|enterprise),
  CSM_Name__c, CSM_Email__c [owner, owner_email], NumberOfEmployees,
  ICP_Tier__c, Licensed_Seats__c, Plan__c, Plan_Limit__c, Website
  (``https://www.{domain}``), Domain__c, BillingCountry, CurrencyIsoCode,
  Billing_Interval__c (month|year), Customer_Since__c, Churned_On__c,
  Champion__c and Executive_Sponsor__c (Contact ids).
* **Contact**: AccountId, FirstName, LastName, Name, Email, Title, Phone,
  Contact_Role__c (Champion|Executive Sponsor|User), Product_User_Id__c
  [user_id in usage files].
* **Opportunity**: AccountId, Name, StageName (Closed Won|Closed Lost), IsWon,
  IsClosed, Amount (annual value, major units), CloseDate, Type (New
  Business|Renewal|Upsell|Downgrade), Contract_Start__c, Contract_End__c
  (inclusive), Term_Months__c, Loss_Reason__c, Loss_Detail__c,
  CurrencyIsoCode, Owner_Name__c.
* **Contract** (one per contract line): AccountId, ContractNumber, Status
  (Activated|Expired), StartDate, EndDate (inclusive; null = evergreen),
  ContractTerm (months), Opportunity__c, Subscription_Id__c (Stripe sub id),
  Product__c, Plan__c, Price_Id__c, Change_Type__c
  (new|renewal|upsell|downgrade|reactivation), Billing_Interval__c,
  Quantity__c (seats), Unit_Price__c, Discount_Percent__c, Discount_End__c,
  List_MRR__c, MRR__c (after discount), CurrencyIsoCode, Auto_Renew__c.
* **Case**: AccountId, ContactId, CaseNumber, Subject, Description, Priority
  (Low|Medium|High|Critical), Status (New|Working|Closed), IsClosed, Type
  (Problem|Question|Billing|Feature Request|Outage), Origin, ClosedDate,
  CSAT__c; CreatedDate is when the case was opened.

Ids are derived from book keys (``sf_schema.id_for_key``).  NRR health fields
do not exist until created through the Tooling API.
"""

from __future__ import annotations

import datetime as dt
import re
import threading
from typing import Any, Callable

from connectors.sandbox.http import Request, Response
from connectors.sandbox.sf_auth import SalesforceAuth
from connectors.sandbox.sf_data import project
from connectors.sandbox.sf_query import QueryEngine, batch_size, parse_locator
from connectors.sandbox.sf_schema import KEY_PREFIXES, build_objects, encode, normalise_id
from connectors.sandbox.sf_write import Writer, WriteError
from connectors.sandbox.soql import SoqlError

Clock = Callable[[], dt.datetime]
MIN_VERSION, MAX_VERSION = 31.0, 66.0
_LOGIN_HOST = re.compile(r"^/[\w.-]+\.salesforce\.com(/services/.*)$")
_DATA = re.compile(r"^/services/data/v(\d+\.\d)(/.*)?$")
_SOAP = re.compile(r"^/services/Soap/u/(\d+\.\d)/?$")


def _errors(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> Response:
    return Response(status, [{"message": message, "errorCode": code}], dict(headers or {}))


class SalesforceEmulator:
    """In-memory Salesforce org seeded from the book; thread-safe."""

    name = "salesforce"
    tls = True

    def __init__(self, book: Any = None, *, clock: Clock | None = None,
                 records: dict[str, list[dict[str, Any]]] | None = None,
                 daily_api_limit: int = 100_000, session_ttl: dt.timedelta = dt.timedelta(hours=2),
                 login: dict[str, str] | None = None) -> None:
        self.clock = clock or _default_clock(book)
        self.daily_api_limit = daily_api_limit
        self.schemas = build_objects()
        rows = records if records is not None else (project(book) if book is not None else {})
        self.records = {obj: {r["Id"]: r for r in rows.get(obj, [])} for obj in self.schemas}
        self.auth = SalesforceAuth(self.clock, session_ttl, login)
        self.queries = QueryEngine(self.schemas, self.records)
        self.writer = Writer(self.schemas, self.records)
        self._lock = threading.RLock()
        self._usage_day: dt.date | None = None
        self._usage = 0

    # -- Emulator protocol --------------------------------------------------
    def credentials(self, base_url: str) -> dict[str, str]:
        return self.auth.credentials(base_url)

    def endpoint_key(self, req: Request) -> str:
        path = _login_path(req.path)
        data = _DATA.match(path)
        if data:
            rest = (data.group(2) or "").rstrip("/")
            rest = re.sub(r"/(query|queryAll)/[^/]+$", r"/\1/{locator}", rest)
            rest = re.sub(r"/sobjects/(\w+)/(?!describe$)\w{15,18}$", r"/sobjects/\1/{id}", rest)
            return f"{req.method} /services/data{rest}"
        if _SOAP.match(path):
            return f"{req.method} /services/Soap/u"
        return f"{req.method} {path}"

    def fault_response(self, kind: str, req: Request) -> Response:
        if kind == "session_expired":
            self.auth.expire_all()
            return _errors(401, "INVALID_SESSION_ID", "Session expired or invalid", self._limit_header())
        if kind == "quota":
            return _errors(403, "REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded.", self._limit_header())
        if kind == "rate_limit":
            return _errors(403, "REQUEST_LIMIT_EXCEEDED", "ConcurrentPerOrgLongTxn Limit exceeded.",
                           self._limit_header())
        return _errors(503, "SERVER_UNAVAILABLE", "Server is temporarily unavailable. Please try again later.",
                       self._limit_header())

    def handle(self, req: Request) -> Response:
        path = _login_path(req.path)
        base_url = f"https://{req.header('host', '127.0.0.1')}"
        if path == "/services/oauth2/token" and req.method == "POST":
            return self.auth.oauth_token(req, base_url)
        soap = _SOAP.match(path)
        if soap and req.method == "POST":
            return self.auth.soap_login(req, base_url, soap.group(1))
        if path.rstrip("/") == "/services/data":
            return Response(200, _versions())
        data = _DATA.match(path)
        if not data or not MIN_VERSION <= float(data.group(1)) <= MAX_VERSION:
            return _errors(404, "NOT_FOUND", "The requested resource does not exist")
        return self._data_call(req, data.group(1), data.group(2) or "/")

    # -- REST data API ----------------------------------------------------------
    def _data_call(self, req: Request, version: str, rest: str) -> Response:
        if not self.auth.valid(req.header("authorization")):
            return _errors(401, "INVALID_SESSION_ID", "Session expired or invalid", self._limit_header())
        with self._lock:
            if not self._spend_one():
                return _errors(403, "REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded.", self._limit_header())
            try:
                response = self._route(req, version, rest)
            except SoqlError as exc:
                response = _errors(400, exc.code, str(exc))
            except WriteError as exc:
                response = _errors(exc.status, exc.code, str(exc))
            except ValueError as exc:  # malformed JSON body
                response = _errors(400, "JSON_PARSER_ERROR", f"could not parse the request body: {exc}")
            response.headers.update(self._limit_header())
            return response

    def _route(self, req: Request, version: str, rest: str) -> Response:
        method, parts = req.method, [p for p in rest.split("/") if p]
        if method == "GET" and parts and parts[0] in ("query", "queryAll"):
            return self._query(req, version, parts)
        if parts == ["composite", "sobjects"] and method == "PATCH":
            return Response(200, self.writer.composite_update(req.json(), self.clock()))
        if parts == ["tooling", "sobjects", "CustomField"] and method == "POST":
            return Response(201, self.writer.create_custom_field(req.json()))
        if parts == ["limits"] and method == "GET":
            return Response(200, {"DailyApiRequests": {"Max": self.daily_api_limit,
                                                       "Remaining": self.daily_api_limit - self._usage}})
        if parts and parts[0] == "sobjects":
            return self._sobjects(req, version, parts[1:])
        return _errors(404, "NOT_FOUND", "The requested resource does not exist")

    def _query(self, req: Request, version: str, parts: list[str]) -> Response:
        if len(parts) == 2:
            try:
                locator, offset = parse_locator(parts[1])
            except ValueError:
                return _errors(400, "INVALID_QUERY_LOCATOR", "invalid query locator")
            return Response(200, self.queries.next_page(locator, offset))
        batch = batch_size(req.header("sforce-query-options"))
        result = self.queries.run(req.param("q") or "", parts[0] == "queryAll", batch, version,
                                  self.clock().date())
        return Response(200, result)

    def _sobjects(self, req: Request, version: str, parts: list[str]) -> Response:
        if not parts and req.method == "GET":
            return Response(200, {"encoding": "UTF-8", "maxBatchSize": 200,
                                  "sobjects": [self._describe(obj, version, False) for obj in self.schemas]})
        obj = parts[0] if parts else ""
        if obj not in self.schemas:
            return _errors(404, "NOT_FOUND", f"The requested resource does not exist: sObject type '{obj}'")
        if parts[1:] == ["describe"] and req.method == "GET":
            return Response(200, self._describe(obj, version, True))
        if len(parts) == 2 and req.method == "GET":
            return self._get_record(req, obj, parts[1], version)
        if len(parts) == 2 and req.method == "PATCH":
            return self._patch_record(req, obj, parts[1])
        return _errors(404, "NOT_FOUND", "The requested resource does not exist")

    def _describe(self, obj: str, version: str, with_fields: bool) -> dict[str, Any]:
        base = f"/services/data/v{version}/sobjects/{obj}"
        out: dict[str, Any] = {
            "name": obj, "label": obj, "custom": False, "keyPrefix": KEY_PREFIXES[obj], "queryable": True,
            "updateable": True, "createable": True, "deletable": True,
            "urls": {"sobject": base, "describe": f"{base}/describe", "rowTemplate": f"{base}/{{ID}}"},
        }
        if with_fields:
            out["fields"] = [f.describe() for f in self.schemas[obj].values()]
        return out

    def _get_record(self, req: Request, obj: str, rec_id: str, version: str) -> Response:
        row = self.records[obj].get(normalise_id(rec_id))
        if row is None or row["IsDeleted"]:
            return _errors(404, "NOT_FOUND", "The requested resource does not exist")
        wanted = req.param("fields")
        names = [n.strip() for n in wanted.split(",")] if wanted else list(self.schemas[obj])
        unknown = [n for n in names if n not in self.schemas[obj]]
        if unknown:
            return _errors(400, "INVALID_FIELD", f"No such column '{unknown[0]}' on sobject of type {obj}")
        return Response(200, self.queries.render(obj, row, [(n,) for n in names], version))

    def _patch_record(self, req: Request, obj: str, rec_id: str) -> Response:
        body = req.json()
        if not isinstance(body, dict):
            return _errors(400, "JSON_PARSER_ERROR", "expected a JSON object of field values")
        values, errors = self.writer.check(obj, rec_id, body)
        if errors:
            status = 404 if errors[0]["statusCode"] == "INVALID_CROSS_REFERENCE_KEY" else 400
            return Response(status, [{"message": e["message"], "errorCode": e["statusCode"], "fields": e["fields"]}
                                     for e in errors])
        self.writer.apply(obj, rec_id, values, self.clock())
        return Response(204)

    # -- daily allowance -------------------------------------------------------
    def _spend_one(self) -> bool:
        """Count one API call against today's allowance (resets at UTC midnight)."""
        today = self.clock().date()
        if today != self._usage_day:
            self._usage_day, self._usage = today, 0
        if self._usage >= self.daily_api_limit:
            return False
        self._usage += 1
        return True

    def _limit_header(self) -> dict[str, str]:
        return {"Sforce-Limit-Info": f"api-usage={self._usage}/{self.daily_api_limit}"}

    def record(self, obj: str, rec_id: str) -> dict[str, Any]:
        """Encoded copy of one stored record (for tests and the demo)."""
        with self._lock:
            return {k: encode(v) for k, v in self.records[obj][normalise_id(rec_id)].items()}


def _login_path(path: str) -> str:
    """``/login.salesforce.com/services/...`` (see ``sf_auth``) → ``/services/...``."""
    match = _LOGIN_HOST.match(path)
    return match.group(1) if match else path


def _versions() -> list[dict[str, str]]:
    first, last = int(MIN_VERSION), int(MAX_VERSION)
    return [{"version": f"{v}.0", "url": f"/services/data/v{v}.0", "label": f"API {v}.0"}
            for v in range(first, last + 1)]


def _default_clock(book: Any) -> Clock:
    """Wall-clock time shifted so "now" starts at the end of the book's ``as_of`` day.

    The book stamps records up to late on ``as_of``; starting after that keeps
    every write's ``SystemModstamp`` later than the data it changes.
    """
    now = lambda: dt.datetime.now(dt.timezone.utc)  # noqa: E731
    as_of = getattr(book, "as_of", None)
    if as_of is None:
        return now
    start = dt.datetime(as_of.year, as_of.month, as_of.day, tzinfo=dt.timezone.utc) + dt.timedelta(days=1)
    offset = start - now()
    return lambda: now() + offset
