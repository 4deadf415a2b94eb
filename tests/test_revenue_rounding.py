"""Printed waterfalls add up: movements are rounded to cents with the largest-remainder rule."""

from __future__ import annotations

from decimal import Decimal as D

from engine.revenue.metrics import balanced_waterfall


def test_printed_waterfall_adds_up_when_plain_rounding_would_not():
    # exact: 1000.004 + 2.004 − 1.006 − 0.996 = 1000.006 → end prints 1000.01
    # plain rounding: 1000.00 + 2.00 − 1.01 − 1.00 = 999.99, two cents short;
    # every movement was rounded 0.004 the wrong way (a tie), so the first two non-zero
    # movements in order take one cent each: expansion 2.01, contraction 1.00.
    moves = {"new": D(0), "expansion": D("2.004"), "contraction": D("1.006"), "churn": D("0.996"), "reactivation": D(0)}
    w = balanced_waterfall(D("1000.004"), moves, D("1000.006"))
    assert w == {"start": D("1000.00"), "new": D("0.00"), "expansion": D("2.01"), "contraction": D("1.00"),
                 "churn": D("1.00"), "reactivation": D("0.00"), "end": D("1000.01")}
    assert w["start"] + w["new"] + w["reactivation"] + w["expansion"] - w["contraction"] - w["churn"] == w["end"]


def test_already_balanced_figures_are_only_rounded():
    # 100.10 + 20.20 − 5.05 = 115.25 exactly: nothing to redistribute
    moves = {"new": D("20.20"), "expansion": D(0), "contraction": D(0), "churn": D("5.05"), "reactivation": D(0)}
    w = balanced_waterfall(D("100.10"), moves, D("115.25"))
    assert (w["new"], w["churn"], w["end"]) == (D("20.20"), D("5.05"), D("115.25"))


def test_the_cent_goes_to_the_movement_rounded_furthest_the_other_way():
    # exact: 10.00 + 0.333 + 0.333 + 0.334 = 11.00; rounded 0.33 + 0.33 + 0.33 = 0.99 → one cent short.
    # remainders: new 0.003, expansion 0.003, reactivation 0.004 → reactivation gets it (0.34).
    moves = {"new": D("0.333"), "expansion": D("0.333"), "contraction": D(0), "churn": D(0), "reactivation": D("0.334")}
    w = balanced_waterfall(D("10.00"), moves, D("11.00"))
    assert (w["new"], w["expansion"], w["reactivation"]) == (D("0.33"), D("0.33"), D("0.34"))
