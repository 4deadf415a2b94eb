"""Renewal timelines: upcoming renewals, milestones, R/A/G, expected ARR and outlook.

**Renewal date.** A contract line with an end date renews on ``end_date + 1`` (end dates
are the inclusive last day of service). The renewal is already booked — and so not
listed — when another line of the same account starts exactly on that day (a renewal,
upgrade or a discount split). Lines renewing on the same day are one renewal. An
evergreen line (no end date) renews monthly on the day of month it started, clamped to
the month's end (started 31 Jan → 28/29 Feb → 31 Mar); only its next renewal is listed,
and ``include_evergreen = false`` leaves evergreen lines out. Listed: renewal dates in
``[as_of, as_of + days]``. Lines without MRR (free or trial lines) do not renew, though
they do count as a booked successor.

**Milestones** at 180/120/90/60/30/14/7 days before (dated ``renewal_date − n``) and only
those on or after the line's start (no action before the term exists). Status as of the
date: *upcoming* (date > as_of), *due* (as_of within ``due_window_days`` from the date),
*overdue* (later than that, and the renewal is still unbooked).

**R/A/G** (rules in :class:`engine.renewal_settings.RagRules`): red flags = open risk
triggers; low usage = no usage in 30 days, seat utilisation below the threshold, or an
open usage trigger; no active champion = none named or silent for the threshold.
red = (≥ 1 red flag and (low usage or no active champion)) or health < 50;
amber = ≥ 1 red flag or health < 70; green otherwise.
**Expected ARR** = ARR × probability[R/A/G], ARR = 12 × MRR of the renewing lines in the
reporting currency, exact decimals rounded to cents.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import ibis
import numpy as np
import pandas as pd

from engine.renewal_settings import RAG, RenewalSettings
from engine.settings import RevenueSettings
from engine.triggers.features import TriggerInputs, compute_features
from engine.triggers.settings import TriggerSettings

CENT = Decimal("0.01")


class RenewalDataError(ValueError):
    """A contract line cannot be placed on the timeline; the message names it."""


@dataclass(frozen=True)
class RenewalTimeline:
    """``renewals``: one row per (account, renewal date); ``milestones``: one per milestone;
    ``outlook``: per window (days) and R/A/G (plus ``all``), count, ARR and expected ARR."""

    as_of: dt.date
    days: int
    renewals: pd.DataFrame
    milestones: pd.DataFrame
    outlook: pd.DataFrame

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: dates ISO, money as strings (exact)."""
        return {
            "as_of": self.as_of.isoformat(),
            "days": self.days,
            "renewals": _records(self.renewals),
            "milestones": _records(self.milestones),
            "outlook": _records(self.outlook),
        }


def _records(df: pd.DataFrame) -> list[dict[str, Any]]:
    def plain(v: Any) -> Any:
        if isinstance(v, (dt.date, Decimal)):
            return v.isoformat() if isinstance(v, dt.date) else str(v)
        if isinstance(v, (np.integer, np.floating)):
            return None if np.isnan(v) else v.item()
        if isinstance(v, float) and np.isnan(v):
            return None
        return list(v) if isinstance(v, tuple) else v

    return [{k: plain(v) for k, v in row.items()} for row in df.to_dict("records")]


def add_months(start: pd.Series, months: pd.Series) -> pd.Series:
    """``start`` + ``months`` calendar months, the day clamped to the target month's end."""
    total = start.dt.year * 12 + (start.dt.month - 1) + months
    first = pd.to_datetime(pd.DataFrame({"year": total // 12, "month": total % 12 + 1, "day": 1}))
    last_day = (first + pd.offsets.MonthEnd(0)).dt.day
    return first + pd.to_timedelta(np.minimum(start.dt.day, last_day) - 1, unit="D")


def _contract_frame(contracts: ibis.Table, as_of: dt.date, days: int) -> pd.DataFrame:
    """Lines that can renew or succeed within the horizon, as pandas."""
    c = contracts
    keep = (c.end_date.isnull() | (c.end_date >= ibis.literal(as_of - dt.timedelta(days=1)))) & (
        c.start_date <= ibis.literal(as_of + dt.timedelta(days=days + 1))
    )
    cols = ["contract_id", "account_id", "start_date", "end_date", "mrr", "currency", "auto_renew"]
    # via Arrow: its Decimal conversion is far cheaper than a per-value map
    df = c.filter(keep).select(*cols).to_pyarrow().to_pandas(date_as_object=False)
    for col in ("start_date", "end_date"):
        df[col] = pd.to_datetime(df[col]).astype("datetime64[ns]")
    return df


def _arr(lines: pd.DataFrame, revenue: RevenueSettings) -> list[Decimal]:
    out = []
    for cid, mrr, cur in zip(lines["contract_id"], lines["mrr"], lines["currency"]):
        try:
            rate = revenue.rate(str(cur))
        except KeyError:
            raise RenewalDataError(
                f"contract {cid}: no FX rate for currency {cur!r}; add it under [revenue.fx_rates] in nrr.toml"
            ) from None
        out.append(Decimal(mrr) * rate * 12)
    return out


def _term_lines(df: pd.DataFrame, as_of: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame:
    t = df[df["end_date"].notna() & (df["mrr"] > 0)].copy()
    t["renewal_date"] = t["end_date"] + pd.Timedelta(days=1)
    t = t[(t["renewal_date"] >= as_of) & (t["renewal_date"] <= end)]
    starts = df[["account_id", "start_date"]].drop_duplicates().rename(columns={"start_date": "renewal_date"})
    hit = t[["account_id", "renewal_date"]].merge(starts.assign(_booked=True), how="left", on=["account_id", "renewal_date"])
    t = t[~hit["_booked"].fillna(False).astype(bool).to_numpy()]
    return t.assign(term="term")


def _evergreen_lines(df: pd.DataFrame, as_of: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame:
    e = df[df["end_date"].isna() & (df["start_date"] <= as_of) & (df["mrr"] > 0)].copy()
    if e.empty:
        return e.assign(renewal_date=pd.Series(dtype="datetime64[ns]"), term="evergreen-monthly")
    k = (as_of.year - e["start_date"].dt.year) * 12 + (as_of.month - e["start_date"].dt.month)
    cand = add_months(e["start_date"], k)
    k = k.where(cand > as_of, k + 1)
    e["renewal_date"] = add_months(e["start_date"], k).values
    e["start_date"] = add_months(e["start_date"], k - 1).values  # the current monthly term
    return e[e["renewal_date"] <= end].assign(term="evergreen-monthly")


def renewing_lines(contracts: ibis.Table, as_of: dt.date, days: int, settings: RenewalSettings) -> pd.DataFrame:
    """Contract lines with an unbooked renewal in ``[as_of, as_of + days]`` and its date."""
    df = _contract_frame(contracts, as_of, days)
    a, end = pd.Timestamp(as_of), pd.Timestamp(as_of + dt.timedelta(days=days))
    parts = [_term_lines(df, a, end)]
    if settings.include_evergreen:
        parts.append(_evergreen_lines(df, a, end))
    return pd.concat([p for p in parts if not p.empty] or [parts[0]], ignore_index=True)


def renewal_dates(
    contracts: ibis.Table, as_of: dt.date, days: int, settings: RenewalSettings, revenue: RevenueSettings
) -> pd.DataFrame:
    """Upcoming renewals: account_id, renewal_date, days_to_renewal, term, term_start,
    contract_ids, auto_renew, arr (Decimal, reporting currency)."""
    lines = renewing_lines(contracts, as_of, days, settings)
    lines["arr"] = _arr(lines, revenue) if len(lines) else []
    groups: dict[tuple, list] = {}
    lines = lines.sort_values("contract_id")
    ns = lambda col: lines[col].astype("datetime64[ns]").astype("int64").tolist()  # noqa: E731
    for acc, rd, term, start, cid, auto, arr in zip(lines["account_id"].tolist(), ns("renewal_date"),
                                                   lines["term"].tolist(), ns("start_date"),
                                                   lines["contract_id"].tolist(), lines["auto_renew"].tolist(),
                                                   lines["arr"].tolist()):
        g = groups.setdefault((acc, rd, term), [start, [], True, Decimal(0)])
        g[0] = min(g[0], start)
        g[1].append(str(cid))
        g[2] = g[2] and auto is True
        g[3] += arr
    out = pd.DataFrame(
        [(a, rd, term, start, tuple(ids), auto, arr.quantize(CENT)) for (a, rd, term), (start, ids, auto, arr) in groups.items()],
        columns=["account_id", "renewal_date", "term", "term_start", "contract_ids", "auto_renew", "arr"],
    )
    out["renewal_date"] = pd.to_datetime(out["renewal_date"])
    out["term_start"] = pd.to_datetime(out["term_start"])
    out["days_to_renewal"] = (out["renewal_date"] - pd.Timestamp(as_of)).dt.days.astype("int64")
    return out.sort_values(["account_id", "renewal_date"], ignore_index=True)


def milestone_rows(renewals: pd.DataFrame, settings: RenewalSettings, as_of: dt.date) -> pd.DataFrame:
    """One row per applicable milestone with its date and status as of ``as_of``."""
    ms = pd.DataFrame([(m.days_before, m.action, m.owner) for m in settings.milestones],
                      columns=["days_before", "action", "owner"])
    r = renewals[["account_id", "renewal_date", "term_start"]].merge(ms, how="cross")
    r["date"] = r["renewal_date"] - pd.to_timedelta(r["days_before"], unit="D")
    r = r[r["date"] >= r["term_start"]].copy()
    a, window = pd.Timestamp(as_of), pd.Timedelta(days=settings.due_window_days)
    r["status"] = np.where(r["date"] > a, "upcoming", np.where(a < r["date"] + window, "due", "overdue"))
    out = r[["account_id", "renewal_date", "days_before", "date", "action", "owner", "status"]].reset_index(drop=True)
    for c in ("renewal_date", "date"):
        out[c] = pd.to_datetime(out[c]).astype("datetime64[ns]")
    return out


def _next_milestones(milestones: pd.DataFrame) -> pd.DataFrame:
    """Per renewal, the due milestone if any, else the earliest upcoming one."""
    live = milestones[milestones["status"] != "overdue"].copy()
    live["rank"] = (live["status"] != "due").astype(int)
    live = live.sort_values(["account_id", "renewal_date", "rank", "date"])
    first = live.groupby(["account_id", "renewal_date"], sort=False).head(1)
    return first.rename(columns={"days_before": "next_milestone", "date": "next_milestone_date",
                                 "action": "next_milestone_action", "owner": "next_milestone_owner"}).drop(
        columns=["status", "rank"])


def _flags(open_triggers: pd.DataFrame, severities: tuple[str, ...]) -> dict[str, tuple[str, ...]]:
    if open_triggers is None or open_triggers.empty:
        return {}
    risk = open_triggers[(open_triggers["kind"] == "risk") & open_triggers["severity"].isin(severities)]
    flags: dict[str, set] = {}
    for acc, trig in zip(risk["account_id"].tolist(), risk["trigger"].tolist()):
        flags.setdefault(acc, set()).add(trig)
    return {a: tuple(sorted(t)) for a, t in flags.items()}


def classify_rag(renewals: pd.DataFrame, features: pd.DataFrame, open_triggers: pd.DataFrame,
                 settings: RenewalSettings) -> pd.DataFrame:
    """Adds red_flags, low_usage, no_champion, rag and rag_reasons (see module docstring)."""
    r, rules = renewals.copy(), settings.rag
    flags = _flags(open_triggers, rules.red_flag_severities)
    r["red_flags"] = [flags.get(a, ()) for a in r["account_id"].tolist()]
    f = features.set_index("account_id").reindex(r["account_id"])
    seats = f["licensed_seats"].astype("float64")
    util = f["active_users_30"].astype("float64") / seats.where(seats > 0)
    usage_flag = np.array([bool(set(fl) & set(rules.low_usage_triggers)) for fl in r["red_flags"]], dtype=bool)
    low = (f["usage_30"].fillna(0) <= 0) | (util < rules.low_seat_utilisation)
    r["low_usage"] = low.to_numpy(dtype=bool) | usage_flag
    silent = f["champion_silent_days"]
    r["no_champion"] = (f["champion_user_id"].isna() | (silent >= rules.champion_inactive_days)).to_numpy(dtype=bool)
    r["seat_utilisation"] = util.round(3).to_numpy()
    cols = r[["score", "red_flags", "low_usage", "no_champion"]]
    rag, reasons = zip(*(_rag_one(row, rules) for row in cols.itertuples(index=False))) if len(r) else ((), ())
    r["rag"], r["rag_reasons"] = list(rag), list(reasons)
    return r


def _rag_one(row: Any, rules: Any) -> tuple[str, tuple[str, ...]]:
    score, n = row.score, len(row.red_flags)
    why = []
    if n:
        why.append("red flags: " + ", ".join(row.red_flags))
    low = pd.notna(score) and score < rules.red_health_below
    if low:
        why.append(f"health {score:g} < {rules.red_health_below:g}")
    if n and (row.low_usage or row.no_champion):
        why += ["low usage"] * bool(row.low_usage) + ["no active champion"] * bool(row.no_champion)
        return "red", tuple(why)
    if low:
        return "red", tuple(why)
    if pd.notna(score) and score < rules.amber_health_below:
        why.append(f"health {score:g} < {rules.amber_health_below:g}")
    return ("amber" if why else "green"), tuple(why)


def outlook(renewals: pd.DataFrame, windows: tuple[int, ...], days: int) -> pd.DataFrame:
    """Totals of renewals within each window (cumulative: ≤ 30, ≤ 60, …) by R/A/G and overall."""
    rows = []
    for w in [w for w in windows if w <= days] or [days]:
        inside = renewals[renewals["days_to_renewal"] <= w]
        for rag in (*RAG, "all"):
            part = inside if rag == "all" else inside[inside["rag"] == rag]
            rows.append((w, rag, len(part), sum(part["arr"], Decimal(0)), sum(part["expected_arr"], Decimal(0))))
    return pd.DataFrame(rows, columns=["window_days", "rag", "renewals", "arr", "expected_arr"])


def _date_columns(df: pd.DataFrame, cols: tuple[str, ...]) -> pd.DataFrame:
    for c in cols:
        if c in df:
            d = pd.to_datetime(df[c])
            df[c] = pd.Series(d.dt.date, index=df.index, dtype=object).where(d.notna(), None)
    return df


def renewal_timeline(
    inputs: TriggerInputs,
    scores: pd.DataFrame,
    open_triggers: pd.DataFrame | None,
    settings: RenewalSettings,
    as_of: dt.date,
    days: int = 180,
    *,
    revenue: RevenueSettings | None = None,
    features: pd.DataFrame | None = None,
    trigger_settings: TriggerSettings | None = None,
) -> RenewalTimeline:
    """Renewals within ``days`` of ``as_of`` with milestones, R/A/G, expected ARR and outlook.

    ``scores``: account_id, score, band (health as of the date). ``open_triggers``: the
    open trigger events (account_id, trigger, kind, severity). ``features`` may be passed
    when already computed for the triggers, to avoid a second pass over usage.
    """
    revenue = revenue or RevenueSettings()
    if inputs.contracts is None:
        raise RenewalDataError("no contract lines in the store: import or sync contracts first")
    r = renewal_dates(inputs.contracts, as_of, days, settings, revenue)
    if features is None:
        features = compute_features(inputs, trigger_settings or TriggerSettings(), as_of)
    present = [c for c in ("account_id", "name", "owner", "segment") if c in inputs.accounts.columns]
    acc = inputs.accounts.select(*present).to_pandas().reindex(columns=["account_id", "name", "owner", "segment"])
    r = r.merge(acc, on="account_id", how="left")
    sc = scores[["account_id", "score", "band"]] if len(scores) else pd.DataFrame(columns=["account_id", "score", "band"])
    r = r.merge(sc, on="account_id", how="left")
    r["score"] = r["score"].astype("float64")
    r = classify_rag(r, features, open_triggers, settings)
    r["probability"] = [settings.probability[g] for g in r["rag"]]
    r["expected_arr"] = [(arr * p).quantize(CENT) for arr, p in zip(r["arr"], r["probability"])]
    ms = milestone_rows(r, settings, as_of)
    r["renewal_date"] = r["renewal_date"].astype("datetime64[ns]")
    r = r.merge(_next_milestones(ms), on=["account_id", "renewal_date"], how="left")
    r = r.sort_values(["renewal_date", "account_id"], ignore_index=True)
    out = outlook(r, settings.outlook_windows, days)
    r = _date_columns(r, ("renewal_date", "term_start", "next_milestone_date"))
    ms = _date_columns(ms.sort_values(["renewal_date", "account_id", "date"], ignore_index=True),
                       ("renewal_date", "date"))
    return RenewalTimeline(as_of, days, r, ms, out)
