"""Write-back: plan the health-field changes per CRM record, then apply them in batches.

1. **Read** (:func:`read_current`): the mapped fields of every CRM account record
   modified since the last read go into ``crm_values`` — incremental by the vendor's
   modification stamp; a changed mapping starts a full read. Once a read under the
   current mapping has been done, the sync asks for the mapped fields on its own account
   pages (:class:`ValuesRead`), so a record modified since is read once, not twice, and
   the write-back itself reads nothing.
2. **Plan** (:func:`plan`, pure over the store): per account with a CRM record and per
   mapped field, desired value vs stored current value, both normalised by kind
   (numbers by value, dates ISO, instants UTC to the second, ``""`` = empty). A record
   is in the plan when a non-stamp field differs; stamps (``last_computed_at``) ride
   along with real changes only, so an unchanged account is never rewritten.
3. **Apply** (:func:`apply`): the mapping is checked against the CRM first (every mapped
   field exists and is writable, else :class:`MappingError` before any write); then
   batches of ``batch_size`` records, per-record results, one ``writeback_audit`` row per
   field (status ``written`` / ``failed`` with the error), and ``crm_values`` updated for
   written records. A failed record keeps its old stored value, so the next plan
   retries it; an empty plan makes no request at all.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import json
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any, Iterable

import pandas as pd
import pyarrow as pa

from connectors.errors import ConnectorError, FatalError
from connectors.writeback_settings import TargetSettings, WritebackSettings
from engine.account_fields import FIELDS, STAMP_FIELDS
from engine.store import Cursor, Store, utcnow

CURSOR_STREAM = "writeback_values"
ACCOUNT_OBJECTS = {"salesforce": "Account", "hubspot": "companies"}   # what each CRM's account stream reads


class MappingError(FatalError):
    """A mapped field is missing in the CRM or not writable; nothing was written."""


@dataclass(frozen=True)
class Change:
    account_id: str
    record_id: str
    field: str        # canonical
    crm_field: str
    old: str | None
    new: str | None


@dataclass
class Plan:
    target: str
    changes: list[Change] = field(default_factory=list)
    skipped: int = 0      # accounts left out because their inputs did not sync

    def records(self) -> dict[str, list[Change]]:
        out: dict[str, list[Change]] = {}
        for c in self.changes:
            out.setdefault(c.record_id, []).append(c)
        return out


@dataclass
class ApplyResult:
    target: str
    calls: int = 0
    records_written: int = 0
    records_failed: int = 0
    fields_written: int = 0
    errors: list[str] = field(default_factory=list)
    stopped: str | None = None   # a whole batch call failed; later batches were not sent


# -- values ---------------------------------------------------------------------------
def _instant(value: Any) -> dt.datetime | None:
    if isinstance(value, dt.datetime):
        return value if value.tzinfo is None else value.astimezone(dt.timezone.utc).replace(tzinfo=None)
    text = str(value).strip()
    if text.isdigit():
        return dt.datetime.fromtimestamp(int(text) / 1000, dt.timezone.utc).replace(tzinfo=None)
    text = text.replace("Z", "+00:00")
    if len(text) > 5 and text[-5] in "+-" and text[-3] != ":":
        text = text[:-2] + ":" + text[-2:]   # Salesforce: +0000
    return _instant(dt.datetime.fromisoformat(text))


def normalise(kind: str, value: Any) -> str | None:
    """One text form per value whatever the wire form: ``72.50``, ``72.5`` and ``72.5e0``
    are ``"72.5"``; ``1700006400000`` and ``2023-11-15`` are the same date."""
    try:   # a book repeats its values (bands, 1-dp scores, one stamp per run): remember them
        return _normalise_seen(kind, type(value), value)   # by type too: 1 == True, but not as text
    except TypeError:   # not hashable
        return _normalise(kind, value)


def _normalise(kind: str, value: Any) -> str | None:
    if value is None or value == "" or (isinstance(value, float) and value != value):
        return None
    if kind == "number":
        try:
            number = Decimal(str(value)).normalize()
        except InvalidOperation:
            return str(value)
        return format(number.quantize(Decimal(1)) if number == number.to_integral() else number, "f")
    if kind == "date":
        if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
            return value.isoformat()
        return _instant(value).date().isoformat() if str(value).isdigit() or isinstance(value, dt.datetime) \
            else str(value)[:10]
    if kind == "datetime":
        return _instant(value).strftime("%Y-%m-%dT%H:%M:%SZ")
    return str(value)


@functools.lru_cache(maxsize=1 << 16)
def _normalise_seen(kind: str, _: type, value: Any) -> str | None:
    return _normalise(kind, value)


def wire(target: str, kind: str, value: str | None) -> Any:
    """A normalised value as the vendor takes it: Salesforce JSON types, HubSpot strings."""
    if target == "hubspot":
        return "" if value is None else value
    if value is not None and kind == "number":
        return float(value) if "." in value else int(value)
    return value


# -- reading current values ---------------------------------------------------------------
def _signature(names: Iterable[str]) -> str:
    return hashlib.sha1(",".join(sorted(names)).encode()).hexdigest()[:12]


def read_current(store: Store, crm, target: TargetSettings) -> int:
    """Store the CRM's current values of the mapped fields (incremental); returns records read."""
    mapping = target.mapped()
    check_mapping(crm, target)
    saved = json.loads(store.get_cursor(crm.name, CURSOR_STREAM) or "{}")
    sig = _signature(f"{c}={f}" for c, f in mapping.items())   # a remapped field is re-read in full
    since = saved.get("since") if saved.get("fields") == sig else None
    read, last = 0, None
    for rows, high in crm.read(sorted(set(mapping.values())), since):
        store_values(store, crm.name, [_normalised(mapping, rid, vals) for rid, vals in rows])
        read, last = read + len(rows), high or last
    if last:   # only once every page is stored: HubSpot pages go by id, not by stamp
        store.set_cursor(Cursor(crm.name, CURSOR_STREAM, json.dumps({"since": last, "fields": sig})))
    return read


def _normalised(mapping: dict[str, str], record_id: str, values: dict) -> tuple[str, dict[str, str | None]]:
    return record_id, {c: normalise(FIELDS[c], values.get(f)) for c, f in mapping.items()}


@dataclass(frozen=True)
class ValuesRead:
    """The current-values read riding on the sync's account stream of ``target``.

    Offered (:func:`values_riders`) only after a read under the same mapping (so the
    fields are known to exist). The connector asks for :meth:`fields` on its account
    pages only when its read starts no later than ``since`` (where that read stopped), so
    no modification falls between the two reads; it hands :meth:`row` per record and, on
    the pass's last page, :meth:`cursor` with the largest stamp it saw.
    """

    target: str
    mapping: dict[str, str]   # canonical → CRM field
    since: str                # the last read's stamp, in the vendor's form
    signature: str

    def fields(self) -> list[str]:
        return sorted(set(self.mapping.values()))

    def row(self, record_id: str, values: dict) -> tuple[str, dict[str, str | None]]:
        return _normalised(self.mapping, record_id, values)

    def cursor(self, high: str | None) -> str:
        return json.dumps({"since": high or self.since, "fields": self.signature})


def values_riders(store: Store, sources_config: Any, settings: WritebackSettings) -> dict[str, ValuesRead]:
    """Per write-back target whose current values the sync can read on its account pages."""
    out = {}
    for name in targets(sources_config, settings):
        target = settings.target(name)
        if target.object != ACCOUNT_OBJECTS[name]:
            continue
        saved = json.loads(store.get_cursor(name, CURSOR_STREAM) or "{}")
        sig = _signature(f"{c}={f}" for c, f in target.mapped().items())
        if saved.get("fields") == sig and saved.get("since"):
            out[name] = ValuesRead(name, target.mapped(), str(saved["since"]), sig)
    return out


def _bulk(store: Store, sql: str, columns: dict[str, list]) -> None:
    """One INSERT of many rows through Arrow (row-by-row ``executemany`` is ~1,000× slower)."""
    kinds = {k: pa.timestamp("us") if k == "stamp" else pa.string() for k in columns}
    table = pa.table({k: pa.array(v, type=kinds[k]) for k, v in columns.items()})
    with store.transaction() as con:
        con.register("_wb_rows", table)
        try:
            con.execute(sql).fetchall()   # finish the statement: an open result blocks the next query
        finally:
            con.unregister("_wb_rows")


def store_values(store: Store, target: str, rows: list[tuple[str, dict[str, str | None]]]) -> None:
    """Remember the CRM's values; only rows that differ from what is stored are written
    (``seen_at`` is when a value was first seen), so re-reading our own writes is cheap."""
    flat = [(rid, f, v) for rid, vals in dict(rows).items() for f, v in vals.items()]   # a record's last read wins
    if not flat:
        return
    rid, fld, val = (list(c) for c in zip(*flat))
    _bulk(store, "INSERT OR REPLACE INTO crm_values SELECT r.target, r.record_id, r.field, r.value, r.stamp "
                 "FROM _wb_rows r LEFT JOIN crm_values c "
                 "ON c.target = r.target AND c.record_id = r.record_id AND c.field = r.field "
                 "WHERE c.record_id IS NULL OR c.value IS DISTINCT FROM r.value",
          {"target": [target] * len(flat), "record_id": rid, "field": fld, "value": val,
           "stamp": [utcnow()] * len(flat)})


def check_mapping(crm, target: TargetSettings) -> None:
    """Refuse (before any write) a mapping to a field the CRM lacks, will not let us write,
    or whose type cannot hold the value (see ``crm_setup.ACCEPTS``)."""
    from connectors.crm_setup import ACCEPTS

    have, mapped = crm.fields(), target.mapped()
    missing = {c: f for c, f in mapped.items() if f not in have}
    locked = {c: f for c, f in mapped.items() if f in have and not have[f].writable}
    wrong = {c: f for c, f in mapped.items() if f in have and have[f].writable
             and have[f].type not in ACCEPTS[crm.name][FIELDS[c]]}
    if missing or locked or wrong:
        parts = [f"{f} ({c}) does not exist" for c, f in missing.items()]
        parts += [f"{f} ({c}) is not writable" for c, f in locked.items()]
        parts += [f"{f} ({c}) is a {have[f].type} field, not a {FIELDS[c]} one" for c, f in wrong.items()]
        raise MappingError(crm.name, f"write-back mapping refused, nothing written: {'; '.join(parts)}",
                           fix=f"Run `nrr crm setup` to create missing fields, grant edit access, or change "
                               f"[writeback.{crm.name}.fields] in nrr.toml")


# -- plan -------------------------------------------------------------------------------
def _records_of(store: Store, target: str) -> pd.DataFrame:
    return store.con.execute("SELECT account_id, source_id AS record_id FROM accounts "
                             "WHERE source = ? AND NOT deleted AND account_id IS NOT NULL", [target]).df()


def _current(store: Store, target: str) -> dict[tuple[str, str], str | None]:
    rows = store.con.execute("SELECT record_id, field, value FROM crm_values WHERE target = ?", [target]).fetchall()
    return {(r, f): v for r, f, v in rows}


def plan(store: Store, target_name: str, target: TargetSettings, desired: pd.DataFrame,
         skip_accounts: set[str] | frozenset = frozenset()) -> Plan:
    """The changes that make the CRM show ``desired`` (one row per account, canonical columns)."""
    out = Plan(target_name)
    mapping, current = target.mapped(), _current(store, target_name)
    links = _records_of(store, target_name).merge(desired, on="account_id")
    for row in links.to_dict("records"):
        if row["account_id"] in skip_accounts:
            out.skipped += 1
            continue
        diff = _diff(row, mapping, current)
        if any(d.field not in STAMP_FIELDS for d in diff):
            out.changes.extend(diff)
    return out


def _diff(row: dict, mapping: dict[str, str], current: dict[tuple[str, str], str | None]) -> list[Change]:
    """The mapped fields of one record whose normalised desired value differs from the CRM's."""
    rid, out = row["record_id"], []
    for c, f in mapping.items():
        new, old = normalise(FIELDS[c], row.get(c)), current.get((rid, c))
        if new != old:
            out.append(Change(row["account_id"], rid, c, f, old, new))
    return out


# -- apply --------------------------------------------------------------------------------
def apply(store: Store, crm, target: TargetSettings, the_plan: Plan, run_id: str) -> ApplyResult:
    """Write the plan in batches; audit every field; remember what was written."""
    result = ApplyResult(the_plan.target)
    records = list(the_plan.records().items())
    if not records:
        return result
    before = crm.stats.calls
    check_mapping(crm, target)
    for start in range(0, len(records), target.batch_size):
        chunk = records[start:start + target.batch_size]
        try:
            outcome = crm.write([(rid, {c.crm_field: wire(crm.name, FIELDS[c.field], c.new) for c in changes})
                                 for rid, changes in chunk])
        except ConnectorError as exc:   # the whole call failed (after retries): audit it, stop this target
            _record(store, the_plan.target, run_id, chunk, {rid: str(exc) for rid, _ in chunk}, result)
            result.stopped = str(exc)
            break
        _record(store, the_plan.target, run_id, chunk, outcome, result)
    result.calls = crm.stats.calls - before
    return result


def _record(store: Store, target: str, run_id: str, chunk: list[tuple[str, list[Change]]],
            outcome: dict[str, str | None], result: ApplyResult) -> None:
    """Audit rows for one batch and the new current values of the records written."""
    now, audit, written = utcnow(), [], []
    for rid, changes in chunk:
        error = outcome.get(rid)
        status = "failed" if error else "written"
        audit += [[run_id, target, c.account_id, rid, c.crm_field, c.old, c.new, status, error, now] for c in changes]
        if error:
            result.records_failed += 1
            result.errors.append(f"{rid} ({changes[0].account_id}): {error}")
        else:
            result.records_written += 1
            result.fields_written += len(changes)
            written.append((rid, {c.field: c.new for c in changes}))
    names = ["run_id", "target", "account_id", "record_id", "field", "old_value", "new_value", "status", "error",
             "stamp"]
    _bulk(store, f"INSERT INTO writeback_audit SELECT {', '.join(names)} FROM _wb_rows",
          {n: [row[i] for row in audit] for i, n in enumerate(names)})
    store_values(store, target, written)


def skipped_accounts(store: Store, failed_sources: Iterable[str]) -> set[str]:
    """Accounts with any record from a source whose sync failed this run."""
    from engine.records import KINDS

    failed = sorted(failed_sources)
    if not failed:
        return set()
    marks = ", ".join("?" * len(failed))
    union = " UNION ".join(f"SELECT account_id FROM {k.table} WHERE source IN ({marks})" for k in KINDS.values())
    return {r[0] for r in store.con.execute(union, failed * len(KINDS)).fetchall() if r[0]}


# -- one write-back over every target ------------------------------------------------------
@dataclass
class TargetReport:
    target: str
    read: int = 0
    plan: Plan | None = None
    result: ApplyResult | None = None
    error: str | None = None
    skipped: str | None = None   # why the whole target was left out


def targets(sources_config: Any, settings: WritebackSettings) -> list[str]:
    """Targets enabled under [writeback] whose source is enabled under [sources] too."""
    from connectors.settings import source_settings

    sources = source_settings(sources_config)
    return [t for t in ("salesforce", "hubspot") if settings.target(t).enabled and sources[t].enabled]


def write_back(store: Store, sources_config: Any, settings: WritebackSettings, credentials,
               desired: pd.DataFrame, run_id: str, *, dry_run: bool = False, only: str | None = None,
               failed_sources: Iterable[str] = (), policy=None,
               values_read: dict[str, int] | None = None) -> list[TargetReport]:
    """Read current values, plan and (unless ``dry_run``) apply, target by target.

    A target whose own sync failed is skipped whole; accounts with inputs from any other
    failed source are left out of the plan. One target's failure never stops the other.
    ``values_read``: targets whose current values this run's sync already read (records
    read); those are not read again, and a target with nothing to write is not contacted.
    """
    failed = set(failed_sources)
    skip = skipped_accounts(store, failed)
    reports = []
    for name in [only] if only else targets(sources_config, settings):
        report = TargetReport(name)
        reports.append(report)
        if name in failed:
            report.skipped = f"{name} did not sync this run; its records may be stale"
            continue
        try:
            _one_target(store, sources_config, settings, credentials, desired, run_id, report, dry_run, skip, policy,
                        (values_read or {}).get(name))
        except ConnectorError as exc:
            report.error = str(exc)
    return reports


def _one_target(store, sources_config, settings, credentials, desired, run_id, report, dry_run, skip, policy,
                already_read: int | None):
    from connectors.crm_setup import open_crm, setup

    target, crm = settings.target(report.target), None

    def connect():
        nonlocal crm
        if crm is None:
            creds = credentials(report.target) if callable(credentials) else credentials.get(report.target, {})
            crm = open_crm(report.target, sources_config, settings, creds, policy)
        return crm
    try:
        # a sync that just read every mapped field shows they exist: no set-up needed
        if target.create_missing_fields and not dry_run and already_read is None:
            if setup(connect(), target, settings.text_length).created:   # a new field holds no values yet:
                store.clear_cursors(report.target, CURSOR_STREAM)          # read every record again
        report.read = already_read if already_read is not None else read_current(store, connect(), target)
        report.plan = plan(store, report.target, target, desired, skip)
        if not dry_run:
            report.result = apply(store, connect() if report.plan.changes else None, target, report.plan, run_id)
            report.error = report.result.stopped
    except MappingError:
        store.clear_cursors(report.target, CURSOR_STREAM)   # next run: set-up (if enabled) and a full read
        raise
    finally:
        if crm is not None:
            crm.close()
