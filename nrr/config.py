"""nrr.toml: the project's settings, validated into typed models.

Each top-level table is owned by the part of the product it configures; the model for
it lives next to that code and is listed in :data:`SECTIONS`. Validation errors name
the file, the dotted key and what was expected::

    nrr.toml: health.weights.adoption: expected a number (got 'lots')

Unknown top-level tables are errors too, so a typo never silently does nothing.
"""

from __future__ import annotations

import importlib
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ValidationError, field_validator

from engine.settings import EngineModel, RevenueSettings
from nrr.errors import ConfigError

REVENUE_SOURCES = ("files", "stripe", "salesforce", "hubspot")


class RevenueConfig(RevenueSettings):
    """[revenue]: which source's contract lines are revenue, and the currency rules."""

    source: Literal["files", "stripe", "salesforce", "hubspot"] = "files"

    def settings(self) -> RevenueSettings:
        return RevenueSettings(reporting_currency=self.reporting_currency, fx_rates=self.fx_rates)


class ProjectSection(EngineModel):
    """[project]: names used in reports and the CLI, and ``memory_limit``: the most memory
    the store may use (``"4GB"``; work beyond it spills to disk). Unset, it may use 80% of
    the machine's memory — cap it where the daily job shares a server."""

    name: str = "My Company"
    timezone: str = "UTC"
    memory_limit: str | None = None

    @field_validator("memory_limit")
    @classmethod
    def _size(cls, v: str | None) -> str | None:
        if v is not None and not re.fullmatch(r"\s*\d+(\.\d+)?\s*(KB|MB|GB|TB|KiB|MiB|GiB|TiB)\s*", v):
            raise ValueError('expected a size such as "4GB" or "512MB"')
        return v


class FilesSource(EngineModel):
    """[sources.files]: a directory of CSV/Parquet files in the import schema."""

    enabled: bool = False
    path: str = "data"


#: table name → "module:Class" of its settings model. Models are imported lazily so
#: that a section's code can evolve on its own.
SECTIONS: dict[str, str] = {
    "project": "nrr.config:ProjectSection",
    "revenue": "nrr.config:RevenueConfig",
    "health": "engine.health.settings:HealthSettings",
    "triggers": "engine.triggers.settings:TriggerSettings",
    "renewals": "engine.renewals:RenewalSettings",
    "playbooks": "engine.playbooks:PlaybookSettings",
    "reports": "reports.settings:ReportSettings",
    "writeback": "connectors.writeback_settings:WritebackSettings",
    "run": "nrr.pipeline_settings:RunSettings",
    "sync": "connectors.settings:SyncSettings",
}

#: [sources.<name>] → settings model.
SOURCES: dict[str, str] = {
    "files": "nrr.config:FilesSource",
    "salesforce": "connectors.settings:SalesforceSettings",
    "hubspot": "connectors.settings:HubSpotSettings",
    "stripe": "connectors.settings:StripeSettings",
}


def _model(ref: str) -> type[BaseModel] | None:
    module, _, name = ref.partition(":")
    try:
        return getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError):
        return None


@dataclass
class Config:
    """Validated settings. Sections whose model is not installed stay as plain dicts."""

    path: Path
    sections: dict[str, Any] = field(default_factory=dict)
    sources: dict[str, Any] = field(default_factory=dict)
    raw: dict[str, Any] = field(default_factory=dict)

    def __getattr__(self, name: str) -> Any:
        sections = self.__dict__.get("sections", {})
        if name in sections:
            return sections[name]
        raise AttributeError(name)

    def enabled_sources(self) -> list[str]:
        return [name for name, s in self.sources.items() if getattr(s, "enabled", False)]


def load(path: Path) -> Config:
    """Read and validate nrr.toml."""
    if not path.exists():
        raise ConfigError(f"{path} not found: run `nrr init` to create a project")
    try:
        raw = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path.name}: not valid TOML ({exc})") from None
    return parse(raw, path)


def parse(raw: dict[str, Any], path: Path) -> Config:
    unknown = set(raw) - set(SECTIONS) - {"sources"}
    if unknown:
        names = ", ".join(sorted(unknown))
        raise ConfigError(f"{path.name}: unknown table [{names}]; expected one of {', '.join(sorted([*SECTIONS, 'sources']))}")
    cfg = Config(path=path, raw=raw)
    for name, ref in SECTIONS.items():
        cfg.sections[name] = _validate(path, name, ref, raw.get(name, {}))
    sources = raw.get("sources", {})
    if not isinstance(sources, dict):
        raise ConfigError(f"{path.name}: sources: expected tables like [sources.stripe]")
    unknown = set(sources) - set(SOURCES)
    if unknown:
        raise ConfigError(f"{path.name}: unknown source [sources.{sorted(unknown)[0]}]; expected one of {', '.join(SOURCES)}")
    for name, ref in SOURCES.items():
        cfg.sources[name] = _validate(path, f"sources.{name}", ref, sources.get(name, {}))
    return cfg


def _validate(path: Path, where: str, ref: str, value: Any) -> Any:
    if not isinstance(value, dict):
        raise ConfigError(f"{path.name}: {where}: expected a table [{where}]")
    model = _model(ref)
    if model is None:
        return dict(value)
    try:
        return model.model_validate(value)
    except ValidationError as exc:
        raise ConfigError(_describe(path, where, exc)) from None


def _describe(path: Path, where: str, exc: ValidationError) -> str:
    lines = []
    for err in exc.errors()[:5]:
        key = ".".join([where, *(str(p) for p in err["loc"])])
        msg = err["msg"]
        if err["type"] == "extra_forbidden":
            msg = "unknown setting (check the spelling against `nrr config show`)"
        got = err.get("input")
        shown = "" if err["type"] in ("extra_forbidden", "missing") or isinstance(got, dict) else f" (got {got!r})"
        lines.append(f"{path.name}: {key}: {msg}{shown}")
    return "\n".join(lines)


SECRET_WORDS = ("password", "secret", "token", "api_key", "apikey", "private_key")


def dump(cfg: Config) -> dict[str, Any]:
    """Effective settings (defaults filled in), ready to print. Any value under a key
    that looks like a secret is masked, in case one was put in nrr.toml by mistake."""
    out: dict[str, Any] = {}
    for name, value in cfg.sections.items():
        out[name] = value.model_dump(mode="json") if isinstance(value, BaseModel) else value
    out["sources"] = {
        n: (v.model_dump(mode="json") if isinstance(v, BaseModel) else v) for n, v in cfg.sources.items()
    }
    return _mask_secrets(out)


def _mask_secrets(value: Any, key: str = "") -> Any:
    if isinstance(value, dict):
        return {k: _mask_secrets(v, str(k)) for k, v in value.items()}
    if isinstance(value, list):
        return [_mask_secrets(v, key) for v in value]
    if value not in (None, "") and any(w in key.lower() for w in SECRET_WORDS):
        return "****"
    return value
