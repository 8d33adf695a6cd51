"""Import of CBP-layout criteria tables from .csv, .xlsx and PDF (generated here with fpdf2),
including rows wrapping across lines and pages, every located error kind, and merging."""
from __future__ import annotations

import csv
from pathlib import Path

import pytest

from ctpat_audit.core.errors import InputError, IntakeError
from ctpat_audit.criteria.catalogue import load_catalogue
from ctpat_audit.criteria.official_import import (
    import_criteria_table,
    read_criteria_table,
)
from ctpat_audit.criteria.table_problems import PageProblem

HEADER = ["ID", "Criteria", "Implementation Guidance", "Must/Should"]
LONG = ("The member keeps a written procedure for this practice, reviews it every year and "
        "trains the people who apply it, so that the practice is applied the same way at every "
        "site and on every shift, including nights and weekends when fewer staff are present.")

# (heading or None, id, criteria, guidance, level): a small table in CBP's layout (text ours)
INTRO = ("TEXT", ("Risk assessment helps a member find where its supply chain is weak; this "
         "introduction, like those in CBP's tables, spans the full width of the table and "
         "wraps over more than one line without belonging to any criterion."))
GOOD = [
    ("TEXT", "Corporate Security"),
    ("Security Vision and Responsibility", "1.1", "Management states its support for security.",
     "A signed statement shown to staff.", "Should"),
    (None, "1.2", "A cross-functional team builds security into procedures.", "", "Should"),
    ("Risk Assessment", None),
    INTRO,
    (None, "2.1", "The supply chain risk is assessed in writing. " + LONG,
     "Map the flow first. " + LONG, "Must"),
    ("Seal Security", "6.1", "Written seal procedures exist.", "Include tampered seals.", "Must"),
    (None, "6.2", "High-security seals go on right after loading.", "ISO 17712.", "Must"),
    (None, "6.10", "Seal numbers are checked at each hand-over.", "", "Should"),
    ("Procedural Security", "7.37", "An internal investigation follows a breach.", "", "Must"),
]


def _rows(spec):
    out = [HEADER]
    for heading, *cells in spec:
        if heading == "TEXT":  # a title or paragraph that is not a criterion
            out.append([cells[0], "", "", ""])
            continue
        if heading:
            out.append([heading, "", "", ""])
        if cells and cells[0] is not None:
            out.append(list(cells))
    return out


def write_csv(path: Path, rows: list[list[str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows(rows)
    return path


def write_xlsx(path: Path, rows: list[list[str]], title: str | None = "CTPAT MSC test table") -> Path:
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.title = "Importers"
    if title:
        ws.append([title])
        ws.append([])
    for r in rows:
        ws.append(r)
    wb.save(path)
    return path


def write_pdf(path: Path, rows: list[list[str]], *, line_h: float = 5.0,
              page_rows: int | None = None) -> Path:
    """A criteria table as CBP lays it out: header repeated on each page, wrapped cells,
    headings across the table, rows split across page breaks, a page footer."""
    from fpdf import FPDF

    pdf = FPDF(orientation="P", unit="mm", format="A4")
    pdf.set_auto_page_break(False)
    pdf.set_font("Helvetica", size=9)
    cols = [(10, 15), (26, 75), (103, 72), (177, 25)]  # (x, width)
    bottom = 270 if page_rows is None else 30 + page_rows * line_h

    def new_page() -> None:
        pdf.add_page()
        pdf.set_xy(10, 12)
        pdf.cell(0, line_h, "CTPAT Minimum Security Criteria - test entity")
        pdf.set_font("Helvetica", style="B", size=9)
        for (x, _), name in zip(cols, HEADER):
            pdf.set_xy(x, 22)
            pdf.cell(0, line_h, name)
        pdf.set_font("Helvetica", size=9)
        pdf.set_xy(100, 285)
        pdf.cell(0, line_h, f"Page {pdf.page_no()}")
        pdf.set_y(30)

    new_page()
    for row in rows[1:]:
        if row[0] and not any(row[1:]):  # heading or paragraph across the table
            lines = [[text, "", "", ""] for text in
                     pdf.multi_cell(190, line_h, row[0], dry_run=True, output="LINES")]
        else:
            wrapped = [pdf.multi_cell(w, line_h, text, dry_run=True, output="LINES") if text
                       else [""] for (x, w), text in zip(cols, row)]
            lines = [[col[i] if i < len(col) else "" for col in wrapped]
                     for i in range(max(len(c) for c in wrapped))]
        for line in lines:
            if pdf.get_y() + line_h > bottom:
                new_page()
            y = pdf.get_y()
            for (x, _), text in zip(cols, line):
                if text:
                    pdf.set_xy(x, y)
                    pdf.cell(0, line_h, text)
            pdf.set_y(y + line_h)
        pdf.set_y(pdf.get_y() + 1.5)
    pdf.output(str(path))
    return path


WRITERS = {"csv": write_csv, "xlsx": write_xlsx, "pdf": write_pdf}


@pytest.mark.parametrize("kind", ["csv", "xlsx", "pdf"])
def test_good_table_is_read_in_every_format(tmp_path: Path, kind: str) -> None:
    path = WRITERS[kind](tmp_path / f"importer.{kind}", _rows(GOOD))
    rows = read_criteria_table(path).rows
    got = {r.cells["id"]: r for r in rows}
    assert list(got) == ["1.1", "1.2", "2.1", "6.1", "6.2", "6.10", "7.37"]
    long_row = got["2.1"]
    assert long_row.cells["criteria"] == "The supply chain risk is assessed in writing. " + LONG
    assert long_row.cells["guidance"] == "Map the flow first. " + LONG
    assert got["6.10"].cells["level"] == "Should" and got["6.10"].heading == 6
    assert got["1.2"].heading == 1
    # focus-area titles and a category's introduction are not criteria nor continuation text
    assert not any("introduction" in " ".join(r.cells.values()) for r in rows)
    assert got["1.2"].cells["criteria"] == "A cross-functional team builds security into procedures."


def test_pdf_rows_wrap_across_a_page_break(tmp_path: Path) -> None:
    path = write_pdf(tmp_path / "wrap.pdf", _rows(GOOD), page_rows=4)
    import pdfplumber

    with pdfplumber.open(path) as pdf:
        texts = [page.extract_text() for page in pdf.pages]
    start = next(i for i, t in enumerate(texts) if "2.1 The supply chain" in t)
    end = next(i for i, t in enumerate(texts) if "fewer staff are present." in t)
    assert end > start + 1  # row 2.1 really runs over two page breaks
    rows = read_criteria_table(path).rows
    got = {r.cells["id"]: r for r in rows}
    assert got["2.1"].cells["criteria"] == "The supply chain risk is assessed in writing. " + LONG
    assert got["2.1"].cells["guidance"] == "Map the flow first. " + LONG
    assert "Page" not in got["2.1"].cells["guidance"]  # footers are not continuation text
    assert "Criteria" not in got["2.1"].cells["criteria"]  # repeated headers neither
    assert [r.cells["id"] for r in rows] == ["1.1", "1.2", "2.1", "6.1", "6.2", "6.10", "7.37"]
    assert got["1.2"].cells["criteria"] == "A cross-functional team builds security into procedures."
    assert got["2.1"].page == start + 1 and got["2.1"].heading == 2
    assert not any("introduction" in " ".join(r.cells.values()) for r in rows)


BAD = [
    ("Security Vision and Responsibility", "1.1", "Support statement.", "", "Should"),
    (None, "1-2", "Bad id format.", "", "Must"),
    ("Seal Security", "6.1", "Seal procedures.", "", "Must"),
    (None, "7.4", "Under the seal heading but numbered 7.", "", "Must"),
    (None, "13.1", "Category 13 does not exist.", "", "Should"),
    (None, "6.2", "No level given.", "", ""),
    (None, "6.3", "Unknown level.", "", "Maybe"),
    (None, "6.1", "Duplicate of 6.1.", "", "Must"),
    (None, "6.5", "", "no criterion text", "Must"),
]
EXPECTED = [  # (code, id value or None, column)
    ("bad_id", "1-2", "ID"), ("wrong_category", "7.4", "ID"),
    ("category_out_of_range", "13.1", "ID"), ("missing_level", None, "Must/Should"),
    ("unknown_level", "Maybe", "Must/Should"), ("duplicate_id", "6.1", "ID"),
    ("missing_text", None, "Criteria"),
]


@pytest.mark.parametrize("kind", ["csv", "xlsx", "pdf"])
def test_every_problem_is_collected_and_located(tmp_path: Path, kind: str) -> None:
    path = WRITERS[kind](tmp_path / f"bad.{kind}", _rows(BAD))
    with pytest.raises(IntakeError) as info:
        read_criteria_table(path)
    problems = info.value.problems
    assert [(p.code, p.value, p.column) for p in problems] == EXPECTED
    assert all(p.file == f"bad.{kind}" for p in problems)
    if kind == "pdf":
        assert all(isinstance(p, PageProblem) and p.page == 1 and p.row for p in problems)
        assert "page 1, line" in problems[0].location()
    else:
        offset = 3 if kind == "xlsx" else 1  # xlsx has a title row and a blank row above
        # file rows: header, heading, 1.1, 1-2, heading, 6.1, 7.4, 13.1, 6.2, 6.3, 6.1, 6.5
        assert [p.row for p in problems] == [offset + n for n in (3, 6, 7, 8, 9, 10, 11)]
        if kind == "xlsx":
            assert all(p.sheet == "Importers" for p in problems)
    assert "first seen at" in problems[5].expected
    frame = info.value.frame()
    assert len(frame) == len(EXPECTED)


@pytest.mark.parametrize("kind", ["csv", "xlsx"])
def test_missing_column_and_empty_table(tmp_path: Path, kind: str) -> None:
    no_level = [["ID", "Criteria", "Implementation Guidance"], ["1.1", "x", ""]]
    with pytest.raises(IntakeError) as info:
        read_criteria_table(WRITERS[kind](tmp_path / f"nolevel.{kind}", no_level))
    assert [(p.code, p.column) for p in info.value.problems] == [("missing_column", "Must/Should")]
    with pytest.raises(IntakeError) as info:
        read_criteria_table(WRITERS[kind](tmp_path / f"empty.{kind}", [HEADER]))
    assert [p.code for p in info.value.problems] == ["empty_table"]


def test_unreadable_files(tmp_path: Path) -> None:
    bad_csv = tmp_path / "latin1.csv"
    bad_csv.write_bytes("ID,Criteria,Must/Should\n1.1,Caf\xe9,Must\n".encode("latin-1"))
    with pytest.raises(IntakeError) as info:
        read_criteria_table(bad_csv)
    assert info.value.problems[0].code == "not_utf8"
    fake_pdf = tmp_path / "fake.pdf"
    fake_pdf.write_bytes(b"not a pdf")
    with pytest.raises(IntakeError) as info:
        read_criteria_table(fake_pdf)
    assert info.value.problems[0].code == "unreadable"
    with pytest.raises(InputError):
        read_criteria_table(tmp_path / "table.docx")


def test_import_merges_entity_tables_into_one_official_version(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    importer = write_pdf(tmp_path / "importer.pdf", _rows(GOOD))
    carrier = write_csv(tmp_path / "sea.csv", _rows([
        ("Seal Security", "6.1", "Written seal procedures exist.", "", "Must"),
        (None, "6.10", "Seal numbers are checked at each hand-over.", "", "Must"),
        (None, "6.11", "A sea-carrier-only criterion.", "", "Should"),
    ]))
    import_criteria_table(importer, "importer", "2019.11-official", ws)
    cat = import_criteria_table(carrier, "sea_carrier", "2019.11-official", ws)
    assert cat.provenance == "official"
    again = load_catalogue("2019.11-official", workspace=ws)
    assert again == cat
    assert dict(again.criterion("6.10").must_should) == {"importer": "Should", "sea_carrier": "Must"}
    assert again.criterion("6.10").level_for(["importer", "sea_carrier"]) == "Must"
    assert [c.id for c in again.applicable(["sea_carrier"])] == ["6.1", "6.10", "6.11"]
    assert len(again.applicable(["importer", "sea_carrier"])) == 8
    assert again.imported_tables == {"importer": "importer.pdf", "sea_carrier": "sea.csv"}
    assert again.criterion("2.1").guidance.startswith("Map the flow first.")
    assert all(c.provenance == "official" for c in again.criteria)
    # re-importing an entity replaces its table
    smaller = write_csv(tmp_path / "sea2.csv", _rows([("Seal Security", "6.1", "Seals.", "", "Should")]))
    cat = import_criteria_table(smaller, "sea_carrier", "2019.11-official", ws)
    assert [c.id for c in cat.applicable(["sea_carrier"])] == ["6.1"]
    assert "6.11" not in {c.id for c in cat.criteria}


def test_failed_import_writes_nothing(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    good = write_csv(tmp_path / "good.csv", _rows(GOOD))
    import_criteria_table(good, "importer", "v1", ws)
    target = ws / "catalogues" / "v1.json"
    before = target.read_bytes()
    bad = write_csv(tmp_path / "bad.csv", _rows(BAD))
    with pytest.raises(IntakeError):
        import_criteria_table(bad, "sea_carrier", "v1", ws)
    assert target.read_bytes() == before
    with pytest.raises(IntakeError):
        import_criteria_table(bad, "importer", "v2", ws)
    assert not (ws / "catalogues" / "v2.json").exists()
    with pytest.raises(InputError):
        import_criteria_table(good, "pirate", "v1", ws)
    with pytest.raises(InputError):
        import_criteria_table(good, "importer", "demo-2019.11", ws)


def test_cli_import_prints_every_problem_or_merges(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from ctpat_audit.cli import main

    ws = tmp_path / "ws"
    bad = write_csv(tmp_path / "bad.csv", _rows(BAD))
    result = CliRunner().invoke(main, ["catalogue", "import", str(bad), "--entity", "importer",
                                       "--version", "v1", "--workspace", str(ws)])
    assert result.exit_code == 3
    for code, _, _ in EXPECTED:
        assert code in result.output
    assert not (ws / "catalogues" / "v1.json").exists()

    good = write_pdf(tmp_path / "importer.pdf", _rows(GOOD))
    result = CliRunner().invoke(main, ["catalogue", "import", str(good), "--entity", "importer",
                                       "--version", "v1", "--workspace", str(ws)])
    assert result.exit_code == 0, result.output
    assert "imported 7 criteria for importer (4 Must, 3 Should)" in result.output
    listing = CliRunner().invoke(main, ["catalogue", "--version", "v1", "--workspace", str(ws),
                                        "--entity", "importer"])
    assert listing.exit_code == 0
    assert listing.output.startswith("CBP Minimum Security Criteria, version v1")
    assert "DEMONSTRATION" not in listing.output


def test_xlsx_ids_stored_as_numbers_are_refused_with_their_cell(tmp_path: Path) -> None:
    """6.20 typed into a number cell is 6.2: the import cannot tell which id was meant."""
    rows = _rows([("Seal Security", "6.1", "Seal procedures.", "", "Must"),
                  (None, 6.2, "Seals after loading.", "", "Must"),
                  (None, 6.20, "A later seal criterion.", "", "Should"),
                  ("Security Vision and Responsibility", 1.20, "A lone 1.20.", "", "Should")])
    path = write_xlsx(tmp_path / "numbers.xlsx", rows)
    with pytest.raises(IntakeError) as info:
        read_criteria_table(path)
    problems = info.value.problems
    assert [(p.code, p.sheet, p.row, p.column, p.value) for p in problems] == [
        ("number_id", "Importers", 6, "ID", "6.2"), ("number_id", "Importers", 7, "ID", "6.2"),
        ("number_id", "Importers", 9, "ID", "1.2")]
    assert "as text" in problems[0].expected.lower() or "as Text" in problems[0].expected


def test_cli_problems_workbook_has_every_problem_and_the_report_a_pattern(tmp_path: Path) -> None:
    from click.testing import CliRunner
    from openpyxl import load_workbook

    from ctpat_audit.cli import main

    blank = [("Seal Security", "6.1", "Seal procedures.", "", "")]
    blank += [(None, f"6.{n}", f"Seal criterion {n}.", "", "") for n in range(2, 13)]
    path = write_csv(tmp_path / "blank.csv", _rows(blank))
    out = tmp_path / "problems.xlsx"
    result = CliRunner().invoke(main, ["catalogue", "import", str(path), "--entity", "importer",
                                       "--version", "v1", "--workspace", str(tmp_path / "ws"),
                                       "--problems", str(out)])
    assert result.exit_code == 3, result.output
    assert "12 problems in blank.csv" in result.output
    assert "9 more rows" in result.output and "12 rows in all" in result.output
    assert result.output.count("missing_level") == 4  # three examples and the pattern
    ws = load_workbook(out)["problems"]
    got = [(r[2].value, r[5].value) for r in ws.iter_rows(min_row=2)]
    assert got == [(n, "missing_level") for n in range(3, 15)]


def test_extra_columns_are_ignored_with_one_notice_each(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from ctpat_audit.cli import main

    rows = [[*HEADER, "Notes", "Owner"]] + [r + ["see plan", "ops"] for r in _rows(GOOD)[1:]]
    path = write_xlsx(tmp_path / "notes.xlsx", rows)
    table = read_criteria_table(path)
    assert table.notices == [
        "column 'Notes' (sheet Importers, row 3) is not one the import reads; it was ignored",
        "column 'Owner' (sheet Importers, row 3) is not one the import reads; it was ignored"]
    assert [r.cells["id"] for r in table.rows] == ["1.1", "1.2", "2.1", "6.1", "6.2", "6.10", "7.37"]
    result = CliRunner().invoke(main, ["catalogue", "import", str(path), "--entity", "importer",
                                       "--version", "v1", "--workspace", str(tmp_path / "ws")])
    assert result.exit_code == 0, result.output
    assert result.output.count("note: column") == 2
