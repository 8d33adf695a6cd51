"""openpyxl workbooks with safe cells and readable defaults.

Safe cells: text from users never becomes a formula. openpyxl treats a string that starts
with ``=`` as a formula; Excel and LibreOffice also evaluate text starting with ``+ - @`` (and
tab/CR tricks) when a CSV or typed cell is re-entered. Every string is written as an explicit
string cell (``data_type = 's'``), so the stored XML holds an inline/shared string, never an
``<f>`` element, and the value reads exactly as it was entered (but for the characters an
.xlsx file cannot hold, shown as U+FFFD: one such character never stops a workbook).
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from copy import copy
from decimal import Decimal
from pathlib import Path
from typing import TypeAlias

import pandas as pd
from openpyxl import Workbook
from openpyxl.cell.cell import Cell
from openpyxl.cell.rich_text import CellRichText
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.formula import ArrayFormula, DataTableFormula
from openpyxl.worksheet.worksheet import Worksheet

from ctpat_audit.core.text import visible

HEADER_FILL = PatternFill("solid", fgColor="1F3864")
HEADER_FONT = Font(bold=True, color="FFFFFF")
TITLE_FONT = Font(bold=True, size=13)
WRAP_TOP = Alignment(wrap_text=True, vertical="top")

#: What openpyxl stores in a cell (numbers, text, dates and times, rich text, formulas).
CellValue: TypeAlias = (bool | int | float | Decimal | str | bytes | dt.date | dt.time
                        | dt.timedelta | CellRichText | ArrayFormula | DataTableFormula | None)
_STORABLE = (bool, int, float, Decimal, str, bytes, dt.date, dt.time, dt.timedelta, CellRichText,
             ArrayFormula, DataTableFormula)



def cell_value(value: object) -> CellValue:
    """A value openpyxl can store: NA -> None, numpy scalars -> Python, dates as dates, and
    in text every character XML cannot hold or Unicode reserves as a noncharacter replaced
    by U+FFFD (:func:`ctpat_audit.core.text.visible`). Bidi controls stay: a cell is text of
    its own, so they cannot reorder anything outside it.

    Anything else openpyxl cannot store either: ValueError, as openpyxl would raise.
    """
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, float) and value != value:
        return None
    if isinstance(value, pd.Timestamp):
        return value.to_pydatetime().date() if value == value.normalize() else value.to_pydatetime()
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        item: object = value.item()  # numpy scalar
        if item is None or isinstance(item, _STORABLE):
            return item
        value = item
    elif isinstance(value, str):
        return visible(value)
    elif isinstance(value, _STORABLE):
        return value
    raise ValueError(f"Cannot convert {value!r} to Excel")


def first_sheet(wb: Workbook) -> Worksheet:
    """The worksheet a workbook opens on (``wb.active``), for the first table of a new workbook."""
    ws = wb.active
    if not isinstance(ws, Worksheet):
        raise TypeError(f"the workbook opens on a {type(ws).__name__}, not a worksheet")
    return ws


def set_cell(ws: Worksheet, row: int, col: int, value: object) -> Cell:
    """Write one cell; strings are always stored as text, never as a formula."""
    value = cell_value(value)
    cell = ws.cell(row=row, column=col)
    if not isinstance(cell, Cell):
        raise ValueError(f"cell {cell.coordinate} is inside a merged range: write its first cell")
    if isinstance(value, str):
        cell.value = value
        cell.data_type = "s"  # even "=1+1" stays text
    else:
        cell.value = value
        if isinstance(value, dt.date):
            cell.number_format = "yyyy-mm-dd"
    return cell


def write_table(ws: Worksheet, frame: pd.DataFrame, *, start_row: int = 1,
                widths: dict[str, int] | None = None, wrap: Iterable[str] = ()) -> None:
    """A header row with styles, the rows, frozen header, auto-filter and column widths."""
    wrap = set(wrap)
    columns: Sequence[str] = [str(c) for c in frame.columns]
    for j, name in enumerate(columns, start=1):
        c = set_cell(ws, start_row, j, name)
        c.fill, c.font = HEADER_FILL, HEADER_FONT
        c.alignment = Alignment(vertical="center", wrap_text=True)
    wrapped = [name in wrap for name in columns]
    wrap_style = None  # the style of the first wrapped cell, copied to the others: assigning
    # an Alignment hashes it into the workbook's style tables, a third of a report workbook's
    # time when done for every cell
    for i, row in enumerate(frame.itertuples(index=False, name=None), start=start_row + 1):
        for j, value in enumerate(row, start=1):
            c = set_cell(ws, i, j, value)
            if wrapped[j - 1]:
                # openpyxl's StyleArray (what its own cell copies copy); not in its stubs
                if wrap_style is not None and not c.has_style:
                    c._style = copy(wrap_style)  # type: ignore[attr-defined]
                else:
                    c.alignment = WRAP_TOP
                    if wrap_style is None and c.number_format == "General":
                        wrap_style = c._style  # type: ignore[attr-defined]
    ws.freeze_panes = ws.cell(row=start_row + 1, column=1).coordinate
    last = get_column_letter(max(1, len(columns)))
    ws.auto_filter.ref = f"A{start_row}:{last}{start_row + max(1, len(frame))}"
    for j, name in enumerate(columns, start=1):
        if widths and name in widths:
            width = widths[name]
        else:
            sample = frame[name].head(200).astype("string").fillna("").str.len()
            width = int(min(60, max(len(name) + 2, (sample.max() if len(sample) else 0) + 2)))
        ws.column_dimensions[get_column_letter(j)].width = width


def title_row(ws: Worksheet, text: str, row: int = 1) -> None:
    c = set_cell(ws, row, 1, text)
    c.font = TITLE_FONT


def save(wb: Workbook, path: str | Path) -> Path:
    """Save through a temporary file and rename, so a reader never sees half a workbook."""
    from ctpat_audit.core.files import replacing

    path = Path(path)
    with replacing(path) as tmp:
        wb.save(tmp)
    return path
