"""What every report reads from the store, gathered once per render.

Health is read from the stored daily snapshots (``score_snapshots``): the report uses the
latest snapshot day on or before the as-of date, and says which day that was.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from functools import cached_property
from typing import Any

import pandas as pd

from engine.health import Inputs, deltas
from engine.revenue import account_mrr_on
from engine.store import Store
from engine.triggers import open_triggers
from reports.errors import ReportDataError

ACCOUNT_FIELDS = ["account_id", "name", "owner", "segment", "industry"]


def latest_score_day(store: Store, as_of: dt.date) -> dt.date | None:
    """The latest day with stored snapshots that is not after ``as_of``."""
    rows = store.con.execute("SELECT max(day) FROM score_snapshots WHERE day <= ?", [as_of]).fetchall()
    row = rows[0] if rows else None
    return None if row is None or row[0] is None else pd.Timestamp(row[0]).date()


def scores_on(store: Store, day: dt.date | None) -> pd.DataFrame:
    """account_id, score, band, coverage of the snapshot on ``day`` (empty when None)."""
    cols = ["account_id", "score", "band", "coverage"]
    if day is None:
        return pd.DataFrame(columns=cols)
    return store.con.execute(f"SELECT {', '.join(cols)} FROM score_snapshots WHERE day = ? ORDER BY account_id",
                             [day]).df()


@dataclass
class ReportInputs:
    """The store, the project's settings and the as-of date, with lazily read engine results."""

    store: Store
    config: Any
    as_of: dt.date
    _cache: dict = field(default_factory=dict, repr=False)

    @cached_property
    def records(self) -> Inputs:
        return Inputs.from_store(self.store, self.config.revenue.source)

    @property
    def revenue(self):
        return self.config.revenue.settings()

    @cached_property
    def contracts(self):
        if self.records.contracts is None:
            raise ReportDataError("no contract lines in the store: import or sync contracts first (`nrr sync`)")
        return self.records.contracts

    @cached_property
    def accounts(self) -> pd.DataFrame:
        acc = self.records.accounts
        present = [c for c in ACCOUNT_FIELDS if c in acc.columns]
        return acc.select(*present).to_pandas().reindex(columns=ACCOUNT_FIELDS).sort_values("account_id")

    @cached_property
    def names(self) -> dict[str, str]:
        return {a: (n if isinstance(n, str) and n else a) for a, n in zip(self.accounts["account_id"], self.accounts["name"])}

    @cached_property
    def owners(self) -> dict[str, str]:
        return {a: (o if isinstance(o, str) and o else "Unassigned")
                for a, o in zip(self.accounts["account_id"], self.accounts["owner"])}

    @cached_property
    def health_day(self) -> dt.date | None:
        return latest_score_day(self.store, self.as_of)

    @cached_property
    def scores(self) -> pd.DataFrame:
        return scores_on(self.store, self.health_day)

    @cached_property
    def deltas(self) -> pd.DataFrame:
        if self.health_day is None:
            return pd.DataFrame(columns=["account_id", "score", "band", "delta_7", "delta_30", "drivers", "drivers_text"])
        return deltas(self.store, self.health_day, self.config.health, window=30)

    @cached_property
    def triggers(self) -> pd.DataFrame:
        return open_triggers(self.store, self.as_of, self.config.triggers)

    @cached_property
    def triggers_by_account(self) -> dict[str, tuple[dict, ...]]:
        """Open triggers grouped once per account (a report looks up every account)."""
        return trigger_rows_by_account(self.triggers)

    @cached_property
    def arr(self) -> dict[str, Decimal]:
        """ARR per paying account on the as-of date (12 × MRR, reporting currency)."""
        if self.records.contracts is None:
            return {}
        rows = account_mrr_on(self.records.contracts, self.revenue, self.as_of).to_pyarrow().to_pylist()
        return {r["account_id"]: Decimal(r["mrr"]) * 12 for r in rows}

    def timeline(self, days: int):
        """The renewal timeline for ``days`` from the as-of date.

        Computed once for the longest horizon asked for; a shorter one is its subset
        (renewals with days_to_renewal ≤ days and their milestones), so the engine's usage
        features are read once per report.
        """
        from engine.renewals import RenewalTimeline, outlook

        full = self._cache.get("timeline")
        if full is None or full.days < days:
            full = self._cache["timeline"] = self._compute_timeline(days)
        if full.days == days:
            return full
        r = full.renewals[full.renewals["days_to_renewal"] <= days].reset_index(drop=True)
        last = self.as_of + dt.timedelta(days=days)
        m = full.milestones[[d <= last for d in full.milestones["renewal_date"]]].reset_index(drop=True)
        return RenewalTimeline(self.as_of, days, r, m, outlook(r, self.config.renewals.outlook_windows, days))

    def use_timeline(self, timeline) -> None:
        """Take a timeline already computed from this store on this as-of date (the run's
        renewals step), so the reports do not compute it again."""
        if timeline.as_of != self.as_of:
            raise ValueError(f"timeline is as of {timeline.as_of}, the reports as of {self.as_of}")
        self._cache["timeline"] = timeline

    def _compute_timeline(self, days: int):
        from engine.renewals import RenewalDataError, renewal_timeline

        cfg = self.config
        try:
            return renewal_timeline(self.records, self.scores[["account_id", "score", "band"]], self.triggers,
                                    cfg.renewals, self.as_of, days, revenue=self.revenue, trigger_settings=cfg.triggers)
        except RenewalDataError as exc:
            raise ReportDataError(str(exc)) from None

    def score_distribution(self, day: dt.date | None) -> pd.DataFrame:
        return scores_on(self.store, day)

    def history_day(self, days_back: int) -> dt.date | None:
        """The comparison snapshot day for health movement: latest on or before health_day − days_back."""
        if self.health_day is None:
            return None
        return latest_score_day(self.store, self.health_day - dt.timedelta(days=days_back))


def trigger_rows_by_account(triggers: pd.DataFrame | None) -> dict[str, tuple[dict, ...]]:
    """Each account's open triggers as plain dicts (trigger, kind, severity, day, due, evidence)."""
    out: dict[str, list[dict]] = {}
    if triggers is None or triggers.empty:
        return {}
    for r in triggers.itertuples(index=False):
        out.setdefault(r.account_id, []).append({
            "trigger": r.trigger, "kind": r.kind, "severity": r.severity, "day": r.day, "due_date": r.due_date,
            "action": r.action, "evidence": evidence_text(r.evidence)})
    return {a: tuple(rows) for a, rows in out.items()}


def evidence_text(evidence: dict) -> str:
    """``plan usage ratio 0.82, usage 30 60,322 (rule: ≥ 0.8)`` from a trigger's evidence dict."""
    if not isinstance(evidence, dict):
        return ""
    shown = ", ".join(f"{k.replace('_', ' ')} {_plain(v)}" for k, v in evidence.items() if k not in ("op", "threshold"))
    if "threshold" in evidence:
        op = {">=": "≥", "<=": "≤"}.get(str(evidence.get("op", "")), str(evidence.get("op", "")))
        shown += f" (rule: {op} {_plain(evidence['threshold'])})"
    return shown


def _plain(v: Any) -> str:
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, int):
        return f"{v:,}"
    if isinstance(v, float):
        return f"{v:,.2f}".rstrip("0").rstrip(".") if abs(v) >= 1 or v == 0 else f"{v:.3g}"
    return str(v)
