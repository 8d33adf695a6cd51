"""What a report workbook and a table written by ``core.xlsx.write_table`` hold, cell by cell:
values and types, number formats, header and wrapped-cell styles, frozen panes, filters, column
widths (as pandas measures the text of the first 200 values) and conditional fills.

The checks were written when ``write_table`` stopped styling every cell on its own (styles now
copied from the first cell of each kind) and stopped measuring widths with pandas for every
column; the workbooks it wrote before and after were compared part by part and were the same.
"""
from __future__ import annotations

import datetime as dt
import zipfile
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest
from openpyxl import Workbook, load_workbook
from openpyxl.utils import get_column_letter
from report_helpers import sample_workspace_with_sessions

from ctpat_audit.core import xlsx
from ctpat_audit.reports.sections import load_context
from ctpat_audit.reports.workbook import AMBER, RED, SHEETS, write_report_xlsx
from ctpat_audit.sessions.session import open_session

FORMULAS = ["=1+1", "+SUM(A1:A2)", "-2+3", "@cmd", "\tx=1", '=HYPERLINK("http://e")']
TEXTS = ["=1+1", "+SUM(A1:A2)", "-2+3", "@cmd", "#N/A", "a\x00b\x1fc", "\ufffe", " lead", "",
         "plain", "ünïcode ✓", "line\nbreak", "x" * 70]


def pandas_width(name: str, column: pd.Series) -> int:
    """The width rule as first written: the header or the longest of the first 200 values as
    pandas writes them as strings, plus 2, at most 60."""
    sample = column.head(200).astype("string").fillna("").str.len()
    return int(min(60, max(len(name) + 2, (sample.max() if len(sample) else 0) + 2)))


def assert_header(sheet, row: int, names: list[str]) -> None:
    assert [c.value for c in sheet[row]][:len(names)] == names
    for c in sheet[row][:len(names)]:
        assert c.data_type == "s"
        assert c.font.b and c.font.color.rgb == "00FFFFFF"
        assert c.fill.fill_type == "solid" and c.fill.fgColor.rgb == "001F3864"
        assert c.alignment.wrap_text and c.alignment.vertical == "center"


def varied_frame(n: int = 230) -> pd.DataFrame:
    rng = np.random.default_rng(7)
    stamps = ["2026-01-01"] * (n // 2) + ["2026-01-02 03:04:05"] * (n - n // 2)
    frame = pd.DataFrame({
        "text": pd.array(rng.choice(TEXTS, n), dtype="str"),
        "text_na": pd.array([None if i % 5 == 0 else t for i, t in enumerate(rng.choice(TEXTS, n))],
                            dtype="str"),
        "string": pd.array([None if i % 7 == 0 else t
                            for i, t in enumerate(rng.choice(TEXTS, n))], dtype="string"),
        "mixed": pd.Series([[None, dt.date(2026, 1, 2), "=x", 3.5, np.nan, pd.Timestamp("2026-02-03"),
                             Decimal("1.25"), True, 7][i % 9] for i in range(n)], dtype=object),
        "int": rng.integers(-10**9, 10**9, n), "float": rng.normal(size=n) * 1e5,
        "float32": rng.normal(size=n).astype("float32"), "bool": rng.integers(0, 2, n).astype(bool),
        "Int64": pd.array([None if i % 3 == 0 else i for i in range(n)], dtype="Int64"),
        "boolean": pd.array([None if i % 4 == 0 else bool(i % 2) for i in range(n)],
                            dtype="boolean"),
        "stamp": pd.to_datetime(stamps, format="ISO8601"),
        "category": pd.Categorical(rng.choice(["a", "bb", "=c"], n)),
    })
    frame.loc[[3, 250 % n], "float"] = np.nan
    return frame


def test_write_table_cells_styles_and_widths(tmp_path):
    frame = varied_frame()
    wb = Workbook()
    ws = xlsx.first_sheet(wb)
    xlsx.title_row(ws, "=title")
    xlsx.write_table(ws, frame, start_row=3, widths={"int": 7}, wrap=["text", "mixed", "stamp"])
    path = xlsx.save(wb, tmp_path / "t.xlsx")
    sheet = load_workbook(path).active
    assert sheet["A1"].value == "=title" and sheet["A1"].data_type == "s"
    names = list(frame.columns)
    assert_header(sheet, 3, names)
    for j, name in enumerate(names, start=1):
        wrapped = name in ("text", "mixed", "stamp")
        for i, raw in enumerate(frame[name].tolist(), start=4):
            c = sheet.cell(i, j)
            expected = xlsx.cell_value(raw)
            if isinstance(expected, str) and expected:
                assert c.value == expected and c.data_type == "s", (name, i)
            elif isinstance(expected, dt.date):
                assert c.value.date() == (expected.date() if isinstance(expected, dt.datetime)
                                          else expected), (name, i)
                assert c.number_format == "yyyy-mm-dd", (name, i)
            elif expected is None or expected == "":  # an empty string reads back as None
                assert c.value is None, (name, i)
            else:
                assert c.value == pytest.approx(float(expected), rel=1e-15), (name, i)  # 16 digits kept
                assert c.data_type == ("b" if isinstance(expected, bool) else "n"), (name, i)
            assert bool(c.alignment.wrap_text) is wrapped, (name, i)
            if wrapped:
                assert c.alignment.vertical == "top"
            assert not c.font.b and c.fill.fill_type is None
        width = 7 if name == "int" else pandas_width(name, frame[name])
        assert sheet.column_dimensions[get_column_letter(j)].width == width, name
    assert sheet.freeze_panes == "A4"
    assert sheet.auto_filter.ref == f"A3:{get_column_letter(len(names))}{3 + len(frame)}"
    with zipfile.ZipFile(path) as z:
        assert not any(b"<f>" in z.read(n) for n in z.namelist() if n.endswith(".xml"))


def test_write_table_empty_frame_and_a_cell_styled_before(tmp_path):
    wb = Workbook()
    ws = xlsx.first_sheet(wb)
    ws.cell(row=3, column=2).number_format = "0.00"  # styled before the table is written
    xlsx.write_table(ws, pd.DataFrame({"a": ["x", "y"], "b": [1.5, 2.0]}), start_row=2,
                     wrap=["b"])
    other = wb.create_sheet("empty")
    xlsx.write_table(other, pd.DataFrame({"port_code": pd.array([], dtype="str")}))
    book = load_workbook(xlsx.save(wb, tmp_path / "e.xlsx"))
    sheet = book["Sheet"]
    assert sheet["B3"].number_format == "0.00" and sheet["B3"].alignment.wrap_text
    assert sheet["B4"].number_format == "General" and sheet["B4"].alignment.wrap_text
    assert sheet["A3"].alignment.wrap_text is not True
    empty = book["empty"]
    assert_header(empty, 1, ["port_code"])
    assert empty.max_row == 1 and empty.auto_filter.ref == "A1:A2"
    assert empty.column_dimensions["A"].width == len("port_code") + 2


def test_report_workbook_sheet_by_sheet(tmp_path):
    ws, _ = sample_workspace_with_sessions(tmp_path, validations=0, self_assessments=0,
                                           partners=6)
    account = str(ws.partners()["account_id"].iloc[0])
    with open_session(ws, account, "validation", "virtual", "s@cbp.example") as s:
        musts = [c.criterion_id for c in s.criteria if c.level == "Must"]
        shoulds = [c.criterion_id for c in s.criteria if c.level != "Must"]
        for cid, text in zip(musts, FORMULAS):
            s.answer(cid, status="does_not_meet", method="document_review", notes=text)
        for cid in shoulds[:3]:
            s.answer(cid, status="does_not_meet", method="interview", notes="=SUM(1)")
        s.submit("s@cbp.example")
        sid = s.id
    ctx = load_context(ws.path, sid, "2026-10-01")
    book = load_workbook(write_report_xlsx(ctx, tmp_path / "r.xlsx"))
    assert book.sheetnames == list(SHEETS)

    summary = book["Summary"]
    assert summary.freeze_panes == "A4"
    assert summary.column_dimensions["A"].width == 32
    assert summary.column_dimensions["B"].width == 90
    assert summary["A1"].font.b and summary["A1"].font.sz == 13
    for row in summary.iter_rows(min_row=4, max_col=2):
        if row[0].value is not None:
            assert row[0].font.b and row[1].alignment.wrap_text and row[1].alignment.vertical == "top"

    findings = ctx.findings.findings
    expected = {
        "Findings": (list(findings.columns), len(findings),
                     {"requirement": 60, "validator_notes": 45, "owner": 20,
                      "partner_response": 45, "due_date": 12},
                     ("requirement", "validator_notes", "partner_response"),
                     [("kind", "Requirement", RED), ("kind", "Recommendation", AMBER)]),
        "Checklist": (["criterion_id", "category", "level", "facility_id", "status", "method",
                       "notes", "evidence_requested", "evidence_received", "evidence_sha256",
                       "requirement", "answered_by", "answered_at"], len(ctx.findings.answers),
                      {"notes": 45, "requirement": 60, "evidence_sha256": 40},
                      ("notes", "requirement"),
                      [("status", "does_not_meet", RED), ("status", "", AMBER)]),
    }
    assert len(findings) > 3
    for name, (columns, rows, widths, wrap, rules) in expected.items():
        sheet = book[name]
        assert sheet["A2"].value.startswith("DEMONSTRATION")
        assert_header(sheet, 4, columns)
        last = get_column_letter(len(columns))
        assert sheet.freeze_panes == "A5"
        assert sheet.auto_filter.ref == f"A4:{last}{4 + rows}"
        for j, col in enumerate(columns, start=1):
            cells = [sheet.cell(i, j) for i in range(5, 5 + rows)]
            for c in cells:
                assert c.data_type != "f"
                assert bool(c.alignment.wrap_text) is (col in wrap), (name, col, c.coordinate)
                if isinstance(c.value, dt.datetime):
                    assert c.number_format == "yyyy-mm-dd"
            letter = get_column_letter(j)
            if col in widths:
                assert sheet.column_dimensions[letter].width == widths[col], (name, col)
            elif not any(isinstance(c.value, dt.datetime) for c in cells):
                # the values read back write as the same text as those the workbook was made of
                back = pd.Series([c.value for c in cells], dtype=object)
                assert sheet.column_dimensions[letter].width == pandas_width(col, back), (name, col)
        got = [(str(r.sqref), rule.formula, rule.stopIfTrue, rule.dxf.fill)
               for r in sheet.conditional_formatting for rule in r.rules]
        want = []
        for col, value, fill in rules:
            letter = get_column_letter(columns.index(col) + 1)
            want.append((f"A5:{last}{4 + rows}", [f'${letter}5="{value}"'], True, fill))
        assert [g[:3] for g in got] == [w[:3] for w in want]
        for g, w in zip(got, want):
            assert g[3].fgColor.rgb == w[3].fgColor.rgb and g[3].fill_type == "solid"
    fs = book["Findings"]
    notes = [fs.cell(r, 8) for r in range(5, 5 + len(findings))]
    assert {c.value for c in notes} >= set(FORMULAS[:len(musts)])
    assert all(c.data_type == "s" for c in notes if c.value is not None)
    exams = book["Exams"]
    assert exams.freeze_panes == "A5" and exams["A4"].value is not None
