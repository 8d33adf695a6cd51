"""Session rules and the Python API the checklist widget mirrors, on a real workspace."""
from __future__ import annotations

import json
import re
from datetime import datetime

import pytest
from session_helpers import ACCOUNT, CRITERIA, FACILITIES, OFFICER, USER, FakeClock, make_workspace

from benchmarks.operations import benchmark_autosave
from ctpat_audit.core.errors import InputError, NotFoundError, SessionRuleError
from ctpat_audit.sessions.session import (
    Session,
    find_open_session,
    list_sessions,
    new_session_id,
    open_session,
    resume_session,
)
from ctpat_audit.workspace import db
from ctpat_audit.workspace.audit import verify_audit_log
from ctpat_audit.workspace.reference import as_workspace

SPEC = "spec@cbp.example"


@pytest.fixture
def ws(tmp_path):
    return make_workspace(tmp_path / "ws")


def _open(ws, mode="virtual", kind="validation", opened_by=SPEC, **kw) -> Session:
    kw.setdefault("clock", FakeClock())
    return open_session(ws, ACCOUNT, kind, mode, opened_by, criteria=CRITERIA,
                        catalogue_version="test", **kw)


def _rule(exc_info) -> str:
    return exc_info.value.rule


# --- opening, ids, resuming ------------------------------------------------------------------

def test_session_ids_are_short_safe_and_checked(ws):
    assert re.fullmatch(r"V-[A-Z2-7]{10}", new_session_id("validation"))
    assert re.fullmatch(r"S-[A-Z2-7]{10}", new_session_id("self_assessment"))
    for bad in ["v-AAAAAAAAAA", "V-AAAAAAAAA", "V-AAAAAAAAAA/..", "X-AAAAAAAAAA", "V-AAAAAAAAA1",
                "'; DROP TABLE sessions; --", None]:
        with pytest.raises(InputError, match="session id"):
            resume_session(ws, bad)
    with pytest.raises(NotFoundError, match="no session"):
        resume_session(ws, "V-AAAAAAAAAA")


@pytest.mark.parametrize("kind,mode,facilities,expected", [
    ("inspection", "virtual", None, "kind"),
    ("validation", "none", None, "mode"),
    ("validation", None, None, "mode"),
    ("self_assessment", "virtual", None, "mode"),
    ("validation", "virtual", ["WH-2"], "facilities"),
    ("validation", "in_person", ["NOPE"], "facilities"),
    ("validation", "in_person", ["WH-2", "WH-2"], "facilities"),
])
def test_open_refuses_bad_arguments(ws, kind, mode, facilities, expected):
    with pytest.raises(InputError, match=expected):
        open_session(ws, ACCOUNT, kind, mode, OFFICER, facilities=facilities,
                     criteria=CRITERIA, catalogue_version="test")
    assert list_sessions(ws).empty


def test_open_refuses_unknown_partner_and_bad_criteria(ws):
    with pytest.raises(NotFoundError, match="partner"):
        open_session(ws, "7777777", "validation", "virtual", SPEC, criteria=CRITERIA,
                     catalogue_version="test")
    with pytest.raises(InputError, match="catalogue_version"):
        open_session(ws, ACCOUNT, "validation", "virtual", SPEC, criteria=CRITERIA)
    for bad in ([("13.1", "Must")], [("6.1", "Could")], [("6.1", "Must"), ("6.1", "Should")]):
        with pytest.raises(InputError):
            open_session(ws, ACCOUNT, "validation", "virtual", SPEC, criteria=bad,
                         catalogue_version="test")
    with pytest.raises(InputError, match=r"workspace|clock"):
        open_session(ws, ACCOUNT, "validation", "virtual", SPEC, criteria=CRITERIA,
                     catalogue_version="test", clock=lambda: datetime(2025, 1, 1))


def test_open_pins_the_catalogue_for_the_partner(ws):
    with open_session(ws, ACCOUNT, "validation", "virtual", SPEC,
                      catalogue_version="demo-2019.11") as s:
        assert s.catalogue_version == "demo-2019.11"
        assert s.criteria and all(c.level in ("Must", "Should") for c in s.criteria)
        from ctpat_audit.criteria.catalogue import load_catalogue
        cat = load_catalogue("demo-2019.11")
        expected = [(c.id, c.level_for(["importer"])) for c in cat.applicable(["importer"])]
        assert [(c.criterion_id, c.level) for c in s.criteria] == expected
        sid = s.id
    with resume_session(ws, sid) as again:  # pinned: read back from the session, not the file
        assert [(c.criterion_id, c.level) for c in again.criteria] == expected


def test_resume_after_close_finds_every_answer(ws):
    clock = FakeClock()
    s = _open(ws, mode="in_person", facilities=["WH-2"], clock=clock)
    s.answer("6.1", status="meets", method="observed_on_site", notes="seal log kept")
    s.answer("3.1", status="does_not_meet", notes="no partner screening")
    sid, before = s.id, s.answers()
    s.close()
    again = resume_session(ws, sid, actor="other@cbp.example", clock=clock)
    assert again.status == "open" and again.facilities == ("WH-2",)
    assert again.answers().equals(before)
    assert again.answers()["facility_id"].tolist() == ["WH-2", "WH-2"]  # in catalogue order
    assert [c for c, _ in CRITERIA] == [c.criterion_id for c in again.criteria]
    assert again.answer("1.1", status="meets")["answered_by"] == "other@cbp.example"
    found = find_open_session(ws, ACCOUNT, "validation")
    assert found is not None and found.id == sid
    assert find_open_session(ws, ACCOUNT, "self_assessment") is None
    found.close(), again.close()


# --- answers ---------------------------------------------------------------------------------

def test_answer_saves_at_once_and_merges_fields(ws):
    with _open(ws) as s:
        s.answer("6.1", notes="asked for photos")  # notes before a status: saved, not answered
        assert s.progress().answered == 0
        s.answer("6.1", method="photos_video_submitted", evidence_requested="seal photos")
        row = s.answer("6.1", status="meets", evidence_received=True)
        assert row["notes"] == "asked for photos" and row["method"] == "photos_video_submitted"
        assert row["evidence_requested"] == "seal photos" and row["evidence_received"] is True
        assert row["answered_at"] == "2025-06-02T09:00:04.000000+00:00"  # open + 3 ticks
        # another connection sees it immediately (committed, not buffered in the widget)
        conn = as_workspace(s.root).connect()
        assert conn.execute("SELECT status FROM answers WHERE session_id = ?",
                            (s.id,)).fetchone()[0] == "meets"
        conn.close()
        n = len(s.history())
        s.answer("6.1", status="meets", notes="asked for photos")  # no change: no entry
        assert len(s.history()) == n
        s.answer("6.1", status="not_verified")
        hist = s.history()
        assert len(hist) == n + 1 and '"status":"meets"' in hist["old_value"].iloc[-1]
        assert s.answer("6.1", status=None)["status"] is None  # clearing is allowed
        assert s.progress().answered == 0


@pytest.mark.parametrize("kw,what", [({"status": "ok"}, "status"),
                                     ({"method": "telepathy"}, "method"),
                                     ({"evidence_received": "yes"}, "evidence_received"),
                                     ({"notes": 5}, "notes"), ({"actor": "  "}, "actor"),
                                     ({"facility_id": None}, "facility_id")])
def test_answer_refuses_bad_values(ws, kw, what):
    with _open(ws) as s:
        with pytest.raises(InputError, match=what):
            s.answer("6.1", **{"status": "meets", "method": "live_video", **kw})
        assert s.answers().empty


def test_answer_without_fields_is_refused(ws):
    with _open(ws) as s:
        with pytest.raises(InputError, match="at least one of status"):
            s.answer("6.1")
        assert s.answers().empty


def test_unknown_criterion_is_refused(ws):
    with _open(ws) as s:
        with pytest.raises(SessionRuleError) as e:
            s.answer("6.99", status="meets")
        assert _rule(e) == "criterion_not_in_session" and "6.99" in str(e.value)


def test_in_person_answers_per_facility(ws):
    with _open(ws, mode="in_person", facilities=list(FACILITIES)) as s:
        with pytest.raises(SessionRuleError) as e:
            s.answer("6.1", status="meets")
        assert _rule(e) == "facility_required"
        with pytest.raises(SessionRuleError) as e:
            s.answer("6.1", status="meets", facility_id="OTHER")
        assert _rule(e) == "facility_not_in_scope"
        for fid in FACILITIES:
            s.answer("6.1", status="meets", facility_id=fid)
        s.answer("6.2", status="does_not_meet", facility_id="DC-3")
        p = s.progress()
        assert (p.answered, p.applicable) == (4, len(CRITERIA) * 3)
        assert p.must_not_met == ["6.2"]
        cat6 = p.by_category.set_index("category").loc[6]
        assert (cat6["answered"], cat6["applicable"]) == (4, 6)
        assert s.next_unanswered() == "1.1"
        assert s.next_unanswered(after="6.1") == "6.2"
        assert s.next_unanswered(after="6.1", facility_id="DC-3") == "9.1"
        assert len(s.answers(include_unanswered=True)) == len(CRITERIA) * 3


def test_in_person_single_facility_defaults(ws):
    with _open(ws, mode="in_person", facilities=["WH-2"]) as s:
        assert s.answer("6.1", status="meets")["facility_id"] == "WH-2"
        with pytest.raises(SessionRuleError):
            s.answer("6.1", status="meets", facility_id="DC-3")


def test_virtual_must_needs_a_method_to_meet(ws):
    with _open(ws) as s:
        with pytest.raises(SessionRuleError) as e:
            s.answer("6.1", status="meets")  # 6.1 is Must here
        assert _rule(e) == "must_needs_method" and "6.1" in str(e.value)
        assert s.answers().empty  # nothing written
        s.answer("1.1", status="meets")  # Should: allowed
        s.answer("6.2", status="does_not_meet")  # not "meets": allowed
        s.answer("6.1", status="meets", method="live_video")
        with pytest.raises(SessionRuleError):
            s.answer("6.1", method=None)  # cannot remove the method afterwards
        with pytest.raises(SessionRuleError):
            s.answer("6.2", status="meets")
        with pytest.raises(SessionRuleError) as e:
            s.answer("6.1", status="meets", facility_id="WH-2")
        assert _rule(e) == "facility_not_in_scope"


def test_in_person_must_may_meet_without_method(ws):
    with _open(ws, mode="in_person") as s:
        assert s.answer("6.1", status="meets")["status"] == "meets"


def test_progress_and_next_unanswered_wrap(ws):
    with _open(ws) as s:
        for cid, _ in CRITERIA:
            if cid not in ("1.1", "10.1"):
                s.answer(cid, status="does_not_meet")
        p = s.progress()
        assert (p.answered, p.applicable, p.complete) == (4, 6, False)
        assert p.must_not_met == ["3.1", "6.1", "6.2"]  # Must only, catalogue order
        assert s.next_unanswered(after="1.1") == "10.1"
        assert s.next_unanswered(after="10.1") == "1.1"  # wraps round
        s.answer("1.1", status="not_applicable")
        s.answer("10.1", status="not_verified")
        assert s.next_unanswered() is None and s.progress().complete


# --- evidence --------------------------------------------------------------------------------

def test_attach_stores_by_hash_and_dedups(ws):
    with _open(ws) as s:
        row = s.attach("6.1", "seal log.pdf", b"%PDF-1.4 seal log")
        assert row["size"] == 17 and row["media_type"] == "application/pdf"
        assert s.read_evidence(row["sha256"]) == b"%PDF-1.4 seal log"
        same = s.attach("6.1", "renamed.pdf", b"%PDF-1.4 seal log")
        assert same["evidence_id"] == row["evidence_id"] and same["name"] == "seal log.pdf"
        other = s.attach("6.2", "copy.pdf", b"%PDF-1.4 seal log")
        assert other["evidence_id"] != row["evidence_id"]
        files = [p for p in (s.root / "evidence").rglob("*") if p.is_file()]
        assert len(files) == 1 and files[0].name == row["sha256"]
        ev = s.evidence()
        assert list(ev["criterion_id"]) == ["6.1", "6.2"] and str(ev["size"].dtype) == "int64"
        assert list(s.history()["action"]).count("attach") == 2


def test_attach_refuses_hostile_names_and_writes_nothing(ws):
    with _open(ws) as s:
        for bad in ["../../ctpat.sqlite", "a/b.jpg", "x\x00.jpg", ".."]:
            with pytest.raises(InputError):
                s.attach("6.1", bad, b"data")
        assert s.evidence().empty
        assert not any(p.is_file() for p in (s.root / "evidence").rglob("*"))


# --- self-assessment, submission, revisions -------------------------------------------------

def test_self_assessment_by_contacts_submitted_by_officer_only(ws):
    with pytest.raises(SessionRuleError) as e:
        _open(ws, kind="self_assessment", mode=None, opened_by="cy@other.example")
    assert _rule(e) == "not_a_contact"
    with _open(ws, kind="self_assessment", mode=None, opened_by=USER) as s:
        assert s.id.startswith("S-") and s.mode == "none"
        s.answer("6.1", status="meets")  # by the User contact who opened it
        with pytest.raises(SessionRuleError) as e:
            s.answer("6.2", status="meets", actor="cy@other.example")  # other partner's officer
        assert _rule(e) == "not_a_contact"
        with pytest.raises(SessionRuleError) as e:
            s.submit(USER)
        assert _rule(e) == "not_company_officer" and s.status == "open"
        with pytest.raises(SessionRuleError) as e:
            s.submit(OFFICER)  # typing the officer's e-mail does not make the User the officer
        assert _rule(e) == "actor_mismatch" and s.status == "open"
        assert s.submit_refusal() and s.submit_refusal(OFFICER) is None
    with resume_session(ws, s.id, actor=OFFICER) as officer:  # the officer's own launch
        with pytest.raises(SessionRuleError) as e:
            officer.submit("cy@other.example")
        assert _rule(e) == "actor_mismatch"
        officer.submit(OFFICER.upper())  # e-mail compared case-insensitively
        info = officer.info()
        assert info["status"] == "submitted" and info["submitted_by"] == OFFICER


def test_submit_records_what_was_left_and_the_reason(ws):
    with _open(ws) as s:
        s.answer("6.1", status="not_verified")
        s.answer("6.2", status="does_not_meet", method="interview")
        s.answer("1.1", status="not_verified")  # a Should: not counted as a Must
        p = s.progress()
        assert p.must_not_verified == ["6.1"] and p.must_not_met == ["6.2"]
        cat6 = p.by_category.set_index("category").loc[6]
        assert (cat6["unanswered"], cat6["must_not_verified"], cat6["must_not_met"]) == (0, 1, 1)
        assert p.by_category.set_index("category").loc[3, "unanswered"] == 1
        s.submit(reason="Partner closed for the holidays; 10.1 at the next visit")
        entry = json.loads(s.history().iloc[-1]["new_value"])
        assert entry["unanswered"] == 3 and entry["must_not_verified"] == 1
        assert entry["reason"].startswith("Partner closed") and entry["status"] == "submitted"
        assert s.info()["submitted_by"] == SPEC  # the session's actor, never typed


def test_officer_role_checked_at_submit_time(ws):
    with _open(ws, kind="self_assessment", mode=None, opened_by=OFFICER) as s:
        conn = db.connect(ws.db_path)
        with db.write(conn):  # the partner changes its portal roles after opening
            conn.execute("UPDATE contacts SET role = 'Admin' WHERE email = ?", (OFFICER,))
        conn.close()
        with pytest.raises(SessionRuleError) as e:
            s.submit(OFFICER)
        assert _rule(e) == "not_company_officer"


def test_submitted_and_signed_sessions_refuse_edits(ws):
    with _open(ws) as s:
        s.answer("6.1", status="meets", method="document_review")
        s.attach("6.1", "a.txt", b"a")
        with pytest.raises(SessionRuleError) as e:
            s.lock(SPEC)
        assert _rule(e) == "wrong_status"
        s.submit(SPEC)
        for action in (lambda: s.answer("6.2", status="meets", method="live_video"),
                       lambda: s.attach("6.1", "b.txt", b"b"), lambda: s.submit(SPEC)):
            with pytest.raises(SessionRuleError) as e:
                action()
            assert _rule(e) == "session_not_open" and "Submitted, read-only" in str(e.value)
            assert "Open revision" in str(e.value) and "new_revision(" not in str(e.value)
        assert not any(p.name.startswith(__import__("hashlib").sha256(b"b").hexdigest()[:8])
                       for p in (s.root / "evidence").rglob("*"))
        s.lock("supervisor@cbp.example")
        assert s.info()["signed_by"] == "supervisor@cbp.example" and s.status == "signed"
        with pytest.raises(SessionRuleError):
            s.answer("6.1", notes="late edit")


def test_best_practice_recorded_while_open_and_audited(ws):
    with _open(ws) as s:
        row = s.record_best_practice("  Seal photo at every hand-off\n", criterion_id="6.1")
        assert row["text"] == "Seal photo at every hand-off" and row["recorded_by"] == SPEC
        s.record_best_practice("Quarterly walk-through", actor="spec2@cbp.example")
        bp = s.best_practices()
        assert bp["criterion_id"].tolist() == ["6.1", ""]
        assert bp["recorded_by"].tolist() == [SPEC, "spec2@cbp.example"]
        entries = s.history()
        assert entries["action"].tolist()[-2:] == ["best_practice", "best_practice"]
        for bad in ("", "   ", "x" * 5001, "bell\x07"):
            with pytest.raises(InputError, match="best practice"):
                s.record_best_practice(bad)
        with pytest.raises(SessionRuleError) as e:
            s.record_best_practice("Beyond a criterion the session does not have",
                                   criterion_id="5.9")
        assert _rule(e) == "criterion_not_in_session"
        assert len(s.best_practices()) == 2


@pytest.mark.parametrize("final", ["submitted", "signed"])
def test_best_practice_on_a_locked_session_is_refused(ws, final):
    with _open(ws) as s, resume_session(ws, s.id) as elsewhere:  # e.g. another kernel
        s.record_best_practice("Recorded while open")
        s.submit(SPEC)
        if final == "signed":
            s.lock("supervisor@cbp.example")
        for session in (s, elsewhere):  # the status is re-read inside the transaction
            with pytest.raises(SessionRuleError) as e:
                session.record_best_practice("Recorded after the session was locked")
            assert _rule(e) == "session_not_open" and "Open revision" in str(e.value)
        assert s.best_practices()["text"].tolist() == ["Recorded while open"]
        assert list(s.history()["action"]).count("best_practice") == 1


def test_self_assessment_best_practice_only_by_a_contact(ws):
    with _open(ws, kind="self_assessment", mode=None, opened_by=USER) as s:
        s.record_best_practice("Badge audit every month", actor=OFFICER)
        with pytest.raises(SessionRuleError) as e:
            s.record_best_practice("Not ours", actor="outsider@example.com")
        assert _rule(e) == "not_a_contact"


def test_edit_in_another_process_sees_submission(ws):
    """The open check runs inside the write transaction, not on a cached status."""
    a = _open(ws)
    b = resume_session(ws, a.id)
    b.submit(SPEC)
    with pytest.raises(SessionRuleError):
        a.answer("1.1", status="meets")
    a.close(), b.close()


def test_new_revision_copies_and_supersedes(ws):
    with _open(ws) as s:
        s.answer("6.1", status="meets", method="live_video", notes="ok")
        s.answer("3.1", status="does_not_meet")
        s.attach("6.1", "seal.jpg", b"jpeg bytes")
        s.record_best_practice("Seal photo at every hand-off", criterion_id="6.1")
        with pytest.raises(SessionRuleError):
            s.new_revision(SPEC)  # open: edit it directly
        s.submit(SPEC)
        s.lock("supervisor@cbp.example")
        rev = s.new_revision("spec2@cbp.example")
        assert s.status == "superseded" and rev.status == "open" and rev.supersedes == s.id
        cols = ["criterion_id", "facility_id", "status", "method", "notes", "answered_by"]
        assert rev.answers()[cols].equals(s.answers()[cols])
        assert list(rev.evidence()["sha256"]) == list(s.evidence()["sha256"])
        assert [c.criterion_id for c in rev.criteria] == [c.criterion_id for c in s.criteria]
        assert rev.best_practices().equals(s.best_practices())
        assert "copy_best_practice" in set(rev.history()["action"])
        rev.record_best_practice("Unannounced walk-through every quarter")
        assert len(rev.best_practices()) == 2 and len(s.best_practices()) == 1
        rev.answer("3.1", status="meets", method="document_review")
        assert s.answers().set_index("criterion_id").loc["3.1", "status"] == "does_not_meet"
        with pytest.raises(SessionRuleError):
            s.new_revision(SPEC)  # superseded: revise the newest one
        statuses = list_sessions(ws).set_index("session_id")["status"]
        assert statuses[s.id] == "superseded" and statuses[rev.id] == "open"
        conn = db.connect(ws.db_path)
        assert verify_audit_log(conn).ok
        conn.close()
        rev.close()


def test_benchmark_autosave_reports_percentiles(ws):
    result = benchmark_autosave(ws.path, n=50)
    assert result["n"] == 50
    assert 0 < result["p50_ms"] <= result["p99_ms"] <= result["max_ms"]
    with resume_session(ws, str(result["session_id"])) as s:
        assert len(s.history()) == 51
