"""In-memory Stripe object store with Stripe's list ordering and cursor paging.

Objects are kept per collection (``customers``, ``subscriptions``, ...) as plain
dicts in the *current* API shape (see ``stripe_objects.py``).  Every object also
sits in one global id index, because Stripe ids are unique across types and
``expand[]`` resolves an id without knowing its collection.

Order is Stripe's: newest first by ``created``; ties are broken by insertion
order (later inserted = listed first), so paging is deterministic.  A page is
found by bisecting to the cursor object and scanning outward until
``limit + 1`` matches are seen — ``O(limit)`` per page when filters match most
rows, so paging a 100,000-customer book to the end stays linear.

Not thread-safe on its own: the emulator holds its lock around every call.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field
from typing import Callable, Iterator

Obj = dict
Predicate = Callable[[Obj], bool]


@dataclass
class Page:
    """One list page: the objects in list order and whether more exist."""

    data: list[Obj]
    has_more: bool


@dataclass
class _Collection:
    """One object type: ascending ``(created, seq)`` keys, ids parallel to them."""

    keys: list[tuple[int, int]] = field(default_factory=list)
    ids: list[str] = field(default_factory=list)
    key_of: dict[str, tuple[int, int]] = field(default_factory=dict)

    def insert(self, obj_id: str, key: tuple[int, int]) -> None:
        pos = bisect.bisect_left(self.keys, key)
        self.keys.insert(pos, key)
        self.ids.insert(pos, obj_id)
        self.key_of[obj_id] = key

    def position(self, obj_id: str) -> int:
        return bisect.bisect_left(self.keys, self.key_of[obj_id])


class UnknownCursor(KeyError):
    """``starting_after``/``ending_before`` names no object of the collection."""


class StripeStore:
    """Collections of Stripe objects plus the global id index."""

    def __init__(self) -> None:
        self._collections: dict[str, _Collection] = {}
        self._objects: dict[str, Obj] = {}
        self._collection_of: dict[str, str] = {}
        self._seq = 0

    def add(self, collection: str, obj: Obj) -> Obj:
        """Insert a new object (its ``created`` decides its list position)."""
        self._seq += 1
        coll = self._collections.setdefault(collection, _Collection())
        coll.insert(obj["id"], (int(obj.get("created", 0)), self._seq))
        self.put(collection, obj)
        return obj

    def put(self, collection: str, obj: Obj) -> None:
        """Index an object that is not listed itself (e.g. discounts, coupons)
        or replace the body of a listed one; list position never changes."""
        self._objects[obj["id"]] = obj
        self._collection_of[obj["id"]] = collection

    def get(self, obj_id: str) -> Obj | None:
        return self._objects.get(obj_id)

    def collection_of(self, obj_id: str) -> str | None:
        return self._collection_of.get(obj_id)

    def count(self, collection: str) -> int:
        return len(self._collections.get(collection, _Collection()).ids)

    def newest_first(self, collection: str) -> Iterator[Obj]:
        """Every listed object of ``collection`` in Stripe list order."""
        coll = self._collections.get(collection, _Collection())
        for obj_id in reversed(coll.ids):
            yield self._objects[obj_id]

    def page(
        self,
        collection: str,
        match: Predicate,
        limit: int,
        starting_after: str | None = None,
        ending_before: str | None = None,
    ) -> Page:
        """Stripe paging: after a cursor walk toward older objects; before a
        cursor walk toward newer ones and return them still newest-first."""
        coll = self._collections.get(collection, _Collection())
        if ending_before is not None:
            return self._page_before(coll, match, limit, ending_before)
        start = len(coll.ids) - 1
        if starting_after is not None:
            start = self._cursor_position(coll, starting_after) - 1
        found = self._scan(coll, match, range(start, -1, -1), limit + 1)
        return Page(found[:limit], len(found) > limit)

    def _page_before(self, coll: _Collection, match: Predicate, limit: int, cursor: str) -> Page:
        start = self._cursor_position(coll, cursor) + 1
        found = self._scan(coll, match, range(start, len(coll.ids)), limit + 1)
        # found is oldest-first going up; the page is the `limit` closest to
        # the cursor, shown newest-first like every Stripe list.
        return Page(list(reversed(found[:limit])), len(found) > limit)

    def _cursor_position(self, coll: _Collection, obj_id: str) -> int:
        if obj_id not in coll.key_of:
            raise UnknownCursor(obj_id)
        return coll.position(obj_id)

    def _scan(self, coll: _Collection, match: Predicate, positions: range, want: int) -> list[Obj]:
        found: list[Obj] = []
        for pos in positions:
            obj = self._objects[coll.ids[pos]]
            if match(obj):
                found.append(obj)
                if len(found) == want:
                    break
        return found
