"""Schema and relationship endpoints: properties, property groups, owners, v4 associations.

A property or group created here is immediately readable and writable on the
objects of its type (the connector's ``doctor`` creates its health fields this way);
creating one whose name is taken is a 409 ``OBJECT_ALREADY_EXISTS``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from connectors.sandbox import hs_errors as err
from connectors.sandbox.hs_data import ASSOCIATION_TYPES
from connectors.sandbox.hs_schema import FIELD_TYPES, NAME_RE, ObjectType, PropertyDef, iso
from connectors.sandbox.hs_wire import (BadRequest, bool_param, int_param, json_object, resolve_type,
                                        v4_association_types)
from connectors.sandbox.http import Request, Response

if TYPE_CHECKING:
    from connectors.sandbox.hubspot import HubSpotEmulator


def list_properties(emu: HubSpotEmulator, req: Request, otype: ObjectType, _: dict) -> Response:
    props = emu.portal.properties[otype.name].values()
    return Response(200, {"results": [p.to_json() for p in props]})


def read_property(emu: HubSpotEmulator, req: Request, otype: ObjectType, parts: dict) -> Response:
    prop = emu.portal.properties[otype.name].get(parts["name"])
    if prop is None:
        return err.not_found(f"Unable to find property with name {parts['name']!r} for {otype.name}")
    return Response(200, prop.to_json())


def create_property(emu: HubSpotEmulator, req: Request, otype: ObjectType, _: dict) -> Response:
    """``POST /crm/v3/properties/{type}``: 201 with the new property, 409 if the name is taken."""
    body = _body(req, ("name", "label", "type", "fieldType", "groupName"))
    schema = emu.portal.properties[otype.name]
    if body["name"] in schema:
        return err.already_exists(f"Property named '{body['name']}' already exists.")
    _check_property(emu, otype, body)
    prop = PropertyDef(name=body["name"], label=body["label"], type=body["type"],
                       field_type=body["fieldType"], group=body["groupName"],
                       options=[(str(o["value"]), str(o.get("label", o["value"]))) for o in body.get("options") or []],
                       description=str(body.get("description") or ""), hubspot_defined=False,
                       created_at=emu.clock(), display_order=int(body.get("displayOrder", -1)))
    schema[prop.name] = prop
    emu.portal.version += 1
    return Response(201, prop.to_json())


def _check_property(emu: HubSpotEmulator, otype: ObjectType, body: dict) -> None:
    if not NAME_RE.match(body["name"]):
        raise BadRequest(f"Property name {body['name']!r} must start with a lowercase letter and hold only "
                         "lowercase letters, digits and underscores")
    if body["type"] not in FIELD_TYPES:
        raise BadRequest(f"type {body['type']!r} is not one of {', '.join(FIELD_TYPES)}")
    if body["fieldType"] not in FIELD_TYPES[body["type"]]:
        raise BadRequest(f"fieldType {body['fieldType']!r} cannot be used with type {body['type']!r}; "
                         f"use one of {', '.join(sorted(FIELD_TYPES[body['type']]))}")
    if body["groupName"] not in emu.portal.groups[otype.name]:
        raise BadRequest(f"property group {body['groupName']!r} does not exist for {otype.name}")
    options = body.get("options") or []
    if not isinstance(options, list) or not all(isinstance(o, dict) and "value" in o for o in options):
        raise BadRequest("options must be a list of {label, value} objects")


def list_groups(emu: HubSpotEmulator, req: Request, otype: ObjectType, _: dict) -> Response:
    return Response(200, {"results": list(emu.portal.groups[otype.name].values())})


def create_group(emu: HubSpotEmulator, req: Request, otype: ObjectType, _: dict) -> Response:
    """``POST /crm/v3/properties/{type}/groups``: 201, or 409 if the name is taken."""
    body = _body(req, ("name", "label"))
    groups = emu.portal.groups[otype.name]
    if body["name"] in groups:
        return err.already_exists(f"A property group named '{body['name']}' already exists.")
    if not NAME_RE.match(body["name"]):
        raise BadRequest(f"Property group name {body['name']!r} must be lowercase letters, digits, underscores")
    group = {"name": body["name"], "label": str(body["label"]),
             "displayOrder": int(body.get("displayOrder", -1)), "archived": False}
    groups[group["name"]] = group
    return Response(201, group)


def _body(req: Request, required: tuple[str, ...]) -> dict:
    body = json_object(req)
    missing = [k for k in required if not isinstance(body.get(k), str) or not body[k]]
    if missing:
        raise BadRequest(f"Missing required field(s): {', '.join(missing)}")
    return body


def list_owners(emu: HubSpotEmulator, req: Request, _otype: None, __: dict) -> Response:
    """``GET /crm/v3/owners/`` with ``email``, ``limit`` (≤ 500), ``after`` (an offset) and ``archived``."""
    limit = int_param(req, "limit", 100, 1, 500)
    after = int_param(req, "after", 0, 0, 2**31)
    owners = [] if bool_param(req, "archived") else emu.portal.owners
    email = (req.param("email") or "").lower()
    owners = [o for o in owners if not email or o.email.lower() == email]
    body: dict = {"results": [o.to_json() for o in owners[after:after + limit]]}
    if after + limit < len(owners):
        body["paging"] = {"next": {"after": str(after + limit)}}
    return Response(200, body)


def v4_list(emu: HubSpotEmulator, req: Request, otype: ObjectType, parts: dict) -> Response:
    """``GET /crm/v4/objects/{type}/{id}/associations/{to}``: linked ids with their association types."""
    target = _pair(otype, parts["to"])
    limit = int_param(req, "limit", 500, 1, 500)
    after = int_param(req, "after", 0, 0, 2**31)
    obj = emu.portal.get(otype.name, parts["id"])
    linked = emu.portal.associated(otype.name, obj.id, target.name) if obj else []
    body: dict = {"results": [_v4_entry(otype, target, i, p) for i, p in linked[after:after + limit]]}
    if after + limit < len(linked):
        body["paging"] = {"next": {"after": str(after + limit)}}
    return Response(200, body)


def v4_batch_read(emu: HubSpotEmulator, req: Request, otype: ObjectType, parts: dict) -> Response:
    """``POST /crm/v4/associations/{type}/{to}/batch/read``: associations of up to 1,000 objects."""
    started = emu.clock()
    target = _pair(otype, parts["to"])
    inputs = json_object(req).get("inputs")
    if not isinstance(inputs, list) or len(inputs) > 1000:
        raise BadRequest("inputs must be a list of at most 1000 {id} objects")
    results = []
    for item in inputs:
        obj = emu.portal.get(otype.name, str(item.get("id") if isinstance(item, dict) else ""))
        linked = emu.portal.associated(otype.name, obj.id, target.name) if obj else []
        if linked:
            results.append({"from": {"id": str(obj.id)},
                            "to": [_v4_entry(otype, target, i, p) for i, p in linked]})
    return Response(200, {"status": "COMPLETE", "results": results, "startedAt": iso(started),
                          "completedAt": iso(emu.clock())})


def token_info(emu: HubSpotEmulator, req: Request, _otype: None, parts: dict) -> Response:
    """``GET /oauth/v1/access-tokens/{token}``: who a token belongs to and its scopes (no auth needed)."""
    scopes = emu.tokens.get(parts["token"])
    if scopes is None:
        return err.not_found("Token not found or no longer valid")
    return Response(200, {"token": parts["token"], "user": "sandbox-admin@nrr-demo.example",
                          "hub_domain": f"sandbox-{emu.hub_id}.hubspot.example", "scopes": sorted(scopes),
                          "hub_id": emu.hub_id, "app_id": emu.app_id, "expires_in": 1800,
                          "user_id": emu.user_id, "token_type": "access"})


def private_app_token_info(emu: HubSpotEmulator, req: Request, _otype: None, _: dict) -> Response:
    """``POST /oauth/v2/private-apps/get/access-token-info`` with ``{"tokenKey": ...}``."""
    scopes = emu.tokens.get(str(json_object(req).get("tokenKey", "")))
    if scopes is None:
        return err.not_found("Token not found or no longer valid")
    return Response(200, {"userId": emu.user_id, "hubId": emu.hub_id, "appId": emu.app_id,
                          "scopes": sorted(scopes)})


def _pair(otype: ObjectType, to_segment: str) -> ObjectType:
    target = resolve_type(to_segment)
    if (otype.name, target.name) not in ASSOCIATION_TYPES:
        raise BadRequest(f"No association types between {otype.name} and {target.name} in this portal")
    return target


def _v4_entry(otype: ObjectType, target: ObjectType, to_id: int, primary: bool) -> dict:
    return {"toObjectId": to_id, "associationTypes": v4_association_types(otype.name, target.name, primary)}
