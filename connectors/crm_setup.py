"""The CRM side of write-back: the health fields in Salesforce and HubSpot.

A :class:`CrmClient` per vendor, built on the sync connectors' own client construction
(login, TLS, retry policy and rate limiter), knows four things:

=============  =========================================  ===========================================
operation      Salesforce (Account)                       HubSpot (companies)
=============  =========================================  ===========================================
``fields``     ``describe`` → name, type, length,         properties API → name, type,
               ``updateable``                             ``modificationMetadata.readOnlyValue``
``create``     Tooling API ``CustomField`` (needs          property group ``nrr_engine`` + property
               Customize Application), else the exact      (409 = already there: fine)
               fields to add are printed
``read``       SOQL ``WHERE SystemModstamp >= since``      search ``hs_lastmodifieddate >= since``,
                                                          paged by id floor
``write``      ``PATCH composite/sobjects`` ≤ 200,         ``batch/update`` ≤ 100; a 207 lists the
               ``allOrNone=false``; per-record success     failed ids in ``errors[].context.ids``
=============  =========================================  ===========================================

:func:`setup` (``nrr crm setup``) creates what is missing and is idempotent: a second
call finds everything and creates nothing.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from typing import Any, Iterator

from connectors.errors import InvalidRequest, MissingScope
from connectors.pagination import NextUrl, paginate
from connectors.retry import RetryPolicy
from connectors.settings import source_settings
from connectors.writeback_settings import TargetSettings, WritebackSettings
from engine.account_fields import FIELDS

#: canonical kind → (Salesforce Tooling type, metadata) and (HubSpot type, fieldType).
SF_TYPES = {"number": ("Number", {"precision": 18, "scale": 1}), "date": ("Date", {}),
            "datetime": ("DateTime", {}), "text": ("Text", {})}
HS_TYPES = {"number": ("number", "number"), "text": ("string", "text"), "date": ("date", "date"),
            "datetime": ("datetime", "date")}
COUNTS = ("open_risk_triggers", "open_expansion_triggers")
#: Field types that can hold each kind — so a typo such as ``health_score = "Name"`` is refused
#: instead of overwriting account names with scores. Picklists/enumerations may hold bands.
ACCEPTS = {
    "salesforce": {"number": {"double", "percent", "currency", "int"}, "date": {"date"}, "datetime": {"datetime"},
                   "text": {"string", "textarea", "picklist"}},
    "hubspot": {"number": {"number"}, "date": {"date"}, "datetime": {"datetime"}, "text": {"string", "enumeration"}},
}


@dataclass(frozen=True)
class FieldInfo:
    name: str
    type: str
    writable: bool
    length: int = 0


@dataclass
class SetupResult:
    target: str
    present: list[str] = field(default_factory=list)
    created: list[str] = field(default_factory=list)
    to_add: list[str] = field(default_factory=list)   # fields a person must add by hand
    message: str = ""


def label(canonical: str) -> str:
    return "NRR " + canonical.replace("_", " ").replace("7d", "7 days").replace("30d", "30 days").title()


class SalesforceCrm:
    """Account health fields in Salesforce (``simple-salesforce`` over the sync's session)."""

    name = "salesforce"

    def __init__(self, settings, target: TargetSettings, credentials: dict, policy: RetryPolicy):
        from connectors.salesforce import SalesforceSource

        self.target, self.src = target, SalesforceSource(settings, credentials, None, policy)
        self.guard, self.stats = self.src.guard, self.src.guard.stats

    def fields(self) -> dict[str, FieldInfo]:
        obj = self.target.object
        desc = self.guard.call(f"describe {obj}", lambda: getattr(self.src.sf, obj).describe())
        return {f["name"]: FieldInfo(f["name"], f["type"], bool(f.get("updateable")), int(f.get("length") or 0))
                for f in desc["fields"]}

    def spec(self, canonical: str, text_length: int) -> dict[str, Any]:
        kind, extra = SF_TYPES[FIELDS[canonical]]
        extra = {"precision": 18, "scale": 0} if canonical in COUNTS else extra
        return {"type": kind, "label": label(canonical), **({"length": text_length} if kind == "Text" else extra)}

    def create(self, name: str, canonical: str, text_length: int) -> None:
        body = {"FullName": f"{self.target.object}.{name}", "Metadata": self.spec(canonical, text_length)}
        self.guard.call(f"create field {name}", lambda: self.src.sf.toolingexecute(
            "sobjects/CustomField", method="POST", data=body))

    def manual(self, name: str, canonical: str, text_length: int) -> str:
        s = self.spec(canonical, text_length)
        size = f"length {s['length']}" if "length" in s else \
            (f"precision {s['precision']}, scale {s['scale']}" if "precision" in s else "")
        return f"{self.target.object}.{name}: {s['type']}{', ' + size if size else ''} (label {s['label']!r})"

    def read(self, names: list[str], since: str | None) -> Iterator[tuple[list[tuple[str, dict]], str | None]]:
        """Pages of (record id, {field: value}) and the largest ``SystemModstamp`` so far; reads
        from ``lookback_minutes`` before ``since`` (re-reading a boundary row is harmless)."""
        lookback = dt.timedelta(minutes=self.src.settings.lookback_minutes)
        start = dt.datetime.fromisoformat(since.rstrip("Z")) - lookback if since else None
        where = f" WHERE SystemModstamp >= {start:%Y-%m-%dT%H:%M:%S}Z" if start else ""
        soql = (f"SELECT Id, SystemModstamp, {', '.join(names)} FROM {self.target.object}{where} "
                "ORDER BY SystemModstamp, Id")
        high = since

        def fetch(token: str | None) -> dict:
            if token is None:
                return self.guard.call("read health fields", lambda: self.src.sf.query(soql))
            return self.guard.call("read health fields (next page)",
                                   lambda: self.src.sf.query_more(token, identifier_is_url=True))
        for page in paginate(fetch, NextUrl()):
            rows = [(r["Id"], {n: r.get(n) for n in names}) for r in page.items]
            stamps = [_sf_stamp(r.get("SystemModstamp")) for r in page.items]
            high = max([s for s in stamps if s] + ([high] if high else []), default=None)
            yield rows, high

    def write(self, records: list[tuple[str, dict]]) -> dict[str, str | None]:
        """record id → None (written) or the error; one ``composite/sobjects`` call."""
        body = {"allOrNone": False, "records": [
            {"attributes": {"type": self.target.object}, "id": rid, **values} for rid, values in records]}
        res = self.guard.call("write health fields", lambda: self.src.sf.restful(
            "composite/sobjects", method="PATCH", data=json.dumps(body)))
        return {rid: None if r.get("success") else "; ".join(
            f"{e.get('statusCode')}: {e.get('message')}" for e in r.get("errors") or []) or "failed"
            for (rid, _), r in zip(records, res)}

    def close(self) -> None:
        self.src.close()


def _sf_stamp(value: Any) -> str | None:
    """``2026-11-22T10:00:00.000+0000`` → ``2026-11-22T10:00:00Z`` (a SOQL datetime literal)."""
    return f"{str(value)[:19]}Z" if value else None


class HubSpotCrm:
    """Company health properties in HubSpot (``hubspot-api-client`` with the sync's limiter)."""

    name = "hubspot"

    def __init__(self, settings, target, credentials: dict, policy: RetryPolicy):
        from connectors.hubspot import HubSpotSource

        self.target, self.src = target, HubSpotSource(settings, credentials, None, policy)
        self.stats = self.src.stats
        self.client = self.src.client

    def fields(self) -> dict[str, FieldInfo]:
        api = self.client.crm.properties.core_api
        res = self.src.call(f"read {self.target.object} properties", lambda **kw: api.get_all(self.target.object, **kw))
        return {p["name"]: FieldInfo(p["name"], p.get("type", ""),
                                     not (p.get("modificationMetadata") or {}).get("readOnlyValue"))
                for p in res.get("results") or []}

    def ensure_group(self) -> bool:
        """Create the property group; True when created, False when it was already there."""
        from hubspot.crm.properties import PropertyGroupCreate

        body = PropertyGroupCreate(name=self.target.group, label=self.target.group_label)
        api = self.client.crm.properties.groups_api
        return _created(self.src.call(f"create property group {self.target.group}",
                                      _conflict_is_answer(lambda **kw: api.create(self.target.object, body, **kw))))

    def create(self, name: str, canonical: str, text_length: int) -> None:
        from hubspot.crm.properties import PropertyCreate

        kind, widget = HS_TYPES[FIELDS[canonical]]
        body = PropertyCreate(name=name, label=label(canonical), type=kind, field_type=widget,
                              group_name=self.target.group)
        api = self.client.crm.properties.core_api
        _created(self.src.call(f"create property {name}",
                               _conflict_is_answer(lambda **kw: api.create(self.target.object, body, **kw))))

    def manual(self, name: str, canonical: str, text_length: int) -> str:
        kind, widget = HS_TYPES[FIELDS[canonical]]
        return f"{self.target.object} property {name}: type {kind}, fieldType {widget}, group {self.target.group}"

    def read(self, names: list[str], since: str | None) -> Iterator[tuple[list[tuple[str, dict]], str | None]]:
        """Pages of (company id, {property: value}) and the largest modification time (ms)."""
        from connectors.hubspot import _IdFloor
        from hubspot.crm.objects import PublicObjectSearchRequest

        api, high = self.client.crm.objects.search_api, since
        start = str(int(since) - self.src.settings.lookback_minutes * 60_000) if since else None

        def fetch(floor: str | None) -> dict:
            filters = [{"propertyName": "hs_object_id", "operator": "GT", "value": floor or "0"}]
            if start:
                filters.append({"propertyName": "hs_lastmodifieddate", "operator": "GTE", "value": start})
            body = PublicObjectSearchRequest(filter_groups=[{"filters": filters}], limit=200,
                                             properties=["hs_lastmodifieddate", *names],
                                             sorts=[{"propertyName": "hs_object_id", "direction": "ASCENDING"}])
            return self.src.call("read health properties", lambda **kw: api.do_search(self.target.object, body, **kw))
        for page in paginate(fetch, _IdFloor()):
            rows = [(str(r["id"]), {n: r["properties"].get(n) for n in names}) for r in page.items]
            stamps = [int(s) for s in (_hs_ms(r["properties"].get("hs_lastmodifieddate")) for r in page.items) if s]
            high = str(max([*stamps, int(high)])) if high else (str(max(stamps)) if stamps else None)
            yield rows, high

    def write(self, records: list[tuple[str, dict]]) -> dict[str, str | None]:
        """company id → None (written) or the error; one ``batch/update`` call (200 or 207)."""
        from hubspot.crm.companies import BatchInputSimplePublicObjectBatchInput, SimplePublicObjectBatchInput

        body = BatchInputSimplePublicObjectBatchInput(inputs=[
            SimplePublicObjectBatchInput(id=rid, properties=values) for rid, values in records])
        api = self.client.crm.companies.batch_api
        res = self.src.call("write health properties", lambda **kw: api.update(body, **kw))
        failed = {str(i): e.get("message") or e.get("category") or "failed"
                  for e in res.get("errors") or [] for i in (e.get("context") or {}).get("ids") or []}
        return {rid: failed.get(rid) for rid, _ in records}

    def close(self) -> None:
        self.src.close()


def _hs_ms(value: Any) -> str | None:
    if value in (None, ""):
        return None
    if str(value).isdigit():
        return str(value)
    parsed = dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return str(int(parsed.timestamp() * 1000))


class _Exists:
    """Stands in for a raw response: a 409 answered "already exists"."""

    data = b'{"already_exists": true}'


def _conflict_is_answer(fn):
    """A 409 from a create is an answer (the thing exists), not a failure to retry: the
    shared policy retries 409 because Stripe uses it for lock timeouts on reads."""
    def call(**kw):
        try:
            return fn(**kw)
        except Exception as exc:
            if getattr(exc, "status", None) == 409:
                return _Exists()
            raise
    return call


def _created(response: dict) -> bool:
    """True when the create made something, False when it already existed."""
    return not response.get("already_exists")


CLIENTS = {"salesforce": SalesforceCrm, "hubspot": HubSpotCrm}


def open_crm(name: str, sources_config: Any, wb: WritebackSettings, credentials: dict,
             policy: RetryPolicy | None = None):
    """The write-back client of one target, built like the sync's connector."""
    settings = source_settings(sources_config)[name]
    return CLIENTS[name](settings, wb.target(name), credentials, policy or RetryPolicy())


def setup(crm, target: TargetSettings, text_length: int, *, create: bool = True) -> SetupResult:
    """Check every mapped field; create the missing ones (or list them for a person to add)."""
    result = SetupResult(crm.name)
    if crm.name == "hubspot" and create:
        crm.ensure_group()
    have = crm.fields()
    for canonical, name in target.mapped().items():
        if name in have:
            result.present.append(name)
            continue
        if not create:
            result.to_add.append(crm.manual(name, canonical, text_length))
            continue
        try:
            crm.create(name, canonical, text_length)
            result.created.append(name)
        except (MissingScope, InvalidRequest) as exc:
            result.to_add.append(crm.manual(name, canonical, text_length))
            result.message = f"could not create fields ({exc}); add them by hand"
    return result
