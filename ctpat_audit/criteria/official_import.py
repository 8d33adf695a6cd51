"""Read CBP's per-entity criteria tables (PDF, .xlsx, .csv) into an "official" catalogue.

Users hold CBP's Minimum Security Criteria tables (columns ID, Criteria, Implementation
Guidance, Must/Should, grouped under category headings); the toolkit reads them as they are:
.csv and .xlsx through :mod:`~ctpat_audit.criteria.sheet_reader`, PDF through
:mod:`~ctpat_audit.criteria.pdf_reader` (which reads the table's ruling lines and cells, or its
text alignment when it has no lines). A workbook written by ``ctpat-audit catalogue --xlsx``
imports back unchanged: it has one Must/Should column per entity type, and Category, Observe,
Request and Source columns.

Every problem is collected and located (file, sheet or page, row or line, column): bad id
format, category outside 1-12, an id under another category's heading (or beside another
category number), Must/Should missing or unknown, duplicate ids, missing criterion text,
missing columns, ids stored as numbers, and a table whose columns cannot be made out. Any
problem raises :class:`~ctpat_audit.criteria.table_problems.CriteriaTableError` (one reason
shared by many rows is reported once, with its first examples) and nothing is written.
Importing another entity type's table into the same version merges it: one catalogue,
per-entity applicability.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

from ctpat_audit.core import vocabulary as v
from ctpat_audit.core.errors import InputError, Problem
from ctpat_audit.criteria.catalogue import (
    Catalogue,
    Criterion,
    builtin_path,
    check_version,
    criterion_sort_key,
    load_catalogue_file,
    save_catalogue,
    workspace_path,
)
from ctpat_audit.criteria.table_layout import ID_RE, TableRow, normalise_level
from ctpat_audit.criteria.table_problems import page_problem, table_error

OBSERVE_DEFAULT = ("Observe the practice this criterion describes in operation and compare it "
                   "with the company's written procedure.")
REQUEST_DEFAULT = ("Request the written procedure and the records (documents, photos, logs) "
                   "that show this criterion is met.")


@dataclass
class CriteriaTable:
    """The criterion rows of one table file, and notices about what was left out."""

    file: str
    rows: list[TableRow]
    notices: list[str] = field(default_factory=list)


def _problem(file: str, code: str, expected: str, row: TableRow, column: str,
             value: str | None) -> Problem:
    """A problem at a row's column: for a PDF, the page and line of that column's text."""
    if row.page is not None:
        page, line = row.where.get(column, (row.page, row.row))
        return page_problem(file, page, line, row.header(column), value, code, expected)
    return Problem(file, row.sheet, row.row, row.header(column), value, code, expected)


def _read(path: Path) -> tuple[list[TableRow], list[Problem], list[str]]:
    suffix = path.suffix.casefold()
    if suffix == ".pdf":
        from ctpat_audit.criteria.pdf_reader import read_pdf_rows

        pdf = read_pdf_rows(path)
        return pdf.rows, pdf.problems, pdf.notices
    from ctpat_audit.criteria.sheet_reader import read_csv_rows, read_xlsx_rows

    sheet = read_csv_rows(path) if suffix == ".csv" else read_xlsx_rows(path)
    return sheet.rows, sheet.problems, sheet.notices


SUFFIXES = (".csv", ".xlsx", ".xlsm", ".pdf")


# -- checks ----------------------------------------------------------------------------------

def _check_level(file: str, r: TableRow, column: str, problems: list[Problem]) -> None:
    level = r.cells.get(column, "").strip()
    if not level:
        problems.append(_problem(file, "missing_level", "Must or Should", r, column, None))
    elif normalise_level(level) is None:
        problems.append(_problem(file, "unknown_level", "Must or Should", r, column, level))


def check_rows(rows: list[TableRow], file: str) -> list[Problem]:
    """Every problem in the rows, located; an empty list means the table can be imported."""
    problems: list[Problem] = []
    if not rows:
        return [Problem(file, None, None, None, None, "empty_table",
                        "at least one criterion row under the header")]
    seen: dict[str, TableRow] = {}
    for r in rows:
        cid = r.cells.get("id", "").strip()
        m = ID_RE.match(cid)
        if not m or int(m.group(2)) == 0:
            problems.append(_problem(file, "bad_id", "an id like 3.4 (category.number)", r, "id",
                                     cid or None))
        else:
            category = int(m.group(1))
            stated = r.cells.get("category", "").strip()
            expected = r.heading if r.heading is not None else (
                int(stated) if stated.isdigit() else None)
            if not 1 <= category <= 12:
                problems.append(_problem(file, "category_out_of_range",
                                         "a category number from 1 to 12", r, "id", cid))
            elif expected is not None and category != expected and 1 <= expected <= 12:
                name = v.CATEGORIES[expected - 1].name
                problems.append(_problem(file, "wrong_category",
                                         f"an id {expected}.x under the heading '{name}' "
                                         f"(category {expected})", r, "id", cid))
            if cid in seen:
                first = seen[cid]
                at = (f"page {first.page}, line {first.row}" if first.page is not None
                      else f"row {first.row}")
                problems.append(_problem(file, "duplicate_id", f"each id once (first seen at {at})",
                                         r, "id", cid))
            else:
                seen[cid] = r
        if "level" in r.cells or not any(k.startswith("level:") for k in r.cells):
            _check_level(file, r, "level", problems)
        else:
            filled = [k for k in r.cells if k.startswith("level:") and r.cells[k].strip()]
            if not filled:
                problems.append(_problem(file, "missing_level", "Must or Should for at least one "
                                         "entity type", r, next(k for k in r.cells
                                                                if k.startswith("level:")), None))
            for k in filled:
                _check_level(file, r, k, problems)
        if not r.cells.get("criteria", "").strip():
            problems.append(_problem(file, "missing_text", "the criterion's text", r, "criteria",
                                     None))
        provenance = r.cells.get("provenance", "").strip()
        if provenance and provenance != "official":
            problems.append(_problem(file, "not_official", "criteria from CBP's own tables: this "
                                     f"row is marked '{provenance}' (an export of a "
                                     f"{provenance} catalogue is not CBP's criteria)", r,
                                     "provenance", provenance))
    return problems


def read_criteria_table(path: str | Path) -> CriteriaTable:
    """Read and check one CBP-layout table; CriteriaTableError lists every problem found."""
    path = Path(path)
    if path.suffix.casefold() not in SUFFIXES:
        raise InputError("criteria table file", str(path), "a .pdf, .xlsx or .csv file")
    if not path.is_file():
        raise table_error([Problem(path.name, None, None, None, None, "missing_file",
                                             f"an existing file at {path}")])
    rows, problems, notices = _read(path)
    problems = problems or check_rows(rows, path.name)
    if problems:
        raise table_error(problems)
    return CriteriaTable(path.name, rows, notices)


# -- building and merging --------------------------------------------------------------------

def merge_table(existing: Catalogue | None, rows: list[TableRow], entity_type: str | None,
                version: str, file: str) -> Catalogue:
    """A catalogue with the table's entity types merged in (replacing earlier imports of them).

    ``entity_type`` names the type of a table with one Must/Should column; a table with a
    column per type (an export) brings the types it lists. A criterion listed by several
    entity tables keeps the text of the first import and gets one Must/Should per type.
    """
    types = {entity_type} if entity_type else {t for r in rows for t in r.levels(None)}
    kept: dict[str, Criterion] = {}
    for c in existing.criteria if existing else ():
        levels = {t: lv for t, lv in c.must_should.items() if t not in types}
        if levels:
            kept[c.id] = replace(c, must_should=levels)
    label = ", ".join(v.ENTITY_TYPES[t] for t in v.ENTITY_TYPES if t in types)
    for r in rows:
        cid = r.cells["id"].strip()
        levels = {t: normalise_level(lv) or "Must" for t, lv in r.levels(entity_type).items()}
        if cid in kept:
            c = kept[cid]
            kept[cid] = replace(c, must_should={**c.must_should, **levels})
            continue
        kept[cid] = Criterion(
            id=cid, category=criterion_sort_key(cid)[0], requirement=r.cells["criteria"].strip(),
            observe=r.cells.get("observe", "").strip() or OBSERVE_DEFAULT,
            request=r.cells.get("request", "").strip() or REQUEST_DEFAULT,
            must_should={t: levels[t] for t in v.ENTITY_TYPES if t in levels},
            source=(r.cells.get("source", "").strip()
                    or f"CBP Minimum Security Criteria table, {label} ({file})"),
            provenance="official", guidance=r.cells.get("guidance", "").strip())
    tables = {**(existing.imported_tables if existing else {}), **{t: file for t in types}}
    tables = {t: tables[t] for t in v.ENTITY_TYPES if t in tables}
    return Catalogue(
        version=version, provenance="official",
        label=f"CBP Minimum Security Criteria, version {version} (official tables imported: "
              f"{', '.join(tables)})",
        description="Imported by ctpat-audit from CBP's per-entity criteria tables held by the user.",
        criteria=tuple(sorted(kept.values(), key=lambda c: criterion_sort_key(c.id))),
        imported_tables=tables)


def import_criteria_table(path: str | Path, entity_type: str | None, version: str,
                          workspace: str | Path,
                          on_notice: Callable[[str], None] | None = None) -> Catalogue:
    """Read one official table and merge it into ``WORKSPACE/catalogues/<version>.json``.

    ``entity_type`` is the business entity type whose table the file is; it may be None for a
    workbook with one Must/Should column per entity type (``catalogue --xlsx``), whose types
    are all imported. ``on_notice`` receives what was read but left out (an extra column).
    Nothing is written when the table has any problem (CriteriaTableError lists them).
    """
    if entity_type is not None and entity_type not in v.ENTITY_TYPES:
        raise InputError("entity type", entity_type, "one of: " + ", ".join(v.ENTITY_TYPES))
    check_version(version)
    if builtin_path(version).is_file():
        raise InputError("catalogue version", version,
                         "a new name; this one is a built-in catalogue (e.g. 2019.11-official)")
    table = read_criteria_table(path)
    per_type = any(k.startswith("level:") for r in table.rows for k in r.cells)
    if entity_type is None and not per_type:
        raise InputError("entity type", None, "--entity TYPE: the table has one Must/Should "
                         "column, so say whose table it is")
    if entity_type is not None and per_type:
        table.rows = [r for r in table.rows if r.cells.get(f"level:{entity_type}", "").strip()]
    for notice in table.notices:
        if on_notice is not None:
            on_notice(notice)
    target = workspace_path(version, workspace)
    existing = load_catalogue_file(target) if target.is_file() else None
    if existing is not None and existing.provenance != "official":
        raise InputError("catalogue version", version,
                         f"an official catalogue to merge into, not a {existing.provenance} one")
    catalogue = merge_table(existing, table.rows, entity_type, version, Path(path).name)
    save_catalogue(catalogue, workspace)
    return catalogue
