"""Pieces every report context shares: branding and the definitions printed in appendices."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from reports.errors import ReportConfigError

BANDS = ("Thriving", "Healthy", "At risk", "Critical", "Churning")
BAND_RANGES = {"Thriving": "85–100", "Healthy": "70–84", "At risk": "50–69", "Critical": "25–49", "Churning": "0–24"}


@dataclass(frozen=True)
class Brand:
    """Company name for covers and running headers, an optional logo file, the accent colour."""

    company: str
    accent: str
    logo: Path | None = None


def project_dir(config: Any) -> Path:
    return Path(config.path).resolve().parent


def brand(config: Any) -> Brand:
    """Branding from [reports.branding], falling back to [project].name."""
    b = config.reports.branding
    logo = None
    if b.logo:
        logo = (project_dir(config) / b.logo).resolve()
        if not logo.is_file():
            raise ReportConfigError(f"nrr.toml: reports.branding.logo: {b.logo} not found under {project_dir(config)}; "
                                    f"fix the path or remove the setting")
        if logo.suffix.lower() not in (".png", ".jpg", ".jpeg", ".svg"):
            raise ReportConfigError(f"nrr.toml: reports.branding.logo: {b.logo} must be a PNG, JPEG or SVG file")
    return Brand(company=b.company_name or config.project.name, accent=b.accent_colour, logo=logo)


@dataclass(frozen=True)
class Definition:
    term: str
    text: str


def rag_definition(renewals: Any) -> list[Definition]:
    """R/A/G and expected ARR as configured ([renewals] settings)."""
    r, p = renewals.rag, renewals.probability
    return [
        Definition("R/A/G", f"Red: at least one open risk trigger plus low usage or no active champion, or health below "
                            f"{r.red_health_below:g}. Amber: an open risk trigger or health below "
                            f"{r.amber_health_below:g}. Green: otherwise."),
        Definition("Expected ARR", f"ARR of the renewing contract lines × renewal probability by R/A/G "
                                   f"(green {float(p['green']):.0%}, amber {float(p['amber']):.0%}, "
                                   f"red {float(p['red']):.0%}; set under [renewals.probability])."),
        Definition("Milestones", "Dated renewal date minus 180/120/90/60/30/14/7 days (only dates inside the current "
                                 "term). Upcoming: date after the as-of date; due: within the due window; overdue: later."),
    ]


HEALTH_DEFINITIONS = [
    Definition("Health score", "0–100 weighted sum of signal points: product adoption 35%, engagement trajectory 25%, "
                               "support & sentiment 20%, commercial 20% (segment overrides apply); missing signals are "
                               "left out and the weights renormalised."),
    Definition("Health bands", "Thriving 85–100, Healthy 70–84, At risk 50–69, Critical 25–49, Churning 0–24."),
    Definition("Coverage", "Share of the score's weight backed by data; low coverage means the score rests on few signals."),
    Definition("Trend and drivers", "Score change over 30 days; a driver is one signal's change of weight × points, "
                                    "so drivers add up to the score change."),
]
