"""`nrr demo`: a ready-made project with the bundled sample book imported."""

from __future__ import annotations

from pathlib import Path

import click

from connectors.files import import_dir
from nrr.project import ProjectContext, copy_sample, init_project


def run_demo(ctx: click.Context, directory: Path) -> ProjectContext:
    directory = directory.expanduser().resolve()
    init_project(directory)
    project = ProjectContext(directory)
    data = copy_sample(directory / "data")
    with project.store() as store:
        report = import_dir(store, data, project.config.revenue.settings())
    total = sum(r.new + r.updated + r.unchanged for r in report.results.values())
    click.echo(f"demo project: {directory}")
    click.echo(f"imported {total:,} records from {data}")
    ctx.find_root().obj = {**(ctx.find_root().obj or {}), "project": str(directory), "project_ctx": project}
    from nrr.commands.core import status

    ctx.invoke(status)
    return project
