"""Project the synthetic book (``book.py``) into Salesforce records.

Ids are derived from book keys (:func:`sf_schema.id_for_key`), so the same
account is ``001Sb…`` in every run and other emulators can compute the
Salesforce id of ``ACC-000042`` with ``id_for_key("Account", "ACC-000042")``.
The book key itself is kept in ``Account.AccountNumber``.

Value mapping (book → Salesforce):

* money ``*_minor`` → currency fields in major units (``/ 100``);
* book dates → ``date``; book instants (naive UTC) → aware UTC ``datetime``;
  ``NaT``/``NaN``/empty text → ``None``;
* ``created_at``/``updated_at``/``deleted`` → ``CreatedDate``/``SystemModstamp``
  (= ``LastModifiedDate``)/``IsDeleted``; a deleted row's stamp is its
  ``deleted_at``.

Conversion is column-wise (one pandas operation per column, then one ``zip``
into dicts), which keeps a 100,000-account book's projection linear and cheap.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Callable

import numpy as np
import pandas as pd

from connectors.sandbox.sf_schema import id_for_key

Record = dict[str, Any]
Columns = dict[str, list[Any]]

ACCOUNT_TYPE = {"active": "Customer", "churned": "Former Customer"}
CONTACT_ROLE = {"champion": "Champion", "sponsor": "Executive Sponsor", "user": "User"}
CASE_PRIORITY = {"low": "Low", "normal": "Medium", "high": "High", "urgent": "Critical"}
CASE_STATUS = {"open": "New", "pending": "Working", "closed": "Closed"}
CASE_TYPE = {"bug": "Problem", "how-to": "Question", "billing": "Billing",
             "feature-request": "Feature Request", "outage": "Outage"}
CONTRACT_STATUS = {"active": "Activated", "ended": "Expired", "churned": "Expired"}


# -- column converters (Series → list of plain Python values) -------------------------

def _missing(series: pd.Series) -> np.ndarray:
    mask = series.isna().to_numpy(dtype=bool)
    if series.dtype == object or pd.api.types.is_string_dtype(series.dtype):
        mask = mask | (series == "").fillna(False).to_numpy(dtype=bool)
    return mask


def _fill(values: np.ndarray, mask: np.ndarray) -> list[Any]:
    out = values.astype(object)
    out[mask] = None
    return out.tolist()


def text(series: pd.Series) -> list[Any]:
    return _fill(series.astype(object).to_numpy(), _missing(series))


def number(series: pd.Series) -> list[Any]:
    return _fill(series.astype(float).to_numpy(), _missing(series))


def integer(series: pd.Series) -> list[Any]:
    mask = _missing(series)
    return _fill(series.fillna(0).astype("int64").to_numpy(), mask)


def money(series: pd.Series) -> list[Any]:
    return _fill((series.astype(float) / 100.0).round(2).to_numpy(), _missing(series))


def flag(series: pd.Series) -> list[bool]:
    return series.fillna(False).astype(bool).tolist()


def day(series: pd.Series) -> list[Any]:
    stamps = pd.to_datetime(series)
    return _fill(np.array(stamps.dt.date, dtype=object), stamps.isna().to_numpy())


def instant(series: pd.Series) -> list[Any]:
    stamps = pd.to_datetime(series)
    if stamps.dt.tz is None:
        stamps = stamps.dt.tz_localize("UTC")
    values = np.array(stamps.dt.to_pydatetime(), dtype=object)
    return _fill(values, stamps.isna().to_numpy())


def mapped(series: pd.Series, mapping: dict[str, str], default: str | None) -> list[Any]:
    return [mapping.get(v, default) for v in series.tolist()]


def ref(series: pd.Series, obj: str) -> list[Any]:
    return [id_for_key(obj, str(v)) if isinstance(v, str) and v else None for v in series.tolist()]


def _get(frame: pd.DataFrame, column: str) -> pd.Series:
    """A column, or all-missing when the book does not have it."""
    return frame[column] if column in frame else pd.Series([None] * len(frame), index=frame.index, dtype=object)


def system(frame: pd.DataFrame, obj: str, key: str) -> Columns:
    created = instant(frame["created_at"])
    deleted = flag(_get(frame, "deleted"))
    updated = instant(_get(frame, "updated_at"))
    gone = instant(_get(frame, "deleted_at"))
    stamp = [(g if d and g else None) or u or c for c, d, u, g in zip(created, deleted, updated, gone)]
    return {"Id": [id_for_key(obj, k) for k in frame[key].tolist()], "IsDeleted": deleted,
            "CreatedDate": created, "LastModifiedDate": stamp, "SystemModstamp": stamp}


# -- one projection per object --------------------------------------------------------

def accounts(f: pd.DataFrame) -> Columns:
    domains = text(f["domain"])
    return {**system(f, "Account", "account_id"),
            "Name": text(f["name"]), "AccountNumber": text(f["account_id"]),
            "Type": mapped(f["status"], ACCOUNT_TYPE, "Customer"), "Industry": text(f["industry"]),
            "Segment__c": text(f["segment"]), "CSM_Name__c": text(f["owner"]),
            "CSM_Email__c": text(f["owner_email"]), "NumberOfEmployees": integer(f["employees"]),
            "ICP_Tier__c": text(f["icp_tier"]), "Licensed_Seats__c": number(f["licensed_seats"]),
            "Plan__c": text(f["plan"]), "Plan_Limit__c": number(f["plan_limit"]),
            "Website": [f"https://www.{d}" if d else None for d in domains], "Domain__c": domains,
            "BillingCountry": text(f["country"]), "CurrencyIsoCode": text(f["currency"]),
            "Billing_Interval__c": text(f["billing_interval"]),
            "Customer_Since__c": day(f["customer_since"]), "Churned_On__c": day(f["churned_on"]),
            "Champion__c": ref(_get(f, "champion_contact_id"), "Contact"),
            "Executive_Sponsor__c": ref(_get(f, "sponsor_contact_id"), "Contact")}


def contacts(f: pd.DataFrame) -> Columns:
    first, last = text(f["first_name"]), text(f["last_name"])
    return {**system(f, "Contact", "contact_id"), "AccountId": ref(f["account_id"], "Account"),
            "FirstName": first, "LastName": last,
            "Name": [" ".join(p for p in pair if p) for pair in zip(first, last)],
            "Email": text(f["email"]), "Title": text(f["title"]), "Phone": text(f["phone"]),
            "Contact_Role__c": mapped(f["role"], CONTACT_ROLE, "User"),
            "Product_User_Id__c": text(f["user_id"])}


def opportunities(f: pd.DataFrame) -> Columns:
    stages = text(f["stage"])
    return {**system(f, "Opportunity", "opportunity_id"), "AccountId": ref(f["account_id"], "Account"),
            "Name": text(f["name"]), "StageName": stages, "IsWon": [s == "Closed Won" for s in stages],
            "IsClosed": [s in ("Closed Won", "Closed Lost") for s in stages],
            "Amount": money(f["amount_minor"]), "CloseDate": day(f["close_date"]), "Type": text(f["type"]),
            "Contract_Start__c": day(f["contract_start"]), "Contract_End__c": day(f["contract_end"]),
            "Term_Months__c": number(f["term_months"]), "Loss_Reason__c": text(f["loss_reason"]),
            "Loss_Detail__c": text(f["loss_detail"]), "CurrencyIsoCode": text(f["currency"]),
            "Owner_Name__c": text(f["owner"])}


def _term_months(starts: list[Any], ends: list[Any]) -> list[Any]:
    """Whole months from start to the day after the inclusive end (null when open-ended)."""
    out = []
    for start, end in zip(starts, ends):
        if start is None or end is None:
            out.append(None)
            continue
        after = end + dt.timedelta(days=1)
        out.append((after.year - start.year) * 12 + after.month - start.month)
    return out


def contracts(f: pd.DataFrame) -> Columns:
    starts, ends = day(f["start_date"]), day(f["end_date"])
    return {**system(f, "Contract", "contract_id"), "AccountId": ref(f["account_id"], "Account"),
            "ContractNumber": [f"{n:08d}" for n in range(1, len(f) + 1)],
            "Status": mapped(f["status"], CONTRACT_STATUS, "Activated"), "StartDate": starts, "EndDate": ends,
            "ContractTerm": _term_months(starts, ends), "Opportunity__c": ref(_get(f, "opportunity_id"), "Opportunity"),
            "Subscription_Id__c": text(f["subscription_id"]), "Product__c": text(f["product"]),
            "Plan__c": text(f["plan"]), "Price_Id__c": text(f["price_id"]), "Change_Type__c": text(f["change"]),
            "Billing_Interval__c": text(f["interval"]), "Quantity__c": number(f["quantity"]),
            "Unit_Price__c": money(f["unit_amount_minor"]), "Discount_Percent__c": number(f["discount_percent"]),
            "Discount_End__c": day(f["discount_end"]), "List_MRR__c": money(f["list_mrr_minor"]),
            "MRR__c": money(f["mrr_minor"]), "CurrencyIsoCode": text(f["currency"]),
            "Auto_Renew__c": flag(f["auto_renew"])}


def cases(f: pd.DataFrame) -> Columns:
    statuses = mapped(f["status"], CASE_STATUS, "New")
    return {**system(f, "Case", "ticket_id"), "AccountId": ref(f["account_id"], "Account"),
            "ContactId": ref(_get(f, "contact_id"), "Contact"),
            "CaseNumber": [f"{n:08d}" for n in range(1, len(f) + 1)],
            "Subject": text(f["subject"]), "Description": text(f["body"]),
            "Priority": mapped(f["priority"], CASE_PRIORITY, "Medium"), "Status": statuses,
            "IsClosed": [s == "Closed" for s in statuses], "Type": mapped(f["category"], CASE_TYPE, None),
            "Origin": ["Email"] * len(f), "ClosedDate": instant(_get(f, "closed_at")),
            "CSAT__c": number(_get(f, "csat"))}


PROJECTIONS: dict[str, tuple[str, Callable[[pd.DataFrame], Columns]]] = {
    "Account": ("accounts", accounts),
    "Contact": ("contacts", contacts),
    "Opportunity": ("opportunities", opportunities),
    "Contract": ("contracts", contracts),
    "Case": ("tickets", cases),
}


def project(book: Any) -> dict[str, list[Record]]:
    """All Salesforce records for ``book``, per object, in book order."""
    out = {}
    for obj, (table, convert) in PROJECTIONS.items():
        columns = convert(book.table(table))
        names = list(columns)
        out[obj] = [dict(zip(names, values)) for values in zip(*columns.values())]
    return out
