"""[reports] settings: branding, template overrides and where files are written.

Relative paths are resolved against the project directory (where nrr.toml lives)::

    [reports]
    output_dir = "out"
    templates_dir = "report-templates"   # files here replace the packaged ones by name

    [reports.branding]
    company_name = "Acme Analytics"      # default: [project].name
    logo = "branding/logo.png"
    accent_colour = "#0b5394"
"""

from __future__ import annotations

import re

from pydantic import Field, field_validator

from engine.settings import EngineModel

_HEX = re.compile(r"^#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6})$")


class Branding(EngineModel):
    """Company name shown on covers and headers, a logo file and the accent colour."""

    company_name: str | None = None
    logo: str | None = None
    accent_colour: str = "#1f4e79"

    @field_validator("accent_colour")
    @classmethod
    def _colour(cls, v: str) -> str:
        # The colour is written into CSS and XLSX fills, so only a plain hex value is accepted.
        if not _HEX.match(v):
            raise ValueError(f"expected a hex colour such as #1f4e79, got {v!r}")
        return v.lower()


class ReportSettings(EngineModel):
    """``top_at_risk``: rows in the board report's at-risk table; ``health_compare_days``:
    how far back the board report looks for the health-movement comparison snapshot."""

    branding: Branding = Field(default_factory=Branding)
    templates_dir: str | None = None
    output_dir: str = "out"
    top_at_risk: int = Field(15, ge=1, le=200)
    health_compare_days: int = Field(90, ge=1, le=730)
    trend_quarters: int = Field(8, ge=2, le=20)
    cohort_quarters: int = Field(8, ge=1, le=20)
