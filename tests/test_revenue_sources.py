"""Revenue fidelity across sources: contract lines synced from Salesforce, HubSpot or Stripe
(the ``[revenue] source`` setting) reproduce the book's month-end MRR and TTM retention.

One sandbox book (90 accounts, seed 7, as of 2026-11-22) is synced once from all three
sources over real HTTP; each source's contract lines are then compared with the book's
canonical lines (``Book.canonical("contracts")``), account by account, at the 12 month-ends
2025-11-30 … 2026-10-31, and through ``compute_metrics`` for 2026-10.

What each source can carry, and so how exact the comparison is:

* **Salesforce** Contract lines carry MRR, dates and discount ends: exact for every account.
* **Stripe** lines come from invoice history (``connectors/stripe_lines.py``): exact for every
  account, with one documented rule applied to the expectation: a subscription that is
  ``past_due``/``unpaid`` at sync time stops counting ``past_due_grace_days`` (14) after its
  unpaid period began, so the book's lines of such a subscription are cut at
  ``current_period_start + 14 days − 1`` before comparing. Stripe customers the identity
  rules cannot link (``stripe_link = none``) are linked by a ``links.csv`` entry, as a user would.
* **HubSpot** deals carry what sales booked. Two things never reach the CRM, so accounts
  touched by them are compared separately: self-serve seat changes (made in the product,
  no deal) and monthly discounts that expire (the deal holds the discounted value only).
  Every other account is exact, and the TTM figures over those accounts equal the book's.
"""

from __future__ import annotations

import csv
import datetime as dt
from decimal import Decimal

import ibis
import pandas as pd
import pytest

from connectors.retry import RetryPolicy
from connectors.sandbox.app import Sandbox
from connectors.sandbox.book import generate_book
from connectors.sync import sync_sources
from engine.revenue.metrics import compute_metrics
from engine.revenue.mrr import month_end_mrr
from engine.settings import RevenueSettings
from engine.store import Store

AS_OF = dt.date(2026, 11, 22)
FIRST, LAST = "2025-11", "2026-10"
GRACE_DAYS = 14
SETTINGS = RevenueSettings()
TTM_KEYS = ("nrr_ttm", "grr_ttm", "logo_retention_ttm", "mrr_end")


@pytest.fixture(scope="module")
def book():
    return generate_book(accounts=90, seed=7, as_of=AS_OF)


@pytest.fixture(scope="module")
def store(book, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("sources")
    unlinked = book.accounts[book.accounts["stripe_link"] == "none"]
    with (tmp / "links.csv").open("w", newline="") as fh:
        out = csv.writer(fh)
        out.writerow(["source", "source_id", "account_id"])
        out.writerows(["stripe", cus, acc] for cus, acc in zip(unlinked["stripe_customer_id"], unlinked["account_id"]))
    with Sandbox(book) as sb, Store(tmp / "s.duckdb") as st:
        cfg = {n: {"enabled": True, "base_url": sb.urls[n], "ca_bundle": str(sb.ca_path), "timeout_seconds": 5.0,
                   **({"past_due_grace_days": GRACE_DAYS} if n == "stripe" else {})}
               for n in ("salesforce", "hubspot", "stripe")}
        report = sync_sources(st, cfg, sb.credentials, progress=False, project_dir=tmp,
                              policy=RetryPolicy(sleep=lambda s: None))
        assert report.ok, report.to_dict()
        yield st


def month_ends(lines: ibis.Table) -> dict[tuple[str, dt.date], Decimal]:
    """(account, month-end) → MRR in USD, positive values only (absent = 0)."""
    df = month_end_mrr(lines, SETTINGS, FIRST, LAST).to_pandas()
    return {(r.account_id, pd.Timestamp(r.month_end).date()): Decimal(str(r.mrr)) for r in df.itertuples()}


def book_lines(book) -> pd.DataFrame:
    lines = book.canonical("contracts").to_pandas()
    sub_of = dict(zip(book.contracts["contract_id"], book.contracts["subscription_id"]))
    lines["subscription_id"] = lines["contract_id"].str.removesuffix("-R").map(sub_of)
    return lines


def with_grace_cut(book, lines: pd.DataFrame) -> pd.DataFrame:
    """The book's lines as Stripe's dunning rule sees them: lines of a subscription that is
    past due at as_of end at current_period_start + GRACE_DAYS − 1 (none end later)."""
    due = book.subscriptions[book.subscriptions["status"] == "past_due"]
    stop = dict(zip(due["subscription_id"], due["current_period_start"] + pd.Timedelta(days=GRACE_DAYS - 1)))
    cut = lines["subscription_id"].map(stop)
    ends = pd.to_datetime(lines["end_date"])
    lines = lines.assign(end_date=ends.where(cut.isna() | (ends.notna() & (ends <= cut)), cut))
    return lines[lines["end_date"].isna() | (lines["end_date"] >= pd.to_datetime(lines["start_date"]))]


def table(lines: pd.DataFrame) -> ibis.Table:
    return ibis.memtable(lines.drop(columns=["subscription_id"], errors="ignore"))


def ttm(lines: ibis.Table) -> dict:
    figures = compute_metrics(lines, None, SETTINGS, "2026-10")
    return {k: figures[k] for k in TTM_KEYS}


def crm_blind_accounts(book) -> set[str]:
    """Accounts whose history has facts no deal carries: self-serve seat changes (no deal
    is made) or a discount that expires (the deal holds only the discounted MRR)."""
    c = book.contracts.merge(book.accounts[["account_id", "segment"]], on="account_id")
    blind = ((c["segment"] == "self-serve") & c["change"].isin(["upsell", "downgrade"])) | c["discount_end"].notna()
    return set(c.loc[blind, "account_id"])


def test_salesforce_lines_reproduce_the_book_exactly(book, store):
    truth = table(book_lines(book))
    synced = store.records("contracts", ["salesforce"])
    assert month_ends(synced) == month_ends(truth)
    assert ttm(synced) == ttm(truth)


def test_stripe_lines_from_invoice_history_reproduce_the_book(book, store):
    expected = table(with_grace_cut(book, book_lines(book)))
    synced = store.records("contracts", ["stripe"])
    got, want = month_ends(synced), month_ends(expected)
    assert got == want
    assert ttm(synced) == ttm(expected)
    # the history is really there: the book's upgrades, downgrades and churns show up as
    # month-to-month changes of at least a third of the accounts
    changed = {a for (a, d), v in want.items() if want.get((a, (pd.Timestamp(d) - pd.offsets.MonthEnd(1)).date())) != v}
    assert len(changed) >= len(book.accounts) // 3


def invalid_lines(store, source: str) -> int:
    """Live lines the engine would reject: negative MRR, or ending before they start."""
    return store.con.execute(
        "SELECT count(*) FROM contract_lines WHERE source = ? AND NOT deleted "
        "AND (mrr < 0 OR (end_date IS NOT NULL AND end_date < start_date))", [source]).fetchall()[0][0]


def test_stripe_lines_are_valid_contract_lines(store):
    assert invalid_lines(store, "stripe") == 0


def test_hubspot_lines_are_valid_and_exact_where_the_deals_carry_the_facts(book, store):
    assert invalid_lines(store, "hubspot") == 0  # a downgrade is a new, smaller line — never a negative one
    synced = store.records("contracts", ["hubspot"])
    blind = crm_blind_accounts(book)
    assert 0 < len(blind) < len(book.accounts) // 3
    seen = book_lines(book)
    seen = seen[~seen["account_id"].isin(blind)]
    got = {k: v for k, v in month_ends(synced).items() if k[0] not in blind}
    assert got == month_ends(table(seen))
    assert ttm(synced.filter(~synced.account_id.isin(sorted(blind)))) == ttm(table(seen))


def test_hubspot_downgrades_are_in_the_book_and_in_the_lines(book, store):
    """The sample has CRM downgrades (so the rule above is exercised), and each one's
    HubSpot line starts on the book's downgrade day at the book's new MRR."""
    blind = crm_blind_accounts(book)
    down = book.contracts[(book.contracts["change"] == "downgrade") & ~book.contracts["account_id"].isin(blind)]
    assert len(down) > 0
    synced = store.records("contracts", ["hubspot"]).to_pandas()
    for row in down.itertuples():
        day = pd.Timestamp(row.start_date).date()
        same = synced[(synced["account_id"] == row.account_id) & (pd.to_datetime(synced["start_date"]).dt.date == day)]
        assert sorted(Decimal(str(m)) for m in same["mrr"]) == [Decimal(int(row.mrr_minor)) / 100], row.contract_id


# -- HubSpot deals → lines, by hand (connectors/hubspot.py: deal_lines) --------------------

def deal(deal_id, change, mrr, start=None, end=None, outcome="won", close=None):
    return {"id": deal_id, "outcome": outcome, "change": change, "churn": change == "renewal", "mrr": mrr,
            "start_date": start, "end_date": end, "close_date": close or start, "currency": "USD"}


def hs_lines(deals):
    from connectors.hubspot import deal_lines
    from connectors.settings import HubSpotFields

    rows, skipped = deal_lines(deals, "ACC-1", HubSpotFields())
    return sorted((r["source_id"], str(r["start_date"]), str(r["end_date"]), r["mrr"]) for r in rows), skipped


def test_monthly_upsell_downgrade_and_lost_renewal_by_hand():
    # new 100/month from Jan 10; upsell +50 from Mar 10 (150 in all); downgrade by 30 on May 10:
    # both running lines end May 9 and one line opens at 150 − 30 = 120; the renewal is lost on
    # Aug 2 → the 120 line ends the day before its next billing day (Aug 10): Aug 9
    rows, skipped = hs_lines([deal("d1", "new", "100", "2026-01-10"), deal("d2", "upsell", "50", "2026-03-10"),
                              deal("d3", "downgrade", "30", "2026-05-10"),
                              deal("d4", "renewal", "1440", outcome="lost", close="2026-08-02")])
    assert rows == [("d1", "2026-01-10", "2026-05-09", Decimal("100.000000")),
                    ("d2", "2026-03-10", "2026-05-09", Decimal("50.000000")),
                    ("d3", "2026-05-10", "2026-08-09", Decimal("120.000000"))]
    assert skipped == []


def test_annual_downgrade_at_renewal_and_a_cut_larger_than_the_mrr():
    # annual 500/month 2025-04-01 … 2026-03-31; renewal downgraded by 200 → 300/month for the next term
    rows, _ = hs_lines([deal("a1", "new", "500", "2025-04-01", "2026-03-31"),
                        deal("a2", "downgrade", "200", "2026-04-01", "2027-03-31")])
    assert rows == [("a1", "2025-04-01", "2026-03-31", Decimal("500.000000")),
                    ("a2", "2026-04-01", "2027-03-31", Decimal("300.000000"))]
    # a cut of 600 from 500 cannot be a line: skipped with the reason, the 500 line kept whole
    rows, skipped = hs_lines([deal("a1", "new", "500", "2025-04-01", "2026-03-31"),
                              deal("a2", "downgrade", "600", "2025-06-01")])
    assert rows == [("a1", "2025-04-01", "2026-03-31", Decimal("500.000000"))]
    assert skipped == [("a2", "downgrade of 600 is larger than the MRR it changes (500)")]


def test_an_edited_downgrade_deal_re_derives_its_company_incrementally(tmp_path):
    """A changed downgrade deal arrives by the incremental search; its company's lines are
    re-derived from all its deals and equal what a clean full sync of the new state gives."""
    from hubspot import HubSpot
    from hubspot.crm.deals import SimplePublicObjectInput

    from connectors.sandbox.hs_book import hubspot_id

    small = generate_book(accounts=40, seed=11)  # as of 2026-11-15: its stamps are before the emulator's "now"
    opps = small.opportunities
    down = opps[(opps["type"] == "Downgrade") & opps["is_won"]].iloc[0]
    deal_id = str(hubspot_id("deals", down["opportunity_id"]))
    with Sandbox(small, emulators=("hubspot",)) as sb:
        cfg = {"hubspot": {"enabled": True, "base_url": sb.urls["hubspot"], "ca_bundle": str(sb.ca_path)}}
        run = lambda st, path: sync_sources(st, cfg, sb.credentials, progress=False, project_dir=path,  # noqa: E731
                                            policy=RetryPolicy(sleep=lambda s: None))
        with Store(tmp_path / "a.duckdb") as incremental:
            assert run(incremental, tmp_path).ok
            before = lines_of(incremental)
            client = HubSpot(access_token=sb.credentials["hubspot"]["access_token"], host=sb.urls["hubspot"])
            # the cut halves (rounded to cents): the new line is bigger by that much
            cut = Decimal(int(down["amount_minor"]) // 24) / 100
            client.crm.deals.basic_api.update(deal_id, SimplePublicObjectInput(properties={"hs_mrr": str(cut), "hs_arr": str(cut * 12)}))
            assert run(incremental, tmp_path).ok
            after = lines_of(incremental)
        with Store(tmp_path / "b.duckdb") as clean:
            assert run(clean, tmp_path).ok
            assert after == lines_of(clean)
    assert after[deal_id][1] == before[deal_id][1] + (Decimal(int(down["amount_minor"])) / 1200 - cut)


def lines_of(store) -> dict[str, tuple]:
    rows = store.con.execute("SELECT source_id, start_date, end_date, mrr FROM contract_lines "
                             "WHERE source = 'hubspot' AND NOT deleted").fetchall()
    return {r[0]: (r[1:3], Decimal(r[3])) for r in rows}
