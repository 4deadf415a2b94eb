"""CRM object endpoints: list, read, update, search, batch read and batch update.

Batch writes validate each input on its own: inputs that pass are applied, those
that fail (unknown id, unknown or read-only property, a value the property's type
refuses) come back in ``errors`` with a 207 — HubSpot's multi-status — while an
all-good batch is a 200.  More than 100 inputs, or the same id twice, refuses the
whole batch with a 400.  Every write stamps ``hs_lastmodifieddate`` (and
``lastmodifieddate`` on contacts) from the emulator clock.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from connectors.sandbox import hs_errors as err
from connectors.sandbox.hs_data import HsObject
from connectors.sandbox.hs_schema import ObjectType, iso
from connectors.sandbox.hs_search import SearchError, parse_search
from connectors.sandbox.hs_wire import (BadRequest, association_targets, bool_param, coerce_values,
                                        int_param, json_object, list_param, next_link, property_names, render)
from connectors.sandbox.http import Request, Response

if TYPE_CHECKING:
    from connectors.sandbox.hubspot import HubSpotEmulator

BATCH_MAX = 100
PAGE_MAX = 100


def list_objects(emu: HubSpotEmulator, req: Request, otype: ObjectType, _: dict) -> Response:
    """``GET /crm/v3/objects/{type}``: one page in id order, cursor = next page's first id."""
    limit = int_param(req, "limit", 10, 1, PAGE_MAX)
    after = int_param(req, "after", 0, 0, 2**63)
    names = property_names(otype, list_param(req, "properties"), emu.portal)
    targets = association_targets(list_param(req, "associations"), otype)
    found, next_id = emu.portal.page(otype.name, after, limit, bool_param(req, "archived"))
    body: dict = {"results": [render(emu.portal, otype, o, names, targets) for o in found]}
    if next_id is not None:
        body["paging"] = {"next": {"after": str(next_id), "link": next_link(req, emu.host, str(next_id))}}
    return Response(200, body)


def read_object(emu: HubSpotEmulator, req: Request, otype: ObjectType, parts: dict) -> Response:
    """``GET /crm/v3/objects/{type}/{id}`` (``idProperty`` looks up by a unique property)."""
    obj = _lookup(emu, otype, parts["id"], req.param("idProperty"), bool_param(req, "archived"))
    if obj is None:
        return err.not_found("Object not found.  objectId are usually numeric.", id=[parts["id"]])
    names = property_names(otype, list_param(req, "properties"), emu.portal)
    targets = association_targets(list_param(req, "associations"), otype)
    return Response(200, render(emu.portal, otype, obj, names, targets))


def _lookup(emu: HubSpotEmulator, otype: ObjectType, key: str, id_property: str | None,
            archived: bool) -> HsObject | None:
    if not id_property or id_property == "hs_object_id":
        return emu.portal.get(otype.name, key, archived)
    table = emu.portal.objects[otype.name].values()
    return next((o for o in table if o.archived == archived and o.props.get(id_property) == key), None)


def update_object(emu: HubSpotEmulator, req: Request, otype: ObjectType, parts: dict) -> Response:
    """``PATCH /crm/v3/objects/{type}/{id}``: all values valid, or a 400 listing the bad ones."""
    obj = emu.portal.get(otype.name, parts["id"])
    if obj is None:
        return err.not_found("Object not found.  objectId are usually numeric.", id=[parts["id"]])
    values = coerce_values(json_object(req).get("properties"))
    if values is None:
        raise BadRequest("Invalid input JSON: expected {\"properties\": {...}}")
    problems = _problems(emu, otype, values)
    if problems:
        return err.invalid(err.property_errors_message(problems))
    emu.portal.write(otype.name, obj, values, emu.clock())
    return Response(200, obj.to_json(property_names(otype, list(values), emu.portal)))


def search(emu: HubSpotEmulator, req: Request, otype: ObjectType, _: dict) -> Response:
    """``POST /crm/v3/objects/{type}/search`` (see ``hs_search`` for the rules)."""
    try:
        q = parse_search(json_object(req), emu.portal.properties[otype.name], emu.search_ceiling)
    except SearchError as exc:
        return exc.response()
    found = emu.searcher.matches(otype.name, q)
    names = property_names(otype, q.properties, emu.portal)
    page = found[q.after:q.after + q.limit]
    body: dict = {"total": len(found), "results": [o.to_json(names) for o in page]}
    if q.after + q.limit < len(found):
        body["paging"] = {"next": {"after": str(q.after + q.limit)}}
    return Response(200, body)


def batch_read(emu: HubSpotEmulator, req: Request, otype: ObjectType, _: dict) -> Response:
    """``POST .../batch/read``: found objects in input order; unknown ids as a 207 error."""
    started = emu.clock()
    body = json_object(req)
    inputs = _inputs(body)
    names = property_names(otype, [p for p in body.get("properties") or [] if isinstance(p, str)], emu.portal)
    archived = bool_param(req, "archived")
    found, missing = [], []
    for item in inputs:
        obj = _lookup(emu, otype, str(item.get("id")), body.get("idProperty"), archived)
        if obj is None:
            missing.append(str(item.get("id")))
        else:
            found.append(obj.to_json(names))
    errors = [_not_found_error(otype, missing)] if missing else []
    return _batch_response(found, errors, started, emu.clock())


def batch_update(emu: HubSpotEmulator, req: Request, otype: ObjectType, _: dict) -> Response:
    """``POST .../batch/update``: 200 when every input applies, 207 with per-input errors otherwise."""
    started = emu.clock()
    inputs = _inputs(json_object(req))
    results, errors = [], []
    for item in inputs:
        outcome = _update_one(emu, otype, item)
        target = errors if "category" in outcome else results
        target.append(outcome)
    return _batch_response(results, errors, started, emu.clock())


def _update_one(emu: HubSpotEmulator, otype: ObjectType, item: dict) -> dict:
    """Apply one batch input; returns the updated object or a ``StandardError``."""
    object_id, values = str(item.get("id", "")), coerce_values(item.get("properties"))
    obj = emu.portal.get(otype.name, object_id)
    if obj is None:
        return _not_found_error(otype, [object_id])
    if values is None:
        return err.batch_error("VALIDATION_ERROR", "properties must be an object of name → value", [object_id])
    problems = _problems(emu, otype, values)
    if problems:
        return err.batch_error("VALIDATION_ERROR", err.property_errors_message(problems), [object_id], problems)
    emu.portal.write(otype.name, obj, values, emu.clock())
    return obj.to_json(property_names(otype, list(values), emu.portal))


def _inputs(body: dict) -> list[dict]:
    inputs = body.get("inputs")
    if not isinstance(inputs, list) or not all(isinstance(i, dict) for i in inputs):
        raise BadRequest("Invalid input JSON: expected {\"inputs\": [{\"id\": ..., ...}]}")
    if len(inputs) > BATCH_MAX:
        raise BadRequest(f"Batch input has {len(inputs)} inputs; the limit is {BATCH_MAX}")
    ids = [str(i.get("id")) for i in inputs]
    duplicated = sorted({i for i in ids if ids.count(i) > 1})
    if duplicated:
        raise BadRequest(f"Duplicate IDs found in batch input: {duplicated}. IDs must be unique")
    return inputs


def _problems(emu: HubSpotEmulator, otype: ObjectType, values: dict[str, str]) -> list[dict]:
    """HubSpot's per-property validation results for the values that cannot be written."""
    schema = emu.portal.properties[otype.name]
    problems = []
    for name, value in values.items():
        code = "PROPERTY_DOESNT_EXIST" if name not in schema else schema[name].invalid(value)
        if code:
            problems.append(err.property_problem(name, code, value))
    return problems


def _not_found_error(otype: ObjectType, ids: list[str]) -> dict:
    return err.batch_error("OBJECT_NOT_FOUND", f"Could not get some {otype.singular.upper()} objects, they may "
                           "be deleted or not exist. Check that ids are valid.", ids)


def _batch_response(results: list, errors: list, started, completed) -> Response:
    body = {"status": "COMPLETE", "results": results, "startedAt": iso(started), "completedAt": iso(completed)}
    if not errors:
        return Response(200, body)
    body.update(numErrors=len(errors), errors=errors)
    return Response(207, body)
