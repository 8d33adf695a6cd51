"""What a session's report is made from, hashed: the batch re-renders a report when it changes.

:func:`session_inputs_hash` covers every stored thing the report reads
(:func:`ctpat_audit.reports.sections.load_context`):

* the session row: identity, specialist, scope, supersedes, and submission (the report shows
  who submitted it and when, and dates itself by the submission);
* its pinned criteria, answers, evidence index and best practices;
* the partner's reference rows: partners, entities, facilities, contacts, profile responses,
  outreach;
* the partner's submitted and signed self-assessments and their answers (the comparison
  section sets the latest beside a validation);
* the data snapshot: the imported source's SHA-256 and the current shipments file (the exam
  dashboard reads the partner's shipments from it);
* the bytes of the workspace's imported catalogue of the session's version, if there is one
  (requirement texts and the profile review); a built-in catalogue changes only with the
  package version, which the batch adds.

Left out on purpose: the session's status and ``signed_by``/``signed_at`` (signing the
report sets them; the rendered report does not show them) and the audit log (every change
anywhere appends to it, and the signing entries of the report itself would make it stale).
"""
from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from ctpat_audit.workspace.reference import CATALOGUES_DIR
from ctpat_audit.workspace.schema import SQL_TABLES

#: Session columns that shape the report (status and signature columns do not).
REPORT_SESSION_COLUMNS = ("session_id", "account_id", "kind", "mode", "catalogue_version",
                          "opened_by", "opened_at", "facilities", "supersedes", "submitted_by",
                          "submitted_at")


def session_inputs_hash(conn: sqlite3.Connection, session_id: str) -> str:
    """SHA-256 (hex) over everything stored that the session's report is made from.

    Raises ``KeyError`` for an unknown session.
    """
    h, feed, session = _session_hash(conn, session_id, REPORT_SESSION_COLUMNS)
    account, version = str(session["account_id"]), str(session["catalogue_version"])
    for table in SQL_TABLES:
        cols = ", ".join(table.column_names)
        feed(table.name, conn.execute(f"SELECT {cols} FROM {table.name} WHERE account_id = ? "
                                      f"ORDER BY {', '.join(table.key)}", (account,)))
    feed("entity order", conn.execute("SELECT entity_type FROM entities WHERE account_id = ? "
                                      "ORDER BY rowid", (account,)))
    if session["kind"] == "validation":  # the comparison reads the latest of these
        assessments = [str(r[0]) for r in conn.execute(
            "SELECT session_id FROM sessions WHERE account_id = ? AND kind = 'self_assessment' "
            "AND status IN ('submitted', 'signed') ORDER BY session_id", (account,))]
        for sa in assessments:
            feed("self-assessment", conn.execute(
                "SELECT s.session_id, s.opened_at, a.criterion_id, a.facility_id, a.status "
                "FROM sessions s LEFT JOIN answers a USING (session_id) "
                "WHERE s.session_id = ? ORDER BY a.criterion_id, a.facility_id", (sa,)))
    feed("snapshot", conn.execute("SELECT key, value FROM meta WHERE key IN "
                                  "('source_sha256', 'shipments_file') ORDER BY key"))
    catalogue = _workspace_catalogue(conn, version)
    h.update(b"[catalogue]\n" + (hashlib.sha256(catalogue.read_bytes()).digest()
                                 if catalogue else b"built-in"))
    return h.hexdigest()


#: The session columns of its record as its report shows it, submission aside (signing a
#: validation submits an open session first; the report was rendered before).
RECORD_SESSION_COLUMNS = tuple(c for c in REPORT_SESSION_COLUMNS
                               if c not in ("submitted_by", "submitted_at"))


def session_record_hash(conn: sqlite3.Connection, session_id: str) -> str:
    """SHA-256 (hex) of one session's own record as its report shows it: identity and scope,
    pinned criteria, answers, evidence index and best practices (not its status, submission
    or signatures). A signature made on a report rendered from a snapshot is recorded only if
    the workspace still has this same record (``trust.signing.record_signature``).

    Raises ``KeyError`` for an unknown session.
    """
    h, _feed, _session = _session_hash(conn, session_id, RECORD_SESSION_COLUMNS)
    return h.hexdigest()


def _session_hash(conn: sqlite3.Connection, session_id: str, columns: tuple[str, ...]
                  ) -> tuple[hashlib._Hash, Callable[[str, Iterable[Any]], None], sqlite3.Row]:
    """A SHA-256 fed with the session's ``columns``, pinned criteria, answers, evidence index
    and best practices; (the hash, its feed, the session's row). ``KeyError`` if unknown."""
    h = hashlib.sha256()

    def feed(label: str, rows: Iterable[Any]) -> None:
        h.update(f"[{label}]\n".encode())
        for r in rows:
            h.update(json.dumps(list(r), default=str, ensure_ascii=False).encode())
            h.update(b"\n")

    session = conn.execute(f"SELECT {', '.join(columns)} FROM sessions "
                           "WHERE session_id = ?", (session_id,)).fetchone()
    if session is None:
        raise KeyError(session_id)
    feed("session", [session])
    feed("criteria", conn.execute("SELECT position, criterion_id, category, level FROM "
                                  "session_criteria WHERE session_id = ? ORDER BY position",
                                  (session_id,)))
    _feed_session_rows(feed, conn, session_id)
    return h, feed, session


def _feed_session_rows(feed: Any, conn: sqlite3.Connection, session_id: str) -> None:
    feed("answers", conn.execute(
        "SELECT criterion_id, facility_id, status, method, notes, evidence_requested, "
        "evidence_received FROM answers WHERE session_id = ? ORDER BY criterion_id, facility_id",
        (session_id,)))
    feed("evidence", conn.execute("SELECT criterion_id, facility_id, sha256, name FROM evidence "
                                  "WHERE session_id = ? ORDER BY evidence_id", (session_id,)))
    feed("best practices", conn.execute(
        "SELECT criterion_id, text, recorded_by FROM best_practices WHERE session_id = ? "
        "ORDER BY practice_id", (session_id,)))


def _workspace_catalogue(conn: sqlite3.Connection, version: str) -> Path | None:
    """``WORKSPACE/catalogues/<version>.json`` when the workspace holds that version."""
    if not version or "/" in version or "\\" in version or version.startswith("."):
        return None
    db_file = next((str(r[2]) for r in conn.execute("PRAGMA database_list")
                    if r[1] == "main"), "")
    if not db_file:
        return None
    path = Path(db_file).parent / CATALOGUES_DIR / f"{version}.json"
    return path if path.is_file() else None
