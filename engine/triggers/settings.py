"""Trigger definitions as data, with defaults from the domain notes.

A trigger is a rule over one account feature (see :mod:`engine.triggers.features`):
``metric op threshold``, optionally ANDed with extra ``conditions`` on other features.
Each carries what a person needs to act: severity, owner role, recommended action and an
SLA in days, plus a cooldown during which it does not fire again for the same account.

Defaults (``../shared/domain/``: expansion trigger table, risk signal table, predictive
signals, usage notices at 50/75/90/100 %):

=====================  =========  =========================================  ========
id                     kind       fires when                                 cooldown
=====================  =========  =========================================  ========
plan_limit_80          expansion  usage 30 d ≥ 80 % of plan limit            30
usage_notice_50..100   expansion  usage 30 d in [50,75), [75,90), [90,100),  30
                                  ≥ 100 % of plan limit (highest tier only)
users_added            expansion  ≥ 3 new active users in 30 d               30
seats_exceeded         expansion  active users 30 d > licensed seats         30
usage_growth           expansion  usage 30 d vs prior 30 d > +20 %           30
new_team               expansion  ≥ 1 team active in 30 d, unseen before     30
power_users            expansion  ≥ 1 user in the book's top 5 % by usage    30
renewal_expansion      expansion  renewal in 0–90 days (healthy account)     120
usage_drop             risk       usage 14 d vs prior 14 d < −40 %           14
ticket_spike           risk       tickets 14 d ≥ 3 × own 90-day baseline     14
champion_silent        risk       champion unseen ≥ 14 days                  14
usage_plateau          risk       usage 30 d within ±5 % of prior 30 d       30
payment_failed         risk       failed invoice unpaid ≥ 7 days             14
nps_detractor          risk       an NPS response ≤ 6 in the last 30 days    30
renewal_low_health     risk       renewal < 60 days and health < 70          30
health_drop            risk       health down ≥ 15 points over 7 days        7
band_down              risk       band lower than on the previous snapshot   7
=====================  =========  =========================================  ========

Expansion triggers are suppressed while health is below ``expansion_min_health`` (70):
"attempting to upsell unhappy customers" is the anti-pattern the notes warn about.
Renewal triggers look at term contracts only unless ``evergreen_renewals = true``
(monthly evergreen accounts are always within 60 days of a renewal).
NPS detractors are 0–6 on the standard NPS scale (the notes' "<6" is read as that).

Override in ``nrr.toml``::

    [triggers]
    disabled = ["power_users"]
    [triggers.overrides.usage_drop]
    threshold = -0.5
    cooldown_days = 21
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, model_validator

from engine.settings import EngineModel

Op = Literal[">=", ">", "<=", "<", "=="]
Kind = Literal["risk", "expansion"]
Severity = Literal["low", "medium", "high", "critical"]


class Condition(EngineModel):
    """An extra requirement ``metric op value`` (all must hold)."""

    metric: str
    op: Op
    value: float


class TriggerDef(EngineModel):
    """One trigger: ``metric op threshold`` and every extra condition."""

    id: str
    kind: Kind
    metric: str
    op: Op
    threshold: float
    conditions: tuple[Condition, ...] = ()
    cooldown_days: int = Field(ge=0)
    severity: Severity
    owner_role: str
    action: str
    sla_days: int = Field(ge=0)
    title: str
    evidence: tuple[str, ...] = ()


def _t(id: str, kind: Kind, metric: str, op: Op, threshold: float, cooldown: int, severity: Severity,
       owner: str, action: str, sla: int, title: str, evidence: tuple[str, ...] = (),
       conditions: tuple[tuple[str, Op, float], ...] = ()) -> TriggerDef:
    return TriggerDef(
        id=id, kind=kind, metric=metric, op=op, threshold=threshold, cooldown_days=cooldown,
        severity=severity, owner_role=owner, action=action, sla_days=sla, title=title, evidence=evidence,
        conditions=tuple(Condition(metric=m, op=o, value=v) for m, o, v in conditions),
    )


_PLAN = ("usage_30", "plan_limit")

DEFAULT_TRIGGERS: tuple[TriggerDef, ...] = (
    _t("plan_limit_80", "expansion", "plan_usage_ratio", ">=", 0.80, 30, "medium", "Product",
       "In-product upgrade prompt + email showing usage trajectory and what the next tier unlocks", 0,
       "Usage at 80% of plan limit", _PLAN),
    _t("usage_notice_50", "expansion", "plan_usage_ratio", ">=", 0.50, 30, "low", "Product",
       "Notice: you're halfway through your allocation", 0, "Usage at 50% of plan limit", _PLAN,
       (("plan_usage_ratio", "<", 0.75),)),
    _t("usage_notice_75", "expansion", "plan_usage_ratio", ">=", 0.75, 30, "low", "Product",
       "Notice: approaching plan limit + upgrade comparison", 0, "Usage at 75% of plan limit", _PLAN,
       (("plan_usage_ratio", "<", 0.90),)),
    _t("usage_notice_90", "expansion", "plan_usage_ratio", ">=", 0.90, 30, "low", "Product",
       "Notice: almost at your limit + auto-upgrade option", 0, "Usage at 90% of plan limit", _PLAN,
       (("plan_usage_ratio", "<", 1.0),)),
    _t("usage_notice_100", "expansion", "plan_usage_ratio", ">=", 1.0, 30, "medium", "Product",
       "Notice: limit reached + grace period or upgrade", 0, "Usage at 100% of plan limit", _PLAN),
    _t("users_added", "expansion", "new_users_30", ">=", 3, 30, "medium", "Product",
       "Suggest team plan with ROI calculation", 1, "3+ new users in 30 days", ("active_users_30",)),
    _t("seats_exceeded", "expansion", "seats_over", ">", 0, 30, "medium", "CS",
       "Champion enablement: internal business case to license the whole team", 7,
       "Active users above licensed seats", ("active_users_30", "licensed_seats")),
    _t("usage_growth", "expansion", "usage_growth_mom", ">", 0.20, 30, "medium", "CS",
       "CSM outreach with expansion proposal", 30, "Usage growing more than 20% month over month",
       ("usage_30", "usage_prev_30")),
    _t("new_team", "expansion", "new_teams_30", ">=", 1, 30, "medium", "Sales",
       "Cross-sell motion with champion intro", 7, "A new team started using the product", ("teams_30",)),
    _t("power_users", "expansion", "power_users_30", ">=", 1, 30, "low", "CS",
       "Beta access + advisory board invite", 30, "Power users in the top 5% of usage", ("power_user_cutoff",)),
    _t("renewal_expansion", "expansion", "days_to_renewal", "<=", 90, 120, "medium", "CS",
       "Expansion packaging with annual discount", 7, "Renewal within 90 days on a healthy account",
       ("renewal_date",), (("days_to_renewal", ">=", 0),)),
    _t("usage_drop", "risk", "usage_change_14", "<", -0.40, 14, "high", "CSM",
       "Re-engagement sequence; CSM alert at day 7", 7, "Usage down more than 40% over 14 days",
       ("usage_14", "usage_prev_14")),
    _t("ticket_spike", "risk", "ticket_ratio_14", ">=", 3.0, 14, "high", "CSM",
       "Proactive CSM outreach; manager alert at 5x", 2, "Support tickets at 3x the account's baseline",
       ("tickets_14", "ticket_baseline_14")),
    _t("champion_silent", "risk", "champion_silent_days", ">=", 14, 14, "medium", "CSM",
       "Multi-channel re-engagement; CSM direct outreach", 2, "Champion silent for 14+ days",
       ("champion_user_id", "champion_last_seen")),
    _t("usage_plateau", "risk", "usage_change_abs_30", "<=", 0.05, 30, "medium", "CSM",
       "\"Did you know?\" feature email; CSM review at day 45", 15, "Usage plateau for 30+ days",
       ("usage_30", "usage_prev_30"), (("usage_30", ">", 0),)),
    _t("payment_failed", "risk", "payment_failed_days", ">=", 7, 14, "high", "Finance",
       "Dunning sequence (3-5-7-14 day); Finance + CS at day 14", 7, "Payment failure unresolved for 7+ days",
       ("failed_invoices", "failed_amount")),
    _t("nps_detractor", "risk", "nps_min_30", "<=", 6, 30, "high", "CSM",
       "CSM call + issue resolution; manager review", 2, "NPS detractor", ("nps_day",)),
    _t("renewal_low_health", "risk", "days_to_renewal", "<", 60, 30, "critical", "CS Leadership",
       "Renewal rescue sequence; CS leadership involved", 1, "Renewal within 60 days with health below 70",
       ("renewal_date", "score"), (("days_to_renewal", ">=", 0), ("score", "<", 70))),
    _t("health_drop", "risk", "score_change_7", "<=", -15, 7, "high", "CSM",
       "Review which signals degraded; outreach within 48 hours", 2, "Health down 15+ points in 7 days",
       ("score", "score_7d_ago")),
    _t("band_down", "risk", "band_drop", ">=", 1, 7, "medium", "CSM",
       "Route alert with what changed and recommended action", 2, "Health band crossed downwards",
       ("band", "previous_band")),
)


class TriggerSettings(EngineModel):
    """Trigger rules and the feature windows they read.

    ``overrides`` patches fields of a default trigger by id; ``extra`` adds triggers;
    ``disabled`` removes ids. :meth:`definitions` returns the effective list.
    """

    overrides: dict[str, dict[str, Any]] = Field(default_factory=dict)
    extra: tuple[TriggerDef, ...] = ()
    disabled: tuple[str, ...] = ()
    expansion_min_health: float = 70.0
    evergreen_renewals: bool = False
    power_user_quantile: float = Field(0.95, gt=0, lt=1)
    power_user_min_population: int = Field(20, ge=1)
    ticket_baseline_days: int = Field(90, gt=0)
    ticket_floor_per_window: float = Field(1.0, gt=0)
    new_entity_lookback_days: int = Field(90, gt=0)
    champion_lookback_days: int = Field(180, gt=0)
    nps_lookback_days: int = Field(30, gt=0)
    failed_invoice_statuses: tuple[str, ...] = ("failed", "past_due", "uncollectible")
    ignored_invoice_statuses: tuple[str, ...] = ("void", "draft", "paid")
    band_order: tuple[str, ...] = ("Churning", "Critical", "At risk", "Healthy", "Thriving")

    @model_validator(mode="after")
    def _check(self) -> "TriggerSettings":
        ids = {t.id for t in DEFAULT_TRIGGERS}
        for key in [*self.overrides, *self.disabled]:
            if key not in ids:
                raise ValueError(f"[triggers] names unknown trigger {key!r}; known: {', '.join(sorted(ids))}")
        self.definitions()
        return self

    def definitions(self) -> tuple[TriggerDef, ...]:
        """Defaults with overrides applied, minus disabled, plus extra triggers."""
        out = []
        for t in DEFAULT_TRIGGERS:
            if t.id in self.disabled:
                continue
            patch = self.overrides.get(t.id)
            out.append(TriggerDef.model_validate({**t.model_dump(), **patch}) if patch else t)
        return (*out, *self.extra)

    def by_id(self, trigger_id: str) -> TriggerDef:
        for t in self.definitions():
            if t.id == trigger_id:
                return t
        raise KeyError(trigger_id)
