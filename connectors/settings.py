"""Typed settings for each source: where it lives, how fast we may call it, and which
vendor fields hold which canonical column.

Mounted by the config shell under ``[sources.salesforce]``, ``[sources.hubspot]`` and
``[sources.stripe]`` in ``nrr.toml``; ``[sync]`` holds the account-linking rules.
``base_url`` and ``ca_bundle`` exist so the sandbox and the real vendors run the same
code: leave them unset in production. Credentials never live here (credentials.toml).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Literal

from pydantic import Field, field_validator

from engine.records import CHURN_REASON_CATEGORIES, SEGMENTS
from engine.settings import EngineModel


class SourceSettings(EngineModel):
    """What every source shares."""

    enabled: bool = False
    base_url: str | None = None
    ca_bundle: str | None = None
    rate_limit: float | None = None        # calls per second; None = vendor default
    timeout_seconds: float = 30.0
    max_attempts: int = Field(8, ge=1, le=20)
    lookback_minutes: int = Field(5, ge=0)


def _check_segments(v: dict[str, str]) -> dict[str, str]:
    bad = sorted(s for s in v.values() if s not in SEGMENTS)
    if bad:
        raise ValueError(f"segment_map values {bad} are not segments; use one of {', '.join(SEGMENTS)}")
    return v


def _check_reasons(v: dict[str, str]) -> dict[str, str]:
    bad = sorted(r for r in v.values() if r not in CHURN_REASON_CATEGORIES)
    if bad:
        raise ValueError(f"loss_reason_map values {bad} are not churn reasons; use one of "
                         f"{', '.join(CHURN_REASON_CATEGORIES)}")
    return v


class CrmMapping(EngineModel):
    """Field mappings common to both CRMs (vendor field names; None = not mapped).

    A won deal becomes a contract line: ``mrr = amount / 12`` when ``amount_basis`` is
    ``annual`` (the deal amount is a yearly value), ``amount / term`` when ``total``
    (the whole contract's value), ``amount`` when ``monthly``. A lost deal whose type is
    in ``churn_types`` becomes a churn reason through ``loss_reason_map``.
    """

    won_stages: list[str]
    lost_stages: list[str]
    amount_basis: Literal["annual", "total", "monthly"] = "annual"
    default_term_months: int = Field(12, ge=1)
    churn_types: list[str] = Field(default_factory=lambda: ["Renewal"])
    type_map: dict[str, str] = Field(default_factory=lambda: {
        "New Business": "new", "Renewal": "renewal", "Upsell": "upsell", "Downgrade": "downgrade"})
    default_currency: str = "USD"
    segment_map: dict[str, str] = Field(default_factory=dict)
    loss_reason_map: dict[str, str] = Field(default_factory=dict)
    champion_role: str = "Champion"
    sponsor_role: str = "Executive Sponsor"

    _segments = field_validator("segment_map")(_check_segments)
    _reasons = field_validator("loss_reason_map")(_check_reasons)

    def outcome(self, stage: str | None) -> str | None:
        """``won``, ``lost`` or None (open, or a stage we do not count)."""
        return "won" if stage in self.won_stages else "lost" if stage in self.lost_stages else None

    def change(self, deal_type: str | None) -> str:
        return self.type_map.get(deal_type or "", "new")

    def is_churn(self, deal_type: str | None) -> bool:
        return deal_type in self.churn_types or self.change(deal_type) == "renewal"

    def churn_reason(self, value: str | None) -> str:
        """The vendor's loss reason as a churn category (already one, mapped, else other)."""
        v = (value or "").strip()
        return v if v in CHURN_REASON_CATEGORIES else self.loss_reason_map.get(v, "other")

    def segment(self, value: str | None) -> str | None:
        return value if value in SEGMENTS or not value else self.segment_map.get(value, value.lower())

    def deal_mrr(self, amount: Decimal, term_months: int | None) -> Decimal:
        """A won deal's monthly value: annual /12, total /term, monthly as is; a downgrade
        deal (its amount is the size of the cut) counts negative."""
        if self.amount_basis == "monthly":
            return amount
        months = 12 if self.amount_basis == "annual" else (term_months or self.default_term_months)
        return amount / months


class SalesforceFields(CrmMapping):
    """Salesforce field names. Contract lines come from the Contract object
    (``line_source = "contracts"``: one Contract per line with its MRR) or from won
    Opportunities (``"opportunities"``: amount and term). Relation paths such as
    ``Champion__r.Email`` are allowed."""

    won_stages: list[str] = Field(default_factory=lambda: ["Closed Won"])
    lost_stages: list[str] = Field(default_factory=lambda: ["Closed Lost"])
    line_source: Literal["contracts", "opportunities"] = "contracts"
    account: dict[str, str] = Field(default_factory=lambda: {
        "account_id": "AccountNumber", "name": "Name", "domain": "Domain__c", "segment": "Segment__c",
        "industry": "Industry", "owner": "CSM_Name__c", "employees": "NumberOfEmployees",
        "icp_tier": "ICP_Tier__c", "licensed_seats": "Licensed_Seats__c", "plan": "Plan__c",
        "plan_limit": "Plan_Limit__c", "customer_since": "Customer_Since__c",
        "champion_user_id": "Champion__r.Email", "sponsor_user_id": "Executive_Sponsor__r.Email"})
    opportunity: dict[str, str] = Field(default_factory=lambda: {
        "amount": "Amount", "currency": "CurrencyIsoCode", "close_date": "CloseDate", "stage": "StageName",
        "type": "Type", "start_date": "Contract_Start__c", "end_date": "Contract_End__c",
        "term_months": "Term_Months__c", "loss_reason": "Loss_Reason__c", "product": "Name"})
    contract: dict[str, str] = Field(default_factory=lambda: {
        "start_date": "StartDate", "end_date": "EndDate", "mrr": "MRR__c", "list_mrr": "List_MRR__c",
        "discount_end": "Discount_End__c", "quantity": "Quantity__c", "currency": "CurrencyIsoCode",
        "product": "Product__c", "status": "Status", "auto_renew": "Auto_Renew__c"})
    case: dict[str, str] = Field(default_factory=lambda: {
        "created_at": "CreatedDate", "closed_at": "ClosedDate", "priority": "Priority", "status": "Status",
        "subject": "Subject", "body": "Description", "csat": "CSAT__c"})


class SalesforceSettings(SourceSettings):
    api_version: str = "60.0"
    fields: SalesforceFields = Field(default_factory=SalesforceFields)


class HubSpotFields(CrmMapping):
    """HubSpot property names; deals in ``pipelines`` only. A deal's MRR is ``hs_mrr``
    when present, else ``hs_arr`` / 12, else from ``amount`` by ``amount_basis``."""

    won_stages: list[str] = Field(default_factory=lambda: ["closedwon"])
    lost_stages: list[str] = Field(default_factory=lambda: ["closedlost"])
    pipelines: list[str] = Field(default_factory=lambda: ["default"])
    company: dict[str, str] = Field(default_factory=lambda: {
        "account_id": "account_id", "name": "name", "domain": "domain", "segment": "segment",
        "industry": "industry", "employees": "numberofemployees", "icp_tier": "icp_tier",
        "licensed_seats": "licensed_seats", "plan": "plan", "plan_limit": "plan_limit",
        "customer_since": "customer_since"})
    deal: dict[str, str] = Field(default_factory=lambda: {
        "amount": "amount", "mrr": "hs_mrr", "arr": "hs_arr", "currency": "deal_currency_code", "close_date": "closedate",
        "stage": "dealstage", "pipeline": "pipeline", "type": "contract_change",
        "start_date": "contract_start_date", "end_date": "contract_end_date", "term_months": "term_months",
        "loss_reason": "closed_lost_reason", "product": "dealname"})
    ticket: dict[str, str] = Field(default_factory=lambda: {
        "created_at": "createdate", "closed_at": "closed_date", "priority": "hs_ticket_priority",
        "status": "hs_pipeline_stage", "subject": "subject", "body": "content", "csat": "csat_score"})
    type_map: dict[str, str] = Field(default_factory=lambda: {
        "new": "new", "renewal": "renewal", "upsell": "upsell", "downgrade": "downgrade",
        "newbusiness": "new", "existingbusiness": "renewal"})
    churn_types: list[str] = Field(default_factory=lambda: ["renewal"])
    champion_role: str = "CHAMPION"
    sponsor_role: str = "EXECUTIVE_SPONSOR"


class HubSpotSettings(SourceSettings):
    rate_limit: float | None = 10.0        # private apps: 100 requests / 10 s
    rate_window_seconds: float = 10.0
    page_size: int = Field(200, ge=1, le=200)
    fields: HubSpotFields = Field(default_factory=HubSpotFields)


class StripeSettings(SourceSettings):
    """``past_due_grace_days``: a past-due subscription keeps counting as revenue this
    many days from the start of its unpaid period (the dunning window, 3-5-7-14 days)."""

    rate_limit: float | None = 25.0        # test mode: 25 requests / s
    page_size: int = Field(100, ge=1, le=100)
    account_metadata_key: str = "crm_account_id"
    past_due_grace_days: int = Field(14, ge=0)
    event_retention_days: int = 30
    #: a full listing of invoices/subscriptions is read as this many time windows at once
    parallel_listings: int = Field(4, ge=1, le=16)


class SyncSettings(EngineModel):
    """``[sync]``: how records find their canonical account.

    ``primary`` is the CRM whose accounts define ``account_id`` (the value of its mapped
    ``account_id`` field, else its own record id). ``links_file`` (relative to the project) is a
    CSV ``source,source_id,account_id`` of explicit links, read on every sync; a link there
    wins over every rule.
    """

    primary: Literal["salesforce", "hubspot"] = "salesforce"
    links_file: str = "links.csv"


SOURCE_MODELS: dict[str, type[SourceSettings]] = {
    "salesforce": SalesforceSettings, "hubspot": HubSpotSettings, "stripe": StripeSettings}


def source_settings(sources: dict[str, Any] | None) -> dict[str, SourceSettings]:
    """Typed settings of our sources from ``[sources]`` (raw tables or already-validated
    models); other entries such as ``files`` belong to the file importer."""
    out = {}
    for name, model in SOURCE_MODELS.items():
        value = (sources or {}).get(name, {})
        out[name] = value if isinstance(value, model) else model.model_validate(value)
    return out
