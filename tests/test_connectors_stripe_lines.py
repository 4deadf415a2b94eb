"""Stripe JSON → canonical contract lines and invoices, computed by hand from the design's
MRR rules (annual /12, quarterly /3, weekly ×52/12, recurring discounts while they apply,
trials/tax/one-time excluded, past_due active for the grace period)."""

import datetime as dt
from decimal import Decimal

import pytest

from connectors.stripe_billing import invoice_row
from connectors.stripe_lines import major, monthly, subscription_lines


def ts(day: str) -> int:
    return int(dt.datetime.fromisoformat(day).replace(tzinfo=dt.timezone.utc).timestamp())


def price(amount, interval="month", count=1, currency="usd", **kw):
    return {"id": "price_1", "product": "prod_1", "currency": currency, "unit_amount": amount,
            "recurring": {"interval": interval, "interval_count": count, "usage_type": kw.get("usage", "licensed")},
            "type": "recurring"}


def item(item_id="si_1", amount=10000, qty=1, created="2026-01-01", **kw):
    return {"id": item_id, "created": ts(created), "quantity": qty, "price": price(amount, **kw),
            "current_period_start": ts(kw.get("period", "2026-10-01"))}


def sub(*items, status="active", start="2026-01-01", discounts=(), **dates):
    body = {"id": "sub_1", "customer": "cus_1", "status": status, "start_date": ts(start),
            "items": {"data": list(items)}, "discounts": list(discounts)}
    body.update({k: ts(v) if isinstance(v, str) else v for k, v in dates.items()})
    return body


def discount(percent=None, amount=None, start="2026-01-01", end=None, duration="repeating"):
    coupon = {"id": "co_1", "duration": duration, "percent_off": percent, "amount_off": amount, "currency": "usd"}
    return {"id": "di_1", "source": {"type": "coupon", "coupon": coupon}, "start": ts(start), "end": ts(end) if end else None}


def lines(s, grace=14):
    rows, skipped = subscription_lines(s, "ACC-1", grace)
    return [(r["contract_id"], r["start_date"].isoformat(), r["end_date"] and r["end_date"].isoformat(), r["mrr"]) for r in rows], skipped


@pytest.mark.parametrize("interval,count,amount,qty,expected", [
    ("year", 1, 120000, 2, Decimal("200.000000")),    # 1200.00 × 2 seats / 12
    ("month", 3, 30000, 1, Decimal("100.000000")),    # quarterly 300.00 / 3
    ("week", 1, 1000, 1, Decimal("43.333333")),       # 10.00 × 52 / 12 = 43.3333…
    ("month", 1, 4999, 3, Decimal("149.970000")),     # 49.99 × 3
])
def test_normalisation_per_interval(interval, count, amount, qty, expected):
    rows, _ = lines(sub(item(amount=amount, qty=qty, interval=interval, count=count)))
    assert rows == [("sub_1/si_1", "2026-01-01", None, expected)]


def test_zero_decimal_currency_is_not_divided():
    assert major(5000, "jpy") == Decimal(5000)
    assert major(5000, "usd") == Decimal("50.00")
    assert monthly(Decimal(1200), "year") == Decimal(100)


def test_repeating_discount_splits_the_line_where_it_ends():
    # 100.00/month at 20% off until 2026-03-01 (exclusive): 80.00 Jan–Feb, then 100.00
    s = sub(item(), discounts=[discount(percent=20, end="2026-03-01")])
    rows, _ = lines(s)
    assert rows == [("sub_1/si_1", "2026-01-01", "2026-02-28", Decimal("80.000000")),
                    ("sub_1/si_1@2026-03-01", "2026-03-01", None, Decimal("100.000000"))]


def test_forever_discount_applies_throughout_and_once_is_ignored():
    forever = sub(item(), discounts=[discount(percent=10, duration="forever")])
    assert lines(forever)[0] == [("sub_1/si_1", "2026-01-01", None, Decimal("90.000000"))]
    once = sub(item(), discounts=[discount(percent=50, duration="once")])
    assert lines(once)[0] == [("sub_1/si_1", "2026-01-01", None, Decimal("100.000000"))]


def test_amount_off_is_spread_over_items_by_share():
    # items 100 and 300 a month; 40.00 off per monthly invoice → shares ¼ and ¾ → −10 and −30
    s = sub(item("si_a", 10000), item("si_b", 30000), discounts=[discount(amount=4000, duration="forever")])
    assert [r[3] for r in lines(s)[0]] == [Decimal("90.000000"), Decimal("270.000000")]


def test_trial_is_excluded_and_cancellation_ends_the_day_before():
    s = sub(item(), trial_end="2026-01-15", ended_at="2026-06-01", status="canceled")
    assert lines(s)[0] == [("sub_1/si_1", "2026-01-15", "2026-05-31", Decimal("100.000000"))]
    only_trial = sub(item(), trial_end="2026-01-15", ended_at="2026-01-10", status="canceled")
    assert lines(only_trial)[0] == []


def test_past_due_counts_for_the_grace_period_from_the_unpaid_period():
    # period started 2026-10-01; 14 grace days → last active day 2026-10-14
    s = sub(item(period="2026-10-01"), status="past_due")
    assert lines(s, grace=14)[0] == [("sub_1/si_1", "2026-01-01", "2026-10-14", Decimal("100.000000"))]


def test_legacy_shape_period_on_subscription_and_single_discount_object():
    legacy_item = item()
    legacy_item.pop("current_period_start")
    coupon = {"id": "co_1", "duration": "repeating", "percent_off": 20.0, "amount_off": None}
    s = sub(legacy_item, status="past_due", current_period_start="2026-10-01",
            discount={"id": "di_1", "coupon": coupon, "start": ts("2026-01-01"), "end": ts("2026-03-01")})
    s["discounts"] = ["di_1"]
    assert lines(s, grace=10)[0] == [("sub_1/si_1", "2026-01-01", "2026-02-28", Decimal("80.000000")),
                                     ("sub_1/si_1@2026-03-01", "2026-03-01", "2026-10-10", Decimal("100.000000"))]


def test_one_time_metered_and_negative_items_are_skipped_with_reasons():
    one_time = item("si_fee")
    one_time["price"]["recurring"] = None
    metered = item("si_m", usage="metered")
    negative = item("si_neg", amount=-500)
    rows, skipped = lines(sub(item(), one_time, metered, negative))
    assert [r[0] for r in rows] == ["sub_1/si_1"]
    assert [(i, r.split(" ")[0]) for i, r in skipped] == [
        ("sub_1/si_fee", "one-time"), ("sub_1/si_m", "metered"), ("sub_1/si_neg", "negative")]


def test_unexpanded_discount_ids_skip_the_subscription():
    s = sub(item(), discounts=["di_1"])
    assert lines(s) == ([], [("sub_1", "discount details missing (coupon not expanded)")])


def test_incomplete_subscription_is_not_revenue():
    assert lines(sub(item(), status="incomplete")) == ([], [])


def test_invoice_row_and_bad_currency():
    inv = {"id": "in_1", "currency": "eur", "total": 12345, "status": "paid", "attempt_count": 2, "created": ts("2026-05-01"),
           "due_date": ts("2026-05-15"), "status_transitions": {"finalized_at": ts("2026-05-02"), "paid_at": ts("2026-05-20")}}
    row, _ = invoice_row(inv, "ACC-1")
    assert (row["amount"], row["currency"], row["issued_at"], row["paid_at"], row["attempt_count"]) == (
        Decimal("123.45"), "EUR", dt.date(2026, 5, 2), dt.date(2026, 5, 20), 2)
    assert invoice_row({**inv, "currency": "??"}, "ACC-1") == (None, "unknown currency '??'")


# -- revenue history from invoices (connectors/stripe_lines.py) ------------------------

from connectors.stripe_lines import invoice_segments, period_months, subscription_history  # noqa: E402


def inv_line(amount, start, end, item="si_1", qty=1, kind="subscription", proration=False, discounts=()):
    """A current-shape invoice line (``parent.type``); ``end`` is Stripe's exclusive period end."""
    if kind == "subscription":
        parent = {"type": "subscription_item_details", "subscription_item_details": {
            "subscription": "sub_1", "subscription_item": item, "proration": proration}}
    else:
        parent = {"type": "invoice_item_details", "invoice_item_details": {"invoice_item": "ii_1", "subscription": "sub_1"}}
    return {"id": f"il_{item}_{start}", "amount": amount, "quantity": qty, "period": {"start": ts(start), "end": ts(end)},
            "parent": parent, "pricing": {"price_details": {"price": "price_1", "product": "prod_1"}},
            "discount_amounts": [{"amount": a} for a in discounts]}


def invoice(*lines, status="paid", discount=0, legacy_discount=False, inv_id="in_1"):
    subtotal = sum(ln["amount"] for ln in lines)
    body = {"id": inv_id, "status": status, "currency": "usd", "subtotal": subtotal, "total_excluding_tax": subtotal - discount,
            "total_discount_amounts": [] if legacy_discount or not discount else [{"amount": discount}],
            "parent": {"subscription_details": {"subscription": "sub_1"}}, "lines": {"data": list(lines)}}
    return body


def monthly_invoices(amount, months, item="si_1", qty=1):
    """One invoice per month: months given as 'YYYY-MM' strings, billed on the 1st."""
    out = []
    for m in months:
        start = dt.date.fromisoformat(m + "-01")
        end = (start + dt.timedelta(days=32)).replace(day=1)
        out.append(invoice(inv_line(amount, start.isoformat(), end.isoformat(), item=item, qty=qty), inv_id=f"in_{item}_{m}"))
    return out


def history(s, invoices, grace=14):
    segs = [seg for inv in invoices for seg in invoice_segments(inv)[0]]
    rows, skipped = subscription_history(s, segs, "ACC-1", grace)
    return [(r["contract_id"], r["start_date"].isoformat(), r["end_date"] and r["end_date"].isoformat(), r["mrr"]) for r in rows]


def test_period_months_whole_months_or_days():
    assert period_months(dt.date(2026, 1, 1), dt.date(2027, 1, 1)) == 12      # annual
    assert period_months(dt.date(2026, 6, 15), dt.date(2026, 9, 15)) == 3     # quarterly, anchor 15
    assert period_months(dt.date(2026, 1, 1), dt.date(2026, 1, 16)) == Decimal(15) * 12 / 365  # 15 days


def test_same_price_months_chain_into_one_line_that_runs_on_with_the_subscription():
    # Jan–Mar at 100.00, the subscription still bills 100.00 → one evergreen line from Jan 1
    s = sub(item(period="2026-03-01"), start="2026-01-01")
    rows = history(s, monthly_invoices(10000, ["2026-01", "2026-02", "2026-03"]))
    assert rows == [("sub_1/si_1@2026-01-01", "2026-01-01", None, Decimal("100.000000"))]


def test_an_upgrade_and_a_downgrade_are_separate_lines_with_their_own_mrr():
    # Jan–Feb 1 seat × 100.00; Mar–Apr 3 seats = 300.00 (upgrade); May on 2 seats = 200.00
    s = sub(item(amount=10000, qty=2, period="2026-05-01"), start="2026-01-01")
    invs = (monthly_invoices(10000, ["2026-01", "2026-02"]) + monthly_invoices(30000, ["2026-03", "2026-04"], qty=3)
            + monthly_invoices(20000, ["2026-05"], qty=2))
    assert history(s, invs) == [("sub_1/si_1@2026-01-01", "2026-01-01", "2026-02-28", Decimal("100.000000")),
                                ("sub_1/si_1@2026-03-01", "2026-03-01", "2026-04-30", Decimal("300.000000")),
                                ("sub_1/si_1@2026-05-01", "2026-05-01", None, Decimal("200.000000"))]


def test_a_gap_between_invoices_is_churn_then_reactivation_and_a_canceled_subscription_ends():
    # paid Jan–Feb, nothing in Mar, paid Apr; canceled, ended_at 2026-05-01 → last day Apr 30
    s = sub(item(), status="canceled", start="2026-01-01", ended_at="2026-05-01")
    invs = monthly_invoices(10000, ["2026-01", "2026-02", "2026-04"])
    assert history(s, invs) == [("sub_1/si_1@2026-01-01", "2026-01-01", "2026-02-28", Decimal("100.000000")),
                                ("sub_1/si_1@2026-04-01", "2026-04-01", "2026-04-30", Decimal("100.000000"))]


def test_cancellation_mid_period_cuts_the_invoiced_period():
    # annual invoice 2026-01-01 … 2027-01-01 for 1,200.00 → 100.00/month; ended 2026-07-01 → last day Jun 30
    s = sub(item(amount=120000, interval="year"), status="canceled", start="2026-01-01", ended_at="2026-07-01")
    invs = [invoice(inv_line(120000, "2026-01-01", "2027-01-01"))]
    assert history(s, invs) == [("sub_1/si_1@2026-01-01", "2026-01-01", "2026-06-30", Decimal("100.000000"))]


def test_invoice_discount_tax_one_time_fees_and_trials_are_handled():
    # recurring 1,200.00/year + a 500.00 set-up fee; 180.00 discount on the invoice (subscription
    # coupon → spread over the recurring line only): (1,200 − 180) / 12 = 85.00; fee is not MRR
    annual = invoice(inv_line(120000, "2026-01-01", "2027-01-01"), inv_line(50000, "2026-01-01", "2027-01-01", kind="fee"),
                     discount=18000)
    segs, skipped = invoice_segments(annual)
    assert [(s.start.isoformat(), s.end.isoformat(), s.mrr) for s in segs] == [("2026-01-01", "2026-12-31", Decimal("85.000000"))]
    # same facts with the discount only visible as subtotal − total_excluding_tax (180.00)
    assert invoice_segments(invoice(*annual["lines"]["data"], discount=18000, legacy_discount=True))[0] == segs
    # a line's own discount_amounts win: 1,200 − 120 = 1,080 / 12 = 90.00
    own = invoice(inv_line(120000, "2026-01-01", "2027-01-01", discounts=[12000]), discount=12000)
    assert invoice_segments(own)[0][0].mrr == Decimal("90.000000")
    # a zero-amount trial invoice, a void invoice and a proration line are not revenue
    assert invoice_segments(invoice(inv_line(0, "2026-01-01", "2026-01-15")))[0] == []
    assert invoice_segments(invoice(inv_line(10000, "2026-01-01", "2026-02-01"), status="void")) == ([], [])
    prorated = invoice_segments(invoice(inv_line(5000, "2026-01-16", "2026-02-01", proration=True)))
    assert prorated[0] == [] and prorated[1][0][1].startswith("proration")


def test_co_termed_add_on_is_its_own_line_for_its_months():
    # base: 12 seats annual 2026-01-01 … 2027-01-01 for 14,400.00 → 1,200.00/month;
    # add-on billed 2026-07-01 … 2027-01-01 (6 months) for 3,600.00 → 600.00/month, overlapping
    s = sub(item(amount=120000, qty=12, interval="year"), status="canceled", start="2026-01-01", ended_at="2027-01-01")
    invs = [invoice(inv_line(1440000, "2026-01-01", "2027-01-01", qty=12)),
            invoice(inv_line(360000, "2026-07-01", "2027-01-01", qty=3), inv_id="in_2")]
    assert history(s, invs) == [("sub_1/si_1@2026-01-01", "2026-01-01", "2026-12-31", Decimal("1200.000000")),
                                ("sub_1/si_1@2026-07-01", "2026-07-01", "2026-12-31", Decimal("600.000000"))]


def test_past_due_subscription_stops_after_the_grace_period():
    # paid Sep, Oct invoice open and the subscription past_due from 2026-10-01:
    # 14 grace days → last day 2026-10-14
    s = sub(item(period="2026-10-01"), status="past_due", start="2026-09-01")
    invs = monthly_invoices(10000, ["2026-09"]) + [dict(monthly_invoices(10000, ["2026-10"])[0], status="open")]
    assert history(s, invs, grace=14) == [("sub_1/si_1@2026-09-01", "2026-09-01", "2026-10-14", Decimal("100.000000"))]


def test_price_change_not_invoiced_yet_starts_after_the_invoiced_period():
    # invoiced Oct at 100.00; the item now has 2 seats (200.00) → new line from Nov 1, the next bill
    s = sub(item(qty=2, period="2026-10-01"), start="2026-10-01")
    assert history(s, monthly_invoices(10000, ["2026-10"])) == [
        ("sub_1/si_1@2026-10-01", "2026-10-01", "2026-10-31", Decimal("100.000000")),
        ("sub_1/si_1@2026-11-01", "2026-11-01", None, Decimal("200.000000"))]


def test_legacy_invoice_shape_gives_the_same_segments():
    current = invoice(inv_line(10000, "2026-01-01", "2026-02-01"))
    line = dict(current["lines"]["data"][0])
    line.pop("parent"), line.pop("pricing")
    line.update(type="subscription", subscription="sub_1", subscription_item="si_1", proration=False,
                price={"id": "price_1", "product": "prod_1"})
    legacy = {**current, "parent": None, "subscription": "sub_1", "lines": {"data": [line]}}
    assert invoice_segments(legacy) == invoice_segments(current)


def test_window_cuts_split_billing_history_into_like_shares():
    from connectors.stripe_billing import window_cuts

    # subscriptions (count): customers created at 0, 10, 20, 30 → created[lt]=20 holds two of
    # four; in quarters, lt=10, lt=20, lt=30 hold one each
    assert window_cuts([0, 10, 20, 30], 2, 40, lifetime=False) == [20]
    assert window_cuts([0, 10, 20, 30], 4, 40, lifetime=False) == [10, 20, 30]
    # invoices (lifetime): two customers from t = 0 accrue 2t by t → quarters at 25, 50, 75
    assert [round(c) for c in window_cuts([0, 0], 4, 100, lifetime=True)] == [25, 50, 75]
    # customers at 0 and 50, now 100: W(t) = t before 50, 2t − 50 after; W(100) = 150,
    # half = 75 → 2t − 50 = 75 → t = 62.5 (int → 62)
    assert window_cuts([0, 50], 2, 100, lifetime=True) == [62]
    # nothing to split: no customers, or all created now
    assert window_cuts([], 4, 100, lifetime=True) == []
    assert window_cuts([100, 100], 4, 100, lifetime=True) == []
