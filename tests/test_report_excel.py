"""The Excel report from a report context: sheets, styles, fills, and text never a formula."""
from __future__ import annotations

import datetime as dt

from openpyxl import load_workbook
from report_helpers import sample_workspace_with_sessions, set_legal_name

from ctpat_audit.reports.sections import load_context
from ctpat_audit.reports.workbook import write_report_xlsx
from ctpat_audit.sessions.session import open_session

FORMULAS = ["=1+1", "+SUM(A1:A2)", "-2+3", "@cmd", "\tx=1", "\r=2", '=HYPERLINK("http://e")']


def test_workbook_from_context_with_formula_text(tmp_path):
    ws, _ = sample_workspace_with_sessions(tmp_path, validations=0, self_assessments=0,
                                           partners=6)
    account = str(ws.partners()["account_id"].iloc[0])
    set_legal_name(ws, account, FORMULAS[0])
    with open_session(ws, account, "validation", "virtual", "s@cbp.example") as s:
        musts = [c.criterion_id for c in s.criteria if c.level == "Must"]
        for cid, text in zip(musts, FORMULAS):
            s.answer(cid, status="does_not_meet", method="document_review", notes=text)
        s.submit("s@cbp.example")
        sid = s.id
    ctx = load_context(ws.path, sid, "2026-10-01")
    path = write_report_xlsx(ctx, tmp_path / "r.xlsx")
    wb = load_workbook(path)
    assert wb.sheetnames == ["Summary", "Findings", "Checklist", "Exams"]
    summary = {r[0].value: r[1] for r in wb["Summary"].iter_rows(min_row=4) if r[0].value}
    assert summary["Partner"].value == "=1+1" and summary["Partner"].data_type == "s"
    assert summary["Overall outcome"].value.startswith("Incomplete")  # other Musts unanswered
    assert summary["Due date of Requirements"].value.date() == dt.date(2026, 12, 30)
    fs = wb["Findings"]
    head = [c.value for c in fs[4]]
    notes = [fs.cell(r, head.index("validator_notes") + 1).value for r in range(5, fs.max_row + 1)]
    assert sorted(notes) == sorted(FORMULAS)
    rules = [r for rng in fs.conditional_formatting for r in rng.rules]
    assert any('"Requirement"' in r.formula[0] for r in rules)
    for sheet in wb.worksheets:
        assert sheet["A2"].value.startswith("DEMONSTRATION")
        for row in sheet.iter_rows():
            for c in row:
                assert c.data_type != "f", (sheet.title, c.coordinate, c.value)
    import zipfile

    with zipfile.ZipFile(path) as z:  # no formula element anywhere in the stored XML
        assert not any(b"<f>" in z.read(n) for n in z.namelist() if n.endswith(".xml"))
