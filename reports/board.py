"""Board report renderers: the context from :mod:`reports.context.board` into PDF and DOCX."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from reports import charts
from reports.context.board import BoardContext, build_board
from reports.context.common import BAND_RANGES
from reports.pdf import data_uri, write_pdf
from reports.templating import find_file, render_html, template_dirs


def board_html(ctx: BoardContext, dirs: list[Path], chart_uris: dict[str, str] | None = None) -> str:
    """The board report's HTML (SVG charts inline as data URIs unless ``chart_uris`` are given)."""
    svgs = chart_uris or {k: data_uri(v, "image/svg+xml") for k, v in charts.board_charts(ctx, "svg").items()}
    logo = ctx.brand.logo.as_uri() if ctx.brand.logo else None
    return render_html(dirs, "board.html", ctx=ctx, charts=svgs, logo_url=logo, brand=ctx.brand,
                       doc_title=f"Board report {ctx.quarter}", as_of=ctx.as_of, band_ranges=BAND_RANGES)


def roots(ctx_brand, dirs: list[Path]) -> list[Path]:
    """Folders WeasyPrint may read: the template folders and the logo's folder."""
    return [*dirs, *([ctx_brand.logo.parent] if ctx_brand.logo else [])]


def report_pdf(ctx, config, html, path: Path, *, created: dt.datetime | None = None) -> Path:
    """Render one report context to ``path`` with ``html(ctx, template_dirs)`` and the shared print CSS."""
    dirs = template_dirs(config)
    write_pdf(html(ctx, dirs), find_file(dirs, "report.css"), roots(ctx.brand, dirs), path, created=created)
    return path


def render_board(data, quarter, formats: list[str], out_dir: Path, *, created: dt.datetime | None = None) -> list[Path]:
    ctx = build_board(data, quarter)
    stem = out_dir / f"board-{ctx.quarter}"
    written = []
    if "pdf" in formats:
        written.append(report_pdf(ctx, data.config, board_html, stem.with_suffix(".pdf"), created=created))
    if "docx" in formats:
        from reports.docx_board import write_board_docx

        write_board_docx(ctx, stem.with_suffix(".docx"), created=created)
        written.append(stem.with_suffix(".docx"))
    return written
