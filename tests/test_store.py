"""The DuckDB store: migrations, idempotent upserts, batch + cursor atomicity, deletes."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pyarrow as pa
import pytest

from engine.schema import MIGRATIONS
from engine.store import Cursor, Store, StoreError


def contracts(*rows):
    return pa.table({
        "contract_id": [r[0] for r in rows],
        "account_id": [r[1] for r in rows],
        "start_date": [dt.date(2025, 1, 1)] * len(rows),
        "mrr": [Decimal(r[2]) for r in rows],
        "currency": ["USD"] * len(rows),
    })


def test_migrations_apply_once_and_reopen(tmp_path):
    path = tmp_path / ".nrr" / "nrr.duckdb"
    with Store(path) as s:
        assert s.schema_version == MIGRATIONS[-1].id
    with Store(path) as s:  # reopening applies nothing twice
        ids = [r[0] for r in s.con.execute("SELECT id FROM schema_migrations ORDER BY id").fetchall()]
        assert ids == sorted(m.id for m in MIGRATIONS)
    with Store(path, read_only=True) as s:
        assert s.counts() == []


def test_upsert_counts_new_updated_unchanged(tmp_path):
    with Store(tmp_path / "s.duckdb") as s:
        r = s.upsert("contracts", "stripe", contracts(("c1", "a1", "10"), ("c2", "a1", "20")))
        assert (r.new, r.updated, r.unchanged) == (2, 0, 0)
        r = s.upsert("contracts", "stripe", contracts(("c1", "a1", "10"), ("c2", "a1", "25")))
        assert (r.new, r.updated, r.unchanged) == (0, 1, 1)
        # same ids from another source are different records
        r = s.upsert("contracts", "hubspot", contracts(("c1", "a1", "10")))
        assert r.new == 1
        assert s.records("contracts", sources=["stripe"]).count().execute() == 2
        assert s.records("contracts").count().execute() == 3


def test_batch_and_cursor_commit_together_or_not_at_all(tmp_path):
    with Store(tmp_path / "s.duckdb") as s:
        s.upsert("contracts", "stripe", contracts(("c1", "a1", "10")), cursor=Cursor("stripe", "subs", "evt_1"))
        assert s.get_cursor("stripe", "subs") == "evt_1"
        with pytest.raises(StoreError, match="'c2' appears 2 times"):
            s.upsert("contracts", "stripe", contracts(("c2", "a1", "1"), ("c2", "a1", "2")),
                     cursor=Cursor("stripe", "subs", "evt_2"))
        assert s.get_cursor("stripe", "subs") == "evt_1"  # cursor did not move
        assert s.records("contracts").count().execute() == 1  # nothing of the bad batch stored


def test_mark_deleted_then_revived(tmp_path):
    with Store(tmp_path / "s.duckdb") as s:
        s.upsert("contracts", "stripe", contracts(("c1", "a1", "10"), ("c2", "a1", "20")))
        assert s.mark_deleted("contracts", "stripe", ["c2", "nope"]).deleted == 1
        assert s.records("contracts").count().execute() == 1
        r = s.upsert("contracts", "stripe", contracts(("c2", "a1", "20")))
        assert r.updated == 1 and s.records("contracts").count().execute() == 2


def test_usage_key_is_composite(tmp_path):
    rows = pa.table({
        "account_id": ["a", "a"], "user_id": ["u", "u"], "day": [dt.date(2025, 1, 1)] * 2,
        "feature": ["x", "y"], "quantity": [1.0, 2.0],
    })
    with Store(tmp_path / "s.duckdb") as s:
        assert s.upsert("usage", "files", rows).new == 2
        ids = sorted(r[0] for r in s.con.execute("SELECT source_id FROM usage").fetchall())
        assert ids == ["a|u|2025-01-01|x|", "a|u|2025-01-01|y|"]
