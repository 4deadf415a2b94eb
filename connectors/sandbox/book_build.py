"""Assemble the :class:`Book`: draw accounts, simulate history, derive every table.

Order matters because later tables read earlier ones: accounts → history → contract
lines → accounts' derived columns (customer_since, seats, status) → billing
(subscriptions, invoices) → CRM (contacts, opportunities, churn reasons) → support
(tickets, NPS). One ``numpy.random.Generator`` seeded from ``seed`` feeds everything in
that order, so the book is deterministic.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from connectors.sandbox import book_catalog as cat
from connectors.sandbox.book import Book
from connectors.sandbox.book_billing import billing_tables
from connectors.sandbox.book_crm import crm_tables
from connectors.sandbox.book_history import FUTURE_MONTHS, simulate
from connectors.sandbox.book_lines import contract_lines
from connectors.sandbox.book_support import support_tables
from connectors.sandbox.book_util import ids, month_starts, pick

WINDOW_MONTHS = 36
GROWTH_PER_MONTH = 1.02


def build_book(n: int, seed: int, as_of: dt.date) -> Book:
    rng = np.random.default_rng(np.random.SeedSequence([seed, n, as_of.toordinal()]))
    draws = _draw_accounts(rng, n, as_of)
    hist = simulate(rng, draws["seg"], draws["start"], draws["annual"], draws["seats0"], draws["h"], WINDOW_MONTHS)
    starts = month_starts(as_of, WINDOW_MONTHS, FUTURE_MONTHS)
    accounts = _accounts_frame(rng, draws, as_of)
    lines, churn, profile = contract_lines(rng, hist, accounts, draws, starts, as_of)
    billing = billing_tables(rng, accounts, lines, profile, as_of)
    crm = crm_tables(rng, accounts, lines, churn, as_of)
    support = support_tables(rng, accounts, crm["contacts"], profile, as_of)
    tables = {"accounts": accounts, "contracts": lines, **billing, **crm, **support}
    return Book(seed=seed, as_of=as_of, profile=profile, **{k: _public(v) for k, v in tables.items()})


def _public(frame: pd.DataFrame) -> pd.DataFrame:
    """Drop working columns (``_acct`` …) so the tables hold only documented columns."""
    return frame.drop(columns=[c for c in frame.columns if c.startswith("_")]).reset_index(drop=True)


def _draw_accounts(rng, n: int, as_of: dt.date) -> dict[str, np.ndarray]:
    """Latent per-account draws: segment, start month, anchor day, interval, seats, health."""
    seg = _stratified(rng, np.array(list(cat.SEGMENT_SHARE.values())), n)
    weights = GROWTH_PER_MONTH ** np.arange(WINDOW_MONTHS)
    start = _stratified(rng, weights / weights.sum(), n)
    anchor = rng.integers(1, 29, n)
    last = start == WINDOW_MONTHS - 1
    anchor[last] = rng.integers(1, min(as_of.day, 28) + 1, int(last.sum()))
    plans = cat.PLANS
    annual = rng.random(n) >= plans["monthly_share"].to_numpy()[seg]
    seats = np.exp(np.log(plans["seats_median"].to_numpy()[seg]) + plans["seats_sigma"].to_numpy()[seg] * rng.standard_normal(n))
    return {
        "seg": seg, "start": start, "anchor": anchor, "annual": annual,
        "seats0": np.maximum(1, np.rint(seats)).astype(np.int64),
        "h": _stratified_normal(rng, n),
    }


def _stratified(rng, p: np.ndarray, n: int) -> np.ndarray:
    """Category draws with (near) exact shares: evenly spaced quantiles, shuffled.

    Cuts sampling noise in the book's mix so small books (300 accounts) still show the
    intended aggregate shape."""
    q = (np.arange(n) + rng.random()) / n
    return rng.permutation(np.minimum(np.searchsorted(np.cumsum(p), q, side="right"), len(p) - 1))


def _stratified_normal(rng, n: int) -> np.ndarray:
    """Standard-normal latent health at evenly spaced quantiles, shuffled (see ``_stratified``)."""
    from statistics import NormalDist

    q = (np.arange(n) + rng.uniform(0.05, 0.95)) / n
    inv = NormalDist().inv_cdf
    return rng.permutation(np.array([inv(x) for x in q]))


def _names(rng, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Company names (may repeat, as in real CRMs) and unique domains: a repeated stem
    takes its suffix word (``brightpath-labs.io``), and a number if still taken."""
    a, b = pick(rng, cat.NAME_A, n), pick(rng, cat.NAME_B, n)
    suffix, tld = pick(rng, cat.NAME_SUFFIX, n), pick(rng, cat.TLDS, n)
    stem = pd.Series(a + b).str.lower()
    stem = stem.where(~stem.duplicated(), stem + "-" + pd.Series(suffix).str.lower())
    dup = stem.groupby(stem).cumcount()
    stem = stem.where(dup == 0, stem + (dup + 1).astype(str))
    return a + b + " " + suffix, stem.to_numpy(dtype=object) + "." + tld


def _accounts_frame(rng, d: dict[str, np.ndarray], as_of: dt.date) -> pd.DataFrame:
    """Static account attributes; commercial columns are filled in by ``contract_lines``."""
    n = len(d["seg"])
    plans = cat.PLANS
    names, domains = _names(rng, n)
    currency = pick(rng, cat.CURRENCIES, n, p=cat.CURRENCY_SHARE)
    country = np.array([cat.COUNTRY_BY_CURRENCY[c][i % len(cat.COUNTRY_BY_CURRENCY[c])]
                        for c, i in zip(currency, rng.integers(0, 12, n))], dtype=object)
    emp_base = np.array([8, 40, 400, 4000])[d["seg"]]
    owner = pick(rng, cat.CSM_NAMES, n)
    icp_p = np.array([[0.1, 0.3, 0.6], [0.25, 0.45, 0.3], [0.45, 0.4, 0.15], [0.6, 0.3, 0.1]])
    icp = (rng.random(n)[:, None] > icp_p.cumsum(axis=1)[d["seg"]]).sum(axis=1)
    link = rng.choice(np.array(["metadata", "domain", "none"], dtype=object), n, p=[0.85, 0.11, 0.04])
    return pd.DataFrame({
        "account_id": ids("ACC-", np.arange(1, n + 1)),
        "name": names,
        "domain": domains,
        "segment": np.asarray(plans["segment"], dtype=object)[d["seg"]],
        "industry": pick(rng, cat.INDUSTRIES, n),
        "owner": owner,
        "owner_email": pd.Series(owner).str.lower().str.replace(" ", ".").to_numpy(dtype=object) + "@nrr-demo.example",
        "icp_tier": cat.ICP_TIERS.astype(object)[np.minimum(icp, 2)],
        "employees": np.maximum(2, np.rint(emp_base * np.exp(0.6 * rng.standard_normal(n)))).astype(np.int64),
        "plan": np.asarray(plans["plan"], dtype=object)[d["seg"]],
        "currency": currency,
        "billing_interval": np.where(d["annual"], "year", "month").astype(object),
        "country": country,
        "stripe_link": link,
        "stripe_customer_id": ids("cus_S", np.arange(1, n + 1), 8),
    })
