"""The checklist widget: a specialist's (or partner's) criterion-by-criterion view of a session.

Everything a card shows is gathered once by
:func:`~ctpat_audit.ui.checklist_context.build_context` (pure data, re-exported here with the
other names of that module). The widgets hold no rules: every
change goes straight to :class:`~ctpat_audit.sessions.session.Session` (``answer``, ``attach``),
which saves it at once; a refused change (:class:`~ctpat_audit.core.errors.CtpatError`) is shown
in plain words next to the criterion and kept pending until it can be saved. The widget works on
the notebook's :class:`~ctpat_audit.ui.session_page.SessionPage`, shared with the submit
(:mod:`ctpat_audit.ui.submit_panel`), gap (:mod:`ctpat_audit.ui.gap_view`) and sign panels: it
locks when the session is submitted and follows a revision opened on the page.

Only one category's cards exist at a time (paged by category), so a partner with 150+ criteria
renders quickly; :func:`benchmark_checklist` measures it for ``make bench``.
"""
from __future__ import annotations

import asyncio
import atexit
import datetime as dt
import html
import time
import weakref
from collections.abc import Callable
from typing import Any

import ipywidgets as widgets
import pandas as pd
import traitlets
from ipywidgets.widgets.widget_bool import CheckboxStyle
from ipywidgets.widgets.widget_description import DescriptionStyle
from ipywidgets.widgets.widget_string import HTMLStyle, TextStyle

from ctpat_audit.core import vocabulary as v
from ctpat_audit.core.errors import CtpatError, InputError
from ctpat_audit.core.text import html_text
from ctpat_audit.sessions.session import Session
from ctpat_audit.ui.checklist_context import (
    STATUS_LABELS,
    ChecklistContext,
    CriterionInfo,
    build_context,
    open_or_resume,
    plain_value,
    previous_findings,
)
from ctpat_audit.ui.connection import ConnectionGuard, EvidenceButton
from ctpat_audit.ui.session_page import SessionPage, status_text

__all__ = ["CriterionInfo", "ChecklistContext", "build_context", "previous_findings",
           "open_or_resume", "CriterionCard", "ChecklistWidget", "checklist_view",
           "STATUS_LABELS", "METHOD_LABELS", "NOTES_SAVE_DELAY_S", "save_waiting_notes",
           "partner_status_notice"]

METHOD_LABELS = v.OBSERVATION_METHOD_LABELS
STATUS_FILTERS = (("All", "all"), ("Unanswered", "unanswered"),
                  *((label, code) for code, label in STATUS_LABELS.items()))
_NONE = ""  # the "not set" choice of a dropdown (stored as NULL)
_CATEGORY_NAMES = {c.number: c.name for c in v.CATEGORIES}
#: Notes are saved this long after the last keystroke (and at once when another field saves).
NOTES_SAVE_DELAY_S = 0.8


# --- widgets -------------------------------------------------------------------------------

def _css_id(criterion_id: str) -> str:
    return "ctpat-c-" + criterion_id.replace(".", "-")


def _options(labels: dict[str, str]) -> list[tuple[str, str]]:
    return [("(not set)", _NONE), *((label, code) for code, label in labels.items())]


_SHARED_KINDS: dict[str, Callable[[], widgets.Widget]] = {
    "layout": widgets.Layout, "wide": lambda: widgets.Layout(width="95%"),
    "html": HTMLStyle, "description": DescriptionStyle, "text": TextStyle,
    "checkbox": CheckboxStyle, "button": widgets.ButtonStyle}
_SHARED: dict[str, widgets.Widget] = {}


def _shared(kind: str) -> Any:
    """A layout or style model every card's fields share, never changed once made: one per
    kernel instead of one per field, so a page of cards sends the browser half the models."""
    made = _SHARED.get(kind)
    if made is None or made.comm is None:  # not made yet, or closed
        made = _SHARED[kind] = _SHARED_KINDS[kind]()
    return made


class _Debounce:
    """Calls ``action`` once, ``delay`` seconds after the last :meth:`poke`, on the running
    event loop (the kernel's); with no running loop (plain Python) it calls at once. A call
    still waiting when the process exits (the kernel was asked to stop or restart) is made
    then (:func:`save_waiting_notes`)."""

    def __init__(self, action: Callable[[], None], delay: float) -> None:
        self._action, self._delay = action, delay
        self._timer: asyncio.TimerHandle | None = None

    @property
    def waiting(self) -> bool:
        return self._timer is not None

    def poke(self) -> None:
        self.cancel()
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self._action()
            return
        self._timer = loop.call_later(self._delay, self.fire)
        _WAITING.add(self)

    def fire(self) -> None:
        self.cancel()
        self._action()

    def cancel(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        _WAITING.discard(self)


_WAITING: weakref.WeakSet[_Debounce] = weakref.WeakSet()


def save_waiting_notes() -> int:
    """Save now every note still waiting for its delay; how many were saved. Registered to
    run when the kernel's process exits, so a restart or shutdown loses no note that reached
    the kernel (a note that cannot be saved then is kept as it was: nothing can show why)."""
    saved = 0
    for timer in list(_WAITING):
        if timer.waiting:
            try:
                timer.fire()
            except Exception:
                continue
            saved += 1
    return saved


atexit.register(save_waiting_notes)


class CriterionCard(widgets.VBox):
    """One criterion at one facility: its text and the answer fields, saved on every change.

    Notes are sent by the browser as they are typed and saved :data:`NOTES_SAVE_DELAY_S` after
    the last keystroke, or at once with any other field of the card.
    """

    def __init__(self, info: CriterionInfo, session: Session, facility_id: str,
                 answer: dict[str, Any] | None, evidence_names: list[str],
                 on_saved: Callable[[], None] = lambda: None, *,
                 read_only: bool = False) -> None:
        self.info, self.session, self.facility_id, self._on_saved = (info, session,
                                                                     facility_id, on_saved)
        self.pending: dict[str, Any] = {}
        self.notes_timer = _Debounce(self._save_notes, NOTES_SAVE_DELAY_S)
        a = answer or {}
        esc = html_text
        flag = f"<div style='color:#8a4b00'>&#9873; Exam history: {esc(info.flag)}</div>" \
            if info.flag else ""
        self.text = widgets.HTML(
            f"<b>{esc(info.criterion_id)}</b> <span style='border:1px solid #555;padding:0 4px'>"
            f"{esc(info.level)}</span> {esc(info.requirement) or '<i>(no text)</i>'}{flag}"
            f"<div><b>{esc(info.guide_label)}:</b> {esc(info.guide) or '-'}</div>"
            f"<div><b>Security profile</b> {esc(info.response_now) or '(none)'}"
            f"<br><b>Last year</b> {esc(info.response_before) or '(none)'}</div>"
            f"<div><b>Previous validation:</b> {esc(info.previous_finding) or '(none)'}</div>",
            layout=_shared("layout"), style=_shared("html"))
        fixed = {"layout": _shared("layout"), "style": _shared("description")}
        self.status = widgets.Dropdown(options=_options(STATUS_LABELS),
                                       value=a.get("status") or _NONE, description="Status",
                                       **fixed)
        self.method = widgets.Dropdown(options=_options(METHOD_LABELS),
                                       value=a.get("method") or _NONE, description="Method",
                                       **fixed)
        self_assessing = session.kind == "self_assessment"
        self.notes = widgets.Textarea(value=a.get("notes") or "", description="Notes",
                                      continuous_update=True,
                                      placeholder="How your company meets this ..."
                                      if self_assessing else "What you saw ...",
                                      layout=_shared("wide"), style=_shared("text"))
        self.requested = widgets.Text(value=a.get("evidence_requested") or "",
                                      description="Requested", continuous_update=False,
                                      layout=_shared("layout"), style=_shared("text"))
        self.received = widgets.Checkbox(value=bool(a.get("evidence_received")),
                                         description="Evidence received",
                                         layout=_shared("layout"), style=_shared("checkbox"))
        self.upload = EvidenceButton(self.attach_files, count=len(evidence_names))
        self.evidence = widgets.HTML(self._evidence_html(evidence_names),
                                     layout=_shared("layout"), style=_shared("html"))
        self.message = widgets.HTML("", layout=_shared("layout"), style=_shared("html"))
        for w, cls in ((self.status, "ctpat-status"), (self.method, "ctpat-method"),
                       (self.notes, "ctpat-notes"), (self.message, "ctpat-message")):
            w.add_class(cls)
        for w, field in ((self.status, "status"), (self.method, "method"),
                         (self.requested, "evidence_requested"),
                         (self.received, "evidence_received")):
            w.observe(self._saver(field), names="value")
        self.notes.observe(lambda _c: self.notes_timer.poke(), names="value")
        fields = [self.status] if self_assessing else [self.status, self.method]
        row = {"layout": _shared("layout")}
        virtual = [widgets.HBox([self.requested, self.received], **row)] \
            if session.mode == "virtual" else []
        super().__init__([self.text, widgets.HBox(fields, **row), *virtual, self.notes,
                          widgets.HBox([self.upload, self.evidence], **row), self.message],
                         layout=widgets.Layout(border="1px solid #bbb", padding="4px",
                                               margin="4px 0"))
        self.add_class("ctpat-card")
        self.add_class(_css_id(info.criterion_id))
        self.set_read_only(read_only)

    @property
    def inputs(self) -> tuple[widgets.Widget, ...]:
        """The widgets that change the answer."""
        return (self.status, self.method, self.notes, self.requested, self.received,
                self.upload)

    def set_read_only(self, read_only: bool) -> None:
        """Disable (or enable) every input; a read-only card says why."""
        for w in self.inputs:
            w.disabled = read_only
        if read_only:
            self.message.value = (f"<span class='ctpat-locked' style='color:#555'>"
                                  f"{html.escape(status_text(self.session.status))}</span>")
        elif "ctpat-locked" in self.message.value:
            self.message.value = ""

    @staticmethod
    def _evidence_html(names: list[str]) -> str:
        """The names of the evidence files stored for this criterion (the button counts
        them)."""
        return ("<span class='ctpat-evidence'>"
                + (", ".join(html.escape(n) for n in names) if names else
                   "<i style='color:#666'>no evidence files yet</i>") + "</span>")

    def _saver(self, field: str) -> Callable[[dict[str, Any]], None]:
        def save(change: dict[str, Any]) -> None:
            value = change["new"]
            self.save({field: (None if value == _NONE and field in ("status", "method")
                               else value)})
        return save

    def _save_notes(self) -> None:
        self.save({"notes": self.notes.value})

    def flush(self) -> None:
        """Save notes still waiting for their delay (before the card goes away)."""
        if self.notes_timer.waiting:
            self.notes_timer.cancel()
            self._save_notes()

    def save(self, changes: dict[str, Any]) -> bool:
        """Save these changes, notes still waiting for their delay and any changes still
        pending from a refused attempt; True when saved."""
        if self.notes_timer.waiting:
            self.notes_timer.cancel()
            changes = {"notes": self.notes.value, **changes}
        attempt = {**self.pending, **changes}
        try:
            self.session.answer(self.info.criterion_id, facility_id=self.facility_id, **attempt)
        except CtpatError as exc:
            self.pending = attempt
            self.message.value = ("<div style='color:#b00020'><b>Not saved:</b> "
                                  f"{html.escape(str(exc))}</div>")
            return False
        self.pending = {}
        self.message.value = "<span style='color:#2e7d32'>Saved</span>"
        self._on_saved()
        return True

    def attach_files(self, files: list[tuple[str, bytes]]) -> None:
        """Store the files picked with the evidence button ((name, content) pairs); the
        button's count and the names follow what is stored, a refused file says why."""
        if not files:
            return
        names, errors = [], []
        for name, content in files:
            try:
                row = self.session.attach(self.info.criterion_id, name, content,
                                          facility_id=self.facility_id)
                names.append(row["name"])
            except CtpatError as exc:
                errors.append(html.escape(str(exc)))
        stored = self.session.evidence()
        mine = stored[(stored["criterion_id"] == self.info.criterion_id)
                      & (stored["facility_id"] == self.facility_id)]["name"].tolist()
        self.evidence.value = self._evidence_html(mine)
        self.upload.count = len(mine)
        self.message.value = ("<div style='color:#b00020'><b>Not attached:</b> "
                              + "<br>".join(errors) + "</div>") if errors else \
            f"<span style='color:#2e7d32'>Attached {html.escape(', '.join(names))}</span>"


class ChecklistWidget(widgets.VBox):
    """Progress header, filters, one category page of :class:`CriterionCard` and a next button.

    It works on a :class:`~ctpat_audit.ui.session_page.SessionPage` (a Session given is wrapped
    in one): its header and cards follow the page's session (an opened revision replaces it),
    every input is disabled while the session is not open, and the header is redrawn after
    every save.
    """

    category = traitlets.Int(0)  # the page shown
    facility_id = traitlets.Unicode("")
    focus = traitlets.Unicode("")  # criterion the next button went to

    def __init__(self, session: Session | SessionPage, context: ChecklistContext | None = None,
                 *, as_of: dt.date | None = None) -> None:
        t0 = time.perf_counter()
        self.page = session if isinstance(session, SessionPage) else SessionPage.of(session)
        if self.page.session is None:
            raise InputError("session", None, "a session chosen on the page first "
                             "(checklist_view waits for the choice)")
        self.context = context or build_context(self.page.session, as_of=as_of)
        self.cards: dict[str, CriterionCard] = {}
        self.header = widgets.HTML()
        self.header.add_class("ctpat-header")
        self.notice = self.page.status_notice()
        self.focus_area = widgets.Dropdown(options=["All", *v.FOCUS_AREAS], description="Focus")
        self.status_filter = widgets.Dropdown(options=STATUS_FILTERS, value="all",
                                              description="Status")
        self.flagged_only = widgets.Checkbox(description="Flagged by exam history",
                                             indent=False)
        self.page_choice = widgets.Dropdown(description="Category",
                                            layout=widgets.Layout(width="460px"))
        self.page_choice.add_class("ctpat-page")
        self.next_button = widgets.Button(description="Next unanswered", icon="forward",
                                          layout=widgets.Layout(width="auto"))
        self.next_button.on_click(lambda _b: self.go_next())
        self.facility = widgets.Dropdown(options=[(lbl, f) for f, lbl in
                                                  self.context.facilities.items()],
                                         description="Facility")
        self.body = widgets.VBox()
        controls = [self.focus_area, self.page_choice, self.status_filter, self.flagged_only]
        top = [self.facility] if self.context.facilities else []
        self.guard = ConnectionGuard()  # the "Not connected" banner if the kernel is lost
        sticky = widgets.VBox([self.guard, self.header, self.notice,
                               widgets.HBox(top + [self.next_button])])
        sticky.add_class("ctpat-sticky")
        super().__init__([widgets.HTML(_STICKY_CSS), sticky, widgets.HBox(controls[:2]),
                          widgets.HBox(controls[2:]), self.body])
        self.facility_id = self.facility.value or ""
        self.facility.observe(lambda c: setattr(self, "facility_id", c["new"] or ""), "value")
        for w in (self.focus_area, self.status_filter, self.flagged_only):
            w.observe(lambda _c: self._refresh_pages(), "value")
        self._syncing = False
        self.page_choice.observe(self._on_page_choice, "value")
        self.page.observe(lambda _c: self.refresh_header(), names="saves")
        self.page.observe(self._on_status, names="status")
        self.page.observe(self._on_session, names="session")
        self._refresh_pages(first=True)
        self.refresh_header()
        self.render_seconds = time.perf_counter() - t0

    @property
    def session(self) -> Session:
        """The session shown (the page's; a revision opened on the page replaces it)."""
        assert self.page.session is not None
        return self.page.session

    def _on_status(self, _change: object) -> None:
        for card in self.cards.values():
            card.set_read_only(self.page.read_only)
        self.refresh_header()

    def _on_session(self, _change: object) -> None:
        self.render_page()
        self.refresh_header()

    # pages -----------------------------------------------------------------------------
    def visible(self) -> list[CriterionInfo]:
        """Criteria passing the focus-area, flagged and status filters (flagged first)."""
        area, status, flagged = (self.focus_area.value, self.status_filter.value,
                                 self.flagged_only.value)
        answers = self._answers()
        out = []
        for info in self.context.criteria:
            got = answers.get(info.criterion_id, {}).get("status")
            if ((area == "All" or info.focus_area == area) and (not flagged or info.flag)
                    and (status == "all" or (status == "unanswered" and not got)
                         or got == status)):
                out.append(info)
        return out

    @staticmethod
    def _by_page(infos: list[CriterionInfo]) -> list[CriterionInfo]:
        """Criteria in the order on screen: page by page (the most pressing category first,
        as the Category list shows them), each page in its own order."""
        cats = list(dict.fromkeys(i.category for i in infos))
        return [i for c in cats for i in infos if i.category == c]

    def screen_order(self) -> list[CriterionInfo]:
        """The criteria passing the filters, in the order the pages show them."""
        return self._by_page(self.visible())

    def _answers(self) -> dict[str, dict[str, Any]]:
        frame = self.session.answers()
        frame = frame[frame["facility_id"] == self.facility_id]
        return {r["criterion_id"]: {k: plain_value(r[k]) for k in r.index}
                for _, r in frame.iterrows()}

    def _refresh_pages(self, first: bool = False) -> None:
        cats = list(dict.fromkeys(i.category for i in self.visible()))  # most pressing first
        flagged = set(self.context.flagged_categories)
        options = [(f"{'* ' if c in flagged else ''}{c}. {_CATEGORY_NAMES.get(c, '')}", c)
                   for c in cats]
        keep = self.category if self.category in cats else None
        if first and cats:
            keep = cats[0]
        self._syncing = True
        try:
            self.page_choice.options = options
            self.page_choice.value = keep if keep is not None else (
                options[0][1] if options else None)
        finally:
            self._syncing = False
        if self.category == (self.page_choice.value or 0):
            self.render_page()
        else:
            self.category = self.page_choice.value or 0

    def _on_page_choice(self, change: dict[str, Any]) -> None:
        if not self._syncing:
            self.category = change["new"] or 0

    @traitlets.observe("category", "facility_id")
    def _on_page(self, _change: dict[str, Any]) -> None:
        if self.page_choice.value != self.category and self.category in {
                value for _label, value in self.page_choice.options}:
            self._syncing = True
            try:
                self.page_choice.value = self.category
            finally:
                self._syncing = False
        self.render_page()

    def render_page(self) -> None:
        """Build the cards of the current category (the only cards that exist)."""
        for card in self.cards.values():
            card.flush()
        answers = self._answers()
        ev = self.session.evidence()
        ev = ev[ev["facility_id"] == self.facility_id]
        names = ev.groupby("criterion_id")["name"].apply(list).to_dict() if len(ev) else {}
        self.cards = {i.criterion_id: CriterionCard(i, self.session, self.facility_id,
                                                    answers.get(i.criterion_id),
                                                    names.get(i.criterion_id, []),
                                                    self.page.saved,
                                                    read_only=self.page.read_only)
                      for i in self.visible() if i.category == self.category}
        for cid, card in self.cards.items():
            card.layout.border = "2px solid #e07b00" if cid == self.focus else "1px solid #bbb"
        self.body.children = tuple(self.cards.values()) or (
            widgets.HTML("<i>No criteria match these filters.</i>"),)

    def go_next(self) -> str | None:
        """Show the next criterion with no answer (at the selected facility) in the order on
        screen: after the one shown last, among those the filters show, else among all (the
        filters then cleared); its id, or None when every criterion has an answer."""
        for card in self.cards.values():
            card.flush()
        answers = self._answers()
        todo = [i for i in self.screen_order()
                if not (answers.get(i.criterion_id) or {}).get("status")]
        cleared = not todo
        everything = self._by_page(list(self.context.criteria))
        if cleared:
            todo = [i for i in everything
                    if not (answers.get(i.criterion_id) or {}).get("status")]
        if not todo:
            self.header.value += "<div><b>Every criterion has an answer.</b></div>"
            return None
        position = {i.criterion_id: n for n, i in enumerate(everything)}
        here = position.get(self.focus, -1)
        info = next((i for i in todo if position[i.criterion_id] > here), todo[0])
        if cleared:
            with self.hold_trait_notifications():
                self.focus_area.value, self.flagged_only.value = "All", False
                self.status_filter.value = "all"
        self.focus = info.criterion_id
        if self.category == info.category:
            self.render_page()
        else:
            self.category = info.category
        return info.criterion_id

    def refresh_header(self) -> None:
        """Redraw the header: partner, session, who you are, status and progress."""
        p = self.session.progress()
        c, esc = self.context, html_text
        demo = (f"<div style='background:#fff3cd;padding:2px'><b>{esc(c.catalogue_label)}</b>"
                "</div>") if c.is_demonstration else f"<div>{esc(c.catalogue_label)}</div>"
        must = ", ".join(p.must_not_met) or "none"
        mode = v.MODE_LABELS.get(self.session.mode, self.session.mode)
        pct = round(100 * p.answered / p.applicable) if p.applicable else 100
        status = self.page.status
        colour = "#2e7d32" if status == "open" else "#8a4b00"
        chips = "".join(
            f"<span class='ctpat-cat' style='border:1px solid #ccc;padding:0 4px;margin:1px;"
            f"display:inline-block'>{int(r.category)}. {esc(_CATEGORY_NAMES.get(int(r.category), ''))}"
            f" <b>{int(r.answered)}/{int(r.applicable)}</b>"
            + (f" <span style='color:#b00020'>Must not met {int(r.must_not_met)}</span>"
               if r.must_not_met else "") + "</span>"
            for r in _rows(p.by_category))
        notice = partner_status_notice(self.session.account_id, c.partner_status)
        self.header.value = (
            f"{notice}{demo}<h3>{esc(c.legal_name)} ({esc(self.session.account_id)})</h3>"
            f"<div>Session {esc(self.session.id)} - {esc(mode)} - you are "
            f"<b class='ctpat-actor'>{esc(self.page.actor)}</b> - status "
            f"<b class='ctpat-status-text' style='color:{colour}'>{esc(status_text(status))}</b>"
            "</div>"
            f"<div style='background:#e0e0e0;height:10px;width:100%'><div style='background:"
            f"#2e7d32;height:10px;width:{pct}%'></div></div>"
            f"<div class='ctpat-progress'><b>Progress:</b> {p.answered}/{p.applicable} "
            f"answered. <b>Must criteria not met so far:</b> {esc(must)}</div>"
            f"<div style='font-size:90%'>{chips}</div>")


# The header sticks to the top of the notebook's (or Voila page's) scrolling area; the boxes
# around it must not clip it (widget boxes and output areas scroll or hide their overflow).
_STICKY_CSS = ("<style>.ctpat-sticky{position:sticky;top:0;z-index:10;"
               "background:var(--jp-layout-color0,#fff);border-bottom:1px solid #ccc}"
               ".jp-OutputArea:has(.ctpat-sticky),.jp-OutputArea-child:has(.ctpat-sticky),"
               ".jp-OutputArea-output:has(.ctpat-sticky),.widget-box:has(.ctpat-sticky)"
               "{overflow:visible !important}</style>")


def partner_status_notice(account_id: str, status: str) -> str:
    """A red banner (HTML) when the partner is suspended or removed from the program, for the
    top of a page; "" otherwise."""
    if status not in ("suspended", "removed"):
        return ""
    return ("<div class='ctpat-partner-status' style='background:#fde2e2;border:2px solid "
            f"#b00020;padding:6px'><b>Partner {html.escape(account_id)} is "
            f"{html.escape(status)}</b> in the CTPAT program: check with your supervisor "
            "before validating or relying on its self-assessment.</div>")


def checklist_view(page: SessionPage, *, as_of: dt.date | None = None) -> widgets.VBox:
    """The page's checklist; while the page waits for a choice about the partner's latest
    session, a line saying so, replaced by the checklist once the choice is made."""
    box = widgets.VBox()

    def show(_change: object = None) -> None:
        if page.session is None:
            box.children = (widgets.HTML("<i>Choose above what to do with the latest session; "
                                         "the checklist appears here.</i>"),)
        elif not box.children or not isinstance(box.children[0], ChecklistWidget):
            box.children = (ChecklistWidget(page, as_of=as_of),)

    page.observe(show, names="session")
    show()
    return box


def _rows(frame: pd.DataFrame) -> list[Any]:
    """A frame's rows as named tuples (their fields read as plain values)."""
    return list(frame.itertuples(index=False))
