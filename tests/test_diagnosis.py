"""Each diagnosis finding on a hand-built fixture, plus the revenue-engine adapter."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pandas as pd
import pytest

from engine.diagnosis import DiagnosisSettings, diagnose, diagnosis_inputs


def _q(*rows):
    return [{"period": p, "nrr_ttm": Decimal(str(n)), "grr_ttm": Decimal(str(g)), "logo_retention_ttm": Decimal(str(l))}
            for p, n, g, l in rows]


def _by_id(findings):
    return {f.id: f for f in findings}


def test_retention_problem_when_grr_falls():
    q = _q(("2025-Q4", 1.10, 0.92, 0.90), ("2026-Q1", 1.08, 0.90, 0.88), ("2026-Q2", 1.05, 0.88, 0.86),
           ("2026-Q3", 1.01, 0.85, 0.84))
    f = _by_id(diagnose(q, None, None, None))["nrr_grr_trend"]
    # GRR 92 % → 85 % = −7 pts ≥ 2; declined 3 quarters running (92 > 90 > 88 > 85)
    assert f.severity == "high" and f.title.startswith("Retention problem")
    assert f.sentence == ("GRR fell 7.0% points over 3 quarters (NRR 110.0% → 101.0% and GRR 92.0% → 85.0% from "
                          "2025-Q4 to 2026-Q3): the problem is retention, not expansion.")
    assert f.evidence["grr_declining_quarters"] == 3


def test_four_quarters_of_grr_decline_is_critical():
    q = _q(("2025-Q3", 1.0, 0.93, 0.9), ("2025-Q4", 1.0, 0.92, 0.9), ("2026-Q1", 1.0, 0.91, 0.9),
           ("2026-Q2", 1.0, 0.90, 0.9), ("2026-Q3", 1.0, 0.89, 0.9))
    f = _by_id(diagnose(q, None, None, None, DiagnosisSettings(trend_quarters=5)))["nrr_grr_trend"]
    assert f.severity == "critical" and f.evidence["grr_declining_quarters"] == 4


def test_expansion_problem_when_only_nrr_falls():
    q = _q(("2025-Q4", 1.15, 0.91, 0.9), ("2026-Q3", 1.05, 0.905, 0.9))
    f = _by_id(diagnose(q, None, None, None))["nrr_grr_trend"]
    # NRR −10 pts; GRR −0.5 pts (< 2): expansion
    assert f.severity == "medium" and "the problem is expansion" in f.sentence
    steady = _by_id(diagnose(_q(("a", 1.0, 0.9, 0.9), ("b", 1.01, 0.9, 0.9)), None, None, None))["nrr_grr_trend"]
    assert (steady.severity, steady.title) == ("info", "NRR and GRR holding")      # +1 pt < 2
    up = _by_id(diagnose(_q(("a", 1.0, 0.9, 0.9), ("b", 1.03, 0.9, 0.9)), None, None, None))["nrr_grr_trend"]
    assert up.title == "NRR and GRR improving"                                      # +3 pts


@pytest.mark.parametrize("nrr,stage,severity", [(0.899, "fix gross retention", "high"), (0.90, "stabilise", "medium"),
                                                (1.099, "grow", "info"), (1.10, "optimise", "info"),
                                                (1.20, "compound", "info")])
def test_nrr_stage(nrr, stage, severity):
    f = _by_id(diagnose(_q(("2026-Q3", nrr, 0.9, 0.9)), None, None, None))["nrr_stage"]
    assert (f.evidence["stage"], f.severity) == (stage, severity)
    assert f.sentence.startswith(f"TTM NRR is {100 * nrr:.1f}%.")


def test_retention_benchmarks():
    f = _by_id(diagnose(_q(("2026-Q3", 1.06, 0.84, 0.93)), None, None, None))["retention_benchmarks"]
    assert f.sentence == "NRR 106.0% (good); GRR 84.0% (below acceptable); Logo retention 93.0% (best in class)."
    assert f.severity == "medium"


def test_segment_benchmarks():
    by = {"mid-market": {"nrr_ttm": Decimal("1.04")}, "enterprise": {"nrr_ttm": Decimal("1.21")},
          "self-serve": {"nrr_ttm": Decimal("0.99")}, "unassigned": {"nrr_ttm": Decimal("0.5")}}
    f = _by_id(diagnose([], None, None, {"segment": by}))
    assert f["segment_benchmark:mid-market"].sentence == (
        "mid-market NRR 104.0% is below median for Mid-Market (median 108.0%, top quartile 115.0%).")
    assert f["segment_benchmark:mid-market"].severity == "medium"
    assert f["segment_benchmark:enterprise"].evidence["position"] == "top quartile"    # 121 ≥ 120, < 130
    assert f["segment_benchmark:self-serve"].evidence["position"] == "above median"    # SMB row: 99 ≥ 98
    assert "segment_benchmark:unassigned" not in f


def _cohort_rows(retained_at_6: dict[str, tuple[int, int]]):
    return pd.DataFrame([{"cohort": c, "months_since_start": 6, "base_accounts": b, "accounts": a}
                         for c, (b, a) in retained_at_6.items()])


def test_cohort_regression():
    # older 2025-Q1/Q2: (18+17)/(20+20) = 87.5 %; recent Q3..2026-Q1: (14+15+13)/(20+20+20) = 70 % → gap 17.5 pts
    rows = _cohort_rows({"2025-Q1": (20, 18), "2025-Q2": (20, 17), "2025-Q3": (20, 14), "2025-Q4": (20, 15),
                         "2026-Q1": (20, 13)})
    f = _by_id(diagnose([], rows, None, None))["cohort_regression"]
    assert f.evidence["recent_logo_retention"] == pytest.approx(0.70)
    assert f.evidence["older_logo_retention"] == pytest.approx(0.875)
    assert f.sentence == ("Cohorts 2025-Q3–2026-Q1 keep 70.0% of accounts at month 6 against 87.5% for earlier "
                          "cohorts: a sign of ICP drift.")
    # gap 87.5 − 83.3 = 4.2 pts < 5: no finding
    rows = _cohort_rows({"2025-Q1": (20, 18), "2025-Q2": (20, 17), "2025-Q3": (20, 17), "2025-Q4": (20, 17),
                         "2026-Q1": (20, 16)})
    assert "cohort_regression" not in _by_id(diagnose([], rows, None, None))


def _churn(days: list[int], industries: list[str] | None = None):
    start = dt.date(2024, 1, 1)
    rows = [{"account_id": f"a{i}", "first_day": start, "last_day": start + dt.timedelta(days=d - 1),
             "churn": Decimal("100")} for i, d in enumerate(days)]
    for r, ind in zip(rows, industries or []):
        r["industry"] = ind
    return pd.DataFrame(rows)


def test_onboarding_and_renewal_cliffs():
    # tenure months = paid days ÷ 30.4375: 90 d = 2.96, 150 d = 4.93 → months 3–6; 365 d = 11.99 → month 12;
    # 30 d = 0.99 and 700 d = 23 elsewhere. 10 accounts: 4 onboarding (40 % ≥ 35 %), 3 at renewal (30 % ≥ 25 %)
    churn = _churn([90, 150, 150, 180, 365, 365, 366, 30, 700, 700])
    f = _by_id(diagnose([], None, churn, None))
    assert f["onboarding_cliff"].sentence == ("40.0% of churned accounts (4 of 10) left in months 3–6 of their life: "
                                              "time-to-value failure.")
    assert f["renewal_cliff"].evidence["accounts"] == 3
    # 61 days = 2.004 months → inside (2, 6]; 60 days = 1.97 → outside
    few = _by_id(diagnose([], None, _churn([60, 60, 60, 60, 61, 700, 700, 700, 700, 700]), None))
    assert "onboarding_cliff" not in few and "renewal_cliff" not in few
    # all four at month 3, but 4 < the minimum of 5 churned accounts: too few to call a cliff
    assert diagnose([], None, _churn([90, 90, 90, 90]), None) == []


def test_arr_band_concentration():
    by = {"<10K": {"logo_retention_ttm": Decimal("0.65")}, "10K-25K": {"logo_retention_ttm": Decimal("0.70")},
          "25K-100K": {"logo_retention_ttm": Decimal("0.84")}, ">100K": {"logo_retention_ttm": Decimal("0.86")}}
    f = _by_id(diagnose([], None, None, {"arr_band": by}))
    # <10K churn 35 % ≥ 30 %: normal (info); 25K-100K 16 % ≥ 15 %: broken; >100K 14 % fine; 10K-25K not judged
    assert f["arr_band_churn:<10K"].severity == "info"
    assert f["arr_band_churn:25K-100K"].sentence == (
        "Annual logo churn in the 25K-100K band is 16.0%: broken for accounts above $25K (bar 15.0%).")
    assert "arr_band_churn:>100K" not in f and "arr_band_churn:10K-25K" not in f


def test_industry_concentration():
    churn = _churn([700] * 10, ["retail"] * 6 + ["software"] * 4)
    f = _by_id(diagnose([], None, churn, None))["industry_concentration"]
    assert f.sentence.startswith("60.0% of churned accounts (6 of 10) are in retail")
    churn = _churn([700] * 10, ["retail"] * 5 + ["software"] * 5)
    assert "industry_concentration" not in _by_id(diagnose([], None, churn, None))


def test_findings_sorted_by_severity():
    q = _q(("2025-Q4", 1.10, 0.92, 0.90), ("2026-Q3", 0.85, 0.80, 0.84))
    sev = [f.severity for f in diagnose(q, None, None, None)]
    assert sev == sorted(sev, key=["critical", "high", "medium", "low", "info"].index)


def test_adapter_runs_on_revenue_engine(tmp_path):
    from test_triggers_fixtures import account, contract, inputs, make_store
    from engine.settings import RevenueSettings

    accounts = [account(f"a{i}", industry="retail" if i < 6 else "software") for i in range(10)]
    # ten accounts from 2025-01-01; six churn after 4 months (end 2025-04-30), four keep paying
    contracts = [contract(f"c{i}", f"a{i}", "2025-01-01", "2025-04-30" if i < 6 else None, "1000") for i in range(10)]
    store = make_store(tmp_path, accounts, contracts=contracts)
    try:
        i = inputs(store)
        got = diagnosis_inputs(i.contracts, i.accounts, RevenueSettings(), "2025-Q4", n=4)
    finally:
        store.close()
    f = _by_id(diagnose(**got))
    # 6 of 10 churned in 2025-Q2, all retail, paid 120 days = 3.9 months
    assert f["industry_concentration"].evidence["accounts"] == 6
    assert f["onboarding_cliff"].evidence["share"] == 1.0
