"""Renewal milestones as an iCalendar file (RFC 5545): one all-day event per milestone.

UIDs are derived from (account, renewal date, days before), so re-importing a newer export
updates the same events instead of duplicating them. DTSTAMP is the as-of date (midnight
UTC): the same store and as-of give the same file, and a later export carries a later stamp,
which calendar clients read as the newer version. The SEQUENCE rises as the renewal gets
closer (days since the 180-day mark on the export date), so clients that compare sequences
take the newer export as well.

The file is written here rather than through an iCalendar object model: a 10,000-account
book has tens of thousands of milestones, and building an object per property costs
seconds per ten thousand events. The format written is small — all-day events whose
values are dates, integers and escaped text — and the tests read it back with the
``icalendar`` parser.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path
from typing import Any, Iterable

from reports import filters as f


def milestone_uid(account_id: str, renewal_date: dt.date, days_before: int) -> str:
    key = f"{account_id}|{renewal_date.isoformat()}|{days_before}"
    return f"{hashlib.sha1(key.encode('utf-8')).hexdigest()[:24]}@renewals.nrr-engine"


def text(value: str) -> str:
    """A TEXT value: backslash, semicolon, comma and newline escaped (RFC 5545 §3.3.11)."""
    return (value.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,")
            .replace("\r\n", "\\n").replace("\n", "\\n"))


def fold(line: str) -> str:
    """One content line folded at 75 octets (§3.1), never inside a UTF-8 character."""
    raw = line.encode("utf-8")
    if len(raw) <= 75:
        return line + "\r\n"
    parts, start, limit = [], 0, 75
    while start < len(raw):
        end = min(start + limit, len(raw))
        while end < len(raw) and raw[end] & 0xC0 == 0x80:   # a continuation byte: step back
            end -= 1
        parts.append(raw[start:end].decode("utf-8"))
        start, limit = end, 74   # continuation lines begin with one space
    return "\r\n ".join(parts) + "\r\n"


def milestone_event(m: Any, r: Any, currency: str, stamp: dt.datetime) -> list[str]:
    """The content lines of one milestone's VEVENT."""
    lines = [f"Account: {m.name} ({m.account_id})", f"Action: {m.action}", f"Action owner: {m.owner}",
             f"Renewal date: {m.renewal_date.isoformat()}", f"Status on export: {m.status}"]
    if r is not None:
        lines += [f"Account owner: {r.owner}", f"ARR: {f.money(r.arr, currency, 2)}",
                  f"Expected ARR: {f.money(r.expected_arr, currency, 2)}", f"R/A/G: {r.rag}"]
    sequence = max(0, (stamp.date() - (m.renewal_date - dt.timedelta(days=180))).days)
    return [
        "BEGIN:VEVENT",
        "SUMMARY:" + text(f"{m.name}: {m.action} ({m.days_before} d before renewal)"),
        f"DTSTART;VALUE=DATE:{m.date:%Y%m%d}",
        f"DTEND;VALUE=DATE:{m.date + dt.timedelta(days=1):%Y%m%d}",
        f"DTSTAMP:{stamp:%Y%m%dT%H%M%SZ}",
        "UID:" + milestone_uid(m.account_id, m.renewal_date, m.days_before),
        f"SEQUENCE:{sequence}",
        *([f"CATEGORIES:renewal-{text(r.rag)}"] if r is not None else []),
        "DESCRIPTION:" + text("\n".join(lines)),
        "TRANSP:TRANSPARENT",
        "END:VEVENT",
    ]


def calendar(name: str, events: Iterable[list[str]]) -> str:
    # X-WR-CALNAME is a non-standard property: clients take its value as is, on one line
    head = ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//NRR Engine//Renewal timeline//EN",
            "X-WR-CALNAME:" + " ".join(name.splitlines())]
    return "".join(fold(line) for line in [*head, *(line for ev in events for line in ev), "END:VCALENDAR"])


def write_renewals_ics(ctx: Any, out: Path) -> Path:
    stamp = dt.datetime.combine(ctx.as_of, dt.time(0, 0), tzinfo=dt.timezone.utc)
    renewals = {(r.account_id, r.renewal_date): r for r in ctx.renewals}
    events = (milestone_event(m, renewals.get((m.account_id, m.renewal_date)), ctx.currency, stamp) for m in ctx.milestones)
    out.write_bytes(calendar(f"{ctx.brand.company} renewals", events).encode("utf-8"))
    return out
