"""Errors the application shell turns into one clear line and an exit code.

    NrrError                  exit 1 — something failed; the message says what to do
    ├── ConfigError           exit 2 — nrr.toml / credentials.toml invalid or missing
    └── ProjectNotFound       exit 2 — no project directory could be found

Library errors from ``engine``, ``connectors`` and ``reports`` (``StoreError``,
``ImportFailed``, ...) are reported the same way by the CLI's error handler.
"""

from __future__ import annotations


class NrrError(Exception):
    exit_code = 1


class ConfigError(NrrError):
    exit_code = 2


class ProjectNotFound(ConfigError):
    pass
