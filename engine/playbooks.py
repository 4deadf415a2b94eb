"""One playbook per account: who acts, by when, and what they do.

Assignment (first rule that matches; thresholds in :class:`PlaybookSettings`, defaults
from the domain notes' intervention playbooks by risk level and expansion-by-health table):

1. **win_back** — the account churned (``churned``), until its win-back window closes.
   Timing by churn reason (domain win-back table): champion left 30–60 days, budget
   60–90, poor onboarding 90–120, competitor 6–12 months, missing feature from 30 days
   (announce when it ships); company change and other reasons follow the 90–180-day
   re-qualification phase. Due date = churn day + window start.
2. **executive_escalation** — health < 25, or a red renewal within ``red_renewal_days``.
3. **active_save** — health 25–49.
4. **early_warning** — health 50–69 and falling: 7- or 30-day change ≤ −``falling_points``
   or an open risk trigger.
5. **expansion** — health ≥ 85 with an open expansion trigger; due when the earliest of
   those triggers is due.
6. **nurture** — everything else that has a score (70–84, ≥ 85 without an expansion
   trigger, and 50–69 holding steady — for those the soft-expansion step is left out,
   because expansion asks below 70 are the anti-pattern the notes warn about).

Due date = ``as_of`` + the playbook's SLA days unless stated above.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pandas as pd
from pydantic import Field

from engine.settings import EngineModel

ORDER = ("executive_escalation", "active_save", "early_warning", "expansion", "nurture", "win_back")


class PlaybookDef(EngineModel):
    title: str
    owner_role: str
    sla_days: int = Field(ge=0)
    actions: tuple[str, ...]
    escalation: str = ""


class WinBack(EngineModel):
    start_days: int = Field(ge=0)
    end_days: int = Field(ge=0)
    approach: str
    message: str
    owner_role: str = "CSM"


def _defaults() -> dict[str, PlaybookDef]:
    p = PlaybookDef
    return {
        "executive_escalation": p(title="Executive escalation", owner_role="VP CS or founder", sla_days=0, actions=(
            "Executive-to-executive outreach", "On-site or video call, not email",
            "Bespoke offer: custom feature, pricing flexibility, dedicated support",
            "If the save fails: graceful offboarding and win-back preparation"),
            escalation="If the save fails, add to the 90-day win-back sequence"),
        "active_save": p(title="Active save", owner_role="Senior CSM or CS Manager", sla_days=1, actions=(
            "Full account review: timeline of degradation, all signals",
            "Direct, open-ended conversation with the champion",
            "Build a 30-day recovery plan with specific milestones",
            "Offer concessions if appropriate (training, premium support, temporary feature access)",
            "Identify and build a relationship with a second stakeholder"),
            escalation="No improvement in 21 days: executive escalation"),
        "early_warning": p(title="Early warning", owner_role="CSM", sla_days=2, actions=(
            "Review the health dashboard: which signals degraded",
            "Casual check-in sharing resources similar teams found valuable",
            "Engagement concern: targeted value content for their use case",
            "Product concern: escalate to the product team, offer a workaround"),
            escalation="No improvement in 14 days: active save"),
        "expansion": p(title="Expansion", owner_role="CSM", sla_days=7, actions=(
            "Proactive, direct expansion conversation (CSM + in-app)",
            "Show usage trajectory and what the next tier unlocks",
            "Advocacy ask: case study, referral or review")),
        "nurture": p(title="Nurture", owner_role="CSM", sla_days=14, actions=(
            "Monitor and share best practices (bi-weekly check-in)",
            "Nurture with value content and community invitations",
            "Soft expansion via feature education after a value milestone")),
        "win_back": p(title="Win-back", owner_role="CSM", sla_days=0, actions=()),
    }


def _win_back_defaults() -> dict[str, WinBack]:
    w = WinBack
    return {
        "missing_feature": w(start_days=30, end_days=365, approach="Announce when the feature ships",
                             message="You asked for [feature]. We built it. Come see."),
        "budget": w(start_days=60, end_days=90, approach="Re-engage at adjusted terms",
                    message="We have new plans that might work better for your team."),
        "champion_left": w(start_days=30, end_days=60, approach="Reach new stakeholders",
                           message="Teams at [company] used to rely on [product]; your team might benefit too."),
        "poor_onboarding": w(start_days=90, end_days=120, approach="Offer white-glove re-onboarding",
                             message="We've completely revamped our onboarding. Give us another shot."),
        "competitor": w(start_days=180, end_days=365, approach="Monitor for competitor dissatisfaction",
                        message="Trigger on intent signals or competitor negative press.", owner_role="AE"),
        "company_change": w(start_days=90, end_days=180, approach="'Things have changed' update, then a re-evaluation offer",
                            message="Offer a reactivation path on flexible terms."),
        "other": w(start_days=90, end_days=180, approach="Strategic re-qualification",
                   message="Quarterly product roundup; trigger-based outreach; final outreach or archive at day 180."),
    }


class PlaybookSettings(EngineModel):
    playbooks: dict[str, PlaybookDef] = Field(default_factory=_defaults)
    win_back: dict[str, WinBack] = Field(default_factory=_win_back_defaults)
    expansion_min: float = 85.0
    nurture_min: float = 70.0
    early_warning_min: float = 50.0
    active_save_min: float = 25.0
    falling_points: float = 3.0
    falling_on_risk_trigger: bool = True
    red_renewal_days: int = 90


COLUMNS = ["account_id", "playbook", "title", "score", "band", "owner_role", "sla_days", "due_date", "actions",
           "escalation", "reason", "triggers", "renewal_date", "rag", "churn_reason", "window_end"]


def _by_account(df: pd.DataFrame | None, cols: list[str]) -> dict[str, dict[str, Any]]:
    """``{account_id: {col: value}}`` — plain dictionaries: a lookup per account in the
    assignment loop costs microseconds, where ``DataFrame.loc`` costs ~100 µs."""
    if df is None or len(df) == 0:
        return {}
    frame = df.reindex(columns=cols)
    rest = cols[1:]
    return {acc: dict(zip(rest, values)) for acc, *values in zip(*(frame[c] for c in cols))}


def _red_renewals(renewals: Any, s: PlaybookSettings) -> dict[str, tuple]:
    r = getattr(renewals, "renewals", renewals)
    if r is None or len(r) == 0:
        return {}
    red = r[(r["rag"] == "red") & (r["days_to_renewal"] <= s.red_renewal_days)].sort_values("days_to_renewal")
    return {a: (g, rag) for a, g, rag in zip(red["account_id"], red["renewal_date"], red["rag"])}


#: An open trigger as the assignment uses it.
Trigger = tuple[str, str, Any]   # (kind, trigger, due_date)


def _open(triggers: pd.DataFrame | None) -> dict[str, list[Trigger]]:
    """Open triggers grouped by account as ``(kind, trigger, due_date)`` tuples."""
    if triggers is None or len(triggers) == 0:
        return {}
    due = triggers["due_date"] if "due_date" in triggers else [None] * len(triggers)
    out: dict[str, list[Trigger]] = {}
    for acc, kind, name, day in zip(triggers["account_id"], triggers["kind"], triggers["trigger"], due):
        out.setdefault(acc, []).append((kind, name, day))
    return out


def _row(account_id: str, key: str, s: PlaybookSettings, as_of: dt.date, **kw: Any) -> dict[str, Any]:
    p = s.playbooks[key]
    row = {"account_id": account_id, "playbook": key, "title": p.title, "owner_role": p.owner_role,
           "sla_days": p.sla_days, "due_date": as_of + dt.timedelta(days=p.sla_days), "actions": p.actions,
           "escalation": p.escalation, "triggers": ()}
    row.update(kw)
    return row


def _win_back_rows(churned: pd.DataFrame | None, s: PlaybookSettings, as_of: dt.date) -> list[dict[str, Any]]:
    rows = []
    if churned is None:
        return rows
    for acc, day, reason in zip(churned["account_id"], churned["day"], churned["reason"]):
        day = pd.Timestamp(day).date()
        key = reason if reason in s.win_back else "other"
        w = s.win_back[key]
        end = day + dt.timedelta(days=w.end_days)
        if day > as_of or as_of > end:
            continue
        due = day + dt.timedelta(days=w.start_days)
        rows.append(_row(acc, "win_back", s, as_of, owner_role=w.owner_role, due_date=due, window_end=end,
                         sla_days=(due - as_of).days, actions=(w.approach, w.message), churn_reason=reason,
                         reason=f"Churned {day.isoformat()} ({reason}): win-back window "
                                f"{due.isoformat()} to {end.isoformat()}."))
    return rows


def _falling(d: dict[str, Any] | None, risks: int, s: PlaybookSettings) -> tuple[bool, str]:
    parts = []
    if d is not None:
        for col, label in (("delta_7", "7 days"), ("delta_30", "30 days")):
            v = d.get(col)
            if pd.notna(v) and v <= -s.falling_points:
                parts.append(f"down {abs(v):g} in {label}")
    if s.falling_on_risk_trigger and risks:
        parts.append(f"{risks} open risk trigger{'s' * (risks > 1)}")
    return bool(parts), ", ".join(parts)


def _choose(score: float, red: tuple | None, falling: bool, has_expansion: bool, s: PlaybookSettings) -> str:
    if score < s.active_save_min or red:
        return "executive_escalation"
    if score < s.early_warning_min:
        return "active_save"
    if score < s.nurture_min and falling:
        return "early_warning"
    if score >= s.expansion_min and has_expansion:
        return "expansion"
    return "nurture"


def assign_playbooks(scores: pd.DataFrame, deltas: pd.DataFrame | None, triggers: pd.DataFrame | None,
                     renewals: Any, churned: pd.DataFrame | None, settings: PlaybookSettings,
                     as_of: dt.date) -> pd.DataFrame:
    """One row per account (see module docstring); churned accounts get win-back only."""
    s = settings
    rows = _win_back_rows(churned, s, as_of)
    done = {r["account_id"] for r in rows}
    dl = _by_account(deltas, ["account_id", "delta_7", "delta_30", "drivers_text"])
    red, trig = _red_renewals(renewals, s), _open(triggers)
    for acc, score, band in zip(scores["account_id"], scores["score"], scores["band"]):
        if acc in done or pd.isna(score):
            continue
        t = trig.get(acc, [])
        risk, exp = [x for x in t if x[0] == "risk"], [x for x in t if x[0] == "expansion"]
        d = dl.get(acc)
        falling, why = _falling(d, len(risk), s)
        key = _choose(float(score), red.get(acc), falling, len(exp) > 0, s)
        rows.append(_assigned(acc, key, float(score), band, d, why, t, exp, red.get(acc), s, as_of))
    return pd.DataFrame(rows).reindex(columns=COLUMNS)


def _assigned(acc: str, key: str, score: float, band: str, d: dict[str, Any] | None, why: str, t: list[Trigger],
              exp: list[Trigger], red: tuple | None, s: PlaybookSettings, as_of: dt.date) -> dict[str, Any]:
    extra: dict[str, Any] = {"score": score, "band": band, "triggers": tuple(sorted({x[1] for x in t}))}
    parts = [f"Health {score:g} ({band})"]
    if why:
        parts.append(why)
    if d is not None and isinstance(d.get("drivers_text"), str) and d.get("drivers_text"):
        parts.append(f"drivers: {d['drivers_text']}")
    if red:
        extra.update(renewal_date=red[0], rag="red")
        parts.append(f"red renewal on {pd.Timestamp(red[0]).date().isoformat()}")
    if key == "expansion":
        extra["due_date"] = min(pd.Timestamp(x[2]).date() for x in exp)
        extra["sla_days"] = (extra["due_date"] - as_of).days
        parts.append("expansion triggers: " + ", ".join(sorted({x[1] for x in exp})))
    if key == "nurture" and score < s.nurture_min:
        extra["actions"] = s.playbooks["nurture"].actions[:-1]
    return _row(acc, key, s, as_of, reason="; ".join(parts) + ".", **extra)


def churned_accounts(contracts: Any, churn_reasons: Any, as_of: dt.date, lookback_days: int = 365) -> pd.DataFrame:
    """Accounts that had paid service in the last ``lookback_days`` and none on ``as_of``.

    Returns account_id, day (first day without service = last end date + 1), reason (the
    latest churn-reason record up to ``as_of``; ``other`` when none).
    """
    import ibis

    c, a = contracts, ibis.literal(as_of)
    paid = c.filter(c.mrr > 0)
    active = paid.filter((paid.start_date <= a) & (paid.end_date.isnull() | (paid.end_date >= a)))
    ended = paid.filter(paid.end_date.between(ibis.literal(as_of - dt.timedelta(days=lookback_days)), a))
    gone = ended.group_by("account_id").agg(last_day=ended.end_date.max()).to_pandas()
    gone = gone[~gone["account_id"].isin(set(active.select("account_id").to_pandas()["account_id"]))]
    gone["day"] = (pd.to_datetime(gone["last_day"]) + pd.Timedelta(days=1)).dt.date
    reasons = pd.DataFrame(columns=["account_id", "reason"])
    if churn_reasons is not None:
        r = churn_reasons.filter(churn_reasons.day <= a).to_pandas().sort_values("day")
        reasons = r.groupby("account_id").tail(1)[["account_id", "reason"]]
    out = gone.merge(reasons, on="account_id", how="left")
    out["reason"] = out["reason"].fillna("other")
    return out[["account_id", "day", "reason"]].reset_index(drop=True)
