"""Turn simulated history into dated contract lines, churn events and account state.

A line's MRR in minor units is ``seats × monthly_equivalent_price × (100 − discount%)``
(the price is whole currency units, so ×100 for minor units and ÷100 for the percent
cancel). Lines starting after ``as_of`` are dropped; a monthly line still open at
``as_of`` is evergreen (``end_date`` NaT) even if the simulation closes it later.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from connectors.sandbox import book_catalog as cat
from connectors.sandbox.book_history import CHANGES, NEW, RENEWAL, History
from connectors.sandbox.book_util import DAY, event_dates, ids, stamps, to_ns, updated_and_deleted
from engine.records import CHURN_REASON_CATEGORIES

DISCOUNT_SHARE = 0.2
DISCOUNT_PERCENTS = np.array([10, 15, 20, 25])


def contract_lines(rng, hist: History, accounts: pd.DataFrame, d: dict, starts: np.ndarray, as_of: dt.date):
    """Return ``(contracts, churn_events, profile)`` and fill accounts' derived columns."""
    today = np.datetime64(as_of, "D")
    lines = _lines_frame(rng, _dated(hist, d, starts, today), accounts, d)
    churn = _churn_events(hist, d, starts, accounts, today)
    lines["status"] = _line_status(lines, churn, today)
    _line_stamps(rng, lines, as_of)
    _account_state(accounts, lines, churn, d, today)
    return lines, churn, _profile(accounts, d, churn, today)


def _dated(hist: History, d: dict, starts: np.ndarray, today) -> dict[str, np.ndarray]:
    """Month indices → calendar days on each account's anchor day; drop lines starting
    after as_of; a monthly line still running at as_of is evergreen (end NaT)."""
    acct = hist.line_acct
    anchor = d["anchor"][acct]
    start = event_dates(starts, hist.line_start, anchor)
    closed = hist.line_end >= 0
    end = np.where(closed, event_dates(starts, np.maximum(hist.line_end, 0), anchor), np.datetime64("NaT", "D")) - DAY
    keep = start <= today
    out = {"acct": acct, "start": start, "end": end, "qty": hist.line_qty, "change": hist.line_change, "run": hist.line_run}
    out = {k: v[keep] for k, v in out.items()}
    out["annual"] = d["annual"][out["acct"]]
    out["end"] = np.where(~out["annual"] & (out["end"] >= today), np.datetime64("NaT", "D"), out["end"])
    return out


def _lines_frame(rng, x: dict[str, np.ndarray], accounts: pd.DataFrame, d: dict) -> pd.DataFrame:
    """Priced lines, ordered by account then start, with ids ``CTR-0000001``…"""
    acct, annual, qty = x["acct"], x["annual"], x["qty"]
    seg = d["seg"][acct]
    plans = cat.PLANS
    plan = np.asarray(plans["plan"], dtype=object)[seg]
    monthly_eq = np.where(annual, plans["annual_equivalent"].to_numpy()[seg], plans["monthly_price"].to_numpy()[seg])
    disc, disc_end = _discounts(rng, x["change"], annual, seg, x["start"])
    lines = pd.DataFrame({
        "account_id": accounts["account_id"].to_numpy()[acct],
        "subscription_id": _sub_ids(acct, x["run"]),
        "product": "Platform " + plan,
        "plan": plan,
        "change": CHANGES.astype(object)[x["change"]],
        "start_date": to_ns(x["start"]),
        "end_date": to_ns(x["end"]),
        "interval": np.where(annual, "year", "month").astype(object),
        "unit_amount_minor": (monthly_eq * 100 * np.where(annual, 12, 1)).astype(np.int64),
        "quantity": qty.astype(np.int64),
        "discount_percent": disc.astype(np.int64),
        "discount_end": to_ns(disc_end),
        "list_mrr_minor": (qty * monthly_eq * 100).astype(np.int64),
        "mrr_minor": (qty * monthly_eq * (100 - disc)).astype(np.int64),
        "currency": accounts["currency"].to_numpy()[acct],
        "auto_renew": np.where(annual, rng.random(len(acct)) < 0.7, True),
        "_acct": acct,
    }).iloc[np.lexsort((x["start"], acct))].reset_index(drop=True)
    lines.insert(0, "contract_id", ids("CTR-", np.arange(1, len(lines) + 1), 7))
    return lines


def _sub_ids(acct: np.ndarray, run: np.ndarray) -> np.ndarray:
    return ids("sub_B", (acct + 1) * 10 + np.minimum(run, 9), 9)


def _discounts(rng, change, annual, seg, start):
    """A share of new-business lines get a percent discount: the whole first year for annual
    lines, the first 3 or 6 months for monthly ones (an expiring coupon); a few enterprise
    renewals get a 10% loyalty discount."""
    n = len(change)
    disc = np.where((change == NEW) & (rng.random(n) < DISCOUNT_SHARE), DISCOUNT_PERCENTS[rng.integers(0, 4, n)], 0)
    loyalty = (change == RENEWAL) & (seg == 3) & (rng.random(n) < 0.1)
    disc = np.where(loyalty, 10, disc)
    months = np.where(rng.random(n) < 0.5, 3, 6)
    expiry = (start.astype("datetime64[M]") + months).astype("datetime64[D]") + (start - start.astype("datetime64[M]").astype("datetime64[D]")) - DAY
    disc_end = np.where((disc > 0) & ~annual, expiry, np.datetime64("NaT", "D"))
    return disc, disc_end


def _churn_events(hist: History, d: dict, starts, accounts, today) -> pd.DataFrame:
    """All churn events with their effective day; ``future`` ones are after as_of (latent)."""
    day = event_dates(starts, hist.churn_month, d["anchor"][hist.churn_acct])
    reason = hist.churn_reason.copy()
    df = pd.DataFrame({
        "_acct": hist.churn_acct,
        "account_id": accounts["account_id"].to_numpy()[hist.churn_acct],
        "day": to_ns(day),
        "reason": np.asarray(CHURN_REASON_CATEGORIES, dtype=object)[reason],
        "future": day > today,
    })
    return df.sort_values(["_acct", "day"], kind="stable").reset_index(drop=True)


def _line_status(lines: pd.DataFrame, churn: pd.DataFrame, today) -> np.ndarray:
    """``active`` on as_of, ``churned`` if the account churned the day after it ended, else ``ended``."""
    t = np.datetime64(today, "ns")
    active = (lines["start_date"].to_numpy() <= t) & (lines["end_date"].isna().to_numpy() | (lines["end_date"].to_numpy() >= t))
    past = churn[~churn["future"]]
    keys = pd.MultiIndex.from_arrays([past["_acct"], past["day"]])
    nxt = pd.MultiIndex.from_arrays([lines["_acct"], lines["end_date"] + pd.Timedelta(days=1)])
    churned = nxt.isin(keys)
    return np.where(active, "active", np.where(churned, "churned", "ended")).astype(object)


def _line_stamps(rng, lines: pd.DataFrame, as_of: dt.date) -> None:
    """Booked a few days before service starts; touched since (some in the last 3 days).
    Contract lines are never deleted: a deleted line would silently rewrite revenue history."""
    start = lines["start_date"].to_numpy().astype("datetime64[D]")
    created = np.minimum(stamps(rng, start - rng.integers(1, 15, len(lines)).astype("timedelta64[D]")),
                         np.datetime64(as_of, "ns"))
    upd, _, _ = updated_and_deleted(rng, created, as_of, 0.03, 0.0)
    lines["created_at"], lines["updated_at"] = created, upd
    lines["deleted"], lines["deleted_at"] = False, pd.NaT


def _account_state(accounts: pd.DataFrame, lines: pd.DataFrame, churn: pd.DataFrame, d: dict, today) -> None:
    """customer_since, status, churned_on, licensed_seats, plan_limit from the lines."""
    n = len(accounts)
    g = lines.groupby("_acct")
    since = np.full(n, np.datetime64("NaT"), "datetime64[ns]")
    since[g["start_date"].min().index.to_numpy()] = g["start_date"].min().to_numpy()
    act = lines[lines["status"] == "active"].groupby("_acct")["quantity"].sum()
    last = lines.sort_values("start_date").groupby("_acct").tail(1).set_index("_acct")["quantity"]
    seats = np.zeros(n, np.int64)
    seats[last.index.to_numpy()] = last.to_numpy()
    seats[act.index.to_numpy()] = act.to_numpy()
    active = np.zeros(n, bool)
    active[act.index.to_numpy()] = True
    past = churn[~churn["future"]].groupby("_acct")["day"].max()
    churned_on = np.full(n, np.datetime64("NaT"), "datetime64[ns]")
    churned_on[past.index.to_numpy()] = past.to_numpy()
    per_seat = cat.PLANS["limit_per_seat"].to_numpy()[d["seg"]]
    accounts["customer_since"] = since
    accounts["status"] = np.where(active, "active", "churned").astype(object)
    accounts["churned_on"] = np.where(active, np.datetime64("NaT"), churned_on)
    accounts["licensed_seats"] = np.maximum(seats, 1)
    accounts["plan_limit"] = (np.ceil(np.maximum(seats, 1) * per_seat * 1.25 / 1000) * 1000).astype(np.int64)


def _profile(accounts: pd.DataFrame, d: dict, churn: pd.DataFrame, today) -> pd.DataFrame:
    """Latent traits that usage, tickets and NPS read: health, next churn (past or future)."""
    fut = churn[churn["future"]].groupby("_acct")["day"].min()
    next_churn = np.full(len(accounts), np.datetime64("NaT"), "datetime64[ns]")
    next_churn[fut.index.to_numpy()] = fut.to_numpy()
    return pd.DataFrame({
        "account_id": accounts["account_id"].to_numpy(),
        "health": d["h"],
        "seg": d["seg"],
        "future_churn": next_churn,
    })
