"""The gaps left in a session, as a readable table that follows every save on the page.

A gap is a criterion (at a facility) not answered "Meets" or "Not applicable". Must
criteria come first; statuses read as the dropdowns label them ("Not answered" when blank).
"""
from __future__ import annotations

import html
from typing import Any

import ipywidgets as widgets

from ctpat_audit.core import vocabulary as v
from ctpat_audit.sessions.session import Session
from ctpat_audit.ui.session_page import SessionPage

__all__ = ["GapView", "gap_rows"]

_CATEGORY_NAMES = {c.number: c.name for c in v.CATEGORIES}


def gap_rows(session: Session) -> list[dict[str, str]]:
    """One row per gap, Must first then by category: criterion, facility, category (name),
    level, status (label) and notes, all plain text."""
    rows = []
    r: Any
    for r in session.answers(include_unanswered=True).itertuples(index=False):
        status = r.status if isinstance(r.status, str) else ""
        if status in ("meets", "not_applicable"):
            continue
        rows.append({"criterion_id": r.criterion_id,
                     "facility_id": r.facility_id if isinstance(r.facility_id, str) else "",
                     "category": f"{int(r.category)}. {_CATEGORY_NAMES.get(int(r.category), '')}",
                     "level": str(r.level),
                     "status": v.ANSWER_STATUS_LABELS.get(status, v.NOT_ANSWERED),
                     "notes": r.notes if isinstance(r.notes, str) else ""})
    rows.sort(key=lambda g: (g["level"] != "Must", int(g["category"].split(".")[0])))
    return rows


class GapView(widgets.VBox):
    """The gap table of the page's session, redrawn after every save."""

    def __init__(self, page: SessionPage | Session) -> None:
        self.page = page if isinstance(page, SessionPage) else SessionPage.of(page)
        self.table = widgets.HTML()
        self.table.add_class("ctpat-gaps")
        super().__init__([self.table])
        self.page.observe(lambda _c: self.refresh(), names=["saves", "session", "status"])
        self.refresh()

    def refresh(self) -> None:
        s, esc = self.page.session, html.escape
        if s is None:
            self.table.value = "<i>Choose above what to do with the latest session first.</i>"
            return
        rows = gap_rows(s)
        p = s.progress()
        head = f"<div><b>{p.answered}/{p.applicable} answered; {len(rows)} gaps left.</b></div>"
        if not rows:
            self.table.value = head + "<div>No gaps: every criterion meets or does not apply.</div>"
            return
        cols = [("criterion_id", "Criterion"), ("facility_id", "Facility"),
                ("category", "Category"), ("level", "Level"), ("status", "Status"),
                ("notes", "Notes")]
        if not s.facilities:
            cols = [c for c in cols if c[0] != "facility_id"]
        body = "".join("<tr>" + "".join(f"<td>{esc(r[k])}</td>" for k, _l in cols) + "</tr>"
                       for r in rows)
        self.table.value = (head + "<div style='max-height:360px;overflow:auto'>"
                            "<table style='border-collapse:collapse'><tr>"
                            + "".join(f"<th style='text-align:left'>{esc(lbl)}</th>"
                                      for _k, lbl in cols) + f"</tr>{body}</table></div>")
