"""Stripe-side tables: products, prices, subscriptions and invoices, from contract lines.

Invoices: monthly lines bill every month on their anchor day (discounted while the
coupon lasts); annual lines bill once at start for their whole term (an add-on co-termed
mid-year bills its remaining months). Charges for one subscription on one day form one
invoice. One-time onboarding fees and tax ride on invoices but are never MRR.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from connectors.sandbox import book_catalog as cat
from connectors.sandbox.book_util import DAY, ids, stamps, to_ns, updated_and_deleted

ONBOARDING_FEE = {"mid-market": 1500, "enterprise": 5000}


def billing_tables(rng, accounts: pd.DataFrame, lines: pd.DataFrame, profile: pd.DataFrame,
                   as_of: dt.date) -> dict[str, pd.DataFrame]:
    products, prices = _catalog(lines, as_of)
    key = lines["plan"] + "|" + lines["currency"] + "|" + lines["interval"]
    lines.insert(lines.columns.get_loc("plan") + 1, "price_id", key.map(prices.set_index("_key")["price_id"]).to_numpy(dtype=object))
    invoices = _invoices(rng, accounts, lines, profile, as_of)
    subs = _subscriptions(rng, accounts, lines, invoices, as_of)
    return {"products": products, "prices": prices.drop(columns="_key"), "subscriptions": subs, "invoices": invoices}


def _catalog(lines: pd.DataFrame, as_of: dt.date):
    epoch = np.datetime64(as_of, "D") - 4 * 365
    plans = cat.PLANS
    products = pd.DataFrame({
        "product_id": ids("prod_P", np.arange(1, 5), 4),
        "name": "Platform " + plans["plan"],
        "plan": plans["plan"],
        "plan_limit": plans["limit_per_seat"],
        "created_at": to_ns(np.full(4, epoch)),
    })
    rows = []
    for p, plan in enumerate(plans["plan"]):
        for cur in cat.CURRENCIES:
            for interval in ("month", "year"):
                unit = plans["monthly_price"][p] if interval == "month" else plans["annual_equivalent"][p] * 12
                rows.append((products["product_id"][p], plan, cur, interval, int(unit) * 100))
    prices = pd.DataFrame(rows, columns=["product_id", "plan", "currency", "interval", "unit_amount_minor"])
    prices.insert(0, "price_id", ids("price_R", np.arange(1, len(prices) + 1), 4))
    prices["created_at"] = to_ns(np.full(len(prices), epoch))
    prices["_key"] = prices["plan"] + "|" + prices["currency"] + "|" + prices["interval"]
    return products, prices


def _months_between(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Whole months from day ``a`` to day ``b`` (same-anchor arithmetic, anchor ≤ 28)."""
    am, bm = a.astype("datetime64[M]"), b.astype("datetime64[M]")
    short = (b - bm.astype("datetime64[D]")) < (a - am.astype("datetime64[D]"))
    return (bm - am).astype(np.int64) - short


def _add_months(day: np.ndarray, k: np.ndarray) -> np.ndarray:
    m = day.astype("datetime64[M]")
    return (m + k).astype("datetime64[D]") + (day - m.astype("datetime64[D]"))


def _charges(lines: pd.DataFrame, today) -> pd.DataFrame:
    """One row per line per billing date up to as_of, with amount and discount taken."""
    start = lines["start_date"].to_numpy().astype("datetime64[D]")
    end = lines["end_date"].to_numpy().astype("datetime64[D]")
    monthly = (lines["interval"] == "month").to_numpy()
    last = np.where(np.isnat(end) | (end > today), today, end)
    count = np.where(monthly, _months_between(start, last) + 1, 1)
    idx = np.repeat(np.arange(len(lines)), count)
    k = np.arange(len(idx)) - np.repeat(np.cumsum(count) - count, count)
    issued = _add_months(start[idx], k)
    term = np.where(monthly[idx], 1, _months_between(start[idx], end[idx] + DAY))
    d_end = lines["discount_end"].to_numpy().astype("datetime64[D]")[idx]
    discounted = np.isnat(d_end) | (issued <= d_end)
    mrr = lines["mrr_minor"].to_numpy()[idx]
    full = lines["list_mrr_minor"].to_numpy()[idx]
    charged = np.where(discounted, mrr, full) * term
    return pd.DataFrame({
        "line": idx, "issued": issued, "period_end": _add_months(issued, term) - DAY,
        "sub": charged, "disc": full * term - charged,
    })


def _invoices(rng, accounts: pd.DataFrame, lines: pd.DataFrame, profile: pd.DataFrame, as_of: dt.date) -> pd.DataFrame:
    today = np.datetime64(as_of, "D")
    inv = _invoice_rows(lines, today)
    _fees_and_tax(rng, inv, accounts)
    _payments(rng, inv, _failure_odds(inv, accounts, profile), today)
    _invoice_ids_and_stamps(rng, inv)
    cols = ["invoice_id", "number", "account_id", "subscription_id", "stripe_customer_id", "currency",
            "period_start", "period_end", "issued_at", "due_at", "paid_at", "subscription_minor", "discount_minor",
            "one_time_minor", "one_time_description", "tax_minor", "total_minor", "status", "attempt_count",
            "created_at", "updated_at", "_acct"]
    return inv[cols]


def _invoice_rows(lines: pd.DataFrame, today) -> pd.DataFrame:
    """Charges of one subscription on one day → one invoice; annual invoices are net 30,
    monthly card payments are due on issue."""
    ch = _charges(lines, today)
    for col in ("subscription_id", "_acct", "interval"):
        ch[col] = lines[col].to_numpy()[ch["line"]]
    inv = (ch.groupby(["_acct", "subscription_id", "issued"], sort=True)
             .agg(subscription_minor=("sub", "sum"), discount_minor=("disc", "sum"),
                  period_end=("period_end", "max"), interval=("interval", "first"))
             .reset_index().sort_values(["issued", "_acct"], kind="stable").reset_index(drop=True))
    issued = inv["issued"].to_numpy()
    inv["issued_at"] = inv["period_start"] = to_ns(issued)
    inv["due_at"] = to_ns(issued + np.where(inv["interval"] == "year", 30, 0).astype("timedelta64[D]"))
    inv["period_end"] = to_ns(inv["period_end"].to_numpy())
    return inv


def _fees_and_tax(rng, inv: pd.DataFrame, accounts: pd.DataFrame) -> None:
    """Half of mid-market/enterprise first invoices carry an onboarding fee; VAT 20% on
    EUR/GBP, 8% sales tax for some US accounts. Neither is revenue."""
    a = inv["_acct"].to_numpy()
    seg = accounts["segment"].to_numpy()[a]
    first = ~inv.duplicated("subscription_id").to_numpy()
    fee = np.where(first & (rng.random(len(inv)) < 0.5), pd.Series(seg).map(ONBOARDING_FEE).fillna(0).to_numpy(), 0) * 100
    cur = accounts["currency"].to_numpy()[a]
    rate = pd.Series(cur).map(cat.VAT_PERCENT).to_numpy() + np.where((cur == "USD") & (a % 10 < 3), 8, 0)
    inv["one_time_minor"] = fee.astype(np.int64)
    inv["one_time_description"] = np.where(fee > 0, "Onboarding and setup", "").astype(object)
    inv["tax_minor"] = ((inv["subscription_minor"] + inv["one_time_minor"]) * rate // 100).astype(np.int64)
    inv["total_minor"] = inv["subscription_minor"] + inv["one_time_minor"] + inv["tax_minor"]
    inv["currency"] = cur
    inv["account_id"] = accounts["account_id"].to_numpy()[a]
    inv["stripe_customer_id"] = accounts["stripe_customer_id"].to_numpy()[a]


def _invoice_ids_and_stamps(rng, inv: pd.DataFrame) -> None:
    """Ids in issue order, per-customer numbers (``000042-0003``), created at issue, updated when paid."""
    inv.insert(0, "invoice_id", ids("in_I", np.arange(1, len(inv) + 1), 9))
    seq = (inv.groupby("_acct").cumcount() + 1).astype(str).str.zfill(4).to_numpy(dtype=object)
    inv.insert(1, "number", inv["stripe_customer_id"].str[-6:].to_numpy(dtype=object) + "-" + seq)
    inv["created_at"] = stamps(rng, inv["issued"].to_numpy())
    paid_stamp = inv["paid_at"] + pd.Timedelta(hours=9)
    inv["updated_at"] = np.where(inv["paid_at"].notna(), np.maximum(paid_stamp, inv["created_at"]), inv["created_at"])


def _failure_odds(inv: pd.DataFrame, accounts: pd.DataFrame, profile: pd.DataFrame) -> np.ndarray:
    """Chance a payment fails: 2.5% × exp(−0.8·health), ×3 in the 90 days before a churn."""
    a = inv["_acct"].to_numpy()
    churn = accounts["churned_on"].to_numpy()[a]
    churn = np.where(np.isnat(churn), profile["future_churn"].to_numpy()[a], churn)
    gap = churn - inv["issued_at"].to_numpy()
    near = ~np.isnat(churn) & (gap >= np.timedelta64(0, "D")) & (gap <= np.timedelta64(90, "D"))
    return np.minimum(0.5, 0.025 * np.exp(-0.8 * profile["health"].to_numpy()[a]) * np.where(near, 3.0, 1.0))


def _payments(rng, inv: pd.DataFrame, fail_odds: np.ndarray, today) -> None:
    """Most invoices are paid on time; some fail and are retried (paid late), a few are
    written off (uncollectible), and recent unpaid ones stay open."""
    n = len(inv)
    due = inv["due_at"].to_numpy().astype("datetime64[D]")
    fail = rng.random(n) < fail_odds
    attempts = np.where(fail, rng.integers(2, 5, n), 1)
    late_days = np.where(fail, rng.integers(3, 25, n), rng.integers(0, 2, n))
    paid = due + late_days.astype("timedelta64[D]")
    written_off = fail & (rng.random(n) < 0.15)
    open_ = paid > today
    status = np.where(open_, "open", np.where(written_off, "uncollectible", "paid"))
    inv["paid_at"] = np.where(status == "paid", to_ns(paid), np.datetime64("NaT", "ns"))
    inv["status"] = status.astype(object)
    inv["attempt_count"] = np.where(open_ & ~fail, 0, attempts).astype(np.int64)


def _subscriptions(rng, accounts: pd.DataFrame, lines: pd.DataFrame, invoices: pd.DataFrame, as_of: dt.date) -> pd.DataFrame:
    """One subscription per paying run; ``past_due`` when its failed invoice is still open."""
    s = _sub_rollup(lines)
    n, a = len(s), s["_acct"].to_numpy()
    seg = accounts["segment"].to_numpy()[a]
    trial = np.where(np.isin(seg, ["self-serve", "smb"]) & (rng.random(n) < 0.5), 14, 0)
    start = s["start_date"].to_numpy()
    ended = np.where(s["active"] | s["open_end"], np.datetime64("NaT", "ns"), s["last_end"].to_numpy() + np.timedelta64(1, "D"))
    cancel = ended - (rng.integers(1, 30, n) * 86400 * 10**9).astype("timedelta64[ns]")
    failing = invoices.loc[(invoices["status"] == "open") & (invoices["attempt_count"] > 1), "subscription_id"]
    status = np.where(~s["active"], "canceled", np.where(s["subscription_id"].isin(failing), "past_due", "active"))
    ps, pe = _current_period(s, lines, as_of)
    created = stamps(rng, (start - np.where(trial > 0, 14, 0).astype("timedelta64[D]")).astype("datetime64[D]"))
    upd, _, _ = updated_and_deleted(rng, created, as_of, 0.05, 0.0)
    nat = np.datetime64("NaT", "ns")
    return pd.DataFrame({
        "subscription_id": s["subscription_id"], "account_id": accounts["account_id"].to_numpy()[a],
        "stripe_customer_id": accounts["stripe_customer_id"].to_numpy()[a], "status": status.astype(object),
        "interval": s["interval"], "currency": s["currency"], "start_date": start, "trial_days": trial,
        "trial_start": np.where(trial > 0, start - np.timedelta64(14, "D"), nat),
        "trial_end": np.where(trial > 0, start, nat),
        "current_period_start": np.where(s["active"], ps, nat),
        "current_period_end": np.where(s["active"], pe, nat),
        "canceled_at": cancel, "ended_at": ended, "created_at": created,
        "updated_at": np.where(~np.isnat(ended) & (ended <= np.datetime64(as_of, "ns")), np.maximum(upd, ended), upd),
        "_acct": a,
    })


def _sub_rollup(lines: pd.DataFrame) -> pd.DataFrame:
    flags = lines.assign(open_end=lines["end_date"].isna(), active=lines["status"] == "active")
    return flags.groupby("subscription_id", sort=True).agg(
        _acct=("_acct", "first"), interval=("interval", "first"), currency=("currency", "first"),
        start_date=("start_date", "min"), last_end=("end_date", "max"),
        open_end=("open_end", "max"), active=("active", "max")).reset_index()


def _current_period(s: pd.DataFrame, lines: pd.DataFrame, as_of: dt.date):
    """Monthly: the month (on the anchor day) containing as_of; annual: the active term."""
    n = len(s)
    start_d = s["start_date"].to_numpy().astype("datetime64[D]")
    m_ps = _add_months(start_d, np.maximum(_months_between(start_d, np.full(n, np.datetime64(as_of, "D"))), 0))
    term = lines[lines["status"] == "active"].groupby("subscription_id").agg(ps=("start_date", "max"), pe=("end_date", "max"))
    monthly = (s["interval"] == "month").to_numpy()
    ps = np.where(monthly, to_ns(m_ps), s["subscription_id"].map(term["ps"]).to_numpy())
    pe = np.where(monthly, to_ns(_add_months(m_ps, np.ones(n, np.int64)) - DAY), s["subscription_id"].map(term["pe"]).to_numpy())
    return ps, pe
