"""The only code that opens source data files: a registry from file suffix to reader.

Every reader returns :class:`RawTable` objects: the table's cells as they were in the file
(text where the file holds text; Parquet keeps its own types), with enough location information
to point a user at the exact file, sheet and row of a problem. Values are never guessed at
here: ids stay text, so leading zeros survive, and a workbook cell stored as a number is
marked as such (``RawTable.numeric``) for the checks to refuse where the column holds ids.
"""
from __future__ import annotations

import datetime as dt
import io
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ctpat_audit.core.errors import Problem


@dataclass
class RawTable:
    """One table read from a file (or a sheet of a workbook)."""

    name: str  # which table this is (file stem or sheet name), lower-cased
    file: str  # the file's name as the user gave it
    sheet: str | None
    frame: pd.DataFrame  # one row per data row, columns as in the file's header
    first_row: int  # the user-visible row number of frame row 0 (CSV/xlsx: header row + 1)
    typed: bool = False  # True when the format carries types (Parquet)
    #: .xlsx: True where a cell was stored as a number (rows x file columns), so an id typed
    #: as a number (``0278532`` kept as 278532) is refused rather than read as text
    numeric: np.ndarray | None = None

    def row_number(self, index: int) -> int:
        return self.first_row + index


Reader = Callable[[Path, str], "tuple[list[RawTable], list[Problem]]"]
READERS: dict[str, Reader] = {}


def reader(*suffixes: str) -> Callable[[Reader], Reader]:
    def register(fn: Reader) -> Reader:
        for s in suffixes:
            READERS[s] = fn
        return fn
    return register


def supported(path: Path) -> bool:
    return path.suffix.lower() in READERS


def read(path: Path, display: str | None = None) -> tuple[list[RawTable], list[Problem]]:
    """Read every table in ``path``; problems that stop a file being read come back located."""
    display = display or path.name
    fn = READERS.get(path.suffix.lower())
    if fn is None:
        return [], [Problem(display, None, None, None, path.suffix, "unsupported_file",
                            "a .csv, .xlsx or .parquet file")]
    return fn(path, display)


def table_name(stem: str) -> str:
    """``shipments-2025`` and ``Shipments`` both name the shipments table."""
    return stem.lower().split("-", 1)[0].strip()


@reader(".csv")
def read_csv(path: Path, display: str) -> tuple[list[RawTable], list[Problem]]:
    data = path.read_bytes()
    empty = [Problem(display, None, None, None, None, "empty_file",
                     "a header row naming the columns, then one row per record")]
    try:
        text = data.decode("utf-8-sig")  # a BOM (as Excel writes "CSV UTF-8") is accepted
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        bad = data[exc.start:exc.start + 4]
        return [], [Problem(display, None, line, None, repr(bad), "not_utf8",
                            "UTF-8 text (save the file as 'CSV UTF-8')")]
    if not text.strip():
        return [], empty
    try:
        # header=None: the header is read as a row, so a file whose every row has one field
        # more than its header is refused (pandas would take the first column as the index
        # and shift every value one column left) and duplicate names are not renamed
        frame = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False,
                            na_filter=False, skipinitialspace=False, header=None)
    except pd.errors.EmptyDataError:
        return [], empty
    except pd.errors.ParserError as exc:
        return [], csv_line_problems(text, display) or [
            Problem(display, None, None, None, str(exc)[:200], "unreadable_csv",
                    "a well-formed CSV file (same number of fields on every line)")]
    header = [str(c).strip() for c in frame.iloc[0]]
    frame = frame.iloc[1:].reset_index(drop=True)
    frame.columns = header
    return [RawTable(table_name(path.stem), display, None, frame, first_row=2)], []


def csv_line_problems(text: str, display: str, limit: int = 20) -> list[Problem]:
    """Where a CSV file cannot be split into records, by line (the line a record starts on:
    a quoted value may span lines): records with more fields than the header (the first
    ``limit`` listed, then a count), else the first record whose quoting the csv module
    refuses (an unclosed double quote runs to the end of the file)."""
    import csv

    width: int | None = None
    found: list[tuple[int, int]] = []
    start = 1
    reader = csv.reader(io.StringIO(text, newline=""))
    for record in reader:
        if record:
            if width is None:
                width = len(record)
            elif len(record) > width:
                found.append((start, len(record)))
        start = reader.line_num + 1
    expected = (f"{width} fields, as many as the header line has (a value that holds a "
                "comma must be in double quotes)")
    out = [Problem(display, None, line, None, f"{n} fields", "unreadable_csv", expected)
           for line, n in found[:limit]]
    if len(found) > limit:
        out.append(Problem(display, None, None, None, None, "unreadable_csv",
                           f"{len(found) - limit} more lines with too many fields ({expected})"))
    if out:
        return out
    start = 1
    strict = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        for _ in strict:
            start = strict.line_num + 1
    except csv.Error as exc:
        return [Problem(display, None, start, None, str(exc)[:200], "unreadable_csv",
                        "a value in double quotes closed by a double quote (a double quote "
                        "inside a quoted value is written twice)")]
    return []


def _cell_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time(0) else value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


#: Limits checked on the zip directory before openpyxl opens a workbook (zip bombs): total
#: uncompressed size, and compression ratio of any member larger than 1 MiB.
XLSX_MAX_UNCOMPRESSED = 512 * 1024 * 1024
XLSX_MAX_RATIO = 200


def _xlsx_bomb(path: Path) -> str | None:
    """Why this .xlsx must not be opened (zip bomb, XML with a DTD/entities), or None."""
    import zipfile

    with zipfile.ZipFile(path) as z:
        infos = z.infolist()
        total = sum(i.file_size for i in infos)
        if total > XLSX_MAX_UNCOMPRESSED:
            return (f"expands to {total / 2**20:.0f} MiB (limit "
                    f"{XLSX_MAX_UNCOMPRESSED // 2**20} MiB): a zip bomb?")
        for i in infos:
            if i.file_size > 2**20 and i.file_size > XLSX_MAX_RATIO * max(1, i.compress_size):
                return (f"{i.filename} is compressed {i.file_size // max(1, i.compress_size)}:1 "
                        f"(limit {XLSX_MAX_RATIO}:1): a zip bomb?")
            if i.filename.endswith((".xml", ".rels")):
                with z.open(i) as fh:
                    head = fh.read(4096)
                if b"<!DOCTYPE" in head or b"<!ENTITY" in head:
                    return f"{i.filename} declares a DTD or entities (refused: entity bombs)"
    return None


@reader(".xlsx", ".xlsm")
def read_xlsx(path: Path, display: str) -> tuple[list[RawTable], list[Problem]]:
    """Each sheet is a table named by the sheet; header in the first non-empty row.

    The zip directory is checked first (:func:`_xlsx_bomb`); any failure while reading a
    damaged workbook is a located ``unreadable_workbook`` problem, never another exception.
    """
    try:
        return _read_xlsx(path, display)
    except MemoryError:
        raise
    except Exception as exc:
        return [], [Problem(display, None, None, None, f"{type(exc).__name__}: {exc}"[:200],
                            "unreadable_workbook", "an Excel .xlsx workbook")]


def _read_xlsx(path: Path, display: str) -> tuple[list[RawTable], list[Problem]]:
    import zipfile

    from openpyxl import load_workbook

    problems: list[Problem] = []
    try:
        bomb = _xlsx_bomb(path)
        if bomb:
            return [], [Problem(display, None, None, None, bomb, "unreadable_workbook",
                                "an Excel .xlsx workbook of ordinary size")]
        wb = load_workbook(path, read_only=True, data_only=True)
    except (zipfile.BadZipFile, OSError, KeyError, ValueError) as exc:
        return [], [Problem(display, None, None, None, str(exc)[:200], "unreadable_workbook",
                            "an Excel .xlsx workbook")]
    tables: list[RawTable] = []
    try:
        for ws in wb.worksheets:
            rows = ws.iter_rows(values_only=True)
            header: list[str] | None = None
            header_row = 0
            body: list[list[str]] = []
            numbers: list[list[bool]] = []
            for i, row in enumerate(rows, start=1):
                cells = [_cell_text(c) for c in row]
                if header is None:
                    if any(c.strip() for c in cells):
                        header, header_row = [c.strip() for c in cells], i
                    continue
                body.append(cells)
                numbers.append([_is_number(c) for c in row])
            if header is None:
                problems.append(Problem(display, ws.title, None, None, None, "empty_file",
                                        "a header row naming the columns, then the records"))
                continue
            while header and not header[-1]:
                header.pop()
            width = len(header)
            body = [(r + [""] * width)[:width] for r in body]
            while body and not any(c.strip() for c in body[-1]):
                body.pop()
            frame = pd.DataFrame(body, columns=header, dtype=str)
            numeric = np.array([(r + [False] * width)[:width] for r in numbers[:len(body)]],
                               dtype=bool).reshape(len(body), width)
            tables.append(RawTable(table_name(ws.title), display, ws.title, frame,
                                   first_row=header_row + 1, numeric=numeric))
    finally:
        wb.close()
    return tables, problems


@reader(".parquet")
def read_parquet(path: Path, display: str) -> tuple[list[RawTable], list[Problem]]:
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(path)
        frame = table.to_pandas() if table.num_columns else None
    except MemoryError:
        raise
    except Exception as exc:
        return [], [Problem(display, None, None, None, f"{type(exc).__name__}: {exc}"[:200],
                            "unreadable_parquet", "an Apache Parquet file")]
    if frame is None:
        return [], [Problem(display, None, None, None, None, "empty_file",
                            "a Parquet file with the table's columns")]
    # row numbers in Parquet are record numbers, counted from 1
    return [RawTable(table_name(path.stem), display, None, frame, first_row=1, typed=True)], []
