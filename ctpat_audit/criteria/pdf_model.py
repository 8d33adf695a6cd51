"""The pieces of a PDF page that criteria tables are read from: words with their text line,
cells, columns, tables, rows and the page's layout.

A word's line is pdfplumber's grouping of the page's text into lines, counted from 1 at the top
of the page: the line numbers problems report.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Word:
    text: str
    x0: float
    x1: float
    top: float
    bottom: float
    line: int  # the text line on the page, from 1 at the top


@dataclass
class Cell:
    """The words of one cell (or, for free text, of one line)."""

    x0: float
    x1: float
    words: list[Word] = field(default_factory=list)

    @property
    def lines(self) -> list[str]:
        out: dict[int, list[Word]] = {}
        for w in sorted(self.words, key=lambda w: (w.line, w.x0)):
            out.setdefault(w.line, []).append(w)
        return [" ".join(w.text for w in ws) for ws in out.values()]

    @property
    def text(self) -> str:
        return join_lines(self.lines)

    @property
    def line(self) -> int | None:
        return min((w.line for w in self.words), default=None)


def join_lines(lines: Iterable[str]) -> str:
    """Wrapped lines as one text; a word broken after a hyphen ("high-" + "security") is
    joined without a space."""
    out = ""
    for line in lines:
        line = line.strip()
        if not line:
            continue
        if out.endswith("-") and len(out) > 1 and out[-2].isalpha() and line[0].isalpha():
            out += line
        else:
            out = f"{out} {line}" if out else line
    return out


@dataclass
class Column:
    x0: float
    x1: float
    label: str  # the header text ("" when not known)


@dataclass
class Table:
    """One table on a page, with its columns."""

    ruled: bool
    columns: list[Column]
    header_found: bool  # the header is on this page (else inherited, or not understood)
    understood: bool  # the columns are known (a header here or earlier)
    first_row: list[str] = field(default_factory=list)  # what the top row reads, for problems


@dataclass
class Row:
    """A table row (one cell per column of ``table``) or a line of free text (``table`` None)."""

    cells: list[Cell]
    top: float
    table: Table | None = None
    spans: bool = False  # one cell across several columns: a heading or introduction
    furniture: bool = False

    @property
    def text(self) -> str:
        return " ".join(c.text for c in self.cells if c.words)

    @property
    def first_line(self) -> str:
        cell = next((c for c in self.cells if c.words), None)
        return cell.lines[0] if cell else ""

    @property
    def line(self) -> int | None:
        return min((c.line for c in self.cells if c.line is not None), default=None)


@dataclass
class PageLayout:
    number: int
    width: float
    height: float
    tables: list[Table]
    rows: list[Row]
    lines: list[str]  # the page's text lines, for messages


def page_words(page: Any) -> tuple[list[Word], list[str]]:
    """The page's words, each with its text line (pdfplumber's grouping of the page's text)."""
    lines = page.extract_text_lines(return_chars=False)
    tops = [(ln["top"], ln["bottom"]) for ln in lines]
    out = []
    for w in page.extract_words(x_tolerance=1.5, y_tolerance=2):
        middle = (w["top"] + w["bottom"]) / 2
        best = min(range(len(tops)), key=lambda i: 0 if tops[i][0] - 1 <= middle <= tops[i][1] + 1
                   else min(abs(middle - tops[i][0]), abs(middle - tops[i][1])))
        out.append(Word(w["text"], w["x0"], w["x1"], w["top"], w["bottom"], best + 1))
    return out, [ln["text"] for ln in lines]


def by_line(words: Iterable[Word]) -> list[list[Word]]:
    lines: dict[int, list[Word]] = {}
    for w in words:
        lines.setdefault(w.line, []).append(w)
    return [sorted(lines[k], key=lambda w: w.x0) for k in sorted(lines)]


def free_row(words: list[Word]) -> Row:
    return Row([Cell(min(w.x0 for w in words), max(w.x1 for w in words), words)],
               min(w.top for w in words), spans=True)
