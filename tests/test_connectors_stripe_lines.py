"""Stripe JSON → canonical contract lines and invoices, computed by hand from the design's
MRR rules (annual /12, quarterly /3, weekly ×52/12, recurring discounts while they apply,
trials/tax/one-time excluded, past_due active for the grace period)."""

import datetime as dt
from decimal import Decimal

import pytest

from connectors.stripe_billing import invoice_row, major, monthly, subscription_lines


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
