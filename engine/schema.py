"""Versioned store schema: an ordered list of migrations applied on open.

A migration is an id, a description and SQL statements. The store records applied ids
in ``schema_migrations`` and applies the missing ones, in order, inside one
transaction, so a store is never left half-migrated. Add new migrations at the end;
never edit one that has shipped.
"""

from __future__ import annotations

from dataclasses import dataclass

from engine.records import KINDS, META_COLUMNS


@dataclass(frozen=True)
class Migration:
    id: str
    description: str
    statements: tuple[str, ...]


def _record_table_ddl() -> tuple[str, ...]:
    statements = []
    for kind in KINDS.values():
        cols = {**kind.columns, **META_COLUMNS}
        body = ",\n  ".join(f"{name} {ctype}" for name, ctype in cols.items())
        statements.append(f"CREATE TABLE IF NOT EXISTS {kind.table} (\n  {body}\n)")
    return tuple(statements)


MIGRATIONS: list[Migration] = [
    Migration(
        "0001_records",
        "canonical record tables",
        _record_table_ddl(),
    ),
    Migration(
        "0002_bookkeeping",
        "sync cursors, account links, runs",
        (
            """CREATE TABLE IF NOT EXISTS sync_state (
                source VARCHAR NOT NULL,
                stream VARCHAR NOT NULL,
                cursor VARCHAR,
                updated_at TIMESTAMP NOT NULL,
                PRIMARY KEY (source, stream)
            )""",
            """CREATE TABLE IF NOT EXISTS account_links (
                source VARCHAR NOT NULL,
                source_id VARCHAR NOT NULL,
                account_id VARCHAR,
                method VARCHAR NOT NULL,
                candidates VARCHAR,
                updated_at TIMESTAMP NOT NULL,
                PRIMARY KEY (source, source_id)
            )""",
            """CREATE TABLE IF NOT EXISTS runs (
                run_id VARCHAR PRIMARY KEY,
                command VARCHAR NOT NULL,
                started_at TIMESTAMP NOT NULL,
                finished_at TIMESTAMP,
                status VARCHAR NOT NULL,
                summary VARCHAR
            )""",
        ),
    ),
    Migration(
        "0003_engine_outputs",
        "score snapshots, trigger events, write-back audit",
        (
            """CREATE TABLE IF NOT EXISTS score_snapshots (
                account_id VARCHAR NOT NULL,
                day DATE NOT NULL,
                segment VARCHAR,
                score DOUBLE,
                band VARCHAR,
                coverage DOUBLE,
                signals VARCHAR,
                computed_at TIMESTAMP NOT NULL,
                PRIMARY KEY (account_id, day)
            )""",
            """CREATE TABLE IF NOT EXISTS trigger_events (
                event_id VARCHAR PRIMARY KEY,
                account_id VARCHAR NOT NULL,
                trigger VARCHAR NOT NULL,
                kind VARCHAR NOT NULL,
                day DATE NOT NULL,
                severity VARCHAR,
                owner_role VARCHAR,
                action VARCHAR,
                sla_days INTEGER,
                evidence VARCHAR,
                status VARCHAR NOT NULL DEFAULT 'open',
                created_at TIMESTAMP NOT NULL
            )""",
            """CREATE TABLE IF NOT EXISTS writeback_audit (
                run_id VARCHAR NOT NULL,
                target VARCHAR NOT NULL,
                account_id VARCHAR NOT NULL,
                record_id VARCHAR,
                field VARCHAR NOT NULL,
                old_value VARCHAR,
                new_value VARCHAR,
                status VARCHAR NOT NULL,
                error VARCHAR,
                written_at TIMESTAMP NOT NULL
            )""",
        ),
    ),
    Migration(
        "0004_crm_values",
        "CRM health-field values as last read or written, per target record and field",
        (
            """CREATE TABLE IF NOT EXISTS crm_values (
                target VARCHAR NOT NULL,
                record_id VARCHAR NOT NULL,
                field VARCHAR NOT NULL,
                value VARCHAR,
                seen_at TIMESTAMP NOT NULL,
                PRIMARY KEY (target, record_id, field)
            )""",
        ),
    ),
]
