"""Project the synthetic book (``book.py``) into Salesforce records.

Ids are derived from book keys (:func:`sf_schema.id_for_key`), so the same
account is ``001Sb…`` in every run and other emulators can compute the
Salesforce id of ``ACC-000042`` with ``id_for_key("Account", "ACC-000042")``.
The book key itself is kept in ``Account.AccountNumber``.

Value mapping (book → Salesforce):

* money ``*_minor`` → currency fields in major units (``/ 100``);
* book dates → ``date``; book instants (naive UTC) → aware UTC ``datetime``;
  ``NaT``/``NaN``/empty → ``None``;
* ``created_at``/``updated_at``/``deleted`` → ``CreatedDate``/``SystemModstamp``
  (= ``LastModifiedDate``)/``IsDeleted``; a deleted row's stamp is its
  ``deleted_at``.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Any, Callable, Iterator

from connectors.sandbox.sf_schema import id_for_key

Record = dict[str, Any]

ACCOUNT_TYPE = {"active": "Customer", "churned": "Former Customer"}
CONTACT_ROLE = {"champion": "Champion", "sponsor": "Executive Sponsor", "user": "User"}
CASE_PRIORITY = {"low": "Low", "normal": "Medium", "high": "High", "urgent": "Critical"}
CASE_STATUS = {"open": "New", "pending": "Working", "closed": "Closed"}
CASE_TYPE = {"bug": "Problem", "how-to": "Question", "billing": "Billing",
             "feature-request": "Feature Request", "outage": "Outage"}
CONTRACT_STATUS = {"active": "Activated", "ended": "Expired", "churned": "Expired"}


def clean(value: Any) -> Any:
    """pandas scalars → plain Python; missing values → ``None``."""
    if value is None:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    if hasattr(value, "to_pydatetime"):
        return None if str(value) == "NaT" else value.to_pydatetime()
    if type(value).__name__ == "NaTType":
        return None
    if hasattr(value, "item"):
        return value.item()
    if isinstance(value, str) and value == "":
        return None
    return value


def _day(value: Any) -> dt.date | None:
    value = clean(value)
    return value.date() if isinstance(value, dt.datetime) else value


def _instant(value: Any) -> dt.datetime | None:
    value = clean(value)
    if value is None:
        return None
    if not isinstance(value, dt.datetime):
        value = dt.datetime(value.year, value.month, value.day)
    return value.replace(tzinfo=dt.timezone.utc) if value.tzinfo is None else value.astimezone(dt.timezone.utc)


def _money(value: Any) -> float | None:
    value = clean(value)
    return None if value is None else round(value / 100.0, 2)


def _ref(obj: str, key: Any) -> str | None:
    key = clean(key)
    return id_for_key(obj, str(key)) if key else None


def _system(obj: str, key: str, row: dict[str, Any]) -> Record:
    created = _instant(row.get("created_at"))
    deleted = bool(clean(row.get("deleted")) or False)
    stamp = _instant(row.get("deleted_at")) if deleted else None
    stamp = stamp or _instant(row.get("updated_at")) or created
    return {"Id": id_for_key(obj, key), "IsDeleted": deleted, "CreatedDate": created,
            "LastModifiedDate": stamp, "SystemModstamp": stamp}


def account(row: dict[str, Any]) -> Record:
    domain = clean(row["domain"])
    return {**_system("Account", row["account_id"], row),
            "Name": clean(row["name"]), "AccountNumber": row["account_id"],
            "Type": ACCOUNT_TYPE.get(row["status"], "Customer"), "Industry": clean(row["industry"]),
            "Segment__c": clean(row["segment"]), "CSM_Name__c": clean(row["owner"]),
            "CSM_Email__c": clean(row["owner_email"]), "NumberOfEmployees": clean(row["employees"]),
            "ICP_Tier__c": clean(row["icp_tier"]), "Licensed_Seats__c": float(clean(row["licensed_seats"]) or 0),
            "Plan__c": clean(row["plan"]), "Plan_Limit__c": float(clean(row["plan_limit"]) or 0),
            "Website": f"https://www.{domain}" if domain else None, "Domain__c": domain,
            "BillingCountry": clean(row["country"]), "CurrencyIsoCode": clean(row["currency"]),
            "Billing_Interval__c": clean(row["billing_interval"]),
            "Customer_Since__c": _day(row["customer_since"]), "Churned_On__c": _day(row["churned_on"]),
            "Champion__c": _ref("Contact", row.get("champion_contact_id")),
            "Executive_Sponsor__c": _ref("Contact", row.get("sponsor_contact_id"))}


def contact(row: dict[str, Any]) -> Record:
    first, last = clean(row["first_name"]), clean(row["last_name"])
    return {**_system("Contact", row["contact_id"], row), "AccountId": _ref("Account", row["account_id"]),
            "FirstName": first, "LastName": last, "Name": " ".join(p for p in (first, last) if p),
            "Email": clean(row["email"]), "Title": clean(row["title"]), "Phone": clean(row["phone"]),
            "Contact_Role__c": CONTACT_ROLE.get(row["role"], "User"),
            "Product_User_Id__c": clean(row["user_id"])}


def opportunity(row: dict[str, Any]) -> Record:
    stage = clean(row["stage"])
    return {**_system("Opportunity", row["opportunity_id"], row),
            "AccountId": _ref("Account", row["account_id"]), "Name": clean(row["name"]),
            "StageName": stage, "IsWon": stage == "Closed Won", "IsClosed": stage in ("Closed Won", "Closed Lost"),
            "Amount": _money(row["amount_minor"]), "CloseDate": _day(row["close_date"]),
            "Type": clean(row["type"]), "Contract_Start__c": _day(row["contract_start"]),
            "Contract_End__c": _day(row["contract_end"]), "Term_Months__c": float(clean(row["term_months"]) or 0),
            "Loss_Reason__c": clean(row["loss_reason"]), "Loss_Detail__c": clean(row["loss_detail"]),
            "CurrencyIsoCode": clean(row["currency"]), "Owner_Name__c": clean(row["owner"])}


def contract(row: dict[str, Any], number: int) -> Record:
    start, end = _day(row["start_date"]), _day(row["end_date"])
    term = None
    if start and end:  # end is inclusive: whole months from start to the day after end
        after = end + dt.timedelta(days=1)
        term = (after.year - start.year) * 12 + after.month - start.month
    return {**_system("Contract", row["contract_id"], row), "AccountId": _ref("Account", row["account_id"]),
            "ContractNumber": f"{number:08d}", "Status": CONTRACT_STATUS.get(row["status"], "Activated"),
            "StartDate": start, "EndDate": end, "ContractTerm": term,
            "Opportunity__c": _ref("Opportunity", row.get("opportunity_id")),
            "Subscription_Id__c": clean(row["subscription_id"]), "Product__c": clean(row["product"]),
            "Plan__c": clean(row["plan"]), "Price_Id__c": clean(row["price_id"]),
            "Change_Type__c": clean(row["change"]), "Billing_Interval__c": clean(row["interval"]),
            "Quantity__c": float(clean(row["quantity"]) or 0), "Unit_Price__c": _money(row["unit_amount_minor"]),
            "Discount_Percent__c": float(clean(row["discount_percent"]) or 0),
            "Discount_End__c": _day(row["discount_end"]), "List_MRR__c": _money(row["list_mrr_minor"]),
            "MRR__c": _money(row["mrr_minor"]), "CurrencyIsoCode": clean(row["currency"]),
            "Auto_Renew__c": bool(clean(row["auto_renew"]))}


def case(row: dict[str, Any], number: int) -> Record:
    status = CASE_STATUS.get(row["status"], "New")
    return {**_system("Case", row["ticket_id"], row), "AccountId": _ref("Account", row["account_id"]),
            "ContactId": _ref("Contact", row.get("contact_id")), "CaseNumber": f"{number:08d}",
            "Subject": clean(row["subject"]), "Description": clean(row["body"]),
            "Priority": CASE_PRIORITY.get(row["priority"], "Medium"), "Status": status,
            "IsClosed": status == "Closed", "Type": CASE_TYPE.get(row["category"]), "Origin": "Email",
            "ClosedDate": _instant(row.get("closed_at")), "CSAT__c": clean(row.get("csat"))}


PROJECTIONS: dict[str, tuple[str, Callable[..., Record], bool]] = {
    # object: (book table, row → record, takes a running number)
    "Account": ("accounts", account, False),
    "Contact": ("contacts", contact, False),
    "Opportunity": ("opportunities", opportunity, False),
    "Contract": ("contracts", contract, True),
    "Case": ("tickets", case, True),
}


def project(book: Any) -> dict[str, list[Record]]:
    """All Salesforce records for ``book``, per object, in book order."""
    return {obj: list(_rows(book, obj)) for obj in PROJECTIONS}


def _rows(book: Any, obj: str) -> Iterator[Record]:
    table, convert, numbered = PROJECTIONS[obj]
    frame = book.table(table)
    for number, row in enumerate(frame.to_dict("records"), start=1):
        yield convert(row, number) if numbered else convert(row)
