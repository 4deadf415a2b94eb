"""The health values each account should show in the CRM (pure; no I/O, no clock).

One row per account scored on the day, one column per canonical field:

=======================  ========  ==========================================================
field                    kind      value
=======================  ========  ==========================================================
health_score             number    the day's score (0–100, 1 dp)
health_band              text      Thriving / Healthy / At risk / Critical / Churning
health_change_7d         number    score − score 7 days before (NULL without that snapshot)
health_change_30d        number    score − score 30 days before
top_drivers              text      "usage trend −12, failed payment −8", cut to text_length
data_coverage            number    share of the signal weight that had data, in % (1 dp)
renewal_date             date      the account's next renewal within the timeline horizon
renewal_rag              text      red / amber / green of that renewal
next_milestone           text      its next milestone's action ("90 days: …")
next_milestone_due       date      that milestone's date
active_playbook          text      the playbook assigned on the day (its title)
open_risk_triggers       number    count of open risk trigger events
open_expansion_triggers  number    count of open expansion trigger events
last_computed_at         datetime  when the score snapshot was computed (UTC)
=======================  ========  ==========================================================

``last_computed_at`` is a *stamp*: it describes the other values, so a change of the
stamp alone is not a reason to write (see :data:`STAMP_FIELDS`).
"""

from __future__ import annotations

import pandas as pd

FIELDS: dict[str, str] = {
    "health_score": "number", "health_band": "text", "health_change_7d": "number",
    "health_change_30d": "number", "top_drivers": "text", "data_coverage": "number",
    "renewal_date": "date", "renewal_rag": "text", "next_milestone": "text", "next_milestone_due": "date",
    "active_playbook": "text", "open_risk_triggers": "number", "open_expansion_triggers": "number",
    "last_computed_at": "datetime",
}
STAMP_FIELDS = ("last_computed_at",)
COLUMNS = ["account_id", *FIELDS]


def truncate(text: object, length: int) -> str | None:
    """``text`` cut to at most ``length`` characters, ending in ``…`` when cut, at the last
    whole ``", "``-separated item that fits (drivers are never shown half). None stays None."""
    if text is None or (isinstance(text, float) and pd.isna(text)) or text == "":
        return None
    s = str(text)
    if len(s) <= length:
        return s
    items, kept = s.split(", "), ""
    for n in range(1, len(items)):
        joined = ", ".join(items[:n])
        if len(joined) + 1 > length:
            break
        kept = joined
    return (kept or s[: length - 1]) + "…"


def _next_renewals(renewals: pd.DataFrame | None) -> pd.DataFrame:
    """The earliest listed renewal of each account with its R/A/G and next milestone."""
    cols = ["account_id", "renewal_date", "renewal_rag", "next_milestone", "next_milestone_due"]
    if renewals is None or renewals.empty:
        return pd.DataFrame(columns=cols)
    r = renewals.sort_values(["account_id", "renewal_date"]).groupby("account_id", sort=False).head(1)
    days, action = r.get("next_milestone"), r.get("next_milestone_action")
    label = [None if pd.isna(d) else f"{int(d)} days: {a}" for d, a in zip(days, action)]
    return pd.DataFrame({"account_id": r["account_id"], "renewal_date": r["renewal_date"],
                         "renewal_rag": r["rag"], "next_milestone": label,
                         "next_milestone_due": r["next_milestone_date"]})


def _trigger_counts(triggers: pd.DataFrame | None) -> pd.DataFrame:
    """Open risk and expansion trigger events per account."""
    cols = ["account_id", "open_risk_triggers", "open_expansion_triggers"]
    if triggers is None or triggers.empty:
        return pd.DataFrame(columns=cols)
    counts = pd.crosstab(triggers["account_id"], triggers["kind"])
    return pd.DataFrame({"account_id": counts.index,
                         "open_risk_triggers": counts.get("risk", 0),
                         "open_expansion_triggers": counts.get("expansion", 0)}).reset_index(drop=True)


def _playbooks(playbooks: pd.DataFrame | None) -> pd.DataFrame:
    if playbooks is None or playbooks.empty:
        return pd.DataFrame(columns=["account_id", "active_playbook"])
    return playbooks[["account_id", "title"]].rename(columns={"title": "active_playbook"})


def account_fields(snapshot: pd.DataFrame, deltas: pd.DataFrame | None, renewals: pd.DataFrame | None,
                   triggers: pd.DataFrame | None, playbooks: pd.DataFrame | None, *,
                   text_length: int = 255) -> pd.DataFrame:
    """Desired CRM values per account scored in ``snapshot``.

    ``snapshot``: account_id, score, band, coverage (0–1), computed_at — the stored
    snapshot of the day. ``deltas``: account_id, delta_7, delta_30, drivers_text.
    ``renewals``: the renewal timeline rows; ``triggers``: open trigger events
    (account_id, kind); ``playbooks``: account_id, title. Accounts without a score are
    left out (nothing is known to write).
    """
    s = snapshot[snapshot["score"].notna()]
    out = pd.DataFrame({"account_id": s["account_id"], "health_score": s["score"].round(1),
                        "health_band": s["band"], "data_coverage": (s["coverage"] * 100).round(1),
                        "last_computed_at": s["computed_at"]})
    d = (deltas if deltas is not None else pd.DataFrame(columns=["account_id", "delta_7", "delta_30", "drivers_text"]))
    d = d[["account_id", "delta_7", "delta_30", "drivers_text"]].rename(columns={
        "delta_7": "health_change_7d", "delta_30": "health_change_30d", "drivers_text": "top_drivers"})
    for part in (d, _next_renewals(renewals), _trigger_counts(triggers), _playbooks(playbooks)):
        out = out.merge(part, on="account_id", how="left")
    out["top_drivers"] = [truncate(t, text_length) for t in out["top_drivers"]]
    for col in ("open_risk_triggers", "open_expansion_triggers"):
        out[col] = out[col].fillna(0).astype(int)
    out = out.reindex(columns=COLUMNS).astype(object)
    return out.where(out.notna(), None).sort_values("account_id", ignore_index=True)
