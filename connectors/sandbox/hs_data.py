"""In-memory state of one sandbox HubSpot portal: objects, associations, schema, owners.

Objects of each type are kept by numeric id plus a sorted id list, so list
endpoints page by id (``after`` is the id of the first object of the next page,
as HubSpot's own cursors are) and stay stable while other requests write.
Associations are stored in both directions with a *primary* flag, which the
wire layer turns into HubSpot's association type ids and labels.

Callers hold the emulator's lock; nothing here is thread-safe on its own.
"""

from __future__ import annotations

import bisect
import datetime as dt
from dataclasses import dataclass, field

from connectors.sandbox.hs_catalog import standard_groups, standard_properties
from connectors.sandbox.hs_schema import OBJECT_TYPES, PropertyDef, iso

# (from, to) → (primary typeId or None, unlabeled typeId): HubSpot-defined association types.
ASSOCIATION_TYPES: dict[tuple[str, str], tuple[int | None, int]] = {
    ("contacts", "companies"): (1, 279), ("companies", "contacts"): (2, 280),
    ("deals", "companies"): (5, 341), ("companies", "deals"): (6, 342),
    ("tickets", "companies"): (26, 339), ("companies", "tickets"): (25, 340),
    ("deals", "contacts"): (None, 3), ("contacts", "deals"): (None, 4),
    ("tickets", "contacts"): (None, 16), ("contacts", "tickets"): (None, 15),
}


@dataclass
class HsObject:
    """One CRM record; ``props`` holds every stored value as a string."""

    id: int
    props: dict[str, str]
    created_at: dt.datetime
    updated_at: dt.datetime
    archived: bool = False
    archived_at: dt.datetime | None = None

    def to_json(self, names: list[str]) -> dict:
        """The ``SimplePublicObject`` body with the properties ``names``."""
        body = {"id": str(self.id), "properties": {n: self.props.get(n) for n in names},
                "createdAt": iso(self.created_at), "updatedAt": iso(self.updated_at),
                "archived": self.archived}
        if self.archived_at is not None:
            body["archivedAt"] = iso(self.archived_at)
        return body


@dataclass
class Owner:
    """A HubSpot user who can own records (a CSM, in the book)."""

    id: int
    email: str
    first_name: str
    last_name: str
    user_id: int
    created_at: dt.datetime

    def to_json(self) -> dict:
        stamp = iso(self.created_at)
        return {"id": str(self.id), "email": self.email, "firstName": self.first_name,
                "lastName": self.last_name, "userId": self.user_id,
                "userIdIncludingInactive": self.user_id, "type": "PERSON", "teams": [],
                "createdAt": stamp, "updatedAt": stamp, "archived": False}


@dataclass
class Portal:
    """Everything one portal holds; ``version`` bumps on every write (search caches use it)."""

    objects: dict[str, dict[int, HsObject]] = field(default_factory=lambda: {t: {} for t in OBJECT_TYPES})
    order: dict[str, list[int]] = field(default_factory=lambda: {t: [] for t in OBJECT_TYPES})
    properties: dict[str, dict[str, PropertyDef]] = field(
        default_factory=lambda: {t: standard_properties(t) for t in OBJECT_TYPES})
    groups: dict[str, dict[str, dict]] = field(
        default_factory=lambda: {t: standard_groups(t) for t in OBJECT_TYPES})
    links: dict[tuple[str, int, str], dict[int, bool]] = field(default_factory=dict)
    owners: list[Owner] = field(default_factory=list)
    version: int = 0

    def add(self, type_name: str, obj: HsObject) -> HsObject:
        """Store a new object (ids must be unique within the type)."""
        table = self.objects[type_name]
        if obj.id in table:
            raise ValueError(f"duplicate {type_name} id {obj.id}")
        table[obj.id] = obj
        obj.props["hs_object_id"] = str(obj.id)
        bisect.insort(self.order[type_name], obj.id)
        self.version += 1
        return obj

    def load(self, type_name: str, objs: list[HsObject]) -> None:
        """Store many new objects at once (the book projection); ids must be new and unique."""
        table = self.objects[type_name]
        for obj in objs:
            if obj.id in table:
                raise ValueError(f"duplicate {type_name} id {obj.id}")
            table[obj.id] = obj
            obj.props["hs_object_id"] = str(obj.id)
        self.order[type_name] = sorted(table)
        self.version += 1

    def get(self, type_name: str, object_id: str | int, archived: bool = False) -> HsObject | None:
        """The object with ``object_id`` when its archived flag matches, else ``None``."""
        try:
            obj = self.objects[type_name].get(int(object_id))
        except (TypeError, ValueError):
            return None
        return obj if obj is not None and obj.archived == archived else None

    def page(self, type_name: str, after: int, limit: int, archived: bool) -> tuple[list[HsObject], int | None]:
        """Up to ``limit`` objects with id ≥ ``after``, and the id that starts the next page."""
        ids, table = self.order[type_name], self.objects[type_name]
        found: list[HsObject] = []
        for pos in range(bisect.bisect_left(ids, after), len(ids)):
            obj = table[ids[pos]]
            if obj.archived != archived:
                continue
            if len(found) == limit:
                return found, obj.id
            found.append(obj)
        return found, None

    def live(self, type_name: str) -> list[HsObject]:
        """Unarchived objects in id order (what search sees)."""
        table = self.objects[type_name]
        return [table[i] for i in self.order[type_name] if not table[i].archived]

    def associate(self, from_type: str, from_id: int, to_type: str, to_id: int, primary: bool = False) -> None:
        """Link two objects both ways; ``primary`` marks e.g. a deal's primary company."""
        self.links.setdefault((from_type, from_id, to_type), {})[to_id] = primary
        self.links.setdefault((to_type, to_id, from_type), {})[from_id] = primary

    def associated(self, from_type: str, from_id: int, to_type: str) -> list[tuple[int, bool]]:
        """``(to_id, primary)`` pairs of unarchived objects linked to one object, by id."""
        linked = self.links.get((from_type, from_id, to_type), {})
        table = self.objects[to_type]
        return [(i, p) for i, p in sorted(linked.items()) if i in table and not table[i].archived]

    def write(self, type_name: str, obj: HsObject, values: dict[str, str], now: dt.datetime) -> None:
        """Apply validated property values and stamp the modification time."""
        obj.props.update(values)
        obj.updated_at = now
        obj.props["hs_lastmodifieddate"] = iso(now)
        obj.props[OBJECT_TYPES[type_name].modified_prop] = iso(now)
        self.version += 1
