"""Request parsing and object rendering shared by the HubSpot endpoint handlers.

Query parameters arrive either comma-separated (``properties=a,b``) or repeated
(``properties=a&properties=b``, which is how hubspot-api-client sends lists); both
are accepted.  Booleans accept ``true``/``false`` in any case, because the official
client sends Python's ``False``.
"""

from __future__ import annotations

from urllib.parse import urlencode

from connectors.sandbox.hs_data import ASSOCIATION_TYPES, HsObject, Portal
from connectors.sandbox.hs_schema import ALWAYS_RETURNED, TYPE_ALIASES, ObjectType
from connectors.sandbox.http import Request


class BadRequest(ValueError):
    """A parameter HubSpot would refuse with 400 VALIDATION_ERROR."""


def list_param(req: Request, name: str) -> list[str]:
    """A list parameter, flattening repeated and comma-separated forms."""
    return [part.strip() for value in req.query.get(name, []) for part in value.split(",") if part.strip()]


def bool_param(req: Request, name: str) -> bool:
    value = (req.param(name) or "false").lower()
    if value not in ("true", "false"):
        raise BadRequest(f"{name} must be true or false, got {req.param(name)!r}")
    return value == "true"


def int_param(req: Request, name: str, default: int, low: int, high: int) -> int:
    """An integer parameter within ``[low, high]``."""
    raw = req.param(name)
    if raw in (None, ""):
        return default
    try:
        value = int(raw)
    except ValueError:
        raise BadRequest(f"{name} must be an integer, got {raw!r}") from None
    if not low <= value <= high:
        raise BadRequest(f"{name} must be between {low} and {high}, got {value}")
    return value


def property_names(otype: ObjectType, requested: list[str], portal: Portal) -> list[str]:
    """Properties to return: the requested known ones (or the defaults) plus the always-returned ones."""
    schema = portal.properties[otype.name]
    names = [n for n in requested if n in schema] if requested else list(otype.defaults)
    for always in (*ALWAYS_RETURNED, otype.modified_prop):
        if always not in names:
            names.append(always)
    return names


def association_targets(requested: list[str], otype: ObjectType) -> list[ObjectType]:
    """Known association targets named in an ``associations`` parameter."""
    targets = [TYPE_ALIASES[r] for r in requested if r in TYPE_ALIASES]
    return [t for t in dict.fromkeys(targets) if (otype.name, t.name) in ASSOCIATION_TYPES]


def render(portal: Portal, otype: ObjectType, obj: HsObject, names: list[str],
           targets: list[ObjectType] = ()) -> dict:
    """One object as v3 returns it, with ``associations`` when targets were asked for.

    A target with no linked objects is left out, as HubSpot does.
    """
    body = obj.to_json(names)
    linked = {t.name: v3_associations(portal, otype, obj.id, t) for t in targets}
    linked = {k: {"results": v} for k, v in linked.items() if v}
    if linked:
        body["associations"] = linked
    return body


def v3_associations(portal: Portal, otype: ObjectType, object_id: int, target: ObjectType) -> list[dict]:
    """``[{id, type}]`` entries: a primary link also appears as the ``_unlabeled`` type."""
    primary_id, _ = ASSOCIATION_TYPES[(otype.name, target.name)]
    label = f"{otype.singular}_to_{target.singular}"
    entries = []
    for to_id, primary in portal.associated(otype.name, object_id, target.name):
        if primary_id is None:
            entries.append({"id": str(to_id), "type": label})
            continue
        if primary:
            entries.append({"id": str(to_id), "type": label})
        entries.append({"id": str(to_id), "type": f"{label}_unlabeled"})
    return entries


def v4_association_types(from_type: str, to_type: str, primary: bool) -> list[dict]:
    """``associationTypes`` of one v4 association (Primary first, then the unlabeled type)."""
    primary_id, unlabeled_id = ASSOCIATION_TYPES[(from_type, to_type)]
    types = [{"category": "HUBSPOT_DEFINED", "typeId": unlabeled_id, "label": None}]
    if primary and primary_id is not None:
        types.insert(0, {"category": "HUBSPOT_DEFINED", "typeId": primary_id, "label": "Primary"})
    return types


def resolve_type(segment: str) -> ObjectType:
    """The object type a path segment names (plural, singular or objectTypeId)."""
    otype = TYPE_ALIASES.get(segment.lower())
    if otype is None:
        raise BadRequest(f"Unable to infer object type from: {segment}")
    return otype


def next_link(req: Request, host_default: str, after: str) -> str:
    """The ``paging.next.link`` URL: this request's URL with ``after`` replaced."""
    query = [(k, v) for k, vs in req.query.items() if k != "after" for v in vs] + [("after", after)]
    host = req.header("host") or host_default
    return f"http://{host}{req.path}?{urlencode(query)}"


def json_object(req: Request) -> dict:
    """The request body as a JSON object (an empty body counts as ``{}``)."""
    try:
        body = req.json()
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadRequest(f"Invalid input JSON: {exc}") from None
    if body is None:
        return {}
    if not isinstance(body, dict):
        raise BadRequest("Invalid input JSON: expected an object")
    return body


def coerce_values(raw: object) -> dict[str, str] | None:
    """Property values from a JSON body as strings (numbers and booleans allowed), else ``None``."""
    if not isinstance(raw, dict):
        return None
    out = {}
    for name, value in raw.items():
        if isinstance(value, bool):
            value = "true" if value else "false"
        out[str(name)] = "" if value is None else str(value)
    return out

