"""Store and evidence files: schema, constraints, content-addressed evidence, safe names."""
from __future__ import annotations

import hashlib
import sqlite3

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from session_helpers import ACCOUNT, CRITERIA, FACILITIES, OFFICER, FakeClock, make_workspace

from ctpat_audit.core.errors import EvidenceError, InputError
from ctpat_audit.sessions.session import list_sessions, open_session
from ctpat_audit.workspace import db, evidence, store


@pytest.fixture
def ws(tmp_path):
    return make_workspace(tmp_path / "ws")


@pytest.fixture
def conn(ws):
    c = ws.connect()
    yield c
    c.close()


def test_workspace_connection_has_the_session_tables_and_pragmas(conn):
    names = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"sessions", "session_criteria", "answers", "evidence", "best_practices",
            "audit_log"} <= names
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1


def _session_row(**over):
    row = {"session_id": "V-AAAAAAAAAA", "account_id": ACCOUNT, "kind": "validation",
           "mode": "virtual", "catalogue_version": "test", "opened_by": "x",
           "opened_at": "2025-01-01T00:00:00+00:00", "facilities": [], "status": "open"}
    return {**row, **over}


def test_session_needs_an_existing_partner(conn):
    with pytest.raises(sqlite3.IntegrityError, match="FOREIGN KEY"):
        with db.write(conn):
            store.insert_session(conn, _session_row(account_id="nope"), [])
    assert store.get_session(conn, "V-AAAAAAAAAA") is None  # rolled back


@pytest.mark.parametrize("column,value", [("kind", "audit"), ("mode", "phone"),
                                          ("status", "closed")])
def test_session_checks_refuse_unknown_codes(conn, column, value):
    with pytest.raises(sqlite3.IntegrityError, match="CHECK"):
        with db.write(conn):
            store.insert_session(conn, _session_row(**{column: value}), [])


def test_answer_checks_and_criterion_foreign_key(conn):
    with db.write(conn):
        store.insert_session(conn, _session_row(), [store.PinnedCriterion("6.1", 6, "Must")])
    base = {"session_id": "V-AAAAAAAAAA", "criterion_id": "6.1", "facility_id": "",
            "status": "meets", "method": None, "notes": "", "evidence_requested": "",
            "evidence_received": None, "answered_by": "x", "answered_at": "t"}
    with db.write(conn):
        store.put_answer(conn, base)
    with db.write(conn):  # upsert, not a second row
        store.put_answer(conn, {**base, "status": "does_not_meet", "evidence_received": True})
    got = store.get_answer(conn, "V-AAAAAAAAAA", "6.1", "")
    assert got["status"] == "does_not_meet" and got["evidence_received"] is True
    assert len(store.answer_rows(conn, "V-AAAAAAAAAA")) == 1
    with pytest.raises(sqlite3.IntegrityError, match="CHECK"):
        with db.write(conn):
            store.put_answer(conn, {**base, "status": "great"})
    with pytest.raises(sqlite3.IntegrityError, match="FOREIGN KEY"):
        with db.write(conn):
            store.put_answer(conn, {**base, "criterion_id": "7.1"})


def test_sessions_frame_types_and_filters(ws):
    clock = FakeClock()
    a = open_session(ws, ACCOUNT, "validation", "in_person", "spec", facilities=["WH-2"],
                     criteria=CRITERIA, catalogue_version="test", clock=clock)
    b = open_session(ws, ACCOUNT, "self_assessment", None, OFFICER, criteria=CRITERIA,
                     catalogue_version="test", clock=clock)
    frame = list_sessions(ws)
    assert list(frame["session_id"]) == [b.id, a.id]  # newest first
    assert str(frame["account_id"].dtype) == "str"
    assert frame.loc[frame["session_id"] == a.id, "facilities"].iloc[0] == ["WH-2"]
    assert list(list_sessions(ws, kind="self_assessment")["session_id"]) == [b.id]
    assert list_sessions(ws, account_id="0099999").empty
    a.close(), b.close()


def test_reference_lookups(conn):
    assert store.contact_roles(conn, ACCOUNT, "  ANA.Officer@Example.com ") == ["Company Officer"]
    assert store.contact_roles(conn, "0099999", OFFICER) == []
    assert sorted(store.facility_ids(conn, ACCOUNT)) == sorted(FACILITIES)
    assert store.partner_exists(conn, ACCOUNT) and not store.partner_exists(conn, "0000000")


# --- evidence files ----------------------------------------------------------------------

def test_store_bytes_is_content_addressed_and_deduplicated(tmp_path):
    data = b"photo of the seal log"
    digest = hashlib.sha256(data).hexdigest()
    first = evidence.store_bytes(tmp_path, data)
    again = evidence.store_bytes(tmp_path, data)
    assert first.created and not again.created
    assert first.path == tmp_path / "evidence" / digest[:2] / digest == again.path
    assert first.path.read_bytes() == data and first.size == len(data)
    assert list((tmp_path / "evidence" / digest[:2]).iterdir()) == [first.path]  # no temp left
    assert evidence.read_bytes(tmp_path, digest) == data


def test_damaged_or_missing_evidence_is_reported(tmp_path):
    stored = evidence.store_bytes(tmp_path, b"original")
    stored.path.write_bytes(b"changed!")
    with pytest.raises(EvidenceError, match="does not match"):
        evidence.read_bytes(tmp_path, stored.sha256)
    with pytest.raises(EvidenceError, match="missing"):
        evidence.read_bytes(tmp_path, "0" * 64)


@pytest.mark.parametrize("bad", ["../" + "a" * 62, "A" * 64, "abc", "../../etc/passwd", 5])
def test_evidence_path_accepts_only_digests(tmp_path, bad):
    with pytest.raises(InputError):
        evidence.evidence_path(tmp_path, bad)


@pytest.mark.parametrize("bad", ["", "   ", ".", "..", "../secret.pdf", "a/b.pdf", "a\\b.pdf",
                                 "nul\x00.pdf", "tab\tname", "x" * 256, None])
def test_display_names_refused(bad):
    with pytest.raises(InputError, match="evidence file name"):
        evidence.clean_display_name(bad)


def test_display_name_cleaned():
    assert evidence.clean_display_name("  Cafe\u0301 seal log.PDF ") == "Caf\u00e9 seal log.PDF"
    assert evidence.media_type("seal.pdf") == "application/pdf"
    assert evidence.media_type("photo.JPG") == "image/jpeg"
    assert evidence.media_type("data.weird") == "application/octet-stream"


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=300))
def test_any_accepted_display_name_is_a_plain_name(name):
    try:
        cleaned = evidence.clean_display_name(name)
    except InputError:
        return
    assert "/" not in cleaned and "\\" not in cleaned and "\x00" not in cleaned
    assert cleaned not in ("", ".", "..") and len(cleaned) <= 255
