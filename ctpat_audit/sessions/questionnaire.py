"""The offline self-assessment questionnaire: an Excel round trip for partners.

``export_questionnaire`` writes the criteria that apply to one partner into a protected
workbook: the criterion text is locked, the answer cells (status, notes, evidence) are open,
and the status has a drop-down list. ``import_questionnaire`` reads a filled workbook back
into a new self-assessment session, but only after every cell has been checked: if anything is
wrong, every bad cell is reported by sheet, row and column and nothing is imported.

A hidden sheet records the partner, the catalogue version and the criteria exported, so a
workbook cannot be imported against another partner, and deleted or edited criterion rows are
caught. Text is stored as text (``excel.set_cell``): a note starting with ``=`` is a note.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from openpyxl import Workbook, load_workbook
from openpyxl.styles import Alignment, Font, PatternFill, Protection
from openpyxl.worksheet.datavalidation import DataValidation

from ctpat_audit.core import xlsx as excel
from ctpat_audit.core.clock import Clock, utc_now
from ctpat_audit.core.errors import IntakeError, Problem, QuestionnaireError
from ctpat_audit.core.vocabulary import ANSWER_STATUS_LABELS, ANSWER_STATUSES
from ctpat_audit.criteria.catalogue import load_catalogue

FORMAT = "ctpat-audit questionnaire 1"
SHEET, META = "Questionnaire", "_meta"
HEADER_ROW = 5
COLUMNS = ("criterion_id", "category", "must_should", "requirement", "have_ready",
           "status", "notes", "evidence")
ANSWER_COLUMNS = ("status", "notes", "evidence")
STATUS_LABELS = ANSWER_STATUS_LABELS
MAX_NOTES = 20_000
OPEN_FILL = PatternFill("solid", fgColor="FFF7D6")


@dataclass(frozen=True)
class ImportedQuestionnaire:
    session_id: str
    account_id: str
    answered: int
    blank: int


def _digest(ids: list[str]) -> str:
    return hashlib.sha256("\n".join(ids).encode()).hexdigest()


def export_questionnaire(ws, account_id: str, path: str | Path, *,
                         catalogue_version: str | None = None,
                         clock: Clock = utc_now) -> Path:
    """Write the partner's applicable criteria to a protected workbook with answer cells."""
    partner = ws.partner(account_id)
    cat = load_catalogue(catalogue_version, workspace=ws.path)
    crits = cat.applicable(partner.entity_types)
    wb = Workbook()
    sheet = excel.first_sheet(wb)
    sheet.title = SHEET
    excel.title_row(sheet, f"CTPAT self-assessment - {partner.legal_name} (account {partner.account_id})")
    excel.set_cell(sheet, 2, 1, f"Criteria: {cat.version} - {cat.label}")
    excel.set_cell(sheet, 3, 1, "Fill in the yellow columns only: status (choose from the list), notes "
                   "(how you meet the criterion) and evidence (documents you can show). "
                   "Do not add, delete or reorder rows. Send the file back to import it.")
    if cat.is_demonstration:
        sheet.cell(row=2, column=1).font = Font(bold=True, color="9C0006")
    for j, name in enumerate(COLUMNS, start=1):
        c = excel.set_cell(sheet, HEADER_ROW, j, name)
        c.fill, c.font = excel.HEADER_FILL, excel.HEADER_FONT
    for i, crit in enumerate(crits, start=HEADER_ROW + 1):
        values = (crit.id, f"{crit.category}. {crit.category_name}", crit.level_for(partner.entity_types),
                  crit.requirement, crit.request, "", "", "")
        for j, value in enumerate(values, start=1):
            cell = excel.set_cell(sheet, i, j, value)
            cell.alignment = Alignment(wrap_text=True, vertical="top")
            if COLUMNS[j - 1] in ANSWER_COLUMNS:
                cell.protection = Protection(locked=False)
                cell.fill = OPEN_FILL
    last = HEADER_ROW + len(crits)
    dv = DataValidation(type="list", formula1='"' + ",".join(STATUS_LABELS.values()) + '"',
                        allow_blank=True, showErrorMessage=True, errorTitle="Status",
                        error="Choose a status from the list.")
    col = chr(ord("A") + COLUMNS.index("status"))
    dv.add(f"{col}{HEADER_ROW + 1}:{col}{max(last, HEADER_ROW + 1)}")
    sheet.add_data_validation(dv)
    for name, width in zip(COLUMNS, (10, 28, 10, 60, 45, 16, 50, 30)):
        sheet.column_dimensions[chr(ord("A") + COLUMNS.index(name))].width = width
    sheet.freeze_panes = f"A{HEADER_ROW + 1}"
    sheet.protection.sheet = True
    sheet.protection.formatColumns = False  # widths may be changed
    sheet.protection.formatRows = False

    meta = wb.create_sheet(META)
    ids = [c.id for c in crits]
    info = {"format": FORMAT, "account_id": partner.account_id, "catalogue_version": cat.version,
            "criteria": ids, "criteria_sha256": _digest(ids),
            "exported_at": clock().isoformat(timespec="seconds")}
    excel.set_cell(meta, 1, 1, json.dumps(info))
    meta.sheet_state = "veryHidden"
    return excel.save(wb, path)


def _text(value: object) -> str:
    return "" if value is None else str(value).strip()


def read_questionnaire(path: str | Path) -> tuple[dict, list[dict], list[Problem]]:
    """The metadata, the answer rows and every problem in a filled questionnaire."""
    path = Path(path)
    name = path.name
    problems: list[Problem] = []
    try:
        wb = load_workbook(path, data_only=False)  # formulas come back as their text
    except Exception as exc:  # openpyxl raises many types for a file that is not a workbook
        raise IntakeError([Problem(name, None, None, None, str(exc)[:120], "unreadable_workbook",
                                   "the .xlsx questionnaire exported by ctpat-audit")]) from exc
    if SHEET not in wb.sheetnames or META not in wb.sheetnames:
        raise IntakeError([Problem(
            name, None, None, None, None, "not_a_questionnaire",
            f"a workbook made by `ctpat-audit questionnaire export` (sheets {SHEET!r})")])
    try:
        meta = json.loads(wb[META]["A1"].value)
        assert meta["format"] == FORMAT and isinstance(meta["criteria"], list)
    except Exception as exc:
        raise IntakeError([Problem(name, META, 1, "A", None, "damaged_metadata",
                                   "the hidden sheet written at export, unchanged")]) from exc
    sheet = wb[SHEET]
    header = [_text(c.value) for c in sheet[HEADER_ROW]][:len(COLUMNS)]
    for j, (got, want) in enumerate(zip(header + [""] * len(COLUMNS), COLUMNS), start=1):
        if got != want:
            problems.append(Problem(name, SHEET, HEADER_ROW, chr(64 + j), got, "changed_header",
                                    f"the column header {want!r}"))
    if problems:
        raise IntakeError(problems)
    labels = {v.lower(): k for k, v in STATUS_LABELS.items()} | {k: k for k in ANSWER_STATUSES}
    rows, seen = [], set()
    expected = list(meta["criteria"])
    for r in range(HEADER_ROW + 1, sheet.max_row + 1):
        cells = {n: sheet.cell(row=r, column=j) for j, n in enumerate(COLUMNS, start=1)}
        cid = _text(cells["criterion_id"].value)
        if not cid and not any(_text(cells[n].value) for n in ANSWER_COLUMNS):
            continue
        col = {n: chr(64 + j) for j, n in enumerate(COLUMNS, start=1)}
        if cid not in expected:
            problems.append(Problem(name, SHEET, r, col["criterion_id"], cid, "unknown_criterion",
                                    "one of the criterion ids exported (do not edit the id column)"))
            continue
        if cid in seen:
            problems.append(Problem(name, SHEET, r, col["criterion_id"], cid, "duplicate_criterion",
                                    "each criterion once"))
            continue
        seen.add(cid)
        status_cell = cells["status"]
        raw = _text(status_cell.value)
        status = None
        if status_cell.data_type == "f":
            problems.append(Problem(name, SHEET, r, col["status"], raw, "formula_not_allowed",
                                    "a status chosen from the list, not a formula"))
        elif raw:
            status = labels.get(raw.lower())
            if status is None:
                problems.append(Problem(name, SHEET, r, col["status"], raw, "unknown_status",
                                        "one of: " + ", ".join(STATUS_LABELS.values())))
        notes, evidence = _text(cells["notes"].value), _text(cells["evidence"].value)
        for field, value in (("notes", notes), ("evidence", evidence)):
            if len(value) > MAX_NOTES:
                problems.append(Problem(name, SHEET, r, col[field], value[:40] + "...", "too_long",
                                        f"at most {MAX_NOTES} characters"))
        rows.append({"criterion_id": cid, "status": status, "notes": notes, "evidence": evidence, "row": r})
    for cid in expected:
        if cid not in seen and not any(p.value == cid for p in problems):
            problems.append(Problem(name, SHEET, None, "criterion_id", cid, "missing_criterion",
                                    "every exported criterion row kept (answer it or leave it blank)"))
    return meta, rows, problems


def import_questionnaire(ws, path: str | Path, contact: str,
                         clock=None) -> ImportedQuestionnaire:
    """Check a filled questionnaire and, if clean, save it as a new self-assessment session."""
    from ctpat_audit.sessions.session import open_session

    meta, rows, problems = read_questionnaire(path)
    if problems:
        raise IntakeError(problems)
    account = meta["account_id"]
    partner = ws.partner(account)
    emails = {str(e).lower() for e in partner.contacts["email"]}
    if contact.lower() not in emails:
        raise QuestionnaireError(f"{contact} is not a contact of partner {account}; "
                                 "a partner's own contact imports its questionnaire")
    cat = load_catalogue(meta["catalogue_version"], workspace=ws.path)
    crits = {c.id: c for c in cat.applicable(partner.entity_types)}
    stale = [cid for cid in meta["criteria"] if cid not in crits]
    if stale:
        raise QuestionnaireError(f"the partner's criteria changed since export ({', '.join(stale[:5])} no "
                                 "longer apply); export a new questionnaire")
    session = open_session(ws, account, "self_assessment", None, contact,
                           catalogue_version=cat.version, clock=clock or utc_now)
    answered = 0
    with session:
        for row in rows:
            notes = row["notes"] + (f"\nEvidence: {row['evidence']}" if row["evidence"] else "")
            fields = {}
            if row["status"]:
                fields["status"] = row["status"]
            if notes.strip():
                fields["notes"] = notes.strip()
            if fields:
                session.answer(row["criterion_id"], actor=contact, **fields)
                answered += 1
        sid = session.id
    return ImportedQuestionnaire(sid, account, answered, len(meta["criteria"]) - answered)
