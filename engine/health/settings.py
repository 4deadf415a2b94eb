"""Health-score settings: signals, their thresholds, category weights, segment overrides, bands.

Every default comes from ``../shared/domain/``:

* categories and weights — product adoption 35, engagement trajectory 25, support &
  sentiment 20, commercial 20 (health-score template);
* segment overrides — enterprise "shifts weight toward relationship" (usage 25, engagement 25,
  support 15, outcomes 20, relationship 15 → adoption 25, engagement + relationship 40,
  support 15, commercial 20, and champion / executive-sponsor activity count 1.5× inside
  engagement); SMB and self-serve "shift weight toward usage" (usage 45, engagement 15,
  relationship 10, support 15, outcomes 15 → adoption 45, engagement 25, support 15,
  commercial 15);
* bands — 85–100 Thriving, 70–84 Healthy, 50–69 At risk, 25–49 Critical, 0–24 Churning.

A signal's value maps to 0–100 points through ``thresholds``: breakpoints ``[value, points]``
joined by straight lines and flat beyond the first and last one (``numpy.interp``). So
``[[0, 0], [0.5, 60], [0.8, 100]]`` gives 0.25 → 30 points and anything ≥ 0.8 → 100.

In ``nrr.toml`` (section ``[health]``) any of these can be overridden, e.g.::

    [health.signals.seat_utilisation]
    thresholds = [[0, 0], [0.5, 70], [0.9, 100]]
    [health.segments.enterprise.categories]
    adoption = 30
"""

from __future__ import annotations

from pydantic import Field, field_validator, model_validator

from engine.settings import EngineModel

CATEGORIES = ("adoption", "engagement", "support", "commercial")
BAND_NAMES = ("Thriving", "Healthy", "At risk", "Critical", "Churning")


class SignalSpec(EngineModel):
    """One signal: its category, display label, weight inside the category and thresholds."""

    category: str
    label: str
    thresholds: list[tuple[float, float]]
    weight: float = 1.0

    @field_validator("category")
    @classmethod
    def _known_category(cls, v: str) -> str:
        if v not in CATEGORIES:
            raise ValueError(f"unknown category {v!r}; expected one of {', '.join(CATEGORIES)}")
        return v

    @field_validator("thresholds")
    @classmethod
    def _increasing(cls, v: list[tuple[float, float]]) -> list[tuple[float, float]]:
        if not v:
            raise ValueError("needs at least one [value, points] breakpoint")
        xs = [x for x, _ in v]
        if any(b <= a for a, b in zip(xs, xs[1:])):
            raise ValueError(f"breakpoint values must increase strictly, got {xs}")
        if any(not 0 <= p <= 100 for _, p in v):
            raise ValueError("points must lie between 0 and 100")
        return v

    @field_validator("weight")
    @classmethod
    def _non_negative(cls, v: float) -> float:
        if v < 0:
            raise ValueError("weight must be zero or positive")
        return v


class SegmentOverride(EngineModel):
    """Category weights and/or signal weights that replace the defaults for one segment."""

    categories: dict[str, float] = Field(default_factory=dict)
    signals: dict[str, float] = Field(default_factory=dict)


class Bands(EngineModel):
    """Lower bounds (inclusive, on the score rounded to 1 dp) of the upper four bands."""

    thriving: float = 85
    healthy: float = 70
    at_risk: float = 50
    critical: float = 25

    @model_validator(mode="after")
    def _descending(self) -> "Bands":
        if not self.thriving > self.healthy > self.at_risk > self.critical > 0:
            raise ValueError("bands must satisfy thriving > healthy > at_risk > critical > 0")
        return self

    def band(self, score: float) -> str:
        for bound, name in zip((self.thriving, self.healthy, self.at_risk, self.critical), BAND_NAMES):
            if score >= bound:
                return name
        return BAND_NAMES[-1]


def _spec(category: str, label: str, thresholds: list, weight: float = 1.0) -> SignalSpec:
    return SignalSpec(category=category, label=label, thresholds=[tuple(p) for p in thresholds], weight=weight)


def default_signals() -> dict[str, SignalSpec]:
    """The default signal catalogue; values are explained in :mod:`engine.health.signals`.

    Breakpoints are calibrated on churn 30–120 days ahead (``scripts/calibrate_health.py``,
    sandbox books of 400 accounts, seeds 7 and 11, seed 23 held out): "fine" is roughly the
    median of accounts that stayed and earns 75–100 points; "concerning" is where the values of
    accounts that went on to churn sit (their median or lower quartile) and earns 0–45 points.
    Only top-quartile values earn the full 100, so a typical account lands in Healthy (70–84)
    and Thriving is left to expansion candidates, as the domain's bands intend.

    * feature_breadth — stayers use every core feature (1.0); churners drop to 0.85–0.9 first.
      1.0 fine, 0.75 concerning (a quarter of the product abandoned), 0.6 and below 0.
    * seat_utilisation — stayers' median 0.62, lower quartile 0.5; churners' median 0.52.
      0.75 full marks, 0.6 = 70, 0.5 = 40, 0.3 and below 0.
    * usage_depth — distinct features per active user; stayers 7.2–7.7, churners 6.6–7.1
      (tune to the product's feature count: these fit a product of about a dozen features).
    * usage_trend — stayers −6%…+14%, churners' lower quartile −25%; flat usage (0) = 70,
      −10% = 40, a quarter less usage = 0 (the domain's "usage drop" churn signal).
    * active_user_trend — losing 5% of active users = 80, a fifth = 25, 30% = 0.
    * champion / sponsor silence — daily use is normal; the domain flags a champion silent
      14+ days (≈ 10 points here) and 21+ days scores 0; a sponsor may be quieter (14 d = 50).
    * ticket_volume_ratio — stayers ≤ 1.35× their own baseline, churners' upper quartile 2×;
      1.25× fine, 2× = 25, the domain's "3× normal" spike = 0.
    * open_high_priority — none fine, one = 60, four = 0 (unchanged: no signal in the sandbox).
    * ticket_sentiment — stayers' tickets are neutral (0) or better, churners' median −0.16 and
      lower quartile −0.5: +0.3 = 100, neutral = 60, −0.15 = 25, −0.3 and below 0.
    * nps — stayers' median 8, churners' 7; promoters (9+) 100, passives 7–8 = 45–75,
      detractors ≤ 6 ≈ 0–10 (the domain's detractor trigger).
    * csat — stayers' median 4, churners' 2–2.5: 5 = 100, 4 = 80, 3 = 40, 2 and below 0.
    * days_to_renewal — churn happens at renewal: the middle half of churners were 46–98 days out,
      stayers' median 175. A year out = 100, 6 months = 70, 4 months = 35, 2 months or less 0.
    * payment_issues, contraction_90d — unchanged (none in the sandbox to calibrate on).

    Weights inside a category follow the domain template's items: "NPS/CSAT response" is one
    item, so NPS and CSAT share one weight (0.5 each); "ticket frequency trend" is one item,
    shared by ticket volume and open urgent tickets (0.5 each); and "payment behavior: late
    payments, failed charges, downgrades" is one commercial item next to "contract timeline",
    shared by failed payments and contraction (0.5 each).
    """
    return {
        "feature_breadth": _spec("adoption", "feature breadth", [[0.6, 0], [0.75, 25], [0.9, 75], [1.0, 100]]),
        "seat_utilisation": _spec("adoption", "seat utilisation",
                                  [[0.3, 0], [0.4, 15], [0.5, 40], [0.6, 70], [0.75, 100]]),
        "usage_depth": _spec("adoption", "usage depth", [[5.5, 0], [6.5, 20], [7, 45], [7.5, 75], [8, 100]]),
        "usage_trend": _spec("engagement", "usage trend", [[-0.25, 0], [-0.1, 40], [0.0, 70], [0.15, 100]]),
        "active_user_trend": _spec("engagement", "active users trend",
                                   [[-0.3, 0], [-0.2, 25], [-0.05, 80], [0.0, 100]]),
        "champion_days_silent": _spec("engagement", "champion activity", [[1, 100], [7, 50], [14, 10], [21, 0]]),
        "sponsor_days_silent": _spec("engagement", "exec sponsor activity", [[3, 100], [14, 50], [30, 10], [45, 0]]),
        "ticket_volume_ratio": _spec("support", "ticket volume", [[1.25, 100], [2, 25], [3, 0]], 0.5),
        "open_high_priority": _spec("support", "open urgent tickets", [[0, 100], [1, 60], [2, 30], [4, 0]], 0.5),
        "ticket_sentiment": _spec("support", "ticket sentiment", [[-0.3, 0], [-0.15, 25], [0.0, 60], [0.3, 100]]),
        "nps": _spec("support", "NPS", [[5, 0], [6, 10], [7, 45], [8, 75], [9, 100]], 0.5),
        "csat": _spec("support", "CSAT", [[2, 0], [3, 40], [4, 80], [5, 100]], 0.5),
        "days_to_renewal": _spec("commercial", "renewal proximity", [[60, 0], [120, 30], [180, 65], [365, 100]]),
        "payment_issues": _spec("commercial", "failed payment", [[0, 100], [1, 40], [2, 0]], 0.5),
        "contraction_90d": _spec("commercial", "contraction", [[0, 100], [0.1, 60], [0.3, 20], [0.5, 0]], 0.5),
    }


def default_segments() -> dict[str, SegmentOverride]:
    usage_led = {"adoption": 45, "engagement": 25, "support": 15, "commercial": 15}
    return {
        "enterprise": SegmentOverride(
            categories={"adoption": 25, "engagement": 40, "support": 15, "commercial": 20},
            signals={"champion_days_silent": 1.5, "sponsor_days_silent": 1.5},
        ),
        "smb": SegmentOverride(categories=usage_led),
        "self-serve": SegmentOverride(categories=dict(usage_led)),
    }


class HealthSettings(EngineModel):
    """Everything the health score can be tuned by (``[health]`` in ``nrr.toml``).

    ``core_features``: the product's core features for feature breadth; empty means "every
    feature seen in the usage data in the last 90 days". ``high_priorities``: ticket
    priorities counted as high. ``at_risk_threshold``: the score below which an account is
    flagged (backtest, triggers); defaults to the Healthy band's lower bound.
    """

    categories: dict[str, float] = Field(
        default_factory=lambda: {"adoption": 35, "engagement": 25, "support": 20, "commercial": 20}
    )
    signals: dict[str, SignalSpec] = Field(default_factory=default_signals)
    segments: dict[str, SegmentOverride] = Field(default_factory=default_segments)
    bands: Bands = Field(default_factory=Bands)
    core_features: list[str] = Field(default_factory=list)
    high_priorities: list[str] = Field(default_factory=lambda: ["high", "urgent", "critical"])
    champion_lookback_days: int = 90
    nps_lookback_days: int = 180
    active_customers_only: bool = True
    at_risk_threshold: float | None = None

    @field_validator("categories")
    @classmethod
    def _categories(cls, v: dict[str, float]) -> dict[str, float]:
        _check_category_weights(v, "health.categories")
        return v

    @field_validator("signals", mode="before")
    @classmethod
    def _merge_signal_overrides(cls, v: dict) -> dict:
        """A partial ``[health.signals.X]`` table overrides only the keys it names."""
        merged = {k: s.model_dump() for k, s in default_signals().items()}
        for name, spec in (v or {}).items():
            if name not in merged:
                raise ValueError(f"unknown signal {name!r}; known signals: {', '.join(merged)}")
            spec = spec.model_dump() if isinstance(spec, SignalSpec) else dict(spec)
            merged[name] = {**merged.get(name, {}), **spec}
        return merged

    @model_validator(mode="after")
    def _segments_valid(self) -> "HealthSettings":
        for seg, override in self.segments.items():
            if override.categories:
                _check_category_weights(override.categories, f"health.segments.{seg}.categories")
            unknown = set(override.signals) - set(self.signals)
            if unknown:
                raise ValueError(f"health.segments.{seg}.signals names unknown signals: {sorted(unknown)}")
        return self

    @property
    def flag_below(self) -> float:
        return self.bands.healthy if self.at_risk_threshold is None else self.at_risk_threshold

    def signal_weights(self, segment: str | None) -> dict[str, float]:
        """Each signal's share of the full score for a segment (sums to 1 over all signals).

        w_s = W_c / ΣW × sw_s / Σ_{s' in c} sw_s' — the category weight split among its signals
        in proportion to their weights inside the category.
        """
        override = self.segments.get(segment or "", SegmentOverride())
        cats = override.categories or self.categories
        total = sum(cats.values())
        sw = {n: override.signals.get(n, s.weight) for n, s in self.signals.items()}
        per_cat = {c: sum(w for n, w in sw.items() if self.signals[n].category == c) for c in CATEGORIES}
        return {
            n: (cats.get(s.category, 0) / total) * (sw[n] / per_cat[s.category]) if per_cat[s.category] else 0.0
            for n, s in self.signals.items()
        }


def _check_category_weights(v: dict[str, float], where: str) -> None:
    unknown = set(v) - set(CATEGORIES)
    if unknown:
        raise ValueError(f"{where}: unknown categories {sorted(unknown)}; expected {', '.join(CATEGORIES)}")
    if any(w < 0 for w in v.values()) or sum(v.values()) <= 0:
        raise ValueError(f"{where}: weights must be non-negative and sum to more than zero")
