"""credentials.toml: one table per source; each value a literal, ``{ env = "NAME" }`` or
``{ file = "path" }`` (relative paths are relative to the project directory).

Resolution happens only when a connector needs the values. Printing goes through
:func:`masked`, which never shows a secret: every value except a short list of
identifiers (usernames, URLs, domains) is replaced by ``****`` plus, for references,
where it comes from.
"""

from __future__ import annotations

import os
import stat
import tomllib
from pathlib import Path
from typing import Any

from nrr.errors import ConfigError

NON_SECRET_KEYS = frozenset({"username", "instance_url", "domain", "base_url", "api_version", "client_id", "sandbox"})


def load_raw(path: Path) -> dict[str, dict[str, Any]]:
    """Parse credentials.toml without resolving references; missing file → empty."""
    if not path.exists():
        return {}
    try:
        data = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc}); fix the syntax or re-create it with `nrr init`") from None
    for section, values in data.items():
        if not isinstance(values, dict):
            raise ConfigError(f"{path}: [{section}] must be a table of key = value pairs")
        for key, value in values.items():
            _check_reference(path, section, key, value)
    return data


def _check_reference(path: Path, section: str, key: str, value: Any) -> None:
    if isinstance(value, dict):
        kinds = set(value) & {"env", "file"}
        if len(value) != 1 or not kinds or not isinstance(next(iter(value.values())), str):
            raise ConfigError(
                f'{path}: {section}.{key}: expected a string, {{ env = "NAME" }} or {{ file = "path" }}'
            )
    elif not isinstance(value, (str, int, bool)):
        raise ConfigError(f"{path}: {section}.{key}: expected a string value")


def permission_warning(path: Path) -> str | None:
    """A warning when the credentials file is readable by group or others."""
    if not path.exists() or os.name != "posix":
        return None
    mode = path.stat().st_mode
    if mode & (stat.S_IRGRP | stat.S_IROTH | stat.S_IWGRP | stat.S_IWOTH):
        return f"{path} is readable by other users (mode {oct(mode & 0o777)}); run: chmod 600 {path}"
    return None


def resolve(path: Path, section: str, project_dir: Path) -> dict[str, Any]:
    """The resolved values of one section; a missing env var or file is a ConfigError."""
    raw = load_raw(path).get(section, {})
    out: dict[str, Any] = {}
    for key, value in raw.items():
        out[key] = _resolve_value(path, section, key, value, project_dir)
    return out


def _resolve_value(path: Path, section: str, key: str, value: Any, project_dir: Path) -> Any:
    if not isinstance(value, dict):
        return value
    if "env" in value:
        name = value["env"]
        if name not in os.environ:
            raise ConfigError(f"{path}: {section}.{key} refers to environment variable {name}, which is not set")
        return os.environ[name]
    file = Path(value["file"]).expanduser()
    file = file if file.is_absolute() else project_dir / file
    if not file.is_file():
        raise ConfigError(f"{path}: {section}.{key} refers to file {file}, which does not exist")
    return file.read_text().strip()


def masked(raw: dict[str, dict[str, Any]]) -> dict[str, dict[str, str]]:
    """A printable copy: identifiers shown, secrets replaced, references named."""
    out: dict[str, dict[str, str]] = {}
    for section, values in raw.items():
        out[section] = {key: _mask_one(key, value) for key, value in values.items()}
    return out


def _mask_one(key: str, value: Any) -> str:
    if isinstance(value, dict):
        kind, ref = next(iter(value.items()))
        return f"**** (from {kind} {ref})"
    if key in NON_SECRET_KEYS:
        return str(value)
    return "****" if value not in ("", None) else "(empty)"
