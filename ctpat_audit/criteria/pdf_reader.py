"""Criterion rows from the tables of a PDF (see :mod:`ctpat_audit.criteria.pdf_tables`).

Walks the pages' rows in reading order:

- a row whose ID cell holds an id (or text meant as one, "1-2") starts a criterion;
- a category heading (free text, or a cell spanning the table, possibly carrying the
  category's introduction) sets the category of the rows under it; focus-area titles,
  introductions, notes, running titles and footers are skipped;
- a row with an empty ID cell continues the criterion above it: anywhere in a table drawn
  without rules (each text line is a row there), and in a ruled table only as the first row
  on a page (a row that a page break cut in two);
- columns the import does not read ("Notes") are ignored with one notice.

When the columns of a table cannot be made out (no header naming them on its page or before
it), the table is reported once per run of pages, with what its top row reads; its rows are
not reported one by one.
"""
from __future__ import annotations

from pathlib import Path

from ctpat_audit.core.errors import Problem
from ctpat_audit.criteria.pdf_model import Cell, PageLayout, Row, Table, join_lines
from ctpat_audit.criteria.pdf_tables import read_pdf
from ctpat_audit.criteria.table_layout import (
    DISPLAY,
    EXPECTED_HEADERS,
    REQUIRED,
    TableRead,
    TableRow,
    header_column,
    heading_category,
    is_focus_area,
    is_id,
    looks_like_id,
)
from ctpat_audit.criteria.table_problems import page_problem


def _id_text(cell: Cell) -> str:
    """The ID cell's text; an id wrapped inside a narrow cell ("12.1" over "5") is joined."""
    lines = cell.lines
    joined = "".join(lines)
    return joined if len(lines) > 1 and is_id(joined) else cell.text


def _canon(table: Table) -> list[str | None]:
    return [header_column(c.label) for c in table.columns]


class _Walk:
    """The reading state across pages."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.out = TableRead()
        self.current: TableRow | None = None
        self.heading: int | None = None
        self.unread: dict[tuple[int, ...], list[int]] = {}  # layout problem -> pages
        self.unread_text: dict[tuple[int, ...], str] = {}
        self.ignored: set[str] = set()
        self.missing_reported = False
        self.table_seen = False

    # -- non-criterion text --------------------------------------------------------------
    def free_text(self, row: Row, inside_table: bool) -> None:
        category = heading_category(row.first_line) or heading_category(row.text)
        if category is not None:
            self.heading, self.current = category, None
        elif is_focus_area(row.first_line) or inside_table:
            self.current = None  # a focus-area title, or an introduction row inside the table

    # -- table rows ----------------------------------------------------------------------
    def columns_of(self, table: Table, page: int, line: int | None) -> list[str | None] | None:
        canon = _canon(table)
        if not table.understood:
            key = (len(table.columns),)
            seen = " | ".join(t for t in table.first_row if t)[:160]
            self.unread.setdefault(key, []).append(page)
            self.unread_text.setdefault(key, seen)
            return None
        missing = [c for c in REQUIRED if c not in canon and not (
            c == "level" and any(k and k.startswith("level:") for k in canon))]
        if missing:
            if not self.missing_reported:
                self.missing_reported = True
                labels = " | ".join(c.label for c in table.columns if c.label)
                self.out.problems.append(page_problem(
                    self.file, page, line, " / ".join(DISPLAY[m] for m in missing), labels[:160],
                    "missing_column", f"a header naming the columns {EXPECTED_HEADERS}; the "
                    f"header seen reads '{labels}'"))
            return None
        for col, name in zip(table.columns, canon):
            if name is None and col.label and col.label not in self.ignored:
                self.ignored.add(col.label)
                self.out.notices.append(f"column '{col.label}' (page {page}) is not one the "
                                        "import reads; it was ignored")
        return canon

    def table_row(self, row: Row, page: int, first_on_page: bool) -> None:
        table = row.table
        assert table is not None
        canon = self.columns_of(table, page, row.line)
        if canon is None:
            return
        self.table_seen = True
        cells = {name: cell for name, cell in zip(canon, row.cells) if name}
        ident = _id_text(cells["id"]) if "id" in cells else ""
        named = heading_category(row.first_line) or heading_category(row.text)
        if row.spans or named or is_focus_area(row.text) or (
                ident and not looks_like_id(ident.split()[0]) and not table.ruled):
            self.free_text(row, inside_table=table.ruled)
            return
        if not ident:
            continuing = self.current is not None and (not table.ruled or first_on_page)
            if continuing:
                self.extend(cells, page)
                return
        texts = {k: c.text for k, c in cells.items()}
        if "id" in texts:
            texts["id"] = ident
        self.current = TableRow(texts, row.line or 0,
                                self.heading, page=page,
                                headers={k: c.label for k, c in zip(canon, table.columns) if k},
                                where={k: (page, c.line) for k, c in cells.items()
                                       if c.line is not None})
        self.out.rows.append(self.current)

    def extend(self, cells: dict, page: int) -> None:
        assert self.current is not None
        for name, cell in cells.items():
            if not cell.words:
                continue
            before = self.current.cells.get(name, "")
            self.current.cells[name] = join_lines([before, cell.text])
            if not before and cell.line is not None:
                self.current.where[name] = (page, cell.line)

    # -- the end -------------------------------------------------------------------------
    def finish(self, pages: list[PageLayout]) -> TableRead:
        for key, where in self.unread.items():
            span = sorted(set(where))
            at = f"page {span[0]}" if len(span) == 1 else f"pages {span[0]}-{span[-1]}"
            self.out.problems.append(page_problem(
                self.file, span[0], None, None, self.unread_text[key] or None,
                "table_not_understood",
                f"a header row naming the columns {EXPECTED_HEADERS} on or before the table "
                f"({at}: {len(where)} table(s) whose columns could not be made out; its top "
                f"row reads '{self.unread_text[key]}')"))
        if not self.table_seen and not self.out.problems:
            first = next((p for p in pages if p.lines), None)
            seen = " / ".join(first.lines[:3])[:200] if first else ""
            self.out.problems.append(Problem(
                self.file, None, None, None, seen or None, "missing_column",
                f"a table whose header row reads {EXPECTED_HEADERS} (none was found on "
                f"{len(pages)} page(s); page 1 begins '{seen}')"))
        return self.out


def read_pdf_rows(path: Path) -> TableRead:
    """Criterion rows of a CBP-layout criteria table in a PDF."""
    import pdfplumber
    from pdfminer.psexceptions import PSException
    from pdfplumber.utils.exceptions import PdfminerException

    try:
        pdf = pdfplumber.open(path)
    except Exception as exc:
        return TableRead(problems=[Problem(path.name, None, None, None, None, "unreadable",
                                         f"a PDF document ({type(exc).__name__}: {exc})")])
    with pdf:
        try:
            pages = read_pdf(pdf)
        except (PdfminerException, PSException) as exc:  # a damaged page stream
            return TableRead(problems=[Problem(path.name, None, None, None, None, "unreadable",
                                             f"a readable PDF ({type(exc).__name__}: {exc})")])
    walk = _Walk(path.name)
    for layout in pages:
        first_on_page = True
        for row in layout.rows:
            if row.furniture:
                continue
            if row.table is None:
                walk.free_text(row, inside_table=False)
                continue
            walk.table_row(row, layout.number, first_on_page)
            first_on_page = False
    return walk.finish(pages)


__all__ = ["read_pdf_rows"]
