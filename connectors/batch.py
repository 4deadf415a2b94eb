"""What a connector hands the committer: a :class:`Batch` per vendor page, for one
:class:`Stream`, and the rule for folding the pages that queued up into one commit."""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field

from connectors.identity import Link


@dataclass(frozen=True)
class Stream:
    """One pull from a vendor: its name (the cursor's key), the record kinds it writes,
    whether a complete pass sweeps unseen rows, and its stage."""

    name: str
    kinds: tuple[str, ...]
    sweep: bool = False
    stage: int = 0          # streams of one stage are read concurrently; stages run in order


@dataclass
class Batch:
    rows: dict[str, list[dict]] = field(default_factory=dict)
    deletes: dict[str, list[str]] = field(default_factory=dict)
    replace: dict[str, list[str]] = field(default_factory=dict)   # kind → source_id prefixes re-read whole
    cursor: str | None = None
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (vendor record id, reason)
    links: list[Link] = field(default_factory=list)
    patches: dict[str, dict[str, dict]] = field(default_factory=dict)  # kind → source_id → columns to set
    values: list[tuple[str, dict]] = field(default_factory=list)   # write-back current values (ValuesRead.row)
    values_cursor: str | None = None   # the write-back's read cursor once a pass with values is complete
    read: int = 0
    pass_start: bool = False   # first page of a complete pass (enables the sweep)
    last: bool = False         # last page of the pass

    def add(self, kind: str, row: dict) -> None:
        self.rows.setdefault(kind, []).append(row)

    def delete(self, kind: str, source_id: str) -> None:
        self.deletes.setdefault(kind, []).append(source_id)

    def skip(self, record_id: str, reason: str) -> None:
        self.skipped.append((record_id, reason))

    def size(self) -> int:
        return sum(map(len, self.rows.values())) + sum(map(len, self.deletes.values()))

    def absorb(self, later: "Batch") -> bool:
        """Fold the next page of the same stream into this one, if committing both at once
        ends in the same store as committing them one after the other; else change nothing
        and return False. Each store statement has a fixed cost that dwarfs a page's rows,
        so the committer folds the pages that queued up while it was writing.

        Not folded: a page with patches (they read the store as the pages before left it),
        a page touching an id this one touches, and a page that re-reads whole (``replace``)
        a parent whose children this one writes."""
        if later.patches:
            return False
        for kind in set(later.rows) | set(later.deletes) | set(later.replace):
            mine = {r["source_id"] for r in self.rows.get(kind, ())} | set(self.deletes.get(kind, ()))
            mine |= set(self.patches.get(kind, ()))
            theirs = {r["source_id"] for r in later.rows.get(kind, ())} | set(later.deletes.get(kind, ()))
            if mine & theirs or _under_any(sorted(mine), later.replace.get(kind, ())):
                return False
        for kind, rows in later.rows.items():
            self.rows.setdefault(kind, []).extend(rows)
        for target, source in ((self.deletes, later.deletes), (self.replace, later.replace)):
            for kind, ids in source.items():
                target.setdefault(kind, []).extend(ids)
        self.values.extend(later.values)
        self.values_cursor = later.values_cursor or self.values_cursor
        self.skipped.extend(later.skipped)
        self.links.extend(later.links)
        self.read += later.read
        self.last = later.last
        if later.cursor is not None:
            self.cursor = later.cursor
        return True


def _under_any(ids: list[str], prefixes) -> bool:
    """Whether any of the sorted ``ids`` starts with one of ``prefixes``."""
    for prefix in prefixes:
        i = bisect.bisect_left(ids, prefix)
        if i < len(ids) and ids[i].startswith(prefix):
            return True
    return False
