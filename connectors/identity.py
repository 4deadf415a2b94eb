"""Canonical ``account_id`` for every synced record, and the links that explain it.

Rules, first match wins (method names are what ``account_links.method`` records):

1. ``override`` — a row ``source,source_id,account_id`` in the links file (read on every
   sync, so fixing an unmatched customer is an edit and a re-run).
2. ``primary`` — an account of the primary CRM *is* a canonical account: its id, or the
   value of the configured ``account_id_field``.
3. ``metadata`` — a Stripe customer whose metadata key names an account.
4. ``domain`` — the billing email's domain (or a secondary CRM company's domain) equals
   exactly one primary account's domain; several make the link ``ambiguous``.
5. ``unmatched`` — records keep a stable placeholder id ``<source>:<source_id>`` so their
   revenue is counted and visible in ``nrr accounts unmatched`` until someone links them.
"""

from __future__ import annotations

import csv
import threading
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa

from connectors.errors import LinksFileError
from engine.records import KINDS
from engine.store import Store, utcnow

FREE_MAIL = frozenset({"gmail.com", "googlemail.com", "yahoo.com", "hotmail.com", "outlook.com",
                       "icloud.com", "aol.com", "proton.me", "protonmail.com", "live.com", "me.com"})


@dataclass(frozen=True)
class Link:
    source: str
    source_id: str
    account_id: str | None
    method: str
    candidates: tuple[str, ...] = ()

    @property
    def resolved(self) -> str:
        """The account id records carry: the link's, or the unmatched placeholder."""
        return self.account_id or placeholder(self.source, self.source_id)


def placeholder(source: str, source_id: str) -> str:
    return f"{source}:{source_id}"


def domain_of(value: str | None) -> str | None:
    """``ops@Acme.io`` / ``https://www.acme.io/x`` / ``acme.io`` → ``acme.io``."""
    if not value:
        return None
    v = value.strip().lower()
    v = v.rsplit("@", 1)[-1]
    v = v.split("://", 1)[-1].split("/", 1)[0].split(":", 1)[0]
    v = v[4:] if v.startswith("www.") else v
    return v or None


def read_links_file(path: Path) -> dict[tuple[str, str], str]:
    """Explicit links: CSV with header ``source,source_id,account_id``."""
    if not path.exists():
        return {}
    out: dict[tuple[str, str], str] = {}
    with path.open(newline="") as fh:
        reader = csv.DictReader(fh)
        missing = {"source", "source_id", "account_id"} - set(reader.fieldnames or [])
        if missing:
            raise LinksFileError(f"{path}: missing column(s) {', '.join(sorted(missing))}; "
                                 "the header must be source,source_id,account_id")
        for n, row in enumerate(reader, start=2):
            if not all((row.get(k) or "").strip() for k in ("source", "source_id", "account_id")):
                raise LinksFileError(f"{path}: row {n}: source, source_id and account_id must all be filled")
            out[(row["source"].strip(), row["source_id"].strip())] = row["account_id"].strip()
    return out


class Resolver:
    """Decides links for one sync run. Connectors put the links they get into their
    batch, so links commit with the records they explain. Reads go through ``reader``, a
    second connection, because pages are read on a thread while others commit."""

    def __init__(self, store: Store, primary: str, overrides: dict[tuple[str, str], str]):
        self.store = store
        self.reader = store.con.cursor()
        self._lock = threading.Lock()  # streams of one stage read concurrently
        self.primary = primary
        self.overrides = overrides
        self._known: dict[tuple[str, str], str | None] = {
            (s, i): a for s, i, a in self.reader.execute("SELECT source, source_id, account_id FROM account_links").fetchall()
        }
        self._domains: dict[str, list[str]] | None = None

    def _emit(self, link: Link) -> Link:
        self._known[(link.source, link.source_id)] = link.account_id
        return link

    def query(self, sql: str, params: list) -> list[dict]:
        """Committed store rows, for connectors reading on their own threads."""
        with self._lock:
            cur = self.reader.execute(sql, params)
            names = [d[0] for d in cur.description]
            return [dict(zip(names, r)) for r in cur.fetchall()]

    def stored_cursor(self, source: str, stream: str) -> str | None:
        rows = self.query("SELECT cursor FROM sync_state WHERE source = ? AND stream = ?", [source, stream])
        return rows[0]["cursor"] if rows else None

    def _override(self, source: str, source_id: str) -> Link | None:
        acct = self.overrides.get((source, source_id))
        return Link(source, source_id, acct, "override") if acct else None

    def primary_account(self, source: str, source_id: str, key: str | None) -> Link:
        """A CRM account: canonical when its CRM is primary, else linked by domain."""
        return self._emit(self._override(source, source_id) or Link(source, source_id, key or source_id, "primary"))

    def by_domain(self, source: str, source_id: str, domain: str | None, metadata_account: str | None = None) -> Link:
        """A billing customer or secondary-CRM company."""
        link = self._override(source, source_id)
        if link is None and metadata_account:
            link = Link(source, source_id, metadata_account, "metadata")
        if link is None:
            link = self._match_domain(source, source_id, domain_of(domain))
        return self._emit(link)

    def _match_domain(self, source: str, source_id: str, domain: str | None) -> Link:
        found = self.domains().get(domain, []) if domain and domain not in FREE_MAIL else []
        if len(found) == 1:
            return Link(source, source_id, found[0], "domain")
        if len(found) > 1:
            return Link(source, source_id, None, "ambiguous", tuple(sorted(found)))
        return Link(source, source_id, None, "unmatched")

    def domains(self) -> dict[str, list[str]]:
        """Primary accounts by domain (as stored by earlier syncs and this one)."""
        if self._domains is None:
            rows = self.query(
                "SELECT lower(domain) AS d, account_id FROM accounts WHERE source = ? AND NOT deleted AND domain IS NOT NULL",
                [self.primary])
            self._domains = {}
            for dom, acct in ((r["d"], r["account_id"]) for r in rows):
                self._domains.setdefault(domain_of(dom), []).append(acct)
        return self._domains

    def account_for(self, source: str, source_id: str | None) -> str | None:
        """The account a child record (deal, subscription, invoice) belongs to."""
        if not source_id:
            return None
        override = self.overrides.get((source, source_id))
        if override:
            return override
        key = (source, source_id)
        if key in self._known:
            return self._known[key] or placeholder(source, source_id)
        return source_id if source == self.primary else placeholder(source, source_id)

    def close(self) -> None:
        self.reader.close()


def write_links(con, links: list[Link]) -> int:
    """Store links inside the caller's transaction (the last word per record wins)."""
    latest = list({(l.source, l.source_id): l for l in links}.values())
    if not latest:
        return 0
    cols = {"source": [l.source for l in latest], "source_id": [l.source_id for l in latest],
            "account_id": [l.account_id for l in latest], "method": [l.method for l in latest],
            "candidates": [",".join(l.candidates) or None for l in latest]}
    con.register("_links", pa.table({k: pa.array(v, pa.string()) for k, v in cols.items()}))
    try:
        con.execute("INSERT OR REPLACE INTO account_links SELECT *, ? FROM _links", [utcnow()])
    finally:
        con.unregister("_links")
    return len(latest)


def relink(store: Store, overrides: dict[tuple[str, str], str]) -> list[str]:
    """Apply links-file entries that changed since the last sync to records already stored.

    A record of an unmatched customer carries the placeholder ``source:id``, unique to
    that customer, so its rows can be re-pointed in place (through the store's upsert, so
    hashes stay right). A customer moved from one real account to another cannot be
    told apart from other customers of that account by its rows alone: its source is
    returned so the caller re-reads that source in full.
    """
    stored = {(s, i): a for s, i, a in store.con.execute("SELECT source, source_id, account_id FROM account_links").fetchall()}
    moved = {key: acct for key, acct in overrides.items() if key in stored and stored[key] != acct}
    full: set[str] = set()
    with store.transaction() as con:
        for (source, source_id), acct in moved.items():
            if stored[(source, source_id)] is not None:
                full.add(source)
                continue
            for kind in KINDS.values():
                if "account_id" in kind.columns:
                    _repoint(store, con, kind, source, placeholder(source, source_id), acct)
        write_links(con, [Link(s, i, a, "override") for (s, i), a in moved.items()])
    return sorted(full)


def _repoint(store: Store, con, kind, source: str, old: str, new: str) -> None:
    cur = con.execute(f"SELECT source_id, {', '.join(kind.columns)} FROM {kind.table} "
                      "WHERE source = ? AND account_id = ? AND NOT deleted", [source, old])
    names = [d[0] for d in cur.description]
    rows = [{**dict(zip(names, r)), "account_id": new} for r in cur.fetchall()]
    if rows:
        store.upsert(kind, source, pa.Table.from_pylist(rows))


def unmatched(store: Store) -> list[dict]:
    """Unmatched and ambiguous links with the monthly revenue riding on them.

    MRR = Σ mrr of the source's live contract lines carrying the placeholder id, so the
    list is sorted by what fixing each link is worth.
    """
    rows = store.con.execute(
        """SELECT l.source, l.source_id, l.method, l.candidates, a.name, a.domain,
                  coalesce(sum(c.mrr), 0) AS mrr, min(c.currency) AS currency
           FROM account_links l
           LEFT JOIN accounts a ON a.source = l.source AND a.source_id = l.source_id AND NOT a.deleted
           LEFT JOIN contract_lines c ON c.source = l.source AND NOT c.deleted
                AND c.account_id = l.source || ':' || l.source_id
           WHERE l.method IN ('unmatched', 'ambiguous')
           GROUP BY ALL ORDER BY mrr DESC, l.source, l.source_id""").fetchall()
    cols = ("source", "source_id", "method", "candidates", "name", "domain", "mrr", "currency")
    return [dict(zip(cols, r)) for r in rows]

