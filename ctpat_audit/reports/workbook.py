"""The report as an Excel workbook: Summary, Findings, Checklist and Exams sheets.

Built from a :class:`ctpat_audit.reports.sections.ReportContext` with the safe helpers of
:mod:`ctpat_audit.core.xlsx` (text is always stored as text, never a formula). Each sheet has a
title row (with the DEMONSTRATION label when the catalogue is a demonstration one), a styled
header, frozen panes, a filter, column widths, and conditional fills (Requirements and criteria
not met in red, Recommendations and open items in amber). Findings carry ``owner`` and
``partner_response`` columns for the partner to fill in.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
from openpyxl import Workbook
from openpyxl.formatting.rule import FormulaRule
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter

from ctpat_audit.core.xlsx import first_sheet, save, set_cell, title_row, write_table

__all__ = ["AMBER", "RED", "SHEETS", "write_report_xlsx"]

SHEETS = ("Summary", "Findings", "Checklist", "Exams")
RED = PatternFill("solid", fgColor="F8D7DA", bgColor="F8D7DA")
AMBER = PatternFill("solid", fgColor="FFF3CD", bgColor="FFF3CD")
_DEMO = "DEMONSTRATION catalogue: not CBP's official criteria; not an official determination"


def _title(ws: Any, ctx: Any, text: str) -> int:
    """Title row(s); returns the row where the table starts."""
    p = ctx.partner
    title_row(ws, f"{text}: {p.legal_name} ({p.account_id}), session {ctx.session['session_id']}")
    if ctx.demonstration:
        c = set_cell(ws, 2, 1, _DEMO)
        c.font = Font(bold=True, color="9C0006")
        return 4
    return 3


def _fill_rule(ws: Any, frame: pd.DataFrame, start: int, column: str, value: str,
               fill: PatternFill) -> None:
    if column not in frame.columns or frame.empty:
        return
    col = get_column_letter(list(frame.columns).index(column) + 1)
    rhs = value if value in ("TRUE", "FALSE") else f'"{value}"'
    last = get_column_letter(len(frame.columns))
    first_row, last_row = start + 1, start + len(frame)
    ws.conditional_formatting.add(f"A{first_row}:{last}{last_row}", FormulaRule(
        formula=[f'${col}{first_row}={rhs}'], fill=fill, stopIfTrue=True))


def _summary(wb: Workbook, ctx: Any) -> None:
    ws = first_sheet(wb)
    ws.title = "Summary"
    row = _title(ws, ctx, "CTPAT report")
    p, s, f = ctx.partner, ctx.session, ctx.findings
    c = f.counts()
    facts: list[tuple[str, Any]] = [
        ("Partner", p.legal_name), ("Account", p.account_id), ("Status", p.status),
        ("Entity types", ", ".join(p.entity_types)), ("Session", s["session_id"]),
        ("Kind", s["kind"]), ("Mode", s["mode"]), ("Specialist / opened by", s["opened_by"]),
        ("Submitted at", s.get("submitted_at") or ""), ("Report date", ctx.as_of),
        ("Overall outcome", f.outcome.label), *[("Reason", r) for r in f.outcome.reasons],
        ("Requirements", c["requirements"]), ("Recommendations", c["recommendations"]),
        ("Best Practices", c["best_practices"]),
        ("Due date of Requirements", f.report_date + pd.Timedelta(days=f.due_days).to_pytimedelta()
         if c["requirements"] else ""),
    ]
    if ctx.metrics is not None and ctx.metrics.shipments:
        facts.append(("Exam rate (12 months)", round(ctx.metrics.exam_rate, 4)))
    facts += list((ctx.provenance or {}).items())
    for i, (k, v) in enumerate(facts, start=row):
        set_cell(ws, i, 1, k).font = Font(bold=True)
        set_cell(ws, i, 2, v).alignment = Alignment(wrap_text=True, vertical="top")
    ws.column_dimensions["A"].width = 32
    ws.column_dimensions["B"].width = 90
    ws.freeze_panes = ws.cell(row=row, column=1).coordinate


def _sheet(wb: Workbook, ctx: Any, name: str, frame: pd.DataFrame, *,
           widths: dict[str, int] | None = None, wrap: tuple[str, ...] = ()) -> tuple[Any, int]:
    ws = wb.create_sheet(name)
    start = _title(ws, ctx, name)
    write_table(ws, frame, start_row=start, widths=widths, wrap=wrap)
    return ws, start


def write_report_xlsx(ctx: Any, path: str | Path) -> Path:
    """Write the report workbook for ``ctx`` (a ReportContext) to ``path`` (atomic)."""
    wb = Workbook()
    _summary(wb, ctx)
    fnd = ctx.findings.findings.copy()
    ws, start = _sheet(wb, ctx, "Findings", fnd,
                       widths={"requirement": 60, "validator_notes": 45, "owner": 20,
                               "partner_response": 45, "due_date": 12},
                       wrap=("requirement", "validator_notes", "partner_response"))
    _fill_rule(ws, fnd, start, "kind", "Requirement", RED)
    _fill_rule(ws, fnd, start, "kind", "Recommendation", AMBER)

    a = ctx.findings.answers.copy()
    held = ctx.findings.evidence_by_unit()
    a["evidence_sha256"] = [" ; ".join(f"{name} {sha}" for name, sha in held.get((c, fid), []))
                            for c, fid in zip(a["criterion_id"], a["facility_id"])]
    a["requirement"] = [ctx.findings.requirement_text.get(c, "") for c in a["criterion_id"]]
    cols = ["criterion_id", "category", "level", "facility_id", "status", "method", "notes",
            "evidence_requested", "evidence_received", "evidence_sha256", "requirement",
            "answered_by", "answered_at"]
    checklist = a[cols].copy()
    checklist["status"] = checklist["status"].fillna("").astype(str)
    ws, start = _sheet(wb, ctx, "Checklist", checklist,
                       widths={"notes": 45, "requirement": 60, "evidence_sha256": 40},
                       wrap=("notes", "requirement"))
    _fill_rule(ws, checklist, start, "status", "does_not_meet", RED)
    _fill_rule(ws, checklist, start, "status", "", AMBER)

    if ctx.comparison is not None and len(ctx.comparison):
        ex = ctx.comparison.drop(columns=["test"], errors="ignore").copy()
    else:
        ex = pd.DataFrame({"port_code": pd.array([], dtype="str")})
    ws, start = _sheet(wb, ctx, "Exams", ex)
    if "escalate" in ex.columns:
        _fill_rule(ws, ex, start, "escalate", "TRUE", RED)
    if ctx.comparison is not None:
        set_cell(ws, start + len(ex) + 2, 1, ctx.comparison.attrs.get("test", ""))
    return save(wb, path)
