"""The workspace database schema: every table, index and trigger, and the migrations.

:func:`create` builds a new database at :data:`SCHEMA_VERSION` from the current definitions:
the reference tables from their declarations in :mod:`ctpat_audit.workspace.tables`, the
session tables with CHECK constraints from the vocabularies of
:mod:`ctpat_audit.workspace.store`, best practices, and the append-only audit log.

A database records its version in ``meta`` (key ``schema_version``). :func:`ensure_current`,
run by every opener of the database, reads it: an older database is brought up to date by
:data:`MIGRATIONS`, the steps from version ``n`` to ``n + 1`` in order, all applied in one
``BEGIN IMMEDIATE`` transaction (a crash leaves the old version, never half a migration; a
second process waits for the lock and then finds nothing left to do); a database newer than
this code is refused with :class:`~ctpat_audit.core.errors.WorkspaceError`.

A migration step is frozen SQL, written against the schema of its own version: it never
refers to the current definitions, which later versions change. A test checks that a version-1
workspace migrated step by step has exactly the schema :func:`create` builds.

Versions:

1. Reference tables and ``meta`` at ``init``; the session tables and the audit log were
   created when the first session was opened, ``best_practices`` when the first one was
   recorded.
2. Every table exists from ``init``; ``best_practices`` is indexed by session (the report and
   the batch's inputs hash read it per session).
3. ``log_anchors``: the signed manifest of every signature, which pins the audit-log head
   (see :mod:`ctpat_audit.workspace.anchors`); ``meta`` key ``anchored_from_seq``: the first
   log entry from which every ``sign`` entry must have its anchor (1 in a new workspace, the
   entry after the last one in a migrated workspace); the log indexed by action (the replay
   and the anchor check read the entries of a few actions).
4. ``people``: the team server's accounts (hub user name, display name, e-mail, role, active
   flag, the workspace CA's person id); see :mod:`ctpat_audit.workspace.people`.
"""
from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path

from ctpat_audit.core.errors import WorkspaceError
from ctpat_audit.core.vocabulary import (
    ANSWER_STATUSES,
    LEVELS,
    OBSERVATION_METHODS,
    PERSON_ROLES,
    SESSION_KINDS,
    SESSION_MODES,
    SESSION_STATUSES,
)
from ctpat_audit.workspace import db
from ctpat_audit.workspace.tables import TABLES, Table

SCHEMA_VERSION = 4
VERSION_KEY = "schema_version"

#: The reference tables kept in SQLite (bulk tables live in Parquet files).
SQL_TABLES: tuple[Table, ...] = tuple(t for t in TABLES if not t.bulk)


# --- the current schema -------------------------------------------------------------------

def _in(values: tuple[str, ...]) -> str:
    return "(" + ", ".join(f"'{v}'" for v in values) + ")"


def _sql_type(kind: str) -> str:
    return {"int": "INTEGER", "bool": "INTEGER"}.get(kind, "TEXT")


def table_ddl(table: Table) -> str:
    """CREATE TABLE of a declared reference table: columns, key, reference to its partner."""
    cols = [f"{c.name} {_sql_type(c.kind)}{' NOT NULL' if c.required else ''}"
            for c in table.columns]
    cols.append(f"PRIMARY KEY ({', '.join(table.key)})")
    if table.refers_to_partner:
        cols.append("FOREIGN KEY (account_id) REFERENCES partners(account_id) ON DELETE CASCADE")
    return f"CREATE TABLE {table.name} (\n  " + ",\n  ".join(cols) + "\n)"


META = "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT)"

SESSIONS = (f"""
CREATE TABLE sessions (
    session_id        TEXT PRIMARY KEY,
    account_id        TEXT NOT NULL REFERENCES partners(account_id),
    kind              TEXT NOT NULL CHECK (kind IN {_in(tuple(SESSION_KINDS))}),
    mode              TEXT NOT NULL CHECK (mode IN {_in(SESSION_MODES)}),
    catalogue_version TEXT NOT NULL,
    opened_by         TEXT NOT NULL,
    opened_at         TEXT NOT NULL,
    facilities        TEXT NOT NULL DEFAULT '[]',
    status            TEXT NOT NULL DEFAULT 'open' CHECK (status IN {_in(SESSION_STATUSES)}),
    supersedes        TEXT REFERENCES sessions(session_id),
    submitted_by      TEXT,
    submitted_at      TEXT,
    signed_by         TEXT,
    signed_at         TEXT
)""", """
CREATE INDEX sessions_account ON sessions(account_id, kind, status)""", f"""
CREATE TABLE session_criteria (
    session_id   TEXT NOT NULL REFERENCES sessions(session_id),
    position     INTEGER NOT NULL,
    criterion_id TEXT NOT NULL,
    category     INTEGER NOT NULL,
    level        TEXT NOT NULL CHECK (level IN {_in(LEVELS)}),
    PRIMARY KEY (session_id, criterion_id)
)""", f"""
CREATE TABLE answers (
    session_id         TEXT NOT NULL REFERENCES sessions(session_id),
    criterion_id       TEXT NOT NULL,
    facility_id        TEXT NOT NULL DEFAULT '',
    status             TEXT CHECK (status IS NULL OR status IN {_in(ANSWER_STATUSES)}),
    method             TEXT CHECK (method IS NULL OR method IN {_in(OBSERVATION_METHODS)}),
    notes              TEXT NOT NULL DEFAULT '',
    evidence_requested TEXT NOT NULL DEFAULT '',
    evidence_received  INTEGER CHECK (evidence_received IS NULL OR evidence_received IN (0, 1)),
    answered_by        TEXT NOT NULL,
    answered_at        TEXT NOT NULL,
    PRIMARY KEY (session_id, criterion_id, facility_id),
    FOREIGN KEY (session_id, criterion_id) REFERENCES session_criteria(session_id, criterion_id)
)""", """
CREATE TABLE evidence (
    evidence_id  INTEGER PRIMARY KEY,
    session_id   TEXT NOT NULL REFERENCES sessions(session_id),
    criterion_id TEXT NOT NULL,
    facility_id  TEXT NOT NULL DEFAULT '',
    sha256       TEXT NOT NULL,
    name         TEXT NOT NULL,
    size         INTEGER NOT NULL,
    media_type   TEXT NOT NULL,
    added_by     TEXT NOT NULL,
    added_at     TEXT NOT NULL,
    UNIQUE (session_id, criterion_id, facility_id, sha256),
    FOREIGN KEY (session_id, criterion_id) REFERENCES session_criteria(session_id, criterion_id)
)""", """
CREATE INDEX evidence_sha ON evidence(sha256)""")

BEST_PRACTICES = ("""
CREATE TABLE best_practices (
    practice_id  INTEGER PRIMARY KEY,
    session_id   TEXT NOT NULL REFERENCES sessions(session_id),
    criterion_id TEXT NOT NULL DEFAULT '',
    text         TEXT NOT NULL,
    recorded_by  TEXT NOT NULL,
    recorded_at  TEXT NOT NULL
)""", """
CREATE INDEX best_practices_session ON best_practices(session_id, practice_id)""")

#: The audit log (see :mod:`ctpat_audit.workspace.audit`): the triggers refuse UPDATE and
#: DELETE, so the toolkit itself cannot rewrite history by mistake.
AUDIT_LOG = ("""
CREATE TABLE audit_log (
    seq        INTEGER PRIMARY KEY,
    at         TEXT NOT NULL,
    actor      TEXT NOT NULL,
    action     TEXT NOT NULL,
    session_id TEXT,
    target     TEXT NOT NULL,
    old_value  TEXT NOT NULL,
    new_value  TEXT NOT NULL,
    prev_hash  TEXT NOT NULL,
    hash       TEXT NOT NULL
)""", """
CREATE INDEX audit_log_session ON audit_log(session_id, seq)""", """
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only: entries cannot be changed'); END""", """
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only: entries cannot be deleted'); END""")


#: Signed manifests pinning the audit-log head (:mod:`ctpat_audit.workspace.anchors`).
LOG_ANCHORS = ("""
CREATE TABLE log_anchors (
    anchor_id  INTEGER PRIMARY KEY,
    seq        INTEGER NOT NULL,
    head       TEXT NOT NULL,
    session_id TEXT NOT NULL,
    manifest   BLOB NOT NULL,
    signature  BLOB NOT NULL
)""", """
CREATE INDEX log_anchors_seq ON log_anchors(seq)""", """
CREATE INDEX audit_log_action ON audit_log(action, seq)""")
ANCHORED_FROM_KEY = "anchored_from_seq"

#: The team server's people (:mod:`ctpat_audit.workspace.people`); every change is logged.
PEOPLE = (f"""
CREATE TABLE people (
    hub_user  TEXT PRIMARY KEY,
    name      TEXT NOT NULL,
    email     TEXT NOT NULL UNIQUE,
    role      TEXT NOT NULL CHECK (role IN {_in(PERSON_ROLES)}),
    active    INTEGER NOT NULL DEFAULT 1 CHECK (active IN (0, 1)),
    person_id TEXT,
    added_by  TEXT NOT NULL,
    added_at  TEXT NOT NULL
)""",)


def statements() -> tuple[str, ...]:
    """Every statement of the current schema, in creation order (partners before the rest)."""
    return (META, *(table_ddl(t) for t in SQL_TABLES), *SESSIONS, *BEST_PRACTICES, *AUDIT_LOG,
            *LOG_ANCHORS, *PEOPLE)


# --- migrations ---------------------------------------------------------------------------

@dataclass(frozen=True)
class Migration:
    """One step: the SQL that turns a version ``version - 1`` database into ``version``."""

    version: int
    summary: str
    statements: tuple[str, ...]


_V1_LAZY_TABLES = ("""
CREATE TABLE IF NOT EXISTS sessions (
    session_id        TEXT PRIMARY KEY,
    account_id        TEXT NOT NULL REFERENCES partners(account_id),
    kind              TEXT NOT NULL CHECK (kind IN ('validation', 'self_assessment')),
    mode              TEXT NOT NULL CHECK (mode IN ('in_person', 'virtual', 'none')),
    catalogue_version TEXT NOT NULL,
    opened_by         TEXT NOT NULL,
    opened_at         TEXT NOT NULL,
    facilities        TEXT NOT NULL DEFAULT '[]',
    status            TEXT NOT NULL DEFAULT 'open'
                      CHECK (status IN ('open', 'submitted', 'signed', 'superseded')),
    supersedes        TEXT REFERENCES sessions(session_id),
    submitted_by      TEXT,
    submitted_at      TEXT,
    signed_by         TEXT,
    signed_at         TEXT
)""", """
CREATE INDEX IF NOT EXISTS sessions_account ON sessions(account_id, kind, status)""", """
CREATE TABLE IF NOT EXISTS session_criteria (
    session_id   TEXT NOT NULL REFERENCES sessions(session_id),
    position     INTEGER NOT NULL,
    criterion_id TEXT NOT NULL,
    category     INTEGER NOT NULL,
    level        TEXT NOT NULL CHECK (level IN ('Must', 'Should')),
    PRIMARY KEY (session_id, criterion_id)
)""", """
CREATE TABLE IF NOT EXISTS answers (
    session_id         TEXT NOT NULL REFERENCES sessions(session_id),
    criterion_id       TEXT NOT NULL,
    facility_id        TEXT NOT NULL DEFAULT '',
    status             TEXT CHECK (status IS NULL OR status IN ('meets', 'does_not_meet',
                                                                'not_applicable', 'not_verified')),
    method             TEXT CHECK (method IS NULL OR method IN ('observed_on_site', 'live_video',
                                                                'photos_video_submitted',
                                                                'document_review', 'interview')),
    notes              TEXT NOT NULL DEFAULT '',
    evidence_requested TEXT NOT NULL DEFAULT '',
    evidence_received  INTEGER CHECK (evidence_received IS NULL OR evidence_received IN (0, 1)),
    answered_by        TEXT NOT NULL,
    answered_at        TEXT NOT NULL,
    PRIMARY KEY (session_id, criterion_id, facility_id),
    FOREIGN KEY (session_id, criterion_id) REFERENCES session_criteria(session_id, criterion_id)
)""", """
CREATE TABLE IF NOT EXISTS evidence (
    evidence_id  INTEGER PRIMARY KEY,
    session_id   TEXT NOT NULL REFERENCES sessions(session_id),
    criterion_id TEXT NOT NULL,
    facility_id  TEXT NOT NULL DEFAULT '',
    sha256       TEXT NOT NULL,
    name         TEXT NOT NULL,
    size         INTEGER NOT NULL,
    media_type   TEXT NOT NULL,
    added_by     TEXT NOT NULL,
    added_at     TEXT NOT NULL,
    UNIQUE (session_id, criterion_id, facility_id, sha256),
    FOREIGN KEY (session_id, criterion_id) REFERENCES session_criteria(session_id, criterion_id)
)""", """
CREATE INDEX IF NOT EXISTS evidence_sha ON evidence(sha256)""", """
CREATE TABLE IF NOT EXISTS audit_log (
    seq        INTEGER PRIMARY KEY,
    at         TEXT NOT NULL,
    actor      TEXT NOT NULL,
    action     TEXT NOT NULL,
    session_id TEXT,
    target     TEXT NOT NULL,
    old_value  TEXT NOT NULL,
    new_value  TEXT NOT NULL,
    prev_hash  TEXT NOT NULL,
    hash       TEXT NOT NULL
)""", """
CREATE INDEX IF NOT EXISTS audit_log_session ON audit_log(session_id, seq)""", """
CREATE TRIGGER IF NOT EXISTS audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only: entries cannot be changed'); END""", """
CREATE TRIGGER IF NOT EXISTS audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only: entries cannot be deleted'); END""", """
CREATE TABLE IF NOT EXISTS best_practices (
    practice_id  INTEGER PRIMARY KEY,
    session_id   TEXT NOT NULL REFERENCES sessions(session_id),
    criterion_id TEXT NOT NULL DEFAULT '',
    text         TEXT NOT NULL,
    recorded_by  TEXT NOT NULL,
    recorded_at  TEXT NOT NULL
)""")

#: Step ``i`` turns version ``i + 1`` into ``i + 2``.
MIGRATIONS: tuple[Migration, ...] = (
    Migration(2, "create the tables version 1 made on first use (sessions, pinned criteria, "
                 "answers, evidence, audit log, best practices); index best practices by "
                 "session",
              (*_V1_LAZY_TABLES, """
CREATE INDEX best_practices_session ON best_practices(session_id, practice_id)""")),
    Migration(3, "create log_anchors (signed manifests pinning the audit-log head); sign "
                 "entries already in the log stay unanchored (anchored_from_seq); index the "
                 "log by action",
              ("""
CREATE TABLE log_anchors (
    anchor_id  INTEGER PRIMARY KEY,
    seq        INTEGER NOT NULL,
    head       TEXT NOT NULL,
    session_id TEXT NOT NULL,
    manifest   BLOB NOT NULL,
    signature  BLOB NOT NULL
)""", """
CREATE INDEX log_anchors_seq ON log_anchors(seq)""", """
CREATE INDEX audit_log_action ON audit_log(action, seq)""", """
INSERT INTO meta (key, value)
SELECT 'anchored_from_seq', CAST(COALESCE(MAX(seq), 0) + 1 AS TEXT) FROM audit_log""")),
    Migration(4, "create people (the team server's accounts and their roles)",
              ("""
CREATE TABLE people (
    hub_user  TEXT PRIMARY KEY,
    name      TEXT NOT NULL,
    email     TEXT NOT NULL UNIQUE,
    role      TEXT NOT NULL CHECK (role IN ('specialist', 'supervisor', 'admin')),
    active    INTEGER NOT NULL DEFAULT 1 CHECK (active IN (0, 1)),
    person_id TEXT,
    added_by  TEXT NOT NULL,
    added_at  TEXT NOT NULL
)""",)),
)


# --- reading, creating, migrating -----------------------------------------------------------

def read_version(conn: sqlite3.Connection) -> int | None:
    """The stored schema version; None when the database has no ``meta`` table (a new file)."""
    try:
        row = conn.execute("SELECT value FROM meta WHERE key = ?", (VERSION_KEY,)).fetchone()
    except sqlite3.OperationalError as exc:
        if "no such table" in str(exc):
            return None
        raise
    if row is None:
        return 0
    try:
        return int(row[0])
    except (TypeError, ValueError):
        return -1


def create(conn: sqlite3.Connection) -> None:
    """Build the current schema in a new, empty database (one write transaction); a database
    that has a schema by the time the write lock is held (another process created it) is left
    as it is."""
    with db.write(conn):
        if read_version(conn) is not None:
            return
        for stmt in statements():
            conn.execute(stmt)
        conn.execute("INSERT INTO meta (key, value) VALUES (?, ?), (?, '1')",
                     (VERSION_KEY, str(SCHEMA_VERSION), ANCHORED_FROM_KEY))


def ensure_current(conn: sqlite3.Connection, where: str | Path) -> int:
    """Check the database's schema version and migrate an older one; returns the version
    found before any migration. ``where`` names the workspace in error messages.

    Refused (:class:`WorkspaceError`): a database without a version (not a workspace), one
    newer than this code, and an older one that cannot be written (a read-only copy).
    """
    found = read_version(conn)
    if found == SCHEMA_VERSION:
        return found
    _check_known(found, where)
    assert found is not None
    readonly = bool(conn.execute("PRAGMA query_only").fetchone()[0])
    try:
        if readonly:  # a reader brings the file up to date once, then reads as asked
            conn.execute("PRAGMA query_only=OFF")
        migrate(conn, where)
    except sqlite3.OperationalError as exc:
        hint = ("; open it once where its folder can be written"
                if "readonly" in str(exc) else "; nothing was changed")
        raise WorkspaceError(where, f"the workspace has schema version {found} and needs "
                             f"migrating to version {SCHEMA_VERSION}, which failed: "
                             f"{exc}{hint}") from exc
    finally:
        if readonly:
            conn.execute("PRAGMA query_only=ON")
    return found


def migrate(conn: sqlite3.Connection, where: str | Path) -> None:
    """Apply every step from the stored version to :data:`SCHEMA_VERSION` in one
    ``BEGIN IMMEDIATE`` transaction; the version is read again under the write lock."""
    with db.write(conn):
        found = read_version(conn)
        _check_known(found, where)
        assert found is not None
        for step in MIGRATIONS[found - 1:]:
            for stmt in step.statements:
                conn.execute(stmt)
        conn.execute("UPDATE meta SET value = ? WHERE key = ?",
                     (str(SCHEMA_VERSION), VERSION_KEY))


def _check_known(found: int | None, where: str | Path) -> None:
    if found is None or found < 1:
        raise WorkspaceError(where, "the database has no valid schema version in its meta "
                             "table: it is not a ctpat-audit workspace database (or it is "
                             "damaged); create a workspace with `ctpat-audit init`")
    if found > SCHEMA_VERSION:
        raise WorkspaceError(where, f"the workspace has schema version {found}, written by a "
                             "newer ctpat-audit; this version reads schema versions 1 to "
                             f"{SCHEMA_VERSION}: upgrade ctpat-audit to open it")


def _check_steps() -> None:
    versions = [m.version for m in MIGRATIONS]
    if versions != list(range(2, SCHEMA_VERSION + 1)):
        raise AssertionError(f"migration steps {versions} do not lead from 1 to "
                             f"{SCHEMA_VERSION} one version at a time")


_check_steps()
