"""The read-only snapshot a batch's workers render from: a consistent copy that cannot be
written, needs no -wal/-shm file, and outlives an import that replaces the workspace's files."""
from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from batch_helpers import install_read_only_guard
from session_helpers import ACCOUNT, CRITERIA, make_workspace
from signing_helpers import SPECIALIST

from ctpat_audit.intake.importer import import_source
from ctpat_audit.sessions.session import open_session, resume_session
from ctpat_audit.workspace.reference import init_workspace, open_workspace
from ctpat_audit.workspace.snapshot import make_snapshot, remove_snapshot, snapshot_info


def test_a_snapshot_reads_like_the_workspace_and_refuses_every_write(tmp_path: Path) -> None:
    ws = make_workspace(tmp_path / "ws")
    with open_session(ws, ACCOUNT, "validation", "virtual", SPECIALIST, criteria=CRITERIA,
                      catalogue_version="test") as s:
        s.answer("1.1", status="meets", method="document_review")
        s.attach("1.1", "seal.txt", b"seal log")
        sid = s.id
    snap = make_snapshot(ws, tmp_path / "snap", sessions=[sid])
    info = snapshot_info(snap)
    assert info is not None and info["workspace"] == str(ws.path.resolve())
    copy = open_workspace(snap)
    assert copy.is_snapshot and not ws.is_snapshot
    assert copy.partners().equals(ws.partners())
    with resume_session(copy, sid) as s:  # a session reads; its changes are refused
        assert s.answers()["status"].tolist() == ["meets"]
        assert s.read_evidence(s.evidence()["sha256"].iloc[0]) == b"seal log"
        with pytest.raises(sqlite3.OperationalError, match="readonly database"):
            s.answer("1.1", status="does_not_meet")
    conn = copy.connect()
    with pytest.raises(sqlite3.OperationalError, match="readonly database"):
        conn.execute("INSERT INTO meta (key, value) VALUES ('x', 'y')")
    conn.close()
    install_guard_and_read(snap)
    assert sorted(p.name for p in snap.iterdir()) == [
        "catalogues", "ctpat.sqlite", "evidence", "exams", "keys", "profile", "snapshot.json"]
    remove_snapshot(snap)
    assert not snap.exists()


def install_guard_and_read(snap: Path) -> None:
    """What a worker does runs under the guard the Dask test installs in its workers."""
    real = sqlite3.connect
    try:
        install_read_only_guard()
        assert len(open_workspace(snap).partners()) > 0
        with pytest.raises(PermissionError):
            open_workspace(Path(snapshot_info(snap)["workspace"]))  # type: ignore[arg-type]
    finally:
        sqlite3.connect = real  # type: ignore[assignment]


def test_an_import_after_the_snapshot_leaves_it_whole(tmp_path: Path, small_source: Path) -> None:
    ws = init_workspace(tmp_path / "ws")
    import_source(ws, small_source, progress=False)
    snap = make_snapshot(ws, tmp_path / "reports" / ".snapshots" / "one")
    before = open_workspace(snap).shipments()
    old_file = ws.shipments_path()
    import_source(ws, small_source, progress=False)  # a new shipments file; the old removed
    assert old_file is not None and not old_file.exists() and ws.shipments_path() != old_file
    assert open_workspace(snap).shipments().equals(before)
    assert ws.shipments().equals(before)
    with pytest.raises(Exception, match="exists"):
        make_snapshot(ws, snap)
    remove_snapshot(snap)
