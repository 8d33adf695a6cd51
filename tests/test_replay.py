"""The state tables equal the replay of the audit log; any direct edit of them is found.

Every edit here is made the way an attacker with write access to ``ctpat.sqlite`` would: with
plain ``sqlite3`` on a real workspace, outside ctpat-audit.
"""
from __future__ import annotations

import sqlite3

import pytest
from click.testing import CliRunner
from session_helpers import ACCOUNT, CRITERIA, FACILITIES, FakeClock, make_workspace

from ctpat_audit.cli import main
from ctpat_audit.core.errors import EvidenceError, InputError, SessionRuleError
from ctpat_audit.core.vocabulary import ANSWER_STATUSES, OBSERVATION_METHODS
from ctpat_audit.sessions.session import open_session
from ctpat_audit.workspace.replay import differences, replay, state_problem


@pytest.fixture
def ws(tmp_path):
    """A workspace with a submitted in-person validation revised into an open one, and
    answers, notes, methods, evidence and best practices in both."""
    ws = make_workspace(tmp_path / "ws")
    clock = FakeClock()
    with open_session(ws, ACCOUNT, "validation", "in_person", "spec@cbp.example",
                      facilities=FACILITIES[:2], criteria=CRITERIA, catalogue_version="test",
                      clock=clock) as s:
        for cid, _ in CRITERIA:
            for fid in FACILITIES[:2]:
                s.answer(cid, facility_id=fid, status="does_not_meet", notes=f"seen {cid}",
                         method="observed_on_site")
        s.attach("6.1", "seal.jpg", b"\xff\xd8 photo of a seal", facility_id=FACILITIES[0])
        s.record_best_practice("Seals checked twice by two people", criterion_id="6.1")
        s.submit("spec@cbp.example")
        rev = s.new_revision("spec@cbp.example")
        rev.answer("1.1", facility_id=FACILITIES[1], status="meets", notes="fixed")
        rev.record_best_practice("Cameras at every dock door")
        ids = (s.id, rev.id)
        rev.close()
    return ws, ids


def _edit(ws, sql: str, *args) -> None:
    conn = sqlite3.connect(ws.db_path)
    with conn:
        conn.execute(sql, args)
    conn.close()


def _diffs(ws, ids=None):
    conn = ws.connect(readonly=True)
    try:
        return differences(conn, ids)
    finally:
        conn.close()


def test_untouched_workspace_equals_its_replay(ws):
    ws, (first, rev) = ws
    assert _diffs(ws) == []
    conn = ws.connect(readonly=True)
    state = replay(conn)
    conn.close()
    assert state.sessions[first].row["status"] == "superseded"
    assert state.sessions[rev].answers[("1.1", FACILITIES[1])]["status"] == "meets"
    assert state.sessions[rev].answers[("3.1", FACILITIES[0])]["answered_by"] == \
        "spec@cbp.example"
    assert [p["text"] for p in state.sessions[rev].practices] == [
        "Seals checked twice by two people", "Cameras at every dock door"]


@pytest.mark.parametrize(("sql", "table", "field", "logged", "stored"), [
    ("UPDATE answers SET status = 'meets' WHERE session_id = :rev AND criterion_id = '6.1' "
     "AND facility_id = 'PLANT-1'", "answers", "status", "does_not_meet", "meets"),
    ("UPDATE answers SET notes = 'all good' WHERE session_id = :rev AND criterion_id = '6.1' "
     "AND facility_id = 'PLANT-1'", "answers", "notes", "seen 6.1", "all good"),
    ("UPDATE answers SET method = 'interview' WHERE session_id = :rev AND criterion_id = '6.1' "
     "AND facility_id = 'PLANT-1'", "answers", "method", "observed_on_site", "interview"),
    ("UPDATE answers SET answered_by = 'boss@cbp.example' WHERE session_id = :rev AND "
     "criterion_id = '6.1' AND facility_id = 'PLANT-1'", "answers", "answered_by",
     "spec@cbp.example", "boss@cbp.example"),
    ("DELETE FROM answers WHERE session_id = :rev AND criterion_id = '6.1' AND "
     "facility_id = 'PLANT-1'", "answers", "row", "a row", "no row"),
    ("INSERT INTO answers (session_id, criterion_id, facility_id, status, notes, answered_by, "
     "answered_at) VALUES (:rev, '6.1', 'DC-3', 'meets', '', 'x', 'y')", "answers", "row",
     "no row", "a row"),
    ("UPDATE evidence SET name = 'other.jpg' WHERE session_id = :rev", "evidence", "name",
     "seal.jpg", "other.jpg"),
    ("UPDATE evidence SET sha256 = 'ab' || substr(sha256, 3) WHERE session_id = :rev",
     "evidence", None, "a row", "no row"),
    ("DELETE FROM evidence WHERE session_id = :rev", "evidence", None, "a row", "no row"),
    ("UPDATE best_practices SET text = 'Nothing special' WHERE session_id = :rev AND "
     "criterion_id = ''", "best_practices", "text (practice 2)", "Cameras at every dock door",
     "Nothing special"),
    ("DELETE FROM best_practices WHERE session_id = :rev AND criterion_id = ''",
     "best_practices", "practice_id (practice 2)", 3, "no row"),
    ("INSERT INTO best_practices (session_id, criterion_id, text, recorded_by, recorded_at) "
     "VALUES (:rev, '', 'Invented', 'x', 'y')", "best_practices", "practice_id (practice 3)",
     "no row", 4),
    ("UPDATE best_practices SET practice_id = 10 WHERE practice_id = 3", "best_practices",
     "practice_id (practice 2)", 3, 10),
    ("UPDATE evidence SET evidence_id = 7 WHERE session_id = :rev", "evidence", "evidence_id",
     2, 7),
    ("UPDATE sessions SET status = 'submitted' WHERE session_id = :rev", "sessions", "status",
     "open", "submitted"),
    ("UPDATE sessions SET status = 'signed', signed_by = 'spec@cbp.example' WHERE "
     "session_id = :first", "sessions", "status", "superseded", "signed"),
    ("UPDATE sessions SET supersedes = NULL WHERE session_id = :rev", "sessions", "supersedes",
     ":first", None),
    ("UPDATE session_criteria SET level = 'Should' WHERE session_id = :rev AND "
     "criterion_id = '6.1'", "session_criteria", "level", "Must", "Should"),
])
def test_each_kind_of_edit_is_found_field_by_field(ws, sql, table, field, logged, stored):
    ws, (first, rev) = ws
    conn = sqlite3.connect(ws.db_path)
    with conn:
        conn.execute(sql, {"rev": rev, "first": first})
    conn.close()
    found = _diffs(ws)
    assert found, f"edit not found: {sql}"
    logged = first if logged == ":first" else logged
    show = {"a row": "(a row)", "no row": "(no row)"}
    want = (table, show.get(logged, logged), show.get(stored, stored))
    matching = [d for d in found if (d.table, d.logged, d.stored) == want
                and (field is None or d.field == field)]
    assert matching, [str(d) for d in found]
    d = matching[0]
    sid = first if ":first" in sql and "supersedes" not in sql else rev
    assert d.session_id == sid
    assert state_problem(ws.connect(readonly=True), sid) is not None
    assert f"session {sid}" in str(d) and f"table {table}" in str(d)


def test_an_edit_names_table_session_criterion_field_and_both_values(ws):
    ws, (_, rev) = ws
    _edit(ws, "UPDATE answers SET status = 'meets' WHERE session_id = ? AND "
          "criterion_id = '10.1' AND facility_id = 'WH-2'", rev)
    (d,) = _diffs(ws)
    assert str(d) == (f"table answers, session {rev}, criterion 10.1, facility WH-2, field "
                      "status: the audit log says 'does_not_meet', the table holds 'meets'")


def test_a_session_row_the_log_never_opened_is_found(ws):
    ws, _ = ws
    _edit(ws, "INSERT INTO sessions (session_id, account_id, kind, mode, catalogue_version, "
          "opened_by, opened_at) VALUES ('V-AAAAAAAAAA', ?, 'validation', 'virtual', 'test', "
          "'x', 'y')", ACCOUNT)
    found = _diffs(ws)
    assert [(d.table, d.session_id, d.logged, d.stored) for d in found] == [
        ("sessions", "V-AAAAAAAAAA", "(no row)", "(a row)")]


def test_another_sessions_edit_does_not_block_this_one(ws):
    ws, (first, rev) = ws
    _edit(ws, "UPDATE answers SET notes = 'x' WHERE session_id = ?", first)
    conn = ws.connect(readonly=True)
    assert state_problem(conn, rev) is None
    assert "criterion" in (state_problem(conn, first) or "")
    conn.close()


def test_audit_verify_reports_the_difference_and_exits_1(ws):
    ws, (_, rev) = ws
    ok = CliRunner().invoke(main, ["audit-verify", "-w", str(ws.path)])
    assert ok.exit_code == 0, ok.output
    _edit(ws, "UPDATE answers SET status = 'meets' WHERE session_id = ? AND "
          "criterion_id = '3.1' AND facility_id = 'PLANT-1'", rev)
    bad = CliRunner().invoke(main, ["audit-verify", "-w", str(ws.path)])
    assert bad.exit_code == 1
    assert (f"table answers, session {rev}, criterion 3.1, facility PLANT-1, field status: "
            "the audit log says 'does_not_meet', the table holds 'meets'") in bad.output


def test_an_entry_the_replay_cannot_apply_is_reported_not_raised(ws):
    """A log rewritten with junk (hashes recomputed or not) gives differences, never a crash."""
    ws, (_, rev) = ws
    conn = sqlite3.connect(ws.db_path)
    conn.execute("DROP TRIGGER audit_log_no_update")
    with conn:
        conn.execute("UPDATE audit_log SET new_value = json_set(new_value, '$.pinned', "
                     "json('[[\"6.1\", \"six\"]]')) WHERE session_id = ? AND "
                     "action = 'open_session'", (rev,))
    conn.close()
    found = _diffs(ws)
    assert any(d.table == "audit_log" and "pinned criteria" in str(d.logged) for d in found)
    assert any(d.session_id == rev and d.table == "answers" for d in found)


def test_any_sequence_of_session_actions_replays_to_exactly_the_tables(tmp_path_factory):
    """No false alarm: whatever a user does through the toolkit, the tables equal the replay
    (answers set and cleared, evidence, best practices, submissions, revisions)."""
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    action = st.one_of(
        st.tuples(st.just("answer"), st.sampled_from([c for c, _ in CRITERIA]),
                  st.sampled_from([None, *ANSWER_STATUSES]),
                  st.sampled_from([None, *OBSERVATION_METHODS]), st.text(max_size=20),
                  st.sampled_from([None, True, False])),
        st.tuples(st.just("attach"), st.sampled_from([c for c, _ in CRITERIA]),
                  st.binary(min_size=1, max_size=8), st.text(min_size=1, max_size=12)),
        st.tuples(st.just("practice"), st.sampled_from(["", "6.1"]),
                  st.text(min_size=1, max_size=30)),
        st.tuples(st.just("submit")), st.tuples(st.just("revise")))

    @settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
    @given(st.lists(action, max_size=14))
    def check(actions):
        ws = make_workspace(tmp_path_factory.mktemp("any"))
        s = open_session(ws, ACCOUNT, "validation", "virtual", "spec@cbp.example",
                         criteria=CRITERIA, catalogue_version="test", clock=FakeClock())
        try:
            for a in actions:
                try:
                    if a[0] == "answer":
                        s.answer(a[1], status=a[2], method=a[3], notes=a[4],
                                 evidence_received=a[5])
                    elif a[0] == "attach":
                        s.attach(a[1], a[3], a[2])
                    elif a[0] == "practice":
                        s.record_best_practice(a[2], criterion_id=a[1])
                    elif a[0] == "submit":
                        s.submit("spec@cbp.example")
                    else:
                        s = s.new_revision("spec@cbp.example")
                except (SessionRuleError, InputError, EvidenceError):
                    pass  # refused by a rule: nothing written
        finally:
            s.close()
        found = _diffs(ws)
        assert found == [], [str(d) for d in found]

    check()


def test_an_edited_answer_is_not_changed_further_so_the_edit_never_enters_the_log(ws):
    """Changing only the notes of a row whose status was edited would log the edited status
    under the specialist's name; the session refuses instead."""
    from ctpat_audit.core.errors import RecordError
    from ctpat_audit.sessions.session import resume_session

    ws, (_, rev) = ws
    _edit(ws, "UPDATE answers SET status = 'meets' WHERE session_id = ? AND "
          "criterion_id = '6.1' AND facility_id = 'PLANT-1'", rev)
    conn = sqlite3.connect(ws.db_path)
    entries = conn.execute("SELECT COUNT(*) FROM audit_log").fetchone()[0]
    conn.close()
    with resume_session(ws, rev) as s:
        with pytest.raises(RecordError, match=r"criterion 6\.1 at facility PLANT-1 was changed "
                                              r"outside ctpat-audit"):
            s.answer("6.1", facility_id="PLANT-1", notes="looked again")
        s.answer("3.1", facility_id="PLANT-1", notes="another answer is fine")
        _edit(ws, "DELETE FROM answers WHERE session_id = ? AND criterion_id = '9.1' AND "
              "facility_id = 'WH-2'", rev)
        with pytest.raises(RecordError, match=r"criterion 9\.1 at facility WH-2"):
            s.answer("9.1", facility_id="WH-2", status="meets")  # a deleted row: no fresh start
    conn = sqlite3.connect(ws.db_path)
    assert conn.execute("SELECT COUNT(*) FROM audit_log").fetchone()[0] == entries + 1
    conn.close()


def test_a_session_with_an_edit_is_not_revised(ws):
    """A revision copies the rows into the log: from an edited session it would log the edit."""
    from ctpat_audit.core.errors import RecordError
    from ctpat_audit.sessions.session import resume_session

    ws, (_, rev) = ws
    with resume_session(ws, rev) as s:
        s.submit("spec@cbp.example")
    _edit(ws, "UPDATE answers SET status = 'meets' WHERE session_id = ? AND "
          "criterion_id = '10.1'", rev)
    with resume_session(ws, rev) as s:
        with pytest.raises(RecordError, match=r"criterion 10\.1"):
            s.new_revision("spec@cbp.example")
        assert s.status == "submitted"


def _replay_steps(ws, sid: str) -> int:
    """SQLite virtual-machine steps (in tens) of replaying one session."""
    conn = ws.connect(readonly=True)
    steps = [0]

    def count() -> int:
        steps[0] += 1
        return 0
    conn.set_progress_handler(count, 10)
    try:
        replay(conn, [sid])
    finally:
        conn.close()
    return steps[0]


def test_replaying_one_session_does_not_read_the_other_sessions(ws):
    """Signing and rendering replay one session's log (several times a report in a batch):
    the work must not grow with the number of sessions in the workspace."""
    ws, (first, _) = ws
    before = _replay_steps(ws, first)
    clock = FakeClock()
    for i in range(200):
        open_session(ws, ACCOUNT, "validation", "in_person", f"spec{i}@cbp.example",
                     facilities=FACILITIES[:1], criteria=CRITERIA[:1],
                     catalogue_version="test", clock=clock).close()
    # 40 before and after with the session's own index; 133 after when SQLite read every
    # session's opening entry
    assert _replay_steps(ws, first) <= before + 10
