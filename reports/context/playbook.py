"""The playbook report's context: :func:`engine.playbooks.assign_playbooks` grouped by playbook and by owner.

Each account carries its owner (the CRM owner), ARR on the as-of date, score and 7/30-day
trend, the drivers of the 30-day change, its open triggers with their evidence, the SLA due
date and the playbook's actions. Playbooks follow the engine's order (executive escalation
first, win-back last); within one, the earliest due date and then the largest ARR come first.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pandas as pd

from engine.playbooks import ORDER, assign_playbooks, churned_accounts
from reports.context.common import HEALTH_DEFINITIONS, Brand, Definition, brand
from reports.context.data import ReportInputs


@dataclass(frozen=True)
class PlayAccount:
    account_id: str
    name: str
    owner: str
    playbook: str
    title: str
    arr: Decimal
    score: float | None
    band: str | None
    delta_7: float | None
    delta_30: float | None
    drivers: str
    triggers: tuple[dict, ...]
    owner_role: str
    due_date: dt.date
    actions: tuple[str, ...]
    escalation: str
    reason: str


@dataclass(frozen=True)
class PlaybookGroup:
    key: str
    title: str
    owner_role: str
    sla_days: int
    accounts: list[PlayAccount]

    @property
    def arr(self) -> Decimal:
        return sum((a.arr for a in self.accounts), Decimal(0))


@dataclass(frozen=True)
class OwnerSection:
    owner: str
    groups: list[PlaybookGroup]

    @property
    def count(self) -> int:
        return sum(len(g.accounts) for g in self.groups)


@dataclass(frozen=True)
class PlaybookContext:
    brand: Brand
    as_of: dt.date
    health_day: dt.date | None
    currency: str
    owner_filter: str | None
    groups: list[PlaybookGroup]
    owners: list[OwnerSection]
    definitions: list[Definition]

    @property
    def total(self) -> int:
        return sum(len(g.accounts) for g in self.groups)


def _num(v: Any) -> float | None:
    return None if v is None or pd.isna(v) else float(v)


def assignments(data: ReportInputs) -> pd.DataFrame:
    """The engine's playbook per account as of the report date (churned accounts get win-back)."""
    cfg = data.config
    churned = None
    if data.records.contracts is not None:
        churn_reasons = _churn_reasons(data)
        churned = churned_accounts(data.records.contracts, churn_reasons, data.as_of)
    timeline = data.timeline(cfg.playbooks.red_renewal_days) if data.records.contracts is not None else None
    return assign_playbooks(data.scores[["account_id", "score", "band"]], data.deltas, data.triggers, timeline,
                            churned, cfg.playbooks, data.as_of)


def _churn_reasons(data: ReportInputs):
    table = data.store.records("churn_reasons")
    return table if table.count().execute() > 0 else None


def play_account(row: dict, data: ReportInputs, moves: pd.DataFrame) -> PlayAccount:
    a = row["account_id"]
    d = moves.loc[a] if a in moves.index else None
    return PlayAccount(
        account_id=a, name=data.names.get(a, a), owner=data.owners.get(a, "Unassigned"), playbook=row["playbook"],
        title=row["title"], arr=data.arr.get(a, Decimal(0)), score=_num(row["score"]),
        band=row["band"] if isinstance(row["band"], str) else None,
        delta_7=None if d is None else _num(d["delta_7"]), delta_30=None if d is None else _num(d["delta_30"]),
        drivers="" if d is None else (d["drivers_text"] or ""), triggers=data.triggers_by_account.get(a, ()),
        owner_role=row["owner_role"], due_date=pd.Timestamp(row["due_date"]).date(), actions=tuple(row["actions"] or ()),
        escalation=row["escalation"] if isinstance(row["escalation"], str) else "", reason=row["reason"] or "")


def group(accounts: list[PlayAccount], settings: Any) -> list[PlaybookGroup]:
    """Accounts per playbook in the engine's order; empty playbooks are kept (they read as 'none')."""
    out = []
    for key in ORDER:
        p = settings.playbooks[key]
        mine = sorted((a for a in accounts if a.playbook == key), key=lambda a: (a.due_date, -a.arr, a.name))
        out.append(PlaybookGroup(key, p.title, p.owner_role, p.sla_days, mine))
    return out


def build_playbook(data: ReportInputs, owner: str | None = None) -> PlaybookContext:
    """All playbook assignments as of ``data.as_of``; ``owner`` keeps one owner's accounts (case-insensitive)."""
    rows = assignments(data)
    moves = data.deltas.set_index("account_id") if len(data.deltas) else pd.DataFrame()
    accounts = [play_account(r, data, moves) for r in rows.to_dict("records")]
    if owner:
        accounts = [a for a in accounts if a.owner.casefold() == owner.strip().casefold()]
    settings = data.config.playbooks
    owners = sorted({a.owner for a in accounts}, key=lambda o: (o == "Unassigned", o.casefold()))
    sections = [OwnerSection(o, [g for g in group([a for a in accounts if a.owner == o], settings) if g.accounts])
                for o in owners]
    defs = [Definition("Playbook", "One per account, first rule that matches: win-back for churned accounts; "
                                   "executive escalation below 25 or with a red renewal within "
                                   f"{settings.red_renewal_days} days; active save 25–49; early warning 50–69 and "
                                   "falling; expansion 85+ with an open expansion trigger; nurture otherwise."),
            Definition("Due date", "As-of date plus the playbook's SLA days; for expansion the earliest trigger due "
                                   "date; for win-back the start of the window for the churn reason.")]
    return PlaybookContext(brand(data.config), data.as_of, data.health_day, data.revenue.reporting_currency,
                           owner, group(accounts, settings), sections, defs + HEALTH_DEFINITIONS)
