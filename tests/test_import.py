"""File import (`files` source): happy path, idempotency, updates, and every bad-input class."""

from __future__ import annotations

import shutil
from decimal import Decimal
from pathlib import Path

import pytest

from connectors.files import ImportFailed, import_dir
from engine.settings import RevenueSettings
from engine.store import Store

FIXTURE = Path(__file__).parent / "data" / "import_ok"
SETTINGS = RevenueSettings(reporting_currency="USD", fx_rates={"EUR": Decimal("1.08"), "GBP": Decimal("1.27")})


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    d = tmp_path / "data"
    shutil.copytree(FIXTURE, d)
    return d


@pytest.fixture
def store(tmp_path: Path):
    with Store(tmp_path / ".nrr" / "nrr.duckdb") as s:
        yield s


def snapshot(store: Store) -> dict[str, list]:
    """Every stored row of every record table, for before/after comparisons."""
    out = {}
    for (name,) in store.con.execute("SELECT table_name FROM duckdb_tables() WHERE schema_name = 'main'").fetchall():
        out[name] = sorted(map(repr, store.con.execute(f"SELECT * FROM {name}").fetchall()))
    return out


def test_import_stores_every_file_with_typed_values(store, data_dir):
    report = import_dir(store, data_dir, SETTINGS)
    assert {k: r.new for k, r in report.results.items()} == {
        "accounts": 3, "contracts": 5, "invoices": 2, "tickets": 2, "usage": 3, "nps": 2, "churn_reasons": 1,
    }
    mrr = dict(store.con.execute("SELECT contract_id, mrr FROM contract_lines").fetchall())
    # CL-1: 2000 per year / 12 = 166.666667 (6 dp); CL-2 given directly as 250.00
    # CL-4: 600 per quarter / 3 = 200; CL-5: 120 per week × 52 / 12 = 520
    assert mrr == {
        "CL-1": Decimal("166.666667"), "CL-2": Decimal("250"), "CL-3": Decimal("4000"),
        "CL-4": Decimal("200"), "CL-5": Decimal("520"),
    }
    end = store.con.execute("SELECT end_date FROM contract_lines WHERE contract_id = 'CL-2'").fetchone()[0]
    assert end is None  # empty end_date = evergreen
    created = store.con.execute("SELECT created_at FROM tickets WHERE ticket_id = 'T-1'").fetchone()[0]
    assert str(created) == "2025-03-01 09:30:00"
    usage_ids = {r[0] for r in store.con.execute("SELECT source_id FROM usage").fetchall()}
    assert "ACC-3|u9@initech.com|2025-03-02|api|" in usage_ids  # composite key, empty team


def test_reimport_is_a_no_op(store, data_dir):
    first = import_dir(store, data_dir, SETTINGS)
    before = snapshot(store)
    # the same bytes: recognised by their SHA-256, nothing is read or written
    again = import_dir(store, data_dir, SETTINGS)
    assert again.unchanged and not again.results and not first.unchanged
    assert snapshot(store) == before
    # the same rows in another order: read and compared row by row, and still nothing changes
    path = data_dir / "contracts.csv"
    header, *rows = path.read_text().splitlines()
    path.write_text("\n".join([header, *reversed(rows)]) + "\n")
    reordered = import_dir(store, data_dir, SETTINGS)
    assert not reordered.unchanged and len(reordered.results) == len(first.results)
    assert all(r.new == r.updated == r.deleted == 0 for r in reordered.results.values())
    without_cursor = lambda snap: {k: v for k, v in snap.items() if k != "sync_state"}  # noqa: E731
    assert without_cursor(snapshot(store)) == without_cursor(before)


def test_unchanged_files_are_read_again_when_a_currency_rate_is_removed(store, data_dir):
    import_dir(store, data_dir, SETTINGS)
    # the fixture bills in EUR (contracts/invoices): without its rate the same files are rejected
    with pytest.raises(ImportFailed, match="unknown currency"):
        import_dir(store, data_dir, RevenueSettings(reporting_currency="USD", fx_rates={"GBP": Decimal("1.27")}))


def test_changed_row_updates_and_removed_row_is_marked_deleted(store, data_dir):
    import_dir(store, data_dir, SETTINGS)
    path = data_dir / "contracts.csv"
    lines = path.read_text().splitlines()
    lines = [l.replace("CL-2,ACC-1,Core,2025-01-01,,250.00", "CL-2,ACC-1,Core,2025-01-01,,300.00") for l in lines]
    lines = [l for l in lines if not l.startswith("CL-5,")]
    path.write_text("\n".join(lines) + "\n")
    result = import_dir(store, data_dir, SETTINGS).results["contracts"]
    assert (result.new, result.updated, result.unchanged, result.deleted) == (0, 1, 3, 1)
    live = dict(store.con.execute("SELECT contract_id, mrr FROM contract_lines WHERE NOT deleted").fetchall())
    assert live["CL-2"] == Decimal("300") and "CL-5" not in live
    assert store.records("contracts").count().execute() == 4


def test_a_removed_row_alone_is_marked_deleted(store, data_dir):
    """Nothing new or changed, one row gone: the snapshot still notices it."""
    import_dir(store, data_dir, SETTINGS)
    path = data_dir / "contracts.csv"
    path.write_text("\n".join(l for l in path.read_text().splitlines() if not l.startswith("CL-5,")) + "\n")
    result = import_dir(store, data_dir, SETTINGS).results["contracts"]
    # the fixture's 5 lines − CL-5 = 4 unchanged, 1 deleted
    assert (result.new, result.updated, result.unchanged, result.deleted) == (0, 0, 4, 1)
    assert store.con.execute("SELECT deleted FROM contract_lines WHERE contract_id = 'CL-5'").fetchone()[0] is True


def _rewrite(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"fixture does not contain {old!r}"
    path.write_text(text.replace(old, new))


BAD_CASES = [
    # (file, old text, new text, expected fragments of the one-line problem)
    ("contracts.csv", "contract_id,account_id,product,start_date", "contract_id,account_id,product,begin",
     ["contracts.csv", "start_date", "required column is missing"]),
    ("contracts.csv", "CL-3,ACC-2,Core,2023-05-01", "CL-3,ACC-2,Core,2023-13-45",
     ["contracts.csv, row 4, column start_date", "YYYY-MM-DD", "'2023-13-45'"]),
    ("contracts.csv", "4000.00,EUR", "4k,EUR", ["contracts.csv, row 4, column mrr", "expected a number", "'4k'"]),
    ("contracts.csv", "4000.00,EUR", "4000.00,JPY", ["contracts.csv, row 4, column currency", "unknown currency", "JPY"]),
    ("contracts.csv", "CL-3,ACC-2,", "CL-3,ACC-9,", ["contracts.csv, row 4, column account_id", "unknown account", "ACC-9"]),
    ("contracts.csv", "CL-3,ACC-2,", "CL-2,ACC-2,", ["contracts.csv, row 4, column contract_id", "duplicate of row 3", "CL-2"]),
    ("accounts.csv", "ACC-3,Initech", "ACC-2,Initech", ["accounts.csv, row 4, column account_id", "duplicate of row 3"]),
    ("invoices.csv", "48000.00,EUR", "48000.00,ZZZ", ["invoices.csv, row 3, column currency", "unknown currency"]),
    ("tickets.csv", "2025-04-10T14:00:00Z", "last tuesday", ["tickets.csv, row 3, column created_at", "ISO 8601"]),
    ("usage.csv", "reports,5,ops", "reports,five,ops", ["usage.csv, row 2, column quantity", "expected a number"]),
    ("contracts.csv", "2023-05-01,2026-04-30", "2023-05-01,2022-04-30", ["row 4, column end_date", "CL-3 ends before it starts"]),
    ("contracts.csv", "4000.00,EUR", "-4000.00,EUR", ["row 4, column mrr", "CL-3 has negative MRR"]),
    ("contracts.csv", "CL-4,ACC-3,Core,2025-02-15,,,GBP,40,active,true,600,quarter",
     "CL-4,ACC-3,Core,2025-02-15,,,GBP,40,active,true,600,fortnight", ["row 5, column interval", "month, quarter, year or week"]),
    ("nps.csv", "ACC-1,u1@acme.io,2025-02-01,9", "ACC-1,u1@acme.io,2025-02-01,", ["nps.csv, row 2, column score", "required value is empty"]),
    ("contracts.csv", "CL-3,ACC-2,Core,2023-05-01", "CL-3,ACC-2,Core,   ",   # spaces only: blank, not a bad date
     ["contracts.csv, row 4, column start_date", "required value is empty"]),
]


@pytest.mark.parametrize("file,old,new,fragments", BAD_CASES, ids=[f"{c[0]}:{c[3][-1]}" for c in BAD_CASES])
def test_bad_input_names_the_problem_and_stores_nothing(store, data_dir, file, old, new, fragments):
    import_dir(store, data_dir, SETTINGS)  # a previous good import must survive untouched
    before = snapshot(store)
    _rewrite(data_dir / file, old, new)
    with pytest.raises(ImportFailed) as info:
        import_dir(store, data_dir, SETTINGS)
    message = str(info.value)
    for fragment in fragments:
        assert fragment in message
    assert "nothing was stored" in message
    assert snapshot(store) == before


def test_problems_are_listed_up_to_the_limit(store, data_dir):
    path = data_dir / "usage.csv"
    rows = [f"ACC-1,u{i}@acme.io,2025-03-{i:02d},reports,lots,ops" for i in range(1, 26)]
    path.write_text("account_id,user_id,day,feature,quantity,team\n" + "\n".join(rows) + "\n")
    with pytest.raises(ImportFailed) as info:
        import_dir(store, data_dir, SETTINGS, max_errors=3)
    assert len(info.value.problems) == 3 and info.value.truncated


def test_contracts_can_reference_accounts_already_stored(store, data_dir, tmp_path):
    import_dir(store, data_dir, SETTINGS)
    only = tmp_path / "only-contracts"
    only.mkdir()
    shutil.copy(data_dir / "contracts.csv", only / "contracts.csv")
    result = import_dir(store, only, SETTINGS).results
    assert list(result) == ["contracts"] and result["contracts"].unchanged == 5


def test_parquet_usage_is_read(store, data_dir):
    import pandas as pd

    frame = pd.read_csv(data_dir / "usage.csv", dtype=str, keep_default_na=False)
    frame["quantity"] = frame["quantity"].astype(float)
    frame["day"] = pd.to_datetime(frame["day"])
    (data_dir / "usage.csv").unlink()
    frame.to_parquet(data_dir / "usage.parquet")
    assert import_dir(store, data_dir, SETTINGS).results["usage"].new == 3
    total = store.con.execute("SELECT sum(quantity) FROM usage").fetchone()[0]
    assert total == 5 + 2 + 100


def test_usage_may_refer_to_accounts_synced_from_a_crm_even_deleted_ones(store, tmp_path):
    import pyarrow as pa

    crm = pa.table({"account_id": ["ACC-1", "ACC-2"], "name": ["Acme Robotics", "Globex Bank"]})
    store.upsert("accounts", "salesforce", crm)
    store.mark_deleted("accounts", "salesforce", ["ACC-2"])  # merged away in the CRM
    only = tmp_path / "usage-only"
    only.mkdir()
    (only / "usage.csv").write_text(
        "account_id,user_id,day,feature,quantity\n"
        "ACC-1,u1@acme.io,2025-03-01,reports,5\n"
        "ACC-2,cfo@globex.com,2025-03-01,reports,1\n"
    )
    assert import_dir(store, only, SETTINGS).results["usage"].new == 2
    (only / "usage.csv").write_text("account_id,user_id,day,feature,quantity\nACC-9,x@y.z,2025-03-01,reports,1\n")
    with pytest.raises(ImportFailed, match="row 2, column account_id: unknown account"):
        import_dir(store, only, SETTINGS)
