"""CBP-layout criteria PDFs in many layouts import exactly (tests/msc_corpus.py makes them);
their bad twins report exactly the one planted problem, at its page and line; a table the
reader cannot make out is reported once, and many rows failing alike as one pattern."""
from __future__ import annotations

import re
from pathlib import Path

import pdfplumber
import pytest
from msc_corpus import (
    BY_NAME,
    LAYOUTS,
    Crit,
    FpdfStyle,
    HtmlStyle,
    chromium_pdf,
    expected_rows,
    fpdf_pdf,
    make_spec,
    plant,
)

from ctpat_audit.core.errors import CriteriaTableError
from ctpat_audit.criteria.official_import import read_criteria_table
from ctpat_audit.criteria.table_layout import header_column
from ctpat_audit.criteria.table_problems import PageProblem

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def engine():
    from ctpat_audit.reports.pdf import PdfEngine

    with PdfEngine() as e:
        yield e


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("msc_corpus")


def _read(path: Path) -> list[tuple[str, str, str, str, int | None]]:
    table = read_criteria_table(path)
    return [(r.cells["id"], r.cells["criteria"], r.cells.get("guidance", ""), r.cells["level"],
             r.heading) for r in table.rows]


def _pages(path: Path) -> list[list[str]]:
    with pdfplumber.open(path) as pdf:
        return [[ln["text"] for ln in page.extract_text_lines()] for page in pdf.pages]


def _shows_its_feature(name: str, path: Path, spec) -> None:
    """The generated PDF really has the feature the layout is named for."""
    with pdfplumber.open(path) as pdf:
        pages = list(pdf.pages)
        edges = sum(len(p.edges) for p in pages)
        if name.startswith("no_rules"):
            assert edges == 0
        else:
            assert edges > 20
        if name == "landscape":
            assert all(p.width > p.height for p in pages)
        else:
            assert all(p.height > p.width for p in pages)
        lines = _pages(path)
    if name == "two_line_header":
        assert any(ln.endswith("Must /") for ln in lines[0]) and any(ln.endswith("Should") and
                                                                     len(ln.split()) <= 2
                                                                     for ln in lines[0])
    if name in ("page_breaks", "no_rules_middle_header"):
        continued = 0
        for page in lines[1:]:  # the first line under a repeated header carries on a row
            at = next(i for i, ln in enumerate(page) if "Criteria" in ln.split()) + 1
            while set(page[at].split()) <= {"Must", "/", "Should"}:
                at += 1
            first = page[at].split()[0]
            continued += not re.match(r"^\d{1,2}\.\d*$", first)
        assert continued, "a row breaks across a page"
    if name == "word_export":
        assert all(sum(ln.startswith("ID Criteria") for ln in page) >= 1 for page in lines)
        assert all(any("Page" in ln or "page" in ln for ln in page[-2:]) for page in lines)


@pytest.mark.parametrize("name", [lay.name for lay in LAYOUTS])
def test_layout_imports_exactly(name: str, engine, folder: Path) -> None:
    layout = BY_NAME[name]
    path = layout.make(layout.spec, folder / f"{name}.pdf", engine)
    _shows_its_feature(name, path, layout.spec)
    assert len(_pages(path)) >= 2, "every layout runs over a page break"
    assert _read(path) == expected_rows(layout.spec)
    assert len(read_criteria_table(path).notices) == layout.notices


TWINS = [("ruled_centred", "missing_level"), ("no_rules", "missing_level"),
         ("page_breaks", "missing_level"),
         ("heading_intro", "wrong_category"), ("landscape", "wrong_category"),
         ("no_rules_middle_header", "wrong_category"),
         ("word_export", "duplicate_id"), ("extra_column", "duplicate_id"),
         ("no_rules", "duplicate_id"),
         ("two_line_header", "unknown_level"), ("landscape", "unknown_level"),
         ("word_export", "unknown_level")]


def _locate(path: Path, token: str, occurrence: int, first_word: bool) -> tuple[int, int]:
    """Page and line (1-based, pdfplumber's text lines) of the token's n-th occurrence."""
    seen = 0
    for page_number, lines in enumerate(_pages(path), start=1):
        for line_number, text in enumerate(lines, start=1):
            words = text.split()
            if (words[:1] == [token]) if first_word else (token in words):
                seen += 1
                if seen == occurrence:
                    return page_number, line_number
    raise AssertionError(f"{token} not found")


@pytest.mark.parametrize(("name", "problem"), TWINS)
def test_bad_twin_reports_exactly_its_planted_problem(name: str, problem: str, engine,
                                                      folder: Path) -> None:
    layout = BY_NAME[name]
    spec, cid, marker = plant(layout.spec, problem)
    path = layout.make(spec, folder / f"{name}-{problem}.pdf", engine)
    with pytest.raises(CriteriaTableError) as info:
        read_criteria_table(path)
    problems = info.value.every
    assert [p.code for p in problems] == [problem], problems
    found = problems[0]
    assert isinstance(found, PageProblem)
    occurrence = 2 if problem == "duplicate_id" else 1
    page, line = _locate(path, marker, occurrence, first_word=marker == cid)
    assert (found.page, found.row) == (page, line)
    assert found.value == (None if problem == "missing_level" else marker)
    assert header_column(found.column) == ("level" if "level" in problem else "id")
    assert info.value.problems == problems  # one problem: nothing to summarise


def test_unknown_header_is_reported_once_with_what_was_seen(engine, folder: Path) -> None:
    spec = make_spec(31, [1, 6, 7], (4, 6))
    style = HtmlStyle(headers=("No.", "Requirement text", "Notes for the auditor", "Level"))
    path = chromium_pdf(spec, style, folder / "unknown-header.pdf", engine)
    assert len(_pages(path)) >= 2
    with pytest.raises(CriteriaTableError) as info:
        read_criteria_table(path)
    problems = info.value.every
    assert [p.code for p in problems] == ["table_not_understood"]
    assert "No. | Requirement text | Notes for the auditor | Level" in problems[0].expected
    assert "ID, Criteria, Implementation Guidance, Must/Should" in problems[0].expected


def test_header_without_level_column_is_one_missing_column(engine, folder: Path) -> None:
    spec = make_spec(32, [2, 3], (4, 6))
    style = HtmlStyle(headers=("ID", "Criteria", "Implementation Guidance", "Remarks"))
    path = chromium_pdf(spec, style, folder / "no-level.pdf", engine)
    with pytest.raises(CriteriaTableError) as info:
        read_criteria_table(path)
    assert [(p.code, p.column) for p in info.value.every] == [("missing_column", "Must/Should")]
    assert "Remarks" in info.value.every[0].expected


def test_many_rows_failing_alike_are_one_pattern_with_examples(folder: Path) -> None:
    blank = [i if not isinstance(i, Crit) else Crit(i.id, i.criteria, i.guidance, "")
             for i in make_spec(33, [4, 5, 9, 10], (3, 4))]
    path = fpdf_pdf(blank, FpdfStyle(font="Helvetica"), folder / "no-levels.pdf")
    with pytest.raises(CriteriaTableError) as info:
        read_criteria_table(path)
    n = len(expected_rows(blank))
    assert n > 10
    assert [p.code for p in info.value.every] == ["missing_level"] * n
    reported = info.value.problems
    assert len(reported) == 4  # three examples, then the pattern
    assert all(isinstance(p, PageProblem) for p in reported[:3])
    assert reported[3].value == f"{n - 3} more rows"
    assert f"{n} rows in all" in reported[3].expected and "pages 1-" in reported[3].expected
    assert f"{n} problems" in str(info.value)


def test_late_layout_written_after_the_reader_imports_exactly(folder: Path) -> None:
    """CBP's published layout (landscape, a table per category, headings and introductions
    between tables, "Must /" over "Should", cells drawn as rectangles, curly quotes), written
    after the reader was finished. Its first run failed: five problems, all bad_id, for the
    ids from 12.10 up, which had wrapped inside the narrow ID cell ("12.1" over "5") and were
    read as "12.1 5"; no other problem was reported. The reader now joins an id wrapped inside
    its cell; nothing else in it was changed (the expected text here gained the curly
    apostrophes the layout prints)."""
    from msc_corpus import LATE_LAYOUT

    path = LATE_LAYOUT.make(LATE_LAYOUT.spec, folder / "late.pdf", None)
    lines = _pages(path)
    assert len(lines) >= 4
    assert any(ln.endswith("Must /") for ln in lines[0]) and lines[0][0].startswith("CTPAT")
    wrapped = [p for p in lines if any(ln.split()[:1] == ["5"] for ln in p)]
    assert wrapped, "an id really wraps inside its cell"
    curly = str.maketrans({"'": "\u2019"})
    expected = [(i, c.translate(curly), g.translate(curly), lv, h)
                for i, c, g, lv, h in expected_rows(LATE_LAYOUT.spec)]
    assert _read(path) == expected
