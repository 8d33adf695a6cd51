"""The submit step: a gate that shows what is left, then a confirmed decision.

:class:`SubmitPanel` shows who submits (the launched user, read-only: nobody types a name),
and per category the criteria still unanswered and the Must criteria answered "Not verified".
A complete session is submitted with *Submit* and then *Confirm submit*; an incomplete one
only after ticking *Submit incomplete* and giving a reason, which the session's audit log
keeps. Afterwards the page is read-only and the panel says so (with "Open revision" for CBP
staff). The panel refreshes after every save on the page. Rules stay in the session: the
panel shows its refusals in plain words.
"""
from __future__ import annotations

import html
from typing import Any

import ipywidgets as widgets

from ctpat_audit.core import vocabulary as v
from ctpat_audit.core.errors import CtpatError
from ctpat_audit.sessions.session import Session
from ctpat_audit.ui.session_page import SessionPage, status_text

__all__ = ["SubmitPanel"]

_CATEGORY_NAMES = {c.number: c.name for c in v.CATEGORIES}
_NOT_VERIFIED = v.ANSWER_STATUS_LABELS["not_verified"]


class SubmitPanel(widgets.VBox):
    """Gate, reason and confirmation for submitting the page's session."""

    def __init__(self, page: SessionPage | Session) -> None:
        self.page = page if isinstance(page, SessionPage) else SessionPage.of(page)
        self.who = widgets.HTML()
        self.who.add_class("ctpat-submitter")
        self.gate = widgets.HTML()
        self.gate.add_class("ctpat-gate")
        self.incomplete = widgets.Checkbox(description="Submit incomplete", indent=False)
        self.reason = widgets.Textarea(placeholder="Why submit before every criterion is "
                                       "answered and verified (kept in the audit log)",
                                       layout=widgets.Layout(width="95%"))
        self.button = widgets.Button(description="Submit...", button_style="warning",
                                     icon="check")
        self.confirm = widgets.Button(description="Confirm submit", button_style="danger")
        self.cancel = widgets.Button(description="Cancel")
        self.confirm_text = widgets.HTML()
        self.confirm_row = widgets.VBox([self.confirm_text,
                                         widgets.HBox([self.confirm, self.cancel])])
        self.message = widgets.HTML()
        for w, cls in ((self.incomplete, "ctpat-incomplete"), (self.reason, "ctpat-reason"),
                       (self.button, "ctpat-submit"), (self.confirm, "ctpat-confirm")):
            w.add_class(cls)
        self.notice = self.page.status_notice()
        self.button.on_click(lambda _b: self.ask())
        self.confirm.on_click(lambda _b: self.submit())
        self.cancel.on_click(lambda _b: self._show_confirm(False))
        self.incomplete.observe(lambda _c: self.refresh(), names="value")
        self.reason.observe(lambda _c: self._enable(), names="value")
        super().__init__()
        self.add_class("ctpat-submit-panel")
        self._confirming = False
        self.page.observe(lambda _c: self.refresh(), names=["saves", "status", "session"])
        self.refresh()

    # --- what is left ---------------------------------------------------------------------
    def left(self) -> tuple[int, int]:
        """(unanswered units, Must units answered "Not verified") of the session now."""
        p = self.page.session.progress() if self.page.session else None
        if p is None:
            return 0, 0
        return (int(p.by_category["unanswered"].sum()),
                int(p.by_category["must_not_verified"].sum()))

    def refresh(self) -> None:
        """Redraw the gate from the session as stored now."""
        esc, s = html.escape, self.page.session
        if s is None:
            self.children = [widgets.HTML("<i>Choose above what to do with the latest "
                                          "session first.</i>")]
            return
        role = "the partner's contact" if self.page.is_partner else "CBP"
        self.who.value = (f"<div>Submitting as <b>{esc(self.page.actor)}</b> ({role}; from "
                          "the launch of this page, not editable). Status: "
                          f"<b>{esc(status_text(self.page.status))}</b></div>")
        if self.page.read_only:
            self.children = [self.who, self.notice, self.message]
            return
        p = s.progress()
        unanswered, unverified = self.left()
        rows: list[Any] = [r for r in p.by_category.itertuples(index=False)
                if r.unanswered or r.must_not_verified]
        table = "".join(
            f"<tr><td>{int(r.category)}. {esc(_CATEGORY_NAMES.get(int(r.category), ''))}</td>"
            f"<td style='text-align:right'>{int(r.unanswered)}</td>"
            f"<td style='text-align:right'>{int(r.must_not_verified)}</td></tr>" for r in rows)
        summary = (f"<b>{p.answered}/{p.applicable} answered.</b> Unanswered: {unanswered}. "
                   f"Must criteria \"{_NOT_VERIFIED}\": {unverified}.")
        self.gate.value = (
            f"<div>{summary}</div>" + (
                "<table class='ctpat-gate-table'><tr><th>Category</th><th>Unanswered</th>"
                f"<th>Must \"{_NOT_VERIFIED}\"</th></tr>{table}</table>" if rows else
                "<div>Every criterion has an answer and no Must criterion is "
                f"\"{_NOT_VERIFIED}\".</div>"))
        refusal = s.submit_refusal()
        if refusal:
            self.message.value = f"<div style='color:#b00020'>{esc(refusal)}</div>"
            self.button.disabled = True
            self.children = [self.who, self.gate, self.message]
            return
        parts: list[widgets.Widget] = [self.who, self.gate]
        if unanswered or unverified:
            parts += [self.incomplete] + ([self.reason] if self.incomplete.value else [])
        parts += [self.button] + ([self.confirm_row] if self._confirming else [])
        self.children = [*parts, self.message]
        self._enable()

    def _enable(self) -> None:
        unanswered, unverified = self.left()
        blocked = bool(unanswered or unverified) and not (
            self.incomplete.value and self.reason.value.strip())
        self.button.disabled = blocked
        self.confirm.disabled = blocked

    # --- the decision -----------------------------------------------------------------------
    def ask(self) -> None:
        """Show the confirmation (what submitting means) when the gate is open."""
        if self.button.disabled:
            return
        unanswered, unverified = self.left()
        kind = "self-assessment" if self.page.is_partner else "validation"
        left = (f" with {unanswered} unanswered and {unverified} Must \"{_NOT_VERIFIED}\""
                if unanswered or unverified else "")
        self.confirm_text.value = (f"<b>Submit this {kind}{left}?</b> After submitting, the "
                                   "page is read-only.")
        self._show_confirm(True)

    def _show_confirm(self, on: bool) -> None:
        self._confirming = on
        self.refresh()

    def submit(self) -> bool:
        """Submit (the Confirm button); True when submitted."""
        unanswered, unverified = self.left()
        incomplete = bool(unanswered or unverified)
        if incomplete and not (self.incomplete.value and self.reason.value.strip()):
            self.message.value = ("<div style='color:#b00020'><b>Not submitted:</b> tick "
                                  "\"Submit incomplete\" and say why, or answer every "
                                  "criterion first.</div>")
            return False
        try:
            self.page.submit(reason=self.reason.value if incomplete else "")
        except CtpatError as exc:
            self.message.value = ("<div style='color:#b00020'><b>Not submitted:</b> "
                                  f"{html.escape(str(exc))}</div>")
            return False
        self._confirming = False
        self.message.value = ""  # the status notice says it
        self.refresh()
        return True
