"""The ``files`` source: CSV or Parquet files in the canonical import schema.

``import_dir`` reads any subset of ``accounts``, ``contracts``, ``invoices``,
``tickets``, ``usage``, ``nps`` and ``churn_reasons`` (``.csv`` or ``.parquet``),
validates every file completely, and only then stores all of them in one transaction.
Any problem — a missing required column, an unparsable date or number, an unknown
currency, a contract for an unknown account, a duplicate id — is reported with file,
row, column and value (up to ``max_errors``), and nothing from that import is stored.

Each file is a full snapshot of its kind: re-importing the same files changes nothing;
a changed row updates its record; a row that disappeared is marked deleted. A directory
whose files are byte for byte those of the last import (SHA-256), read under the same
currency settings, is not read again: the daily run re-checks its exports in a second.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import pyarrow as pa

from engine.records import KINDS, RecordKind
from engine.settings import RevenueSettings
from engine.store import Cursor, Store, UpsertResult
from connectors.file_columns import amount_to_mrr, parse_frame

SOURCE = "files"


@dataclass(frozen=True)
class Problem:
    file: str
    row: int | None
    column: str | None
    value: str | None
    message: str

    def __str__(self) -> str:
        where = self.file + (f", row {self.row}" if self.row is not None else "")
        where += f", column {self.column}" if self.column else ""
        shown = f" (value {self.value!r})" if self.value not in (None, "") else ""
        return f"{where}: {self.message}{shown}"


class ImportFailed(Exception):
    """The import was rejected; nothing was stored."""

    def __init__(self, problems: list[Problem], truncated: bool = False):
        self.problems = problems
        self.truncated = truncated
        lines = [f"import rejected, nothing was stored ({len(problems)}{'+' if truncated else ''} problems):"]
        lines += [f"  {p}" for p in problems]
        lines.append("Fix the rows above and run the import again.")
        super().__init__("\n".join(lines))


@dataclass
class ImportReport:
    files: dict[str, Path] = field(default_factory=dict)
    results: dict[str, UpsertResult] = field(default_factory=dict)
    unchanged: bool = False   # the same files as the last import: nothing was read


class _Problems(list):
    def __init__(self, limit: int):
        super().__init__()
        self.limit = limit
        self.truncated = False

    def add(self, p: Problem) -> None:
        if len(self) < self.limit:
            self.append(p)
        else:
            self.truncated = True


def discover(directory: Path) -> dict[str, Path]:
    """Map record kind → file for every importable file in ``directory``."""
    found: dict[str, Path] = {}
    for name in KINDS:
        candidates = [directory / f"{name}.{ext}" for ext in ("csv", "parquet")]
        present = [c for c in candidates if c.exists()]
        if len(present) > 1:
            raise ImportFailed([Problem(present[1].name, None, None, None, f"both {name}.csv and {name}.parquet exist; keep one")])
        if present:
            found[name] = present[0]
    return found


def read_file(path: Path) -> pd.DataFrame:
    if path.suffix == ".parquet":
        return pd.read_parquet(path)
    return pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[], encoding="utf-8-sig")


def import_dir(store: Store, directory: Path, revenue: RevenueSettings, *, max_errors: int = 20) -> ImportReport:
    """Validate every file in ``directory``, then store them all in one transaction."""
    directory = Path(directory)
    if not directory.is_dir():
        raise ImportFailed([Problem(str(directory), None, None, None, "is not a directory")])
    files = discover(directory)
    if not files:
        raise ImportFailed([Problem(str(directory), None, None, None, "has no accounts/contracts/... .csv or .parquet files")])
    stamp = fingerprint(files, revenue)
    if store.get_cursor(SOURCE, "import") == stamp:
        return ImportReport(files=files, unchanged=True)
    problems = _Problems(max_errors)
    tables = {kind: _load(path, KINDS[kind], problems) for kind, path in files.items()}
    tables = {k: v for k, v in tables.items() if v is not None}
    if not problems:
        _check_references(store, tables, files, revenue, problems)
    if problems:
        raise ImportFailed(list(problems), problems.truncated)
    report = ImportReport(files=files)
    with store.transaction():
        for kind, frame in tables.items():
            table = pa.Table.from_pandas(frame.drop(columns=["_row"]), preserve_index=False)
            report.results[kind] = store.upsert(kind, SOURCE, table, snapshot=True)
        store.set_cursor(Cursor(SOURCE, "import", stamp))
    return report


def fingerprint(files: dict[str, Path], revenue: RevenueSettings) -> str:
    """What an import read: each file's name and SHA-256, and the currency settings that
    validated it (a rate removed from nrr.toml must fail the rows using it)."""
    def sha(path: Path) -> str:
        digest = hashlib.sha256()
        with path.open("rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                digest.update(block)
        return digest.hexdigest()

    return json.dumps({"files": {k: [p.name, sha(p)] for k, p in sorted(files.items())},
                       "currencies": [revenue.reporting_currency, *sorted(revenue.fx_rates)]})


def _load(path: Path, kind: RecordKind, problems: _Problems) -> pd.DataFrame | None:
    try:
        raw = read_file(path)
    except Exception as exc:  # unreadable file: name it and move on to the next
        problems.add(Problem(path.name, None, None, None, f"cannot be read: {exc}"))
        return None
    if kind.name == "contracts":
        raw = _contracts_amount_to_mrr(raw, path.name, problems)
    missing = [c for c in kind.required if c not in raw.columns]
    if missing:
        for col in missing:
            problems.add(Problem(path.name, None, col, None, f"required column is missing (header must include {col})"))
        return None
    first_row = 1 if path.suffix == ".parquet" else 2
    frame, column_problems = parse_frame(raw, kind, first_row)
    for cp in column_problems:
        problems.add(Problem(path.name, cp.row, cp.column, cp.value, cp.message))
    _check_duplicates(frame, kind, path.name, problems)
    return frame


def _contracts_amount_to_mrr(raw: pd.DataFrame, file: str, problems: _Problems) -> pd.DataFrame:
    """Rows may give ``amount,interval`` instead of ``mrr``: month ×1, quarter ÷3, year ÷12, week ×52/12."""
    if "amount" not in raw.columns and "interval" not in raw.columns:
        return raw
    if "mrr" not in raw.columns:
        raw = raw.assign(mrr="")
    out, column_problems = amount_to_mrr(raw, 1 if file.endswith(".parquet") else 2)
    for cp in column_problems:
        problems.add(Problem(file, cp.row, cp.column, cp.value, cp.message))
    return out


def _check_duplicates(frame: pd.DataFrame, kind: RecordKind, file: str, problems: _Problems) -> None:
    keys = list(kind.key)
    dup = frame[frame.duplicated(subset=keys, keep="first")]
    for _, row in dup.head(5).iterrows():
        first = frame[_same_key(frame, row, keys)]["_row"].iloc[0]
        value = "|".join("" if pd.isna(row[k]) else str(row[k]) for k in keys)
        problems.add(Problem(file, int(row["_row"]), "/".join(keys), value, f"duplicate of row {int(first)}"))


def _same_key(frame: pd.DataFrame, row: pd.Series, keys: list[str]) -> pd.Series:
    mask = pd.Series(True, index=frame.index)
    for k in keys:
        mask &= frame[k].isna() if pd.isna(row[k]) else (frame[k] == row[k])
    return mask


def _check_references(store: Store, tables: dict, files: dict, revenue: RevenueSettings, problems: _Problems) -> None:
    known = {revenue.reporting_currency, *revenue.fx_rates}
    for kind in ("contracts", "invoices"):
        frame = tables.get(kind)
        if frame is None:
            continue
        bad = frame[~frame["currency"].isin(known)]
        for _, row in bad.head(5).iterrows():
            problems.add(Problem(files[kind].name, int(row["_row"]), "currency", row["currency"],
                                 f"unknown currency: add a rate for it under [revenue.fx_rates] in nrr.toml "
                                 f"(known: {', '.join(sorted(known))})"))
    accounts = _known_accounts(store, tables)
    for kind, frame in tables.items():
        if kind == "accounts" or "account_id" not in frame.columns:
            continue
        bad = frame[~frame["account_id"].isin(accounts)]
        for _, row in bad.head(5).iterrows():
            problems.add(Problem(files[kind].name, int(row["_row"]), "account_id", row["account_id"],
                                 "unknown account: add it to accounts.csv"))
    _check_contract_values(tables.get("contracts"), files.get("contracts"), problems)


def _known_accounts(store: Store, tables: dict) -> set[str]:
    """Accounts in this import, else every account the store knows from any source
    (account ids are canonical, so a usage export can refer to CRM accounts; one deleted in
    the CRM is still known — its rows are kept and simply not live)."""
    if "accounts" in tables:
        return set(tables["accounts"]["account_id"])
    rows = store.con.execute("SELECT DISTINCT account_id FROM accounts").fetchall()
    return {r[0] for r in rows}


def _check_contract_values(frame: pd.DataFrame | None, path: Path | None, problems: _Problems) -> None:
    if frame is None:
        return
    ends_early = frame[frame["end_date"].notna() & (frame["end_date"] < frame["start_date"])]
    for _, row in ends_early.head(5).iterrows():
        problems.add(Problem(path.name, int(row["_row"]), "end_date", str(row["end_date"]),
                             f"contract {row['contract_id']} ends before it starts ({row['start_date']})"))
    negative = frame[frame["mrr"].map(lambda v: v is not None and v < 0)]
    for _, row in negative.head(5).iterrows():
        problems.add(Problem(path.name, int(row["_row"]), "mrr", str(row["mrr"]),
                             f"contract {row['contract_id']} has negative MRR; record reductions as a new, smaller line"))
