"""Property tests over random contract histories, checked against a plain-Python oracle.

The oracle recomputes month-end MRR straight from the definitions (a line is active on
a day when start <= day <= end; movements compare consecutive month-ends), so the
engine's SQL is tested against an independent reading of the same rules.
"""

from __future__ import annotations

import datetime as dt
import tempfile
from decimal import Decimal
from pathlib import Path

from hypothesis import HealthCheck, given, settings, strategies as st

from engine.revenue import Period
from engine.revenue.mrr import prepare_lines
from engine.revenue.periods import month_end
from engine.revenue.retention import period_figures
from engine.settings import RevenueSettings
from test_revenue_support import account, open_book, tables

RATES = {"EUR": Decimal("1.08"), "GBP": Decimal("1.2735")}
SETTINGS = RevenueSettings(reporting_currency="USD", fx_rates=RATES)
SEGMENTS = ["smb", "enterprise", None]


@st.composite
def histories(draw):
    """Up to 12 lines on 4 accounts, starting within ~15 months before the period's end."""
    period = Period.parse(draw(st.sampled_from(["2024-Q4", "2025-Q1", "2025-Q3", "2026-Q2", "2025-06", "2025"])))
    lines = []
    for i in range(draw(st.integers(1, 12))):
        start = period.end - dt.timedelta(days=draw(st.integers(0, 460)))
        length = draw(st.one_of(st.none(), st.integers(0, 400)))
        lines.append({
            "contract_id": f"c{i}",
            "account_id": f"a{draw(st.integers(0, 3))}",
            "start_date": start,
            "end_date": None if length is None else start + dt.timedelta(days=length),
            "mrr": Decimal(draw(st.integers(0, 500_000))) / 100,
            "currency": draw(st.sampled_from(["USD", "EUR", "GBP"])),
        })
    segments = {f"a{i}": draw(st.sampled_from(SEGMENTS)) for i in range(4)}
    return lines, segments, period


def oracle_mrr(lines: list[dict], on: dt.date) -> dict[str, Decimal]:
    out: dict[str, Decimal] = {}
    for ln in lines:
        if ln["mrr"] > 0 and ln["start_date"] <= on and (ln["end_date"] is None or ln["end_date"] >= on):
            rate = RATES.get(ln["currency"], Decimal(1))
            out[ln["account_id"]] = out.get(ln["account_id"], Decimal(0)) + ln["mrr"] * rate
    return {a: v for a, v in out.items() if v > 0}


def oracle_waterfall(lines: list[dict], period: Period) -> dict[str, Decimal]:
    """Sum of the period's monthly movements, each from two month-end snapshots."""
    w = dict.fromkeys(["new", "expansion", "contraction", "churn", "reactivation"], Decimal(0))
    paid_before: set[str] = set()
    for k in range(period.first_k - 40, period.first_k):
        paid_before |= set(oracle_mrr(lines, month_end(k)))
    for k in range(period.first_k, period.last_k + 1):
        prev, cur = oracle_mrr(lines, month_end(k - 1)), oracle_mrr(lines, month_end(k))
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
    w["start"] = sum(oracle_mrr(lines, period.start).values(), Decimal(0))
    w["end"] = sum(oracle_mrr(lines, period.end).values(), Decimal(0))
    return w


def oracle_ttm(lines: list[dict], period: Period) -> tuple[Decimal, Decimal, Decimal, int, int]:
    base = oracle_mrr(lines, month_end(period.last_k - 12))
    now = oracle_mrr(lines, period.end)
    values = [(b, now.get(a, Decimal(0))) for a, b in base.items()]
    return (sum((b for b, _ in values), Decimal(0)), sum((n for _, n in values), Decimal(0)),
            sum((min(b, n) for b, n in values), Decimal(0)), len(values), sum(1 for _, n in values if n > 0))


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(histories())
def test_engine_matches_oracle_and_identities_hold(history):
    lines, segments, period = history
    with tempfile.TemporaryDirectory() as tmp:
        accounts = [account(a, s) for a, s in segments.items()]
        with open_book(Path(tmp) / "nrr.duckdb", lines, accounts) as store:
            contracts, accts = tables(store)
            figures = period_figures(prepare_lines(contracts, SETTINGS), accts, period, by="segment")
    total, w = figures.total, figures.total.waterfall

    expected = oracle_waterfall(lines, period)
    assert {k: getattr(w, k) for k in expected} == expected
    t = total.ttm
    assert (t.base_mrr, t.now_mrr, t.floor_mrr, t.base_logos, t.retained_logos) == oracle_ttm(lines, period)

    # the waterfall balances exactly, in money and in logos
    assert w.start + w.new + w.reactivation + w.expansion - w.contraction - w.churn == w.end
    n = w.logos
    assert n["start"] + n["new"] + n["reactivated"] - n["churned"] == n["end"]
    # 0 ≤ GRR ≤ 1, GRR ≤ NRR, logo retention ≤ 1
    if t.base_mrr:
        assert 0 <= t.grr <= 1 and t.grr <= t.nrr and 0 <= t.logo_retention <= 1
    if w.start:
        assert total.grr_period <= total.nrr_period and total.grr_period <= 1
    # segment breakdowns sum to the total
    groups = list(figures.groups.values())
    for key in ("start", "new", "expansion", "contraction", "churn", "reactivation", "end"):
        assert sum((getattr(g.waterfall, key) for g in groups), Decimal(0)) == getattr(w, key)
    assert sum(g.ttm.base_mrr for g in groups) == t.base_mrr and sum(g.ttm.now_mrr for g in groups) == t.now_mrr
    assert sum(g.waterfall.logos["end"] for g in groups) == n["end"]
