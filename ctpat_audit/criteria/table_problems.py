"""Problems found in a criteria table: located, and summarised when one cause explains many.

Every problem names the file and where it is: sheet and row for .xlsx and .csv, page and line
for a PDF (lines counted from the top of the page as pdfplumber groups the text, so the
running title is line 1). When more than :data:`PATTERN_AFTER` rows fail with the same reason,
the report keeps the first :data:`EXAMPLES` of them and adds one line for the rest (how many,
on which pages or rows): a layout the reader misunderstood shows up as one pattern, not as
hundreds of rows. :class:`CriteriaTableError` carries both lists: ``problems`` (what is
reported) and ``every`` (each located problem, for a problems workbook).
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from ctpat_audit.core.errors import CriteriaTableError, Problem

PATTERN_AFTER = 5
EXAMPLES = 3


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


def page_problem(file: str, page: int, line: int | None, column: str | None,
                 value: str | None, code: str, expected: str) -> PageProblem:
    """A located PDF problem; the sheet field reads "page N" so tables and workbooks show it."""
    return PageProblem(file, f"page {page}", line, column, value, code, expected, page=page)


def where(problem: Problem) -> str:
    """A short location inside the file: "page 3, line 14" or "row 12"."""
    if isinstance(problem, PageProblem):
        return f"page {problem.page}" + (f", line {problem.row}" if problem.row else "")
    parts = [f"sheet {problem.sheet}"] if problem.sheet else []
    if problem.row is not None:
        parts.append(f"row {problem.row}")
    return ", ".join(parts)


def _span(problems: list[Problem]) -> str:
    pages = sorted({p.page for p in problems if isinstance(p, PageProblem)})
    if pages:
        return f"page {pages[0]}" if len(pages) == 1 else f"pages {pages[0]}-{pages[-1]}"
    rows = sorted(p.row for p in problems if p.row is not None)
    return f"rows {rows[0]}-{rows[-1]}" if rows else "the table"


def condense(problems: list[Problem], after: int = PATTERN_AFTER,
             examples: int = EXAMPLES) -> list[Problem]:
    """The problems to report: a reason shared by more than ``after`` rows keeps its first
    ``examples`` and one summary problem for the rest, in the place of the first it stands for."""
    by_code: dict[tuple[str, str | None], list[Problem]] = defaultdict(list)
    for p in problems:
        by_code[(p.code, p.column)].append(p)
    out: list[Problem] = []
    for p in problems:
        group = by_code[(p.code, p.column)]
        if len(group) <= after:
            out.append(p)
            continue
        index = group.index(p)
        if index < examples:
            out.append(p)
        elif index == examples:
            rest = group[examples:]
            first = rest[0]
            summary = (f"{first.expected} - the same problem in {len(rest)} more rows "
                       f"({_span(rest)}); {len(group)} rows in all fail this way, which "
                       "usually means a column is read wrongly or left blank throughout. "
                       "Every row is listed by --problems FILE.xlsx")
            out.append(Problem(first.file, None, None, first.column, f"{len(rest)} more rows",
                               first.code, summary))
    return out


def table_error(problems: list[Problem]) -> CriteriaTableError:
    """The error for a criteria table with ``problems``: patterns summarised, every one kept."""
    return CriteriaTableError(condense(problems), list(problems))
