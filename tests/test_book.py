"""The synthetic book: determinism, internal consistency, exact money, aggregate shape,
usage behaviour and canonical records (round-tripped through a real DuckDB store)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from connectors.sandbox.book import TABLES, generate_book
from engine.records import CHURN_REASON_CATEGORIES, KINDS, SEGMENTS
from engine.settings import RevenueSettings
from engine.store import Store

AS_OF = dt.date(2026, 11, 15)
FX = {k: float(v) for k, v in RevenueSettings().fx_rates.items()} | {"USD": 1.0}

#: the columns emulators code against; adding columns is fine, removing/renaming is not
CONTRACT_COLUMNS = {
    "accounts": ["account_id", "name", "domain", "segment", "industry", "owner", "owner_email", "icp_tier",
                 "employees", "licensed_seats", "plan", "plan_limit", "currency", "billing_interval", "country",
                 "customer_since", "status", "churned_on", "stripe_link", "stripe_customer_id", "billing_email",
                 "champion_contact_id", "sponsor_contact_id", "created_at", "updated_at", "deleted", "deleted_at"],
    "contacts": ["contact_id", "account_id", "user_id", "first_name", "last_name", "email", "title", "role",
                 "phone", "created_at", "updated_at", "deleted", "deleted_at"],
    "opportunities": ["opportunity_id", "account_id", "name", "type", "stage", "is_won", "amount_minor", "currency",
                      "close_date", "contract_start", "contract_end", "term_months", "loss_reason", "loss_detail",
                      "owner", "created_at", "updated_at", "deleted", "deleted_at"],
    "contracts": ["contract_id", "account_id", "opportunity_id", "subscription_id", "product", "plan", "price_id",
                  "change", "start_date", "end_date", "interval", "unit_amount_minor", "quantity", "discount_percent",
                  "discount_end", "list_mrr_minor", "mrr_minor", "currency", "status", "auto_renew"],
    "subscriptions": ["subscription_id", "account_id", "stripe_customer_id", "status", "interval", "currency",
                      "start_date", "trial_days", "trial_start", "trial_end", "current_period_start",
                      "current_period_end", "canceled_at", "ended_at", "created_at", "updated_at"],
    "products": ["product_id", "name", "plan", "plan_limit", "created_at"],
    "prices": ["price_id", "product_id", "plan", "currency", "interval", "unit_amount_minor", "created_at"],
    "invoices": ["invoice_id", "number", "account_id", "subscription_id", "stripe_customer_id", "currency",
                 "period_start", "period_end", "issued_at", "due_at", "paid_at", "subscription_minor",
                 "discount_minor", "one_time_minor", "one_time_description", "tax_minor", "total_minor", "status",
                 "attempt_count", "created_at", "updated_at"],
    "tickets": ["ticket_id", "account_id", "contact_id", "created_at", "closed_at", "priority", "status", "category",
                "subject", "body", "tone", "csat", "updated_at", "deleted", "deleted_at"],
    "nps": ["response_id", "account_id", "contact_id", "user_id", "day", "score", "comment", "created_at"],
    "churn_reasons": ["account_id", "day", "reason", "opportunity_id", "detail"],
}


@pytest.fixture(scope="module")
def book():
    return generate_book(300, seed=7, as_of=AS_OF)


@pytest.fixture(scope="module")
def big():
    """Large enough that the aggregate shape is a property of the generator, not luck."""
    return generate_book(3000, seed=11, as_of=AS_OF)


@pytest.fixture(scope="module")
def usage(book):
    return book.usage(days=180)


def test_tables_have_the_documented_columns(book):
    for name in TABLES:
        missing = [c for c in CONTRACT_COLUMNS[name] if c not in book.table(name).columns]
        assert not missing, f"{name} lacks {missing}"


def test_same_seed_same_book_and_other_seed_differs():
    a, b = generate_book(80, seed=3, as_of=AS_OF), generate_book(80, seed=3, as_of=AS_OF)
    for name in TABLES:
        pd.testing.assert_frame_equal(a.table(name), b.table(name), check_exact=True)
    pd.testing.assert_frame_equal(a.usage(30), b.usage(30))
    c = generate_book(80, seed=4, as_of=AS_OF)
    assert not a.accounts["name"].equals(c.accounts["name"])
    assert not a.contracts["mrr_minor"].equals(c.contracts["mrr_minor"])


def test_ids_unique_and_links_resolve(book):
    for name, key in [("accounts", "account_id"), ("contacts", "contact_id"), ("contracts", "contract_id"),
                      ("opportunities", "opportunity_id"), ("invoices", "invoice_id"), ("tickets", "ticket_id")]:
        assert book.table(name)[key].is_unique, name
    accounts = set(book.accounts["account_id"])
    for name in ("contacts", "contracts", "opportunities", "invoices", "tickets", "nps", "churn_reasons", "subscriptions"):
        assert set(book.table(name)["account_id"]) <= accounts, name
    assert set(book.contracts["price_id"]) <= set(book.prices["price_id"])
    assert set(book.contracts["subscription_id"]) == set(book.subscriptions["subscription_id"])
    linked = book.contracts.loc[book.contracts["opportunity_id"] != "", "opportunity_id"]
    assert set(linked) <= set(book.opportunities["opportunity_id"])


def test_vocabularies(book):
    a = book.accounts
    assert set(a["segment"]) == set(SEGMENTS)
    assert set(a["currency"]) == {"USD", "EUR", "GBP"} and (a["currency"] == "USD").mean() > 0.6
    assert set(a["stripe_link"]) == {"metadata", "domain", "none"} and (a["stripe_link"] == "metadata").mean() > 0.7
    assert set(book.contacts["role"]) == {"champion", "sponsor", "user"}
    assert set(book.opportunities["type"]) == {"New Business", "Renewal", "Upsell", "Downgrade"}
    assert set(book.churn_reasons["reason"]) <= set(CHURN_REASON_CATEGORIES)
    assert set(book.contracts["interval"]) == {"month", "year"}
    assert set(book.contracts["change"]) == {"new", "renewal", "upsell", "downgrade", "reactivation"}
    doms = book.contacts["account_id"].map(a.set_index("account_id")["domain"])
    assert (book.contacts["email"].str.split("@").str[1] == doms).all()


def test_money_is_exact_minor_units(book):
    c = book.contracts
    # mrr_minor × 100 = monthly unit price (annual ÷ 12) × seats × (100 − discount%)
    per_month = np.where(c["interval"] == "year", c["unit_amount_minor"] // 12, c["unit_amount_minor"])
    assert (np.where(c["interval"] == "year", c["unit_amount_minor"] % 12, 0) == 0).all()
    assert (c["mrr_minor"] * 100 == per_month * c["quantity"] * (100 - c["discount_percent"])).all()
    assert (c["list_mrr_minor"] == per_month * c["quantity"]).all()
    inv = book.invoices
    assert (inv["total_minor"] == inv["subscription_minor"] + inv["one_time_minor"] + inv["tax_minor"]).all()
    assert (inv["one_time_minor"] > 0).any() and (inv["tax_minor"] > 0).any()
    assert ((inv["attempt_count"] > 1) & (inv["status"] == "paid") & (inv["paid_at"] > inv["due_at"])).any()


def test_monthly_invoices_bill_the_line_mrr(book):
    """A monthly line with no discount bills its MRR every month from start to as_of."""
    c = book.contracts
    line = c[(c["interval"] == "month") & (c["discount_percent"] == 0) & c["end_date"].isna()
             & (c["start_date"] < pd.Timestamp("2026-06-01"))].iloc[0]
    sub_inv = book.invoices[(book.invoices["subscription_id"] == line["subscription_id"])
                            & (book.invoices["issued_at"] >= line["start_date"])]
    # start day-of-month repeats monthly up to 2026-11-15: months between start and as_of, +1 if the day has come
    start = line["start_date"]
    months = (2026 - start.year) * 12 + (11 - start.month) + (1 if start.day <= 15 else 0)
    assert len(sub_inv) == months
    assert (sub_inv["subscription_minor"] == line["mrr_minor"]).all()


def test_opportunities_agree_with_lines_and_churn(book):
    o, c = book.opportunities, book.contracts
    won = c[c["opportunity_id"] != ""].merge(o, on="opportunity_id", suffixes=("", "_o"))
    assert (won["is_won"] & (won["stage"] == "Closed Won")).all()
    assert (won["contract_start"] == won["start_date"]).all()
    renewals = won[won["change"] == "renewal"]
    assert (renewals["amount_minor"] == 12 * renewals["mrr_minor"]).all()
    lost = o[o["opportunity_id"].isin(book.churn_reasons["opportunity_id"])]
    assert len(lost) == len(book.churn_reasons) and (lost["stage"] == "Closed Lost").all()
    joined = book.churn_reasons.merge(o, on="opportunity_id")
    assert (joined["reason"] == joined["loss_reason"]).all()


def test_reactivations_and_discount_expiry_exist(book):
    c = book.contracts
    assert (c["change"] == "reactivation").any()
    assert (c["discount_end"].notna() & (c["discount_percent"] > 0)).any()


def test_incremental_and_delete_fixtures(book):
    since = pd.Timestamp(AS_OF) - pd.Timedelta(days=3)
    for name in ("accounts", "contacts", "opportunities", "contracts", "tickets", "invoices", "subscriptions"):
        t = book.table(name)
        assert (t["updated_at"] >= since).any(), name
        assert (t["updated_at"] >= t["created_at"]).all(), name
        assert (t["created_at"] <= pd.Timestamp(AS_OF) + pd.Timedelta(days=1)).all(), name
    for name in ("contacts", "tickets"):
        t = book.table(name)
        gone = t[t["deleted"]]
        assert len(gone) > 0 and (gone["deleted_at"] >= pd.Timestamp(AS_OF) - pd.Timedelta(days=7)).all(), name


def _month_end_mrr(c: pd.DataFrame, day: pd.Timestamp) -> pd.Series:
    """Account MRR (reporting currency) on ``day``: lines active that day; the discounted
    MRR while the discount lasts, list MRR after."""
    active = (c["start_date"] <= day) & (c["end_date"].isna() | (c["end_date"] >= day))
    discounted = c["discount_end"].isna() | (c["discount_end"] >= day)
    mrr = np.where(discounted, c["mrr_minor"], c["list_mrr_minor"]) * c["currency"].map(FX).to_numpy()
    return pd.Series(mrr[active.to_numpy()], index=c["account_id"][active].to_numpy()).groupby(level=0).sum()


@pytest.mark.parametrize("which", ["book", "big"])
def test_ttm_nrr_and_grr_in_realistic_band(which, request):
    """Both the default 300-account book the sandbox serves and a 3,000-account one."""
    b = request.getfixturevalue(which)
    # T = last month end before as_of (2026-10-31); base = accounts with MRR > 0 at 2025-10-31
    before = _month_end_mrr(b.contracts, pd.Timestamp("2025-10-31"))
    after = _month_end_mrr(b.contracts, pd.Timestamp("2026-10-31"))
    base = before[before > 0]
    now = after.reindex(base.index).fillna(0)
    nrr = now.sum() / base.sum()
    grr = np.minimum(now, base).sum() / base.sum()
    assert 1.00 <= nrr <= 1.15, nrr
    assert 0.85 <= grr <= 0.92, grr


def test_churn_concentrated_in_small_segments_and_first_months(big):
    ch = big.churn_reasons.merge(big.accounts[["account_id", "segment", "customer_since"]], on="account_id")
    assert ch["segment"].isin(["smb", "self-serve"]).mean() > 0.75
    # the first 6 months are ~1/6 of a 36-month window, yet hold far more of the churn
    assert ((ch["day"] - ch["customer_since"]).dt.days < 183).mean() > 0.35


def test_usage_declines_before_churn(book, usage):
    first_day = pd.Timestamp(AS_OF) - pd.Timedelta(days=179)
    churned = book.accounts[book.accounts["churned_on"] >= first_day + pd.Timedelta(days=130)]
    assert len(churned) >= 5
    u = usage.assign(day=pd.to_datetime(usage["day"]))
    early_rows = late_rows = early_feat = late_feat = 0
    for acc, churn in zip(churned["account_id"], churned["churned_on"]):
        mine = u[u["account_id"] == acc]
        early = mine[(mine["day"] >= churn - pd.Timedelta(days=130)) & (mine["day"] < churn - pd.Timedelta(days=100))]
        late = mine[(mine["day"] >= churn - pd.Timedelta(days=30)) & (mine["day"] < churn)]
        early_rows, late_rows = early_rows + len(early), late_rows + len(late)
        early_feat += early.groupby("day")["feature"].nunique().mean() if len(early) else 0
        late_feat += late.groupby("day")["feature"].nunique().mean() if len(late) else 0
        assert not (mine["day"] >= churn).any(), f"{acc} has usage after churning"
    assert late_rows < 0.6 * early_rows
    assert late_feat < early_feat


def test_expanders_approach_plan_limit_and_add_users(book, usage):
    recent = book.contracts[(book.contracts["change"] == "upsell")
                            & (book.contracts["start_date"] >= pd.Timestamp(AS_OF) - pd.Timedelta(days=365))]
    grow = book.accounts[book.accounts["account_id"].isin(recent["account_id"]) & (book.accounts["status"] == "active")
                         & (book.accounts["customer_since"] < pd.Timestamp(AS_OF) - pd.Timedelta(days=200))]
    u = usage[usage["account_id"].isin(grow["account_id"])].assign(day=lambda f: pd.to_datetime(f["day"]))
    last = u[u["day"] > pd.Timestamp(AS_OF) - pd.Timedelta(days=30)]
    first = u[u["day"] <= pd.Timestamp(AS_OF) - pd.Timedelta(days=150)]
    limit = grow.set_index("account_id")["plan_limit"]
    util_last = (last.groupby("account_id")["quantity"].sum() / limit).median()
    util_first = (first.groupby("account_id")["quantity"].sum() / limit).median()
    assert util_last > util_first and util_last > 0.75
    assert last.groupby("account_id")["user_id"].nunique().sum() > first.groupby("account_id")["user_id"].nunique().sum()


def test_tone_turns_frustrated_before_churn(book):
    t = book.tickets.merge(book.accounts[["account_id", "churned_on"]], on="account_id")
    before = (t["churned_on"] - t["created_at"]).dt.days.between(0, 120)
    assert (t.loc[before, "tone"] == "frustrated").mean() > 0.6
    healthy = t[t["churned_on"].isna()]
    assert (healthy["tone"] == "curious").mean() > (t.loc[before, "tone"] == "curious").mean()


def test_write_usage_parquet_and_csv_match_frame(tmp_path):
    small = generate_book(40, seed=5, as_of=AS_OF)
    n = small.write_usage(tmp_path / "u.parquet", days=20)
    frame = small.usage(days=20)
    assert n == len(frame) > 0
    back = pq.read_table(tmp_path / "u.parquet").to_pandas()
    pd.testing.assert_frame_equal(back, frame)
    assert small.write_usage(tmp_path / "u.csv", fmt="csv", days=20) == n
    assert len(pd.read_csv(tmp_path / "u.csv")) == n
    with pytest.raises(ValueError, match="parquet"):
        small.write_usage(tmp_path / "u.json", fmt="json")


def test_canonical_tables_match_records_and_store(tmp_path):
    small = generate_book(60, seed=9, as_of=AS_OF)
    with Store(tmp_path / "nrr.duckdb") as store:
        for kind, rk in KINDS.items():
            table = small.canonical(kind)
            assert table.column_names == list(rk.columns), kind
            store.upsert(kind, "files", table)
        counts = {k: n for k, _src, n, _d in store.counts()}
    assert counts["contract_lines"] == small.canonical("contracts").num_rows > len(small.contracts)


def test_canonical_contracts_split_expiring_discounts(book):
    lines = book.canonical("contracts").to_pandas()
    c = book.contracts
    src = c[c["discount_end"].notna() & c["end_date"].isna()].iloc[0]
    head = lines[lines["contract_id"] == src["contract_id"]].iloc[0]
    tail = lines[lines["contract_id"] == src["contract_id"] + "-R"].iloc[0]
    assert head["end_date"] == src["discount_end"].date()
    assert tail["start_date"] == (src["discount_end"] + pd.Timedelta(days=1)).date()
    assert head["mrr"] == Decimal(int(src["mrr_minor"])) / 100
    assert tail["mrr"] == Decimal(int(src["list_mrr_minor"])) / 100 and pd.isna(tail["end_date"])
    # the canonical lines give the same month-end MRR as the book's own lines
    day = dt.date(2026, 10, 31)
    act = lines[(lines["start_date"] <= day) & (lines["end_date"].isna() | (lines["end_date"] >= day))]
    expected = _month_end_mrr(c[c["currency"] == "USD"], pd.Timestamp(day)).sum() / 100
    assert float(act.loc[act["currency"] == "USD", "mrr"].sum()) == pytest.approx(expected, abs=1e-6)


def test_bundled_sample_imports_cleanly(tmp_path):
    """The committed sample (scripts/make_sample.py) passes the file importer, including
    the contract rows given as amount per interval."""
    from pathlib import Path

    from connectors.files import import_dir

    sample = Path(__file__).resolve().parents[1] / "nrr" / "sample"
    contracts = pd.read_csv(sample / "contracts.csv")
    by_amount = contracts["mrr"].isna()
    assert by_amount.any() and contracts.loc[by_amount, ["amount", "interval"]].notna().all().all()
    assert sum(f.stat().st_size for f in sample.iterdir()) < 3_000_000
    with Store(tmp_path / "nrr.duckdb") as store:
        import_dir(store, sample, RevenueSettings())
        counts = {k: n for k, _src, n, _d in store.counts()}
        mrr = store.ibis.raw_sql("select sum(mrr) from contract_lines where contract_id = "
                                 f"'{contracts.loc[by_amount, 'contract_id'].iloc[0]}'").fetchone()[0]
    assert counts["accounts"] == 60 and counts["contract_lines"] == len(contracts)
    row = contracts[by_amount].iloc[0]
    # amount per interval → MRR: year ÷ 12, month × 1
    assert mrr == Decimal(str(row["amount"])) / (12 if row["interval"] == "year" else 1)


def test_failed_payments_cluster_before_churn(book):
    inv = book.invoices.merge(book.accounts[["account_id", "churned_on"]], on="account_id")
    near = (inv["churned_on"] - inv["issued_at"]).dt.days.between(0, 90)
    failed = inv["attempt_count"] > 1
    assert failed[near].mean() > 2 * failed[~near].mean() > 0


def test_no_usage_outside_contracted_service(book, usage):
    """Usage days fall inside some contract line of the account (none in churn gaps)."""
    c = book.contracts
    u = usage.drop_duplicates(["account_id", "day"]).assign(day=lambda f: pd.to_datetime(f["day"]))
    joined = u.merge(c[["account_id", "start_date", "end_date"]], on="account_id")
    inside = (joined["day"] >= joined["start_date"]) & (joined["end_date"].isna() | (joined["day"] <= joined["end_date"]))
    covered = joined[inside].drop_duplicates(["account_id", "day"])
    assert len(covered) == len(u)


def test_accounts_heading_for_churn_already_decline(book, usage):
    """Active accounts the simulation churns within 60 days after as_of are already
    fading: fewer usage rows in the last 30 days than in days 150–120 before as_of."""
    today = pd.Timestamp(AS_OF)
    prof = book.profile.merge(book.accounts[["account_id", "status"]], on="account_id")
    at_risk = prof[(prof["status"] == "active") & (prof["future_churn"] <= today + pd.Timedelta(days=60))]
    assert len(at_risk) >= 3
    u = usage[usage["account_id"].isin(at_risk["account_id"])].assign(day=lambda f: pd.to_datetime(f["day"]))
    recent = (u["day"] > today - pd.Timedelta(days=30)).sum()
    earlier = ((u["day"] > today - pd.Timedelta(days=150)) & (u["day"] <= today - pd.Timedelta(days=120))).sum()
    assert recent < 0.75 * earlier


def test_bad_arguments_say_what_is_expected(book):
    with pytest.raises(ValueError, match="accounts must be at least 1, got 0"):
        generate_book(0)
    with pytest.raises(ValueError, match="days must be at least 1"):
        book.usage(days=0)
    with pytest.raises(KeyError, match="unknown record kind 'deals'.*accounts, contracts"):
        book.canonical("deals")
    with pytest.raises(KeyError, match="unknown book table 'usage'"):
        book.table("usage")
