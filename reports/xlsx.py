"""Renewal timeline as XLSX (openpyxl, write-only for large books).

Two sheets, *Renewals* and *Milestones*: typed cells (dates as dates, money as numbers with
a currency format, scores as numbers), a frozen header row, auto-filters, R/A/G and status
colouring by conditional formatting (so colours follow the value when rows are filtered or
edited). Text that a spreadsheet would run as a formula is stored as a string cell with
Excel's quote prefix, so it shows literally and never evaluates.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.formatting.rule import CellIsRule
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter

from reports.tabular import MILESTONE_COLUMNS, RENEWAL_COLUMNS, Column, risky

FORMATS = {"date": "yyyy-mm-dd", "int": "0", "score": "0.0"}
FILLS = {"red": ("FFCDD2", "B71C1C"), "amber": ("FFE0B2", "E65100"), "green": ("C8E6C9", "1B5E20"),
         "overdue": ("FFCDD2", "B71C1C"), "due": ("FFE0B2", "E65100")}


def money_format(currency: str) -> str:
    symbol = {"USD": "$", "EUR": "€", "GBP": "£"}.get(currency)
    return f'"{symbol}"#,##0.00' if symbol else f'#,##0.00 "{currency}"'


class SheetWriter:
    """Appends typed rows to a write-only sheet; styled cells only where a format is needed."""

    def __init__(self, wb: Workbook, title: str, columns: list[Column], currency: str, header_fill: str):
        self.ws, self.columns = wb.create_sheet(title), columns
        self.formats = {**FORMATS, "money": money_format(currency)}
        for i, c in enumerate(columns, start=1):
            self.ws.column_dimensions[get_column_letter(i)].width = c.width
        self.ws.freeze_panes = "A2"
        bold, fill = Font(bold=True), PatternFill("solid", fgColor=header_fill)
        wrap = Alignment(wrap_text=True, vertical="bottom")
        self.ws.append([self._styled(c.header, font=bold, fill=fill, alignment=wrap) for c in columns])
        self.rows = 0

    def _styled(self, value: Any, **style: Any) -> WriteOnlyCell:
        cell = WriteOnlyCell(self.ws, value=value)
        for k, v in style.items():
            setattr(cell, k, v)
        return cell

    def _cell(self, value: Any, kind: str) -> Any:
        if value is None:
            return None
        if kind in ("money", "score"):
            return self._styled(float(value), number_format=self.formats[kind])
        if kind == "date":
            return self._styled(value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value)),
                                number_format=self.formats["date"])
        if kind in ("int", "bool"):
            return int(value) if kind == "int" else bool(value)
        text = str(value)
        if risky(text):
            cell = self._styled(text, quotePrefix=True)
            cell.data_type = "s"
            return cell
        return text

    def append(self, item: Any) -> None:
        self.ws.append([self._cell(c.get(item), c.kind) for c in self.columns])
        self.rows += 1

    def finish(self, colour_columns: tuple[str, ...]) -> None:
        last_col = get_column_letter(len(self.columns))
        self.ws.auto_filter.ref = f"A1:{last_col}{self.rows + 1}"
        for header in colour_columns:
            letter = get_column_letter([c.header for c in self.columns].index(header) + 1)
            for value, (bg, fg) in FILLS.items():
                self.ws.conditional_formatting.add(
                    f"{letter}2:{letter}{max(self.rows + 1, 2)}",
                    CellIsRule(operator="equal", formula=[f'"{value}"'], fill=PatternFill("solid", bgColor=bg),
                               font=Font(color=fg, bold=True)))


def write_renewals_xlsx(ctx: Any, out: Path, *, created: dt.datetime | None = None) -> Path:
    wb = Workbook(write_only=True)
    header_fill = "E8E8E8"
    renewals = SheetWriter(wb, "Renewals", RENEWAL_COLUMNS, ctx.currency, header_fill)
    for r in ctx.renewals:
        renewals.append(r)
    renewals.finish(("R/A/G", *[c.header for c in RENEWAL_COLUMNS if c.header.endswith(" status")]))
    milestones = SheetWriter(wb, "Milestones", MILESTONE_COLUMNS, ctx.currency, header_fill)
    for m in ctx.milestones:
        milestones.append(m)
    milestones.finish(("Status",))
    props = wb.properties
    props.title, props.creator = f"Renewal timeline {ctx.as_of.isoformat()} + {ctx.days} days", ctx.brand.company
    if created is not None:
        props.created = props.modified = created.replace(tzinfo=None, microsecond=0)
    wb.save(str(out))
    return out
