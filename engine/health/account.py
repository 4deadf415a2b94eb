"""One account's health, for `nrr account`: score, band, trend, every signal, drivers.

The score for ``as_of`` is the stored snapshot when there is one (so it agrees with the CRM
fields and reports written from it); otherwise it is computed live and not stored.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass, field, replace

import pandas as pd

from engine.health.drivers import SLACK_DAYS, contribution, driver_changes, drivers_text
from engine.health.errors import AccountNotFound
from engine.health.inputs import Inputs
from engine.health.score import score_accounts
from engine.health.settings import HealthSettings
from engine.health.signals import compute_signals
from engine.health.snapshots import score_history
from engine.store import Store

TREND_DAYS = 30


@dataclass
class AccountHealth:
    account_id: str
    name: str
    segment: str | None
    day: dt.date
    score: float | None
    band: str | None
    coverage: float
    stored: bool
    delta_7: float | None = None
    delta_30: float | None = None
    drivers: list[tuple[str, float]] = field(default_factory=list)
    drivers_text: str = ""
    trend: list[tuple[dt.date, float]] = field(default_factory=list)
    signals: list[dict] = field(default_factory=list)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["day"] = self.day.isoformat()
        d["trend"] = [(day.isoformat(), s) for day, s in self.trend]
        return d


def find_account(store: Store, key: str) -> tuple[str, str]:
    """``(account_id, name)`` for an exact id, an exact name (any case) or a unique name fragment."""
    accounts = store.records("accounts").select("account_id", "name").distinct().to_pandas()
    for match in (accounts["account_id"] == key, accounts["name"].str.lower() == key.lower(),
                  accounts["name"].str.lower().str.contains(key.lower(), regex=False, na=False)):
        hits = accounts[match]
        if len(hits) == 1:
            return hits.iloc[0]["account_id"], hits.iloc[0]["name"]
        if len(hits) > 1:
            names = ", ".join(f"{r.name} ({r.account_id})" for r in hits.head(5).itertuples())
            raise AccountNotFound(f"{key!r} matches {len(hits)} accounts: {names}; give the account id")
    raise AccountNotFound(f"no account with id or name {key!r}: check `nrr status` or the spelling")


def _live_row(store: Store, settings: HealthSettings, account_id: str, as_of: dt.date,
              revenue_source: str | None) -> pd.Series | None:
    records = Inputs.from_store(store, revenue_source)
    one = records.accounts.filter(records.accounts.account_id == account_id)
    scored = score_accounts(compute_signals(replace(records, accounts=one), settings, as_of), settings, as_of)
    return scored.iloc[0] if len(scored) else None


def _before(hist: pd.DataFrame, as_of: dt.date, days: int) -> pd.Series | None:
    hi = as_of - dt.timedelta(days=days)
    rows = hist[(hist["day"] <= hi) & (hist["day"] >= hi - dt.timedelta(days=SLACK_DAYS))]
    return rows.iloc[-1] if len(rows) else None


def _signal_rows(signals: dict, settings: HealthSettings) -> list[dict]:
    rows = []
    for name, spec in settings.signals.items():
        entry = signals.get(name, {})
        rows.append({"signal": name, "label": spec.label, "category": spec.category, "value": entry.get("value"),
                     "points": entry.get("points"), "weight": entry.get("weight", 0.0),
                     "contribution": round(contribution(entry), 1)})
    return rows


def account_health(store: Store, settings: HealthSettings, key: str, as_of: dt.date, *,
                   revenue_source: str | None = None) -> AccountHealth:
    """Everything `nrr account` shows about health for the account named or identified by ``key``."""
    account_id, name = find_account(store, key)
    hist = score_history(store, account_id, since=as_of - dt.timedelta(days=TREND_DAYS + SLACK_DAYS))
    hist = hist[hist["day"] <= as_of]
    stored = bool(len(hist)) and hist.iloc[-1]["day"] == as_of
    row = hist.iloc[-1] if stored else _live_row(store, settings, account_id, as_of, revenue_source)
    if row is None:
        raise AccountNotFound(f"{name} ({account_id}) has no active contract on {as_of}, so it has no health score")
    out = AccountHealth(account_id=account_id, name=name, segment=row["segment"], day=as_of,
                        score=_float(row["score"]), band=row["band"], coverage=float(row["coverage"]), stored=stored,
                        signals=_signal_rows(row["signals"], settings),
                        trend=[(d, float(s)) for d, s in zip(hist["day"], hist["score"])
                               if d > as_of - dt.timedelta(days=TREND_DAYS) and pd.notna(s)])
    for days, attr in ((7, "delta_7"), (30, "delta_30")):
        prev = _before(hist, as_of, days)
        if prev is not None and out.score is not None and pd.notna(prev["score"]):
            setattr(out, attr, round(out.score - float(prev["score"]), 1))
            if days == 7:
                out.drivers = driver_changes(row["signals"], prev["signals"])
                out.drivers_text = drivers_text(out.drivers, settings)
    return out


def _float(v) -> float | None:
    return None if v is None or pd.isna(v) else float(v)
