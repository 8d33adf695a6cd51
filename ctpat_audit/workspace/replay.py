"""The state tables as the audit log says they should be, and where they differ.

The hash-chained audit log (:mod:`ctpat_audit.workspace.audit`) is the record; the state
tables (``sessions``, ``session_criteria``, ``answers``, ``evidence``, ``best_practices``) are
a view of it kept for fast reading. :func:`replay` rebuilds that view from the log alone, entry
by entry, and :func:`differences` compares it with the tables field by field. Anyone who edits
a state table directly (an answer turned from ``does_not_meet`` to ``meets``, a note, an
evidence row, a best practice, a status) makes the two differ, and every reader that matters
(``audit-verify``, ``report``, ``sign``, ``batch``, ``verify --workspace``) refuses the session.

What each entry sets (``actor`` and ``at`` are the entry's own):

* ``open_session``: a session row (``opened_by``/``opened_at``, status ``open``) and, when the
  entry lists them (``pinned``), its pinned criteria; older entries only give their number;
* ``answer``: the answer's five fields, ``answered_by``/``answered_at``;
* ``attach``: an evidence row (sha256, name, size, media type, ``added_by``/``added_at``);
* ``best_practice``: a practice (criterion, text, ``recorded_by``/``recorded_at``);
* the ids of evidence and best-practice rows: rows are never deleted, so the n-th row ever
  added to the table (the n-th ``attach``/``copy_evidence`` entry of the whole log) has id n;
* ``copy_answer`` / ``copy_evidence`` / ``copy_best_practice`` (a new revision): the row of the
  session named in ``target.from`` as replayed so far, with the logged values;
* ``submit`` / ``lock`` / ``supersede``: the status and the ``submitted_*``/``signed_*`` fields;
* ``sign``: a signature of the session's report (what its manifest lists).
"""
from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from ctpat_audit.core.errors import RecordError
from ctpat_audit.workspace import best_practices as practices
from ctpat_audit.workspace import store

SESSION_FIELDS = store.SESSION_COLUMNS[1:]
ANSWER_FIELDS = (*store.ANSWER_FIELDS, "answered_by", "answered_at")
EVIDENCE_FIELDS = ("evidence_id", "name", "size", "media_type", "added_by", "added_at")
PRACTICE_FIELDS = ("practice_id", "criterion_id", "text", "recorded_by", "recorded_at")
#: actions that insert a row of a table whose id is the row's rank among all its inserts
#: (rows are never deleted, so SQLite gives the n-th row inserted the id n)
_INSERTS = {"evidence": ("attach", "copy_evidence"),
            "best_practices": ("best_practice", "copy_best_practice")}
_MISSING, _ROW = "(no row)", "(a row)"


@dataclass(frozen=True)
class StateDifference:
    """One field where a state table does not hold what the audit log says."""

    table: str
    session_id: str
    criterion_id: str  # "" when the row is not about one criterion
    field: str
    logged: Any
    stored: Any
    facility_id: str = ""

    def __str__(self) -> str:
        where = f"table {self.table}, session {self.session_id}"
        if self.criterion_id:
            where += f", criterion {self.criterion_id}"
        if self.facility_id:
            where += f", facility {self.facility_id}"
        return (f"{where}, field {self.field}: the audit log says {_show(self.logged)}, "
                f"the table holds {_show(self.stored)}")


def _show(value: Any) -> str:
    if value in (_MISSING, _ROW):
        return str(value)[1:-1]
    return json.dumps(value, ensure_ascii=False) if not isinstance(value, str) else repr(value)


@dataclass
class SessionState:
    """One session as the log builds it."""

    row: dict[str, Any]
    criteria: list[tuple[str, int, str]] | None  # None: the entry gave only their number
    criteria_count: int
    answers: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    evidence: dict[tuple[str, str, str], dict[str, Any]] = field(default_factory=dict)
    practices: list[dict[str, Any]] = field(default_factory=list)
    signatures: list[dict[str, Any]] = field(default_factory=list)
    sign_heads: list[tuple[int, str]] = field(default_factory=list)  # (seq, hash) of each sign


@dataclass
class ReplayedState:
    """Every session the replayed entries touched, and entries that could not be applied."""

    sessions: dict[str, SessionState] = field(default_factory=dict)
    broken: list[StateDifference] = field(default_factory=list)
    row_ids: dict[int, int] = field(default_factory=dict)  # log seq -> id of the row it added


def replay(conn: sqlite3.Connection, session_ids: Iterable[str] | None = None) -> ReplayedState:
    """The state the audit log describes: of every session, or of ``session_ids`` (and the
    sessions they were revised from, which their copies read)."""
    wanted = None if session_ids is None else _with_sources(conn, session_ids)
    state = ReplayedState()
    for actions in _INSERTS.values():
        seqs = [int(r[0]) for r in conn.execute(
            f"SELECT seq FROM audit_log WHERE action IN ({', '.join('?' * len(actions))}) "
            "ORDER BY seq", actions)]
        state.row_ids.update({seq: i + 1 for i, seq in enumerate(seqs)})
    for entry in _entries(conn, wanted):
        _apply(state, entry)
    return state


def _with_sources(conn: sqlite3.Connection, session_ids: Iterable[str]) -> list[str]:
    todo, seen = list(session_ids), []
    while todo:
        sid = todo.pop()
        if sid in seen:
            continue
        seen.append(sid)
        # "+action": look the session up by its own index (SQLite would otherwise take the
        # action's, and read every session's opening entry: a cost that grows with the log)
        for row in conn.execute("SELECT new_value FROM audit_log WHERE session_id = ? AND "
                                "+action = 'open_session'", (sid,)):
            source = _json(row[0]).get("supersedes") if isinstance(_json(row[0]), dict) else None
            if isinstance(source, str):
                todo.append(source)
    return seen


def _entries(conn: sqlite3.Connection, wanted: list[str] | None) -> Iterable[dict[str, Any]]:
    cols = ("seq", "at", "actor", "action", "session_id", "target", "new_value", "hash")
    sql = f"SELECT {', '.join(cols)} FROM audit_log"
    args: tuple[Any, ...] = ()
    if wanted is not None:
        sql += f" WHERE session_id IN ({', '.join('?' * len(wanted))})"
        args = tuple(wanted)
    for row in conn.execute(sql + " ORDER BY seq", args):
        entry = dict(zip(cols, tuple(row)))
        entry["target"], entry["new"] = _json(entry["target"]), _json(entry.pop("new_value"))
        yield entry


def _json(text: Any) -> Any:
    try:
        return json.loads(text)
    except (TypeError, ValueError):
        return None


def _apply(state: ReplayedState, e: dict[str, Any]) -> None:
    action, sid, new = e["action"], e["session_id"], e["new"]
    target = e["target"] if isinstance(e["target"], dict) else {}
    if not isinstance(sid, str):
        return
    if action == "open_session":
        if not isinstance(new, dict):
            return _broken(state, e, "the entry has no session values")
        row = {k: new.get(k) for k in ("account_id", "kind", "mode", "catalogue_version",
                                       "facilities", "supersedes")}
        row.update(opened_by=e["actor"], opened_at=e["at"], status="open", submitted_by=None,
                   submitted_at=None, signed_by=None, signed_at=None)
        pinned = new.get("pinned")
        try:
            criteria = ([(str(c[0]), int(c[1]), str(c[2])) for c in pinned]
                        if isinstance(pinned, list) else None)
        except (TypeError, ValueError, IndexError):
            return _broken(state, e, "the entry's pinned criteria are not (id, category, "
                           "level) triples")
        count = new.get("criteria")
        state.sessions[sid] = SessionState(row, criteria, int(count) if isinstance(
            count, int) else len(criteria or []))
        return
    s = state.sessions.get(sid)
    if s is None:
        return _broken(state, e, "the entry is for a session the log never opened")
    cid, fid = str(target.get("criterion_id", "")), str(target.get("facility_id", ""))
    source = state.sessions.get(str(target.get("from", "")))
    if action in ("answer", "copy_answer") and isinstance(new, dict):
        row = {f: new.get(f) for f in store.ANSWER_FIELDS}
        if action == "copy_answer":
            was = source.answers.get((cid, fid)) if source else None
            if was is None:
                return _broken(state, e, "the copied answer is not in the session it names")
            row.update(answered_by=was["answered_by"], answered_at=was["answered_at"])
        else:
            row.update(answered_by=e["actor"], answered_at=e["at"])
        s.answers[(cid, fid)] = row
    elif action in ("attach", "copy_evidence") and isinstance(new, dict):
        sha = str(new.get("sha256"))
        if action == "copy_evidence":
            was = source.evidence.get((cid, fid, sha)) if source else None
            if was is None:
                return _broken(state, e, "the copied evidence is not in the session it names")
            s.evidence[(cid, fid, sha)] = {**was, "name": new.get("name"),
                                           "evidence_id": state.row_ids.get(e["seq"])}
        else:
            s.evidence[(cid, fid, sha)] = {"evidence_id": state.row_ids.get(e["seq"]),
                                           "name": new.get("name"), "size": new.get("size"),
                                           "media_type": new.get("media_type"),
                                           "added_by": e["actor"], "added_at": e["at"]}
    elif action in ("best_practice", "copy_best_practice") and isinstance(new, dict):
        row = {"practice_id": state.row_ids.get(e["seq"]), "criterion_id": cid,
               "text": new.get("text"), "recorded_by": e["actor"], "recorded_at": e["at"]}
        if action == "copy_best_practice":
            copied = sum(1 for p in s.practices if p.get("copied"))
            was = source.practices[copied] if source and copied < len(source.practices) else None
            if was is None or (was["criterion_id"], was["text"]) != (cid, row["text"]):
                return _broken(state, e, "the copied best practice is not in the session it "
                               "names")
            row.update(recorded_by=was["recorded_by"], recorded_at=was["recorded_at"],
                       copied=True)
        s.practices.append(row)
    elif action in ("submit", "lock", "supersede") and isinstance(new, dict):
        s.row.update({k: new[k] for k in SESSION_FIELDS if k in new})
    elif action == "sign" and isinstance(new, dict):
        s.signatures.append(new)
        s.sign_heads.append((int(e["seq"]), str(e["hash"])))


def _broken(state: ReplayedState, e: dict[str, Any], why: str) -> None:
    state.broken.append(StateDifference("audit_log", str(e["session_id"]), "",
                                        f"entry {e['seq']} ({e['action']})", why, _MISSING))


# --- comparing with the tables ---------------------------------------------------------------

def differences(conn: sqlite3.Connection, session_ids: Iterable[str] | None = None
                ) -> list[StateDifference]:
    """Every field where the state tables differ from the replayed log: for the whole
    workspace (a session row the log never opened included), or for ``session_ids``."""
    wanted = None if session_ids is None else list(session_ids)
    state = replay(conn, wanted)
    out = [d for d in state.broken if wanted is None or d.session_id in wanted]
    found = _stored_session_ids(conn) if wanted is None else set(wanted)
    if None in found:  # SQLite lets a TEXT primary key be NULL
        out.append(StateDifference("sessions", "(null)", "", "session_id", _MISSING, None))
    stored_ids = {sid for sid in found if sid is not None}
    for sid in sorted(stored_ids | (set(state.sessions) if wanted is None else set())):
        out += _session_differences(conn, sid, state.sessions.get(sid))
    return out


def _stored_session_ids(conn: sqlite3.Connection) -> set[str | None]:
    """Every session id any state table holds a row for (rows of sessions never opened
    included)."""
    return {r[0] for r in conn.execute(
        "SELECT session_id FROM sessions UNION SELECT session_id FROM session_criteria "
        "UNION SELECT session_id FROM answers UNION SELECT session_id FROM evidence "
        "UNION SELECT session_id FROM best_practices")}


def _session_differences(conn: sqlite3.Connection, sid: str,
                         logged: SessionState | None) -> list[StateDifference]:
    out: list[StateDifference] = []
    stored = store.session_row_as_stored(conn, sid)
    if logged is None or stored is None:
        if logged is not None or stored is not None:
            out.append(StateDifference("sessions", sid, "", "session_id",
                                       _ROW if logged else _MISSING,
                                       _ROW if stored else _MISSING))
        if logged is None:  # rows of a session the log never opened: each one differs
            logged = SessionState({}, [], 0)
    if stored is not None and logged.row:
        expected = {**logged.row, "facilities": _facilities_text(logged.row.get("facilities"))}
        for f in SESSION_FIELDS:
            if expected.get(f) != stored.get(f):
                out.append(StateDifference("sessions", sid, "", f, expected.get(f),
                                           stored.get(f)))
    pinned = [(str(r[0]), r[1], r[2], r[3]) for r in conn.execute(
        "SELECT criterion_id, category, level, position FROM session_criteria "
        "WHERE session_id = ? ORDER BY position, criterion_id", (sid,))]
    if logged.criteria is not None:
        out += _keyed("session_criteria", sid, {(c[0], ""): {"position": i, "category": c[1],
                                                            "level": c[2]}
                                               for i, c in enumerate(logged.criteria)},
                      {(c[0], ""): {"position": c[3], "category": c[1], "level": c[2]}
                       for c in pinned})
    elif len(pinned) != logged.criteria_count:
        out.append(StateDifference("session_criteria", sid, "", "count",
                                   logged.criteria_count, len(pinned)))
    answers = {(str(a["criterion_id"]), str(a["facility_id"])): {f: a[f] for f in ANSWER_FIELDS}
               for a in store.answer_rows_as_stored(conn, sid)}
    out += _keyed("answers", sid, logged.answers, answers)
    evidence = {(r["criterion_id"], r["facility_id"], r["sha256"]): {f: r[f] for f in
                                                                    EVIDENCE_FIELDS}
                for r in store.evidence_rows(conn, sid)}
    out += _keyed("evidence", sid, {(k[0], k[1] + "|" + k[2]): v
                                    for k, v in logged.evidence.items()},
                  {(k[0], k[1] + "|" + k[2]): v for k, v in evidence.items()},
                  facility_label=True)
    rows = practices.best_practice_rows(conn, sid)
    for i in range(max(len(rows), len(logged.practices))):
        want = logged.practices[i] if i < len(logged.practices) else None
        have = rows[i] if i < len(rows) else None
        cid = str((want or have or {}).get("criterion_id", ""))
        for f in PRACTICE_FIELDS:
            a = want.get(f) if want else _MISSING
            b = have.get(f) if have else _MISSING
            if a != b:
                out.append(StateDifference("best_practices", sid, cid, f"{f} (practice "
                                           f"{i + 1})", a, b))
                if want is None or have is None:
                    break
    return out


def _facilities_text(facilities: Any) -> str:
    """The facilities as the sessions table stores them (JSON text of the list)."""
    return json.dumps(list(facilities or []))


def _keyed(table: str, sid: str, logged: dict[tuple[str, str], dict[str, Any]],
           stored: dict[tuple[str, str], dict[str, Any]], *, facility_label: bool = False
           ) -> list[StateDifference]:
    out = []
    for key in sorted(set(logged) | set(stored)):
        cid, rest = key
        fid = rest.split("|")[0] if facility_label else rest
        a, b = logged.get(key), stored.get(key)
        if a is None or b is None:
            what = "sha256 " + rest.split("|")[1] if facility_label else "row"
            out.append(StateDifference(table, sid, cid, what, _ROW if a else _MISSING,
                                       _ROW if b else _MISSING, fid))
            continue
        for f in a:
            if f in b and a[f] != b[f]:
                out.append(StateDifference(table, sid, cid, f, a[f], b[f], fid))
    return out


def state_problem(conn: sqlite3.Connection, session_id: str) -> str | None:
    """A message naming every difference of one session, or None when its state is its
    replay: what ``report``, ``sign`` and ``batch`` refuse with."""
    found = differences(conn, [session_id])
    return state_message(found) if found else None


def state_message(found: list[StateDifference], limit: int = 20) -> str:
    """The plain text of differences: how many, then one line each (up to ``limit``)."""
    lines = [f"the state tables differ from the audit log in {len(found)} field(s) "
             "(edited outside ctpat-audit):"]
    lines += [f"  {d}" for d in found[:limit]]
    if len(found) > limit:
        lines.append(f"  ... and {len(found) - limit} more (ctpat-audit audit-verify lists "
                     "them all)")
    return "\n".join(lines)


def require_replayed_state(conn: sqlite3.Connection, session_id: str) -> None:
    """Raise :class:`RecordError` (naming every difference) when the session's state tables
    are not what its audit log replays to."""
    problem = state_problem(conn, session_id)
    if problem:
        raise RecordError(session_id, problem)


def logged_answer(conn: sqlite3.Connection, session_id: str, criterion_id: str,
                  facility_id: str) -> dict[str, Any] | None:
    """The answer fields the log last gave this unit (an ``answer`` or ``copy_answer``
    entry), or None when it never gave any: what the answers row must hold."""
    rows = conn.execute(
        "SELECT new_value FROM audit_log WHERE session_id = ? AND action IN ('answer', "
        "'copy_answer') AND json_valid(target) AND json_extract(target, '$.criterion_id') = ? "
        "AND json_extract(target, '$.facility_id') = ? ORDER BY seq DESC LIMIT 1",
        (session_id, criterion_id, facility_id)).fetchone()
    if rows is None:
        return None
    new = _json(rows[0])
    return {f: new.get(f) for f in store.ANSWER_FIELDS} if isinstance(new, dict) else {}
