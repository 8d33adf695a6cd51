"""The only code that opens source data files: a registry from file suffix to reader.

Every reader yields :class:`RawTable` objects: the table's cells as they were in the file
(text where the file holds text; Parquet keeps its own types), with enough location information
to point a user at the exact file, sheet and row of a problem. A reader yields a long table in
batches of rows (:func:`read_batches`), so a file of any length is read in bounded memory;
:func:`read` joins them for the small tables that are wanted whole. Values are never guessed at
here: ids stay text, so leading zeros survive, and a workbook cell stored as a number is
marked as such (``RawTable.numeric``) for the checks to refuse where the column holds ids.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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
    sole: bool = True  # the only table in its file (a workbook of one sheet)

    def row_number(self, index: int) -> int:
        return self.first_row + index


#: A reader yields a file's tables in batches of at most ``batch_rows`` rows (each a
#: :class:`RawTable` whose ``first_row`` is that batch's first row; ``None``: one batch per
#: table), and a located :class:`Problem` wherever reading stops.
Reader = Callable[[Path, str, "int | None"], "Iterator[RawTable | Problem]"]
READERS: dict[str, Reader] = {}


def reader(*suffixes: str) -> Callable[[Reader], Reader]:
    def register(fn: Reader) -> Reader:
        for s in suffixes:
            READERS[s] = fn
        return fn
    return register


def supported(path: Path) -> bool:
    return path.suffix.lower() in READERS


def read_batches(path: Path, display: str | None = None,
                 batch_rows: int | None = None) -> Iterator[RawTable | Problem]:
    """Every table in ``path`` in batches of at most ``batch_rows`` rows (memory bounded by
    the batch, not the file), and the problems that stop a file being read, located."""
    display = display or path.name
    fn = READERS.get(path.suffix.lower())
    if fn is None:
        yield Problem(display, None, None, None, path.suffix, "unsupported_file",
                      "a .csv, .xlsx or .parquet file")
        return
    yield from fn(path, display, batch_rows)


def read(path: Path, display: str | None = None) -> tuple[list[RawTable], list[Problem]]:
    """Every table in ``path``, whole; problems that stop a file being read come back located."""
    tables: list[RawTable] = []
    problems: list[Problem] = []
    for item in read_batches(path, display, None):
        if isinstance(item, Problem):
            problems.append(item)
        else:
            tables.append(item)
    if any(p.code in UNREADABLE for p in problems):
        return [], problems  # a file read only in part gives no table
    return tables, problems


#: Problems that stop a file being read (a sheet without a header stops only that sheet).
UNREADABLE = frozenset({"unreadable_workbook", "unreadable_parquet", "unreadable_csv",
                        "not_utf8"})


def table_name(stem: str) -> str:
    """``shipments-2025`` and ``Shipments`` both name the shipments table."""
    return stem.lower().split("-", 1)[0].strip()


def _empty_file(display: str, sheet: str | None = None) -> Problem:
    return Problem(display, sheet, None, None, None, "empty_file",
                   "a header row naming the columns, then one row per record")


def _blank(path: Path) -> bool:
    """The file holds nothing but white space (read until the first other character; a file
    that is not UTF-8 is not blank: reading it says so)."""
    import codecs

    decoder = codecs.getincrementaldecoder("utf-8-sig")()
    with open(path, "rb") as f:
        while True:
            chunk = f.read(1 << 16)
            try:
                text = decoder.decode(chunk, final=not chunk)
            except UnicodeDecodeError:
                return False
            if text.strip():
                return False
            if not chunk:
                return True


def _first_bad_utf8(path: Path) -> tuple[int, bytes]:
    """Line and bytes of the first sequence in ``path`` that is not UTF-8."""
    lines = 0
    carry = b""
    with open(path, "rb") as f:
        while True:
            chunk = f.read(1 << 20)
            data = carry + chunk
            try:
                data.decode("utf-8")
            except UnicodeDecodeError as exc:
                if chunk and exc.reason == "unexpected end of data":
                    lines += data.count(b"\n", 0, exc.start)
                    carry = data[exc.start:]  # a character cut by the end of this read
                    continue
                return lines + data.count(b"\n", 0, exc.start) + 1, data[exc.start:exc.start + 4]
            if not chunk:
                return lines + 1, b""
            lines += data.count(b"\n")
            carry = b""


@reader(".csv")
def read_csv(path: Path, display: str, batch_rows: int | None) -> Iterator[RawTable | Problem]:
    """A CSV file (UTF-8, a BOM accepted), every cell as text, in batches."""
    if _blank(path):
        yield _empty_file(display)
        return
    name = table_name(path.stem)
    header: list[str] | None = None
    parts: list[pd.DataFrame] = []
    first_row = 2
    try:
        # header=None: the header is read as a row, so a file whose every row has one field
        # more than its header is refused (pandas would take the first column as the index
        # and shift every value one column left) and duplicate names are not renamed
        with pd.read_csv(path, dtype=str, keep_default_na=False, na_filter=False,
                         skipinitialspace=False, header=None, encoding="utf-8-sig",
                         chunksize=batch_rows or CSV_WHOLE_FILE_ROWS) as chunks:
            for chunk in chunks:
                if header is None:
                    header = [str(c).strip() for c in chunk.iloc[0]]
                    chunk = chunk.iloc[1:]
                chunk = chunk.reset_index(drop=True)
                chunk.columns = header
                if batch_rows is None:
                    parts.append(chunk)
                else:
                    yield RawTable(name, display, None, chunk, first_row=first_row)
                first_row += len(chunk)
    except UnicodeDecodeError:
        line, bad = _first_bad_utf8(path)
        yield Problem(display, None, line, None, repr(bad), "not_utf8",
                      "UTF-8 text (save the file as 'CSV UTF-8')")
        return
    except pd.errors.EmptyDataError:
        yield _empty_file(display)
        return
    except pd.errors.ParserError as exc:
        yield from csv_line_problems(path, display) or [
            Problem(display, None, None, None, str(exc)[:200], "unreadable_csv",
                    "a well-formed CSV file (same number of fields on every line)")]
        return
    if header is None:
        yield _empty_file(display)
    elif parts:
        yield RawTable(name, display, None,
                       parts[0] if len(parts) == 1 else pd.concat(parts, ignore_index=True),
                       first_row=2)


#: Rows pandas parses at a time when a CSV file is read whole (the parts are joined).
CSV_WHOLE_FILE_ROWS = 1 << 20


def csv_line_problems(path: Path, display: str, limit: int = 20) -> list[Problem]:
    """Where a CSV file cannot be split into records, by line (the line a record starts on:
    a quoted value may span lines): records with more fields than the header (the first
    ``limit`` listed, then a count), else the first record whose quoting the csv module
    refuses (an unclosed double quote runs to the end of the file). Reads the file as a
    stream."""
    import csv

    width: int | None = None
    found: list[tuple[int, int]] = []
    more = 0
    start = 1
    with open(path, encoding="utf-8-sig", newline="") as f:
        reader = csv.reader(f)
        for record in reader:
            if record:
                if width is None:
                    width = len(record)
                elif len(record) > width:
                    if len(found) < limit:
                        found.append((start, len(record)))
                    else:
                        more += 1
            start = reader.line_num + 1
    expected = (f"{width} fields, as many as the header line has (a value that holds a "
                "comma must be in double quotes)")
    out = [Problem(display, None, line, None, f"{n} fields", "unreadable_csv", expected)
           for line, n in found]
    if more:
        out.append(Problem(display, None, None, None, None, "unreadable_csv",
                           f"{more} more lines with too many fields ({expected})"))
    if out:
        return out
    start = 1
    with open(path, encoding="utf-8-sig", newline="") as f:
        strict = csv.reader(f, strict=True)
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
def read_xlsx(path: Path, display: str, batch_rows: int | None) -> Iterator[RawTable | Problem]:
    """Each sheet is a table named by the sheet; header in the first non-empty row.

    The zip directory is checked first (:func:`_xlsx_bomb`); any failure while reading a
    damaged workbook is a located ``unreadable_workbook`` problem, never another exception.
    """
    try:
        yield from _read_xlsx(path, display, batch_rows)
    except MemoryError:
        raise
    except Exception as exc:
        yield Problem(display, None, None, None, f"{type(exc).__name__}: {exc}"[:200],
                      "unreadable_workbook", "an Excel .xlsx workbook")


def _read_xlsx(path: Path, display: str, batch_rows: int | None) -> Iterator[RawTable | Problem]:
    import zipfile

    from openpyxl import load_workbook

    try:
        bomb = _xlsx_bomb(path)
        if bomb:
            yield Problem(display, None, None, None, bomb, "unreadable_workbook",
                          "an Excel .xlsx workbook of ordinary size")
            return
        wb = load_workbook(path, read_only=True, data_only=True)
    except (zipfile.BadZipFile, OSError, KeyError, ValueError) as exc:
        yield Problem(display, None, None, None, str(exc)[:200], "unreadable_workbook",
                      "an Excel .xlsx workbook")
        return
    try:
        sole = len(wb.worksheets) == 1
        for ws in wb.worksheets:
            yield from _sheet_batches(ws, display, batch_rows, sole)
    finally:
        wb.close()


def _sheet_batches(ws: Any, display: str, batch_rows: int | None,
                   sole: bool) -> Iterator[RawTable | Problem]:
    """One sheet's rows in batches; blank rows at the end of the sheet are dropped."""
    header: list[str] | None = None
    first_row = width = 0
    body: list[list[str]] = []
    numbers: list[list[bool]] = []
    blank: list[tuple[list[str], list[bool]]] = []  # blank rows not yet known to be the last
    yielded = False

    def batch() -> RawTable:
        assert header is not None
        frame = pd.DataFrame(body, columns=header, dtype=str)
        numeric = np.array(numbers, dtype=bool).reshape(len(body), width)
        return RawTable(table_name(ws.title), display, ws.title, frame, first_row=first_row,
                        numeric=numeric, sole=sole)

    for i, row in enumerate(ws.iter_rows(values_only=True), start=1):
        cells = [_cell_text(c) for c in row]
        if header is None:
            if any(c.strip() for c in cells):
                header, first_row = [c.strip() for c in cells], i + 1
                while header and not header[-1]:
                    header.pop()
                width = len(header)
            continue
        cells = (cells + [""] * width)[:width]
        flags = ([_is_number(c) for c in row] + [False] * width)[:width]
        if not any(c.strip() for c in cells):
            blank.append((cells, flags))
            continue
        for b_cells, b_flags in blank:
            body.append(b_cells)
            numbers.append(b_flags)
        blank.clear()
        body.append(cells)
        numbers.append(flags)
        if batch_rows is not None and len(body) >= batch_rows:
            yield batch()
            yielded = True
            first_row += len(body)
            body, numbers = [], []
    if header is None:
        yield Problem(display, ws.title, None, None, None, "empty_file",
                      "a header row naming the columns, then the records")
    elif body or not yielded:
        yield batch()


def _first_bad_text(table: Any, first_row: int, display: str) -> Problem | None:
    """The ``not_utf8`` problem of the first text value of ``table`` that is not UTF-8 (a
    damaged Parquet file can hold such bytes in a text column; Arrow keeps them until a later
    step trips over them), or ``None``. Rows are record numbers, ``first_row`` for the first."""
    import pyarrow as pa

    for column, values in zip(table.column_names, table.columns, strict=True):
        if not (pa.types.is_string(values.type) or pa.types.is_large_string(values.type)):
            continue
        try:
            values.validate(full=True)
            continue
        except pa.ArrowInvalid:
            pass
        raw = values.cast(pa.large_binary() if pa.types.is_large_string(values.type)
                          else pa.binary())
        for i, value in enumerate(raw.to_pylist()):
            try:
                if value is not None:
                    value.decode("utf-8")
            except UnicodeDecodeError as exc:
                return Problem(display, None, first_row + i, column,
                               repr(value[exc.start:exc.start + 4]), "not_utf8",
                               "text encoded as UTF-8")
        return Problem(display, None, None, column, None, "not_utf8", "text encoded as UTF-8")
    return None


@reader(".parquet")
def read_parquet(path: Path, display: str, batch_rows: int | None) -> Iterator[RawTable | Problem]:
    """A Parquet file in batches of its records (row numbers are record numbers, from 1)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    name = table_name(path.stem)
    first_row = 1
    try:
        with pq.ParquetFile(path) as f:
            schema = f.schema_arrow
            if not schema.names:
                yield Problem(display, None, None, None, None, "empty_file",
                              "a Parquet file with the table's columns")
                return
            if batch_rows is None:
                table = f.read()
                bad = _first_bad_text(table, 1, display)
                if bad:
                    yield bad
                    return
                yield RawTable(name, display, None, table.to_pandas(), first_row=1,
                               typed=True)
                return
            for b in f.iter_batches(batch_size=batch_rows):
                table = pa.Table.from_batches([b], schema)
                bad = _first_bad_text(table, first_row, display)
                if bad:
                    yield bad
                    return
                frame = table.to_pandas()
                yield RawTable(name, display, None, frame, first_row=first_row, typed=True)
                first_row += len(frame)
            if first_row == 1:  # no records: the table's columns, empty
                yield RawTable(name, display, None, schema.empty_table().to_pandas(),
                               first_row=1, typed=True)
    except MemoryError:
        raise
    except Exception as exc:
        yield Problem(display, None, None, None, f"{type(exc).__name__}: {exc}"[:200],
                      "unreadable_parquet", "an Apache Parquet file")
