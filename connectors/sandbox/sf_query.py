"""``query`` / ``queryAll`` execution with Salesforce's cursor paging.

A query that matches more rows than one batch leaves a server-side cursor
(a ``01g…`` query locator).  ``nextRecordsUrl`` is
``/services/data/vXX.X/query/{locator}-{offset}``; the page size is 2,000
unless ``Sforce-Query-Options: batchSize=N`` asks for N, clamped to
200..2000 as Salesforce does.  A cursor is a snapshot: it holds the matched
record dicts, and writes replace dicts rather than mutate them, so later
writes do not shift pages.  Cursors are dropped after their last page, and the
oldest are evicted past :data:`MAX_CURSORS`.
"""

from __future__ import annotations

import itertools
import re
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from connectors.sandbox import soql
from connectors.sandbox.sf_schema import Field, KEY_PREFIXES, encode, salesforce_id

Record = dict[str, Any]
DEFAULT_BATCH = 2000
MIN_BATCH = 200
MAX_CURSORS = 500
_PREFIX_TO_OBJECT = {prefix: obj for obj, prefix in KEY_PREFIXES.items()}


@dataclass
class Cursor:
    object: str
    fields: list[tuple[str, ...]]
    rows: list[Record]
    batch: int
    version: str


def batch_size(header: str | None) -> int:
    """``batchSize=N`` from ``Sforce-Query-Options``, clamped to 200..2000."""
    match = re.search(r"batchSize\s*=\s*(\d+)", header or "", re.IGNORECASE)
    if not match:
        return DEFAULT_BATCH
    return max(MIN_BATCH, min(DEFAULT_BATCH, int(match.group(1))))


class QueryEngine:
    """Runs SOQL over the emulator's records and serves pages (caller holds the lock)."""

    def __init__(self, schemas: dict[str, dict[str, Field]], records: dict[str, dict[str, Record]]) -> None:
        self.schemas = schemas
        self.records = records
        self._cursors: OrderedDict[str, Cursor] = OrderedDict()
        self._numbers = itertools.count(1)

    def resolve(self, record: Record | None, path: tuple[str, ...]) -> Any:
        """Follow reference fields in ``path[:-1]`` (target object from the id prefix)."""
        for ref in path[:-1]:
            if record is None:
                return None
            target = record.get(ref)
            obj = _PREFIX_TO_OBJECT.get(target[:3]) if isinstance(target, str) else None
            record = self.records.get(obj, {}).get(target) if obj else None
        return None if record is None else record.get(path[-1])

    def run(self, text: str, include_deleted: bool, batch: int, version: str, today) -> dict[str, Any]:
        query = soql.parse(text, self.schemas, today, self.resolve)
        rows = [r for r in self.records[query.object].values()
                if (include_deleted or not r["IsDeleted"]) and (query.where is None or query.where(r))]
        if query.order:
            rows = soql.sort_records(rows, query.order, self.resolve)
        rows = rows[query.offset:]
        if query.limit is not None:
            rows = rows[: query.limit]
        if query.count_only:
            return {"totalSize": len(rows), "done": True, "records": []}
        cursor = Cursor(query.object, query.fields, rows, batch, version)
        return self._page(cursor, None, 0)

    def next_page(self, locator: str, offset: int) -> dict[str, Any]:
        cursor = self._cursors.get(locator)
        if cursor is None or offset > len(cursor.rows):
            raise soql.SoqlError("INVALID_QUERY_LOCATOR", "invalid query locator")
        return self._page(cursor, locator, offset)

    def _page(self, cursor: Cursor, locator: str | None, offset: int) -> dict[str, Any]:
        end = offset + cursor.batch
        page = [self.render(cursor.object, row, cursor.fields, cursor.version)
                for row in cursor.rows[offset:end]]
        body: dict[str, Any] = {"totalSize": len(cursor.rows), "done": end >= len(cursor.rows), "records": page}
        if body["done"]:
            if locator:
                self._cursors.pop(locator, None)
            return body
        locator = locator or self._open(cursor)
        body["nextRecordsUrl"] = f"/services/data/v{cursor.version}/query/{locator}-{end}"
        return body

    def _open(self, cursor: Cursor) -> str:
        locator = salesforce_id("QueryLocator", next(self._numbers))
        self._cursors[locator] = cursor
        while len(self._cursors) > MAX_CURSORS:
            self._cursors.popitem(last=False)
        return locator

    def render(self, obj: str, row: Record | None, fields: list[tuple[str, ...]], version: str) -> Record | None:
        """A record as the REST API returns it, with ``attributes`` and nested relations."""
        if row is None:
            return None
        out: Record = {"attributes": {"type": obj, "url": f"/services/data/v{version}/sobjects/{obj}/{row['Id']}"}}
        nested: dict[str, list[tuple[str, ...]]] = {}
        for path in fields:
            if len(path) == 1:
                out[path[0]] = encode(row.get(path[0]))
            else:
                nested.setdefault(path[0], []).append(path[1:])
        for ref, sub_fields in nested.items():
            fld = self.schemas[obj][ref]
            target = self.records[fld.reference_to].get(row.get(ref) or "")
            out[fld.relationship_name] = self.render(fld.reference_to, target, sub_fields, version)
        return out


def parse_locator(tail: str) -> tuple[str, int]:
    """``01gSb…-2000`` → (locator, 2000); ``ValueError`` when malformed."""
    locator, _, offset = tail.rpartition("-")
    if not locator or not offset.isdigit():
        raise ValueError(tail)
    return locator, int(offset)
