"""The Jinja environment every HTML report renders through.

* Autoescaping is on for every template, whatever its file name, so an account called
  ``<script>`` prints as text; data is never compiled as a template, so ``{{7*7}}`` in a
  name stays literal. Templates run in Jinja's sandbox, so an override template from a
  project folder cannot reach Python internals.
* Templates are looked up in ``[reports].templates_dir`` first, then in the packaged
  ``templates/`` folder: a project overrides ``board.html`` or ``report.css`` by placing a
  file of the same name there.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jinja2 import FileSystemLoader, StrictUndefined, TemplateNotFound
from jinja2.sandbox import SandboxedEnvironment

from reports.charts import heat_colour
from reports.context.common import project_dir
from reports.errors import ReportConfigError
from reports.filters import FILTERS

PACKAGE_TEMPLATES = Path(__file__).resolve().parent.parent / "templates"


def template_dirs(config: Any) -> list[Path]:
    """Override folder (if configured) then the packaged templates."""
    dirs = []
    override = config.reports.templates_dir if config is not None else None
    if override:
        path = (project_dir(config) / override).resolve()
        if not path.is_dir():
            raise ReportConfigError(f"nrr.toml: reports.templates_dir: {override} is not a folder under "
                                    f"{project_dir(config)}; create it or remove the setting")
        dirs.append(path)
    if not PACKAGE_TEMPLATES.is_dir():
        raise ReportConfigError(f"packaged report templates not found at {PACKAGE_TEMPLATES}; reinstall nrr-engine")
    return dirs + [PACKAGE_TEMPLATES]


def environment(dirs: list[Path]) -> SandboxedEnvironment:
    env = SandboxedEnvironment(loader=FileSystemLoader([str(d) for d in dirs]), autoescape=True,
                               undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.filters.update(FILTERS)
    env.filters["heat"] = heat_colour
    return env


def render_html(dirs: list[Path], template: str, **values: Any) -> str:
    try:
        return environment(dirs).get_template(template).render(**values)
    except TemplateNotFound as exc:
        raise ReportConfigError(f"report template {exc.name} not found in {', '.join(map(str, dirs))}") from None


def find_file(dirs: list[Path], name: str) -> Path:
    """The first ``name`` along the template folders (e.g. the report.css in use)."""
    for d in dirs:
        if (d / name).is_file():
            return d / name
    raise ReportConfigError(f"{name} not found in {', '.join(map(str, dirs))}")
