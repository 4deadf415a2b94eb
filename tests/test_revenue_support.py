"""Helpers for the revenue tests: contract lines written to a real DuckDB store in a tmp dir."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pandas as pd

from engine.store import Store

D = Decimal


def day(text: str) -> dt.date:
    return dt.date.fromisoformat(text)


def line(contract_id: str, account_id: str, start: str, end: str | None, mrr, currency: str = "USD") -> dict:
    """One canonical contract line; ``end`` is the inclusive last day (None = evergreen)."""
    return {
        "contract_id": contract_id,
        "account_id": account_id,
        "product": "platform",
        "start_date": day(start),
        "end_date": day(end) if end else None,
        "mrr": D(str(mrr)),
        "currency": currency,
    }


def account(account_id: str, segment: str | None = None, **attrs) -> dict:
    return {"account_id": account_id, "name": f"Account {account_id}", "segment": segment, **attrs}


def open_book(path: Path, lines: list[dict], accounts: list[dict] | None = None) -> Store:
    """A store at ``path`` holding ``lines`` (and ``accounts``) from the ``files`` source."""
    store = Store(path)
    if lines:
        store.upsert("contracts", "files", pd.DataFrame(lines))
    if accounts:
        store.upsert("accounts", "files", pd.DataFrame(accounts))
    return store


def tables(store: Store):
    """(contracts, accounts) Ibis tables as the CLI reads them."""
    return store.records("contracts", ["files"]), store.records("accounts", ["files"])
