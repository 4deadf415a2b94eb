"""HubSpot object types and property definitions for the sandbox emulator.

HubSpot describes every CRM field as a *property* with a ``type`` (what is stored)
and a ``fieldType`` (how the UI edits it).  All values travel as strings on the
wire; the type decides how a written value is validated and how search compares
values (numbers numerically, dates as instants, everything else as text).

:data:`OBJECT_TYPES` is the table of the four object types the emulator serves,
with the scopes a private-app token needs and the properties returned when a
request names none.  :func:`standard_properties` gives each type's built-in
properties; the book projection (``hs_book.py``) adds the custom ones.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

EPOCH = dt.datetime(2020, 1, 1, tzinfo=dt.timezone.utc)
FIELD_TYPES = {  # type → field types HubSpot accepts with it
    "string": {"text", "textarea", "file"},
    "number": {"number", "calculation_equation"},
    "date": {"date"},
    "datetime": {"date"},
    "enumeration": {"select", "radio", "checkbox", "booleancheckbox"},
    "bool": {"booleancheckbox"},
}
NAME_RE = re.compile(r"^[a-z][a-z0-9_]{0,99}$")


@dataclass(frozen=True)
class ObjectType:
    """One CRM object type: names, scopes and default properties."""

    name: str                      # plural path segment, e.g. "companies"
    singular: str                  # "company" — used in association type labels
    type_id: str                   # HubSpot objectTypeId, e.g. "0-2"
    read_scope: str
    write_scope: str
    modified_prop: str             # the property that carries the last-modified instant
    defaults: tuple[str, ...]      # properties returned when none are requested
    searchable: tuple[str, ...]    # properties the free-text ``query`` matches

    @property
    def schema_read_scopes(self) -> tuple[str, ...]:
        """Reading property definitions works with either the object or schema scope."""
        return (self.read_scope, f"crm.schemas.{self.name}.read")

    @property
    def schema_write_scope(self) -> str:
        return "tickets" if self.name == "tickets" else f"crm.schemas.{self.name}.write"


OBJECT_TYPES: dict[str, ObjectType] = {
    t.name: t
    for t in (
        ObjectType("companies", "company", "0-2", "crm.objects.companies.read",
                   "crm.objects.companies.write", "hs_lastmodifieddate",
                   ("createdate", "domain", "hs_lastmodifieddate", "hs_object_id", "name"),
                   ("name", "domain")),
        ObjectType("contacts", "contact", "0-1", "crm.objects.contacts.read",
                   "crm.objects.contacts.write", "lastmodifieddate",
                   ("createdate", "email", "firstname", "hs_object_id", "lastmodifieddate", "lastname"),
                   ("email", "firstname", "lastname")),
        ObjectType("deals", "deal", "0-3", "crm.objects.deals.read", "crm.objects.deals.write",
                   "hs_lastmodifieddate",
                   ("amount", "closedate", "createdate", "dealname", "dealstage",
                    "hs_lastmodifieddate", "hs_object_id", "pipeline"),
                   ("dealname",)),
        ObjectType("tickets", "ticket", "0-5", "tickets", "tickets", "hs_lastmodifieddate",
                   ("content", "createdate", "hs_lastmodifieddate", "hs_object_id", "hs_pipeline",
                    "hs_pipeline_stage", "hs_ticket_category", "hs_ticket_priority", "subject"),
                   ("subject", "content")),
    )
}
# Paths may name a type by plural, singular or objectTypeId ("0-2").
TYPE_ALIASES = {alias: t for t in OBJECT_TYPES.values() for alias in (t.name, t.singular, t.type_id)}
ALWAYS_RETURNED = ("createdate", "hs_object_id")  # plus the type's modified_prop


@dataclass
class PropertyDef:
    """One property definition as the properties API describes it."""

    name: str
    label: str
    type: str
    field_type: str
    group: str
    options: list[tuple[str, str]] = field(default_factory=list)  # (value, label)
    description: str = ""
    hubspot_defined: bool = True
    read_only: bool = False
    created_at: dt.datetime = EPOCH
    display_order: int = -1

    def to_json(self) -> dict:
        """The ``Property`` body of the properties API."""
        stamp = iso(self.created_at)
        return {
            "name": self.name, "label": self.label, "type": self.type, "fieldType": self.field_type,
            "description": self.description, "groupName": self.group,
            "options": [{"value": v, "label": lbl, "displayOrder": i, "hidden": False}
                        for i, (v, lbl) in enumerate(self.options)],
            "displayOrder": self.display_order, "calculated": False, "externalOptions": False,
            "hasUniqueValue": False, "hidden": False, "hubspotDefined": self.hubspot_defined,
            "formField": not self.read_only, "archived": False, "createdAt": stamp, "updatedAt": stamp,
            "modificationMetadata": {"archivable": not self.hubspot_defined,
                                     "readOnlyDefinition": self.hubspot_defined,
                                     "readOnlyValue": self.read_only},
        }

    def invalid(self, value: str) -> str | None:
        """Why ``value`` cannot be written to this property (``None`` when it can).

        An empty string clears a property and is always allowed.
        """
        if self.read_only:
            return "READ_ONLY_VALUE"
        if value == "":
            return None
        check = _CHECKS.get(self.type)
        return check(self, value) if check else None

    def sort_key(self, value: str | None):
        """Comparable form of a stored value: numbers and instants compare numerically."""
        if value is None or value == "":
            return None
        if self.type == "number":
            return _decimal(value)
        if self.type in ("date", "datetime"):
            return to_millis(value)
        return value.lower()


def _decimal(value: str) -> Decimal | None:
    try:
        number = Decimal(value)
    except InvalidOperation:
        return None
    return number if number.is_finite() else None


def to_millis(value: str) -> int | None:
    """Epoch milliseconds from either form HubSpot accepts: digits or ISO-8601."""
    if value.lstrip("-").isdigit():
        return int(value)
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.timezone.utc)
    return int(parsed.timestamp() * 1000)


def _check_number(prop: PropertyDef, value: str) -> str | None:
    return None if _decimal(value) is not None else "INVALID_DECIMAL"


def _check_instant(prop: PropertyDef, value: str) -> str | None:
    millis = to_millis(value)
    if millis is None:
        return "INVALID_DATE"
    if prop.type == "date" and millis % 86_400_000:
        return "INVALID_DATE"  # date properties hold UTC midnight only
    return None


def _check_option(prop: PropertyDef, value: str) -> str | None:
    allowed = {v for v, _ in prop.options}
    picked = value.split(";") if prop.field_type == "checkbox" else [value]
    return None if all(p in allowed for p in picked) else "INVALID_OPTION"


def _check_bool(prop: PropertyDef, value: str) -> str | None:
    return None if value.lower() in ("true", "false") else "INVALID_BOOLEAN"


_CHECKS = {"number": _check_number, "date": _check_instant, "datetime": _check_instant,
           "enumeration": _check_option, "bool": _check_bool}


def iso(stamp: dt.datetime) -> str:
    return stamp.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.") + f"{stamp.microsecond // 1000:03d}Z"

