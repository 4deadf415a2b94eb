"""Helpers for the revenue tests: contract lines written to a real DuckDB store in a tmp dir."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pandas as pd

from engine.revenue import Period
from engine.revenue.periods import month_end
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


# -- an independent oracle: month-end MRR and movements recomputed in plain Python -----------


def oracle_mrr(lines: list[dict], on: dt.date, rates: dict[str, Decimal]) -> dict[str, Decimal]:
    """Account MRR on a day: Σ mrr × rate of lines with start <= day <= end (end None = evergreen)."""
    out: dict[str, Decimal] = {}
    for ln in lines:
        if ln["mrr"] > 0 and ln["start_date"] <= on and (ln["end_date"] is None or ln["end_date"] >= on):
            rate = rates.get(ln["currency"].upper(), Decimal(1))
            out[ln["account_id"]] = out.get(ln["account_id"], Decimal(0)) + ln["mrr"] * rate
    return {a: v for a, v in out.items() if v > 0}


def oracle_waterfall(lines: list[dict], period: Period, rates: dict[str, Decimal]) -> dict[str, Decimal]:
    """Sum of the period's monthly movements, each from two month-end snapshots; plus logo counts."""
    w = dict.fromkeys(["new", "expansion", "contraction", "churn", "reactivation"], Decimal(0))
    paid_before: set[str] = set()
    for k in range(period.first_k - 60, period.first_k):
        paid_before |= set(oracle_mrr(lines, month_end(k), rates))
    for k in range(period.first_k, period.last_k + 1):
        prev, cur = oracle_mrr(lines, month_end(k - 1), rates), oracle_mrr(lines, month_end(k), rates)
        for a in set(prev) | set(cur):
            p, c = prev.get(a, Decimal(0)), cur.get(a, Decimal(0))
            if p == 0:
                w["reactivation" if a in paid_before else "new"] += c
            elif c == 0:
                w["churn"] += p
            elif c > p:
                w["expansion"] += c - p
            elif c < p:
                w["contraction"] += p - c
        paid_before |= set(prev) | set(cur)
    w["start"] = sum(oracle_mrr(lines, period.start, rates).values(), Decimal(0))
    w["end"] = sum(oracle_mrr(lines, period.end, rates).values(), Decimal(0))
    return w


def oracle_ttm(lines: list[dict], period: Period, rates: dict[str, Decimal]) -> tuple:
    """(Σ base MRR(T−12), Σ base MRR(T), Σ base min, #base, #base still paying at T)."""
    base = oracle_mrr(lines, month_end(period.last_k - 12), rates)
    now = oracle_mrr(lines, period.end, rates)
    values = [(b, now.get(a, Decimal(0))) for a, b in base.items()]
    return (sum((b for b, _ in values), Decimal(0)), sum((n for _, n in values), Decimal(0)),
            sum((min(b, n) for b, n in values), Decimal(0)), len(values), sum(1 for _, n in values if n > 0))
