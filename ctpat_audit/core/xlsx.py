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
from collections.abc import Callable, Iterable, Sequence
from copy import copy
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeAlias

import pandas as pd
from openpyxl import Workbook
from openpyxl.cell.cell import Cell
from openpyxl.cell.rich_text import CellRichText
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.styles.cell_style import StyleArray
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
    if type(value) is str:  # the common case first
        return visible(value)
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
    return _put(ws, row, col, cell_value(value))


def _put(ws: Worksheet, row: int, col: int, value: CellValue) -> Cell:
    """Write a value :func:`cell_value` returned; strings as text, never as a formula."""
    cell = ws.cell(row=row, column=col)
    if not isinstance(cell, Cell):
        raise ValueError(f"cell {cell.coordinate} is inside a merged range: write its first cell")
    if isinstance(value, str):
        # as openpyxl's value setter stores text (cut at Excel's 32,767 characters), without
        # its checks for formulas and error codes, which would be undone here, nor the one for
        # characters XML cannot hold, which cell_value has replaced
        cell._value = value[:32767]  # type: ignore[attr-defined]
        cell.data_type = "s"  # even "=1+1" stays text
        return cell
    cell.value = value
    if isinstance(value, dt.date) and cell.number_format != "yyyy-mm-dd":
        cell.number_format = "yyyy-mm-dd"
    return cell


def _text_width(values: list[Any]) -> int:
    """The longest of ``values`` as text, as ``Series.astype("string").str.len()`` counts it
    (missing values 0); for the dtypes :func:`_str_like` accepts, where ``str()`` is how pandas
    writes a value as a string."""
    longest = 0
    for v in values:
        if type(v) is str:
            n = len(v)
        elif v is None or pd.isna(v) is True:
            continue
        else:
            n = len(str(v))
        if n > longest:
            longest = n
    return longest


def _str_like(dtype: object) -> bool:
    """True if pandas turns this dtype's values into text with ``str()`` (not datetime64,
    which drops a midnight time, nor float32, which pandas writes with fewer digits)."""
    kind = getattr(dtype, "kind", "")
    if isinstance(dtype, pd.CategoricalDtype):
        return False
    return (kind in ("b", "i", "u", "O") or dtype == "float64" or dtype == "Float64"
            or isinstance(dtype, pd.StringDtype))


def _column_width(name: str, column: pd.Series, values: list[Any]) -> int:
    """Width of a column sized to its text: the header or the longest of the first 200 values
    (``values``: the column's as a list), plus 2, at most 60."""
    if _str_like(column.dtype):
        longest = _text_width(values[:200])
    else:
        sample = column.head(200).astype("string").fillna("").str.len()
        longest = int(sample.max()) if len(sample) else 0
    return int(min(60, max(len(name) + 2, longest + 2)))


def _put_styled(ws: Worksheet, row: int, col: int, value: CellValue,
                styles: dict[object, StyleArray], kind: object,
                style_it: Callable[[Cell], None]) -> None:
    """Write ``value`` (as :func:`_put`) in a cell styled as every cell of ``kind``: the first
    such cell without a style of its own gets ``style_it``, and the later ones a copy of its
    style (openpyxl's StyleArray, what its own cell copies copy). Assigning a Font, Fill or
    Alignment hashes it into the workbook's style tables: a third of a report workbook's time
    when done for every cell. A cell styled before gets ``style_it`` on its own style."""
    fresh = not ws.cell(row=row, column=col).has_style
    style = styles.get(kind)
    if fresh and style is not None:
        ws.cell(row=row, column=col)._style = copy(style)  # type: ignore[union-attr]
        _put(ws, row, col, value)
        return
    cell = _put(ws, row, col, value)
    style_it(cell)
    if fresh:
        styles[kind] = cell._style  # type: ignore[attr-defined]


def _header_style(cell: Cell) -> None:
    cell.fill, cell.font = HEADER_FILL, HEADER_FONT
    cell.alignment = Alignment(vertical="center", wrap_text=True)


def _wrap_style(cell: Cell) -> None:
    cell.alignment = WRAP_TOP


def _no_style(cell: Cell) -> None:
    """A date's style is its number format, which :func:`_put` sets."""


def write_table(ws: Worksheet, frame: pd.DataFrame, *, start_row: int = 1,
                widths: dict[str, int] | None = None, wrap: Iterable[str] = ()) -> None:
    """A header row with styles, the rows, frozen header, auto-filter and column widths."""
    wrap = set(wrap)
    columns: Sequence[str] = [str(c) for c in frame.columns]
    styles: dict[object, StyleArray] = {}  # kind of cell -> the style its cells copy
    for j, name in enumerate(columns, start=1):
        _put_styled(ws, start_row, j, visible(name), styles, "header", _header_style)
    # converted column by column (one conversion per column, not a pandas row tuple per row)
    series = [column for _, column in frame.items()]
    raw = [column.tolist() for column in series]
    values = [[cell_value(v) for v in column] for column in raw]
    wrapped = [name in wrap for name in columns]
    for i, row in enumerate(zip(*values), start=start_row + 1):
        for j, value in enumerate(row):
            kind = (wrapped[j], isinstance(value, dt.date))
            if kind == (False, False):
                _put(ws, i, j + 1, value)
            else:  # wrapped text and dates (their number format, set by _put)
                _put_styled(ws, i, j + 1, value, styles, kind,
                            _wrap_style if kind[0] else _no_style)
    ws.freeze_panes = ws.cell(row=start_row + 1, column=1).coordinate
    last = get_column_letter(max(1, len(columns)))
    ws.auto_filter.ref = f"A{start_row}:{last}{start_row + max(1, len(frame))}"
    for j, name in enumerate(columns, start=1):
        if widths and name in widths:
            width = widths[name]
        else:
            width = _column_width(name, series[j - 1], raw[j - 1])
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
