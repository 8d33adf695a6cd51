"""Workspace creation and the partner API."""
from __future__ import annotations

import pytest

from ctpat_audit.core.errors import NotFoundError, WorkspaceError
from ctpat_audit.intake.importer import import_source
from ctpat_audit.workspace import db
from ctpat_audit.workspace.reference import init_workspace, open_workspace


def test_init_creates_layout_and_is_idempotent(tmp_path):
    ws = init_workspace(tmp_path / "w")
    for sub in ("exams", "evidence", "keys", "catalogues"):
        assert (ws.path / sub).is_dir()
    init_workspace(tmp_path / "w")  # again: fine
    conn = ws.connect()
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    assert conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    assert db.integrity_ok(conn)
    conn.close()


def test_init_refuses_a_folder_with_other_files(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(WorkspaceError, match="other files"):
        init_workspace(tmp_path)


def test_open_missing_workspace_says_how_to_create_it(tmp_path):
    with pytest.raises(WorkspaceError, match="ctpat-audit init"):
        open_workspace(tmp_path / "nope")


def test_partner_loads_profile_contacts_responses_and_only_its_shipments(tmp_path, small_source):
    ws = init_workspace(tmp_path / "w")
    import_source(ws, small_source, progress=False)
    all_ship = ws.shipments()
    acc = all_ship["account_id"].value_counts().index[0]
    p = ws.partner(acc)
    assert p.account_id == acc and p.legal_name
    assert p.entity_types and set(p.entity_types) <= {
        "importer", "exporter", "foreign_manufacturer", "highway_carrier", "mexican_long_haul_carrier",
        "rail_carrier", "sea_carrier", "air_carrier", "marine_port_terminal_operator", "customs_broker",
        "third_party_logistics", "consolidator"}
    assert len(p.shipments) == (all_ship["account_id"] == acc).sum()
    assert set(p.responses["profile_year"]) == {2025, 2026}
    assert len(p.contacts) >= 2
    assert p.profile_anniversary.year in (2025, 2026, 2027)
    with pytest.raises(NotFoundError, match="leading zeros"):
        ws.partner("does-not-exist")


def test_a_writer_waits_for_the_write_lock_in_short_steps_and_gives_up_at_the_timeout(
        tmp_path, monkeypatch):
    """``db.write`` waits for a lock another connection holds (trying again every few
    milliseconds, not SQLite's sleeps of up to 100 ms), gets it once released, and after
    ``BUSY_TIMEOUT_MS`` raises SQLite's own error; the connection's busy timeout is kept."""
    import sqlite3
    import threading

    ws = init_workspace(tmp_path / "ws")
    holder, writer = db.connect(ws.db_path), db.connect(ws.db_path)
    holder.execute("BEGIN IMMEDIATE")
    release = threading.Timer(0.2, lambda: holder.execute("COMMIT"))
    release.start()
    with db.write(writer):
        writer.execute("INSERT INTO meta (key, value) VALUES ('waited', 'yes')")
    release.join()
    assert writer.execute("SELECT value FROM meta WHERE key = 'waited'").fetchone()[0] == "yes"
    holder.execute("BEGIN IMMEDIATE")
    monkeypatch.setattr(db, "BUSY_TIMEOUT_MS", 50)
    with pytest.raises(sqlite3.OperationalError, match="locked"):
        with db.write(writer):
            pass
    assert not writer.in_transaction
    assert writer.execute("PRAGMA busy_timeout").fetchone()[0] == 50
    holder.execute("ROLLBACK")
    holder.close()
    writer.close()
