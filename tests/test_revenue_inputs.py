"""Periods, MRR tables, and bad contract lines (clear errors naming the contract, no partial results)."""

from __future__ import annotations

import datetime as dt

import pytest

from engine.revenue import (
    Period,
    RevenueDataError,
    account_mrr_on,
    cohort_matrix,
    compute_metrics,
    month_end_mrr,
    monthly_movements,
    quarterly_series,
)
from engine.settings import RevenueSettings
from test_revenue_support import D, day, line, open_book, tables

SETTINGS = RevenueSettings()


@pytest.mark.parametrize(
    "text, label, start, end, months",
    [
        ("2026-Q3", "2026-Q3", "2026-06-30", "2026-09-30", ["2026-07-31", "2026-08-31", "2026-09-30"]),
        ("2026-q1", "2026-Q1", "2025-12-31", "2026-03-31", ["2026-01-31", "2026-02-28", "2026-03-31"]),
        ("2024-02", "2024-02", "2024-01-31", "2024-02-29", ["2024-02-29"]),
        ("2026", "2026", "2025-12-31", "2026-12-31", None),
    ],
)
def test_period_parse(text, label, start, end, months):
    p = Period.parse(text)
    assert (p.label, p.start, p.end) == (label, day(start), day(end))
    if months:
        assert list(p.months) == [day(m) for m in months]
    else:
        assert len(p.months) == 12


@pytest.mark.parametrize("text", ["2026-Q5", "2026-13", "Q3 2026", "", "2026-9"])
def test_period_parse_rejects(text):
    with pytest.raises(ValueError, match="2026-Q3"):
        Period.parse(text)


def test_period_shift():
    assert Period.parse("2026-Q1").shift(-1).label == "2025-Q4"
    assert Period.parse("2026-12").shift(1).label == "2027-01"
    assert Period.parse("2026").shift(-2).label == "2024"


BOOK = [
    line("c1", "a1", "2026-01-15", "2026-03-10", 100),  # covers 01-31, 02-28 (ends before 03-31)
    line("c2", "a1", "2026-02-01", None, 50, "EUR"),  # 50 × 1.08 = 54 from 02-28
    line("c3", "a2", "2026-03-31", "2026-03-31", 70),  # one day, which is a month-end
]


def test_month_end_and_daily_mrr(tmp_path):
    with open_book(tmp_path / "nrr.duckdb", BOOK) as store:
        contracts, _ = tables(store)
        snap = month_end_mrr(contracts, SETTINGS, dt.date(2026, 1, 1), dt.date(2026, 4, 1)).to_pyarrow().to_pylist()
        on_day = account_mrr_on(contracts, SETTINGS, dt.date(2026, 3, 10)).to_pyarrow().to_pylist()
    got = {(r["account_id"], r["month_end"].isoformat()): r["mrr"] for r in snap}
    # 01-31: a1 100; 02-28: a1 100 + 54; 03-31: a1 54, a2 70; 04-30: a1 54
    assert got == {("a1", "2026-01-31"): D("100"), ("a1", "2026-02-28"): D("154"), ("a1", "2026-03-31"): D("54"),
                   ("a2", "2026-03-31"): D("70"), ("a1", "2026-04-30"): D("54")}
    # 03-10 is c1's last day: 100 + 54
    assert {r["account_id"]: r["mrr"] for r in on_day} == {"a1": D("154")}


def test_monthly_movements_rows(tmp_path):
    with open_book(tmp_path / "nrr.duckdb", BOOK) as store:
        mv = monthly_movements(tables(store)[0], SETTINGS, dt.date(2026, 3, 1), dt.date(2026, 4, 30))
        rows = mv.to_pyarrow().to_pylist()
    got = {(r["account_id"], r["month_end"].isoformat()): (r["start_mrr"], r["end_mrr"], r["new"], r["contraction"],
                                                             r["churn"]) for r in rows}
    # March: a1 154 → 54 (contraction 100); a2 0 → 70 (new). April: a1 54 → 54; a2 70 → 0 (churn).
    assert got == {
        ("a1", "2026-03-31"): (D("154"), D("54"), D("0"), D("100"), D("0")),
        ("a2", "2026-03-31"): (D("0"), D("70"), D("70"), D("0"), D("0")),
        ("a1", "2026-04-30"): (D("54"), D("54"), D("0"), D("0"), D("0")),
        ("a2", "2026-04-30"): (D("70"), D("0"), D("0"), D("0"), D("70")),
    }


BAD = [
    pytest.param(line("bad-1", "a9", "2026-05-01", "2026-04-30", 10), "bad-1", "before start_date", id="end-before-start"),
    pytest.param(line("bad-2", "a9", "2026-01-01", None, -5), "bad-2", "negative", id="negative-mrr"),
    pytest.param(line("bad-3", "a9", "2026-01-01", None, 5, "JPY"), "bad-3", "JPY = <USD per JPY>", id="unknown-currency"),
]

CALLS = {
    "metrics": lambda c, a: compute_metrics(c, a, SETTINGS, "2026-Q3"),
    "cohorts": lambda c, a: cohort_matrix(c, SETTINGS, dt.date(2026, 9, 30)),
    "movements": lambda c, a: monthly_movements(c, SETTINGS, dt.date(2026, 7, 1), dt.date(2026, 9, 1)),
    "mrr_on": lambda c, a: account_mrr_on(c, SETTINGS, dt.date(2026, 9, 30)),
    "series": lambda c, a: quarterly_series(c, a, SETTINGS, "2026-Q3", n=2),
}


@pytest.mark.parametrize("bad, contract_id, hint", BAD)
def test_bad_line_is_named_and_nothing_is_returned(tmp_path, bad, contract_id, hint):
    good = [line("ok-1", "a1", "2025-01-01", None, 100)]
    with open_book(tmp_path / "nrr.duckdb", good + [bad]) as store:
        contracts, accounts = tables(store)
        for name, call in CALLS.items():
            with pytest.raises(RevenueDataError) as err:
                call(contracts, accounts)
            assert err.value.contract_id == contract_id, name
            assert contract_id in str(err.value) and hint in str(err.value), name
            assert "account a9" in str(err.value)


def test_bad_lines_are_counted(tmp_path):
    lines = [line(f"neg-{i}", "a1", "2026-01-01", None, -1) for i in range(5)]
    with open_book(tmp_path / "nrr.duckdb", lines) as store:
        with pytest.raises(RevenueDataError, match=r"5 unusable contract line\(s\).*and 2 more") as err:
            compute_metrics(*tables(store), SETTINGS, "2026-Q3")
    assert err.value.bad_lines == 5 and err.value.contract_id == "neg-0"


def test_unknown_breakdown_is_rejected(tmp_path):
    with open_book(tmp_path / "nrr.duckdb", BOOK) as store:
        with pytest.raises(ValueError, match="segment, arr_band, industry, owner, icp_tier"):
            compute_metrics(*tables(store), SETTINGS, "2026-Q3", by="region")
