"""The book as canonical records (``engine.records.KINDS``), as typed Arrow tables.

Column names and types come from the record declarations, so this stays in step with the
store. Money is exact: minor units become ``Decimal`` (``12345`` → ``123.45``).
Contract lines must have one constant MRR each, so a line whose discount expires
mid-line is split at ``discount_end``: the discounted part keeps the contract id, the
full-price remainder gets ``<id>-R``.
"""

from __future__ import annotations

import re
from decimal import Decimal

import numpy as np
import pandas as pd
import pyarrow as pa

from engine.records import KINDS, RecordKind

USAGE_DAYS = 180


def arrow_type(duck: str) -> pa.DataType:
    """Arrow type for a DuckDB column type used in ``engine.records``."""
    m = re.fullmatch(r"DECIMAL\((\d+),(\d+)\)", duck)
    if m:
        return pa.decimal128(int(m.group(1)), int(m.group(2)))
    return {"VARCHAR": pa.string(), "DATE": pa.date32(), "TIMESTAMP": pa.timestamp("us"),
            "INTEGER": pa.int32(), "BIGINT": pa.int64(), "BOOLEAN": pa.bool_(), "DOUBLE": pa.float64()}[duck]


def minor_to_decimal(values) -> list[Decimal | None]:
    return [None if pd.isna(v) else Decimal(int(v)).scaleb(-2) for v in values]


def canonical_table(book, kind: str) -> pa.Table:
    if kind not in KINDS:
        raise KeyError(f"unknown record kind {kind!r}; expected one of {', '.join(KINDS)}")
    frame = BUILDERS[kind](book)
    return to_arrow(frame, KINDS[kind])


def to_arrow(frame: pd.DataFrame, rk: RecordKind) -> pa.Table:
    arrays = []
    for col, duck in rk.columns.items():
        typ = arrow_type(duck)
        values = frame[col] if col in frame else pd.Series([None] * len(frame))
        if pa.types.is_decimal(typ):
            arrays.append(pa.array([None if v is None else v.quantize(Decimal(1).scaleb(-typ.scale)) for v in values], typ))
        elif pa.types.is_date(typ):
            arrays.append(pa.array(pd.to_datetime(values).dt.date.where(values.notna(), None), typ))
        else:
            arrays.append(pa.array(values.astype(object).where(values.notna(), None), typ, from_pandas=True))
    return pa.Table.from_arrays(arrays, schema=pa.schema([(c, arrow_type(t)) for c, t in rk.columns.items()]))


def _accounts(book) -> pd.DataFrame:
    a = book.accounts
    users = book.contacts.set_index("contact_id")["user_id"]
    return a.assign(
        champion_user_id=a["champion_contact_id"].map(users),
        sponsor_user_id=a["sponsor_contact_id"].map(users),
        crm_id=a["account_id"], billing_id=a["stripe_customer_id"],
        customer_since=a["customer_since"],
    )


def _contracts(book) -> pd.DataFrame:
    c = book.contracts
    d_end = c["discount_end"]
    splits = d_end.notna() & (c["end_date"].isna() | (d_end < c["end_date"]))
    head = c.assign(end_date=np.where(splits, d_end, c["end_date"]), mrr=minor_to_decimal(c["mrr_minor"]))
    tail = c[splits].assign(contract_id=c["contract_id"][splits] + "-R",
                            start_date=d_end[splits] + pd.Timedelta(days=1),
                            mrr=minor_to_decimal(c["list_mrr_minor"][splits]))
    out = pd.concat([head, tail], ignore_index=True)
    out["end_date"] = pd.to_datetime(out["end_date"])
    out["status"] = _split_status(out, pd.Timestamp(book.as_of))
    out["quantity"] = [Decimal(int(q)) for q in out["quantity"]]
    return out.sort_values(["account_id", "start_date", "contract_id"], kind="stable")


def _split_status(lines: pd.DataFrame, today: pd.Timestamp) -> np.ndarray:
    """Status after splitting: a part that ended before as_of while the line went on is
    ``ended``; a part that starts after as_of is ``scheduled``; else the line's status."""
    was_active = (lines["status"] == "active").to_numpy()
    ended = was_active & lines["end_date"].notna().to_numpy() & (lines["end_date"] < today).to_numpy()
    future = was_active & (lines["start_date"] > today).to_numpy()
    return np.where(ended, "ended", np.where(future, "scheduled", lines["status"])).astype(object)


def _invoices(book) -> pd.DataFrame:
    inv = book.invoices
    return inv.assign(amount=minor_to_decimal(inv["total_minor"]))


BUILDERS = {
    "accounts": _accounts,
    "contracts": _contracts,
    "invoices": _invoices,
    "tickets": lambda book: book.tickets,
    "usage": lambda book: book.usage(USAGE_DAYS),
    "nps": lambda book: book.nps,
    "churn_reasons": lambda book: book.churn_reasons,
}
