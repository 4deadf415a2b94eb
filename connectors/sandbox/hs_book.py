"""Projection of the book of business into a HubSpot portal.

Each book table becomes one object type (accounts → companies, contacts → contacts,
opportunities → deals, tickets → tickets); the property names are listed in
``hubspot.py``.  HubSpot ids are numeric and derived from the book id's number, so
they are stable across runs: ``hubspot_id("companies", "ACC-000031") == 20000000031``.
Book rows flagged ``deleted`` become archived objects.  Enumeration options that
depend on the data (industries, owners) are added to the property definitions here.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

import pandas as pd

from connectors.sandbox.hs_data import HsObject, Owner, Portal
from connectors.sandbox.hs_schema import iso

ID_BASES = {"companies": 20_000_000_000, "deals": 30_000_000_000, "tickets": 40_000_000_000,
            "contacts": 50_000_000_000}
OWNER_BASE, USER_BASE = 70_000_000, 9_000_000
BUYING_ROLES = {"champion": "CHAMPION", "sponsor": "EXECUTIVE_SPONSOR", "user": "END_USER"}
CHANGES = {"New Business": "new", "Renewal": "renewal", "Upsell": "upsell", "Downgrade": "downgrade"}
PRIORITIES = {"low": "LOW", "normal": "MEDIUM", "high": "HIGH", "urgent": "URGENT"}
STAGES = {"open": "1", "pending": "2", "closed": "4"}
CATEGORIES = {"bug": "PRODUCT_ISSUE", "outage": "PRODUCT_ISSUE", "how-to": "GENERAL_INQUIRY",
              "billing": "BILLING_ISSUE", "feature-request": "FEATURE_REQUEST"}


def hubspot_id(type_name: str, book_id: str) -> int:
    """The HubSpot id of a book row: the type's base plus the number in the book id."""
    digits = re.sub(r"\D", "", str(book_id))
    if not digits:
        raise ValueError(f"book id {book_id!r} has no number to derive a HubSpot {type_name} id from")
    return ID_BASES[type_name] + int(digits)


def project_book(book) -> Portal:
    """A portal holding the book's companies, contacts, deals and tickets, linked."""
    portal = Portal()
    owners = _add_owners(portal, book.accounts)
    companies = _add_companies(portal, book.accounts, owners)
    contacts = _add_contacts(portal, book.contacts, companies, owners)
    champions = dict(zip(book.accounts["account_id"], book.accounts["champion_contact_id"]))
    _add_deals(portal, book.opportunities, book.accounts, companies, contacts, champions, owners)
    _add_tickets(portal, book.tickets, companies, contacts)
    return portal


def _stamp(value) -> dt.datetime | None:
    """A book timestamp (naive UTC) as an aware datetime; ``None`` for NaT."""
    if value is None or pd.isna(value):
        return None
    return pd.Timestamp(value).to_pydatetime(warn=False).replace(tzinfo=dt.timezone.utc)


def _day(value) -> str | None:
    return None if value is None or pd.isna(value) else pd.Timestamp(value).strftime("%Y-%m-%d")


def _money(minor: int) -> str:
    """Minor units as HubSpot's plain decimal string (``1234.5``, ``12000``)."""
    return format((Decimal(int(minor)) / 100).normalize(), "f")


def _new(portal: Portal, type_name: str, object_id: int, props: dict, row: dict) -> HsObject:
    """Store one object; empty values are left out, as HubSpot leaves unset properties out."""
    created, updated = _stamp(row["created_at"]), _stamp(row.get("updated_at")) or _stamp(row["created_at"])
    values = {k: str(v) for k, v in props.items() if v is not None and v != "" and not pd.isna(v)}
    values.update(createdate=iso(created), hs_lastmodifieddate=iso(updated))
    if type_name == "contacts":
        values["lastmodifieddate"] = iso(updated)
    deleted = bool(row.get("deleted", False))
    obj = HsObject(object_id, values, created, updated, archived=deleted,
                   archived_at=(_stamp(row.get("deleted_at")) or updated) if deleted else None)
    return portal.add(type_name, obj)


def _add_owners(portal: Portal, accounts: pd.DataFrame) -> dict[str, int]:
    """One owner per CSM, ids in name order; returns CSM name → owner id."""
    pairs = accounts[["owner", "owner_email"]].drop_duplicates("owner").sort_values("owner")
    ids = {}
    for k, (name, email) in enumerate(pairs.itertuples(index=False), start=1):
        first, _, last = name.partition(" ")
        portal.owners.append(Owner(OWNER_BASE + k, email, first, last, USER_BASE + k,
                                   dt.datetime(2023, 1, 2, tzinfo=dt.timezone.utc)))
        ids[name] = OWNER_BASE + k
    for type_name in portal.properties:
        portal.properties[type_name]["hubspot_owner_id"].options = [
            (str(i), name) for name, i in ids.items()]
    return ids


def _industry_code(label: str) -> str:
    return re.sub(r"[^A-Z0-9]+", "_", label.upper()).strip("_")


def _add_companies(portal: Portal, accounts: pd.DataFrame, owners: dict[str, int]) -> dict[str, int]:
    labels = sorted(accounts["industry"].dropna().unique())
    portal.properties["companies"]["industry"].options = [(_industry_code(x), x) for x in labels]
    ids = {}
    for row in accounts.to_dict("records"):
        object_id = hubspot_id("companies", row["account_id"])
        _new(portal, "companies", object_id, {
            "name": row["name"], "domain": row["domain"], "industry": _industry_code(row["industry"]),
            "numberofemployees": row["employees"], "country": row["country"],
            "lifecyclestage": "customer" if row["status"] == "active" else "other",
            "hubspot_owner_id": owners.get(row["owner"]), "account_id": row["account_id"],
            "segment": row["segment"], "icp_tier": row["icp_tier"], "licensed_seats": row["licensed_seats"],
            "plan": row["plan"], "plan_limit": row["plan_limit"], "customer_since": _day(row["customer_since"]),
        }, row)
        ids[row["account_id"]] = object_id
    return ids


def _add_contacts(portal: Portal, contacts: pd.DataFrame, companies: dict[str, int],
                  owners: dict[str, int]) -> dict[str, int]:
    ids = {}
    for row in contacts.to_dict("records"):
        object_id, company = hubspot_id("contacts", row["contact_id"]), companies.get(row["account_id"])
        _new(portal, "contacts", object_id, {
            "email": row["email"], "firstname": row["first_name"], "lastname": row["last_name"],
            "jobtitle": row["title"], "phone": row["phone"], "associatedcompanyid": company,
            "hs_buying_role": BUYING_ROLES.get(row["role"]), "product_user_id": row["user_id"],
        }, row)
        if company is not None:
            portal.associate("contacts", object_id, "companies", company, primary=True)
        ids[row["contact_id"]] = object_id
    return ids


def _deal_props(row: dict, owners: dict[str, int]) -> dict:
    won, change = bool(row["is_won"]), CHANGES.get(row["type"], "new")
    props = {
        "dealname": row["name"], "amount": _money(row["amount_minor"]),
        "closedate": f"{_day(row['close_date'])}T00:00:00.000Z", "pipeline": "default",
        "dealstage": "closedwon" if won else "closedlost",
        "dealtype": "newbusiness" if change == "new" else "existingbusiness",
        "deal_currency_code": row["currency"], "contract_change": change,
        "contract_start_date": _day(row["contract_start"]) if won else None,
        "contract_end_date": _day(row["contract_end"]) if won else None,
        "term_months": row["term_months"], "closed_lost_reason": row["loss_reason"],
        "closed_lost_detail": row["loss_detail"], "hubspot_owner_id": owners.get(row["owner"]),
    }
    if won and hubspot_id("deals", row["opportunity_id"]) % 3:  # HubSpot fills MRR only when line items exist
        props.update(hs_mrr=_money(int(row["amount_minor"]) // 12), hs_arr=_money(row["amount_minor"]))
    return props


def _add_deals(portal: Portal, opps: pd.DataFrame, accounts: pd.DataFrame, companies: dict[str, int],
               contacts: dict[str, int], champions: dict[str, str], owners: dict[str, int]) -> None:
    if "account_id" not in opps:  # older books keep the account as a row position
        opps = opps.assign(account_id=accounts["account_id"].to_numpy()[opps["_acct"].to_numpy()])
    for row in opps.to_dict("records"):
        object_id = hubspot_id("deals", row["opportunity_id"])
        _new(portal, "deals", object_id, _deal_props(row, owners), row)
        if row["account_id"] in companies:
            portal.associate("deals", object_id, "companies", companies[row["account_id"]], primary=True)
        champion = contacts.get(champions.get(row["account_id"], ""))
        if champion is not None:
            portal.associate("deals", object_id, "contacts", champion)


def _add_tickets(portal: Portal, tickets: pd.DataFrame, companies: dict[str, int], contacts: dict[str, int]) -> None:
    for row in tickets.to_dict("records"):
        object_id = hubspot_id("tickets", row["ticket_id"])
        csat = row.get("csat")
        _new(portal, "tickets", object_id, {
            "subject": row["subject"], "content": row["body"], "hs_pipeline": "0",
            "hs_pipeline_stage": STAGES.get(row["status"], "1"),
            "hs_ticket_priority": PRIORITIES.get(row["priority"], "MEDIUM"),
            "hs_ticket_category": CATEGORIES.get(row["category"]),
            "closed_date": iso(_stamp(row["closed_at"])) if _stamp(row["closed_at"]) else None,
            "csat_score": None if csat is None or pd.isna(csat) else format(Decimal(str(csat)).normalize(), "f"),
        }, row)
        if row["account_id"] in companies:
            portal.associate("tickets", object_id, "companies", companies[row["account_id"]], primary=True)
        if row.get("contact_id") in contacts:
            portal.associate("tickets", object_id, "contacts", contacts[row["contact_id"]])
