"""The offline questionnaire: export, fill as a partner would in Excel, import; bad cells located."""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from openpyxl import load_workbook

from ctpat_audit.core.errors import IntakeError, QuestionnaireError
from ctpat_audit.sessions.questionnaire import HEADER_ROW, export_questionnaire, import_questionnaire
from ctpat_audit.sessions.session import list_sessions, resume_session
from ctpat_audit.workspace.reference import open_workspace


@pytest.fixture
def ws(sample_workspace, tmp_path):
    dest = tmp_path / "ws"
    shutil.copytree(sample_workspace.path, dest)
    return open_workspace(dest)


@pytest.fixture
def partner(ws):
    contacts = ws.table("contacts")
    acc = contacts.loc[contacts["role"] == "Company Officer", "account_id"].iloc[0]
    p = ws.partner(acc)
    return p, p.contacts["email"].iloc[0]


def _fill(path: Path, answers: dict[int, tuple[str, str, str]]) -> None:
    """Type answers into rows (offset from the first criterion row) as a partner would."""
    wb = load_workbook(path)
    sheet = wb["Questionnaire"]
    for k, (status, notes, evidence) in answers.items():
        r = HEADER_ROW + 1 + k
        sheet.cell(row=r, column=6).value = status
        sheet.cell(row=r, column=7).value = notes
        sheet.cell(row=r, column=8).value = evidence
    wb.save(path)


def test_export_is_protected_with_a_status_list_and_open_answer_cells(ws, partner, tmp_path):
    p, _ = partner
    path = export_questionnaire(ws, p.account_id, tmp_path / "q.xlsx")
    wb = load_workbook(path)
    sheet = wb["Questionnaire"]
    assert sheet.protection.sheet
    assert wb["_meta"].sheet_state == "veryHidden"
    assert "DEMONSTRATION" in sheet["A2"].value
    first = HEADER_ROW + 1
    assert sheet.cell(row=first, column=1).protection.locked
    assert not sheet.cell(row=first, column=6).protection.locked
    assert not sheet.cell(row=first, column=7).protection.locked
    dv = sheet.data_validations.dataValidation[0]
    assert dv.type == "list" and "Does not meet" in dv.formula1
    from ctpat_audit.criteria.catalogue import load_catalogue
    n = len(load_catalogue().applicable(p.entity_types))
    assert sheet.max_row == HEADER_ROW + n


def test_round_trip_creates_a_self_assessment(ws, partner, tmp_path):
    p, email = partner
    path = export_questionnaire(ws, p.account_id, tmp_path / "q.xlsx")
    _fill(path, {0: ("Meets", "Signed statement on file", "policy.pdf"),
                 1: ("Does not meet", "=1+1 is how our team writes it", ""),
                 2: ("", "We are working on it", "")})
    result = import_questionnaire(ws, path, email)
    assert result.answered == 3 and result.account_id == p.account_id
    s = resume_session(ws, result.session_id)
    answers = s.answers().set_index("criterion_id")
    ids = load_workbook(path)["Questionnaire"]
    first = [ids.cell(row=HEADER_ROW + 1 + k, column=1).value for k in range(3)]
    assert answers.loc[first[0], "status"] == "meets"
    assert "Evidence: policy.pdf" in answers.loc[first[0], "notes"]
    assert answers.loc[first[1], "status"] == "does_not_meet"
    assert answers.loc[first[1], "notes"].startswith("=1+1")  # text, never a formula
    assert answers.loc[first[2], "notes"] == "We are working on it"
    assert s.info()["kind"] == "self_assessment"


def test_every_bad_cell_is_reported_and_nothing_imported(ws, partner, tmp_path):
    p, email = partner
    path = export_questionnaire(ws, p.account_id, tmp_path / "q.xlsx")
    wb = load_workbook(path)
    sheet = wb["Questionnaire"]
    first = HEADER_ROW + 1
    sheet.cell(row=first, column=6).value = "Mostly"              # not in the list
    sheet.cell(row=first + 1, column=6).value = "=IF(1,\"Meets\")"  # a formula
    sheet.cell(row=first + 2, column=1).value = "99.9"            # edited id
    sheet.delete_rows(first + 3)                                   # deleted criterion row
    wb.save(path)
    before = len(list_sessions(ws))
    with pytest.raises(IntakeError) as exc:
        import_questionnaire(ws, path, email)
    probs = {(p_.code, p_.row, p_.column) for p_ in exc.value.problems}
    assert ("unknown_status", first, "F") in probs
    assert ("formula_not_allowed", first + 1, "F") in probs
    assert ("unknown_criterion", first + 2, "A") in probs
    assert {p_.code for p_ in exc.value.problems} >= {"missing_criterion"}
    assert all(p_.sheet == "Questionnaire" for p_ in exc.value.problems)
    assert len(list_sessions(ws)) == before


def test_only_the_partners_contacts_may_import(ws, partner, tmp_path):
    p, _ = partner
    path = export_questionnaire(ws, p.account_id, tmp_path / "q.xlsx")
    with pytest.raises(QuestionnaireError, match="not a contact"):
        import_questionnaire(ws, path, "someone@elsewhere.example")


def test_cli_round_trip_and_exit_codes(ws, partner, tmp_path):
    p, email = partner
    exe = str(Path(sys.executable).parent / "ctpat-audit")
    out = tmp_path / "cli.xlsx"
    r = subprocess.run([exe, "questionnaire", "export", "-w", str(ws.path), p.account_id, "--out", str(out)],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    _fill(out, {0: ("Bogus", "", "")})
    r = subprocess.run([exe, "questionnaire", "import", "-w", str(ws.path), str(out), "--contact", email],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 3 and "unknown_status" in r.stderr and "Questionnaire" in r.stderr
    _fill(out, {0: ("Meets", "ok", "")})
    r = subprocess.run([exe, "questionnaire", "import", "-w", str(ws.path), str(out), "--contact", email],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and "1 answered" in r.stdout
