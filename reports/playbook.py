"""Playbook report renderers: one context, PDF and DOCX."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from reports.board import report_pdf
from reports.context.playbook import build_playbook
from reports.render import slug
from reports.templating import render_html


def playbook_html(ctx, dirs: list[Path]) -> str:
    return render_html(dirs, "playbook.html", ctx=ctx, brand=ctx.brand, as_of=ctx.as_of,
                       logo_url=ctx.brand.logo.as_uri() if ctx.brand.logo else None, doc_title="Playbook report")


def render_playbook(data, owner: str | None, formats: list[str], out_dir: Path, *,
                    created: dt.datetime | None = None) -> list[Path]:
    ctx = build_playbook(data, owner)
    stem = out_dir / (f"playbook-{ctx.as_of.isoformat()}" + (f"-{slug(owner)}" if owner else ""))
    written = []
    if "pdf" in formats:
        written.append(report_pdf(ctx, data.config, playbook_html, stem.with_suffix(".pdf"), created=created))
    if "docx" in formats:
        from reports.docx_lists import write_playbook_docx

        write_playbook_docx(ctx, stem.with_suffix(".docx"), created=created)
        written.append(stem.with_suffix(".docx"))
    return written
