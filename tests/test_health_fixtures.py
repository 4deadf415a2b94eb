"""A tiny hand-checked book for the health tests (as of 2026-06-30).

A1 mid-market: seats 4, champion u1, sponsor u9, usage down, three payment issues, contraction.
A2 enterprise: one user, evergreen contract, no tickets/NPS. A3 smb: no usage yet.
A4: churned on 2026-03-31 (not scored).
"""

from __future__ import annotations

import datetime as dt

import pandas as pd

from engine.store import Store

AS_OF = dt.date(2026, 6, 30)
D = dt.date
T = dt.datetime


def accounts() -> pd.DataFrame:
    return pd.DataFrame([
        dict(account_id="A1", name="Acme", segment="mid-market", licensed_seats=4, champion_user_id="u1", sponsor_user_id="u9"),
        dict(account_id="A2", name="Bolt", segment="Enterprise", licensed_seats=10, champion_user_id="u5", sponsor_user_id=None),
        dict(account_id="A3", name="Cato", segment="smb", licensed_seats=5, champion_user_id="u7", sponsor_user_id=None),
        dict(account_id="A4", name="Dune", segment="smb", licensed_seats=2, champion_user_id=None, sponsor_user_id=None),
    ])


def usage() -> pd.DataFrame:
    rows = [
        ("A1", "u1", D(2026, 6, 20), "f1", 10.0), ("A1", "u1", D(2026, 6, 20), "f2", 5.0),
        ("A1", "u2", D(2026, 6, 25), "f1", 5.0),
        ("A1", "u1", D(2026, 5, 10), "f1", 10.0), ("A1", "u2", D(2026, 5, 12), "f1", 10.0),
        ("A1", "u3", D(2026, 5, 15), "f3", 20.0),
        ("A1", "u9", D(2026, 4, 16), "f1", 1.0),
        ("A1", "u1", D(2026, 1, 5), "f4", 99.0),  # outside every window
        ("A2", "u5", D(2026, 6, 29), "f1", 10.0),
        ("A4", "u8", D(2026, 6, 1), "f1", 3.0),
    ]
    return pd.DataFrame(rows, columns=["account_id", "user_id", "day", "feature", "quantity"])


def tickets() -> pd.DataFrame:
    return pd.DataFrame([
        dict(ticket_id="T1", account_id="A1", created_at=T(2026, 6, 10, 9), closed_at=None, priority="High", status="open",
             subject="Export broken", body="The export is broken again and we are frustrated.", csat=None),
        dict(ticket_id="T2", account_id="A1", created_at=T(2026, 6, 20, 9), closed_at=T(2026, 6, 21, 9), priority="low",
             status="closed", subject="Question about roadmap", body="Curious about the roadmap, thanks!", csat=4.0),
        dict(ticket_id="T3", account_id="A1", created_at=T(2026, 4, 10, 9), closed_at=T(2026, 4, 11, 9), priority="urgent",
             status="closed", subject="Login issue", body="Cannot log in.", csat=2.0),
    ])


def nps() -> pd.DataFrame:
    return pd.DataFrame([
        dict(account_id="A1", user_id="u1", day=D(2026, 5, 1), score=8),
        dict(account_id="A1", user_id="u2", day=D(2026, 6, 1), score=6),
        dict(account_id="A1", user_id="u3", day=D(2025, 12, 1), score=2),  # older than 180 days
    ])


def invoices() -> pd.DataFrame:
    rows = [
        ("I1", "A1", D(2026, 5, 1), D(2026, 5, 31), None, "open", 1),       # overdue
        ("I2", "A1", D(2026, 6, 1), D(2026, 7, 1), None, "open", 1),        # not yet due
        ("I3", "A1", D(2026, 4, 1), D(2026, 4, 30), D(2026, 7, 5), "paid", 1),  # paid after as_of
        ("I4", "A1", D(2026, 6, 15), D(2026, 7, 15), None, "failed", 2),    # failed charge
        ("I5", "A1", D(2026, 3, 1), D(2026, 3, 31), None, "void", 1),       # voided
        ("I6", "A2", D(2026, 6, 1), D(2026, 6, 15), D(2026, 6, 10), "paid", 1),
    ]
    df = pd.DataFrame(rows, columns=["invoice_id", "account_id", "issued_at", "due_at", "paid_at", "status", "attempt_count"])
    return df.assign(amount="100.00", currency="USD")


def contracts() -> pd.DataFrame:
    rows = [
        ("L1", "A1", D(2025, 9, 1), D(2026, 8, 31), "1000"),
        ("L2", "A1", D(2026, 1, 1), D(2026, 5, 15), "500"),
        ("L3", "A2", D(2026, 1, 1), None, "2000"),
        ("L4", "A3", D(2026, 5, 1), D(2027, 4, 30), "300"),
        ("L5", "A4", D(2025, 4, 1), D(2026, 3, 31), "100"),
    ]
    df = pd.DataFrame(rows, columns=["contract_id", "account_id", "start_date", "end_date", "mrr"])
    return df.assign(currency="USD", product="core")


def load(store: Store, *, with_tickets: bool = True) -> Store:
    store.upsert("accounts", "files", accounts())
    store.upsert("usage", "files", usage())
    store.upsert("nps", "files", nps())
    store.upsert("invoices", "files", invoices())
    store.upsert("contracts", "files", contracts())
    if with_tickets:
        store.upsert("tickets", "files", tickets())
    return store


def test_fixture_loads_every_kind_once(tmp_path):
    with Store(tmp_path / "nrr.duckdb") as s:
        load(s)
        load(s)  # re-loading the same rows changes nothing
        counts = {table: live for table, _, live, _ in s.counts()}
    assert counts == {"accounts": 4, "contract_lines": 5, "invoices": 6, "tickets": 3, "usage": 10, "nps": 3}
