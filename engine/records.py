"""Canonical records: the tables every connector produces and the engine reads.

Each record kind is declared once as a :class:`RecordKind` — its store table, the
columns with their DuckDB types, which columns are required on input, and its natural
key. The store derives its DDL from these declarations, the file importer derives its
validation from them, and connectors build rows with exactly these column names.

Money is exact: ``DECIMAL`` in the store, :class:`decimal.Decimal` in Python.
Dates are calendar dates (``DATE``); instants are UTC ``TIMESTAMP``.

Every synced table also carries the bookkeeping columns of :data:`META_COLUMNS`:
``source`` (``files``, ``salesforce``, ``hubspot``, ``stripe``), ``source_id`` (the
record's id in that source), ``synced_at``, ``deleted`` and ``row_hash`` (a digest of
the business columns, used to tell a changed record from an unchanged one).
"""

from __future__ import annotations

from dataclasses import dataclass, field

MONEY = "DECIMAL(20,6)"
AMOUNT = "DECIMAL(18,2)"

META_COLUMNS: dict[str, str] = {
    "source": "VARCHAR NOT NULL",
    "source_id": "VARCHAR NOT NULL",
    "synced_at": "TIMESTAMP NOT NULL",
    "deleted": "BOOLEAN NOT NULL DEFAULT FALSE",
    "row_hash": "VARCHAR NOT NULL",
}


@dataclass(frozen=True)
class RecordKind:
    """One canonical record type.

    ``columns`` maps name → DuckDB type. ``required`` columns must be present and
    non-empty on input. ``key`` is the natural key inside one source: for records
    with their own id it is that id; usage, NPS and churn reasons have none, so
    their key is a composite and ``source_id`` is derived from it.
    """

    name: str
    table: str
    columns: dict[str, str]
    required: tuple[str, ...]
    key: tuple[str, ...]
    dates: tuple[str, ...] = ()
    timestamps: tuple[str, ...] = ()
    money: tuple[str, ...] = ()
    integers: tuple[str, ...] = ()
    booleans: tuple[str, ...] = ()
    floats: tuple[str, ...] = ()
    currency_columns: tuple[str, ...] = field(default=())

    @property
    def optional(self) -> tuple[str, ...]:
        return tuple(c for c in self.columns if c not in self.required)


ACCOUNT = RecordKind(
    name="accounts",
    table="accounts",
    columns={
        "account_id": "VARCHAR",
        "name": "VARCHAR",
        "domain": "VARCHAR",
        "segment": "VARCHAR",
        "industry": "VARCHAR",
        "owner": "VARCHAR",
        "customer_since": "DATE",
        "icp_tier": "VARCHAR",
        "licensed_seats": "INTEGER",
        "plan": "VARCHAR",
        "plan_limit": "BIGINT",
        "employees": "INTEGER",
        "champion_user_id": "VARCHAR",
        "sponsor_user_id": "VARCHAR",
        "crm_id": "VARCHAR",
        "billing_id": "VARCHAR",
    },
    required=("account_id", "name"),
    key=("account_id",),
    dates=("customer_since",),
    integers=("licensed_seats", "plan_limit", "employees"),
)

CONTRACT_LINE = RecordKind(
    name="contracts",
    table="contract_lines",
    columns={
        "contract_id": "VARCHAR",
        "account_id": "VARCHAR",
        "product": "VARCHAR",
        "start_date": "DATE",
        "end_date": "DATE",
        "mrr": MONEY,
        "currency": "VARCHAR",
        "quantity": "DECIMAL(18,4)",
        "status": "VARCHAR",
        "auto_renew": "BOOLEAN",
    },
    required=("contract_id", "account_id", "start_date", "mrr", "currency"),
    key=("contract_id",),
    dates=("start_date", "end_date"),
    money=("mrr", "quantity"),
    booleans=("auto_renew",),
    currency_columns=("currency",),
)

INVOICE = RecordKind(
    name="invoices",
    table="invoices",
    columns={
        "invoice_id": "VARCHAR",
        "account_id": "VARCHAR",
        "issued_at": "DATE",
        "due_at": "DATE",
        "paid_at": "DATE",
        "amount": AMOUNT,
        "currency": "VARCHAR",
        "status": "VARCHAR",
        "attempt_count": "INTEGER",
    },
    required=("invoice_id", "account_id", "issued_at", "amount", "currency"),
    key=("invoice_id",),
    dates=("issued_at", "due_at", "paid_at"),
    money=("amount",),
    integers=("attempt_count",),
    currency_columns=("currency",),
)

TICKET = RecordKind(
    name="tickets",
    table="tickets",
    columns={
        "ticket_id": "VARCHAR",
        "account_id": "VARCHAR",
        "created_at": "TIMESTAMP",
        "closed_at": "TIMESTAMP",
        "priority": "VARCHAR",
        "status": "VARCHAR",
        "subject": "VARCHAR",
        "body": "VARCHAR",
        "csat": "DOUBLE",
    },
    required=("ticket_id", "account_id", "created_at"),
    key=("ticket_id",),
    timestamps=("created_at", "closed_at"),
    floats=("csat",),
)

USAGE = RecordKind(
    name="usage",
    table="usage",
    columns={
        "account_id": "VARCHAR",
        "user_id": "VARCHAR",
        "day": "DATE",
        "feature": "VARCHAR",
        "quantity": "DOUBLE",
        "team": "VARCHAR",
    },
    required=("account_id", "user_id", "day", "feature", "quantity"),
    key=("account_id", "user_id", "day", "feature", "team"),
    dates=("day",),
    floats=("quantity",),
)

NPS = RecordKind(
    name="nps",
    table="nps",
    columns={
        "account_id": "VARCHAR",
        "user_id": "VARCHAR",
        "day": "DATE",
        "score": "INTEGER",
        "comment": "VARCHAR",
    },
    required=("account_id", "day", "score"),
    key=("account_id", "user_id", "day"),
    dates=("day",),
    integers=("score",),
)

CHURN_REASON = RecordKind(
    name="churn_reasons",
    table="churn_reasons",
    columns={
        "account_id": "VARCHAR",
        "day": "DATE",
        "reason": "VARCHAR",
    },
    required=("account_id", "day", "reason"),
    key=("account_id", "day"),
    dates=("day",),
)

KINDS: dict[str, RecordKind] = {
    k.name: k for k in (ACCOUNT, CONTRACT_LINE, INVOICE, TICKET, USAGE, NPS, CHURN_REASON)
}

#: Canonical segment names. Connectors map vendor picklists onto these.
SEGMENTS = ("self-serve", "smb", "mid-market", "enterprise")

#: Churn-reason categories (domain notes: win-back timing by churn reason).
CHURN_REASON_CATEGORIES = (
    "missing_feature",
    "budget",
    "champion_left",
    "poor_onboarding",
    "competitor",
    "company_change",
    "other",
)
