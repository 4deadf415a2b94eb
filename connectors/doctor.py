"""``nrr doctor``: can each configured source be synced (and written back to)?

For every enabled source, in order — a failed step stops that source's later checks:

1. **credentials** — log in / make one cheap authenticated call;
2. **objects** — each object we read is readable (scopes, permissions);
3. **fields** — every mapped field exists (a typo in ``nrr.toml`` is found here, not
   half-way through a sync);
4. **write-back** — the health fields we write exist and are writable;
5. **budget** — API calls left today, where the vendor says.

Each failure carries the exact fix. Checks go through the same retry policy as a sync.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Iterator

from connectors.errors import ConnectorError
from connectors.retry import RetryPolicy
from connectors.settings import source_settings


@dataclass(frozen=True)
class Check:
    source: str
    name: str
    ok: bool
    detail: str
    fix: str = ""
    status: int | None = None


def _attempt(source: str, name: str, fn: Callable[[], str]) -> Check:
    try:
        return Check(source, name, True, fn())
    except ConnectorError as exc:
        return Check(source, name, False, exc.detail, exc.fix, exc.status)


def _missing(source: str, obj: str, have: set[str], wanted: dict[str, str], where: str) -> Check:
    lost = sorted(f for f in wanted.values() if f and f.split(".")[0] not in have)
    if not lost:
        return Check(source, f"fields {obj}", True, f"{len(wanted)} mapped fields present")
    return Check(source, f"fields {obj}", False, f"{obj} has no field {', '.join(lost)}",
                 f"Create the field(s) in {source} or change the mapping [{where}] in nrr.toml")


# -- Salesforce -----------------------------------------------------------------------
def _salesforce(settings, creds, policy, writeback: list[str]) -> Iterator[Check]:
    from connectors.salesforce import STREAMS

    holder: dict[str, Any] = {}
    login = _attempt("salesforce", "credentials", lambda: _sf_login(holder, settings, creds, policy))
    yield login
    if not login.ok:
        return
    src = holder["src"]
    for stream in src.streams:
        _, obj, group = STREAMS[stream.name]
        check = _attempt("salesforce", f"object {obj}", lambda: _sf_describe(holder, src, obj))
        yield check
        if check.ok:
            yield _missing("salesforce", obj, holder[obj]["names"], getattr(settings.fields, group),
                           f"sources.salesforce.fields.{group}")
    if writeback and "Account" in holder:
        fields = holder["Account"]
        bad = [f for f in writeback if not fields["updateable"].get(f)]
        yield Check("salesforce", "write-back fields", not bad,
                    f"Account fields not present or not writable: {', '.join(bad)}" if bad else f"{len(writeback)} fields writable",
                    "Run `nrr crm setup` to create them, or grant Edit field-level security to the integration user" if bad else "")
    yield _attempt("salesforce", "API budget", lambda: _sf_budget(src))


def _sf_login(holder: dict, settings, creds, policy) -> str:
    from connectors.salesforce import SalesforceSource

    holder["src"] = SalesforceSource(settings, creds, None, policy)
    return f"logged in as {creds.get('username') or 'session'}"


def _sf_describe(holder: dict, src, obj: str) -> str:
    desc = src.guard.call(f"describe {obj}", lambda: getattr(src.sf, obj).describe())
    names = {f["name"] for f in desc["fields"]} | {f["relationshipName"] for f in desc["fields"] if f.get("relationshipName")}
    holder[obj] = {"names": names, "updateable": {f["name"]: f.get("updateable", False) for f in desc["fields"]}}
    return f"{obj} readable ({len(desc['fields'])} fields)"


def _sf_budget(src) -> str:
    limits = src.guard.call("read limits", lambda: src.sf.limits())
    daily = limits.get("DailyApiRequests", {})
    left, cap = daily.get("Remaining"), daily.get("Max")
    if left is not None and left <= 0:
        raise ConnectorError("salesforce", f"no API calls left today (0 of {cap})",
                             fix="Wait for the 24-hour allowance to recover or ask Salesforce for a higher limit")
    return f"{left:,} of {cap:,} daily API calls left"


# -- HubSpot ---------------------------------------------------------------------------
HUBSPOT_OBJECTS = {"companies": "company", "deals": "deal", "tickets": "ticket", "contacts": None}


def _hubspot(settings, creds, policy, writeback: list[str]) -> Iterator[Check]:
    from connectors.hubspot import HubSpotSource

    try:
        src = HubSpotSource(settings, creds, None, policy)
    except ConnectorError as exc:
        yield Check("hubspot", "credentials", False, exc.detail, exc.fix)
        return
    for obj, group in HUBSPOT_OBJECTS.items():
        found: dict[str, dict] = {}
        check = _attempt("hubspot", f"object {obj}", lambda: _hs_properties(src, obj, found))
        if check.status == 401:
            yield Check("hubspot", "credentials", False, check.detail,
                        "Create a new private-app access token and put it under [hubspot] in credentials.toml")
            return
        if check.status == 403:
            scope = "tickets" if obj == "tickets" else f"crm.objects.{obj}.read"
            check = Check("hubspot", f"object {obj}", False, check.detail,
                          f"Add the scope {scope} to the private app (Settings → Integrations → Private apps) and paste the new token")
        yield check
        if check.ok and group:
            yield _missing("hubspot", obj, set(found), getattr(settings.fields, group), f"sources.hubspot.fields.{group}")
        if check.ok and obj == "companies" and writeback:
            bad = [p for p in writeback if p not in found or found[p].get("modificationMetadata", {}).get("readOnlyValue")]
            yield Check("hubspot", "write-back fields", not bad,
                        f"company properties missing or read-only: {', '.join(bad)}" if bad else f"{len(writeback)} properties writable",
                        "Run `nrr crm setup` to create them (needs scope crm.schemas.companies.write)" if bad else "")


def _hs_properties(src, obj: str, found: dict) -> str:
    api = src.client.crm.properties.core_api
    res = src.call(f"read {obj} properties", lambda **kw: api.get_all(obj, **kw))
    found.update({p["name"]: p for p in res.get("results") or []})
    return f"{obj} readable ({len(found)} properties)"


# -- Stripe ----------------------------------------------------------------------------
def _stripe(settings, creds, policy, writeback: list[str]) -> Iterator[Check]:
    from connectors.stripe_billing import StripeSource

    try:
        src = StripeSource(settings, creds, None, policy)
    except ConnectorError as exc:
        yield Check("stripe", "credentials", False, exc.detail, exc.fix)
        return
    for collection in ("customers", "subscriptions", "invoices", "events"):
        check = _attempt("stripe", f"read {collection}", lambda: _stripe_list(src, collection, settings))
        if check.status == 401:
            yield Check("stripe", "credentials", False, check.detail,
                        "Put a valid secret or restricted key (sk_… / rk_…) under [stripe] in credentials.toml")
            return
        if check.status == 403:
            check = Check("stripe", f"read {collection}", False, check.detail,
                          f"Give the restricted key Read access to {collection.title()} in the Stripe dashboard (Developers → API keys)")
        yield check


def _stripe_list(src, collection: str, settings) -> str:
    page = src._list(collection, {"limit": 10})
    if collection != "customers":
        return f"{collection} readable"
    key = settings.account_metadata_key
    tagged = sum(1 for c in page["data"] if (c.get("metadata") or {}).get(key))
    return f"customers readable; {tagged} of the first {len(page['data'])} carry metadata[{key}]"


CHECKERS = {"salesforce": _salesforce, "hubspot": _hubspot, "stripe": _stripe}


def doctor(sources_config: dict[str, Any] | None, credentials: dict[str, dict] | Callable[[str], dict], *,
           only: str | None = None, writeback_fields: dict[str, list[str]] | None = None,
           policy: RetryPolicy | None = None) -> list[Check]:
    """Checks for every enabled source (or ``only``); never raises for a source's failure."""
    settings = source_settings(sources_config)
    names = [only] if only else [n for n in CHECKERS if settings[n].enabled]
    policy = policy or RetryPolicy(max_attempts=3)
    checks: list[Check] = []
    if not names:
        return [Check("sources", "configured", False, "no source is enabled",
                      "Set enabled = true under [sources.salesforce], [sources.hubspot] or [sources.stripe] in nrr.toml")]
    for name in names:
        try:
            creds = credentials(name) if callable(credentials) else (credentials.get(name) or {})
        except Exception as exc:
            checks.append(Check(name, "credentials", False, str(exc), f"Fix the [{name}] entry in credentials.toml"))
            continue
        checks.extend(CHECKERS[name](settings[name], creds, policy, (writeback_fields or {}).get(name, [])))
    return checks
