"""Builders for small hand-made books in a real DuckDB store (shared by trigger,
renewal and playbook tests). No tests here."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pandas as pd

from engine.store import Store
from engine.triggers.features import StoreInputs

AS_OF = dt.date(2026, 6, 30)


def d(s: str) -> dt.date:
    return dt.date.fromisoformat(s)


def days_before(n: int, as_of: dt.date = AS_OF) -> dt.date:
    return as_of - dt.timedelta(days=n)


def account(account_id: str, **kw) -> dict:
    row = {"account_id": account_id, "name": f"Acct {account_id}", "segment": "mid-market", "industry": "software",
           "owner": "Ana", "licensed_seats": 10, "plan_limit": None, "champion_user_id": None}
    row.update(kw)
    return row


def usage_rows(account_id: str, user: str, first: dt.date, last: dt.date, qty: float = 1.0,
               team: str | None = None, feature: str = "core") -> list[dict]:
    """One row per day from ``first`` to ``last`` inclusive with ``qty`` each."""
    n = (last - first).days + 1
    return [{"account_id": account_id, "user_id": user, "day": first + dt.timedelta(days=i), "feature": feature,
             "quantity": qty, "team": team} for i in range(n)]


def contract(cid: str, account_id: str, start: str, end: str | None, mrr: str, currency: str = "USD", **kw) -> dict:
    row = {"contract_id": cid, "account_id": account_id, "product": "core", "start_date": d(start),
           "end_date": d(end) if end else None, "mrr": Decimal(mrr), "currency": currency, "status": "active",
           "auto_renew": True}
    row.update(kw)
    return row


def make_store(tmp_path, accounts: list[dict], usage: list[dict] = (), contracts: list[dict] = (),
               tickets: list[dict] = (), invoices: list[dict] = (), nps: list[dict] = ()) -> Store:
    store = Store(tmp_path / "nrr.duckdb")
    store.upsert("accounts", "files", pd.DataFrame(accounts))
    for kind, rows in (("usage", usage), ("contracts", contracts), ("tickets", tickets),
                       ("invoices", invoices), ("nps", nps)):
        if rows:
            store.upsert(kind, "files", pd.DataFrame(list(rows)))
    return store


def inputs(store: Store) -> StoreInputs:
    return StoreInputs.from_store(store)


def scores(**by_account: float) -> pd.DataFrame:
    """score DataFrame for as_of with bands from the design's band edges."""
    return pd.DataFrame([{"account_id": a, "score": s, "band": band(s)} for a, s in by_account.items()])


def band(s: float) -> str:
    return "Thriving" if s >= 85 else "Healthy" if s >= 70 else "At risk" if s >= 50 else "Critical" if s >= 25 else "Churning"
