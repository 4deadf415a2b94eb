"""The record tables the health score reads, bundled as :class:`Inputs`.

A table is ``None`` when the store holds no live rows of that kind (the team has not
connected a ticketing system, say): every signal built on it is then missing, so it is left
out of the score and lowers coverage, instead of reading as "zero tickets, all good".
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import ibis

from engine.records import ACCOUNT

if TYPE_CHECKING:
    from engine.store import Store

ACCOUNT_COLUMNS = tuple(ACCOUNT.columns)


@dataclass(frozen=True)
class Inputs:
    """Ibis tables with the canonical columns of :mod:`engine.records`.

    ``ticket_sentiment`` optionally holds precomputed ``[ticket_id, sentiment]`` rows so a
    history rebuild scores each ticket's text once instead of once per day.
    """

    accounts: ibis.Table
    contracts: ibis.Table | None = None
    invoices: ibis.Table | None = None
    tickets: ibis.Table | None = None
    usage: ibis.Table | None = None
    nps: ibis.Table | None = None
    ticket_sentiment: ibis.Table | None = None

    @classmethod
    def from_store(cls, store: "Store", revenue_source: str | None = None) -> "Inputs":
        """Live records from the store.

        Contracts and invoices come from ``revenue_source`` only (the configured source of
        truth for revenue — mixing a CRM's and Stripe's copies would double-count); the other
        kinds come from every source. Accounts synced from several sources are merged into
        one row per ``account_id`` (per column, the largest non-null value).
        """
        rev = [revenue_source] if revenue_source else None

        def live(kind: str, sources=None) -> ibis.Table | None:
            table = store.records(kind, sources)
            return table if table.count().execute() > 0 else None

        accounts = store.records("accounts")
        merged = accounts.group_by("account_id").aggregate(
            **{c: accounts[c].max() for c in ACCOUNT_COLUMNS if c != "account_id"}
        )
        return cls(
            accounts=merged,
            contracts=live("contracts", rev),
            invoices=live("invoices", rev),
            tickets=live("tickets"),
            usage=live("usage"),
            nps=live("nps"),
        )

    def with_sentiment(self, scores: ibis.Table | None) -> "Inputs":
        return replace(self, ticket_sentiment=scores)
