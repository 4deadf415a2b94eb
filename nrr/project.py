"""The project directory (like a dbt project) and how commands find it.

A project is a directory holding ``nrr.toml``, ``credentials.toml`` and ``.nrr/`` (the
store, logs, lock). Commands find it from ``--project DIR``, then ``NRR_PROJECT``, then
the current directory and its parents.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import click

from engine.store import Store, default_path
from nrr import config as config_mod
from nrr import credentials as creds_mod
from nrr.errors import ConfigError, ProjectNotFound

CONFIG_FILE = "nrr.toml"
CREDENTIALS_FILE = "credentials.toml"
GITIGNORE = "# NRR Engine: never commit secrets or the local store\ncredentials.toml\n.nrr/\nout/\n"


def find_project(explicit: str | Path | None = None, cwd: Path | None = None) -> Path:
    """Locate the project directory; raise ProjectNotFound saying how to make one."""
    if explicit:
        p = Path(explicit).expanduser().resolve()
        if not (p / CONFIG_FILE).exists():
            raise ProjectNotFound(f"{p} has no {CONFIG_FILE}: run `nrr init {explicit}` first")
        return p
    env = os.environ.get("NRR_PROJECT")
    if env:
        p = Path(env).expanduser().resolve()
        if not (p / CONFIG_FILE).exists():
            raise ProjectNotFound(f"NRR_PROJECT={env} has no {CONFIG_FILE}: run `nrr init {env}` or unset NRR_PROJECT")
        return p
    here = (cwd or Path.cwd()).resolve()
    for d in (here, *here.parents):
        if (d / CONFIG_FILE).exists():
            return d
    raise ProjectNotFound(
        f"no {CONFIG_FILE} in {here} or its parents: run `nrr init DIR`, pass --project DIR or set NRR_PROJECT"
    )


def _template(name: str) -> str:
    return resources.files("nrr").joinpath("project_template", name).read_text()


def init_project(target: Path, *, force: bool = False) -> list[Path]:
    """Write nrr.toml, credentials.toml (mode 0600) and .gitignore; never overwrite
    an existing file unless ``force``. Returns the files written."""
    target = target.expanduser().resolve()
    target.mkdir(parents=True, exist_ok=True)
    written = []
    files = {
        CONFIG_FILE: _template("nrr.toml"),
        CREDENTIALS_FILE: example_credentials(),
        ".gitignore": GITIGNORE,
    }
    for name, text in files.items():
        path = target / name
        if path.exists() and not force:
            continue
        path.write_text(text)
        if name == CREDENTIALS_FILE:
            path.chmod(0o600)
        written.append(path)
    (target / ".nrr").mkdir(exist_ok=True)
    return written


def example_credentials() -> str:
    """The text of credentials.example.toml (shipped in the repository root and as package data)."""
    repo_copy = Path(__file__).resolve().parent.parent / "credentials.example.toml"
    if repo_copy.exists():
        return repo_copy.read_text()
    return _template("credentials.example.toml")


@dataclass
class ProjectContext:
    """Everything a command needs about the project it runs in."""

    dir: Path
    debug: bool = False
    _config: Any = field(default=None, repr=False)

    @property
    def config_path(self) -> Path:
        return self.dir / CONFIG_FILE

    @property
    def credentials_path(self) -> Path:
        return self.dir / CREDENTIALS_FILE

    @property
    def store_path(self) -> Path:
        return default_path(self.dir)

    @property
    def state_dir(self) -> Path:
        return self.dir / ".nrr"

    @property
    def config(self) -> config_mod.Config:
        if self._config is None:
            self._config = config_mod.load(self.config_path)
        return self._config

    def store(self, *, read_only: bool = False) -> Store:
        return Store(self.store_path, read_only=read_only, memory_limit=self.config.project.memory_limit)

    def credentials(self, source: str) -> dict[str, Any]:
        """Resolved credentials for one source (secrets: never print these)."""
        return creds_mod.resolve(self.credentials_path, source, self.dir)

    def credentials_warning(self) -> str | None:
        return creds_mod.permission_warning(self.credentials_path)


def load_context(ctx: click.Context) -> ProjectContext:
    """The project for the running command (from --project, NRR_PROJECT or cwd)."""
    root = ctx.find_root()
    opts = root.obj or {}
    if "project_ctx" not in opts:
        opts["project_ctx"] = ProjectContext(find_project(opts.get("project")), debug=opts.get("debug", False))
        root.obj = opts
    return opts["project_ctx"]


def copy_sample(dest: Path) -> Path:
    """Copy the bundled sample book (CSV/Parquet) into ``dest`` and return it."""
    src = resources.files("nrr").joinpath("sample")
    dest.mkdir(parents=True, exist_ok=True)
    for item in src.iterdir():
        if item.name.endswith((".csv", ".parquet")):
            with resources.as_file(item) as path:
                shutil.copyfile(path, dest / item.name)
    if not any(dest.iterdir()):
        raise ConfigError("the bundled sample book is missing from this installation; reinstall nrr-engine")
    return dest
