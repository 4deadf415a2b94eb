"""The `nrr` command line: a root group, global options and error handling.

Commands live in ``nrr/commands/<area>.py``; each module's ``register(group)`` adds its
commands. Every error the product raises on purpose becomes one line on stderr plus
what to do, and a non-zero exit code (2 for configuration/credential problems, 1
otherwise). ``--debug`` shows the traceback instead.
"""

from __future__ import annotations

import importlib
import sys

import click

from connectors.files import ImportFailed
from engine.store import StoreError
from nrr.errors import NrrError

#: Modules under nrr.commands whose ``register(group)`` adds commands.
COMMAND_MODULES: tuple[str, ...] = (
    "core",
    "sandbox",
    "sync",
    "health",
    "triggers",
    "run",
    "metrics",
    "writeback",
    "report",
)

#: Exception types reported as one clear line (plus their exit code).
EXPECTED_ERRORS: tuple[type[BaseException], ...] = (NrrError, StoreError, ImportFailed)


class NrrGroup(click.Group):
    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except EXPECTED_ERRORS + _library_errors() as exc:
            if (ctx.obj or {}).get("debug"):
                raise
            click.secho(f"error: {exc}", fg="red", err=True)
            ctx.exit(getattr(exc, "exit_code", 1))


def _library_errors() -> tuple[type[BaseException], ...]:
    """Error classes other parts of the product expose as user-facing (``USER_ERRORS``)."""
    found: list[type[BaseException]] = []
    for module in ("engine.revenue", "engine.health", "connectors.errors", "reports.errors"):
        try:
            found.extend(getattr(importlib.import_module(module), "USER_ERRORS", ()))
        except ImportError:
            continue
    return tuple(found)


@click.group(cls=NrrGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.option("--project", "-p", metavar="DIR", help="Project directory (default: $NRR_PROJECT, else the current directory or a parent holding nrr.toml).")
@click.option("--debug", is_flag=True, help="Show full tracebacks on errors.")
@click.version_option(package_name="nrr-engine", prog_name="nrr")
@click.pass_context
def cli(ctx: click.Context, project: str | None, debug: bool) -> None:
    """NRR Engine: revenue retention, customer health, triggers, renewals and CRM write-back.

    \b
    Example:
      nrr init acme && cd acme && nrr import data/ && nrr status
    """
    ctx.ensure_object(dict)
    ctx.obj.update(project=project, debug=debug)


for _name in COMMAND_MODULES:
    importlib.import_module(f"nrr.commands.{_name}").register(cli)


def main() -> None:
    cli(prog_name="nrr")


if __name__ == "__main__":
    sys.exit(main())
