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

import numpy as np
import pandas as pd

from connectors.sandbox.hs_data import HsObject, Owner, Portal

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
    contacts = _add_contacts(portal, book.contacts, companies)
    champions = dict(zip(book.accounts["account_id"], book.accounts["champion_contact_id"]))
    _add_deals(portal, book.opportunities, companies, contacts, champions, owners)
    _add_tickets(portal, book.tickets, companies, contacts)
    return portal


# Column converters: whole columns at once, ``None`` wherever HubSpot would have no value.

def _ids(type_name: str, keys: pd.Series) -> list[int]:
    digits = keys.astype(str).str.replace(r"\D", "", regex=True)
    if (digits == "").any():
        bad = keys[digits == ""].iloc[0]
        raise ValueError(f"book id {bad!r} has no number to derive a HubSpot {type_name} id from")
    return (ID_BASES[type_name] + digits.astype("int64")).tolist()


def _text(values: pd.Series) -> list:
    values = values.astype(object)
    return values.where(values.notna() & (values.astype(str) != ""), None).tolist()


def _whole(values: pd.Series) -> list:
    return [None if pd.isna(v) else str(int(v)) for v in values.tolist()]


def _days(values: pd.Series) -> list:
    values = pd.to_datetime(values)
    return values.dt.strftime("%Y-%m-%d").astype(object).where(values.notna(), None).tolist()


def _instants(values: pd.Series) -> pd.Series:
    """Book instants (naive UTC, sub-millisecond digits) as aware UTC at HubSpot's millisecond precision."""
    return pd.to_datetime(values).dt.floor("ms").dt.tz_localize("UTC")


def _isos(values: pd.Series) -> list:
    text = values.dt.strftime("%Y-%m-%dT%H:%M:%S.%f").str[:23] + "Z"
    return text.astype(object).where(values.notna(), None).tolist()


def _money(minor) -> str:
    """Minor units as HubSpot's plain decimal string (``1234.5``, ``12000``)."""
    return format((Decimal(int(minor)) / 100).normalize(), "f")


def _store(portal: Portal, type_name: str, ids: list[int], columns: dict[str, list], frame: pd.DataFrame) -> None:
    """Add one object per row: ``columns`` are its property values (``None`` = unset)."""
    created = _instants(frame["created_at"])
    updated = _instants(frame["updated_at"]).fillna(created) if "updated_at" in frame else created
    deleted = frame["deleted"].tolist() if "deleted" in frame else [False] * len(frame)
    gone = _instants(frame["deleted_at"]).fillna(updated) if "deleted_at" in frame else updated
    stamps = {"createdate": _isos(created), "hs_lastmodifieddate": _isos(updated)}
    if type_name == "contacts":
        stamps["lastmodifieddate"] = stamps["hs_lastmodifieddate"]
    columns = {**columns, **stamps}
    made, changed, removed = (list(v.dt.to_pydatetime()) for v in (created, updated, gone))
    objs = []
    for i, object_id in enumerate(ids):
        props = {name: values[i] for name, values in columns.items() if values[i] is not None}
        objs.append(HsObject(object_id, props, made[i], changed[i], archived=bool(deleted[i]),
                             archived_at=removed[i] if deleted[i] else None))
    portal.load(type_name, objs)


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
        portal.properties[type_name]["hubspot_owner_id"].options = [(str(i), name) for name, i in ids.items()]
    return ids


def _industry_code(label: str) -> str:
    return re.sub(r"[^A-Z0-9]+", "_", label.upper()).strip("_")


def _add_companies(portal: Portal, accounts: pd.DataFrame, owners: dict[str, int]) -> dict[str, int]:
    labels = sorted(accounts["industry"].dropna().unique())
    portal.properties["companies"]["industry"].options = [(_industry_code(x), x) for x in labels]
    ids = _ids("companies", accounts["account_id"])
    _store(portal, "companies", ids, {
        "name": _text(accounts["name"]), "domain": _text(accounts["domain"]),
        "industry": _text(accounts["industry"].map(_industry_code)),
        "numberofemployees": _whole(accounts["employees"]), "country": _text(accounts["country"]),
        "lifecyclestage": _text(accounts["status"].map({"active": "customer"}).fillna("other")),
        "hubspot_owner_id": _whole(accounts["owner"].map(owners)), "account_id": _text(accounts["account_id"]),
        "segment": _text(accounts["segment"]), "icp_tier": _text(accounts["icp_tier"]),
        "licensed_seats": _whole(accounts["licensed_seats"]), "plan": _text(accounts["plan"]),
        "plan_limit": _whole(accounts["plan_limit"]), "customer_since": _days(accounts["customer_since"]),
    }, accounts)
    return dict(zip(accounts["account_id"], ids))


def _add_contacts(portal: Portal, contacts: pd.DataFrame, companies: dict[str, int]) -> dict[str, int]:
    ids, company = _ids("contacts", contacts["contact_id"]), contacts["account_id"].map(companies)
    _store(portal, "contacts", ids, {
        "email": _text(contacts["email"]), "firstname": _text(contacts["first_name"]),
        "lastname": _text(contacts["last_name"]), "jobtitle": _text(contacts["title"]),
        "phone": _text(contacts["phone"]), "associatedcompanyid": _whole(company),
        "hs_buying_role": _text(contacts["role"].map(BUYING_ROLES)), "product_user_id": _text(contacts["user_id"]),
    }, contacts)
    for object_id, company_id in zip(ids, company.tolist()):
        if not pd.isna(company_id):
            portal.associate("contacts", object_id, "companies", int(company_id), primary=True)
    return dict(zip(contacts["contact_id"], ids))


def _deal_columns(opps: pd.DataFrame, ids: list[int], owners: dict[str, int]) -> dict[str, list]:
    won, change = opps["is_won"].astype(bool), opps["type"].map(CHANGES).fillna("new")
    # HubSpot fills MRR/ARR from line items; about two in three won deals have them here.
    with_mrr = won & (np.asarray(ids) % 3 != 0)
    minor = opps["amount_minor"].astype("int64")
    return {
        "dealname": _text(opps["name"]), "amount": [_money(m) for m in minor.tolist()],
        "closedate": [d and f"{d}T00:00:00.000Z" for d in _days(opps["close_date"])], "pipeline": ["default"] * len(ids),
        "dealstage": _text(won.map({True: "closedwon", False: "closedlost"})),
        "dealtype": _text(change.map(lambda c: "newbusiness" if c == "new" else "existingbusiness")),
        "deal_currency_code": _text(opps["currency"]), "contract_change": _text(change),
        "contract_start_date": _days(opps["contract_start"].where(won)),
        "contract_end_date": _days(opps["contract_end"].where(won)), "term_months": _whole(opps["term_months"]),
        "closed_lost_reason": _text(opps["loss_reason"]), "closed_lost_detail": _text(opps["loss_detail"]),
        "hubspot_owner_id": _whole(opps["owner"].map(owners)),
        "hs_mrr": [_money(m // 12) if w else None for m, w in zip(minor.tolist(), with_mrr.tolist())],
        "hs_arr": [_money(m) if w else None for m, w in zip(minor.tolist(), with_mrr.tolist())],
    }


def _add_deals(portal: Portal, opps: pd.DataFrame, companies: dict[str, int], contacts: dict[str, int],
               champions: dict[str, str], owners: dict[str, int]) -> None:
    ids = _ids("deals", opps["opportunity_id"])
    _store(portal, "deals", ids, _deal_columns(opps, ids, owners), opps)
    for object_id, account in zip(ids, opps["account_id"].tolist()):
        if account in companies:
            portal.associate("deals", object_id, "companies", companies[account], primary=True)
        champion = contacts.get(champions.get(account, ""))
        if champion is not None:
            portal.associate("deals", object_id, "contacts", champion)


def _add_tickets(portal: Portal, tickets: pd.DataFrame, companies: dict[str, int], contacts: dict[str, int]) -> None:
    ids = _ids("tickets", tickets["ticket_id"])
    csat = tickets["csat"] if "csat" in tickets else pd.Series(np.nan, index=tickets.index)
    _store(portal, "tickets", ids, {
        "subject": _text(tickets["subject"]), "content": _text(tickets["body"]), "hs_pipeline": ["0"] * len(ids),
        "hs_pipeline_stage": _text(tickets["status"].map(STAGES).fillna("1")),
        "hs_ticket_priority": _text(tickets["priority"].map(PRIORITIES).fillna("MEDIUM")),
        "hs_ticket_category": _text(tickets["category"].map(CATEGORIES)),
        "closed_date": _isos(_instants(tickets["closed_at"])),
        "csat_score": [None if pd.isna(v) else format(Decimal(str(v)).normalize(), "f") for v in csat.tolist()],
    }, tickets)
    for object_id, account, contact in zip(ids, tickets["account_id"].tolist(), tickets["contact_id"].tolist()):
        if account in companies:
            portal.associate("tickets", object_id, "companies", companies[account], primary=True)
        if contact in contacts:
            portal.associate("tickets", object_id, "contacts", contacts[contact])
