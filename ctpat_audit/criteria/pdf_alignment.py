"""Tables drawn without lines: columns from the text's alignment.

The header's labels give the columns' order: a line naming ID and another known column, with
the lines just above and below it that hold only header words ("Must /" over "Should"). Each
boundary between two neighbouring columns is placed where the body lines leave the widest
empty strip between the two labels' centres, so a column's text may be centred, left- or
right-aligned. A line whose words cross a boundary is free text (a heading or introduction).
"""
from __future__ import annotations

import itertools
import re

from ctpat_audit.criteria.pdf_model import (
    Cell,
    Column,
    Row,
    Table,
    Word,
    by_line,
    free_row,
)
from ctpat_audit.criteria.table_layout import COLUMNS, header_column

_HEADER_WORDS = {w for names in COLUMNS.values() for n in names for w in re.split(r"[ /]", n) if w}


def match_header(labels: list[Column]) -> bool:
    """Whether labels read as a criteria table header: an ID column and one more known one."""
    known = [header_column(c.label) for c in labels]
    return "id" in known and sum(k is not None for k in known) >= 2


def labels_of(band: list[list[Word]]) -> list[Column]:
    """Header labels: words of the header lines joined when they touch on a line or stack
    above one another (a header wrapped inside its column)."""
    labels: list[list[Word]] = []
    for line in band:
        for w in line:
            size = w.bottom - w.top
            target = next((lb for lb in labels if any(
                (o.line == w.line and 0 <= w.x0 - o.x1 < 0.9 * size) or
                (o.line != w.line and min(o.x1, w.x1) > max(o.x0, w.x0)) for o in lb)), None)
            if target is None:
                labels.append([w])
            else:
                target.append(w)
    out = []
    for lb in labels:
        text = " ".join(" ".join(w.text for w in ws) for ws in by_line(lb))
        out.append(Column(min(w.x0 for w in lb), max(w.x1 for w in lb), text))
    return sorted(out, key=lambda c: c.x0)


def _header_only(lines: list[list[Word]], j: int, near: int, height: float) -> bool:
    """Whether line ``j``, next to header line ``near``, holds only header words."""
    gap = min(abs(lines[j][0].top - lines[near][0].top), 99)
    return gap < 2.2 * height and all(
        any(p in _HEADER_WORDS for p in re.split(r"[ /]", w.text.casefold()) if p)
        or w.text == "/" for w in lines[j])


def header_band(lines: list[list[Word]]) -> tuple[int, int, list[Column]] | None:
    """The header lines of an unruled table: a line naming ID and another column, with the
    lines just above and below it that hold only header words ("Must /" over "Should")."""
    for i, line in enumerate(lines):
        if not any(w.text.casefold() == "id" for w in line):
            continue
        first, last = i, i
        height = max(w.bottom - w.top for w in line)
        while first > 0 and _header_only(lines, first - 1, first, height):
            first -= 1
        while last + 1 < len(lines) and _header_only(lines, last + 1, last, height):
            last += 1
        labels = labels_of(lines[first:last + 1])
        if match_header(labels):
            return first, last, labels
    return None


def _boundaries(centres: list[float], lines: list[list[Word]]) -> list[float]:
    """Between each pair of neighbouring column centres, the x that the fewest body lines
    cover (the middle of the widest such strip)."""
    out = []
    for a, b in itertools.pairwise(centres):
        lo, hi = int(a) + 1, int(b)
        if hi <= lo:
            out.append((a + b) / 2)
            continue
        cover = [0] * (hi - lo)
        for line in lines:
            hit = [False] * (hi - lo)
            for w in line:
                for x in range(max(lo, int(w.x0) - 1), min(hi, int(w.x1) + 2)):
                    hit[x - lo] = True
            cover = [c + h for c, h in zip(cover, hit)]
        least = min(cover)
        best: float = lo
        run_start, best_len = None, -1
        for i, c in enumerate(cover + [least + 1]):
            if c == least and run_start is None:
                run_start = i
            elif c != least and run_start is not None:
                if i - run_start > best_len:
                    best_len, best = i - run_start, lo + (run_start + i) / 2
                run_start = None
        out.append(best)
    return out


def aligned_table(words: list[Word], previous: list[Column] | None
                   ) -> tuple[Table, list[Row]] | None:
    lines = by_line(words)
    band = header_band(lines)
    if band is not None:
        first, last, labels = band
        body = lines[last + 1:]
        found = True
        first_row = [c.label for c in labels]
    elif previous is not None:
        labels, body, found, first_row = previous, lines, False, []
    else:
        return None
    centres = [(c.x0 + c.x1) / 2 for c in labels]
    bounds = _boundaries(centres, body)
    edges = [float("-inf"), *bounds, float("inf")]
    columns = [Column(max(edges[j], labels[j].x0 if j == 0 else edges[j]),
                      min(edges[j + 1], 1e6), labels[j].label) for j in range(len(labels))]
    table = Table(False, columns, found, True, first_row)
    rows = []
    for line in body:
        if any(w.x0 < b - 1 and w.x1 > b + 1 for w in line for b in bounds):
            rows.append(free_row(line))
            continue
        cells = [Cell(c.x0, c.x1) for c in columns]
        for w in line:
            mid = (w.x0 + w.x1) / 2
            j = sum(mid > b for b in bounds)
            cells[j].words.append(w)
        rows.append(Row(cells, min(w.top for w in line), table))
    head = [w for ln in lines[:first] for w in ln] if band is not None else []
    rows[:0] = [free_row(ln) for ln in by_line(head)]
    return table, rows
