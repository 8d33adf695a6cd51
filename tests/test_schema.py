"""The workspace schema: one definition, a version that every opener reads, migrations.

``tests/data/workspace-v1/`` was written by release a397334 (schema version 1; see
``tests/data/make_workspace_v1.py``); every test works on a copy of it.
"""
from __future__ import annotations

import re
import shutil
import sqlite3
from pathlib import Path

import pytest
from session_helpers import make_workspace

from ctpat_audit.batch.run import select_sessions
from ctpat_audit.core.errors import WorkspaceError
from ctpat_audit.sessions.session import list_sessions, resume_session
from ctpat_audit.trust.signing import demo_keys
from ctpat_audit.workspace import db, schema
from ctpat_audit.workspace.audit import verify_audit_log
from ctpat_audit.workspace.reference import Workspace, init_workspace, open_workspace

V1 = Path(__file__).parent / "data" / "workspace-v1"


def v1_copy(tmp_path: Path) -> Path:
    dest = tmp_path / "ws-v1"
    shutil.copytree(V1, dest)
    return dest


def raw(path: Path) -> sqlite3.Connection:
    """A plain connection that does not check or migrate anything."""
    return sqlite3.connect(Workspace(path).db_path)


def version(path: Path) -> str:
    conn = raw(path)
    try:
        return conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()[0]
    finally:
        conn.close()


def objects(path: Path) -> dict[tuple[str, str], str]:
    """Every table, index and trigger with its SQL, whitespace normalised."""
    conn = raw(path)
    try:
        rows = conn.execute("SELECT type, name, sql FROM sqlite_master WHERE sql IS NOT NULL")
        return {(t, n): re.sub(r"\s+", " ", s).strip() for t, n, s in rows}
    finally:
        conn.close()


def test_the_fixture_is_a_version_1_workspace():
    assert version(V1) == "1"
    assert not any(p.name.endswith(("-wal", "-shm")) for p in V1.iterdir())
    assert sum(p.stat().st_size for p in V1.rglob("*") if p.is_file()) < 1_000_000


def test_a_new_workspace_has_every_table_at_the_current_version(tmp_path):
    ws = init_workspace(tmp_path / "ws")
    assert version(ws.path) == str(schema.SCHEMA_VERSION) == "4"
    names = {n for (t, n) in objects(ws.path) if t == "table"}
    assert names == {"meta", "partners", "entities", "facilities", "contacts",
                     "profile_responses", "outreach", "sessions", "session_criteria", "answers",
                     "evidence", "best_practices", "audit_log", "log_anchors", "people"}
    assert ("index", "best_practices_session") in objects(ws.path)
    assert {("trigger", "audit_log_no_update"), ("trigger", "audit_log_no_delete")} <= set(
        objects(ws.path))


def test_version_1_migrates_to_exactly_the_current_schema(tmp_path):
    fresh = init_workspace(tmp_path / "fresh")
    old = v1_copy(tmp_path)
    before = objects(old)
    assert ("index", "best_practices_session") not in before
    open_workspace(old)
    assert version(old) == "4"
    assert objects(old) == objects(fresh.path)


def test_a_version_1_workspace_that_never_opened_a_session_migrates_too(tmp_path):
    """Release a397334 created the session tables and the audit log on first use."""
    old = v1_copy(tmp_path)
    conn = raw(old)
    for name in ("audit_log", "best_practices", "evidence", "answers", "session_criteria",
                 "sessions"):
        conn.execute(f"DROP TABLE {name}")  # the triggers and indexes go with their tables
    conn.commit()
    conn.close()
    assert {n for (t, n) in objects(old) if t == "table"} == {
        "meta", "partners", "entities", "facilities", "contacts", "profile_responses",
        "outreach"}
    fresh = init_workspace(tmp_path / "fresh")
    init_workspace(old)  # init on an existing workspace completes it the same way
    assert version(old) == "4" and objects(old) == objects(fresh.path)


def test_migrated_workspace_loads_resumes_and_verifies(tmp_path):
    ws = open_workspace(v1_copy(tmp_path))
    partners = ws.partners()
    assert len(partners) == 5
    account = min(partners["account_id"])
    p = ws.partner(account)
    assert p.entity_types and len(p.shipments) > 0 and len(p.responses) > 0
    sessions = list_sessions(ws).set_index("kind")
    assert sessions["status"].to_dict() == {"validation": "open",
                                            "self_assessment": "submitted"}
    with resume_session(ws, sessions.loc["validation", "session_id"]) as s:
        answered = s.answers()
        assert answered["status"].tolist() == ["meets", "does_not_meet", "not_verified"]
        assert answered["notes"].iloc[1] == "Staff could not describe the procedure."
        assert s.evidence()["name"].tolist() == ["interview-notes.txt"]
        assert s.read_evidence(s.evidence()["sha256"].iloc[0]) == b"Interview notes (fixture).\n"
        assert s.best_practices()["text"].tolist() == [
            "Quarterly unannounced walk-through by senior managers."]
        # the session carries on under the current code
        s.answer(s.criteria[3].criterion_id, status="meets", method="document_review")
        s.record_best_practice("Seal photos kept with each bill of lading.")
        assert len(s.best_practices()) == 2
    with resume_session(ws, sessions.loc["self_assessment", "session_id"]) as sa:
        assert sa.answers()["status"].tolist() == ["meets", "does_not_meet"]
    conn = ws.connect(readonly=True)
    try:
        result = verify_audit_log(conn)
    finally:
        conn.close()
    assert result.ok, str(result)
    assert result.entries == 10 + 2  # the release's entries and the two added above


def test_a_read_only_connection_migrates_first(tmp_path):
    ws = Workspace(v1_copy(tmp_path))  # not opened yet
    conn = ws.connect(readonly=True)
    try:
        assert conn.execute("PRAGMA query_only").fetchone()[0] == 1
        assert conn.execute("SELECT value FROM meta WHERE key = 'schema_version'"
                            ).fetchone()[0] == "4"
        with pytest.raises(sqlite3.OperationalError, match="readonly"):
            conn.execute("DELETE FROM meta")
    finally:
        conn.close()


def test_an_old_database_that_cannot_be_written_is_refused_clearly(tmp_path):
    old = v1_copy(tmp_path)
    conn = sqlite3.connect(f"file:{Workspace(old).db_path}?mode=ro", uri=True)
    try:
        with pytest.raises(WorkspaceError, match="schema version 1 and needs migrating to "
                                                 "version 4"):
            schema.ensure_current(conn, old)
    finally:
        conn.close()
    assert version(old) == "1"


def test_a_failing_step_leaves_the_old_version_whole(tmp_path, monkeypatch):
    old = v1_copy(tmp_path)
    before = objects(old)
    step = schema.MIGRATIONS[0]
    broken = schema.Migration(2, step.summary, (*step.statements, "CREATE TABLE broken ("))
    monkeypatch.setattr(schema, "MIGRATIONS", (broken,))
    with pytest.raises(WorkspaceError, match="needs migrating"):
        open_workspace(old)
    assert version(old) == "1" and objects(old) == before


def test_a_migration_done_meanwhile_by_another_process_is_not_repeated(tmp_path):
    old = v1_copy(tmp_path)
    late = db.connect(Workspace(old).db_path)  # read version 1 before the other one migrated
    assert schema.read_version(late) == 1
    open_workspace(old)
    schema.migrate(late, old)  # re-reads the version under the write lock: nothing to do
    late.close()
    assert version(old) == "4"


def _set_version(path: Path, value: str) -> None:
    conn = raw(path)
    conn.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", (value,))
    conn.commit()
    conn.close()


OPENERS = {
    "open_workspace": open_workspace,
    "init_workspace": init_workspace,
    "read-only connection": lambda p: Workspace(p).connect(readonly=True),
    "sessions": list_sessions,
    "batch selection": select_sessions,
    "signing (demo keys)": lambda p: demo_keys(p, "passphrase-not-used"),
}


@pytest.mark.parametrize("opener", list(OPENERS))
def test_a_workspace_newer_than_the_code_is_refused_by_every_opener(tmp_path, opener):
    ws = make_workspace(tmp_path / "ws")
    _set_version(ws.path, "5")
    with pytest.raises(WorkspaceError) as e:
        OPENERS[opener](ws.path)
    assert "schema version 5" in str(e.value) and "versions 1 to 4" in str(e.value)
    assert "upgrade ctpat-audit" in str(e.value)
    assert version(ws.path) == "5"


@pytest.mark.parametrize("value", ["", "two", "0"])
def test_a_database_without_a_valid_version_is_refused(tmp_path, value):
    ws = make_workspace(tmp_path / "ws")
    _set_version(ws.path, value)
    with pytest.raises(WorkspaceError, match="no valid schema version"):
        open_workspace(ws.path)


def test_a_migrated_log_anchors_only_the_signatures_made_after(tmp_path):
    old = v1_copy(tmp_path)
    conn = raw(old)
    last = conn.execute("SELECT COALESCE(MAX(seq), 0) FROM audit_log").fetchone()[0]
    conn.close()
    open_workspace(old)
    conn = raw(old)
    assert conn.execute("SELECT value FROM meta WHERE key = 'anchored_from_seq'"
                        ).fetchone()[0] == str(last + 1)
    conn.close()


def test_migration_steps_lead_one_version_at_a_time():
    assert [m.version for m in schema.MIGRATIONS] == list(range(2, schema.SCHEMA_VERSION + 1))
    for step in schema.MIGRATIONS:
        assert step.summary and step.statements


def test_creating_a_database_another_connection_just_created_changes_nothing(tmp_path):
    """Two ``init`` at once: both saw an empty file; the second finds the schema under the
    write lock and leaves it."""
    path = tmp_path / "new.sqlite"
    first, second = db.connect(path), db.connect(path)
    try:
        assert schema.read_version(first) is None and schema.read_version(second) is None
        schema.create(first)
        schema.create(second)
        assert schema.read_version(second) == schema.SCHEMA_VERSION
        assert second.execute("SELECT count(*) FROM meta").fetchone()[0] == 2  # + anchoring
    finally:
        first.close()
        second.close()


def test_a_migrated_workspace_equals_the_replay_of_its_log(tmp_path):
    """Entries written before the log recorded pinned criteria still replay to the tables."""
    from ctpat_audit.trust.record import verify_record

    ws = open_workspace(v1_copy(tmp_path))
    result = verify_record(ws)
    assert result.ok, result.lines()
    conn = raw(ws.path)
    conn.execute("UPDATE answers SET notes = 'changed' WHERE rowid = 1")
    conn.commit()
    conn.close()
    assert [d.field for d in verify_record(ws).state] == ["notes"]
