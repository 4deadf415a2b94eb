"""Sync orchestration: run each source's streams, commit page by page, report.

A connector yields :class:`Batch` es — one vendor page turned into canonical rows,
deletes, identity links and the stream's new cursor. :func:`commit_batch` writes all of
it in **one store transaction**, so a process killed at any instant leaves each page
either fully stored with its cursor or not at all; the next sync resumes from the last
committed cursor and re-reads at most one page (upserts are idempotent by ``row_hash``).

Cursors only move forward: the connector computes them from the vendor's own clock, so
they never run ahead of the sync's start on the vendor's side.

Streams run in *stages* (accounts first, because the others need their links): the
streams of one stage are read on threads that share the source's rate limiter, while one
committer writes their pages in arrival order — network and rate-limit waits overlap
each other and the store writes, and the store is only ever written from one thread.

A stream that starts from nothing (first or ``--full`` sync) may ``sweep``: rows of its
kinds that were not seen in that complete pass are marked deleted — the only way to
notice deletes on APIs that forget deleted objects (Stripe lists).
"""

from __future__ import annotations

import importlib
import json
import logging
import queue
import threading
import time
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, Protocol

import pyarrow as pa
import requests

from connectors.batch import Batch, Stream
from connectors.errors import ConnectorError, QuotaExhausted
from connectors.pagination import put_unless_stopped
from connectors.identity import Resolver, read_links_file, relink, write_links
from connectors.retry import CallStats, RetryPolicy
from connectors.settings import SourceSettings, SyncSettings, source_settings
from connectors.writeback import CURSOR_STREAM as WRITEBACK_VALUES, ValuesRead, store_values
from engine.records import KINDS
from engine.store import Cursor, Store, UpsertResult, utcnow

log = logging.getLogger("nrr.sync")

#: Sync order: CRMs first so billing customers can be linked to their accounts by domain.
MODULES = {"salesforce": "connectors.salesforce", "hubspot": "connectors.hubspot", "stripe": "connectors.stripe_billing"}


class Connector(Protocol):
    name: str
    streams: tuple[Stream, ...]
    stats: CallStats

    def read(self, stream: Stream, cursor: str | None) -> Iterator[Batch]: ...
    def close(self) -> None: ...


@dataclass
class StreamStats:
    new: int = 0
    updated: int = 0
    deleted: int = 0
    skipped: int = 0
    read: int = 0
    pages: int = 0
    seconds: float = 0.0


@dataclass
class SourceResult:
    source: str
    ok: bool = True
    error: str | None = None
    resume_at: str | None = None
    streams: dict[str, StreamStats] = field(default_factory=dict)
    calls: int = 0
    retries: int = 0
    seconds: float = 0.0
    values_read: int | None = None   # CRM records whose write-back values came with the account pages


@dataclass
class SyncReport:
    run_id: str
    sources: dict[str, SourceResult] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return all(r.ok for r in self.sources.values())

    def to_dict(self) -> dict[str, Any]:
        return {"run_id": self.run_id, "ok": self.ok, "sources": {k: asdict(v) for k, v in self.sources.items()}}


class TrustedSession(requests.Session):
    """A requests session that verifies TLS against ``ca_bundle`` (the sandbox CA, or a
    corporate proxy's) even when a client library passes its own ``verify`` bundle —
    stripe-python always passes its bundled CA file. Verification is never turned off."""

    def __init__(self, ca_bundle: str | None, timeout: float | None = None):
        super().__init__()
        self.ca_bundle = str(ca_bundle) if ca_bundle else None
        self.timeout = timeout
        if self.ca_bundle:
            self.verify = self.ca_bundle

    def request(self, method, url, **kwargs):  # type: ignore[override]
        if self.ca_bundle:
            kwargs["verify"] = self.ca_bundle
        if kwargs.get("timeout") is None:  # simple-salesforce sets none: a hung socket would hang the sync
            kwargs["timeout"] = self.timeout
        return super().request(method, url, **kwargs)


def _arrow(kind: str, rows: list[dict]) -> pa.Table:
    """Rows as an Arrow table; money travels as text so DuckDB casts it exactly."""
    money = set(KINDS[kind].money)
    cols = [*KINDS[kind].columns, "source_id"]
    data = {c: [(str(r[c]) if c in money and r.get(c) is not None else r.get(c)) for r in rows] for c in cols}
    return pa.table({c: pa.array(v, type=pa.string() if c in money or c == "source_id" else None) for c, v in data.items()})


def _prefixed(store: Store, kind: str, source: str, prefix: str) -> list[str]:
    return [r[0] for r in store.con.execute(
        f"SELECT source_id FROM {KINDS[kind].table} WHERE source = ? AND NOT deleted AND starts_with(source_id, ?)",
        [source, prefix]).fetchall()]


def _under_prefixes(con, kind: str, source: str, prefixes: list[str]) -> list[str]:
    """Live ids starting with any of ``prefixes`` (the stored children of re-read parents)."""
    if not prefixes:
        return []
    con.register("_prefixes", pa.table({"prefix": pa.array(sorted(set(prefixes)), pa.string())}))
    try:
        return [r[0] for r in con.execute(
            f"SELECT DISTINCT t.source_id FROM {KINDS[kind].table} t JOIN _prefixes p ON starts_with(t.source_id, p.prefix) "
            "WHERE t.source = ? AND NOT t.deleted", [source]).fetchall()]
    finally:
        con.unregister("_prefixes")


def _patched(con, kind: str, source: str, changes: dict[str, dict]) -> list[dict]:
    """Stored live rows with some columns changed — read inside the committing
    transaction, so a patch never overwrites what an earlier page just wrote."""
    if not changes:
        return []
    cols = ", ".join(KINDS[kind].columns)
    marks = ", ".join("?" * len(changes))
    cur = con.execute(f"SELECT source_id, {cols} FROM {KINDS[kind].table} WHERE source = ? AND NOT deleted "
                      f"AND source_id IN ({marks})", [source, *changes])
    names = [d[0] for d in cur.description]
    return [{**row, **changes[row["source_id"]]} for row in (dict(zip(names, r)) for r in cur.fetchall())]


def commit_batch(store: Store, source: str, stream: str, batch: Batch) -> UpsertResult:
    """Rows, deletes, links and cursor of one page, all or nothing."""
    total = UpsertResult()
    with store.transaction() as con:
        for kind, changes in batch.patches.items():
            batch.rows.setdefault(kind, []).extend(_patched(con, kind, source, changes))
        for kind, rows in batch.rows.items():
            if rows:
                total += store.upsert(kind, source, _arrow(kind, rows))
        for kind, prefixes in batch.replace.items():
            keep = {r["source_id"] for r in batch.rows.get(kind, [])}
            gone = [i for i in _under_prefixes(con, kind, source, prefixes) if i not in keep]
            batch.deletes.setdefault(kind, []).extend(gone)
        for kind, ids in batch.deletes.items():
            if ids:
                total += store.mark_deleted(kind, source, sorted(set(ids)))
        write_links(con, batch.links)
        if batch.values:
            store_values(store, source, batch.values)
        if batch.values_cursor is not None:
            store.set_cursor(Cursor(source, WRITEBACK_VALUES, batch.values_cursor))
        if batch.cursor is not None:
            store.set_cursor(Cursor(source, stream, batch.cursor))
    return total


class _Sweeper:
    """Ids seen during one complete pass of a stream (a pass the connector started from
    scratch, ``pass_start``), so that rows not seen can be marked deleted at its end."""

    def __init__(self, stream: Stream):
        self.stream = stream
        self.seen: dict[str, set[str]] | None = None

    def note(self, batch: Batch) -> None:
        if batch.pass_start and self.stream.sweep:
            self.seen = {k: set() for k in self.stream.kinds}
        if self.seen is not None:
            for kind, rows in batch.rows.items():
                self.seen.setdefault(kind, set()).update(r["source_id"] for r in rows)

    def finish(self, store: Store, source: str, batch: Batch) -> None:
        if self.seen is None or not batch.last:
            return
        for kind, seen in self.seen.items():
            live = _prefixed(store, kind, source, "")
            batch.deletes.setdefault(kind, []).extend(i for i in live if i not in seen)
        self.seen = None


_DONE = object()


def _produce(conn: Connector, stream: Stream, cursor: str | None, out: queue.Queue, stop: threading.Event) -> None:
    """Read one stream's pages on a thread; hand each page (or the error) to the committer."""
    def put(item: Any) -> bool:
        return put_unless_stopped(out, (stream, item), stop)

    try:
        for batch in conn.read(stream, cursor):
            if not put(batch):
                return
        put(_DONE)
    except BaseException as exc:  # the committer re-raises it
        put(exc)


#: The most records the committer folds into one transaction.
FOLD_RECORDS = 5_000


def run_stage(store: Store, conn: Connector, streams: list[Stream], full: bool,
              ticks: dict[str, Callable[[int], None]]) -> dict[str, StreamStats]:
    """Read the streams of one stage concurrently (they share the source's rate limiter,
    so network and rate-limit waits overlap) and commit their pages here, in arrival
    order. Each commit carries its stream's cursor; pages of one stream that queued up
    while the previous commit ran are folded into one commit (:meth:`Batch.absorb`)."""
    out: queue.Queue = queue.Queue(maxsize=8 * len(streams))
    stop = threading.Event()
    cursors = {s.name: None if full else store.get_cursor(conn.name, s.name) for s in streams}
    workers = [threading.Thread(target=_produce, args=(conn, s, cursors[s.name], out, stop), daemon=True,
                                name=f"sync-{conn.name}-{s.name}") for s in streams]
    stats = {s.name: StreamStats() for s in streams}
    sweepers = {s.name: _Sweeper(s) for s in streams}
    start, running = time.monotonic(), len(streams)
    pending: tuple[Stream, Batch] | None = None   # folded pages not yet committed

    def flush() -> None:
        nonlocal pending
        if pending is not None:
            stream, batch = pending
            pending = None
            _commit(store, conn.name, stream, batch, stats[stream.name])

    for worker in workers:
        worker.start()
    try:
        while running:
            try:
                stream, item = out.get(block=pending is None)
            except queue.Empty:   # nothing else has arrived: write what we hold
                flush()
                continue
            if item is _DONE or isinstance(item, BaseException):
                flush()
                if isinstance(item, BaseException):
                    raise item
                running -= 1
                stats[stream.name].seconds = round(time.monotonic() - start, 3)
                continue
            _page_read(conn.name, stream, item, stats[stream.name], sweepers[stream.name], store)
            ticks.get(stream.name, lambda n: None)(item.read)
            if pending is not None and (pending[0] is not stream or pending[1].size() + item.size() > FOLD_RECORDS
                                        or not pending[1].absorb(item)):
                flush()
            if pending is None:
                pending = (stream, item)
        flush()
    finally:
        stop.set()
        for worker in workers:
            worker.join(timeout=60)
    return stats


def _page_read(source: str, stream: Stream, batch: Batch, stats: StreamStats, sweeper: _Sweeper, store: Store) -> None:
    sweeper.note(batch)
    sweeper.finish(store, source, batch)
    for rec_id, reason in batch.skipped:
        log.warning("%s %s: skipped %s: %s", source, stream.name, rec_id, reason)
    stats.skipped += len(batch.skipped)
    stats.read += batch.read
    stats.pages += 1


def _commit(store: Store, source: str, stream: Stream, batch: Batch, stats: StreamStats) -> None:
    result = commit_batch(store, source, stream.name, batch)
    stats.new += result.new
    stats.updated += result.updated
    stats.deleted += result.deleted
    log.info("%s %s: committed %d records read (%d pages so far)", source, stream.name, batch.read, stats.pages)


def stages(streams: tuple[Stream, ...]) -> list[list[Stream]]:
    """Streams grouped by ``stage``, in order (a stage needs the links of the ones before)."""
    return [[s for s in streams if s.stage == n] for n in sorted({s.stage for s in streams})]


def open_connector(name: str, settings: SourceSettings, credentials: dict, resolver: Resolver,
                   policy: RetryPolicy) -> Connector:
    module = importlib.import_module(MODULES[name])
    return module.open_source(settings, credentials, resolver, policy)


def sync_source(store: Store, name: str, settings: SourceSettings, credentials: dict, resolver: Resolver, *,
                full: bool = False, policy: RetryPolicy | None = None, progress: "Progress | None" = None,
                values: ValuesRead | None = None) -> SourceResult:
    """Sync one source; a :class:`ConnectorError` stops this source only. A CRM connector
    given ``values`` also reads the write-back's current values on its account pages."""
    result = SourceResult(name)
    start = time.monotonic()
    conn = None
    try:
        conn = open_connector(name, settings, credentials, resolver, policy or RetryPolicy())
        if values is not None and hasattr(conn, "values"):
            conn.values = values
        ticks = {s.name: progress.stream(name, s.name) for s in conn.streams} if progress else {}
        for group in stages(conn.streams):
            result.streams.update(run_stage(store, conn, group, full, ticks))
        result.values_read = getattr(conn, "values_read", None)
    except QuotaExhausted as exc:
        result.ok, result.error = False, str(exc)
        result.resume_at = exc.resume_at.isoformat() if exc.resume_at else None
        log.error("%s", exc)
    except ConnectorError as exc:
        result.ok, result.error = False, str(exc)
        log.error("%s", exc)
    finally:
        if conn is not None:
            result.calls, result.retries = conn.stats.calls, conn.stats.retries
            conn.close()
        result.seconds = round(time.monotonic() - start, 3)
    return result


class Progress(Protocol):
    def stream(self, source: str, stream: str) -> Callable[[int], None]: ...


def sync_sources(store: Store, sources_config: dict[str, Any] | None,
                 credentials: dict[str, dict] | Callable[[str], dict], only: str | None = None,
                 full: bool = False, progress: bool | Progress = True, *, sync_settings: SyncSettings | None = None,
                 project_dir: Path | None = None, policy: RetryPolicy | None = None,
                 current_values: dict[str, ValuesRead] | None = None, record: bool = True) -> SyncReport:
    """Sync every enabled source (or ``only`` that one) into ``store``; never raises for a
    source's own failure — each :class:`SourceResult` says ok or why not.

    ``credentials`` maps a source to its resolved credentials, or is a function doing
    that lazily (so a missing secret for one source fails that source only).
    ``current_values`` (see ``connectors.writeback.values_riders``): per CRM, the
    write-back fields to read along with its accounts. ``record``: store the sync as its own
    row in ``runs`` (not when it is a step of `nrr run`, whose row holds its outcome)."""
    settings = source_settings(sources_config)
    sync_settings = sync_settings or SyncSettings()
    names = [only] if only else [n for n in MODULES if settings[n].enabled]
    unknown = [n for n in names if n not in MODULES]
    if unknown:
        raise ConnectorError(unknown[0], f"unknown source; choose one of {', '.join(MODULES)}")
    links = read_links_file(Path(project_dir or ".") / sync_settings.links_file)
    for source in relink(store, links):
        log.info("%s: a links-file entry moved a record between accounts; re-reading %s in full", source, source)
        store.clear_cursors(source)
    resolver = Resolver(store, sync_settings.primary, links)
    report = SyncReport(run_id=uuid.uuid4().hex[:12])
    if record:
        _record_run(store, report, "running")
    bars = _progress_bars() if progress is True else (progress or None)
    try:
        for name in names:
            try:
                creds = credentials(name) if callable(credentials) else (credentials.get(name) or {})
            except Exception as exc:  # an unresolvable {env=...}/{file=...}: this source only
                report.sources[name] = SourceResult(name, ok=False, error=f"{name}: credentials: {exc}")
                continue
            report.sources[name] = sync_source(store, name, settings[name], creds, resolver, full=full, policy=policy,
                                               progress=bars, values=(current_values or {}).get(name))
    finally:
        resolver.close()
        if hasattr(bars, "stop"):
            bars.stop()
        if record:
            _record_run(store, report, "ok" if report.ok else "failed")
    return report


def _record_run(store: Store, report: SyncReport, status: str) -> None:
    with store.transaction() as con:
        con.execute(
            """INSERT INTO runs VALUES (?, 'sync', ?, NULL, ?, NULL)
               ON CONFLICT (run_id) DO UPDATE SET finished_at = ?, status = excluded.status, summary = ?""",
            [report.run_id, utcnow(), status, utcnow(), json.dumps(report.to_dict())])


class RichProgress:
    """One rich bar per stream showing records read so far (totals are not known up front)."""

    def __init__(self, console: Any = None):
        from rich.console import Console
        from rich.progress import BarColumn, Progress as Bars, SpinnerColumn, TextColumn, TimeElapsedColumn

        self.bars = Bars(SpinnerColumn(), TextColumn("{task.description:<28}"), BarColumn(),
                         TextColumn("{task.completed:>8,} records"), TimeElapsedColumn(),
                         console=console or Console(stderr=True), transient=False)
        self.bars.start()

    def stream(self, source: str, stream: str) -> Callable[[int], None]:
        task = self.bars.add_task(f"{source} {stream}", total=None)
        return lambda n: self.bars.advance(task, n)

    def stop(self) -> None:
        self.bars.stop()


def _progress_bars() -> Progress | None:
    """Rich progress on a terminal only; cron and pipes get the summary alone."""
    import sys

    return RichProgress() if sys.stderr.isatty() else None
