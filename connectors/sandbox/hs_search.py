"""The CRM search endpoint: filter groups, one sort, offset paging and the 10,000 ceiling.

Semantics follow HubSpot: filters inside a group are ANDed, groups are ORed (at most
5 groups, 10 filters per group, 25 in all); values compare by the property's type
(numbers numerically, ``date``/``datetime`` as instants given either as epoch
milliseconds or ISO-8601, text case-insensitively); one sort rule; ``limit`` ≤ 200.
``after`` is an offset into the sorted matches, and a request whose
``after + limit`` goes past the ceiling (10,000 by default, as in HubSpot) is
refused with a 400 — so a connector must window its queries (e.g. by
``hs_lastmodifieddate``) instead of paging forever.  ``total`` counts every match.
Archived objects are never searched.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from connectors.sandbox.hs_data import HsObject, Portal
from connectors.sandbox.hs_errors import invalid
from connectors.sandbox.hs_schema import OBJECT_TYPES, PropertyDef
from connectors.sandbox.http import Response

MAX_GROUPS, MAX_PER_GROUP, MAX_FILTERS, MAX_LIMIT = 5, 10, 25, 200
SEARCH_CEILING = 10_000
OPERATORS = {"EQ", "NEQ", "LT", "LTE", "GT", "GTE", "BETWEEN", "IN", "NOT_IN", "HAS_PROPERTY",
             "NOT_HAS_PROPERTY", "CONTAINS_TOKEN", "NOT_CONTAINS_TOKEN"}


class SearchError(ValueError):
    """A search body HubSpot would refuse with 400 VALIDATION_ERROR."""

    def response(self) -> Response:
        return invalid(str(self))


@dataclass
class SearchQuery:
    """A validated search body."""

    groups: list[list[dict]]
    sorts: list[tuple[str, bool]]          # (property, descending)
    text: str | None
    properties: list[str]
    limit: int
    after: int
    cache_key: str = field(default="")


def parse_search(body: object, schema: dict[str, PropertyDef], ceiling: int) -> SearchQuery:
    """Validate a search body against the type's properties; raises :class:`SearchError`."""
    if not isinstance(body, dict):
        raise SearchError("Invalid input JSON: expected an object with filterGroups, sorts, limit, after")
    limit = _integer(body.get("limit", 10), "limit")
    after = _integer(body.get("after") or 0, "after")
    if not 0 < limit <= MAX_LIMIT:
        raise SearchError(f"limit must be between 1 and {MAX_LIMIT}, got {limit}")
    if after < 0 or after + limit > ceiling:
        raise SearchError(f"The search window is limited to {ceiling} results: after ({after}) + limit "
                          f"({limit}) goes past it. Narrow the query (e.g. by hs_lastmodifieddate) instead.")
    groups = _groups(body.get("filterGroups") or [], schema)
    sorts = _sorts(body.get("sorts") or [], schema)
    text = body.get("query") or None
    props = [p for p in body.get("properties") or [] if isinstance(p, str)]
    key = json.dumps([groups, sorts, text], sort_keys=True, default=str)
    return SearchQuery(groups, sorts, text, props, limit, after, key)


def _integer(value: object, name: str) -> int:
    try:
        return int(str(value))
    except ValueError:
        raise SearchError(f"{name} must be an integer, got {value!r}") from None


def _groups(raw: object, schema: dict[str, PropertyDef]) -> list[list[dict]]:
    if not isinstance(raw, list) or len(raw) > MAX_GROUPS:
        raise SearchError(f"filterGroups must be a list of at most {MAX_GROUPS} groups")
    groups = [g.get("filters") or [] if isinstance(g, dict) else None for g in raw]
    if any(not isinstance(g, list) or len(g) > MAX_PER_GROUP for g in groups):
        raise SearchError(f"each filter group holds a list of at most {MAX_PER_GROUP} filters")
    if sum(len(g) for g in groups) > MAX_FILTERS:
        raise SearchError(f"a search may use at most {MAX_FILTERS} filters in all")
    for flt in (f for g in groups for f in g):
        _check_filter(flt, schema)
    return groups


def _check_filter(flt: object, schema: dict[str, PropertyDef]) -> None:
    if not isinstance(flt, dict) or flt.get("propertyName") not in schema:
        name = flt.get("propertyName") if isinstance(flt, dict) else flt
        raise SearchError(f"There was a problem with the request: property {name!r} does not exist")
    op = flt.get("operator", "EQ")
    if op not in OPERATORS:
        raise SearchError(f"Unknown filter operator {op!r}; use one of {', '.join(sorted(OPERATORS))}")
    if op in ("IN", "NOT_IN") and not isinstance(flt.get("values"), list):
        raise SearchError(f"operator {op} needs a 'values' list")
    if op not in ("IN", "NOT_IN", "HAS_PROPERTY", "NOT_HAS_PROPERTY") and flt.get("value") is None:
        raise SearchError(f"operator {op} on {flt['propertyName']} needs a 'value'")
    if op == "BETWEEN" and flt.get("highValue") is None:
        raise SearchError("operator BETWEEN needs a 'highValue'")


def _sorts(raw: object, schema: dict[str, PropertyDef]) -> list[tuple[str, bool]]:
    if not isinstance(raw, list) or len(raw) > 1:
        raise SearchError("sorts takes at most one sort rule")
    sorts = []
    for rule in raw:
        if isinstance(rule, str):
            name, desc = rule.lstrip("-"), rule.startswith("-")
        elif isinstance(rule, dict):
            name, desc = rule.get("propertyName"), rule.get("direction", "ASCENDING") == "DESCENDING"
        else:
            name, desc = None, False
        if name not in schema:
            raise SearchError(f"cannot sort by unknown property {name!r}")
        sorts.append((name, desc))
    return sorts


class Searcher:
    """Runs queries, caching the sorted matches of recent queries until the portal changes."""

    def __init__(self, portal: Portal, size: int = 16) -> None:
        self.portal = portal
        self.size = size
        self._cache: dict[tuple[str, str], tuple[int, list[HsObject]]] = {}

    def matches(self, type_name: str, q: SearchQuery) -> list[HsObject]:
        """All live objects of ``type_name`` matching ``q``, in the query's order."""
        key = (type_name, q.cache_key)
        hit = self._cache.get(key)
        if hit and hit[0] == self.portal.version:
            return hit[1]
        found = self._compute(type_name, q)
        if len(self._cache) >= self.size:
            self._cache.pop(next(iter(self._cache)))
        self._cache[key] = (self.portal.version, found)
        return found

    def _compute(self, type_name: str, q: SearchQuery) -> list[HsObject]:
        schema = self.portal.properties[type_name]
        found = [o for o in self.portal.live(type_name) if _matches(o, q, schema, type_name)]
        for name, desc in reversed(q.sorts):
            prop = schema[name]
            present = [o for o in found if prop.sort_key(o.props.get(name)) is not None]
            missing = [o for o in found if prop.sort_key(o.props.get(name)) is None]
            present.sort(key=lambda o: prop.sort_key(o.props[name]), reverse=desc)
            found = present + missing
        return found


def _matches(obj: HsObject, q: SearchQuery, schema: dict[str, PropertyDef], type_name: str) -> bool:
    if q.text and not _text_hit(obj, q.text, type_name):
        return False
    if not q.groups:
        return True
    return any(all(_filter_hit(obj, f, schema[f["propertyName"]]) for f in g) for g in q.groups)


def _text_hit(obj: HsObject, text: str, type_name: str) -> bool:
    needle = text.lower()
    return any(needle in (obj.props.get(p) or "").lower() for p in OBJECT_TYPES[type_name].searchable)


def _filter_hit(obj: HsObject, flt: dict, prop: PropertyDef) -> bool:
    op = flt.get("operator", "EQ")
    raw = obj.props.get(prop.name)
    have = prop.sort_key(raw)
    if op in ("HAS_PROPERTY", "NOT_HAS_PROPERTY"):
        return (have is not None) == (op == "HAS_PROPERTY")
    if op in ("IN", "NOT_IN"):
        inside = have is not None and have in {prop.sort_key(str(v)) for v in flt["values"]}
        return inside == (op == "IN")
    if op in ("CONTAINS_TOKEN", "NOT_CONTAINS_TOKEN"):
        token = str(flt["value"]).replace("*", "").lower()
        return (token in (raw or "").lower()) == (op == "CONTAINS_TOKEN")
    want = prop.sort_key(str(flt["value"]))
    if op == "NEQ":
        return have != want
    if have is None or want is None:
        return False
    return _compare(op, have, want, prop.sort_key(str(flt.get("highValue", ""))))


def _compare(op: str, have, want, high) -> bool:
    if op == "BETWEEN":
        return high is not None and want <= have <= high
    return {"EQ": have == want, "LT": have < want, "LTE": have <= want,
            "GT": have > want, "GTE": have >= want}[op]
