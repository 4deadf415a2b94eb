"""A small DOCX writer (named so it never shadows the ``docx`` package) over python-docx: headings, paragraphs, tables with repeating header rows,
pictures, R/A/G shading. The report-specific layouts are in ``docx_board`` and ``docx_lists``.

Text goes in as runs, never parsed, so an account named ``<script>`` is just text. The
generation time is written to the core properties only.
"""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path
from typing import Any, Iterable, Sequence

from docx import Document
from docx.enum.table import WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH, WD_BREAK
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Mm, Pt, RGBColor

RAG_FILL = {"red": "C62828", "amber": "EF8F00", "green": "2E7D32"}


def _rgb(hex_colour: str) -> RGBColor:
    h = hex_colour.lstrip("#")
    if len(h) == 3:
        h = "".join(c * 2 for c in h)
    return RGBColor.from_string(h.upper())


def shade(cell: Any, fill: str) -> None:
    """Background colour of a table cell (hex without #)."""
    props = cell._tc.get_or_add_tcPr()
    shd = OxmlElement("w:shd")
    shd.set(qn("w:val"), "clear")
    shd.set(qn("w:color"), "auto")
    shd.set(qn("w:fill"), fill.lstrip("#").upper())
    props.append(shd)


def repeat_header(row: Any) -> None:
    """Mark a table row as a header row Word repeats on every page the table spans."""
    props = row._tr.get_or_add_trPr()
    el = OxmlElement("w:tblHeader")
    el.set(qn("w:val"), "true")
    props.append(el)


def keep_row_together(row: Any) -> None:
    el = OxmlElement("w:cantSplit")
    el.set(qn("w:val"), "true")
    row._tr.get_or_add_trPr().append(el)


class DocWriter:
    """A document with the report's base styles, an accent colour and a running header/footer."""

    def __init__(self, title: str, company: str, accent: str, footer: str):
        self.doc = Document()
        self.accent = _rgb(accent)
        sec = self.doc.sections[0]
        sec.page_height, sec.page_width = Mm(297), Mm(210)
        sec.left_margin = sec.right_margin = Mm(16)
        sec.top_margin, sec.bottom_margin = Mm(20), Mm(18)
        style = self.doc.styles["Normal"]
        style.font.name, style.font.size = "DejaVu Sans", Pt(8.5)
        for name in ("Heading 1", "Heading 2", "Heading 3", "Title"):
            self.doc.styles[name].font.color.rgb = self.accent
            self.doc.styles[name].paragraph_format.keep_with_next = True
        self._header(f"{company} · {title}", footer)
        self.title = title

    def _header(self, text: str, footer: str) -> None:
        sec = self.doc.sections[0]
        sec.different_first_page_header_footer = True
        head = sec.header.paragraphs[0]
        head.text = text
        head.runs[0].font.size = Pt(7.5)
        foot = sec.footer.paragraphs[0]
        foot.text = footer + "    Page "
        foot.runs[0].font.size = Pt(7.5)
        self._field(foot, "PAGE")
        foot.add_run(" of ").font.size = Pt(7.5)
        self._field(foot, "NUMPAGES")

    @staticmethod
    def _field(paragraph: Any, code: str) -> None:
        run = paragraph.add_run()
        run.font.size = Pt(7.5)
        for kind, text in (("begin", None), (None, code), ("end", None)):
            if kind:
                el = OxmlElement("w:fldChar")
                el.set(qn("w:fldCharType"), kind)
            else:
                el = OxmlElement("w:instrText")
                el.set(qn("xml:space"), "preserve")
                el.text = text
            run._r.append(el)

    def cover(self, company: str, title: str, subtitle: str, lines: Iterable[str], logo: Path | None) -> None:
        if logo is not None and logo.suffix.lower() != ".svg":
            self.doc.add_picture(str(logo), height=Mm(16))
        p = self.doc.add_paragraph()
        p.paragraph_format.space_before = Pt(120)
        p.add_run(company).font.size = Pt(13)
        self.doc.add_heading(title, level=0)
        self.doc.add_paragraph().add_run(subtitle).font.size = Pt(14)
        for line in lines:
            self.para(line, size=8.5, colour="555555")
        self.page_break()

    def heading(self, text: str, level: int = 1, new_page: bool = False) -> None:
        if new_page:
            self.page_break()
        self.doc.add_heading(text, level=level)

    def para(self, text: str, *, bold_prefix: str = "", size: float | None = None, colour: str | None = None,
             italic: bool = False) -> Any:
        p = self.doc.add_paragraph()
        if bold_prefix:
            p.add_run(bold_prefix).bold = True
        run = p.add_run(text)
        run.italic = italic
        if size:
            run.font.size = Pt(size)
        if colour:
            run.font.color.rgb = _rgb(colour)
        return p

    def bullets(self, items: Iterable[str]) -> None:
        for item in items:
            self.doc.add_paragraph(item, style="List Bullet")

    def table(self, headers: Sequence[str], rows: Iterable[Sequence[Any]], numeric: Iterable[int] = (),
              fills: dict[tuple[int, int], str] | None = None, total_last: bool = False,
              widths: Sequence[float] | None = None) -> Any:
        """A table whose header row repeats on each page; ``numeric`` columns are right-aligned."""
        rows, numeric, fills = list(rows), set(numeric), fills or {}
        t = self.doc.add_table(rows=1, cols=len(headers))
        t.style = "Table Grid"
        t.alignment = WD_TABLE_ALIGNMENT.CENTER
        repeat_header(t.rows[0])
        for i, h in enumerate(headers):
            self._cell(t.rows[0].cells[i], h, bold=True, right=i in numeric)
            shade(t.rows[0].cells[i], "EDEDED")
        for r, values in enumerate(rows):
            row = t.add_row()
            keep_row_together(row)
            for i, v in enumerate(values):
                self._cell(row.cells[i], "" if v is None else str(v), right=i in numeric,
                           bold=total_last and r == len(rows) - 1)
                if (r, i) in fills:
                    shade(row.cells[i], fills[(r, i)])
        if widths:   # millimetres per column; the text width is 178 mm
            t.autofit = False
            for i, w in enumerate(widths):   # the grid (LibreOffice reads it) and each cell (Word does)
                t.columns[i].width = Mm(w)
            for row in t.rows:
                for i, w in enumerate(widths):
                    row.cells[i].width = Mm(w)
        self.doc.add_paragraph()
        return t

    @staticmethod
    def _cell(cell: Any, text: str, bold: bool = False, right: bool = False) -> None:
        p = cell.paragraphs[0]
        run = p.add_run(text)
        run.bold, run.font.size = bold, Pt(7.5)
        if right:
            p.alignment = WD_ALIGN_PARAGRAPH.RIGHT

    def picture(self, png: bytes, width_mm: float = 175) -> None:
        self.doc.add_picture(io.BytesIO(png), width=Mm(width_mm))

    def page_break(self) -> None:
        self.doc.add_paragraph().add_run().add_break(WD_BREAK.PAGE)

    def save(self, out: Path, *, company: str, created: dt.datetime | None) -> None:
        props = self.doc.core_properties
        props.title, props.author, props.last_modified_by = self.title, company, "NRR Engine"
        props.comments = "Generated by NRR Engine"
        if created is not None:
            props.created = props.modified = created.replace(tzinfo=None, microsecond=0)
        self.doc.save(str(out))
