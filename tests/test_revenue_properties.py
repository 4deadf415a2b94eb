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
from engine.revenue.retention import period_figures
from engine.settings import RevenueSettings
from test_revenue_support import account, open_book, oracle_ttm, oracle_waterfall, tables

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

    expected = oracle_waterfall(lines, period, RATES)
    assert {k: getattr(w, k) for k in expected} == expected
    t = total.ttm
    assert (t.base_mrr, t.now_mrr, t.floor_mrr, t.base_logos, t.retained_logos) == oracle_ttm(lines, period, RATES)

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
