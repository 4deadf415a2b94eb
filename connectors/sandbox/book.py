"""The synthetic book of business every sandbox emulator serves.

``generate_book(accounts=300, seed=7, as_of=DEFAULT_AS_OF)`` simulates one SaaS
company's customers month by month (about three years ending at ``as_of``) and returns
a :class:`Book` of pandas DataFrames. The Salesforce, HubSpot and Stripe emulators
project these tables into their own objects; ``Book.canonical(kind)`` gives the same
facts as the engine's canonical records (``engine/records.py``).

Conventions
-----------
* Deterministic: the same ``(accounts, seed, as_of)`` gives identical tables (all three
  feed the random stream, so a 400-account book is not a superset of a 300-account one).
* **Money is integer minor units** (cents/pence) in ``int64`` columns whose names end
  in ``_minor``. Prices are chosen so every monthly figure is a whole number of minor
  units, hence sums balance exactly. ``canonical()`` converts to ``Decimal``.
* Date columns (``*_date``, ``day``, ``issued_at``...) are ``datetime64[ns]`` at
  midnight; ``NaT`` means "none". Instants (``created_at``, ``updated_at``,
  ``deleted_at``, ticket times) are UTC ``datetime64[ns]`` without tz.
* Every table has ``created_at`` and ``updated_at``; some rows were updated in the last
  three days before ``as_of`` so incremental syncs have work. CRM-side tables (accounts,
  contacts, opportunities, contracts, tickets) also have ``deleted`` (bool) and
  ``deleted_at``: a few contacts, tickets, lost opportunities and long-churned accounts
  were deleted in the last week (contract lines never are).
* Ids are stable strings: ``ACC-000001``, ``CON-…``, ``OPP-…``, ``CTR-…``,
  ``sub_…``, ``in_…``, ``cus_…``, ``price_…``, ``prod_…``, ``TKT-…``, ``NPS-…``.

Tables
------
accounts — one row per company (customers, churned customers)
    account_id str; name str; domain str (unique, e.g. ``brightpath.io``);
    segment str (``self-serve|smb|mid-market|enterprise``); industry str;
    owner str (CSM full name); owner_email str; icp_tier str (``Tier 1|Tier 2|Tier 3``);
    employees int; licensed_seats int (seats at as_of, or when last active);
    plan str (``Starter|Team|Business|Enterprise``); plan_limit int (monthly usage
    units included in the plan); currency str (``USD|EUR|GBP``);
    billing_interval str (``month|year``); country str;
    customer_since date (first paid day); status str (``active|churned`` at as_of);
    churned_on date (first day without service after the last churn, NaT if active);
    stripe_link str (``metadata``: Stripe customer metadata holds account_id |
    ``domain``: only the billing email's domain matches | ``none``: matches nothing);
    stripe_customer_id str; billing_email str; champion_contact_id str;
    sponsor_contact_id str (may be empty); created_at; updated_at; deleted; deleted_at.
contacts — people at each account
    contact_id str; account_id str; user_id str (their product user id in usage);
    first_name; last_name; email (on the account domain); title str;
    role str (``champion|sponsor|user``); phone str; created_at; updated_at;
    deleted; deleted_at.
opportunities — CRM deals, consistent with the contract lines
    opportunity_id str; account_id str; name str; type str
    (``New Business|Renewal|Upsell|Downgrade``); stage str (``Closed Won|Closed Lost``);
    is_won bool; amount_minor int (annual value: 12 × MRR of the won line for New
    Business/Renewal; 12 × |MRR change| for Upsell/Downgrade; what was at stake when
    lost); currency str; close_date date; contract_start date; contract_end date
    (inclusive, NaT for evergreen/lost); term_months int (12 annual, 1 monthly, 0 lost);
    loss_reason str (a ``CHURN_REASON_CATEGORIES`` value on lost deals, else empty);
    loss_detail str (free text); owner str; created_at; updated_at; deleted; deleted_at.
contracts — contract lines (what is sold, for how long, at what price)
    contract_id str; account_id str; opportunity_id str (empty for self-serve changes);
    subscription_id str; product str; plan str; price_id str; change str
    (``new|renewal|upsell|downgrade|reactivation``); start_date date;
    end_date date (inclusive last day of service, NaT = evergreen monthly line);
    interval str (``month|year``); unit_amount_minor int (list price per seat per
    interval); quantity int (seats); discount_percent int (0 = none);
    discount_end date (inclusive last discounted day; NaT = discount for the whole line);
    list_mrr_minor int (quantity × unit price, monthly-normalised);
    mrr_minor int (MRR while the discount applies; = list_mrr_minor when none);
    currency str; status str (``active|ended|churned`` at as_of); auto_renew bool;
    created_at; updated_at; deleted; deleted_at.
subscriptions — Stripe subscriptions (one per continuous paying run of an account)
    subscription_id str; account_id str; stripe_customer_id str; status str
    (``active|past_due|canceled``); interval str; currency str; start_date date
    (first paid day); trial_days int; trial_start date; trial_end date (NaT = no trial);
    current_period_start date; current_period_end date (inclusive); canceled_at date;
    ended_at date (first day without service); created_at; updated_at.
    Items = the ``contracts`` rows with this subscription_id active at as_of (for
    canceled ones: the last lines).
products — product_id str; name str; plan str; plan_limit int; created_at.
prices — price_id str; product_id str; plan str; currency str; interval str;
    unit_amount_minor int; created_at.
invoices — one per account per billing date
    invoice_id str; number str; account_id str; subscription_id str;
    stripe_customer_id str; currency str; period_start date; period_end date;
    issued_at date; due_at date; paid_at date (NaT unpaid);
    subscription_minor int (recurring charges after discounts — the only part that is
    revenue); discount_minor int (discount already taken off subscription_minor);
    one_time_minor int (set-up/onboarding fees, not MRR); one_time_description str;
    tax_minor int (not MRR); total_minor int (= subscription + one_time + tax);
    status str (``paid|open|uncollectible|void``); attempt_count int; created_at;
    updated_at.
tickets — support cases
    ticket_id str; account_id str; contact_id str; created_at; closed_at (NaT open);
    priority str (``low|normal|high|urgent``); status str (``open|pending|closed``);
    category str (``bug|how-to|billing|feature-request|outage``); subject str; body str;
    tone str (``frustrated|neutral|curious``); csat float (1–5, NaN unrated);
    updated_at; deleted; deleted_at.
nps — survey responses
    response_id str; account_id str; contact_id str; user_id str; day date; score int
    (0–10); comment str; created_at.
churn_reasons — one per churn event
    account_id str; day date (first day without service); reason str (a
    ``CHURN_REASON_CATEGORIES`` value); opportunity_id str (the lost renewal);
    detail str.
profile — latent per-account traits, not a vendor table (usage generation reads it)
    account_id str; health float (standard normal; low → churn, high → expansion);
    seg int (index into SEGMENTS); future_churn date (churn the simulation has after
    as_of, NaT none — such accounts already show declining usage and frustrated tickets).
usage (not stored; ``book.usage(days)`` / ``book.write_usage(path)``)
    account_id str; user_id str; day date; feature str; quantity float; team str.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import pyarrow as pa

DEFAULT_AS_OF = dt.date(2026, 11, 15)

TABLES = (
    "accounts", "contacts", "opportunities", "contracts", "subscriptions",
    "products", "prices", "invoices", "tickets", "nps", "churn_reasons",
)


@dataclass
class Book:
    """All tables of one generated book; see the module docstring for columns."""

    seed: int
    as_of: dt.date
    accounts: pd.DataFrame
    contacts: pd.DataFrame
    opportunities: pd.DataFrame
    contracts: pd.DataFrame
    subscriptions: pd.DataFrame
    products: pd.DataFrame
    prices: pd.DataFrame
    invoices: pd.DataFrame
    tickets: pd.DataFrame
    nps: pd.DataFrame
    churn_reasons: pd.DataFrame
    profile: pd.DataFrame = field(repr=False, default=None)  # per-account latent traits for usage

    def table(self, name: str) -> pd.DataFrame:
        if name not in TABLES:
            raise KeyError(f"unknown book table {name!r}; expected one of {', '.join(TABLES)}")
        return getattr(self, name)

    def usage(self, days: int = 180) -> pd.DataFrame:
        """Daily product usage for the last ``days`` days up to ``as_of`` (inclusive)."""
        from connectors.sandbox.book_usage import usage_frame

        return usage_frame(self, days)

    def write_usage(self, path: str | Path, fmt: str = "parquet", days: int = 180) -> int:
        """Stream usage to ``path`` in account chunks; returns the number of rows."""
        from connectors.sandbox.book_usage import write_usage

        return write_usage(self, Path(path), fmt, days)

    def canonical(self, kind: str) -> pa.Table:
        """The book as canonical records of ``kind`` (``engine.records.KINDS``)."""
        from connectors.sandbox.book_canonical import canonical_table

        return canonical_table(self, kind)


def generate_book(accounts: int = 300, seed: int = 7, as_of: dt.date = DEFAULT_AS_OF) -> Book:
    """Simulate a book of ``accounts`` companies with history ending at ``as_of``."""
    from connectors.sandbox.book_build import build_book

    if accounts < 1:
        raise ValueError(f"accounts must be at least 1, got {accounts}")
    if isinstance(as_of, dt.datetime):
        as_of = as_of.date()
    return build_book(accounts, seed, as_of)
