"""Salesforce object schemas, record ids and value encoding for the emulator.

Every object has the system fields ``Id`` (18-char id with the real case-safe
checksum), ``IsDeleted``, ``CreatedDate``, ``LastModifiedDate`` and
``SystemModstamp``.  Field lists per object are in :data:`OBJECTS` (see the
``salesforce`` module docstring for what each field holds).

Values are kept as Python types (``str``, ``float``, ``int``, ``bool``,
``datetime.date``, UTC ``datetime.datetime``, ``None``) and encoded the way
the REST API does: dates ``2026-01-31``, datetimes
``2026-01-31T09:30:00.000+0000``.
"""

from __future__ import annotations

import datetime as dt
import re
import zlib
from functools import lru_cache
from dataclasses import dataclass
from typing import Any

KEY_PREFIXES = {
    "Account": "001", "Contact": "003", "Opportunity": "006", "Contract": "800",
    "Case": "500", "User": "005", "CustomField": "00N", "Organization": "00D",
    "QueryLocator": "01g",
}
_BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_CHECKSUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"
NUMERIC = ("double", "currency", "percent", "int")


@dataclass
class Field:
    """One describe entry (the subset of attributes clients read)."""

    name: str
    type: str
    length: int = 0
    updateable: bool = True
    custom: bool = False
    reference_to: str | None = None
    label: str = ""
    precision: int = 0
    scale: int = 0

    @property
    def relationship_name(self) -> str | None:
        """``AccountId`` → ``Account``; ``Champion__c`` → ``Champion__r``."""
        if not self.reference_to:
            return None
        return self.name[:-2] if self.name.endswith("Id") else self.name.replace("__c", "__r")

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name, "label": self.label or _label(self.name), "type": self.type,
            "length": self.length, "updateable": self.updateable, "createable": self.updateable,
            "custom": self.custom, "nillable": self.name not in SYSTEM_FIELDS,
            "referenceTo": [self.reference_to] if self.reference_to else [],
            "relationshipName": self.relationship_name,
            "precision": self.precision, "scale": self.scale, "soapType": _soap_type(self.type),
            "picklistValues": [], "calculated": False, "filterable": True, "sortable": True,
        }


def _label(name: str) -> str:
    base = name[:-3] if name.endswith("__c") else name
    return re.sub(r"(?<=[a-z])(?=[A-Z])", " ", base).replace("_", " ")


def _soap_type(kind: str) -> str:
    return {"id": "tns:ID", "reference": "tns:ID", "boolean": "xsd:boolean", "date": "xsd:date",
            "datetime": "xsd:dateTime", "int": "xsd:int"}.get(kind, "xsd:double" if kind in NUMERIC else "xsd:string")


SYSTEM_FIELDS = ("Id", "IsDeleted", "CreatedDate", "LastModifiedDate", "SystemModstamp")


def _system() -> list[Field]:
    return [Field("Id", "id", 18, updateable=False), Field("IsDeleted", "boolean", updateable=False),
            Field("CreatedDate", "datetime", updateable=False),
            Field("LastModifiedDate", "datetime", updateable=False),
            Field("SystemModstamp", "datetime", updateable=False)]


def _f(spec: str) -> Field:
    """``"Name:type:length"`` (``ro`` suffix = read-only, ``>Object`` = reference)."""
    name, kind, *rest = spec.split(":")
    length = int(rest[0]) if rest and rest[0].isdigit() else (18 if kind == "reference" else 0)
    ref = next((r[1:] for r in rest if r.startswith(">")), None)
    return Field(name, kind, length, updateable="ro" not in rest, custom=name.endswith("__c"),
                 reference_to=ref, scale=2 if kind in ("currency", "double") else 0, precision=18)


def _schema(*specs: str) -> dict[str, Field]:
    fields = _system() + [_f(s) for s in specs]
    return {f.name: f for f in fields}


def build_objects() -> dict[str, dict[str, Field]]:
    """Fresh (mutable) schemas; custom fields created at run time are added here."""
    return {
        "Account": _schema(
            "Name:string:255", "AccountNumber:string:40", "Type:picklist:255", "Industry:picklist:255",
            "Segment__c:picklist:255", "CSM_Name__c:string:120", "CSM_Email__c:email:80",
            "NumberOfEmployees:int", "ICP_Tier__c:picklist:255", "Licensed_Seats__c:double",
            "Plan__c:picklist:255", "Plan_Limit__c:double", "Website:url:255", "Domain__c:string:255",
            "BillingCountry:string:80", "CurrencyIsoCode:picklist:3", "Billing_Interval__c:picklist:255",
            "Customer_Since__c:date", "Churned_On__c:date", "Champion__c:reference:>Contact",
            "Executive_Sponsor__c:reference:>Contact"),
        "Contact": _schema(
            "AccountId:reference:>Account", "FirstName:string:40", "LastName:string:80",
            "Name:string:121:ro", "Email:email:80", "Title:string:128", "Phone:phone:40",
            "Contact_Role__c:picklist:255", "Product_User_Id__c:string:64"),
        "Opportunity": _schema(
            "AccountId:reference:>Account", "Name:string:120", "StageName:picklist:255",
            "IsWon:boolean:ro", "IsClosed:boolean:ro", "Amount:currency", "CloseDate:date",
            "Type:picklist:255", "Contract_Start__c:date", "Contract_End__c:date",
            "Term_Months__c:double", "Loss_Reason__c:picklist:255", "Loss_Detail__c:textarea:32768",
            "CurrencyIsoCode:picklist:3", "Owner_Name__c:string:120"),
        "Contract": _schema(
            "AccountId:reference:>Account", "ContractNumber:string:30:ro", "Status:picklist:255",
            "StartDate:date", "EndDate:date:ro", "ContractTerm:int", "Opportunity__c:reference:>Opportunity",
            "Subscription_Id__c:string:64", "Product__c:string:120", "Plan__c:picklist:255",
            "Price_Id__c:string:64", "Change_Type__c:picklist:255", "Billing_Interval__c:picklist:255",
            "Quantity__c:double", "Unit_Price__c:currency", "Discount_Percent__c:percent",
            "Discount_End__c:date", "List_MRR__c:currency", "MRR__c:currency",
            "CurrencyIsoCode:picklist:3", "Auto_Renew__c:boolean"),
        "Case": _schema(
            "AccountId:reference:>Account", "ContactId:reference:>Contact", "CaseNumber:string:30:ro",
            "Subject:string:255", "Description:textarea:32000", "Priority:picklist:255",
            "Status:picklist:255", "IsClosed:boolean:ro", "Type:picklist:255", "Origin:picklist:255",
            "ClosedDate:datetime:ro", "CSAT__c:double"),
    }


def salesforce_id(object_name: str, number: int) -> str:
    """18-char id: key prefix + ``Sb`` + base62(number) padded to 10 + checksum."""
    digits = ""
    while True:
        number, rest = divmod(number, 62)
        digits = _BASE62[rest] + digits
        if number == 0:
            break
    if len(digits) > 10:
        raise ValueError(f"id number too large for {object_name}")
    return with_checksum(KEY_PREFIXES[object_name] + "Sb" + digits.rjust(10, "0"))


@lru_cache(maxsize=1 << 20)
def id_for_key(object_name: str, key: str) -> str:
    """Stable id for a book key such as ``ACC-000042`` (its digits, else a CRC32)."""
    digits = re.sub(r"\D", "", key)
    return salesforce_id(object_name, int(digits) if digits else zlib.crc32(key.encode()))


def with_checksum(id15: str) -> str:
    """Append the case-safe suffix: per 5-char chunk, a bit per upper-case letter."""
    return id15 + _chunk_char(id15[0:5]) + _chunk_char(id15[5:10]) + _chunk_char(id15[10:15])


@lru_cache(maxsize=1 << 16)
def _chunk_char(chunk: str) -> str:
    return _CHECKSUM[sum(1 << i for i, ch in enumerate(chunk) if "A" <= ch <= "Z")]


def normalise_id(value: str) -> str:
    """15-char ids are accepted anywhere an 18-char id is (as in Salesforce)."""
    return with_checksum(value) if len(value) == 15 else value


def encode(value: Any) -> Any:
    """Python value → REST JSON value."""
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}+0000"
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


_DATETIME = re.compile(r"^(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2}:\d{2})(\.\d+)?(Z|[+-]\d{2}:?\d{2})$")


def parse_datetime(text: str) -> dt.datetime:
    """``2026-01-31T09:30:00Z`` / ``.000+0000`` / ``+01:00`` → aware UTC datetime."""
    match = _DATETIME.match(text.strip())
    if not match:
        raise ValueError(f"not a Salesforce datetime: {text!r}")
    day, clock, frac, zone = match.groups()
    zone = "+00:00" if zone == "Z" else zone[:3] + ":" + zone[-2:]
    frac = (frac or ".0")[:7]
    return dt.datetime.fromisoformat(f"{day}T{clock}{frac}{zone}").astimezone(dt.timezone.utc)


def coerce(field_: Field, value: Any) -> Any:
    """JSON value from a write → stored Python value (``ValueError`` when it does not fit)."""
    if value is None:
        return None
    kind = field_.type
    if kind == "boolean":
        if not isinstance(value, bool):
            raise ValueError(f"{field_.name} expects true/false, got {value!r}")
        return value
    if kind in NUMERIC:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValueError(f"{field_.name} expects a number, got {value!r}")
        return int(value) if kind == "int" else float(value)
    if kind == "date":
        return dt.date.fromisoformat(str(value))
    if kind == "datetime":
        return parse_datetime(str(value))
    text = str(value)
    if field_.length and len(text) > field_.length:
        raise OverflowError(f"{field_.name}: data value too large: {text[:20]}... (max length={field_.length})")
    return text
