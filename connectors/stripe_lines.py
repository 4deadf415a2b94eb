"""Stripe subscriptions and invoices → canonical contract lines (pure functions).

Revenue history comes from **invoices**, the way billing-analytics tools derive it,
merged with the **current subscription** for the period still open:

1. *Segments.* Every invoice that is not ``draft``/``void`` contributes its recurring
   lines — ``parent.type = subscription_item_details`` (current API) or
   ``type = subscription`` (older API). One-time ``invoiceitem`` lines (set-up fees),
   proration lines and tax (never part of a line's ``amount``) are not MRR. A line's
   revenue is its ``amount`` less its ``discount_amounts``; an invoice whose discount is
   only given as ``total_discount_amounts`` has it spread over its recurring lines in
   proportion to their amounts (a subscription coupon discounts subscription charges).
   Zero-amount lines (trial invoices, 100 % coupons) are not revenue. A segment's MRR is
   its revenue ÷ the months in ``period.start`` … ``period.end`` (exclusive end): whole
   calendar months when the period is n months on the same day of month (annual = 12,
   quarterly = 3, an add-on co-termed for the last 5 months = 5), else days × 12 / 365.
2. *Lines.* Segments of one subscription item are chained: a segment that starts the
   day after a line ends, at the same MRR, extends it; anything else (an upgrade, a
   downgrade, a discount that ran out, a gap before a reactivation, an add-on billed for
   an overlapping period) starts a new line. Each line has one constant MRR.
3. *Open period.* For a subscription still running, each current item's MRR from its
   price, quantity and discounts (:func:`subscription_lines`) decides how its last
   line goes on: at the same MRR it continues to the state's end (evergreen, the day
   before ``cancel_at``, or the end of the ``past_due`` grace); at a different MRR (a
   change not invoiced yet) a new line starts the day after the invoiced period. Items
   never invoiced (trials, brand-new items) come from the state alone.
4. *Ends.* Nothing runs past ``ended_at`` − 1 day; a ``past_due``/``unpaid``
   subscription's lines stop ``past_due_grace_days`` after its unpaid period began.

MRR normalisation on the state side follows the design: annual /12, quarterly /3,
weekly ×52/12, recurring discounts while they apply, trials excluded.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

ZERO_DECIMAL = frozenset("bif clp djf gnf jpy kmf krw mga pyg rwf ugx vnd vuv xaf xof xpf".split())
#: interval → (numerator, denominator) turning one interval's amount into a month's
PER_MONTH = {"day": (365, 12), "week": (52, 12), "month": (1, 1), "year": (1, 12)}
MRR_PLACES = Decimal("0.000001")
NO_REVENUE = frozenset({"incomplete", "incomplete_expired"})
DUNNING = frozenset({"past_due", "unpaid"})


def major(amount_minor: Any, currency: str) -> Decimal:
    """Minor units → currency units (cents /100; zero-decimal currencies as they are)."""
    return Decimal(str(amount_minor)).scaleb(0 if currency.lower() in ZERO_DECIMAL else -2)


def monthly(amount: Decimal, interval: str, count: int = 1) -> Decimal:
    """Per-month value of ``amount`` billed every ``count`` ``interval`` s:
    annual /12, quarterly (3 months) /3, weekly ×52/12, daily ×365/12."""
    num, den = PER_MONTH[interval]
    return amount * num / (den * count)


def _day(ts: int | None) -> dt.date | None:
    return dt.datetime.fromtimestamp(ts, dt.timezone.utc).date() if ts else None


def _discounts(sub: dict) -> list[dict] | None:
    """Discount objects with their coupon, either shape; None when only ids are present."""
    objs = [d for d in sub.get("discounts") or [] if isinstance(d, dict)]
    if not objs and isinstance(sub.get("discount"), dict):
        objs = [sub["discount"]]
    if len(objs) < len(sub.get("discounts") or []) and not sub.get("discount"):
        return None
    out = []
    for d in objs:
        coupon = d.get("coupon") or (d.get("source") or {}).get("coupon")
        if not isinstance(coupon, dict):
            return None
        if coupon.get("duration") != "once":  # a one-invoice coupon is not a recurring discount
            out.append({"coupon": coupon, "start": _day(d.get("start")), "end": _day(d.get("end"))})
    return out


def _service_window(sub: dict, item: dict, grace_days: int) -> tuple[dt.date, dt.date | None]:
    """(first paid day, inclusive last day or None). Trials are not revenue; a canceled or
    scheduled-to-cancel subscription ends the day before ``ended_at``/``cancel_at``; a
    past-due one stays revenue for ``grace_days`` from the start of its unpaid period."""
    start = max(d for d in (_day(sub.get("start_date")), _day(item.get("created")), _day(sub.get("trial_end"))) if d)
    stops = [_day(sub.get("ended_at")), _day(sub.get("cancel_at"))]
    if sub.get("status") in DUNNING:
        period = _day(item.get("current_period_start") or sub.get("current_period_start"))
        stops.append(period + dt.timedelta(days=grace_days) if period else None)
    stop = min((d for d in stops if d), default=None)
    return start, (stop - dt.timedelta(days=1) if stop else None)


def _item_mrr(item: dict) -> tuple[Decimal | None, str]:
    """List MRR of one item (tax is never in a price; one-time and metered prices are not MRR)."""
    price = item.get("price") or item.get("plan") or {}
    recurring = price.get("recurring") or ({"interval": price["interval"], "interval_count": price.get("interval_count")}
                                           if price.get("interval") else None)
    if not recurring:
        return None, "one-time price is not recurring revenue"
    if recurring.get("usage_type") == "metered":
        return None, "metered price has no fixed monthly amount"
    unit = price.get("unit_amount_decimal") or price.get("unit_amount", price.get("amount"))
    currency = str(price.get("currency") or "")
    if unit is None:
        return None, "price has no per-unit amount (tiered pricing is not supported)"
    if len(currency) != 3 or not currency.isalpha():
        return None, f"unknown currency {currency!r}"
    qty = item.get("quantity") if item.get("quantity") is not None else 1
    amount = major(unit, currency) * qty
    if amount < 0:
        return None, f"negative amount {amount}"
    return monthly(amount, recurring["interval"], int(recurring.get("interval_count") or 1)), ""


def _segments(start: dt.date, end: dt.date | None, discounts: list[dict]) -> list[tuple[dt.date, dt.date | None, list[dict]]]:
    """Split [start, end] where a discount starts or ends; each piece with the discounts active on it."""
    cuts = sorted({d for disc in discounts for d in (disc["start"], disc["end"])
                   if d and d > start and (end is None or d <= end)})
    bounds = [start, *cuts]
    pieces = []
    for i, lo in enumerate(bounds):
        hi = bounds[i + 1] - dt.timedelta(days=1) if i + 1 < len(bounds) else end
        active = [d for d in discounts if (d["start"] or lo) <= lo and (d["end"] is None or d["end"] > lo)]
        pieces.append((lo, hi, active))
    return pieces


def _discounted(list_mrr: Decimal, share: Decimal, active: list[dict], interval: tuple[str, int], currency: str) -> Decimal:
    """percent_off scales the item; amount_off (per invoice) is spread over items by their share."""
    mrr = list_mrr
    for disc in active:
        coupon = disc["coupon"]
        if coupon.get("percent_off"):
            mrr = mrr * (100 - Decimal(str(coupon["percent_off"]))) / 100
        elif coupon.get("amount_off") and (coupon.get("currency") or currency).lower() == currency.lower():
            mrr -= monthly(major(coupon["amount_off"], currency), *interval) * share
    return max(mrr, Decimal(0))


def subscription_lines(sub: dict, account_id: str | None, grace_days: int) -> tuple[list[dict], list[tuple[str, str]]]:
    """Contract lines of one subscription: one per item, split where a recurring
    discount starts or ends. Returns (rows, skipped (id, reason))."""
    sub_id = sub["id"]
    if not account_id:
        return [], [(sub_id, "subscription has no customer")]
    if sub.get("status") in NO_REVENUE:
        return [], []
    discounts = _discounts(sub)
    if discounts is None:
        return [], [(sub_id, "discount details missing (coupon not expanded)")]
    items = (sub.get("items") or {}).get("data") or []
    priced = [(item, *_item_mrr(item)) for item in items]
    total = sum((m for _, m, _ in priced if m is not None), Decimal(0))
    rows, skipped = [], []
    for item, list_mrr, why in priced:
        if list_mrr is None:
            skipped.append((f"{sub_id}/{item['id']}", why))
            continue
        rows.extend(_item_rows(sub, item, list_mrr, list_mrr / total if total else Decimal(0), discounts, account_id, grace_days))
    return rows, skipped


def _item_rows(sub: dict, item: dict, list_mrr: Decimal, share: Decimal, discounts: list[dict],
               account_id: str, grace_days: int) -> list[dict]:
    price = item.get("price") or item.get("plan") or {}
    recurring = price.get("recurring") or {"interval": price.get("interval"), "interval_count": price.get("interval_count")}
    interval = (recurring["interval"], int(recurring.get("interval_count") or 1))
    currency = str(price["currency"]).upper()
    start, end = _service_window(sub, item, grace_days)
    if end is not None and end < start:
        return []  # ended during its trial: never revenue
    rows = []
    for n, (lo, hi, active) in enumerate(_segments(start, end, discounts)):
        mrr = _discounted(list_mrr, share, active, interval, currency).quantize(MRR_PLACES)
        if rows and rows[-1]["mrr"] == mrr:  # a cut that changes nothing
            rows[-1]["end_date"] = hi
            continue
        line_id = f"{sub['id']}/{item['id']}" + (f"@{lo.isoformat()}" if n else "")
        rows.append({"source_id": line_id, "contract_id": line_id, "account_id": account_id,
                     "product": price.get("nickname") or _ref(price.get("product")), "start_date": lo, "end_date": hi,
                     "mrr": mrr, "currency": currency, "quantity": Decimal(item.get("quantity") or 1),
                     "status": sub.get("status"),
                     "auto_renew": sub.get("status") not in ("canceled",) and not sub.get("cancel_at")
                     and not sub.get("cancel_at_period_end")})
    return rows


def _ref(value: Any) -> str | None:
    return value.get("name") or value.get("id") if isinstance(value, dict) else value




# -- revenue history from invoices ---------------------------------------------------

NOT_BILLED = frozenset({"draft", "void"})
DAY = dt.timedelta(days=1)


@dataclass(frozen=True)
class Segment:
    """One recurring invoice line: ``item`` billed ``mrr`` a month from ``start`` to ``end`` (inclusive)."""

    item: str
    start: dt.date
    end: dt.date
    mrr: Decimal
    currency: str
    product: str | None
    quantity: Decimal


def invoice_subscription(inv: dict) -> str | None:
    """The invoice's subscription id in either shape (``parent.subscription_details`` or ``subscription``)."""
    details = (inv.get("parent") or {}).get("subscription_details") or {}
    return _ref_id(details.get("subscription") or inv.get("subscription"))


def _ref_id(value: Any) -> str | None:
    return value.get("id") if isinstance(value, dict) else value


def _line_details(line: dict) -> dict | None:
    """The subscription-item facts of a recurring line, None for one-time/invoice-item lines."""
    parent = line.get("parent") or {}
    if parent:
        return parent.get("subscription_item_details") if parent.get("type") == "subscription_item_details" else None
    if line.get("type") != "subscription":
        return None
    return {"subscription_item": line.get("subscription_item"), "proration": line.get("proration")}


def _price_of(line: dict) -> tuple[str | None, str | None]:
    """(price id, product id) of a line in either shape."""
    pricing = (line.get("pricing") or {}).get("price_details") or {}
    price = line.get("price") or line.get("plan") or {}
    price_id = _ref_id(pricing.get("price")) or (price.get("id") if isinstance(price, dict) else price)
    product = pricing.get("product") or (price.get("product") if isinstance(price, dict) else None)
    return price_id, _ref_id(product)


def period_months(start: dt.date, end_excl: dt.date) -> Decimal:
    """Months in [start, end_excl): n when end_excl is start + n calendar months, else days × 12 / 365."""
    n = (end_excl.year - start.year) * 12 + end_excl.month - start.month
    if n > 0 and _add_months(start, n) == end_excl:
        return Decimal(n)
    return Decimal((end_excl - start).days) * 12 / 365


def _add_months(day: dt.date, n: int) -> dt.date | None:
    y, m = divmod(day.month - 1 + n, 12)
    try:
        return day.replace(year=day.year + y, month=m + 1)
    except ValueError:  # the 31st in a shorter month: not a whole-month period
        return None


def _discount_shares(inv: dict, recurring: list[dict]) -> list[Decimal]:
    """Minor units of discount per recurring line: its own ``discount_amounts``, or the
    invoice's discount (:func:`_invoice_discount`) spread by amount when no line carries any."""
    own = [sum((Decimal(d.get("amount") or 0) for d in line.get("discount_amounts") or []), Decimal(0)) for line in recurring]
    if any(own):
        return own
    total = _invoice_discount(inv)
    gross = sum((Decimal(line.get("amount") or 0) for line in recurring), Decimal(0))
    if not total or gross <= 0:
        return own
    return [total * Decimal(line.get("amount") or 0) / gross for line in recurring]


def _invoice_discount(inv: dict) -> Decimal:
    """Minor units taken off the invoice: ``total_discount_amounts``, else what separates
    ``subtotal`` from ``total_excluding_tax`` (both exclude tax, so the gap is discounts)."""
    listed = [Decimal(d.get("amount") or 0) for d in inv.get("total_discount_amounts") or []]
    if listed:
        return sum(listed, Decimal(0))
    if inv.get("subtotal") is None or inv.get("total_excluding_tax") is None:
        return Decimal(0)
    return max(Decimal(inv["subtotal"]) - Decimal(inv["total_excluding_tax"]), Decimal(0))


def invoice_segments(inv: dict) -> tuple[list[Segment], list[tuple[str, str]]]:
    """The recurring segments of one invoice. Returns (segments, skipped (line id, reason))."""
    if inv.get("status") in NOT_BILLED:
        return [], []
    lines = (inv.get("lines") or {}).get("data") or []
    recurring = [ln for ln in lines if _line_details(ln) is not None]
    currency = str(inv.get("currency") or "")
    if recurring and (len(currency) != 3 or not currency.isalpha()):
        return [], [(inv.get("id", "?"), f"unknown currency {currency!r}")]
    out, skipped = [], []
    for line, discount in zip(recurring, _discount_shares(inv, recurring)):
        seg, why = _segment(line, discount, currency)
        if seg is not None:
            out.append(seg)
        elif why:
            skipped.append((f"{inv.get('id')}/{line.get('id')}", why))
    return out, skipped


def _segment(line: dict, discount: Decimal, currency: str) -> tuple[Segment | None, str]:
    details = _line_details(line) or {}
    if details.get("proration"):
        return None, "proration adjusts a period already billed; the next invoice carries the new price"
    net = Decimal(line.get("amount") or 0) - discount
    period = line.get("period") or {}
    start, end = _day(period.get("start")), _day(period.get("end"))
    if net < 0:
        return None, f"negative amount {net}"
    if net == 0:
        return None, ""  # a trial or a fully discounted period: no revenue
    if not start or not end or end <= start:
        return None, "recurring line without a billing period"
    price_id, product = _price_of(line)
    item = _ref_id(details.get("subscription_item")) or price_id or str(line.get("id"))
    mrr = (major(net, currency) / period_months(start, end)).quantize(MRR_PLACES)
    return Segment(item, start, end - DAY, mrr, currency.upper(), product, Decimal(line.get("quantity") or 1)), ""


@dataclass
class _Line:
    item: str
    start: dt.date
    end: dt.date | None
    mrr: Decimal
    currency: str
    product: str | None
    quantity: Decimal


def chain(segments: list[Segment]) -> list[_Line]:
    """Join each item's segments into constant-MRR lines: a segment starting the day after a
    line of the same item ends, at the same MRR, extends it; otherwise it opens a new line."""
    lines: list[_Line] = []
    open_ends: dict[tuple[str, dt.date, Decimal], _Line] = {}
    for seg in sorted(set(segments), key=lambda s: (s.item, s.start, s.end, s.mrr)):
        line = open_ends.pop((seg.item, seg.start - DAY, seg.mrr), None)
        if line is None:
            line = _Line(seg.item, seg.start, seg.end, seg.mrr, seg.currency, seg.product, seg.quantity)
            lines.append(line)
        line.end = max(line.end, seg.end)
        open_ends[(seg.item, line.end, seg.mrr)] = line
    return lines


def subscription_history(sub: dict, segments: list[Segment], account_id: str | None,
                         grace_days: int) -> tuple[list[dict], list[tuple[str, str]]]:
    """Contract lines of one subscription from its invoice segments and its current state
    (see the module docstring). Returns (rows, skipped (id, reason))."""
    if not account_id:
        return [], [(sub["id"], "subscription has no customer")]
    lines = chain(segments)
    state, skipped = ([], []) if sub.get("status") in ("canceled", *NO_REVENUE) else subscription_lines(sub, account_id, grace_days)
    lines.extend(_open_period(sub, lines, state))
    stop = _stop(sub, grace_days)
    kept = [end_by(ln, stop) for ln in lines]
    rows = [_row(sub, ln, account_id) for ln in kept if ln.end is None or ln.end >= ln.start]
    return _unique_ids(rows), skipped


def end_by(line: _Line, stop: dt.date | None) -> _Line:
    """``line`` ending no later than ``stop`` (inclusive last day)."""
    if stop is None or (line.end is not None and line.end <= stop):
        return line
    line.end = stop
    return line


def _stop(sub: dict, grace_days: int) -> dt.date | None:
    """Last day of service: the day before ``ended_at``; for a subscription in dunning,
    the last day of its grace period."""
    stops = [_day(sub.get("ended_at"))]
    if sub.get("status") in DUNNING:
        items = (sub.get("items") or {}).get("data") or [{}]
        period = _day(items[0].get("current_period_start") or sub.get("current_period_start"))
        stops.append(period + dt.timedelta(days=grace_days) if period else None)
    stop = min((d for d in stops if d), default=None)
    return stop - DAY if stop else None


def _open_period(sub: dict, lines: list[_Line], state: list[dict]) -> list[_Line]:
    """Continue each current item's last invoiced line through the state's pieces."""
    pieces: dict[str, list[dict]] = {}
    for row in state:
        pieces.setdefault(row["source_id"].split("/", 1)[1].split("@", 1)[0], []).append(row)
    added: list[_Line] = []
    for item, rows in pieces.items():
        last = max((ln for ln in lines if ln.item == item), key=lambda ln: (ln.end, ln.start), default=None)
        added.extend(_continue(last, sorted(rows, key=lambda r: r["start_date"])))
    return added


def _continue(last: _Line | None, rows: list[dict]) -> list[_Line]:
    """New lines for the state pieces after ``last`` (which may be extended in place)."""
    after = last.end + DAY if last is not None and last.end is not None else None
    out = []
    for row in rows:
        lo, hi = row["start_date"], row["end_date"]
        if after is not None and (hi is not None and hi < after):
            continue
        if after is not None and lo < after:
            if row["mrr"] == last.mrr and last.end is not None:
                last.end = hi  # the invoiced price goes on: evergreen, or to cancel_at / grace
                after = None if hi is None else hi + DAY
                continue
            lo = after
        out.append(_Line(row["source_id"].split("/", 1)[1].split("@", 1)[0], lo, hi, row["mrr"], row["currency"],
                         row["product"], row["quantity"]))
        after = None if hi is None else hi + DAY
    return out


def _row(sub: dict, line: _Line, account_id: str) -> dict:
    line_id = f"{sub['id']}/{line.item}@{line.start.isoformat()}"
    running = sub.get("status") not in ("canceled", *NO_REVENUE) and not sub.get("ended_at")
    return {"source_id": line_id, "contract_id": line_id, "account_id": account_id, "product": line.product,
            "start_date": line.start, "end_date": line.end, "mrr": line.mrr, "currency": line.currency,
            "quantity": line.quantity, "status": sub.get("status") if line.end is None or running else "ended",
            "auto_renew": running and line.end is None}


def _unique_ids(rows: list[dict]) -> list[dict]:
    """Two lines of one item starting the same day (an add-on billed alongside) get ``#2``, ``#3``…"""
    seen: dict[str, int] = {}
    for row in rows:
        n = seen.get(row["source_id"], 0) + 1
        seen[row["source_id"]] = n
        if n > 1:
            row["source_id"] = row["contract_id"] = f"{row['source_id']}#{n}"
    return rows
