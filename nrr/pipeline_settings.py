"""[run] settings: which steps `nrr run` performs and which reports it renders."""

from __future__ import annotations

from pydantic import Field, field_validator

from engine.settings import EngineModel

STEPS = ("sync", "score", "triggers", "renewals", "writeback", "reports")
REPORT_FORMATS = {
    "board": ("pdf", "docx"),
    "playbook": ("pdf", "docx"),
    "renewals": ("csv", "xlsx", "ics", "pdf", "docx"),
}


class RunReports(EngineModel):
    """[run.reports]: report name → formats rendered by every run (empty list = skip).

    By default the daily job refreshes only the renewal exports that renewal teams pull
    into Excel and their calendars. The board report is quarterly and the playbook report
    covers every account (thousands of pages on a large book), so both are rendered on
    demand with `nrr report ...` unless listed here."""

    board: list[str] = Field(default_factory=list)
    playbook: list[str] = Field(default_factory=list)
    renewals: list[str] = Field(default_factory=lambda: ["csv", "xlsx", "ics"])

    @field_validator("board", "playbook", "renewals")
    @classmethod
    def _formats(cls, v: list[str], info) -> list[str]:
        allowed = REPORT_FORMATS[info.field_name]
        for fmt in v:
            if fmt not in allowed:
                raise ValueError(f"unknown format {fmt!r}; expected some of {', '.join(allowed)}")
        return v


class RunSettings(EngineModel):
    """[run]: the steps of `nrr run`, in order, and the reports it renders."""

    steps: list[str] = Field(default_factory=lambda: list(STEPS))
    reports: RunReports = Field(default_factory=RunReports)
    renewal_days: int = 180

    @field_validator("steps")
    @classmethod
    def _steps(cls, v: list[str]) -> list[str]:
        for step in v:
            if step not in STEPS:
                raise ValueError(f"unknown step {step!r}; expected some of {', '.join(STEPS)}")
        return [s for s in STEPS if s in v]  # always in pipeline order
