"""Renewal timelines: dates (month ends, leap days, evergreen), milestones and statuses,
R/A/G rules, expected ARR and the outlook — expectations computed by hand."""

from __future__ import annotations

from decimal import Decimal

import pandas as pd
import pytest

from test_triggers_fixtures import AS_OF, account, contract, d, days_before, inputs, make_store, usage_rows
from engine.renewal_settings import RagRules, RenewalSettings
from engine.renewals import RenewalDataError, add_months, renewal_timeline
from engine.settings import RevenueSettings

A = AS_OF  # 2026-06-30


def _timeline(tmp_path, accounts, contracts, as_of, usage=(), scores=None, flags=None, **kw):
    store = make_store(tmp_path, accounts, usage, contracts)
    sc = pd.DataFrame(scores or [], columns=["account_id", "score", "band"])
    try:
        return renewal_timeline(inputs(store), sc, flags, kw.pop("settings", RenewalSettings()), as_of, **kw)
    finally:
        store.close()


def test_add_months_clamps_to_month_end():
    start = pd.Series(pd.to_datetime(["2026-01-31", "2024-01-31", "2024-02-29", "2025-12-15"]))
    got = add_months(start, pd.Series([1, 1, 12, 2])).dt.date.tolist()
    # 31 Jan + 1 → 28 Feb (2026 not leap); 2024 leap → 29 Feb; 29 Feb 2024 + 12 → 28 Feb 2025; Dec + 2 → Feb next year
    assert got == [d("2026-02-28"), d("2024-02-29"), d("2025-02-28"), d("2026-02-15")]


def test_leap_day_renewal_milestones(tmp_path):
    # ends 2028-02-28 → renews on the leap day 2028-02-29; as of 2027-12-20 (71 days before)
    tl = _timeline(tmp_path, [account("L")], [contract("c", "L", "2027-03-01", "2028-02-28", "100")], d("2027-12-20"))
    r = tl.renewals.iloc[0]
    assert (r["renewal_date"], r["days_to_renewal"]) == (d("2028-02-29"), 71)
    ms = tl.milestones.set_index("days_before")
    # 02-29 − 180 = 2027-09-02 (28+31+30+31+31+29 = 180 days), −120 = 11-01, −90 = 12-01, −60 = 12-31,
    # −30 = 2028-01-30, −14 = 02-15, −7 = 02-22
    assert ms["date"].to_dict() == {180: d("2027-09-02"), 120: d("2027-11-01"), 90: d("2027-12-01"),
                                    60: d("2027-12-31"), 30: d("2028-01-30"), 14: d("2028-02-15"), 7: d("2028-02-22")}
    # as of 12-20: 90-day milestone (12-01) is 19 days old ≥ 7 → overdue; 60-day is ahead → upcoming
    assert ms["status"].to_dict() == {180: "overdue", 120: "overdue", 90: "overdue", 60: "upcoming",
                                      30: "upcoming", 14: "upcoming", 7: "upcoming"}
    assert (r["next_milestone"], r["next_milestone_date"], r["next_milestone_owner"]) == (60, d("2027-12-31"), "CSM + Legal")
    assert ms.loc[60, "action"] == "Negotiation and contract review"


def test_statuses_due_window_and_term_start(tmp_path):
    accounts = [account(x) for x in ("due", "over", "up", "short")]
    contracts = [
        contract("c1", "due", "2025-08-27", "2026-08-26", "100"),    # renews 08-27 = A+58 → 60-day milestone 06-28
        contract("c2", "over", "2025-08-22", "2026-08-21", "100"),   # renews 08-22 = A+53 → 60-day milestone 06-23
        contract("c3", "up", "2025-09-01", "2026-08-31", "100"),     # renews 09-01 = A+63 → 60-day milestone 07-03
        contract("c4", "short", "2026-06-01", "2026-08-31", "100"),  # 3-month term: milestones before 06-01 dropped
    ]
    tl = _timeline(tmp_path, accounts, contracts, A)
    ms = tl.milestones.set_index(["account_id", "days_before"])["status"]
    assert ms[("due", 60)] == "due"        # 06-28 ≤ 06-30 < 06-28 + 7
    assert ms[("over", 60)] == "overdue"   # 06-23 + 7 = 06-30 ≤ 06-30
    assert ms[("up", 60)] == "upcoming"
    short = tl.milestones[tl.milestones["account_id"] == "short"]
    # 09-01 − 90 = 06-03 ≥ 06-01 kept; − 120 = 05-04 before the term → dropped
    assert sorted(short["days_before"]) == [7, 14, 30, 60, 90]
    nxt = tl.renewals.set_index("account_id")["next_milestone"]
    assert nxt["due"] == 60 and nxt["over"] == 30 and nxt["up"] == 60


def test_booked_renewals_and_horizon(tmp_path):
    accounts = [account(x) for x in ("booked", "gap", "today", "lapsed", "far")]
    contracts = [
        contract("b1", "booked", "2025-09-01", "2026-08-31", "100"),
        contract("b2", "booked", "2026-09-01", "2027-08-31", "120"),   # successor starts on the renewal day
        contract("g1", "gap", "2025-09-01", "2026-08-31", "100"),
        contract("g2", "gap", "2026-09-02", "2027-09-01", "100"),      # a day's gap: renewal still open
        contract("t1", "today", "2025-06-30", "2026-06-29", "100"),    # renews today: days 0
        contract("l1", "lapsed", "2025-06-29", "2026-06-28", "100"),   # renewal was yesterday: not listed
        contract("f1", "far", "2026-01-01", "2026-12-27", "100"),      # renews 12-28 = A+181 > 180
        contract("z1", "free", "2026-06-01", "2026-07-31", "0"),        # no MRR: nothing to renew
    ]
    accounts.append(account("free"))
    tl = _timeline(tmp_path, accounts, contracts, A)
    got = dict(zip(tl.renewals["account_id"], tl.renewals["days_to_renewal"]))
    assert got == {"today": 0, "gap": 63}
    wide = _timeline(tmp_path / "w", accounts, contracts, A, days=181)
    assert "far" in set(wide.renewals["account_id"])


def test_evergreen_monthly_renewal(tmp_path):
    accounts = [account("m31"), account("m15")]
    contracts = [contract("e1", "m31", "2026-01-31", None, "50"), contract("e2", "m15", "2025-11-15", None, "10")]
    tl = _timeline(tmp_path, accounts, contracts, d("2026-02-28"))
    r = tl.renewals.set_index("account_id")
    # 31 Jan start: the anniversary on 02-28 is today (not after) → next is 03-31; term started 02-28
    assert (r.loc["m31", "renewal_date"], r.loc["m31", "term"], r.loc["m31", "term_start"]) == (
        d("2026-03-31"), "evergreen-monthly", d("2026-02-28"))
    assert r.loc["m15", "renewal_date"] == d("2026-03-15")
    # milestones on/after the term start 02-28: 03-31 − 30 = 03-01, −14 = 03-17, −7 = 03-24
    m = tl.milestones[tl.milestones["account_id"] == "m31"]
    assert dict(zip(m["days_before"], m["date"])) == {30: d("2026-03-01"), 14: d("2026-03-17"), 7: d("2026-03-24")}
    off = _timeline(tmp_path / "off", accounts, contracts, d("2026-02-28"),
                    settings=RenewalSettings(include_evergreen=False))
    assert off.renewals.empty and off.milestones.empty


# -- R/A/G --------------------------------------------------------------------------------------
RAG_IDS = ("green", "amber_health", "amber_flag", "red_health", "red_flag_usage", "red_flag_champion",
           "red_flag_usage_trigger", "unscored")


def _rag_book():
    accounts = [account(a, licensed_seats=10, champion_user_id="u1") for a in RAG_IDS]
    usage = []
    for a in RAG_IDS:
        n = 2 if a == "red_flag_usage" else 6                       # 2/10 = 0.2 < 0.5 → low usage
        for i in range(1, n + 1):
            last = days_before(20) if (a == "red_flag_champion" and i == 1) else A   # champion silent 20 d
            usage += usage_rows(a, f"u{i}", last, last, 1.0)
    contracts = [contract(f"c-{a}", a, "2025-09-01", "2026-08-31", "1000") for a in RAG_IDS]
    scores = [(a, s, "x") for a, s in (("green", 80), ("amber_health", 60), ("amber_flag", 80), ("red_health", 45),
                                       ("red_flag_usage", 80), ("red_flag_champion", 80), ("red_flag_usage_trigger", 80))]
    flags = pd.DataFrame([(a, t, "risk", "high") for a, t in (
        ("amber_flag", "nps_detractor"), ("red_flag_usage", "ticket_spike"), ("red_flag_champion", "payment_failed"),
        ("red_flag_usage_trigger", "usage_drop"), ("green", "plan_limit_80"))],
        columns=["account_id", "trigger", "kind", "severity"])
    flags.loc[flags["trigger"] == "plan_limit_80", "kind"] = "expansion"   # not a red flag
    return accounts, usage, contracts, scores, flags


def test_rag_rules(tmp_path):
    accounts, usage, contracts, scores, flags = _rag_book()
    tl = _timeline(tmp_path, accounts, contracts, A, usage, scores, flags)
    r = tl.renewals.set_index("account_id")
    assert r["rag"].to_dict() == {
        "green": "green", "amber_health": "amber", "amber_flag": "amber", "red_health": "red",
        "red_flag_usage": "red", "red_flag_champion": "red", "red_flag_usage_trigger": "red", "unscored": "green"}
    assert r.loc["red_flag_usage", "rag_reasons"] == ("red flags: ticket_spike", "low usage")
    assert r.loc["red_flag_champion", "rag_reasons"] == ("red flags: payment_failed", "no active champion")
    assert r.loc["amber_health", "rag_reasons"] == ("health 60 < 70",)
    assert r.loc["red_flag_usage", "seat_utilisation"] == 0.2


def test_rag_rules_are_configurable(tmp_path):
    accounts, usage, contracts, scores, flags = _rag_book()
    s = RenewalSettings(rag=RagRules(red_health_below=40, amber_health_below=50, low_seat_utilisation=0.1,
                                     low_usage_triggers=()))
    r = _timeline(tmp_path, accounts, contracts, A, usage, scores, flags, settings=s).renewals.set_index("account_id")
    assert r.loc["red_health", "rag"] == "amber"              # 45: no longer < 40, but < 50
    assert r.loc["amber_health", "rag"] == "green"            # 60 ≥ 50
    assert r.loc["red_flag_usage", "rag"] == "amber"          # 0.2 ≥ 0.1: usage no longer low
    assert r.loc["red_flag_usage_trigger", "rag"] == "amber"  # usage_drop not a low-usage trigger now


def test_expected_arr_and_outlook(tmp_path):
    accounts, usage, contracts, scores, flags = _rag_book()
    contracts.append(contract("eur", "green", "2025-07-15", "2026-07-14", "100", currency="EUR"))  # renews 07-15 = A+15
    tl = _timeline(tmp_path, accounts, contracts, A, usage, scores, flags,
                   revenue=RevenueSettings(fx_rates={"EUR": Decimal("1.08")}))
    r = tl.renewals.set_index(["account_id", "renewal_date"])
    # 1000/month → ARR 12,000; red × 0.35 = 4,200.00; amber × 0.70 = 8,400.00; green × 0.95 = 11,400.00
    assert r.loc[("red_health", d("2026-09-01")), "expected_arr"] == Decimal("4200.00")
    assert r.loc[("amber_flag", d("2026-09-01")), "expected_arr"] == Decimal("8400.00")
    # EUR 100 × 1.08 × 12 = 1,296.00 ARR; green 0.95 → 1,231.20
    assert r.loc[("green", d("2026-07-15")), "arr"] == Decimal("1296.00")
    assert r.loc[("green", d("2026-07-15")), "expected_arr"] == Decimal("1231.20")
    o = tl.outlook.set_index(["window_days", "rag"])
    assert o.loc[(30, "all"), "renewals"] == 1 and o.loc[(30, "all"), "arr"] == Decimal("1296.00")
    # within 90 days: all 9 renewals. ARR 8 × 12,000 + 1,296 = 97,296.00
    # expected: green 11,400 + 1,231.20 + unscored 11,400; amber 2 × 8,400; red 4 × 4,200 → 57,631.20
    assert o.loc[(90, "all"), "renewals"] == 9
    assert o.loc[(90, "all"), "arr"] == Decimal("97296.00")
    assert o.loc[(90, "all"), "expected_arr"] == Decimal("57631.20")
    assert o.loc[(90, "red"), "renewals"] == 4 and o.loc[(60, "all"), "renewals"] == 1
    js = tl.to_dict()
    assert js["renewals"][0]["arr"] == "1296.00" and js["renewals"][0]["renewal_date"] == "2026-07-15"


def test_missing_fx_rate_names_the_contract(tmp_path):
    with pytest.raises(RenewalDataError, match="contract jp1: no FX rate for currency 'JPY'"):
        _timeline(tmp_path, [account("J")], [contract("jp1", "J", "2025-09-01", "2026-08-31", "100", currency="JPY")], A)


def test_probabilities_validated():
    with pytest.raises(ValueError, match="between 0 and 1"):
        RenewalSettings(probability={"green": Decimal("1.2"), "amber": Decimal("0.5"), "red": Decimal("0.1")})
    with pytest.raises(ValueError, match="exactly red, amber, green"):
        RenewalSettings(probability={"green": Decimal("0.9")})


def test_medium_risk_triggers_are_not_red_flags_by_default(tmp_path):
    accounts, usage, contracts, scores, flags = _rag_book()
    flags.loc[flags["account_id"] == "red_flag_usage", "severity"] = "medium"   # e.g. usage_plateau
    r = _timeline(tmp_path, accounts, contracts, A, usage, scores, flags).renewals.set_index("account_id")
    assert r.loc["red_flag_usage", "rag"] == "green" and r.loc["red_flag_usage", "red_flags"] == ()
    s = RenewalSettings(rag=RagRules(red_flag_severities=("medium", "high", "critical")))
    r = _timeline(tmp_path / "all", accounts, contracts, A, usage, scores, flags, settings=s).renewals.set_index("account_id")
    assert r.loc["red_flag_usage", "rag"] == "red"


def test_month_end_renewal_statuses(tmp_path):
    # ends 2026-02-28 → renews 2026-03-01; as of the month end 2026-02-28 (1 day before)
    tl = _timeline(tmp_path, [account("M")], [contract("c", "M", "2025-03-01", "2026-02-28", "100")], d("2026-02-28"))
    ms = tl.milestones.set_index("days_before")
    # 03-01 − 30 = 01-30 (Feb has 28 days), − 14 = 02-15, − 7 = 02-22
    assert ms.loc[[30, 14, 7], "date"].tolist() == [d("2026-01-30"), d("2026-02-15"), d("2026-02-22")]
    # 02-22 + 7 = 03-01 > 02-28 → still due; 02-15 + 7 = 02-22 ≤ 02-28 → overdue
    assert ms.loc[[30, 14, 7], "status"].tolist() == ["overdue", "overdue", "due"]
    r = tl.renewals.iloc[0]
    assert (r["days_to_renewal"], r["next_milestone"], r["next_milestone_owner"]) == (1, 7, "VP CS or CRO")
