"""Report contexts against figures computed by hand from the fixture book (see test_reports_fixtures)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from reports.context.board import build_board
from reports.context.data import ReportInputs
from reports.context.playbook import build_playbook
from reports.context.renewals import build_renewals
from test_reports_fixtures import AS_OF, make_book, make_config


@pytest.fixture(scope="module")
def book(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("book")
    store = make_book(tmp)
    config = make_config(tmp)
    data = ReportInputs(store, config, AS_OF)
    yield {"board": build_board(data, "2026-Q2"), "playbook": build_playbook(data),
           "renewals": build_renewals(data, 60), "data": data}
    store.close()


def test_kpis_against_prior_quarter(book):
    k = {x.key: x for x in book["board"].kpis}
    # ARR end of Q2 = 12 × (150 + 250 + 400 + 120) = 11,040; end of Q1 = 12 × (100 + 200 + 300 + 120) = 8,640
    assert (k["arr_end"].value, k["arr_end"].prior) == (Decimal("11040.00"), Decimal("8640.00"))
    assert round(k["arr_end"].change, 4) == Decimal("0.2778")  # 11040 / 8640 − 1
    # TTM base at 2025-06-30: A 100, B 200, C 300, E 120 = 720; now 150 + 0 + 250 + 120 = 520 → 0.7222
    # GRR: min per account 100 + 0 + 250 + 120 = 470 → 0.6528; logos 3 of 4 = 0.75
    assert (k["nrr_ttm"].value, k["grr_ttm"].value, k["logo_retention_ttm"].value) == (
        Decimal("0.7222"), Decimal("0.6528"), Decimal("0.7500"))
    # Q1: base at 2025-03-31 = A, B, C (600), all still paying the same at 2026-03-31 → 100%
    assert k["nrr_ttm"].prior == Decimal("1.0000") and k["nrr_ttm"].change == Decimal("-0.2778")
    # quick ratio Q2 = (new 400 + expansion 50) ÷ (contraction 50 + churn 200) = 1.8; Q1 has no movements
    assert k["quick_ratio"].value == Decimal("1.8000") and k["quick_ratio"].prior is None
    assert k["quick_ratio"].change is None


def test_waterfall_balances_in_arr(book):
    steps = {s.label: (s.amount, s.logos) for s in book["board"].waterfall}
    # 12 × : start 720 → 8,640; new D 400 → 4,800; expansion A 50 → 600; contraction C 50 → 600; churn B 200 → 2,400
    assert steps["Start ARR"] == (Decimal("8640.00"), 4)
    assert steps["New"] == (Decimal("4800.00"), 1)
    assert steps["Expansion"][0] == Decimal("600.00") and steps["Contraction"][0] == Decimal("600.00")
    assert steps["Churn"] == (Decimal("2400.00"), 1)
    assert steps["End ARR"] == (Decimal("11040.00"), 4)  # 8640 + 4800 + 600 − 600 − 2400


def test_trend_base_and_segments(book):
    q2 = book["board"].trend[-1]
    assert (q2.period, q2.base_accounts, q2.thin) == ("2026-Q2", 4, True)  # 4 accounts in the TTM base (< 10)
    seg = {s.segment.lower(): s for s in book["board"].segments}
    # enterprise = A: base 100 at 2025-06-30, 150 now → NRR 1.5, compared with the Enterprise row (115/120/130%)
    assert seg["enterprise"].nrr == Decimal("1.5000") and seg["enterprise"].position == "above best-in-class"
    assert (seg["enterprise"].median, seg["enterprise"].top_quartile) == (1.15, 1.20)
    # smb = D (new) + E: base E 120 → 120 now → 100%, above the SMB median of 98%
    assert seg["smb"].nrr == Decimal("1.0000") and seg["smb"].position == "above median"


def test_health_movement(book):
    h = book["board"].health
    assert (h.day, h.compare_day) == (AS_OF, dt.date(2026, 3, 31))
    counts = {b.band: (b.accounts, b.accounts_before, b.arr) for b in h.bands}
    # now: A 90 Thriving, D 75 Healthy, E 60 At risk, C 45 Critical; ARR = 12 × MRR on 06-30
    assert counts["Thriving"] == (1, 1, Decimal(1800)) and counts["Healthy"] == (1, 2, Decimal(4800))
    assert counts["At risk"] == (1, 1, Decimal(1440)) and counts["Critical"] == (1, 0, Decimal(3000))
    # A stays Thriving, E stays At risk, C Healthy → Critical; D is new, B no longer scored
    assert (h.improved, h.declined, h.unchanged, h.scored, h.mean_score) == (0, 1, 2, 4, 67.5)


def test_at_risk_and_outlook(book):
    ctx = book["board"]
    # below 70: C (ARR 3,000; red renewal 1 Jul: health 45 < 50) and E (1,440; amber renewal 1 Aug: 60 < 70)
    assert [(r.account_id, r.arr) for r in ctx.at_risk] == [("C", Decimal(3000)), ("E", Decimal(1440))]
    assert ctx.at_risk[0].reasons == ("health 45", "red renewal 1 Jul 2026")
    assert ctx.outlook_quarters == ("2026-Q3", "2026-Q4")
    out = {(o.quarter, o.rag): (o.renewals, o.arr, o.expected_arr) for o in ctx.outlook}
    # Q3: A 1 Jul (1,800 green), C 1 Jul (3,000 red), D 15 Jul (4,800 green), E 1 Aug (1,440 amber)
    # expected = ARR × 0.95 / 0.70 / 0.35: A 1,710 + D 4,560 = 6,270; E 1,008; C 1,050
    assert out[("2026-Q3", "green")] == (2, Decimal("6600.00"), Decimal("6270.00"))
    assert out[("2026-Q3", "amber")] == (1, Decimal("1440.00"), Decimal("1008.00"))
    assert out[("2026-Q3", "red")] == (1, Decimal("3000.00"), Decimal("1050.00"))
    assert out[("2026-Q3", "all")] == (4, Decimal("11040.00"), Decimal("8328.00"))
    assert out[("2026-Q4", "all")][0] == 0  # only the next evergreen renewal is listed


def test_playbook_groups_and_owners(book):
    ctx = book["playbook"]
    groups = {g.key: [a.account_id for a in g.accounts] for g in ctx.groups}
    # C: red renewal within 90 days → executive escalation; B churned 2026-05-01 → win-back;
    # A 90 without an expansion trigger, D 75, E 60 not falling → nurture, due 06-30 + 14 = 07-14, largest ARR first
    assert groups == {"executive_escalation": ["C"], "active_save": [], "early_warning": [], "expansion": [],
                      "nurture": ["D", "A", "E"], "win_back": ["B"]}
    nurture = next(g for g in ctx.groups if g.key == "nurture")
    assert {a.due_date for a in nurture.accounts} == {dt.date(2026, 7, 14)}
    win = next(g for g in ctx.groups if g.key == "win_back").accounts[0]
    assert win.due_date == dt.date(2026, 7, 30)  # churn day 05-01 + 90 days ("other" reason)
    assert [(o.owner, o.count) for o in ctx.owners] == [("Ana", 3), ("Ben", 2)]


def test_playbook_owner_filter(book):
    ctx = build_playbook(book["data"], owner="ben")
    assert [o.owner for o in ctx.owners] == ["Ben"] and ctx.total == 2


def test_renewals_by_month_with_milestones(book):
    ctx = book["renewals"]
    assert [(g.month, [r.account_id for r in g.renewals]) for g in ctx.months] == [
        (dt.date(2026, 7, 1), ["A", "C", "D"]), (dt.date(2026, 8, 1), ["E"])]
    e = ctx.renewals[-1]
    assert (e.renewal_date, e.days_to_renewal, e.rag, e.arr, e.expected_arr) == (
        dt.date(2026, 8, 1), 32, "amber", Decimal("1440.00"), Decimal("1008.00"))
    ms = {m.days_before: (m.date, m.status) for m in e.milestones}
    # 08-01 − 60 = 06-02 (28 days before the as-of date, past the 7-day window → overdue); − 30 = 07-02 upcoming
    assert ms[60] == (dt.date(2026, 6, 2), "overdue") and ms[30] == (dt.date(2026, 7, 2), "upcoming")
    a = ctx.renewals[0]
    # evergreen A renews monthly: term 06-01 → 07-01; the 7-day milestone 06-24 is 6 days old → due
    assert a.term == "evergreen-monthly" and {m.days_before: m.status for m in a.milestones}[7] == "due"
    totals = {t.rag: t.renewals for t in ctx.totals}
    assert totals == {"red": 1, "amber": 1, "green": 2, "all": 4}
