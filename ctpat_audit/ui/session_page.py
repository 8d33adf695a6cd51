"""The session a notebook page works on, shared by its checklist, submit and sign panels.

A :class:`SessionPage` is made once per notebook from the launch: the workspace, the partner,
the kind of session and the person who launched it (``--user`` or the notebook's
``specialist`` / ``contact`` parameter; on the team server, the signed-in person, whom no
parameter can replace: :func:`ctpat_audit.workspace.people.acting`). Nobody types who they
are afterwards.

It finds the session to work on without creating one silently: an open session of the partner
is resumed; when the partner's latest session is submitted or signed, nothing is created until
the user chooses (``view`` it, open a ``revise``-d copy, or start a ``new`` one) with the
buttons of :meth:`SessionPage.chooser`, or the ``choice`` given as a notebook parameter; a
partner with no session at all gets a new one.

Widgets observe its traits: ``session`` (changes when a choice is made or a revision opened),
``status`` (the session's status code) and ``saves`` (counts saves, so progress views
refresh). Rules stay in :class:`~ctpat_audit.sessions.session.Session`.
"""
from __future__ import annotations

import html
from pathlib import Path
from typing import Any

import ipywidgets as widgets
import traitlets

from ctpat_audit.core import vocabulary as v
from ctpat_audit.core.errors import CtpatError, InputError
from ctpat_audit.sessions.session import (
    Session,
    list_sessions,
    open_session,
    resume_session,
)
from ctpat_audit.ui.connection import ConnectionGuard
from ctpat_audit.workspace import people

__all__ = ["SessionPage", "CHOICES", "status_text"]

#: What to do when the partner's latest session is submitted or signed.
CHOICES = ("view", "revise", "new")
#: What the team server's person needs to work on a page of each kind.
_PERMISSION = {"validation": "validate", "self_assessment": "self_assessment"}


def status_text(status: str) -> str:
    """A session status in the words the page shows ("Submitted, read-only")."""
    return v.SESSION_STATUS_LABELS.get(status, status)


class SessionPage(traitlets.HasTraits):
    """The launched user's session of one partner, as the notebook's widgets share it."""

    session = traitlets.Instance(Session, allow_none=True)
    status = traitlets.Unicode("")  # the session's status code; "" while none is chosen
    saves = traitlets.Int(0)  # bumped after every save

    def __init__(self, workspace: str | Path, account_id: str, kind: str, mode: str | None,
                 actor: str, *, session_id: str | None = None,
                 facilities: list[str] | None = None, choice: str | None = None) -> None:
        super().__init__()
        if choice not in (None, "", *CHOICES):
            raise InputError("notebook parameter after_submit", choice,
                             "None, 'view', 'revise' or 'new'")
        if kind == "validation" and mode not in ("in_person", "virtual"):
            raise InputError("notebook parameter mode", mode, "'in_person' or 'virtual'")
        if kind == "self_assessment" and choice == "revise":
            raise InputError("notebook parameter after_submit", choice,
                             "'view' or 'new': a partner asks CBP to reopen a submitted "
                             "self-assessment")
        self.workspace, self.account_id, self.kind = workspace, account_id, kind
        # on the team server: the signed-in person (anything else is refused)
        self.actor = str(people.acting(workspace, actor, permission=_PERMISSION[kind],
                                       what="the notebook's user"))
        self.mode, self.facilities = mode, facilities
        self.previous: dict[str, Any] | None = None  # latest submitted/signed, while choosing
        self.choice = ""
        if session_id:
            self._set(resume_session(workspace, session_id, actor=actor))
            return
        frame = list_sessions(workspace, account_id=account_id, kind=kind)
        mine = frame[(frame["status"] == "open")
                     & ((frame["mode"] == mode) if kind == "validation" else True)]
        if len(mine):
            self._set(resume_session(workspace, str(mine["session_id"].iloc[0]), actor=actor))
        elif len(frame) and frame["status"].iloc[0] in ("submitted", "signed"):
            latest = frame.iloc[0]
            self.previous = {k: latest[k] if isinstance(latest[k], str) else None
                             for k in frame.columns if k != "facilities"}
            if choice:
                self.choose(choice)
        else:
            self._set(self._open_new())

    @classmethod
    def of(cls, session: Session) -> SessionPage:
        """A page for a session already chosen (its actor is the page's actor)."""
        page = cls.__new__(cls)
        traitlets.HasTraits.__init__(page)
        page.workspace, page.account_id, page.kind = session.root, session.account_id, session.kind
        page.mode, page.actor, page.facilities = session.mode, session.actor, None
        page.previous, page.choice = None, ""
        page._set(session)
        return page

    # --- who and what ---------------------------------------------------------------------
    @property
    def is_partner(self) -> bool:
        """A self-assessment page: the user is a partner's contact, not CBP staff."""
        return self.kind == "self_assessment"

    @property
    def read_only(self) -> bool:
        return self.status != "open"

    @property
    def catalogue_version(self) -> str | None:
        """The criteria catalogue of the session (or of the one to choose about)."""
        if self.session is not None:
            return str(self.session.catalogue_version)
        return self.previous["catalogue_version"] if self.previous else None

    def choices(self) -> list[tuple[str, str]]:
        """(button label, choice) offered while no session is chosen."""
        noun = "self-assessment" if self.is_partner else "validation"
        out = [(f"View the {status_text(self.previous['status'] if self.previous else '')} "
                f"{noun}", "view")]
        if not self.is_partner:
            out.append(("Open a revision of it", "revise"))
        return out + [(f"Start a new {noun}", "new")]

    # --- changes --------------------------------------------------------------------------
    def choose(self, choice: str) -> Session:
        """Act on the choice about the latest submitted or signed session."""
        if self.previous is None or self.session is not None:
            raise InputError("choice", choice, "no choice: the page already has its session")
        if choice not in {c for _l, c in self.choices()}:
            raise InputError("choice", choice, " or ".join(c for _l, c in self.choices()))
        if choice == "new":
            session = self._open_new()
        else:
            session = resume_session(self.workspace, self.previous["session_id"],
                                     actor=self.actor)
            if choice == "revise":
                session = session.new_revision()
        self.choice = choice
        self._set(session)
        return session

    def submit(self, reason: str = "") -> None:
        """Submit the session as the launched user (refusals come from the session)."""
        assert self.session is not None
        try:
            self.session.submit(reason=reason)
        finally:
            self.refresh()

    def open_revision(self) -> Session:
        """Open a revision of the submitted or signed session and work on it from now on."""
        assert self.session is not None
        new = self.session.new_revision()
        self._set(new)
        return new

    def saved(self) -> None:
        """Tell the page's widgets that something was saved."""
        self.saves += 1

    def refresh(self) -> None:
        """Re-read the session's status (another window or process may have changed it)."""
        if self.session is not None:
            self.status = self.session.status

    def _set(self, session: Session) -> None:
        with self.hold_trait_notifications():  # observers see the new session and its status
            self.session = session
            self.status = session.status

    def _open_new(self) -> Session:
        facilities = self.facilities
        if self.kind == "validation" and self.mode == "in_person" and facilities is None:
            from ctpat_audit.workspace.reference import open_workspace

            facilities = open_workspace(self.workspace).partner(self.account_id).facilities[
                "facility_id"].astype(str).tolist()
        return open_session(self.workspace, self.account_id, self.kind, self.mode, self.actor,
                            facilities=facilities)

    # --- widgets ----------------------------------------------------------------------------
    def chooser(self) -> widgets.VBox:
        """What the page works on: the session in one line, or the choice about the latest
        submitted or signed one (nothing is created until a button is clicked)."""
        box = widgets.VBox()
        box.add_class("ctpat-session-chooser")
        guard = ConnectionGuard()  # the "Not connected" banner if the kernel is lost
        message = widgets.HTML()
        buttons = [widgets.Button(description=label, layout=widgets.Layout(width="auto"))
                   for label, _c in self.choices()] if self.session is None else []
        for button, (_l, choice) in zip(buttons, self.choices()):
            button.on_click(lambda _b, c=choice: pick(c))

        def pick(choice: str) -> None:
            try:
                self.choose(choice)
            except CtpatError as exc:
                message.value = (f"<div style='color:#b00020'><b>Not done:</b> "
                                 f"{html.escape(str(exc))}</div>")

        def show(_change: object = None) -> None:
            esc = html.escape
            who = f"You are <b>{esc(self.actor)}</b>"
            if self.session is not None:
                s = self.session
                done = {"view": "You are viewing it. ", "revise": "You opened a revision. ",
                        "new": "You started a new one. "}.get(self.choice, "")
                message.value = (f"<div class='ctpat-session'>{who}. {done}Session "
                                 f"<b>{esc(s.id)}</b> ({esc(v.MODE_LABELS.get(s.mode, s.mode))})"
                                 f": <b>{esc(status_text(self.status))}</b></div>")
                box.children = (message, guard)
                return
            p = self.previous or {}
            when = (p.get("signed_at") or p.get("submitted_at") or "")[:16].replace("T", " ")
            by = p.get("signed_by") or p.get("submitted_by") or ""
            message.value = (
                f"<div class='ctpat-session'>{who}. The latest session of partner "
                f"{esc(self.account_id)}, <b>{esc(p.get('session_id') or '')}</b>, is "
                f"<b>{esc(status_text(p.get('status') or ''))}</b> ({esc(by)}, {esc(when)} UTC)."
                " Nothing has been created. Choose:</div>")
            box.children = (message, guard, widgets.HBox(buttons))

        self.observe(show, names=["session", "status"])
        show()
        return box

    def status_notice(self) -> widgets.VBox:
        """Empty while the session is open; otherwise "Submitted, read-only" (or signed) in
        plain words, with an "Open revision" button for CBP staff and, for a partner, whom
        to ask."""
        box = widgets.VBox()
        box.add_class("ctpat-status-notice")
        text = widgets.HTML()
        button = widgets.Button(description="Open revision", icon="edit",
                                button_style="info", layout=widgets.Layout(width="auto"))
        button.add_class("ctpat-open-revision")
        message = widgets.HTML()

        def revise(_b: object) -> None:
            try:
                self.open_revision()
                message.value = ""
            except CtpatError as exc:
                message.value = (f"<div style='color:#b00020'><b>Not opened:</b> "
                                 f"{html.escape(str(exc))}</div>")

        button.on_click(revise)

        def show(_change: object = None) -> None:
            if self.session is None or not self.read_only:
                box.children = (message,) if message.value else ()
                return
            esc, info = html.escape, self.session.info()
            by = info.get("signed_by") or info.get("submitted_by") or ""
            line = (f"<div style='background:#fff3cd;border:1px solid #b8860b;padding:4px'>"
                    f"<b>{esc(status_text(self.status))}</b>: session {esc(self.session.id)}"
                    + (f" ({esc(by)})" if by else "") + ". ")
            if self.is_partner:
                text.value = line + ("To change it, contact your CBP Supply Chain Security "
                                     "Specialist, who can reopen it.</div>")
                box.children = (text, message)
            elif self.status in ("submitted", "signed"):
                text.value = line + ("To change it, open a revision: a new open copy with "
                                     "every answer, file and note.</div>")
                box.children = (text, button, message)
            else:
                text.value = line + "</div>"
                box.children = (text, message)

        self.observe(show, names=["session", "status"])
        show()
        return box
