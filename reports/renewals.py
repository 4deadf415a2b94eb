"""Renewal timeline renderers: one context, five formats (CSV, XLSX, ICS, PDF, DOCX)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from reports.board import report_pdf
from reports.context.renewals import build_renewals
from reports.templating import render_html


def renewals_html(ctx, dirs: list[Path]) -> str:
    return render_html(dirs, "renewals.html", ctx=ctx, brand=ctx.brand, as_of=ctx.as_of,
                       logo_url=ctx.brand.logo.as_uri() if ctx.brand.logo else None,
                       doc_title=f"Renewal timeline, {ctx.days} days")


def render_renewals(data, days: int, formats: list[str], out_dir: Path, *,
                    created: dt.datetime | None = None) -> list[Path]:
    ctx = build_renewals(data, days)
    stem = out_dir / f"renewals-{ctx.as_of.isoformat()}-{days}d"
    written: list[Path] = []
    for fmt in formats:
        if fmt == "csv":
            from reports.csv_export import write_renewals_csv

            written += write_renewals_csv(ctx, stem)
        elif fmt == "xlsx":
            from reports.xlsx import write_renewals_xlsx

            written.append(write_renewals_xlsx(ctx, stem.with_suffix(".xlsx"), created=created))
        elif fmt == "ics":
            from reports.ics import write_renewals_ics

            written.append(write_renewals_ics(ctx, stem.with_suffix(".ics")))
        elif fmt == "pdf":
            written.append(report_pdf(ctx, data.config, renewals_html, stem.with_suffix(".pdf"), created=created))
        elif fmt == "docx":
            from reports.docx_lists import write_renewals_docx

            write_renewals_docx(ctx, stem.with_suffix(".docx"), created=created)
            written.append(stem.with_suffix(".docx"))
    return written
