"""Record updates (single and ``composite/sobjects``) and custom-field creation.

Update rules, per record, in Salesforce's order: the object must exist
(``INVALID_TYPE``), the id must be given (``MISSING_ARGUMENT``), exist
(``INVALID_CROSS_REFERENCE_KEY``) and not be deleted (``ENTITY_IS_DELETED``);
every field must exist and be updateable (``INVALID_FIELD``) and hold a value
of the field's type (``INVALID_TYPE_ON_FIELD_IN_RECORD``, ``STRING_TOO_LONG``).
A successful write replaces the record dict (so open query cursors keep their
snapshot) and stamps ``LastModifiedDate`` / ``SystemModstamp``.

``allOrNone=true``: one failure fails the whole batch; the valid records get
``ALL_OR_NONE_OPERATION_ROLLED_BACK`` and nothing is written.

Custom fields are created through the Tooling API
(``POST /services/data/vXX.X/tooling/sobjects/CustomField`` with
``{"FullName": "Account.NRR_Health_Score__c", "Metadata": {"type": "Number",
"label": ..., "precision": 18, "scale": 2}}``).
"""

from __future__ import annotations

import datetime as dt
import itertools
import re
from typing import Any

from connectors.sandbox.sf_schema import Field, coerce, normalise_id, salesforce_id

Record = dict[str, Any]
MAX_COMPOSITE = 200
ROLLED_BACK = {"statusCode": "ALL_OR_NONE_OPERATION_ROLLED_BACK", "fields": [],
               "message": "Record rolled back because not all records were valid and the request was using AllOrNone header"}
TOOLING_TYPES = {
    "Text": ("string", 255), "TextArea": ("textarea", 255), "LongTextArea": ("textarea", 32768),
    "Number": ("double", 0), "Percent": ("percent", 0), "Currency": ("currency", 0),
    "Date": ("date", 0), "DateTime": ("datetime", 0), "Checkbox": ("boolean", 0),
    "Picklist": ("picklist", 255), "Url": ("url", 255), "Email": ("email", 80),
}


class WriteError(Exception):
    """A whole-request error: HTTP ``status`` with a REST ``errorCode``."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code = status, code


def _error(code: str, message: str, fields: list[str] | None = None) -> dict[str, Any]:
    return {"statusCode": code, "message": message, "fields": fields or []}


class Writer:
    """Validates and applies writes to the emulator's records (caller holds the lock)."""

    def __init__(self, schemas: dict[str, dict[str, Field]], records: dict[str, dict[str, Record]]) -> None:
        self.schemas = schemas
        self.records = records
        self._field_numbers = itertools.count(1)

    def check(self, obj: str | None, rec_id: str | None, values: dict[str, Any]) -> tuple[dict, list[dict]]:
        """Return ``(coerced values, errors)`` for one update."""
        if obj not in self.schemas:
            return {}, [_error("INVALID_TYPE", f"sObject type '{obj}' is not supported.")]
        if not rec_id:
            return {}, [_error("MISSING_ARGUMENT", "Id not specified in an update call")]
        current = self.records[obj].get(normalise_id(rec_id))
        if current is None:
            return {}, [_error("INVALID_CROSS_REFERENCE_KEY", f"invalid cross reference id: {rec_id}")]
        if current["IsDeleted"]:
            return {}, [_error("ENTITY_IS_DELETED", "entity is deleted")]
        return self._coerce(obj, values)

    def _coerce(self, obj: str, values: dict[str, Any]) -> tuple[dict, list[dict]]:
        schema, out, errors = self.schemas[obj], {}, []
        for name, value in values.items():
            fld = next((f for key, f in schema.items() if key.lower() == name.lower()), None)
            if fld is None:
                errors.append(_error("INVALID_FIELD", f"No such column '{name}' on sobject of type {obj}", [name]))
            elif not fld.updateable:
                errors.append(_error("INVALID_FIELD", f"Unable to create/update fields: {fld.name}. Please check "
                                     "the security settings of this field.", [fld.name]))
            else:
                try:
                    out[fld.name] = coerce(fld, value)
                except OverflowError as exc:
                    errors.append(_error("STRING_TOO_LONG", str(exc), [fld.name]))
                except ValueError as exc:
                    errors.append(_error("INVALID_TYPE_ON_FIELD_IN_RECORD", str(exc), [fld.name]))
        return out, errors

    def apply(self, obj: str, rec_id: str, values: dict[str, Any], now: dt.datetime) -> str:
        rec_id = normalise_id(rec_id)
        updated = {**self.records[obj][rec_id], **values, "LastModifiedDate": now, "SystemModstamp": now}
        _derive(obj, updated)
        self.records[obj][rec_id] = updated
        return rec_id

    def composite_update(self, body: Any, now: dt.datetime) -> list[dict[str, Any]]:
        """``PATCH composite/sobjects``: per-record ``{id, success, errors}`` results."""
        items, all_or_none = _composite_items(body)
        checked = []
        for item in items:
            attrs = item.get("attributes") or {}
            rec_id = item.get("id") or item.get("Id")
            values = {k: v for k, v in item.items() if k not in ("attributes", "id", "Id")}
            checked.append((attrs.get("type"), rec_id, *self.check(attrs.get("type"), rec_id, values)))
        failed = any(errors for *_, errors in checked)
        results = []
        for obj, rec_id, values, errors in checked:
            if errors:
                results.append({"success": False, "errors": errors})
            elif all_or_none and failed:
                results.append({"success": False, "errors": [dict(ROLLED_BACK)]})
            else:
                results.append({"id": self.apply(obj, rec_id, values, now), "success": True, "errors": []})
        return results

    def create_custom_field(self, body: Any) -> dict[str, Any]:
        """Tooling ``CustomField`` create → ``{id, success, errors}`` (201)."""
        if not isinstance(body, dict):
            raise WriteError(400, "JSON_PARSER_ERROR", "expected a JSON object with FullName and Metadata")
        full_name, meta = body.get("FullName") or "", body.get("Metadata") or {}
        match = re.fullmatch(r"(\w+)\.([A-Za-z][A-Za-z0-9_]*__c)", full_name)
        if not match or match.group(1) not in self.schemas:
            raise WriteError(400, "INVALID_INPUT", f"FullName must be Object.Field__c on a known object, got {full_name!r}")
        obj, name = match.groups()
        if any(key.lower() == name.lower() for key in self.schemas[obj]):
            raise WriteError(400, "DUPLICATE_DEVELOPER_NAME", f"There is already a field named {name} on {obj}.")
        kind = TOOLING_TYPES.get(meta.get("type"))
        if kind is None:
            raise WriteError(400, "FIELD_INTEGRITY_EXCEPTION", f"unsupported field type {meta.get('type')!r}; "
                             f"use one of {sorted(TOOLING_TYPES)}")
        fld = Field(name, kind[0], int(meta.get("length") or kind[1]), custom=True, label=meta.get("label") or "",
                    precision=int(meta.get("precision") or 0), scale=int(meta.get("scale") or 0))
        self.schemas[obj][name] = fld
        return {"id": salesforce_id("CustomField", next(self._field_numbers)), "success": True,
                "errors": [], "warnings": [], "infos": []}


def _composite_items(body: Any) -> tuple[list[dict], bool]:
    if not isinstance(body, dict) or not isinstance(body.get("records"), list):
        raise WriteError(400, "JSON_PARSER_ERROR", "expected {\"allOrNone\": bool, \"records\": [...]}")
    records = body["records"]
    if len(records) > MAX_COMPOSITE:
        raise WriteError(400, "EXCEEDED_ID_LIMIT", "record limit reached. cannot submit more than "
                         f"{MAX_COMPOSITE} records into this call")
    if not all(isinstance(r, dict) for r in records):
        raise WriteError(400, "JSON_PARSER_ERROR", "every entry of records must be an object")
    return records, bool(body.get("allOrNone", False))


def _derive(obj: str, rec: Record) -> None:
    """Keep read-only formula-like fields consistent with what was written."""
    if obj == "Contact":
        rec["Name"] = " ".join(p for p in (rec.get("FirstName"), rec.get("LastName")) if p)
    if obj == "Opportunity":
        rec["IsWon"] = rec.get("StageName") == "Closed Won"
        rec["IsClosed"] = rec.get("StageName") in ("Closed Won", "Closed Lost")
    if obj == "Case":
        rec["IsClosed"] = rec.get("Status") == "Closed"
