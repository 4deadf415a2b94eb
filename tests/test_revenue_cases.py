"""Hand-computed revenue cases (issue 5). Each case states its arithmetic.

All cases are read for the period 2026-Q3: opening month-end 2026-06-30, months
ending 07-31, 08-31, 09-30; TTM compares 2026-09-30 (T) with 2025-09-30 (T−12).
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from engine.revenue import compute_metrics, monthly_amount
from engine.settings import RevenueSettings
from test_revenue_support import D, account, line, open_book, tables

SETTINGS = RevenueSettings(reporting_currency="USD", fx_rates={"EUR": D("1.08"), "GBP": D("1.27")})

CASES = [
    pytest.param(
        # New logo: starts 2026-08-10 at 500. 07-31: 0; 08-31: 500 → new 500; 09-30: 500.
        [line("c1", "a1", "2026-08-10", None, 500)],
        "2026-Q3",
        {"mrr_start": D("0.00"), "mrr_end": D("500.00"), "arr_end": D("6000.00"),
         "waterfall": {"start": D("0.00"), "new": D("500.00"), "expansion": D("0.00"), "contraction": D("0.00"),
                       "churn": D("0.00"), "reactivation": D("0.00"), "end": D("500.00")},
         "accounts": {"start": 0, "new": 1, "churned": 0, "reactivated": 0, "end": 1},
         "nrr_period": None, "grr_period": None, "nrr_ttm": None, "quick_ratio": None},
        id="new-account",
    ),
    pytest.param(
        # Upsell mid-year: 100 since 2025-01-01, +50 add-on from 2026-08-15.
        # Q3: start 100, expansion 50 (Aug), end 150. Period NRR 150/100 = 1.5, GRR 100/100 = 1.
        # TTM: MRR(2025-09-30) = 100, MRR(T) = 150 → NRR 1.5, GRR min(150,100)/100 = 1.
        [line("c1", "a1", "2025-01-01", None, 100), line("c2", "a1", "2026-08-15", None, 50)],
        "2026-Q3",
        {"mrr_start": D("100.00"), "mrr_end": D("150.00"),
         "waterfall": {"start": D("100.00"), "new": D("0.00"), "expansion": D("50.00"), "contraction": D("0.00"),
                       "churn": D("0.00"), "reactivation": D("0.00"), "end": D("150.00")},
         "nrr_period": D("1.5"), "grr_period": D("1"), "nrr_ttm": D("1.5"), "grr_ttm": D("1"),
         "logo_retention_ttm": D("1"), "quick_ratio": None},
        id="upsell-mid-year",
    ),
    pytest.param(
        # Downgrade: 300 until 2026-07-31, then 200. 07-31: 300; 08-31: 200 → contraction 100.
        # Period NRR = GRR = (300 − 100)/300 = 0.6667. TTM: 200/300 = 0.6667 for both.
        [line("c1", "a1", "2025-01-01", "2026-07-31", 300), line("c2", "a1", "2026-08-01", None, 200)],
        "2026-Q3",
        {"waterfall": {"start": D("300.00"), "new": D("0.00"), "expansion": D("0.00"), "contraction": D("100.00"),
                       "churn": D("0.00"), "reactivation": D("0.00"), "end": D("200.00")},
         "nrr_period": D("0.6667"), "grr_period": D("0.6667"), "nrr_ttm": D("0.6667"), "grr_ttm": D("0.6667"),
         "quick_ratio": D("0")},
        id="downgrade",
    ),
    pytest.param(
        # Annual term 2025-10-01 .. 2026-09-30 at 1,000: the last day (09-30) is still paid,
        # so Q3 has no churn; the base at 2025-09-30 is empty (starts 10-01) → TTM ratios None.
        [line("c1", "a1", "2025-10-01", "2026-09-30", 1000)],
        "2026-Q3",
        {"mrr_start": D("1000.00"), "mrr_end": D("1000.00"), "nrr_period": D("1"), "nrr_ttm": None,
         "accounts": {"start": 1, "new": 0, "churned": 0, "reactivated": 0, "end": 1}},
        id="annual-term-last-day-still-paid",
    ),
    pytest.param(
        # ... and it churns in Q4: 10-31 MRR 0 → churn 1,000; NRR = GRR = (1000 − 1000)/1000 = 0.
        [line("c1", "a1", "2025-10-01", "2026-09-30", 1000)],
        "2026-Q4",
        {"waterfall": {"start": D("1000.00"), "new": D("0.00"), "expansion": D("0.00"), "contraction": D("0.00"),
                       "churn": D("1000.00"), "reactivation": D("0.00"), "end": D("0.00")},
         "nrr_period": D("0"), "grr_period": D("0"), "nrr_ttm": D("0"), "grr_ttm": D("0"),
         "logo_retention_ttm": D("0"), "accounts": {"start": 1, "new": 0, "churned": 1, "reactivated": 0, "end": 0}},
        id="churn-at-end-of-annual-term",
    ),
    pytest.param(
        # 100 until 2026-07-15 (last month-end covered: 06-30) → churn 100 at 07-31;
        # back on 2026-09-01 at 120 → reactivation 120 at 09-30 (it paid before, so not new).
        # Period NRR = (100 − 100)/100 = 0; quick ratio = 120/100 = 1.2.
        # TTM: base 2025-09-30 = 100, MRR(T) = 120 → NRR 1.2, GRR 1, logo 1.
        [line("c1", "a1", "2025-01-01", "2026-07-15", 100), line("c2", "a1", "2026-09-01", None, 120)],
        "2026-Q3",
        {"waterfall": {"start": D("100.00"), "new": D("0.00"), "expansion": D("0.00"), "contraction": D("0.00"),
                       "churn": D("100.00"), "reactivation": D("120.00"), "end": D("120.00")},
         "accounts": {"start": 1, "new": 0, "churned": 1, "reactivated": 1, "end": 1},
         "nrr_period": D("0"), "grr_period": D("0"), "quick_ratio": D("1.2"),
         "nrr_ttm": D("1.2"), "grr_ttm": D("1"), "logo_retention_ttm": D("1")},
        id="churn-and-reactivation",
    ),
    pytest.param(
        # Two lines, 60 (ends 07-31) and 40 (ends 08-31): 07-31: 100; 08-31: 40 → contraction 60;
        # 09-30: 0 → churn 40. NRR = GRR = (100 − 60 − 40)/100 = 0.
        [line("c1", "a1", "2025-01-01", "2026-07-31", 60), line("c2", "a1", "2025-01-01", "2026-08-31", 40)],
        "2026-Q3",
        {"waterfall": {"start": D("100.00"), "new": D("0.00"), "expansion": D("0.00"), "contraction": D("60.00"),
                       "churn": D("40.00"), "reactivation": D("0.00"), "end": D("0.00")},
         "accounts": {"start": 1, "new": 0, "churned": 1, "reactivated": 0, "end": 0}, "grr_period": D("0")},
        id="cancel-one-line-is-contraction-last-is-churn",
    ),
    pytest.param(
        # Annual contract of $2,000 → MRR 2000/12 = 166.666667 (6 dp in the store) → 166.67;
        # ARR = 12 × 166.666667 = 2000.000004 → 2000.00.
        [line("c1", "a1", "2025-01-01", None, monthly_amount(D("2000"), "year").quantize(D("0.000001")))],
        "2026-Q3",
        {"mrr_end": D("166.67"), "arr_end": D("2000.00")},
        id="annual-2000-is-166.67",
    ),
    pytest.param(
        # 100 accounts × $100/month = 10,000 plus 50 accounts × $600/year = 50 × 50 = 2,500 → 12,500.
        [line(f"m{i}", f"m{i}", "2026-01-01", None, monthly_amount(D("100"), "month")) for i in range(100)]
        + [line(f"y{i}", f"y{i}", "2026-01-01", "2026-12-31", monthly_amount(D("600"), "year")) for i in range(50)],
        "2026-Q3",
        {"mrr_end": D("12500.00"), "arr_end": D("150000.00"),
         "accounts": {"start": 150, "new": 0, "churned": 0, "reactivated": 0, "end": 150}},
        id="100-monthly-plus-50-annual-is-12500",
    ),
    pytest.param(
        # Start 100 = 10 + 30 + 30 + 30; a1 churns (−10), a2 30→20 (−10), a3 30→40 (+10), a4 stays.
        # GRR = (100 − 10 − 10)/100 = 0.80; NRR = (100 + 10 − 10 − 10)/100 = 0.90.
        [line("a1", "a1", "2025-01-01", "2026-07-31", 10),
         line("a2", "a2", "2025-01-01", "2026-07-31", 30), line("a2b", "a2", "2026-08-01", None, 20),
         line("a3", "a3", "2025-01-01", None, 30), line("a3b", "a3", "2026-08-01", None, 10),
         line("a4", "a4", "2025-01-01", None, 30)],
        "2026-Q3",
        {"mrr_start": D("100.00"), "grr_period": D("0.80"), "nrr_period": D("0.90"),
         "grr_ttm": D("0.80"), "nrr_ttm": D("0.90"), "logo_retention_ttm": D("0.75"),
         "waterfall": {"start": D("100.00"), "new": D("0.00"), "expansion": D("10.00"), "contraction": D("10.00"),
                       "churn": D("10.00"), "reactivation": D("0.00"), "end": D("90.00")}},
        id="grr-0.80-nrr-0.90",
    ),
    pytest.param(
        # New 20k (b1), expansion 8k (b2 10k→18k), churn 5k (b3), contraction 3k (b4 10k→7k):
        # quick ratio = (20000 + 8000)/(5000 + 3000) = 3.5.
        [line("b1", "b1", "2026-08-01", None, 20000),
         line("b2", "b2", "2025-01-01", None, 10000), line("b2b", "b2", "2026-09-01", None, 8000),
         line("b3", "b3", "2025-01-01", "2026-08-31", 5000),
         line("b4", "b4", "2025-01-01", "2026-07-31", 10000), line("b4b", "b4", "2026-08-01", None, 7000)],
        "2026-Q3",
        {"quick_ratio": D("3.5"),
         "waterfall": {"start": D("25000.00"), "new": D("20000.00"), "expansion": D("8000.00"),
                       "contraction": D("3000.00"), "churn": D("5000.00"), "reactivation": D("0.00"),
                       "end": D("45000.00")}},
        id="quick-ratio-3.5",
    ),
    pytest.param(
        # 20% discount on 100 until 2026-07-31 (the line is split where it expires): 80 then 100.
        # 08-31: 100 vs 80 → expansion 20. Period NRR = (80 + 20)/80 = 1.25.
        [line("d1", "a1", "2026-01-01", "2026-07-31", 80), line("d2", "a1", "2026-08-01", None, 100)],
        "2026-Q3",
        {"waterfall": {"start": D("80.00"), "new": D("0.00"), "expansion": D("20.00"), "contraction": D("0.00"),
                       "churn": D("0.00"), "reactivation": D("0.00"), "end": D("100.00")},
         "nrr_period": D("1.25")},
        id="discount-expires",
    ),
    pytest.param(
        # EUR 100 × 1.08 = 108; GBP 100 × 1.27 = 127; USD 100 → 335 USD; EUR 33.33 × 1.08 = 35.9964.
        [line("e1", "a1", "2025-01-01", None, 100, "EUR"), line("g1", "a2", "2025-01-01", None, 100, "gbp"),
         line("u1", "a3", "2025-01-01", None, 100, "USD"), line("e2", "a4", "2025-01-01", None, "33.33", "EUR")],
        "2026-Q3",
        {"mrr_end": D("371.00"), "arr_end": D("4451.96")},  # 335 + 35.9964 = 370.9964; × 12 = 4451.9568
        id="two-currencies-at-fixed-rates",
    ),
]


@pytest.mark.parametrize("lines, period, expected", CASES)
def test_case(tmp_path, lines, period, expected):
    with open_book(tmp_path / "nrr.duckdb", lines) as store:
        contracts, accounts = tables(store)
        result = compute_metrics(contracts, accounts, SETTINGS, period)
    assert result["period"] == period and result["currency"] == "USD"
    for key, want in expected.items():
        assert result[key] == want, key


def test_year_and_month_periods(tmp_path):
    # 100 from 2025-01-01, +50 from 2026-03-05 (first month-end 03-31), churn after 2026-10-31.
    # Year 2026: start (2025-12-31) 100, expansion 50 (March), churn 150 (November), end 0.
    # Month 2026-03: start 100, expansion 50, end 150.
    lines = [line("c1", "a1", "2025-01-01", "2026-10-31", 100), line("c2", "a1", "2026-03-05", "2026-10-31", 50)]
    with open_book(tmp_path / "nrr.duckdb", lines) as store:
        contracts, accounts = tables(store)
        year = compute_metrics(contracts, accounts, SETTINGS, "2026")
        month = compute_metrics(contracts, accounts, SETTINGS, "2026-03")
    assert year["waterfall"] == {"start": D("100.00"), "new": D("0.00"), "expansion": D("50.00"),
                                 "contraction": D("0.00"), "churn": D("150.00"), "reactivation": D("0.00"),
                                 "end": D("0.00")}
    assert (month["mrr_start"], month["waterfall"]["expansion"], month["mrr_end"]) == (D("100.00"), D("50.00"), D("150.00"))


def test_breakdown_by_segment_adds_up(tmp_path):
    # smb: a1 100 → 150 (expansion 50); enterprise: a2 1,000 churns in August;
    # a3 (no account record) new 40 in September → "unassigned".
    lines = [line("c1", "a1", "2025-01-01", None, 100), line("c1b", "a1", "2026-07-10", None, 50),
             line("c2", "a2", "2025-01-01", "2026-07-31", 1000), line("c3", "a3", "2026-09-01", None, 40)]
    accts = [account("a1", "smb"), account("a2", "enterprise")]
    with open_book(tmp_path / "nrr.duckdb", lines, accts) as store:
        contracts, accounts = tables(store)
        result = compute_metrics(contracts, accounts, SETTINGS, "2026-Q3", by="segment")
    by = result["by"]
    assert set(by) == {"smb", "enterprise", "unassigned"}
    assert by["smb"]["waterfall"]["expansion"] == D("50.00") and by["smb"]["nrr_period"] == D("1.5")
    assert by["enterprise"]["waterfall"]["churn"] == D("1000.00") and by["enterprise"]["grr_ttm"] == D("0")
    assert by["unassigned"]["waterfall"]["new"] == D("40.00")
    # total: start 1,100; end 150 + 40 = 190; NRR period (1100 + 50 − 1000)/1100 = 0.1364
    assert result["mrr_start"] == D("1100.00") and result["mrr_end"] == D("190.00")
    assert result["nrr_period"] == D("0.1364")


def test_breakdown_by_arr_band(tmp_path):
    # ARR at 2026-06-30: a1 12 × 800 = 9,600 → <10K; a2 12 × 2,000 = 24,000 → 10K-25K;
    # a3 12 × 5,000 = 60,000 → 25K-100K; a4 12 × 9,000 = 108,000 → >100K;
    # a5 is new in August at 900 (ARR 10,800, banded at its in-period ARR) → 10K-25K.
    lines = [line("c1", "a1", "2025-01-01", None, 800), line("c2", "a2", "2025-01-01", None, 2000),
             line("c3", "a3", "2025-01-01", None, 5000), line("c4", "a4", "2025-01-01", "2026-08-31", 9000),
             line("c5", "a5", "2026-08-01", None, 900)]
    with open_book(tmp_path / "nrr.duckdb", lines) as store:
        contracts, accounts = tables(store)
        by = compute_metrics(contracts, accounts, SETTINGS, "2026-Q3", by="arr_band")["by"]
    assert list(by) == ["<10K", "10K-25K", "25K-100K", ">100K"]
    assert by["10K-25K"]["mrr_start"] == D("2000.00") and by["10K-25K"]["waterfall"]["new"] == D("900.00")
    assert by[">100K"]["waterfall"]["churn"] == D("9000.00") and by[">100K"]["logo_retention_ttm"] == D("0")


def test_monthly_amount_normalisation():
    # annual ÷ 12, quarterly ÷ 3, weekly × 52/12
    assert monthly_amount(D("1200"), "year") == D("100")
    assert monthly_amount(D("300"), "quarterly") == D("100")
    assert monthly_amount(D("12"), "week") == D("52")
    assert monthly_amount(D("1200"), "month", interval_count=6) == D("200")
    with pytest.raises(ValueError, match="fortnight"):
        monthly_amount(D("1"), "fortnight")


def test_money_is_exact_decimal(tmp_path):
    # Three lines of 0.10 sum to exactly 0.30 (binary floats would not); returned as Decimal.
    lines = [line(f"c{i}", "a1", "2025-01-01", None, "0.10") for i in range(3)]
    with open_book(tmp_path / "nrr.duckdb", lines) as store:
        result = compute_metrics(*tables(store), SETTINGS, "2026-Q3")
    assert isinstance(result["mrr_end"], Decimal) and result["mrr_end"] == D("0.30")
    assert result["waterfall"]["start"] == D("0.30")
