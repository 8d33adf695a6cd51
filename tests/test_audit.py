"""The audit log: append-only, hash-chained, and every kind of tampering is found."""
from __future__ import annotations

import itertools
import json
import sqlite3

import pytest
from session_helpers import ACCOUNT, CRITERIA, FakeClock, make_workspace

from ctpat_audit.sessions.session import open_session
from ctpat_audit.workspace import audit, db
from ctpat_audit.workspace.audit import GENESIS_HASH, entry_hash, verify_audit_log


@pytest.fixture
def logged(tmp_path):
    """A workspace whose audit log has 1 open + 5 answers = 6 entries."""
    ws = make_workspace(tmp_path / "ws")
    with open_session(ws, ACCOUNT, "validation", "virtual", "spec@cbp.example",
                      criteria=CRITERIA, catalogue_version="test", clock=FakeClock()) as s:
        for cid, _ in CRITERIA[:5]:
            s.answer(cid, status="does_not_meet", notes=f"note {cid}")
    conn = db.connect(ws.db_path)
    yield conn
    conn.close()


def _unguard(conn: sqlite3.Connection) -> None:
    """What someone editing the file directly would do first: drop the append-only triggers."""
    conn.execute("DROP TRIGGER audit_log_no_update")
    conn.execute("DROP TRIGGER audit_log_no_delete")


def _rows(conn):
    return [dict(r) for r in conn.execute("SELECT * FROM audit_log ORDER BY seq")]


def test_empty_log_verifies_with_genesis_head(tmp_path):
    ws = make_workspace(tmp_path / "ws")
    conn = ws.connect()
    result = verify_audit_log(conn)
    assert result.ok and result.entries == 0 and result.head_hash == GENESIS_HASH


def test_chain_links_and_head(logged):
    rows = _rows(logged)
    assert [r["seq"] for r in rows] == [1, 2, 3, 4, 5, 6]
    assert rows[0]["prev_hash"] == GENESIS_HASH
    for before, after in itertools.pairwise(rows):
        assert after["prev_hash"] == before["hash"]
    result = verify_audit_log(logged)
    assert result.ok, str(result)
    assert result.entries == 6 and result.head_hash == rows[-1]["hash"]
    assert [r["action"] for r in rows] == ["open_session"] + ["answer"] * 5
    assert json.loads(rows[1]["new_value"])["status"] == "does_not_meet"
    assert json.loads(rows[1]["old_value"]) is None


def test_triggers_refuse_update_and_delete(logged):
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        logged.execute("UPDATE audit_log SET actor = 'x' WHERE seq = 2")
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        logged.execute("DELETE FROM audit_log WHERE seq = 6")
    assert verify_audit_log(logged).ok


def test_append_outside_transaction_is_refused(logged):
    with pytest.raises(RuntimeError, match="write transaction"):
        audit.append(logged, at="t", actor="a", action="x", session_id=None, target={},
                     old=None, new=None)


def test_edited_entry_is_found(logged):
    _unguard(logged)
    logged.execute("UPDATE audit_log SET new_value = replace(new_value, 'does_not_meet', "
                   "'meets') WHERE seq = 3")
    result = verify_audit_log(logged)
    assert not result.ok and result.first_bad_seq == 3
    assert [p.code for p in result.problems] == ["hash_mismatch"]


def test_edit_with_recomputed_hash_breaks_the_next_link(logged):
    _unguard(logged)
    row = _rows(logged)[2]
    row["actor"] = "someone.else@example.com"
    logged.execute("UPDATE audit_log SET actor = ?, hash = ? WHERE seq = 3",
                   (row["actor"], entry_hash(row)))
    result = verify_audit_log(logged)
    assert not result.ok
    assert {(p.seq, p.code) for p in result.problems} == {(4, "broken_link")}


def test_deleted_entry_is_found(logged):
    _unguard(logged)
    logged.execute("DELETE FROM audit_log WHERE seq = 4")
    result = verify_audit_log(logged)
    assert not result.ok
    assert {(p.seq, p.code) for p in result.problems} == {(5, "seq_gap"), (5, "broken_link")}


def test_reordered_entries_are_found(logged):
    _unguard(logged)
    rows = _rows(logged)
    a, b = rows[2], rows[3]
    cols = [c for c in a if c != "seq"]
    for src, dst_seq in ((b, a["seq"]), (a, b["seq"])):
        logged.execute(f"UPDATE audit_log SET {', '.join(c + ' = ?' for c in cols)} "
                       "WHERE seq = ?", (*[src[c] for c in cols], dst_seq))
    result = verify_audit_log(logged)
    assert not result.ok and result.first_bad_seq == 3
    assert "hash_mismatch" in {p.code for p in result.problems}


def test_inserted_entry_is_found(logged):
    _unguard(logged)
    rows = _rows(logged)
    # Make room after seq 3 and insert a well-formed entry that links to seq 3.
    logged.execute("UPDATE audit_log SET seq = seq + 100 WHERE seq > 3")
    logged.execute("UPDATE audit_log SET seq = seq - 99 WHERE seq > 100")
    fake = {**rows[2], "seq": 4, "actor": "intruder", "prev_hash": rows[2]["hash"]}
    fake["hash"] = entry_hash(fake)
    logged.execute("INSERT INTO audit_log VALUES (:seq, :at, :actor, :action, :session_id, "
                   ":target, :old_value, :new_value, :prev_hash, :hash)", fake)
    result = verify_audit_log(logged)
    assert not result.ok
    codes = {(p.seq, p.code) for p in result.problems}
    assert (5, "broken_link") in codes  # the old seq 4 no longer links to what precedes it
    assert (5, "hash_mismatch") in codes  # and its seq changed under its hash


def test_truncated_tail_is_found_only_against_a_pinned_head(logged):
    pinned = verify_audit_log(logged).head_hash
    _unguard(logged)
    logged.execute("DELETE FROM audit_log WHERE seq = 6")
    assert verify_audit_log(logged).ok  # a clean prefix is still a valid chain
    result = verify_audit_log(logged, expected_head=pinned)
    assert not result.ok and [p.code for p in result.problems] == ["head_missing"]


def test_pinned_head_still_present_after_more_entries(logged, tmp_path):
    pinned = verify_audit_log(logged).head_hash
    with db.write(logged):
        audit.append(logged, at="2025-06-03T00:00:00+00:00", actor="a", action="note",
                     session_id=None, target={}, old=None, new={"x": 1})
    result = verify_audit_log(logged, expected_head=pinned)
    assert result.ok and result.entries == 7 and result.head_hash != pinned


def test_audit_entries_frame(logged):
    frame = audit.audit_entries(logged)
    assert len(frame) == 6 and str(frame["seq"].dtype) == "int64"
    assert frame["session_id"].iloc[0].startswith("V-")


def test_cli_audit_verify_and_sessions(logged, tmp_path):
    from click.testing import CliRunner

    from ctpat_audit.cli import main

    ws_path = str(tmp_path / "ws")
    runner = CliRunner()
    ok = runner.invoke(main, ["audit-verify", "-w", ws_path])
    assert ok.exit_code == 0 and "record OK: 6 audit-log entries" in ok.output
    listed = runner.invoke(main, ["sessions", "-w", ws_path, "--status", "open"])
    assert listed.exit_code == 0 and "V-" in listed.output and "virtual" in listed.output
    _unguard(logged)
    logged.execute("UPDATE audit_log SET actor = 'x' WHERE seq = 2")
    bad = runner.invoke(main, ["audit-verify", "-w", ws_path])
    assert bad.exit_code == 1 and "BROKEN" in bad.output and "seq 2: hash_mismatch" in bad.output


def _append(conn, n: int) -> None:
    for k in range(n):
        with db.write(conn):
            audit.append(conn, at=f"2026-11-0{k + 1}T00:00:00+00:00", actor="sup@cbp.example",
                         action="sign", session_id=None, target={"k": k}, old=None, new=k)


def test_checkpoint_checks_only_new_entries_and_finds_tampering(logged):
    """A batch worker verifies the chain in full once, then only what was appended since."""
    check = audit.ChainCheckpoint()
    first = check.verify(logged)
    assert first.ok and first.entries == 6 and check.mark == (6, first.head_hash)
    _append(logged, 3)
    second = check.verify(logged)
    assert second.ok and second.entries == 3 and check.mark[0] == 9
    assert second.head_hash == verify_audit_log(logged).head_hash
    # an entry appended after the checkpoint and then edited is found
    _append(logged, 2)
    _unguard(logged)
    logged.execute("UPDATE audit_log SET actor = 'mallory' WHERE seq = 10")
    logged.commit()
    bad = check.verify(logged)
    assert not bad.ok and bad.first_bad_seq == 10 and check.mark is None


def test_checkpoint_finds_a_rewritten_checkpoint_entry(logged):
    check = audit.ChainCheckpoint()
    assert check.verify(logged).ok
    _unguard(logged)
    logged.execute("UPDATE audit_log SET hash = ? WHERE seq = 6", ("f" * 64,))
    logged.commit()
    bad = check.verify(logged)
    assert not bad.ok and [p.code for p in bad.problems][:1] == ["checkpoint_changed"]


def test_checkpoint_refuses_a_damaged_database_first(logged, monkeypatch):
    monkeypatch.setattr(db, "integrity_ok", lambda conn: False)
    result = audit.ChainCheckpoint().verify(logged)
    assert not result.ok and result.problems[0].code == "integrity"
