"""Renewal milestones as an iCalendar file: one all-day event per milestone.

UIDs are derived from (account, renewal date, days before), so re-importing a newer export
updates the same events instead of duplicating them. DTSTAMP is the as-of date (midnight
UTC): the same store and as-of give the same file, and a later export carries a later stamp,
which calendar clients read as the newer version. The SEQUENCE rises as the renewal gets
closer (days since the 180-day mark on the export date), so clients that compare sequences
take the newer export as well.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path
from typing import Any

from icalendar import Calendar, Event

from reports import filters as f


def milestone_uid(account_id: str, renewal_date: dt.date, days_before: int) -> str:
    key = f"{account_id}|{renewal_date.isoformat()}|{days_before}"
    return f"{hashlib.sha1(key.encode('utf-8')).hexdigest()[:24]}@renewals.nrr-engine"


def milestone_event(m: Any, r: Any, currency: str, stamp: dt.datetime) -> Event:
    ev = Event()
    ev.add("uid", milestone_uid(m.account_id, m.renewal_date, m.days_before))
    ev.add("dtstamp", stamp)
    ev.add("dtstart", m.date)
    ev.add("dtend", m.date + dt.timedelta(days=1))
    ev.add("summary", f"{m.name}: {m.action} ({m.days_before} d before renewal)")
    lines = [f"Account: {m.name} ({m.account_id})", f"Action: {m.action}", f"Action owner: {m.owner}",
             f"Renewal date: {m.renewal_date.isoformat()}", f"Status on export: {m.status}"]
    if r is not None:
        lines += [f"Account owner: {r.owner}", f"ARR: {f.money(r.arr, currency, 2)}",
                  f"Expected ARR: {f.money(r.expected_arr, currency, 2)}", f"R/A/G: {r.rag}"]
        ev.add("categories", [f"renewal-{r.rag}"])
    ev.add("description", "\n".join(lines))
    ev.add("sequence", max(0, (stamp.date() - (m.renewal_date - dt.timedelta(days=180))).days))
    ev.add("transp", "TRANSPARENT")
    return ev


def write_renewals_ics(ctx: Any, out: Path) -> Path:
    cal = Calendar()
    cal.add("prodid", "-//NRR Engine//Renewal timeline//EN")
    cal.add("version", "2.0")
    cal.add("x-wr-calname", f"{ctx.brand.company} renewals")
    stamp = dt.datetime.combine(ctx.as_of, dt.time(0, 0), tzinfo=dt.timezone.utc)
    renewals = {(r.account_id, r.renewal_date): r for r in ctx.renewals}
    for m in ctx.milestones:
        cal.add_component(milestone_event(m, renewals.get((m.account_id, m.renewal_date)), ctx.currency, stamp))
    out.write_bytes(cal.to_ical())
    return out
