"""SQLite persistence of sessions, their pinned criteria, answers and the evidence index.

Only SQL lives here: no rule of what may be answered (that is :mod:`ctpat_audit.sessions.session`).
Row functions take a connection opened by :meth:`ctpat_audit.workspace.reference.Workspace.connect`;
functions that change data must be called inside :func:`ctpat_audit.workspace.db.write`
(BEGIN IMMEDIATE), together with the matching :func:`ctpat_audit.workspace.audit.append`, so a
change and its audit entry commit as one.

Tables (defined in :mod:`ctpat_audit.workspace.schema`, with CHECK constraints from the
vocabularies below): ``sessions``, ``session_criteria`` (the criteria and Must/Should levels
resolved when the session was opened), ``answers`` (one row per session, criterion and
facility; facility ``""`` when not per facility) and ``evidence`` (index of evidence files
stored by SHA-256).
"""
from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pandas is imported only where frames are built, so writers start fast
    import pandas as pd

SESSION_ID_PATTERN = r"^[VS]-[A-Z2-7]{10}$"

#: Answer fields a user sets (the rest is identity and who/when).
ANSWER_FIELDS = ("status", "method", "notes", "evidence_requested", "evidence_received")
SESSION_COLUMNS = ("session_id", "account_id", "kind", "mode", "catalogue_version", "opened_by",
                   "opened_at", "facilities", "status", "supersedes", "submitted_by",
                   "submitted_at", "signed_by", "signed_at")
ANSWER_COLUMNS = ("session_id", "criterion_id", "facility_id", *ANSWER_FIELDS, "answered_by",
                  "answered_at")
EVIDENCE_COLUMNS = ("evidence_id", "session_id", "criterion_id", "facility_id", "sha256", "name",
                    "size", "media_type", "added_by", "added_at")


# --- sessions -------------------------------------------------------------------------------

@dataclass(frozen=True)
class PinnedCriterion:
    """A criterion as pinned in a session: id, category and the partner's Must/Should level."""

    criterion_id: str
    category: int
    level: str  # "Must" | "Should"


def insert_session(conn: sqlite3.Connection, row: dict[str, Any],
                   criteria: list[PinnedCriterion]) -> None:
    """Insert a session and its pinned criteria (inside a write transaction)."""
    values = dict(row)
    values["facilities"] = json.dumps(list(values.get("facilities") or []))
    cols = [c for c in SESSION_COLUMNS if c in values]
    conn.execute(f"INSERT INTO sessions ({', '.join(cols)}) VALUES "
                 f"({', '.join('?' * len(cols))})", tuple(values[c] for c in cols))
    conn.executemany(
        "INSERT INTO session_criteria (session_id, position, criterion_id, category, level) "
        "VALUES (?, ?, ?, ?, ?)",
        [(row["session_id"], i, c.criterion_id, c.category, c.level)
         for i, c in enumerate(criteria)])


def get_session(conn: sqlite3.Connection, session_id: str) -> dict[str, Any] | None:
    """The session row as a dict (facilities decoded to a list), or None."""
    row = conn.execute(f"SELECT {', '.join(SESSION_COLUMNS)} FROM sessions WHERE session_id = ?",
                       (session_id,)).fetchone()
    if row is None:
        return None
    out = dict(zip(SESSION_COLUMNS, tuple(row)))
    out["facilities"] = json.loads(out["facilities"])
    return out


def session_row_as_stored(conn: sqlite3.Connection, session_id: str) -> dict[str, Any] | None:
    """The session row exactly as stored (``facilities`` left as its JSON text), or None."""
    row = conn.execute(f"SELECT {', '.join(SESSION_COLUMNS)} FROM sessions WHERE session_id = ?",
                       (session_id,)).fetchone()
    return None if row is None else dict(zip(SESSION_COLUMNS, tuple(row)))


def pinned_criteria(conn: sqlite3.Connection, session_id: str) -> list[PinnedCriterion]:
    rows = conn.execute("SELECT criterion_id, category, level FROM session_criteria "
                        "WHERE session_id = ? ORDER BY position", (session_id,))
    return [PinnedCriterion(str(r[0]), int(r[1]), str(r[2])) for r in rows]


def update_session(conn: sqlite3.Connection, session_id: str, **changes: Any) -> None:
    """Set columns of a session (inside a write transaction)."""
    bad = set(changes) - set(SESSION_COLUMNS[1:])
    if bad:
        raise ValueError(f"not session columns: {sorted(bad)}")
    sets = ", ".join(f"{c} = ?" for c in changes)
    conn.execute(f"UPDATE sessions SET {sets} WHERE session_id = ?",
                 (*changes.values(), session_id))


def sessions_frame(conn: sqlite3.Connection, account_id: str | None = None,
                   status: str | None = None, kind: str | None = None) -> pd.DataFrame:
    """Sessions, newest first, optionally filtered; ``facilities`` is a list per row."""
    import pandas as pd

    where, args = [], []
    for col, val in (("account_id", account_id), ("status", status), ("kind", kind)):
        if val is not None:
            where.append(f"{col} = ?")
            args.append(val)
    sql = f"SELECT {', '.join(SESSION_COLUMNS)} FROM sessions"
    if where:
        sql += " WHERE " + " AND ".join(where)
    rows = [tuple(r) for r in conn.execute(sql + " ORDER BY opened_at DESC, session_id", args)]
    frame = pd.DataFrame(rows, columns=list(SESSION_COLUMNS))
    for c in SESSION_COLUMNS:
        if c != "facilities":
            frame[c] = pd.Series(frame[c].tolist(), index=frame.index, dtype="str")
    frame["facilities"] = pd.Series([json.loads(f) for f in frame["facilities"]],
                                    index=frame.index, dtype="object")
    return frame


def latest_session(conn: sqlite3.Connection, account_id: str, kind: str,
                   statuses: Iterable[str]) -> str | None:
    """The id of the partner's most recently opened session of ``kind`` in one of
    ``statuses`` (the greater id on a tie), or None."""
    wanted = list(statuses)
    row = conn.execute(
        "SELECT session_id FROM sessions WHERE account_id = ? AND kind = ? AND status IN "
        f"({', '.join('?' * len(wanted))}) ORDER BY opened_at DESC, session_id DESC LIMIT 1",
        (account_id, kind, *wanted)).fetchone()
    return None if row is None else str(row[0])


def select_sessions(conn: sqlite3.Connection, kind: str, *, statuses: Iterable[str] = (),
                    since: str | None = None, until: str | None = None,
                    facility_match: Iterable[tuple[str, str]] = ()) -> list[dict[str, str]]:
    """Sessions of one kind, oldest first, as dicts (session_id, account_id, status,
    opened_by, day).

    ``day`` is the date (YYYY-MM-DD) the session was submitted, or opened when never
    submitted; ``since``/``until`` bound it, both ends included. ``statuses``: any of these
    (all when empty). ``facility_match``: (column, value) pairs of ``country``,
    ``state_province`` and ``city``; the partner must have a facility where every given
    column equals its value, ignoring case and surrounding blanks.
    """
    sql = ("SELECT s.session_id, s.account_id, s.status, s.opened_by, "
           "substr(COALESCE(s.submitted_at, s.opened_at), 1, 10) AS day FROM sessions s "
           "WHERE s.kind = ?")
    args: list[Any] = [kind]
    wanted = list(statuses)
    if wanted:
        sql += f" AND s.status IN ({', '.join('?' * len(wanted))})"
        args += wanted
    if since:
        sql += " AND day >= ?"
        args.append(since)
    if until:
        sql += " AND day <= ?"
        args.append(until)
    pairs = list(facility_match)
    if pairs:
        bad = {c for c, _ in pairs} - {"country", "state_province", "city"}
        if bad:
            raise ValueError(f"not facility location columns: {sorted(bad)}")
        cond = " AND ".join(f"lower(trim(COALESCE(f.{c}, ''))) = lower(trim(?))"
                            for c, _ in pairs)
        sql += (" AND EXISTS (SELECT 1 FROM facilities f WHERE f.account_id = s.account_id "
                f"AND {cond})")
        args += [v for _, v in pairs]
    cols = ("session_id", "account_id", "status", "opened_by", "day")
    return [dict(zip(cols, map(str, r)))
            for r in conn.execute(sql + " ORDER BY day, s.session_id", args)]


def session_openers(conn: sqlite3.Connection, kind: str) -> list[str]:
    """Everyone who opened a session of this kind, sorted."""
    return [str(r[0]) for r in conn.execute(
        "SELECT DISTINCT opened_by FROM sessions WHERE kind = ? ORDER BY opened_by", (kind,))]


def session_accounts(conn: sqlite3.Connection, kind: str) -> list[str]:
    """Every partner with a session of this kind, sorted by account id."""
    return [str(r[0]) for r in conn.execute(
        "SELECT DISTINCT account_id FROM sessions WHERE kind = ? ORDER BY account_id", (kind,))]


# --- answers --------------------------------------------------------------------------------

def get_answer(conn: sqlite3.Connection, session_id: str, criterion_id: str,
               facility_id: str) -> dict[str, Any] | None:
    row = conn.execute(
        f"SELECT {', '.join(ANSWER_COLUMNS)} FROM answers "
        "WHERE session_id = ? AND criterion_id = ? AND facility_id = ?",
        (session_id, criterion_id, facility_id)).fetchone()
    return None if row is None else _answer_dict(tuple(row))


def _answer_dict(row: tuple[Any, ...]) -> dict[str, Any]:
    out = dict(zip(ANSWER_COLUMNS, row))
    if out["evidence_received"] is not None:
        out["evidence_received"] = bool(out["evidence_received"])
    return out


def put_answer(conn: sqlite3.Connection, answer: dict[str, Any]) -> None:
    """Insert or replace one answer row (inside a write transaction)."""
    values = dict(answer)
    if values.get("evidence_received") is not None:
        values["evidence_received"] = int(bool(values["evidence_received"]))
    conn.execute(
        f"INSERT INTO answers ({', '.join(ANSWER_COLUMNS)}) VALUES "
        f"({', '.join('?' * len(ANSWER_COLUMNS))}) "
        "ON CONFLICT (session_id, criterion_id, facility_id) DO UPDATE SET "
        + ", ".join(f"{c} = excluded.{c}" for c in ANSWER_COLUMNS[3:]),
        tuple(values.get(c) for c in ANSWER_COLUMNS))


def answer_rows(conn: sqlite3.Connection, session_id: str) -> list[dict[str, Any]]:
    rows = conn.execute(
        f"SELECT {', '.join('a.' + c for c in ANSWER_COLUMNS)} FROM answers a "
        "JOIN session_criteria c USING (session_id, criterion_id) "
        "WHERE a.session_id = ? ORDER BY c.position, a.facility_id", (session_id,))
    return [_answer_dict(tuple(r)) for r in rows]


def answer_rows_as_stored(conn: sqlite3.Connection, session_id: str) -> list[dict[str, Any]]:
    """Every answer row stored for a session, exactly as stored (``evidence_received`` 0/1),
    whether or not the session pins its criterion."""
    rows = conn.execute(f"SELECT {', '.join(ANSWER_COLUMNS)} FROM answers WHERE session_id = ? "
                        "ORDER BY criterion_id, facility_id", (session_id,))
    return [dict(zip(ANSWER_COLUMNS, tuple(r))) for r in rows]


# --- evidence index -------------------------------------------------------------------------

def find_evidence(conn: sqlite3.Connection, session_id: str, criterion_id: str,
                  facility_id: str, sha256: str) -> dict[str, Any] | None:
    row = conn.execute(
        f"SELECT {', '.join(EVIDENCE_COLUMNS)} FROM evidence WHERE session_id = ? AND "
        "criterion_id = ? AND facility_id = ? AND sha256 = ?",
        (session_id, criterion_id, facility_id, sha256)).fetchone()
    return None if row is None else dict(zip(EVIDENCE_COLUMNS, tuple(row)))


def insert_evidence(conn: sqlite3.Connection, row: dict[str, Any]) -> int:
    """Add an evidence index row (inside a write transaction); returns its evidence_id."""
    cols = [c for c in EVIDENCE_COLUMNS if c != "evidence_id"]
    cur = conn.execute(f"INSERT INTO evidence ({', '.join(cols)}) VALUES "
                       f"({', '.join('?' * len(cols))})", tuple(row[c] for c in cols))
    return int(cur.lastrowid or 0)


def evidence_rows(conn: sqlite3.Connection, session_id: str) -> list[dict[str, Any]]:
    rows = conn.execute(f"SELECT {', '.join(EVIDENCE_COLUMNS)} FROM evidence "
                        "WHERE session_id = ? ORDER BY evidence_id", (session_id,))
    return [dict(zip(EVIDENCE_COLUMNS, tuple(r))) for r in rows]


# --- reference tables (owned by the workspace; read only here) -----------------------------

def partner_exists(conn: sqlite3.Connection, account_id: str) -> bool:
    return conn.execute("SELECT 1 FROM partners WHERE account_id = ?",
                        (account_id,)).fetchone() is not None


def contact_roles(conn: sqlite3.Connection, account_id: str, email: str) -> list[str]:
    """Portal roles of the contact with this e-mail (case-insensitive) in this account."""
    rows = conn.execute("SELECT role FROM contacts WHERE account_id = ? "
                        "AND lower(trim(email)) = lower(trim(?))", (account_id, email))
    return [str(r[0]) for r in rows]


def facility_ids(conn: sqlite3.Connection, account_id: str) -> list[str]:
    """The partner's facility ids."""
    rows = conn.execute("SELECT facility_id FROM facilities WHERE account_id = ?",
                        (account_id,))
    return [str(r[0]) for r in rows]


def first_contact_with_role(conn: sqlite3.Connection, account_id: str,
                            role: str) -> tuple[str, str] | None:
    """(name, e-mail) of the partner's contact with this portal role, first by e-mail."""
    row = conn.execute("SELECT name, email FROM contacts WHERE account_id = ? AND role = ? "
                       "ORDER BY email LIMIT 1", (account_id, role)).fetchone()
    return None if row is None else (str(row[0]), str(row[1]))
