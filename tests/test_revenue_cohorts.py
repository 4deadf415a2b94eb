"""Cohorts, churn timing and the quarterly series, against hand computation."""

from __future__ import annotations

import datetime as dt
import json

from engine.revenue import churn_timing, cohort_matrix, quarterly_series, to_json
from engine.settings import RevenueSettings
from test_revenue_support import D, account, line, open_book, tables

SETTINGS = RevenueSettings()

# Month-end MRR:      Jan   Feb   Mar   Apr   May
#   a (from Jan)      100   100   100   120   120   (+20 from April)
#   b (from Jan)       50    50     0     0     0   (ends 02-28)
#   c (from Mar)        –     –   200   200   200
COHORT_BOOK = [
    line("a1", "a", "2026-01-01", None, 100), line("a2", "a", "2026-04-01", None, 20),
    line("b1", "b", "2026-01-10", "2026-02-28", 50),
    line("c1", "c", "2026-03-01", None, 200),
]


def test_monthly_cohorts(tmp_path):
    with open_book(tmp_path / "nrr.duckdb", COHORT_BOOK) as store:
        m = cohort_matrix(tables(store)[0], SETTINGS, dt.date(2026, 5, 31), "month").to_dict()
    jan, mar = m["cohorts"]
    assert (jan["cohort"], jan["accounts"], jan["mrr_start"]) == ("2026-01", 2, D("150.00"))
    # NRR: 150/150, 150/150, 100/150, 120/150, 120/150; logos 2/2, 2/2, 1/2, 1/2, 1/2
    assert jan["nrr"] == [D("1"), D("1"), D("0.6667"), D("0.8"), D("0.8")]
    assert jan["logo_retention"] == [D("1"), D("1"), D("0.5"), D("0.5"), D("0.5")]
    assert (mar["cohort"], mar["nrr"], mar["logo_retention"]) == ("2026-03", [D("1")] * 3, [D("1")] * 3)


def test_quarterly_cohort_counts_accounts_only_once_they_reach_the_month(tmp_path):
    with open_book(tmp_path / "nrr.duckdb", COHORT_BOOK) as store:
        m = cohort_matrix(tables(store)[0], SETTINGS, dt.date(2026, 6, 15), "quarter")
    (q1,) = m.cohorts
    # as of 2026-05-31 (06-15 rounds down). Offset 0: 100 + 50 + 200 = 350 (3 logos).
    # 1: a Feb 100 + b Feb 50 + c Apr 200 = 350.  2: a Mar 100 + b 0 + c May 200 = 300 → 0.8571, logos 2/3.
    # 3 and 4: c has not reached them (Mar + 3 = Jun > May): base a + b = 150; a 120 → 0.8, logos 1/2.
    assert m.as_of == dt.date(2026, 5, 31) and q1.label == "2026-Q1"
    cells = [(c.base_mrr, c.mrr, c.base_accounts, c.accounts) for c in q1.cells]
    assert cells == [(D(350), D(350), 3, 3), (D(350), D(350), 3, 3), (D(350), D(300), 3, 2),
                     (D(150), D(120), 2, 1), (D(150), D(120), 2, 1)]
    assert json.loads(to_json(m.to_dict()))["cohorts"][0]["nrr"] == [1, 1, 0.8571, 0.8, 0.8]


def test_reactivated_account_stays_in_its_first_cohort(tmp_path):
    # d: 100 in Jan–Feb, gone in March, back at 80 from April → cohort 2026-01: 1, 1, 0, 0.8, 0.8
    lines = [line("d1", "d", "2026-01-01", "2026-02-28", 100), line("d2", "d", "2026-04-01", None, 80)]
    with open_book(tmp_path / "nrr.duckdb", lines) as store:
        m = cohort_matrix(tables(store)[0], SETTINGS, dt.date(2026, 5, 31)).to_dict()
    assert [c["cohort"] for c in m["cohorts"]] == ["2026-01"]
    assert m["cohorts"][0]["nrr"] == [D("1"), D("1"), D("0"), D("0.8"), D("0.8")]
    assert m["cohorts"][0]["logo_retention"] == [D("1"), D("1"), D("0"), D("1"), D("1")]


def test_churn_timing_buckets(tmp_path):
    # e: paid 2026-06-10 .. 2026-07-05 → churns at 07-31; 07-05 − 06-10 + 1 = 26 days → 0-30.
    # f: paid 2026-05-01 .. 2026-07-31 → churns at 08-31; 92 days → 91-180.
    # g: paid 2025-01-01 .. 2026-08-31 → churns at 09-30; 608 days → >180.
    lines = [line("e1", "e", "2026-06-10", "2026-07-05", 30), line("f1", "f", "2026-05-01", "2026-07-31", 40),
             line("g1", "g", "2025-01-01", "2026-08-31", 500)]
    with open_book(tmp_path / "nrr.duckdb", lines, [account("e", "smb"), account("f", "smb"),
                                                    account("g", "enterprise")]) as store:
        contracts, accounts = tables(store)
        result = churn_timing(contracts, SETTINGS, "2026-Q3", accounts, by="segment")
    assert result["buckets"] == {"0-30": {"accounts": 1, "mrr": D("30.00")}, "31-90": {"accounts": 0, "mrr": D("0.00")},
                                 "91-180": {"accounts": 1, "mrr": D("40.00")}, ">180": {"accounts": 1, "mrr": D("500.00")}}
    assert result["by"]["smb"]["0-30"]["accounts"] == 1 and result["by"]["enterprise"][">180"]["accounts"] == 1


def test_quarterly_series(tmp_path):
    # One account at 100 from 2025-01-01, +100 from 2026-01-01, gone after 2026-06-30.
    # Quarter ends: 2025-Q4 MRR 100 (TTM base 2024-12-31 empty → None); 2026-Q1 200, TTM 200/100 = 2;
    # 2026-Q2 200, TTM 200/100 = 2, GRR 1; 2026-Q3 0, TTM 0/100 = 0.
    lines = [line("s1", "s", "2025-01-01", "2026-06-30", 100), line("s2", "s", "2026-01-01", "2026-06-30", 100)]
    with open_book(tmp_path / "nrr.duckdb", lines) as store:
        series = quarterly_series(*tables(store), SETTINGS, "2026-Q3", n=4)
    assert [q["period"] for q in series] == ["2025-Q4", "2026-Q1", "2026-Q2", "2026-Q3"]
    assert [q["arr_end"] for q in series] == [D("1200.00"), D("2400.00"), D("2400.00"), D("0.00")]
    assert [q["nrr_ttm"] for q in series] == [None, D("2"), D("2"), D("0")]
    assert [q["grr_ttm"] for q in series] == [None, D("1"), D("1"), D("0")]
    assert [q["nrr_period"] for q in series] == [D("1"), D("2"), D("1"), D("0")]
    # 2026-Q3: start 200, churn 200 → gross MRR churn 200/200 = 1, net (200 − 0)/200 = 1;
    # 2026-Q1: expansion 100 on start 100 → net MRR churn (0 − 100)/100 = −1.
    assert [q["gross_mrr_churn_rate"] for q in series] == [D("0"), D("0"), D("0"), D("1")]
    assert [q["net_mrr_churn_rate"] for q in series] == [D("0"), D("-1"), D("0"), D("1")]
