"""A five-account book whose report figures are computed by hand (no tests here).

Quarter 2026-Q2, as of 2026-06-30. MRR (USD):

    A  100 from 2025-01-01 (evergreen) + 50 from 2026-05-01 (expansion)     owner Ana
    B  200 from 2025-01-01 to 2026-04-30 (churns in May)                     owner Ana
    C  300 from 2025-03-01 to 2026-05-31, then 250 from 2026-06-01           owner Ben
    D  400 from 2026-05-15 (new)                                             owner Ben
    E  120 from 2025-06-01 to 2026-07-31 (renews 2026-08-01)                 owner Ana

Health snapshots on 2026-06-30 (A 90, C 45, D 75, E 60) and 2026-03-31 (A 88, B 70, C 72, E 55).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd

from engine.health.snapshots import write_snapshots
from engine.store import Store
from nrr.config import parse
from test_triggers_fixtures import account, contract, make_store

AS_OF = dt.date(2026, 6, 30)
BEFORE = dt.date(2026, 3, 31)
BANDS = ((85, "Thriving"), (70, "Healthy"), (50, "At risk"), (25, "Critical"), (0, "Churning"))


def band(score: float) -> str:
    return next(name for low, name in BANDS if score >= low)


def book_rows(names: dict[str, str] | None = None) -> tuple[list[dict], list[dict]]:
    names = names or {}
    owners = {"A": "Ana", "B": "Ana", "C": "Ben", "D": "Ben", "E": "Ana"}
    segments = {"A": "enterprise", "B": "mid-market", "C": "mid-market", "D": "smb", "E": "smb"}
    accounts = [account(a, name=names.get(a, f"Acct {a}"), owner=o, segment=segments[a]) for a, o in owners.items()]
    contracts = [
        contract("a1", "A", "2025-01-01", None, "100"), contract("a2", "A", "2026-05-01", None, "50"),
        contract("b1", "B", "2025-01-01", "2026-04-30", "200"),
        contract("c1", "C", "2025-03-01", "2026-05-31", "300"), contract("c2", "C", "2026-06-01", None, "250"),
        contract("d1", "D", "2026-05-15", None, "400"),
        contract("e1", "E", "2025-06-01", "2026-07-31", "120"),
    ]
    return accounts, contracts


def snapshot_frame(day: dt.date, scores: dict[str, float]) -> pd.DataFrame:
    return pd.DataFrame([{"account_id": a, "day": day, "segment": None, "score": s, "band": band(s), "coverage": 0.8,
                          "signals": {}} for a, s in scores.items()])


def make_book(tmp_path: Path, names: dict[str, str] | None = None, scored: bool = True) -> Store:
    accounts, contracts = book_rows(names)
    store = make_store(tmp_path, accounts, contracts=contracts)
    if scored:
        write_snapshots(store, snapshot_frame(AS_OF, {"A": 90, "C": 45, "D": 75, "E": 60}))
        write_snapshots(store, snapshot_frame(BEFORE, {"A": 88, "B": 70, "C": 72, "E": 55}))
    return store


def make_config(tmp_path: Path, **reports) -> object:
    raw = {"project": {"name": "Fixture Co"}, "reports": reports}
    return parse(raw, tmp_path / "nrr.toml")
