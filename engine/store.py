"""The store: one embedded DuckDB file per project (``<project>/.nrr/nrr.duckdb``).

It holds synced records keyed by ``(source, source_id)``, sync cursors, account links,
runs and the engine's outputs. Schema migrations (:mod:`engine.schema`) are applied on
open.

Writes go through :meth:`Store.upsert`, which stages a batch, compares it with what is
stored by ``row_hash``, replaces only new or changed rows and — in the same
transaction — moves the stream's cursor. A process killed mid-sync therefore leaves
either the whole page and its cursor or neither.

The engine reads through :meth:`Store.records`, an Ibis table of live (not deleted)
rows, so engine code stays backend-neutral.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Sequence

import duckdb
import ibis
import pyarrow as pa

from engine.records import KINDS, META_COLUMNS, RecordKind
from engine.schema import MIGRATIONS


class StoreError(Exception):
    """A store operation failed; the message says what and what to do."""


@dataclass(frozen=True)
class Cursor:
    """A sync position to commit together with a batch of records."""

    source: str
    stream: str
    value: str | None


@dataclass
class UpsertResult:
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    deleted: int = 0

    def __iadd__(self, other: "UpsertResult") -> "UpsertResult":
        self.new += other.new
        self.updated += other.updated
        self.unchanged += other.unchanged
        self.deleted += other.deleted
        return self


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None, microsecond=0)


def default_path(project_dir: Path) -> Path:
    return Path(project_dir) / ".nrr" / "nrr.duckdb"


class Store:
    """A DuckDB store. Use as a context manager or call :meth:`close`."""

    def __init__(self, path: Path | str, *, read_only: bool = False, memory_limit: str | None = None):
        """``memory_limit`` caps DuckDB's memory (e.g. ``"4GB"``; larger work spills to
        disk); by default DuckDB may use 80% of the machine's memory."""
        self.path = Path(path)
        if not read_only:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        elif not self.path.exists():
            raise StoreError(f"no store at {self.path}: run `nrr import` or `nrr sync` first")
        try:
            config = {"memory_limit": memory_limit} if memory_limit else {}
            self.con = duckdb.connect(str(self.path), read_only=read_only, config=config)
        except duckdb.IOException as exc:
            raise StoreError(
                f"cannot open store {self.path}: {exc}. Another nrr process may be writing to it."
            ) from None
        self._in_tx = False
        if not read_only:
            self._migrate()
        self._ibis = None

    # -- lifecycle ---------------------------------------------------------------
    def close(self) -> None:
        self.con.close()

    def __enter__(self) -> "Store":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    @contextlib.contextmanager
    def transaction(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """All-or-nothing block; nested use joins the outer transaction."""
        if self._in_tx:
            yield self.con
            return
        self.con.begin()
        self._in_tx = True
        try:
            yield self.con
        except BaseException:
            self.con.rollback()
            raise
        else:
            self.con.commit()
        finally:
            self._in_tx = False

    def _migrate(self) -> None:
        self.con.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations (id VARCHAR PRIMARY KEY, applied_at TIMESTAMP)"
        )
        applied = {r[0] for r in self.con.execute("SELECT id FROM schema_migrations").fetchall()}
        pending = [m for m in MIGRATIONS if m.id not in applied]
        if not pending:
            return
        with self.transaction() as con:
            for migration in pending:
                for statement in migration.statements:
                    con.execute(statement)
                con.execute("INSERT INTO schema_migrations VALUES (?, ?)", [migration.id, utcnow()])

    @property
    def schema_version(self) -> str:
        rows = self.con.execute("SELECT max(id) FROM schema_migrations").fetchall()
        return rows[0][0] if rows and rows[0][0] else ""

    # -- reads -------------------------------------------------------------------
    @property
    def ibis(self) -> ibis.BaseBackend:
        """An Ibis backend sharing this store's DuckDB connection."""
        if self._ibis is None:
            self._ibis = ibis.duckdb.from_connection(self.con)
        return self._ibis

    def records(self, kind: str | RecordKind, sources: Sequence[str] | None = None) -> ibis.Table:
        """Live rows of one record kind, optionally from the given sources only."""
        rk = KINDS[kind] if isinstance(kind, str) else kind
        t = self.ibis.table(rk.table)
        t = t.filter(~t.deleted)
        if sources:
            t = t.filter(t.source.isin(list(sources)))
        return t

    def counts(self) -> list[tuple[str, str, int, int]]:
        """(table, source, live rows, deleted rows) for every record table."""
        out = []
        for kind in KINDS.values():
            rows = self.con.execute(
                f"SELECT source, count(*) FILTER (WHERE NOT deleted), count(*) FILTER (WHERE deleted) "
                f"FROM {kind.table} GROUP BY source ORDER BY source"
            ).fetchall()
            out.extend((kind.table, s, live, dead) for s, live, dead in rows)
        return out

    # -- cursors -----------------------------------------------------------------
    def get_cursor(self, source: str, stream: str) -> str | None:
        row = self.con.execute(
            "SELECT cursor FROM sync_state WHERE source = ? AND stream = ?", [source, stream]
        ).fetchall()
        return row[0][0] if row else None

    def set_cursor(self, cursor: Cursor) -> None:
        with self.transaction() as con:
            con.execute(
                "INSERT OR REPLACE INTO sync_state VALUES (?, ?, ?, ?)",
                [cursor.source, cursor.stream, cursor.value, utcnow()],
            )

    def clear_cursors(self, source: str, stream: str | None = None) -> None:
        """Forget ``source``'s cursors (or only ``stream``'s): the next read is a full one."""
        with self.transaction() as con:
            if stream is None:
                con.execute("DELETE FROM sync_state WHERE source = ?", [source])
            else:
                con.execute("DELETE FROM sync_state WHERE source = ? AND stream = ?", [source, stream])

    def last_sync(self) -> dict[str, dt.datetime]:
        rows = self.con.execute("SELECT source, max(updated_at) FROM sync_state GROUP BY source").fetchall()
        return dict(rows)

    # -- writes ------------------------------------------------------------------
    def upsert(
        self,
        kind: str | RecordKind,
        source: str,
        rows: pa.Table | Any,
        *,
        cursor: Cursor | None = None,
        synced_at: dt.datetime | None = None,
        snapshot: bool = False,
    ) -> UpsertResult:
        """Insert new rows and replace changed ones of one record kind for one source.

        ``rows`` is a pyarrow Table or pandas DataFrame with the kind's columns (missing
        optional columns are filled with NULL) and, for kinds with a single-column id,
        optionally ``source_id`` (defaults to that id). Rows whose business columns are
        unchanged are left untouched (their ``synced_at`` is kept), so re-importing the
        same data is a no-op. A deleted row that reappears is revived. With
        ``snapshot=True`` the batch is the source's complete set of this kind: live rows
        of this source that are not in it are marked deleted.
        """
        rk = KINDS[kind] if isinstance(kind, str) else kind
        table = rows if isinstance(rows, pa.Table) else pa.Table.from_pandas(rows, preserve_index=False)
        synced_at = synced_at or utcnow()
        with self.transaction() as con:
            result = self._stage_and_merge(con, rk, source, table, synced_at, snapshot)
            if cursor is not None:
                self.set_cursor(cursor)
        return result

    def _stage_and_merge(
        self,
        con: duckdb.DuckDBPyConnection,
        rk: RecordKind,
        source: str,
        table: pa.Table,
        synced_at: dt.datetime,
        snapshot: bool = False,
    ) -> UpsertResult:
        con.register("_incoming", table)
        try:
            present = set(table.column_names)
            select = []
            for name, ctype in rk.columns.items():
                base = ctype.split(" ")[0]
                select.append(f"CAST({name} AS {base}) AS {name}" if name in present else f"CAST(NULL AS {base}) AS {name}")
            if "source_id" in present:
                source_id = "CAST(source_id AS VARCHAR)"
            else:
                source_id = "concat_ws('|', " + ", ".join(f"coalesce(CAST({k} AS VARCHAR), '')" for k in rk.key) + ")"
            hash_expr = "md5(concat_ws('\x1f', " + ", ".join(
                f"coalesce(CAST({c} AS VARCHAR), '\x00')" for c in rk.columns
            ) + "))"
            con.execute("DROP TABLE IF EXISTS _stage")
            con.execute(
                f"CREATE TEMP TABLE _stage AS SELECT *, {hash_expr} AS row_hash FROM ("
                f"SELECT {', '.join(select)}, ? AS source, {source_id} AS source_id, "
                f"CAST(? AS TIMESTAMP) AS synced_at, FALSE AS deleted FROM _incoming)",
                [source, synced_at],
            )
        finally:
            con.unregister("_incoming")
        dup = con.execute(
            "SELECT source_id, count(*) FROM _stage GROUP BY source_id HAVING count(*) > 1 LIMIT 1"
        ).fetchall()
        if dup:
            raise StoreError(f"{rk.name}: id {dup[0][0]!r} appears {dup[0][1]} times in one batch from {source}")
        t = rk.table
        join = "t.source = s.source AND t.source_id = s.source_id"
        new, updated, total = con.execute(
            f"""SELECT count(*) FILTER (WHERE t.source_id IS NULL),
                       count(*) FILTER (WHERE t.source_id IS NOT NULL AND (t.row_hash <> s.row_hash OR t.deleted)),
                       count(*)
                FROM _stage s LEFT JOIN {t} t ON {join}"""
        ).fetchall()[0]
        if new or updated:   # an unchanged batch (a re-read page, the same file again) writes nothing
            con.execute(f"DELETE FROM {t} AS t USING _stage s WHERE {join} AND (t.row_hash <> s.row_hash OR t.deleted)")
            cols = ", ".join([*rk.columns, *META_COLUMNS])
            con.execute(
                f"INSERT INTO {t} ({cols}) SELECT {', '.join('s.' + c for c in [*rk.columns, *META_COLUMNS])} "
                f"FROM _stage s WHERE NOT EXISTS (SELECT 1 FROM {t} t WHERE {join})"
            )
        deleted = 0
        # every staged row is live now: more live rows than staged ones means some were not in the snapshot
        if snapshot and con.execute(f"SELECT count(*) FROM {t} WHERE source = ? AND NOT deleted",
                                    [source]).fetchall()[0][0] > total:
            deleted = con.execute(
                f"UPDATE {t} AS t SET deleted = TRUE, synced_at = ? WHERE t.source = ? AND NOT t.deleted "
                f"AND NOT EXISTS (SELECT 1 FROM _stage s WHERE {join})",
                [synced_at, source],
            ).fetchall()[0][0]
        con.execute("DROP TABLE _stage")
        return UpsertResult(new=new, updated=updated, unchanged=total - new - updated, deleted=deleted)

    def mark_deleted(
        self,
        kind: str | RecordKind,
        source: str,
        source_ids: Sequence[str],
        *,
        cursor: Cursor | None = None,
    ) -> UpsertResult:
        """Mark records deleted at the source; they stay stored but are no longer live."""
        rk = KINDS[kind] if isinstance(kind, str) else kind
        with self.transaction() as con:
            con.register("_ids", pa.table({"source_id": pa.array([str(i) for i in source_ids], pa.string())}))
            try:
                n = con.execute(
                    f"UPDATE {rk.table} SET deleted = TRUE, synced_at = ? WHERE source = ? AND NOT deleted "
                    f"AND source_id IN (SELECT source_id FROM _ids)",
                    [utcnow(), source],
                ).fetchall()[0][0]
            finally:
                con.unregister("_ids")
            if cursor is not None:
                self.set_cursor(cursor)
        return UpsertResult(deleted=n)

    # -- runs --------------------------------------------------------------------
    def last_run(self) -> tuple | None:
        # fetchall, not fetchone: DuckDB keeps a half-read result open on the connection,
        # and the next Ibis query on it would fail.
        rows = self.con.execute(
            "SELECT run_id, command, started_at, finished_at, status FROM runs ORDER BY started_at DESC LIMIT 1"
        ).fetchall()
        return rows[0] if rows else None
