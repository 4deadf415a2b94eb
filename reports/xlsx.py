"""Renewal timeline as XLSX: sheets *Renewals* and *Milestones*.

Typed cells (dates as dates, money as numbers with a currency format, scores as numbers),
a frozen header row, auto-filters, and R/A/G and status colouring by conditional formatting
(colours follow the value when rows are filtered or edited). Text a spreadsheet would run as
a formula is a string cell with Excel's quote prefix: it shows literally and never evaluates.

openpyxl builds the workbook — styles, header, column widths, panes, filters, conditional
formats, properties. The data rows (up to millions of cells for a large book: 100,000
renewals have 700,000 milestones) are then streamed into each sheet's ``<sheetData>`` as
typed cells using the style ids openpyxl registered, because writing them cell by cell
through openpyxl takes minutes at that size.
"""

from __future__ import annotations

import datetime as dt
import io
import re
import zipfile
from pathlib import Path
from typing import Any, Callable

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.formatting.rule import CellIsRule
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter

from reports.tabular import MILESTONE_COLUMNS, RENEWAL_COLUMNS, Column, risky

FORMATS = {"date": "yyyy-mm-dd", "int": "0", "score": "0.0"}
FILLS = {"red": ("FFCDD2", "B71C1C"), "amber": ("FFE0B2", "E65100"), "green": ("C8E6C9", "1B5E20"),
         "overdue": ("FFCDD2", "B71C1C"), "due": ("FFE0B2", "E65100")}
EXCEL_EPOCH = dt.date(1899, 12, 30)
_XML_ESCAPE = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", **{chr(c): "" for c in range(32) if c not in (9, 10, 13)}})


def money_format(currency: str) -> str:
    symbol = {"USD": "$", "EUR": "€", "GBP": "£"}.get(currency)
    return f'"{symbol}"#,##0.00' if symbol else f'#,##0.00 "{currency}"'


def _style_id(ws: Any, **style: Any) -> int:
    """Register a cell style with the workbook and return its id (the cell itself is never written)."""
    probe = WriteOnlyCell(ws, value=None)
    for k, v in style.items():
        setattr(probe, k, v)
    return probe.style_id


def _text(s: str, quote_style: int) -> str:
    body = s.translate(_XML_ESCAPE)
    if risky(s):
        return f'<c t="inlineStr" s="{quote_style}"><is><t xml:space="preserve">{body}</t></is></c>'
    return f'<c t="inlineStr"><is><t xml:space="preserve">{body}</t></is></c>'


def cell_writer(kind: str, styles: dict[str, int]) -> Callable[[Any], str]:
    """value → ``<c>`` XML for one column kind (empty cell for None)."""
    if kind in ("money", "score"):
        sid = styles[kind]
        return lambda v: "<c/>" if v is None else f'<c s="{sid}"><v>{float(v)!r}</v></c>'
    if kind == "date":
        sid = styles["date"]
        return lambda v: "<c/>" if v is None else f'<c s="{sid}"><v>{(v - EXCEL_EPOCH).days}</v></c>'
    if kind == "int":
        return lambda v: "<c/>" if v is None else f"<c><v>{int(v)}</v></c>"
    if kind == "bool":
        return lambda v: "<c/>" if v is None else f'<c t="b"><v>{int(bool(v))}</v></c>'
    quote = styles["quote"]
    return lambda v: "<c/>" if v is None or v == "" else _text(str(v), quote)


def rows_xml(columns: list[Column], items: list[Any], styles: dict[str, int], chunk: int = 5000):
    """``<row>`` elements for the data rows (row 2 onwards), yielded in chunks to keep memory flat."""
    getters = [(c.get, cell_writer(c.kind, styles)) for c in columns]
    for start in range(0, len(items), chunk):
        yield "".join(f'<row r="{i}">{"".join(w(g(item)) for g, w in getters)}</row>'
                      for i, item in enumerate(items[start:start + chunk], start=start + 2))


def add_sheet(wb: Workbook, title: str, columns: list[Column], n_rows: int, currency: str,
              colour_columns: tuple[str, ...]) -> dict[str, int]:
    """Header, widths, frozen header, filter and colour rules; returns the data style ids."""
    ws = wb.create_sheet(title)
    for i, c in enumerate(columns, start=1):
        ws.column_dimensions[get_column_letter(i)].width = c.width
    ws.freeze_panes = "A2"
    bold, fill, wrap = Font(bold=True), PatternFill("solid", fgColor="E8E8E8"), Alignment(wrap_text=True)
    header = []
    for c in columns:
        cell = WriteOnlyCell(ws, value=c.header)
        cell.font, cell.fill, cell.alignment = bold, fill, wrap
        header.append(cell)
    ws.append(header)
    last = max(n_rows + 1, 2)
    ws.auto_filter.ref = f"A1:{get_column_letter(len(columns))}{n_rows + 1}"
    headers = [c.header for c in columns]
    for name in colour_columns:
        letter = get_column_letter(headers.index(name) + 1)
        for value, (bg, fg) in FILLS.items():
            ws.conditional_formatting.add(f"{letter}2:{letter}{last}", CellIsRule(
                operator="equal", formula=[f'"{value}"'], fill=PatternFill("solid", bgColor=bg),
                font=Font(color=fg, bold=True)))
    fmts = {**FORMATS, "money": money_format(currency)}
    return {**{k: _style_id(ws, number_format=v) for k, v in fmts.items()}, "quote": _style_id(ws, quotePrefix=True)}


def _stream_sheet(dst: zipfile.ZipFile, info: zipfile.ZipInfo, xml: str, rows, n_cols: int, n_rows: int) -> None:
    """Write the sheet with its dimension and the data rows spliced in before ``</sheetData>``."""
    dim = f'<dimension ref="A1:{get_column_letter(n_cols)}{n_rows + 1}"/>'
    xml = re.sub(r"<dimension [^>]*/>", "", xml, count=1).replace("<sheetViews>", dim + "<sheetViews>", 1)
    head, tail = xml.split("</sheetData>", 1)
    info.compress_type = zipfile.ZIP_DEFLATED
    with dst.open(info, "w") as fh:
        fh.write(head.encode("utf-8"))
        for part in rows:
            fh.write(part.encode("utf-8"))
        fh.write(("</sheetData>" + tail).encode("utf-8"))


def write_renewals_xlsx(ctx: Any, out: Path, *, created: dt.datetime | None = None) -> Path:
    sheets = [("Renewals", RENEWAL_COLUMNS, ctx.renewals,
               ("R/A/G", *[c.header for c in RENEWAL_COLUMNS if c.header.endswith(" status")])),
              ("Milestones", MILESTONE_COLUMNS, ctx.milestones, ("Status",))]
    wb = Workbook(write_only=True)
    styles = [add_sheet(wb, title, cols, len(items), ctx.currency, colour) for title, cols, items, colour in sheets]
    props = wb.properties
    props.title, props.creator = f"Renewal timeline {ctx.as_of.isoformat()} + {ctx.days} days", ctx.brand.company
    if created is not None:
        props.created = props.modified = created.replace(tzinfo=None, microsecond=0)
    buf = io.BytesIO()
    wb.save(buf)
    with zipfile.ZipFile(buf) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as dst:
        for info in src.infolist():
            data = src.read(info.filename)
            match = re.fullmatch(r"xl/worksheets/sheet(\d+)\.xml", info.filename)
            if match:
                i = int(match.group(1)) - 1
                _, cols, items, _ = sheets[i]
                _stream_sheet(dst, info, data.decode("utf-8"), rows_xml(cols, items, styles[i]), len(cols), len(items))
            else:
                dst.writestr(info, data, compress_type=zipfile.ZIP_DEFLATED, compresslevel=1)
    return out
