"""Criterion rows from a criteria table in a .csv file or an .xlsx workbook.

The header row is found in the first 20 rows (title rows above it are fine); rows whose ID
cell names a category ("6. Seal Security") are headings. An .xlsx id cell stored as a number
is refused: ``6.20`` and ``6.2`` are the same number, so the id cannot be known; the problem
names the sheet, row, column and value and says to store the column as text.
"""
from __future__ import annotations

import csv
from collections.abc import Iterable, Sequence
from pathlib import Path

from ctpat_audit.core.errors import Problem
from ctpat_audit.criteria.table_layout import (
    DISPLAY,
    EXPECTED_HEADERS,
    REQUIRED,
    TableRead,
    TableRow,
    header_column,
    heading_category,
    is_id,
)

HEADER_SEARCH_ROWS = 20



def _text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _header(cells: Sequence[object]) -> dict[str, int]:
    found: dict[str, int] = {}
    for i, cell in enumerate(cells):
        name = header_column(_text(cell))
        if name and name not in found:
            found[name] = i
    return found


def rows_from_grid(grid: Iterable[tuple[int, Sequence[object]]], file: str,
                   sheet: str | None) -> TableRead:
    """Rows of a spreadsheet-like grid (row number, cell values): find the header, then read.

    Cell values are text, or numbers as a workbook stores them.
    """
    header: dict[str, int] | None = None
    names: dict[str, str] = {}
    rows: list[TableRow] = []
    problems: list[Problem] = []
    notices: list[str] = []
    heading: int | None = None
    first_rows: list[str] = []
    for number, values in grid:
        texts = [_text(c) for c in values]
        if header is None:
            candidate = _header(values)
            if "id" in candidate and "criteria" in candidate:
                header = candidate
                names = {k: texts[i] for k, i in candidate.items()}
                where = f"sheet {sheet}, row {number}" if sheet else f"row {number}"
                notices += [f"column '{t}' ({where}) is not one the import reads; it was ignored"
                            for i, t in enumerate(texts) if t and i not in candidate.values()]
                has_level = "level" in header or any(k.startswith("level:") for k in header)
                missing = [c for c in REQUIRED if c not in header and not (c == "level" and has_level)]
                if missing:
                    return TableRead(problems=[Problem(
                        file, sheet, number, " / ".join(DISPLAY[m] for m in missing), None,
                        "missing_column", f"columns {EXPECTED_HEADERS}")])
            elif len(first_rows) < HEADER_SEARCH_ROWS:
                first_rows.append(" | ".join(t for t in texts if t))
                continue
            else:
                break
            continue
        cell = {k: (texts[i] if i < len(texts) else "") for k, i in header.items()}
        if not any(cell.values()):
            continue
        raw_id = values[header["id"]] if header["id"] < len(values) else None
        if isinstance(raw_id, (int, float)) and not isinstance(raw_id, bool):
            problems.append(Problem(file, sheet, number, names["id"], repr(raw_id), "number_id",
                                    "an id stored as text: 6.20 and 6.2 are the same number, so "
                                    "the id cannot be known; format the ID column as Text and "
                                    "type the ids again"))
            continue
        others = [t for k, t in cell.items() if k != "id" and t]
        if not is_id(cell["id"]):
            named = heading_category(cell["id"] or (others[0] if len(others) == 1 else ""))
            if named is not None and (not cell["id"] or not others or not cell.get("level")):
                heading = named
                continue
            if cell["id"] and not others and not cell["id"][0].isdigit():
                continue  # a focus-area title or an introductory paragraph, not a criterion
        rows.append(TableRow(cell, number, heading, sheet=sheet, headers=names))
    if header is None:
        return TableRead(problems=[Problem(
            file, sheet, None, None, "; ".join(first_rows[:3])[:200] or None, "missing_column",
            f"a header row with the columns {EXPECTED_HEADERS}")])
    return TableRead(rows, problems, notices)


def read_csv_rows(path: Path) -> TableRead:
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        return TableRead(problems=[Problem(
            path.name, None, None, None, None, "not_utf8",
            f"UTF-8 text (byte {exc.start} is not UTF-8); save the file as CSV UTF-8")])
    reader = csv.reader(text.splitlines(keepends=True))

    def grid() -> Iterable[tuple[int, list[object]]]:
        start = 1
        for record in reader:
            yield start, list(record)
            start = reader.line_num + 1

    return rows_from_grid(grid(), path.name, None)


def read_xlsx_rows(path: Path) -> TableRead:
    from openpyxl import load_workbook

    try:
        wb = load_workbook(path, read_only=False, data_only=True)
    except Exception as exc:
        return TableRead(problems=[Problem(path.name, None, None, None, None, "unreadable",
                                           f"an .xlsx workbook ({type(exc).__name__}: {exc})")])
    first: list[Problem] = []
    for ws in wb.worksheets:
        # iter_rows() without bounds starts at row 1 (openpyxl): its rows, numbered
        grid = ((number, [c.value for c in r])
                for number, r in enumerate(ws.iter_rows(), start=1) if r)
        read = rows_from_grid(grid, path.name, ws.title)
        if read.rows or (read.problems and read.problems[0].code != "missing_column"):
            return read
        first = first or read.problems
    return TableRead(problems=first[:1])
