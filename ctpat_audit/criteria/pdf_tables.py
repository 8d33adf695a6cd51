"""The geometry of criteria tables in a PDF: columns and rows from the table's structure.

Each page becomes a :class:`PageLayout`: its tables, and every row in reading order, either a
table row (text per column) or a line of free text outside any table (titles, headings,
introductions, footers).

- Ruled tables (drawn with lines or cell rectangles, as Word and browsers print them) are found
  by pdfplumber's table finder; a row cut by a page break, whose closing rule is missing, is
  closed where its column rules end. Columns come from the cell boundaries, so text placement
  inside a cell (centred, wrapped, vertically centred) does not matter.
- Tables drawn without lines fall back to text alignment: the header's labels give the columns'
  order, and each boundary between two columns is placed where the body text leaves the widest
  empty strip. A line whose words cross a boundary is free text (a heading or introduction).

A table's header is the first rows whose cells name known columns (a header wrapped over
several lines or ruled rows is joined). A table without a header on its page (repeated headers
are optional) takes the columns of the last header seen before it. Running titles, footers and
page numbers (text repeated on most pages, or a page number alone) are marked as furniture.
"""
from __future__ import annotations

import itertools
import re
from collections import Counter
from collections.abc import Iterable
from typing import Any

from ctpat_audit.criteria.pdf_alignment import aligned_table, header_band, match_header
from ctpat_audit.criteria.pdf_model import (
    Cell,
    Column,
    PageLayout,
    Row,
    Table,
    Word,
    by_line,
    free_row,
    page_words,
)

_PAGE_NUMBER = re.compile(r"^(page\s*)?\d+(\s*(of|/)\s*\d+)?$|(^|\s)page\s*\d+(\s*(of|/)\s*\d+)?$",
                          re.IGNORECASE)
_RULED = {"vertical_strategy": "lines", "horizontal_strategy": "lines", "snap_tolerance": 3,
          "join_tolerance": 3, "intersection_tolerance": 3, "edge_min_length": 3}
MIN_COLUMNS = 3  # ID, Criteria and Must/Should at least: a box with fewer is not the table


# -- ruled tables ----------------------------------------------------------------------------

def _closing_lines(page: Any, bbox: tuple[float, float, float, float]) -> list[float]:
    """Where the column rules of a table run past its last (or before its first) closed row:
    a row cut by a page break has its side rules but no rule closing it."""
    x0, top, x1, bottom = bbox
    rules = [e for e in page.edges if e["orientation"] == "v" and x0 - 2 <= e["x0"] <= x1 + 2
             and e["top"] <= bottom + 2 and e["bottom"] >= top - 2]
    ys = []
    low = max((e["bottom"] for e in rules), default=bottom)
    high = min((e["top"] for e in rules), default=top)
    if low > bottom + 3:
        ys.append(low)
    if high < top - 3:
        ys.append(high)
    return ys


def _cluster(values: Iterable[float], tolerance: float = 2.5) -> list[float]:
    out: list[float] = []
    for x in sorted(values):
        if out and x - out[-1] <= tolerance:
            continue
        out.append(x)
    return out


def _ruled_tables(page: Any) -> list[Any]:
    tables = page.find_tables(_RULED)
    extra = [y for t in tables for y in _closing_lines(page, t.bbox)]
    if extra:
        tables = page.find_tables({**_RULED, "explicit_horizontal_lines": extra})
    return [t for t in tables if len(_cluster(x for c in t.cells for x in (c[0], c[2]))) - 1
            >= MIN_COLUMNS]


def _inside(w: Word, box: tuple[float, float, float, float]) -> bool:
    cx, cy = (w.x0 + w.x1) / 2, (w.top + w.bottom) / 2
    return box[0] <= cx <= box[2] and box[1] <= cy <= box[3]


def _grid_rows(table: Any, words: list[Word]) -> list[tuple[float, list[Cell]]]:
    rows = []
    for r in table.rows:
        cells = [Cell(b[0], b[2], [w for w in words if _inside(w, b)]) for b in r.cells if b]
        rows.append((r.bbox[1], sorted(cells, key=lambda c: c.x0)))
    return rows


def _header_of(grid: list[tuple[float, list[Cell]]]) -> tuple[list[Column], int] | None:
    """The header of a ruled table: its first one to three rows joined cell by cell."""
    for k in (1, 2, 3):
        if len(grid) < k:
            break
        labels: list[Column] = []
        for _, cells in grid[:k]:
            for c in cells:
                same = next((lb for lb in labels if abs(lb.x0 - c.x0) < 3 and abs(lb.x1 - c.x1) < 3),
                            None)
                if same is None:
                    labels.append(Column(c.x0, c.x1, c.text))
                elif c.text:
                    same.label = f"{same.label} {c.text}".strip()
        labels.sort(key=lambda c: c.x0)
        if match_header(labels):
            return labels, k
    return None


def _place(cells: list[Cell], columns: list[Column]) -> tuple[list[Cell], bool]:
    """Cells of a row laid onto the table's columns; True when one cell spans several."""
    out = [Cell(c.x0, c.x1) for c in columns]
    spans = False
    for cell in cells:
        covered = [j for j, col in enumerate(columns)
                   if min(cell.x1, col.x1) - max(cell.x0, col.x0) > 0.5 * (col.x1 - col.x0)]
        if len(covered) > 1:
            spans = True
        if not covered:  # narrower than any column: the column holding its centre
            mid = (cell.x0 + cell.x1) / 2
            covered = [min(range(len(columns)), key=lambda j: 0 if columns[j].x0 <= mid <= columns[j].x1
                           else min(abs(mid - columns[j].x0), abs(mid - columns[j].x1)))]
        out[covered[0]].words.extend(cell.words)
    return out, spans


def _header_above(bbox: tuple[float, float, float, float], free: list[Word]
                  ) -> tuple[list[Column], list[Word]] | None:
    """A header printed above a ruled table, outside its rules (headings may stand between
    them): its labels and words. ``free`` holds the words above the table outside any other."""
    x0, top, x1, _ = bbox
    near = [w for w in free if w.bottom <= top + 1 and x0 - 3 <= w.x0 <= x1 + 3]
    lines = by_line(near)
    band = header_band(lines)
    if band is None:
        return None
    first, last, labels = band
    return labels, [w for ln in lines[first:last + 1] for w in ln]


def _ruled_table(table: Any, words: list[Word], previous: list[Column] | None,
                 above: list[Column] | None = None) -> tuple[Table, list[Row]]:
    grid = _grid_rows(table, words)
    found = _header_of(grid)
    first_row = [c.text for c in grid[0][1]] if grid else []
    xs = _cluster(x for _, cells in grid for c in cells for x in (c.x0, c.x1))
    if found is None and above is not None:
        columns = [Column(a, b, " ".join(lb.label for lb in above
                                         if a <= (lb.x0 + lb.x1) / 2 <= b))
                   for a, b in itertools.pairwise(xs)]
        found = (columns, 0)
    if found is not None:
        columns, skip = found
        t = Table(True, columns, True, True, first_row)
        grid = grid[skip:]
    elif previous is not None:
        t = Table(True, [Column(c.x0, c.x1, c.label) for c in previous], False, True, first_row)
    else:
        t = Table(True, [Column(a, b, "") for a, b in itertools.pairwise(xs)], False, False, first_row)
    rows = []
    for top, cells in grid:
        placed, spans = _place(cells, t.columns)
        if any(c.words for c in placed):
            rows.append(Row(placed, top, t, spans=spans or sum(bool(c.words) for c in placed) == 0))
    return t, rows


# -- pages -----------------------------------------------------------------------------------

def read_page(page: Any, number: int, previous: list[Column] | None) -> PageLayout:
    """One page's tables and rows; ``previous`` is the last header's columns before it."""
    words, text_lines = page_words(page)
    tables: list[Table] = []
    rows: list[Row] = []
    used: set[int] = set()
    ruled = sorted(_ruled_tables(page), key=lambda t: t.bbox[1])
    free = [w for w in words if not any(_inside(w, t.bbox) for t in ruled)]
    floor = 0.0  # the bottom of the table before: a header above a table is below it
    for found in ruled:
        inside = [w for w in words if _inside(w, found.bbox)]
        above = _header_above(found.bbox, [w for w in free if id(w) not in used
                                           and w.top >= floor])
        floor = found.bbox[3]
        if above is not None:
            used |= {id(w) for w in above[1]}
        table, table_rows = _ruled_table(found, inside, previous, above[0] if above else None)
        tables.append(table)
        rows += table_rows
        used |= {id(w) for w in inside}
        if table.understood:
            previous = table.columns
    rest = [w for w in words if id(w) not in used]
    if not tables:
        aligned = aligned_table(rest, previous)
        if aligned is not None:
            tables.append(aligned[0])
            return PageLayout(number, page.width, page.height, tables,
                              sorted(aligned[1], key=lambda r: r.top), text_lines)
    rows += [free_row(ln) for ln in by_line(rest)]
    return PageLayout(number, page.width, page.height, tables, sorted(rows, key=lambda r: r.top),
                      text_lines)


def _furniture_key(row: Row) -> tuple[int, str]:
    return round(row.top / 4), re.sub(r"\d+", "#", row.text.casefold())


def mark_furniture(pages: list[PageLayout]) -> None:
    """Running titles, footers and page numbers: free text repeated at the same height on most
    pages, a page number alone, or text at the very edge of the page."""
    counts = Counter(k for p in pages for k in {_furniture_key(r) for r in p.rows if r.table is None})
    repeated = {k for k, n in counts.items() if len(pages) >= 2 and n >= max(2, len(pages) / 2)}
    for p in pages:
        for r in p.rows:
            at_edge = r.top < 0.05 * p.height or r.top > 0.95 * p.height
            alone = r.table is None or not r.spans
            loose = r.table is None or not r.table.ruled
            if (loose and at_edge) or (r.table is None and _furniture_key(r) in repeated) or (
                    alone and _PAGE_NUMBER.search(r.text.strip()) and len(r.text) < 40
                    and (r.table is None or r.top > 0.9 * p.height)):
                r.furniture = True


def read_pdf(pdf: Any) -> list[PageLayout]:
    """Every page of an open pdfplumber document, with furniture marked."""
    pages: list[PageLayout] = []
    previous: list[Column] | None = None
    for number, page in enumerate(pdf.pages, start=1):
        layout = read_page(page, number, previous)
        for t in layout.tables:
            if t.understood:
                previous = t.columns
        pages.append(layout)
    mark_furniture(pages)
    return pages

