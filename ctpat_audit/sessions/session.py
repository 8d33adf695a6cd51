"""A validation or self-assessment session: answers saved the moment they are given.

A :class:`Session` works on the criteria pinned when it was opened (id, category, Must/Should
for this partner), so a session is reproducible whatever catalogue is current later. Each
method that changes something runs ONE short ``BEGIN IMMEDIATE`` transaction which re-reads
the session's status, applies the rules, writes the row and appends the audit entry; a kernel
that dies loses nothing that a method returned from, and two processes can answer at once.

Rules (:class:`SessionRuleError`, with a stable ``rule`` code):

* only an ``open`` session takes answers, evidence or best practices (``session_not_open``);
  a submitted or signed session is changed by :meth:`Session.new_revision`, which copies it
  (answers, evidence and best practices) into a new open session that supersedes it;
* a session is submitted by its actor, the person who launched it (``actor_mismatch``), and
  the audit entry of a submission records what was still unanswered and the reason given;
* in-person: answers are per facility in scope; with several facilities ``facility_id`` is
  required (``facility_required``) and must be in scope (``facility_not_in_scope``);
* virtual: a Must criterion cannot be ``meets`` without an observation method
  (``must_needs_method``);
* self-assessment: answers come from a contact of the partner (``not_a_contact``) and only
  a Company Officer of that partner may submit (``not_company_officer``), checked in the
  workspace's contacts table at the moment of submission.

On the team server (``ctpat-audit hub``) the actor is the signed-in person, whatever is
passed as ``actor`` or ``opened_by`` (another name is refused: ``identity_mismatch``), and
every change checks their role at that moment (:mod:`ctpat_audit.workspace.people`): a
validation needs a specialist or a supervisor, a self-assessment is not done there at all
(partners have no accounts on the team server). :class:`~ctpat_audit.core.errors.AccessError`
says why.
"""
from __future__ import annotations

import base64
import re
import sqlite3
import unicodedata
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeAlias

from ctpat_audit.core import vocabulary as v
from ctpat_audit.core.clock import Clock, timestamp, utc_now
from ctpat_audit.core.errors import InputError, NotFoundError, RecordError, SessionRuleError
from ctpat_audit.core.vocabulary import ANSWER_STATUSES, COMPANY_OFFICER, OBSERVATION_METHODS, SESSION_KINDS
from ctpat_audit.workspace import audit, db, evidence, people, replay, store
from ctpat_audit.workspace import best_practices as practices
from ctpat_audit.workspace.reference import Workspace, as_workspace
from ctpat_audit.workspace.store import ANSWER_FIELDS, SESSION_ID_PATTERN, PinnedCriterion

if TYPE_CHECKING:  # pandas is imported only where frames are built, so writers start fast
    import pandas as pd

__all__ = ["Session", "SessionRuleError", "Progress", "open_session", "resume_session",
           "list_sessions", "find_open_session", "validate_session_id", "utc_now",
           "connect_store", "compute_progress", "next_unanswered"]

_KEEP: Any = object()  # "leave this field as it is" in Session.answer
#: A criterion to pin: as pinned, or (id, level) or (id, level, category), e.g. ("6.1", "Must")
CriterionSpec: TypeAlias = PinnedCriterion | tuple[str, str] | tuple[str, str, int]
_ID_RE = re.compile(SESSION_ID_PATTERN)
_CRITERION_RE = re.compile(r"^(?:[1-9]|1[0-2])\.[1-9][0-9]{0,2}$")
MAX_TEXT = 20_000
MAX_PRACTICE = 5_000


def validate_session_id(session_id: object) -> str:
    """The id if it is well formed ("V-"/"S-" + 10 base32 characters), else InputError."""
    if not isinstance(session_id, str) or not _ID_RE.fullmatch(session_id):
        raise InputError("session id", session_id,
                         "'V-' (validation) or 'S-' (self-assessment) and 10 characters A-Z, 2-7")
    return session_id


def new_session_id(kind: str) -> str:
    """A short, URL- and file-safe id: kind prefix + 10 base32 characters of a uuid4."""
    return f"{SESSION_KINDS[kind]}-" + base64.b32encode(uuid.uuid4().bytes).decode()[:10]


def _clean_text(what: str, value: object, *, required: bool, limit: int = 200) -> str:
    if not isinstance(value, str):
        raise InputError(what, value, "text")
    text = value.strip() if required else value
    if (required and not text) or len(text) > limit or any(
            unicodedata.category(ch) == "Cc" and ch not in "\n\t\r" for ch in text):
        raise InputError(what, value, f"{'non-empty ' if required else ''}text of at most "
                         f"{limit} characters without control characters")
    return text


def _stamp(clock: Clock) -> str:
    return timestamp(clock())


def connect_store(ws: object) -> tuple[Path, sqlite3.Connection]:
    """(workspace folder, connection) of a Workspace or a workspace path, the schema checked
    (see :meth:`~ctpat_audit.workspace.reference.Workspace.connect`); the caller closes it."""
    workspace = as_workspace(ws)
    return workspace.path, workspace.connect()


class Session:
    """One session, bound to an open connection. Use :func:`open_session` / :func:`resume_session`.

    ``actor`` is who acts when a method is called without ``actor=`` (the widget sets it once);
    it defaults to who opened the session.
    """

    def __init__(self, conn: sqlite3.Connection, root: Path, session_id: str, *,
                 actor: str | None = None, clock: Clock = utc_now) -> None:
        row = store.get_session(conn, validate_session_id(session_id))
        if row is None:
            raise NotFoundError("session", session_id, "the id of a session of this workspace "
                                "(`ctpat-audit sessions` lists them)")
        self._conn, self.root, self._clock, self._row = conn, root, clock, row
        self.criteria: tuple[PinnedCriterion, ...] = tuple(store.pinned_criteria(conn,
                                                                                session_id))
        self._by_id = {c.criterion_id: c for c in self.criteria}
        self.actor = people.acting(conn, actor, default=row["opened_by"], what="the actor")

    # --- what the session is ----------------------------------------------------------------
    id = property(lambda self: self._row["session_id"])
    account_id = property(lambda self: self._row["account_id"])
    kind = property(lambda self: self._row["kind"])
    mode = property(lambda self: self._row["mode"])
    catalogue_version = property(lambda self: self._row["catalogue_version"])
    opened_by = property(lambda self: self._row["opened_by"])
    opened_at = property(lambda self: self._row["opened_at"])
    supersedes = property(lambda self: self._row["supersedes"])
    facilities = property(lambda self: tuple(self._row["facilities"]))

    @property
    def status(self) -> str:
        """Current status, re-read from the database (another process may have changed it)."""
        return self.info()["status"]

    def info(self) -> dict[str, Any]:
        """The session row as stored now (status, submitted_by/at, signed_by/at ...)."""
        row = store.get_session(self._conn, self.id)
        assert row is not None
        self._row = row
        return dict(row)

    def __repr__(self) -> str:
        return (f"Session({self.id}, {self.kind}, {self.mode}, partner {self.account_id}, "
                f"{len(self.criteria)} criteria)")

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> Session:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- answering ---------------------------------------------------------------------------
    def answer(self, criterion_id: str, *, status: str | None = _KEEP, method: str | None = _KEEP,
               notes: str = _KEEP, facility_id: str = "", evidence_requested: str = _KEEP,
               evidence_received: bool | None = _KEEP, actor: str | None = None
               ) -> dict[str, Any]:
        """Save (part of) the answer to one criterion at one facility; returns the saved row.

        Fields not passed keep their stored value, so a widget can save each field as it
        changes. ``status=None`` / ``method=None`` clear them. Saving identical values writes
        nothing (and adds no audit entry).
        """
        crit = self._criterion(criterion_id)
        fid = self._facility(facility_id, crit.criterion_id)
        changes = self._checked_changes(status, method, notes, evidence_requested,
                                        evidence_received)
        if not changes:
            raise InputError("answer", criterion_id, "at least one of status, method, notes, "
                             "evidence_requested, evidence_received")
        who, at = self._actor(actor), _stamp(self._clock)
        with db.write(self._conn) as conn:
            self._require_open(conn)
            self._require_contact(conn, who)
            old = store.get_answer(conn, self.id, crit.criterion_id, fid)
            self._require_logged(conn, crit.criterion_id, fid, old)
            base = {f: (old[f] if old else _EMPTY[f]) for f in ANSWER_FIELDS}
            new = {**base, **changes}
            if old is not None and new == base:
                return old
            self._check_answer_rules(crit, fid, new)
            row = {"session_id": self.id, "criterion_id": crit.criterion_id,
                   "facility_id": fid, **new, "answered_by": who, "answered_at": at}
            store.put_answer(conn, row)
            audit.append(conn, at=at, actor=who, action="answer", session_id=self.id,
                         target={"criterion_id": crit.criterion_id, "facility_id": fid},
                         old=base if old else None, new=new)
        return row

    def attach(self, criterion_id: str, filename: str, data: bytes, *, facility_id: str = "",
               actor: str | None = None) -> dict[str, Any]:
        """Store an evidence file (by SHA-256) and index it under a criterion; returns the row.

        ``filename`` is only a display name (never a path on disk). The same bytes attached
        again to the same criterion and facility return the existing row.
        """
        crit = self._criterion(criterion_id)
        fid = self._facility(facility_id, crit.criterion_id)
        name = evidence.clean_display_name(filename)
        who = self._actor(actor)
        self._require_open(self._conn)  # before writing a file; re-checked in the transaction
        stored = evidence.store_bytes(self.root, data)
        at = _stamp(self._clock)
        with db.write(self._conn) as conn:
            self._require_open(conn)
            self._require_contact(conn, who)
            found = store.find_evidence(conn, self.id, crit.criterion_id, fid, stored.sha256)
            if found is not None:
                return found
            row = {"session_id": self.id, "criterion_id": crit.criterion_id, "facility_id": fid,
                   "sha256": stored.sha256, "name": name, "size": stored.size,
                   "media_type": evidence.media_type(name), "added_by": who, "added_at": at}
            row["evidence_id"] = store.insert_evidence(conn, row)
            audit.append(conn, at=at, actor=who, action="attach", session_id=self.id,
                         target={"criterion_id": crit.criterion_id, "facility_id": fid},
                         old=None, new={k: row[k] for k in ("sha256", "name", "size",
                                                            "media_type")})
        return row

    def record_best_practice(self, text: str, *, criterion_id: str = "",
                             actor: str | None = None) -> dict[str, Any]:
        """Record a Best Practice (a practice beyond the criteria) seen in this session;
        returns the stored row. ``criterion_id``: the criterion it goes beyond ("" for none).
        """
        text = _clean_text("best practice", text, required=True, limit=MAX_PRACTICE).strip()
        cid = self._criterion(criterion_id).criterion_id if criterion_id else ""
        who, at = self._actor(actor), _stamp(self._clock)
        with db.write(self._conn) as conn:
            self._require_open(conn)
            self._require_contact(conn, who)
            row = {"session_id": self.id, "criterion_id": cid, "text": text,
                   "recorded_by": who, "recorded_at": at}
            row["practice_id"] = practices.insert_best_practice(conn, row)
            audit.append(conn, at=at, actor=who, action="best_practice", session_id=self.id,
                         target={"criterion_id": cid}, old=None, new={"text": text})
        return row

    def read_evidence(self, sha256: str) -> bytes:
        """The bytes of an evidence file of this workspace, checked against their hash."""
        return evidence.read_bytes(self.root, sha256)

    # --- reading -----------------------------------------------------------------------------
    def units(self) -> list[tuple[str, str]]:
        """Every (criterion_id, facility_id) that needs an answer, in catalogue order."""
        fids = list(self.facilities) if self.facilities else [""]
        return [(c.criterion_id, f) for c in self.criteria for f in fids]

    def answers(self, include_unanswered: bool = False) -> pd.DataFrame:
        """Saved answers with each criterion's category and level; optionally one row per unit."""
        import pandas as pd

        rows = store.answer_rows(self._conn, self.id)
        if include_unanswered:
            have = {(r["criterion_id"], r["facility_id"]): r for r in rows}
            rows = [have.get(u) or {"session_id": self.id, "criterion_id": u[0],
                                    "facility_id": u[1]} for u in self.units()]
        frame = pd.DataFrame(rows, columns=list(store.ANSWER_COLUMNS))
        ids = frame["criterion_id"]
        frame.insert(3, "category", pd.Series([self._by_id[c].category for c in ids],
                                              index=frame.index, dtype="Int64"))
        frame.insert(4, "level", pd.Series([self._by_id[c].level for c in ids],
                                           index=frame.index, dtype="str"))
        for col in frame.columns:
            if col == "evidence_received":
                frame[col] = pd.array(frame[col].tolist(), dtype="boolean")
            elif col != "category":
                frame[col] = pd.array(frame[col].tolist(), dtype="str")
        return frame

    def evidence(self) -> pd.DataFrame:
        """The evidence index of this session (name, size, media type, sha256, who, when)."""
        import pandas as pd

        frame = pd.DataFrame(store.evidence_rows(self._conn, self.id),
                             columns=list(store.EVIDENCE_COLUMNS))
        for col in frame.columns:
            frame[col] = (frame[col].astype("int64") if col in ("evidence_id", "size")
                          else pd.array(frame[col].tolist(), dtype="str"))
        return frame

    def best_practices(self) -> pd.DataFrame:
        """The Best Practices recorded in this session, oldest first."""
        import pandas as pd

        cols = ["criterion_id", "text", "recorded_by", "recorded_at"]
        rows = practices.best_practice_rows(self._conn, self.id)
        return pd.DataFrame([[r[c] for c in cols] for r in rows], columns=cols).astype(str)

    def history(self) -> pd.DataFrame:
        """This session's audit entries, oldest first."""
        return audit.audit_entries(self._conn, self.id)

    def progress(self) -> Progress:
        """Answered / applicable units, Must criteria not met so far, and per-category counts."""
        return compute_progress(self.criteria, self.facilities,
                                store.answer_rows(self._conn, self.id))

    def next_unanswered(self, after: str | None = None,
                        facility_id: str | None = None) -> str | None:
        """The next criterion (after ``after``, wrapping round) with an unanswered unit."""
        if after is not None:
            self._criterion(after)
        return next_unanswered(self.criteria, self.facilities,
                               store.answer_rows(self._conn, self.id), after, facility_id)

    # --- status changes ----------------------------------------------------------------------
    def submit(self, actor: str | None = None, *, reason: str = "") -> None:
        """Mark the session submitted (no more edits), as the session's actor.

        ``actor``: when given it must be the session's actor (who launched it, compared
        case-insensitively): nobody submits in someone else's name (``actor_mismatch``).
        Self-assessment: a Company Officer of the partner only (:meth:`submit_refusal`).
        ``reason``: why an incomplete session is submitted; the audit entry records it with
        the counts of unanswered units and Must criteria "Not verified" at that moment.
        """
        who, at = self._bound_actor(actor), _stamp(self._clock)
        why = _clean_text("reason", reason, required=False, limit=MAX_PRACTICE).strip()
        with db.write(self._conn) as conn:
            self._require_open(conn)
            refusal = self._submit_refusal(conn, who)
            if refusal:
                raise SessionRuleError(self.id, "not_company_officer", refusal)
            gaps = compute_progress(self.criteria, self.facilities,
                                    store.answer_rows(conn, self.id))
            note: dict[str, object] = {"unanswered": gaps.applicable - gaps.answered,
                    "must_not_verified": len(gaps.must_not_verified)}
            if why:
                note["reason"] = why
            self._set_status(conn, who, at, "submit", "submitted", audit_note=note,
                             submitted_by=who, submitted_at=at)

    def submit_refusal(self, actor: str | None = None) -> str | None:
        """Why ``actor`` (default: the session's actor) may not submit this session, in plain
        words, or None when they may (status aside)."""
        return self._submit_refusal(self._conn, self._actor(actor))

    def _submit_refusal(self, conn: sqlite3.Connection, who: str) -> str | None:
        if self.kind == "self_assessment" and COMPANY_OFFICER not in store.contact_roles(
                conn, self.account_id, who):
            return (f"{who} is not a {COMPANY_OFFICER} of partner {self.account_id}; only a "
                    "contact with that CTPAT Portal role can submit a self-assessment")
        return None

    def lock(self, actor: str) -> None:
        """Mark a submitted session signed (called by signing; a signed session is final)."""
        who, at = self._actor(actor), _stamp(self._clock)
        with db.write(self._conn) as conn:
            self._require_status(conn, ("submitted",), "only a submitted session can be signed")
            self._set_status(conn, who, at, "lock", "signed", signed_by=who, signed_at=at)

    def new_revision(self, actor: str | None = None) -> Session:
        """Copy this submitted or signed session (answers, evidence, best practices) into a
        new open session that supersedes it."""
        who, at = self._actor(actor), _stamp(self._clock)
        new_id = new_session_id(self.kind)
        with db.write(self._conn) as conn:
            self._require_status(conn, ("submitted", "signed"),
                                 "only a submitted or signed session gets a new revision; "
                                 "edit an open session directly")
            self._require_contact(conn, who)
            replay.require_replayed_state(conn, self.id)  # never copy an edit into the log
            _insert_session(conn, new_id, self.account_id, self.kind, self.mode,
                            self.catalogue_version, who, at, list(self.facilities),
                            list(self.criteria), supersedes=self.id)
            for row in store.answer_rows(conn, self.id):
                store.put_answer(conn, {**row, "session_id": new_id})
                audit.append(conn, at=at, actor=who, action="copy_answer", session_id=new_id,
                             target={"criterion_id": row["criterion_id"],
                                     "facility_id": row["facility_id"], "from": self.id},
                             old=None, new={f: row[f] for f in ANSWER_FIELDS})
            for ev in store.evidence_rows(conn, self.id):
                store.insert_evidence(conn, {**ev, "session_id": new_id})
                audit.append(conn, at=at, actor=who, action="copy_evidence", session_id=new_id,
                             target={"criterion_id": ev["criterion_id"],
                                     "facility_id": ev["facility_id"], "from": self.id},
                             old=None, new={"sha256": ev["sha256"], "name": ev["name"]})
            for bp in practices.best_practice_rows(conn, self.id):
                practices.insert_best_practice(conn, {**bp, "session_id": new_id})
                audit.append(conn, at=at, actor=who, action="copy_best_practice",
                             session_id=new_id, target={"criterion_id": bp["criterion_id"],
                                                        "from": self.id},
                             old=None, new={"text": bp["text"]})
            self._set_status(conn, who, at, "supersede", "superseded")
        return Session(self._conn, self.root, new_id, actor=who, clock=self._clock)

    # --- rules -------------------------------------------------------------------------------
    def _criterion(self, criterion_id: object) -> PinnedCriterion:
        crit = self._by_id.get(criterion_id) if isinstance(criterion_id, str) else None
        if crit is None:
            raise SessionRuleError(self.id, "criterion_not_in_session",
                                   f"criterion {criterion_id!r} does not apply in this session "
                                   f"(catalogue {self.catalogue_version}); its criteria are "
                                   "the ones on the checklist")
        return crit

    def _facility(self, facility_id: object, criterion_id: str) -> str:
        if not isinstance(facility_id, str):
            raise InputError("facility_id", facility_id, "text ('' when not per facility)")
        scope = self.facilities
        if not scope:
            if facility_id:
                raise SessionRuleError(self.id, "facility_not_in_scope",
                                       f"this {self.mode} session has no facilities in scope; "
                                       "answer without a facility", criterion_id=criterion_id,
                                       facility_id=facility_id)
            return ""
        if not facility_id:
            if len(scope) == 1:
                return scope[0]
            raise SessionRuleError(self.id, "facility_required",
                                   f"the visit covers {len(scope)} facilities; say which one "
                                   f"(facility_id one of {', '.join(scope)})",
                                   criterion_id=criterion_id)
        if facility_id not in scope:
            raise SessionRuleError(self.id, "facility_not_in_scope",
                                   f"facility is not in this visit's scope ({', '.join(scope)})",
                                   criterion_id=criterion_id, facility_id=facility_id)
        return facility_id

    def _checked_changes(self, status: Any, method: Any, notes: Any, requested: Any,
                         received: Any) -> dict[str, Any]:
        changes: dict[str, Any] = {}
        if status is not _KEEP:
            if status is not None and status not in ANSWER_STATUSES:
                raise InputError("status", status, "one of " + ", ".join(ANSWER_STATUSES))
            changes["status"] = status
        if method is not _KEEP:
            if method is not None and method not in OBSERVATION_METHODS:
                raise InputError("method", method, "one of " + ", ".join(OBSERVATION_METHODS))
            changes["method"] = method
        if notes is not _KEEP:
            changes["notes"] = _clean_text("notes", notes, required=False, limit=MAX_TEXT)
        if requested is not _KEEP:
            changes["evidence_requested"] = _clean_text("evidence_requested", requested,
                                                        required=False, limit=MAX_TEXT)
        if received is not _KEEP:
            if received is not None and not isinstance(received, bool):
                raise InputError("evidence_received", received, "True, False or None")
            changes["evidence_received"] = received
        return changes

    def _check_answer_rules(self, crit: PinnedCriterion, fid: str, new: dict[str, Any]) -> None:
        if (self.mode == "virtual" and crit.level == "Must" and new["status"] == "meets"
                and not new["method"]):
            raise SessionRuleError(
                self.id, "must_needs_method",
                f"a Must criterion can only be marked '{v.ANSWER_STATUS_LABELS['meets']}' in a "
                "virtual validation when the observation method is recorded (Method: one of "
                + ", ".join(v.OBSERVATION_METHOD_LABELS.values()) + ")",
                criterion_id=crit.criterion_id,
                facility_id=fid or None)

    def _actor(self, actor: str | None) -> str:
        """Who makes a change: ``actor`` or the session's; on the team server the signed-in
        person, whose role is checked now (they may have been deactivated meanwhile)."""
        who = _clean_text("actor", actor if actor is not None else self.actor, required=True)
        return people.acting(self._conn, who, permission=_PERMISSION[self.kind],
                             what="the actor")

    def _bound_actor(self, actor: str | None) -> str:
        """The session's actor; an ``actor`` given must be that person (``actor_mismatch``)."""
        bound = self._actor(None)
        if actor is not None and self._actor(actor).strip().lower() != bound.strip().lower():
            raise SessionRuleError(self.id, "actor_mismatch",
                                   f"this session acts for {bound}, who launched it; "
                                   f"{actor} cannot act in their name (sign in as {actor} to "
                                   "act as them)")
        return bound

    def _require_status(self, conn: sqlite3.Connection, allowed: tuple[str, ...],
                        why: str) -> None:
        row = store.get_session(conn, self.id)
        assert row is not None
        self._row = row
        if row["status"] not in allowed:
            label = v.SESSION_STATUS_LABELS.get(row["status"], row["status"])
            raise SessionRuleError(self.id, "session_not_open" if allowed == ("open",)
                                   else "wrong_status", f"the session is {label}: {why}")

    def _require_open(self, conn: sqlite3.Connection) -> None:
        self._require_status(conn, ("open",), "it takes no more changes; a revision of it "
                             "(Open revision) takes them")

    def _require_logged(self, conn: sqlite3.Connection, criterion_id: str, facility_id: str,
                        row: dict[str, Any] | None) -> None:
        """Refuse to change an answer whose row is not what the log last gave it: the change
        would write the edit into the log under this user's name."""
        logged = replay.logged_answer(conn, self.id, criterion_id, facility_id)
        stored = None if row is None else {f: row[f] for f in ANSWER_FIELDS}
        if logged != stored:
            raise RecordError(self.id, f"the answer to criterion {criterion_id}"
                              + (f" at facility {facility_id}" if facility_id else "")
                              + f" was changed outside ctpat-audit (the audit log says "
                              f"{logged}, the table holds {stored}); it is not changed further")

    def _require_contact(self, conn: sqlite3.Connection, who: str) -> None:
        if self.kind == "self_assessment" and not store.contact_roles(conn, self.account_id,
                                                                      who):
            raise SessionRuleError(self.id, "not_a_contact",
                                   f"{who} is not a contact of partner {self.account_id}; a "
                                   "self-assessment is answered by the partner's contacts "
                                   "(by e-mail address)")

    def _set_status(self, conn: sqlite3.Connection, who: str, at: str, action: str,
                    status: str, audit_note: dict[str, Any] | None = None,
                    **extra: Any) -> None:
        """Store the new status (and ``extra`` columns); ``audit_note``: more for the audit
        entry only."""
        old = self._row["status"]
        store.update_session(conn, self.id, status=status, **extra)
        audit.append(conn, at=at, actor=who, action=action, session_id=self.id,
                     target={"session_id": self.id}, old={"status": old},
                     new={"status": status, **extra, **(audit_note or {})})
        self._row = {**self._row, "status": status, **extra}


#: What the team server's person needs to change a session of each kind.
_PERMISSION = {"validation": "validate", "self_assessment": "self_assessment"}

_EMPTY: dict[str, Any] = {"status": None, "method": None, "notes": "", "evidence_requested": "",
                          "evidence_received": None}


def _insert_session(conn: sqlite3.Connection, session_id: str, account_id: str, kind: str,
                    mode: str, catalogue_version: str, opened_by: str, at: str,
                    facilities: list[str], criteria: list[PinnedCriterion],
                    supersedes: str | None = None) -> None:
    row = {"session_id": session_id, "account_id": account_id, "kind": kind, "mode": mode,
           "catalogue_version": catalogue_version, "opened_by": opened_by, "opened_at": at,
           "facilities": facilities, "status": "open", "supersedes": supersedes}
    store.insert_session(conn, row, criteria)
    audit.append(conn, at=at, actor=opened_by, action="open_session", session_id=session_id,
                 target={"session_id": session_id}, old=None,
                 new={k: row[k] for k in ("account_id", "kind", "mode", "catalogue_version",
                                          "facilities", "supersedes")}
                 | {"criteria": len(criteria),
                    "pinned": [[c.criterion_id, c.category, c.level] for c in criteria]})


# --- progress (pure: pinned criteria + answer rows in, numbers out) ---------------------------

@dataclass(frozen=True)
class Progress:
    """How far a session is: units answered (criterion x facility) of those applicable."""

    answered: int
    applicable: int
    must_not_met: list[str]  # Must criteria answered does_not_meet (at any facility)
    by_category: pd.DataFrame = field(repr=False)
    # category, answered, applicable, unanswered, must_not_verified (units), must_not_met
    must_not_verified: list[str] = field(default_factory=list)  # Must answered not_verified

    @property
    def complete(self) -> bool:
        return self.answered >= self.applicable

    def __str__(self) -> str:
        must = ", ".join(self.must_not_met) or "none"
        return f"{self.answered}/{self.applicable} answered; Must criteria not met: {must}"


def compute_progress(criteria: Iterable[PinnedCriterion], facilities: Iterable[str],
                     answers: Iterable[dict[str, Any]]) -> Progress:
    """Progress of a session from its pinned criteria and its answer rows."""
    import pandas as pd

    criteria, fids = list(criteria), list(facilities) or [""]
    answers = list(answers)
    status = {(a["criterion_id"], a["facility_id"]): a.get("status") for a in answers}
    failed = {a["criterion_id"] for a in answers if a.get("status") == "does_not_meet"}
    unverified = {a["criterion_id"] for a in answers if a.get("status") == "not_verified"}
    cats: dict[int, list[int]] = {}
    for c in criteria:
        counts = cats.setdefault(c.category, [0, 0, 0, 0])
        got = [status.get((c.criterion_id, f)) for f in fids]
        counts[0] += sum(bool(g) for g in got)
        counts[1] += len(fids)
        if c.level == "Must":
            counts[2] += sum(g == "not_verified" for g in got)
            counts[3] += sum(g == "does_not_meet" for g in got)
    col = lambda i: pd.array([n[i] for n in cats.values()], dtype="int64")  # noqa: E731
    by_cat = pd.DataFrame({"category": pd.array(list(cats), dtype="int64"),
                           "answered": col(0), "applicable": col(1)})
    by_cat["unanswered"] = by_cat["applicable"] - by_cat["answered"]
    by_cat["must_not_verified"], by_cat["must_not_met"] = col(2), col(3)
    by_cat = by_cat.sort_values("category", ignore_index=True)
    musts = [c.criterion_id for c in criteria if c.level == "Must"]
    return Progress(answered=int(by_cat["answered"].sum()),
                    applicable=int(by_cat["applicable"].sum()),
                    must_not_met=[c for c in musts if c in failed],
                    by_category=by_cat,
                    must_not_verified=[c for c in musts if c in unverified])


def next_unanswered(criteria: Iterable[PinnedCriterion], facilities: Iterable[str],
                    answers: Iterable[dict[str, Any]], after: str | None = None,
                    facility_id: str | None = None) -> str | None:
    """The first criterion after ``after`` (wrapping round) with a unit not yet answered."""
    ids, fids = [c.criterion_id for c in criteria], list(facilities) or [""]
    if facility_id is not None:
        fids = [facility_id]
    done = {(a["criterion_id"], a["facility_id"]) for a in answers if a.get("status")}
    start = ids.index(after) + 1 if after in ids else 0
    for cid in ids[start:] + ids[:start]:
        if any((cid, f) not in done for f in fids):
            return cid
    return None


# --- opening and finding sessions (where workspace and catalogue meet) -----------------------

def _pin(criteria: Iterable[CriterionSpec]) -> list[PinnedCriterion]:
    """Criteria given as PinnedCriterion, (id, level) or (id, level, category), checked."""
    pinned: list[PinnedCriterion] = []
    for item in criteria:
        cat: int | None
        if isinstance(item, PinnedCriterion):
            cid, level, cat = item.criterion_id, item.level, item.category
        else:
            cid, level, *rest = item
            cat = rest[0] if rest else None
        if not isinstance(cid, str) or not _CRITERION_RE.fullmatch(cid):
            raise InputError("criterion id", cid, "category.number, e.g. 6.1 (category 1-12)")
        if level not in v.LEVELS:
            raise InputError(f"level of criterion {cid}", level, "Must or Should")
        category = int(cid.split(".")[0]) if cat is None else int(cat)
        pinned.append(PinnedCriterion(cid, category, str(level)))
    if len({p.criterion_id for p in pinned}) != len(pinned):
        raise InputError("criteria", [p.criterion_id for p in pinned], "each criterion once")
    return pinned


def _catalogue_criteria(ws: Workspace, account_id: str,
                        version: str | None) -> tuple[str, list[PinnedCriterion]]:
    """The partner's applicable criteria in a catalogue version (latest when None)."""
    from ctpat_audit.criteria.catalogue import (
        load_catalogue,  # the catalogue is only needed to open a session
    )

    types = list(ws.partner(account_id).entity_types)
    cat = load_catalogue(version=version, workspace=ws.path)
    return cat.version, _pin((c.id, c.level_for(types), c.category)
                             for c in cat.applicable(types))


def open_session(ws: object, account_id: str, kind: str, mode: str | None, opened_by: str, *,
                 facilities: Iterable[str] | None = None, catalogue_version: str | None = None,
                 criteria: Iterable[CriterionSpec] | None = None, clock: Clock = utc_now) -> Session:
    """Open a new session for a partner and pin its criteria.

    ``kind``: validation (``mode`` in_person | virtual) or self_assessment (``mode`` None or
    "none"; ``opened_by`` must be a contact of the partner). ``facilities``: in-person only,
    ids of the partner's facilities visited. ``criteria``: normally None (resolved from the
    catalogue for the partner's entity types); tests and demos may pass (id, level) pairs
    together with a ``catalogue_version`` label.
    """
    if kind not in SESSION_KINDS:
        raise InputError("kind", kind, "validation or self_assessment")
    if kind == "self_assessment":
        if mode not in (None, "none"):
            raise InputError("mode", mode, "none for a self-assessment")
        mode = "none"
    elif mode not in ("in_person", "virtual"):
        raise InputError("mode", mode, "in_person or virtual for a validation")
    fids = list(facilities or [])
    if fids and mode != "in_person":
        raise InputError("facilities", fids, "no facilities: only an in-person visit has them")
    if any(not isinstance(f, str) or not f for f in fids) or len(set(fids)) != len(fids):
        raise InputError("facilities", fids, "distinct, non-empty facility ids")
    workspace = as_workspace(ws)
    root, conn = workspace.path, workspace.connect()
    try:
        who = _clean_text("opened_by", people.acting(conn, opened_by, permission=_PERMISSION[
            kind], what="opened_by"), required=True)
        if not store.partner_exists(conn, account_id):
            raise NotFoundError("partner", account_id, "import the partner into the workspace")
        known = store.facility_ids(conn, account_id)
        unknown = [f for f in fids if f not in known]
        if unknown:
            raise InputError("facilities", unknown,
                             f"facility ids of partner {account_id}: {', '.join(known)}")
        if kind == "self_assessment" and not store.contact_roles(conn, account_id, who):
            raise SessionRuleError("(new)", "not_a_contact", f"{who} is not a contact of "
                                   f"partner {account_id}; a self-assessment is opened by one")
        if criteria is None:
            version, pinned = _catalogue_criteria(workspace, account_id,
                                                   catalogue_version)
        else:
            if not catalogue_version:
                raise InputError("catalogue_version", catalogue_version,
                                 "the version label of the criteria given")
            version, pinned = catalogue_version, _pin(criteria)
        session_id, at = new_session_id(kind), _stamp(clock)
        with db.write(conn):
            _insert_session(conn, session_id, account_id, kind, mode, version, who, at, fids,
                            pinned)
        return Session(conn, root, session_id, actor=who, clock=clock)
    except BaseException:
        conn.close()
        raise


def resume_session(ws: object, session_id: str, *, actor: str | None = None,
                   clock: Clock = utc_now) -> Session:
    """Re-open a stored session (any status; only an open one takes changes)."""
    validate_session_id(session_id)
    root, conn = connect_store(ws)
    try:
        return Session(conn, root, session_id, actor=actor, clock=clock)
    except BaseException:
        conn.close()
        raise


def list_sessions(ws: object, account_id: str | None = None, status: str | None = None,
                  kind: str | None = None) -> pd.DataFrame:
    """Sessions of the workspace, newest first (optionally one partner's / one status)."""
    if status is not None and status not in v.SESSION_STATUSES:
        raise InputError("status", status, "one of " + ", ".join(v.SESSION_STATUSES))
    _, conn = connect_store(ws)
    try:
        return store.sessions_frame(conn, account_id, status, kind)
    finally:
        conn.close()


def find_open_session(ws: object, account_id: str, kind: str, *, actor: str | None = None,
                      clock: Clock = utc_now) -> Session | None:
    """The partner's most recently opened open session of this kind, resumed; else None."""
    frame = list_sessions(ws, account_id=account_id, status="open", kind=kind)
    if frame.empty:
        return None
    return resume_session(ws, str(frame["session_id"].iloc[0]), actor=actor, clock=clock)
