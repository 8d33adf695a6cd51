"""Read CBP's per-entity criteria tables (PDF, .xlsx, .csv) into an "official" catalogue.

CBP publishes one Minimum Security Criteria table per business entity type, with the columns
ID, Criteria, Implementation Guidance and Must/Should, grouped under category headings (e.g.
"Seal Security"). Users hold these documents; the toolkit reads them as they are:

- .csv and .xlsx: a header row with those columns (found in the first 20 rows, so title rows
  above it are fine); rows whose ID cell names a category (``6. Seal Security``) are headings.
- PDF: words are placed into columns by the x position of the header words, lines are
  grouped by height; a line whose ID column holds text starts a row, other lines continue the
  previous row, also across page breaks (repeated headers and page footers are skipped).

Every problem is collected and located (file, sheet or page, row or line, column): bad id
format, category outside 1-12, an id under another category's heading, Must/Should missing or
unknown, duplicate ids, missing criterion text, missing columns. Any problem raises
:class:`~ctpat_audit.core.errors.IntakeError` and nothing is written. Importing another entity
type's table into the same version merges it: one catalogue, per-entity applicability.
"""
from __future__ import annotations

import csv
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Iterable

from ctpat_audit.core import vocabulary as v
from ctpat_audit.criteria.catalogue import (Catalogue, Criterion, builtin_path, check_version, criterion_sort_key,
                        load_catalogue_file, save_catalogue, workspace_path)
from ctpat_audit.core.errors import InputError, IntakeError, Problem

COLUMNS = {  # canonical -> accepted header spellings (normalised)
    "id": ("id", "criteria id", "criterion id"),
    "criteria": ("criteria", "criterion", "criteria text"),
    "guidance": ("implementation guidance", "guidance"),
    "level": ("must/should", "must or should", "must/ should", "must /should"),
    "observe": ("observe",),
    "request": ("request",),
}
REQUIRED = ("id", "criteria", "level")
ID_RE = re.compile(r"^(\d{1,2})\.(\d{1,3})$")
OBSERVE_DEFAULT = ("Observe the practice this criterion describes in operation and compare it "
                   "with the company's written procedure.")
REQUEST_DEFAULT = ("Request the written procedure and the records (documents, photos, logs) "
                   "that show this criterion is met.")
_FOOTER = re.compile(r"^(page\s*)?\d+(\s*(of|/)\s*\d+)?$", re.IGNORECASE)
_FOCUS_AREAS = {_f.casefold() for _f in v.FOCUS_AREAS}
_ALIASES = {"cyber security": 4, "security vision & responsibility": 1,
            "conveyance and iit security": 5, "conveyance & iit security": 5,
            "instruments of international traffic security": 5,
            "education training and awareness": 12, "agriculture security": 8}


@dataclass(frozen=True)
class PageProblem(Problem):
    """A problem in a PDF table: located by page and text line rather than sheet and row."""

    page: int = 0

    def location(self) -> str:
        parts = [self.file, f"page {self.page}"]
        if self.row is not None:
            parts.append(f"line {self.row}")
        if self.column:
            parts.append(f"column {self.column}")
        return ", ".join(parts)


@dataclass
class TableRow:
    """One criterion row as read, with where it came from."""

    cells: dict[str, str]  # canonical column -> text
    row: int  # spreadsheet/CSV row number, or the line on the page for PDF
    heading: int | None  # category of the heading the row sits under, if any
    page: int | None = None
    sheet: str | None = None
    headers: dict[str, str] = field(default_factory=dict)  # canonical -> header as in the file


def _norm(text: object) -> str:
    s = re.sub(r"\s+", " ", str(text or "").replace("\n", " ")).strip().casefold()
    return re.sub(r"\s*/\s*", "/", s)


def heading_category(text: str) -> int | None:
    """The category a heading names ("Seal Security", "6. Seal Security"), else None."""
    s = _norm(text).replace("–", "-")
    s = re.sub(r"^\d{1,2}\s*[.)-]?\s*", "", s).strip(" :-")
    s = s.replace("&", "and").replace(",", "")
    if not s:
        return None
    s = re.split(r"\s+-\s+|:", s)[0].strip()  # "Seal Security - continued"
    for c in v.CATEGORIES:
        if s == c.name.casefold().replace(",", ""):
            return c.number
    for alias, number in _ALIASES.items():
        if s == alias.replace("&", "and").replace(",", ""):
            return number
    return None


def _header_map(cells: list[object]) -> dict[str, int]:
    """canonical column -> index, for the cells of a candidate header row."""
    found: dict[str, int] = {}
    for i, cell in enumerate(cells):
        n = _norm(cell)
        for canon, names in COLUMNS.items():
            if n in names and canon not in found:
                found[canon] = i
    return found


def _problem(file: str, code: str, expected: str, *, row: TableRow | None = None,
             column: str | None = None, value: str | None = None,
             sheet: str | None = None, line: int | None = None) -> Problem:
    if row is not None and row.page is not None:
        return PageProblem(file, f"page {row.page}", row.row, column, value, code, expected,
                           page=row.page)
    return Problem(file, row.sheet if row else sheet, row.row if row else line, column, value,
                   code, expected)


# -- readers ---------------------------------------------------------------------------------

def _rows_from_grid(grid: Iterable[tuple[int, list[object]]], file: str,
                    sheet: str | None) -> tuple[list[TableRow], list[Problem]]:
    """Rows of a spreadsheet-like grid (row number, cells): find the header, then read."""
    header: dict[str, int] | None = None
    names: dict[str, str] = {}
    rows: list[TableRow] = []
    heading: int | None = None
    first_rows: list[str] = []
    for number, cells in grid:
        texts = ["" if c is None else str(c).strip() for c in cells]
        if header is None:
            candidate = _header_map(texts)
            if "id" in candidate and "criteria" in candidate:
                header = candidate
                names = {k: texts[i] for k, i in candidate.items()}
                missing = [c for c in REQUIRED if c not in header]
                if missing:
                    return [], [_problem(file, "missing_column", "columns ID, Criteria, "
                                         "Implementation Guidance, Must/Should",
                                         sheet=sheet, line=number,
                                         column=" / ".join(COLUMNS[m][0].title() for m in missing))]
            elif len(first_rows) < 20:
                first_rows.append(" | ".join(t for t in texts if t))
                continue
            else:
                break
            continue
        cell = {k: (texts[i] if i < len(texts) else "") for k, i in header.items()}
        if not any(cell.values()):
            continue
        others = [t for k, t in cell.items() if k != "id" and t]
        if not ID_RE.match(cell["id"]):
            named = heading_category(cell["id"] or (others[0] if len(others) == 1 else ""))
            if named is not None and (not cell["id"] or not others or not cell.get("level")):
                heading = named
                continue
            if cell["id"] and not others and not cell["id"][0].isdigit():
                continue  # a focus-area title or an introductory paragraph, not a criterion
        rows.append(TableRow(cell, number, heading, sheet=sheet, headers=names))
    if header is None:
        return [], [_problem(file, "missing_column", "a header row with the columns ID, "
                             "Criteria, Implementation Guidance, Must/Should",
                             sheet=sheet, value="; ".join(first_rows[:3])[:200] or None)]
    return rows, []


def read_csv_rows(path: Path) -> tuple[list[TableRow], list[Problem]]:
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        return [], [Problem(path.name, None, None, None, None, "not_utf8",
                            f"UTF-8 text (byte {exc.start} is not UTF-8); save the file as CSV UTF-8")]
    reader = csv.reader(text.splitlines(keepends=True))

    def grid() -> Iterable[tuple[int, list[object]]]:
        start = 1
        for record in reader:
            yield start, list(record)
            start = reader.line_num + 1

    return _rows_from_grid(grid(), path.name, None)


def _xlsx_text(cell: Any) -> object:
    value = cell.value
    if isinstance(value, float):  # an id typed as a number: keep its shown decimals
        m = re.search(r"0\.(0+)", str(cell.number_format or ""))
        return f"{value:.{len(m.group(1))}f}" if m else repr(value)
    return value


def read_xlsx_rows(path: Path) -> tuple[list[TableRow], list[Problem]]:
    from openpyxl import load_workbook

    try:
        wb = load_workbook(path, read_only=False, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds for damaged files
        return [], [Problem(path.name, None, None, None, None, "unreadable",
                            f"an .xlsx workbook ({type(exc).__name__}: {exc})")]
    problems: list[Problem] = []
    for ws in wb.worksheets:
        grid = ((r[0].row, [_xlsx_text(c) for c in r]) for r in ws.iter_rows() if r)
        rows, found = _rows_from_grid(grid, path.name, ws.title)
        if rows or not found:
            return rows, []
        problems += found
    return [], problems[:1] if problems else []


def _lines(words: list[dict[str, Any]], tolerance: float = 3.0) -> list[list[dict[str, Any]]]:
    lines: list[list[dict[str, Any]]] = []
    for w in sorted(words, key=lambda w: (w["top"], w["x0"])):
        if lines and abs(lines[-1][0]["top"] - w["top"]) <= tolerance:
            lines[-1].append(w)
        else:
            lines.append([w])
    return [sorted(line, key=lambda w: w["x0"]) for line in lines]


def _pdf_header(line: list[dict[str, Any]]) -> dict[str, float] | None:
    """Column start positions from a header line ("ID Criteria Implementation Guidance Must/Should")."""
    starts: dict[str, float] = {}
    for w in line:
        t = w["text"].casefold()
        if t == "id" and "id" not in starts:
            starts["id"] = w["x0"]
        elif t.startswith("criteri") and "criteria" not in starts:
            starts["criteria"] = w["x0"]
        elif t.startswith("implementation") and "guidance" not in starts:
            starts["guidance"] = w["x0"]
        elif t.startswith("must") and "level" not in starts:
            starts["level"] = w["x0"]
    return starts if {"id", "criteria", "level"} <= starts.keys() else None


def read_pdf_rows(path: Path) -> tuple[list[TableRow], list[Problem]]:
    import pdfplumber

    rows: list[TableRow] = []
    starts: dict[str, float] | None = None
    heading: int | None = None
    in_intro = False
    names = {"id": "ID", "criteria": "Criteria", "guidance": "Implementation Guidance",
             "level": "Must/Should"}
    try:
        pdf = pdfplumber.open(path)
    except Exception as exc:
        return [], [Problem(path.name, None, None, None, None, "unreadable",
                            f"a PDF document ({type(exc).__name__}: {exc})")]
    with pdf:
        for page_number, page in enumerate(pdf.pages, start=1):
            lines = _lines(page.extract_words(x_tolerance=1.5, y_tolerance=2))
            header_at = next((i for i, ln in enumerate(lines) if _pdf_header(ln)), None)
            if header_at is not None:
                starts = _pdf_header(lines[header_at])
                body = list(enumerate(lines, start=1))[header_at + 1:]
            elif starts is None:
                continue  # cover pages before the table
            else:
                body = list(enumerate(lines, start=1))
            assert starts is not None
            bounds = sorted(((x - 2.0, k) for k, x in starts.items()), reverse=True)
            for line_number, line in body:
                full = " ".join(w["text"] for w in line)
                if _FOOTER.match(full.strip()):
                    continue
                cells: dict[str, list[str]] = {k: [] for k in starts}
                for w in line:
                    column = next((k for x, k in bounds if w["x0"] >= x), "id")
                    cells[column].append(w["text"])
                text = {k: " ".join(ws) for k, ws in cells.items()}
                if text["id"] and not text["id"][0].isdigit():
                    # not a criterion row: a category heading, a focus-area title or the
                    # introduction under a heading (skipped with its continuation lines),
                    # or a running page title (skipped alone)
                    named = heading_category(full)
                    if named is not None or _norm(full) in _FOCUS_AREAS:
                        heading, in_intro = named or heading, True
                    continue
                if text["id"]:
                    in_intro = False
                    rows.append(TableRow(text, line_number, heading, page=page_number,
                                         headers=names))
                elif rows and not in_intro:  # a continuation line, possibly on the next page
                    for k, t in text.items():
                        if t:
                            prev = rows[-1].cells.get(k, "")
                            rows[-1].cells[k] = f"{prev} {t}".strip()
    if starts is None:
        return [], [Problem(path.name, None, None, None, None, "missing_column",
                            "a table whose header line reads ID, Criteria, Implementation "
                            "Guidance, Must/Should")]
    return rows, []


READERS = {".csv": read_csv_rows, ".xlsx": read_xlsx_rows, ".xlsm": read_xlsx_rows,
           ".pdf": read_pdf_rows}


# -- checks ----------------------------------------------------------------------------------

def normalise_level(text: str) -> str | None:
    return {"must": "Must", "should": "Should"}.get(_norm(text))


def check_rows(rows: list[TableRow], file: str) -> list[Problem]:
    """Every problem in the rows, located; an empty list means the table can be imported."""
    problems: list[Problem] = []
    if not rows:
        return [Problem(file, None, None, None, None, "empty_table",
                        "at least one criterion row under the header")]
    seen: dict[str, TableRow] = {}
    for r in rows:
        col = r.headers.get
        cid = r.cells.get("id", "").strip()
        m = ID_RE.match(cid)
        if not m or int(m.group(2)) == 0:
            problems.append(_problem(file, "bad_id", "an id like 3.4 (category.number)",
                                     row=r, column=col("id", "ID"), value=cid))
        else:
            category = int(m.group(1))
            if not 1 <= category <= 12:
                problems.append(_problem(file, "category_out_of_range",
                                         "a category number from 1 to 12", row=r,
                                         column=col("id", "ID"), value=cid))
            elif r.heading is not None and category != r.heading:
                name = v.CATEGORIES[r.heading - 1].name
                problems.append(_problem(file, "wrong_category",
                                         f"an id {r.heading}.x under the heading "
                                         f"'{name}' (category {r.heading})",
                                         row=r, column=col("id", "ID"), value=cid))
            if cid in seen:
                first = seen[cid]
                where = (f"page {first.page}, line {first.row}" if first.page is not None
                         else f"row {first.row}")
                problems.append(_problem(file, "duplicate_id",
                                         f"each id once (first seen at {where})", row=r,
                                         column=col("id", "ID"), value=cid))
            else:
                seen[cid] = r
        level = r.cells.get("level", "").strip()
        if not level:
            problems.append(_problem(file, "missing_level", "Must or Should", row=r,
                                     column=col("level", "Must/Should"), value=None))
        elif normalise_level(level) is None:
            problems.append(_problem(file, "unknown_level", "Must or Should", row=r,
                                     column=col("level", "Must/Should"), value=level))
        if not r.cells.get("criteria", "").strip():
            problems.append(_problem(file, "missing_text", "the criterion's text", row=r,
                                     column=col("criteria", "Criteria"), value=None))
    return problems


def read_criteria_table(path: str | Path) -> list[TableRow]:
    """Read and check one CBP-layout table; IntakeError lists every problem found."""
    path = Path(path)
    reader = READERS.get(path.suffix.casefold())
    if reader is None:
        raise InputError("criteria table file", str(path), "a .pdf, .xlsx or .csv file")
    if not path.is_file():
        raise IntakeError([Problem(path.name, None, None, None, None, "missing_file",
                                   f"an existing file at {path}")])
    rows, problems = reader(path)
    problems = problems or check_rows(rows, path.name)
    if problems:
        raise IntakeError(problems)
    return rows


# -- building and merging --------------------------------------------------------------------

def merge_table(existing: Catalogue | None, rows: list[TableRow], entity_type: str,
                version: str, file: str) -> Catalogue:
    """A catalogue with ``entity_type``'s table merged in (replacing an earlier import of it).

    A criterion listed by several entity tables keeps the text of the first import and gets
    one Must/Should per entity type.
    """
    kept: dict[str, Criterion] = {}
    for c in existing.criteria if existing else ():
        levels = {t: lv for t, lv in c.must_should.items() if t != entity_type}
        if levels:
            kept[c.id] = replace(c, must_should=levels)
    label = v.ENTITY_TYPES[entity_type]
    for r in rows:
        cid, level = r.cells["id"].strip(), normalise_level(r.cells["level"]) or "Must"
        if cid in kept:
            c = kept[cid]
            kept[cid] = replace(c, must_should={**c.must_should, entity_type: level})
            continue
        kept[cid] = Criterion(
            id=cid, category=criterion_sort_key(cid)[0], requirement=r.cells["criteria"].strip(),
            observe=r.cells.get("observe", "").strip() or OBSERVE_DEFAULT,
            request=r.cells.get("request", "").strip() or REQUEST_DEFAULT,
            must_should={entity_type: level},
            source=f"CBP Minimum Security Criteria table, {label} ({file})",
            provenance="official", guidance=r.cells.get("guidance", "").strip())
    tables = {**(existing.imported_tables if existing else {}), entity_type: file}
    tables = {t: tables[t] for t in v.ENTITY_TYPES if t in tables}
    return Catalogue(
        version=version, provenance="official",
        label=f"CBP Minimum Security Criteria, version {version} (official tables imported: "
              f"{', '.join(tables)})",
        description="Imported by ctpat-audit from CBP's per-entity criteria tables held by the user.",
        criteria=tuple(sorted(kept.values(), key=lambda c: criterion_sort_key(c.id))),
        imported_tables=tables)


def import_criteria_table(path: str | Path, entity_type: str, version: str,
                          workspace: str | Path) -> Catalogue:
    """Read one entity type's official table and merge it into ``WORKSPACE/catalogues/<version>.json``.

    Nothing is written when the table has any problem (IntakeError lists them all).
    """
    if entity_type not in v.ENTITY_TYPES:
        raise InputError("entity type", entity_type, "one of: " + ", ".join(v.ENTITY_TYPES))
    check_version(version)
    if builtin_path(version).is_file():
        raise InputError("catalogue version", version,
                         "a new name; this one is a built-in catalogue (e.g. 2019.11-official)")
    rows = read_criteria_table(path)
    target = workspace_path(version, workspace)
    existing = load_catalogue_file(target) if target.is_file() else None
    if existing is not None and existing.provenance != "official":
        raise InputError("catalogue version", version,
                         f"an official catalogue to merge into, not a {existing.provenance} one")
    catalogue = merge_table(existing, rows, entity_type, version, Path(path).name)
    save_catalogue(catalogue, workspace)
    return catalogue
