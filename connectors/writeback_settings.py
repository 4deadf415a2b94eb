"""``[writeback]`` in nrr.toml: which CRM fields receive which health values.

Each target maps a canonical field (see :data:`engine.account_fields.FIELDS`) to the CRM
field that receives it. Only mapped fields are ever written; map a field to ``""`` to
stop writing it. Defaults are the fields ``nrr crm setup`` creates: a Salesforce custom
field set on Account (``NRR_Health_Score__c`` …) and a HubSpot company property group
``nrr_engine`` (``nrr_health_score`` …)::

    [writeback.salesforce]
    enabled = true
    create_missing_fields = false     # let `nrr run` create missing fields first
    [writeback.salesforce.fields]
    health_score = "Health__c"        # write the score into an existing field
    top_drivers = ""                  # never write the drivers

A target is written only when its source is enabled under ``[sources.<name>]`` too.
Batch sizes default to the vendor maxima (Salesforce sObject Collections 200 records,
HubSpot batch update 100 inputs).
"""

from __future__ import annotations

from pydantic import Field, field_validator

from engine.account_fields import FIELDS
from engine.settings import EngineModel


def _sf_default() -> dict[str, str]:
    names = {"health_change_7d": "NRR_Health_Change_7d__c", "health_change_30d": "NRR_Health_Change_30d__c",
             "renewal_rag": "NRR_Renewal_RAG__c"}
    return {f: names.get(f, "NRR_" + "_".join(p.capitalize() for p in f.split("_")) + "__c") for f in FIELDS}


def _hs_default() -> dict[str, str]:
    return {f: f"nrr_{f}" for f in FIELDS}


def _known(mapping: dict[str, str]) -> dict[str, str]:
    unknown = sorted(set(mapping) - set(FIELDS))
    if unknown:
        raise ValueError(f"unknown field(s) {unknown}; map some of {', '.join(FIELDS)}")
    return mapping


class TargetSettings(EngineModel):
    """One CRM target. ``fields``: canonical field → CRM field (``""`` = not written)."""

    enabled: bool = True
    create_missing_fields: bool = False
    fields: dict[str, str]
    batch_size: int

    _check = field_validator("fields")(_known)

    def mapped(self) -> dict[str, str]:
        """canonical → CRM field, for the mapped fields only, defaults filled in."""
        return {k: v for k, v in self.fields.items() if v}


class SalesforceTarget(TargetSettings):
    object: str = "Account"
    fields: dict[str, str] = Field(default_factory=_sf_default)
    batch_size: int = Field(200, ge=1, le=200)

    @field_validator("fields")
    @classmethod
    def _defaults(cls, v: dict[str, str]) -> dict[str, str]:
        return {**_sf_default(), **v}


class HubSpotTarget(TargetSettings):
    object: str = "companies"
    group: str = "nrr_engine"
    group_label: str = "NRR Engine"
    fields: dict[str, str] = Field(default_factory=_hs_default)
    batch_size: int = Field(100, ge=1, le=100)

    @field_validator("fields")
    @classmethod
    def _defaults(cls, v: dict[str, str]) -> dict[str, str]:
        return {**_hs_default(), **v}


class WritebackSettings(EngineModel):
    """``[writeback]``: the two CRM targets and the length of short text values."""

    salesforce: SalesforceTarget = Field(default_factory=SalesforceTarget)
    hubspot: HubSpotTarget = Field(default_factory=HubSpotTarget)
    text_length: int = Field(255, ge=20, le=255)

    def target(self, name: str) -> TargetSettings:
        return {"salesforce": self.salesforce, "hubspot": self.hubspot}[name]


TARGETS = ("salesforce", "hubspot")
