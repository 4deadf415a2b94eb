"""Renewal timeline settings: milestones, R/A/G rules, renewal probabilities.

Milestones come from the domain notes' renewal timeline (days before renewal → action,
owner). R/A/G follows the renewal-forecasting rule of the recovery notes: red = at least
one red flag plus low usage or a missing champion; amber = one red flag; green = none —
extended with health-score bands (red below 50, amber 50–69). A red flag is an open risk
trigger (:func:`engine.triggers.store_events.open_triggers`) of high or critical severity
by default (usage drop, ticket spike, failed payment, NPS detractor, health drop, renewal
with low health); a silent champion already counts through "no active champion".

The probabilities are this product's defaults, not figures from the notes (which give
save-play success rates of 15–50 %); set them from your own renewal history::

    [renewals.probability]
    green = 0.95
    amber = 0.70
    red = 0.35
"""

from __future__ import annotations

from decimal import Decimal

from pydantic import Field, field_validator

from engine.settings import EngineModel

RAG = ("red", "amber", "green")


class Milestone(EngineModel):
    days_before: int = Field(ge=0)
    action: str
    owner: str


DEFAULT_MILESTONES: tuple[Milestone, ...] = tuple(
    Milestone(days_before=d, action=a, owner=o)
    for d, a, o in (
        (180, "Health score review, risk assessment", "CS Ops"),
        (120, "QBR with ROI report and expansion options", "CSM"),
        (90, "Formal renewal conversation + proposal", "CSM"),
        (60, "Negotiation and contract review", "CSM + Legal"),
        (30, "Final terms, signature push", "CSM"),
        (14, "Escalation if unsigned", "CS Leadership"),
        (7, "Executive outreach if still unsigned", "VP CS or CRO"),
    )
)


class RagRules(EngineModel):
    """Thresholds of the R/A/G classification (see module docstring)."""

    red_health_below: float = 50.0
    amber_health_below: float = 70.0
    low_seat_utilisation: float = Field(0.5, ge=0)
    champion_inactive_days: int = Field(14, ge=0)
    low_usage_triggers: tuple[str, ...] = ("usage_drop", "usage_plateau")
    red_flag_severities: tuple[str, ...] = ("high", "critical")


class RenewalSettings(EngineModel):
    """``due_window_days``: a milestone is *due* from its date for this many days, then *overdue*.

    ``include_evergreen``: evergreen (no end date) lines renew monthly on the day of month
    they started (clamped to the month's last day); only their next renewal is listed.
    """

    horizon_days: int = Field(180, gt=0)
    milestones: tuple[Milestone, ...] = DEFAULT_MILESTONES
    due_window_days: int = Field(7, gt=0)
    include_evergreen: bool = True
    rag: RagRules = RagRules()
    probability: dict[str, Decimal] = Field(
        default_factory=lambda: {"green": Decimal("0.95"), "amber": Decimal("0.70"), "red": Decimal("0.35")}
    )
    outlook_windows: tuple[int, ...] = (30, 60, 90, 180)

    @field_validator("probability")
    @classmethod
    def _probabilities(cls, v: dict[str, Decimal]) -> dict[str, Decimal]:
        missing = [k for k in RAG if k not in v]
        if missing or set(v) - set(RAG):
            raise ValueError(f"[renewals.probability] needs exactly red, amber, green; got {sorted(v)}")
        for k, p in v.items():
            if not Decimal(0) <= p <= Decimal(1):
                raise ValueError(f"[renewals.probability] {k} = {p} must be between 0 and 1")
        return v
