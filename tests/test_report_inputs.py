"""The stored inputs of a report, hashed: what changes the hash and what must not."""
from __future__ import annotations

from collections.abc import Callable

import pytest
from session_helpers import ACCOUNT, CRITERIA, OFFICER, FakeClock, make_workspace

from ctpat_audit.sessions.session import Session, open_session
from ctpat_audit.workspace import db, reference_store
from ctpat_audit.workspace.reference import CATALOGUES_DIR, Workspace
from ctpat_audit.workspace.report_inputs import session_inputs_hash

SPEC = "spec@cbp.example"


@pytest.fixture
def ws(tmp_path) -> Workspace:
    return make_workspace(tmp_path / "ws")


@pytest.fixture
def validation(ws):
    with open_session(ws, ACCOUNT, "validation", "virtual", SPEC, criteria=CRITERIA,
                      catalogue_version="test", clock=FakeClock()) as s:
        s.answer("6.1", status="meets", method="document_review")
        yield s


def digest(ws: Workspace, session_id: str) -> str:
    conn = ws.connect(readonly=True)
    try:
        return session_inputs_hash(conn, session_id)
    finally:
        conn.close()


def sql(ws: Workspace, statement: str, *args: object) -> None:
    conn = ws.connect()
    try:
        with db.write(conn):
            conn.execute(statement, args)
    finally:
        conn.close()


def self_assessment(ws: Workspace) -> None:
    with open_session(ws, ACCOUNT, "self_assessment", None, OFFICER, criteria=CRITERIA,
                      catalogue_version="test", clock=FakeClock()) as sa:
        sa.answer("6.1", status="does_not_meet")
        sa.submit(OFFICER)


CHANGES: dict[str, Callable[[Workspace, Session], None]] = {
    "answer": lambda ws, s: s.answer("3.1", status="does_not_meet", notes="no log"),
    "answer notes": lambda ws, s: s.answer("6.1", notes="seen on video"),
    "evidence": lambda ws, s: s.attach("6.1", "seal.jpg", b"jpeg"),
    "best practice": lambda ws, s: s.record_best_practice("Seal photo at each hand-off"),
    "submission": lambda ws, s: s.submit(SPEC),
    "partner row": lambda ws, s: sql(ws, "UPDATE partners SET legal_name = 'Renamed LLC' "
                                         "WHERE account_id = ?", ACCOUNT),
    "facility": lambda ws, s: sql(ws, "UPDATE facilities SET city = 'Saltillo' "
                                      "WHERE account_id = ? AND facility_id = 'WH-2'", ACCOUNT),
    "contact": lambda ws, s: sql(ws, "UPDATE contacts SET name = 'Ana O.' WHERE email = ?",
                                 OFFICER),
    "profile response": lambda ws, s: sql(
        ws, "INSERT INTO profile_responses VALUES (?, 2026, '6.1', 'We seal.', 1)", ACCOUNT),
    "outreach": lambda ws, s: sql(
        ws, "INSERT INTO outreach VALUES (?, '2026-01-05', 'email', 'no_response', '')",
        ACCOUNT),
    "self-assessment submitted": lambda ws, s: self_assessment(ws),
    "data snapshot": lambda ws, s: _meta(ws, source_sha256="ab" * 32),
    "shipments file": lambda ws, s: _meta(ws, shipments_file="exams/shipments-2.parquet"),
    "workspace catalogue": lambda ws, s: (ws.path / CATALOGUES_DIR / "test.json").write_text(
        '{"version": "test"}'),
}


def _meta(ws: Workspace, **items: str) -> None:
    conn = ws.connect()
    try:
        with db.write(conn):
            reference_store.write_meta(conn, items)
    finally:
        conn.close()


@pytest.mark.parametrize("change", list(CHANGES))
def test_every_input_of_the_report_changes_the_hash(ws, validation, change):
    before = digest(ws, validation.id)
    assert digest(ws, validation.id) == before  # stable
    CHANGES[change](ws, validation)
    assert digest(ws, validation.id) != before


def test_signing_other_sessions_and_other_partners_leave_it_alone(ws, validation):
    validation.submit(SPEC)
    before = digest(ws, validation.id)
    validation.lock("supervisor@cbp.example")  # status and signed_by/at: set by signing
    with open_session(ws, ACCOUNT, "validation", "virtual", SPEC, criteria=CRITERIA,
                      catalogue_version="test", clock=FakeClock()) as other:
        other.answer("6.1", status="does_not_meet", method="interview")
        other.record_best_practice("Another session's practice")
    sql(ws, "UPDATE partners SET legal_name = 'Other Renamed' WHERE account_id = '0099999'")
    with open_session(ws, ACCOUNT, "self_assessment", None, OFFICER, criteria=CRITERIA,
                      catalogue_version="test", clock=FakeClock()) as draft:
        draft.answer("6.1", status="meets")  # not submitted: the comparison ignores it
    assert digest(ws, validation.id) == before


def test_an_unknown_session_is_a_key_error(ws):
    with pytest.raises(KeyError):
        digest(ws, "V-AAAAAAAAAA")
