"""Findings rules on hand-made answer tables, and stored Best Practices on a real workspace."""
from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from ctpat_audit.core.errors import InputError
from ctpat_audit.sessions import findings as F

DAY = dt.date(2026, 10, 1)


def answers(rows):
    return pd.DataFrame(rows, columns=["criterion_id", "category", "level", "facility_id",
                                       "status", "notes"]).astype(
        {"criterion_id": "str", "level": "str", "facility_id": "str"})


A = answers([
    ("1.1", 1, "Should", "", "meets", ""),
    ("3.2", 3, "Must", "", "does_not_meet", "no log"),
    ("10.1", 10, "Must", "", "does_not_meet", ""),
    ("2.4", 2, "Must", "", "meets", ""),
    ("6.1", 6, "Should", "", "does_not_meet", "partly"),
])


def test_requirements_have_due_dates_recommendations_do_not():
    f = F.build_findings(A, {"3.2": "Text 3.2"}, DAY)
    assert f["finding_id"].tolist() == ["R01", "R02", "C01"]
    assert f["criterion_id"].tolist() == ["3.2", "10.1", "6.1"]  # numeric order, not text
    assert f.loc[0, "due_date"] == dt.date(2026, 12, 30)
    assert f.loc[2, "due_date"] is None
    assert f.loc[0, "requirement"] == "Text 3.2" and f.loc[0, "validator_notes"] == "no log"
    f30 = F.build_findings(A, {}, DAY, due_days=30)
    assert f30.loc[0, "due_date"] == dt.date(2026, 10, 31)
    with pytest.raises(InputError):
        F.build_findings(A, {}, DAY, due_days=0)


def test_outcome_codes_and_reasons():
    f = F.build_findings(A, {}, DAY)
    o = F.overall_outcome(A, f)
    assert o.code == "action_required"
    assert any("3.2, 10.1" in r for r in o.reasons)
    only_should = A[A["criterion_id"] != "3.2"]
    only_should = only_should[only_should["criterion_id"] != "10.1"]
    assert F.overall_outcome(only_should, F.build_findings(only_should, {}, DAY)).code == \
        "recommendations"
    clean = A[A["status"] == "meets"]
    assert F.overall_outcome(clean, F.build_findings(clean, {}, DAY)).code == "no_action"
    open_must = answers([("2.4", 2, "Must", "", None, ""), ("1.1", 1, "Should", "", "meets", "")])
    o = F.overall_outcome(open_must, F.build_findings(open_must, {}, DAY))
    assert o.code == "incomplete" and "2.4" in o.reasons[0]


def test_per_facility_worst_status_and_comparison():
    v = answers([("3.2", 3, "Must", "F1", "meets", ""), ("3.2", 3, "Must", "F2", "does_not_meet", ""),
                 ("1.1", 1, "Should", "F1", "meets", ""), ("1.1", 1, "Should", "F2", "meets", ""),
                 ("6.1", 6, "Should", "F1", "not_applicable", "")])
    assert F.criterion_status(v).set_index("criterion_id")["status"].to_dict() == {
        "3.2": "does_not_meet", "1.1": "meets", "6.1": "not_applicable"}
    p = answers([("3.2", 3, "Must", "", "meets", ""), ("1.1", 1, "Should", "", "meets", "")])
    c = F.compare_self_assessment(v, p).set_index("criterion_id")["agreement"].to_dict()
    assert c == {"3.2": "disagree: partner overstated", "1.1": "agree", "6.1": "validator only"}
    f = F.build_findings(v, {}, DAY)
    assert f["facility_id"].tolist() == ["F2"]


def test_best_practices_are_stored_audited_and_reported_per_revision(tmp_path):
    from report_helpers import sample_workspace_with_sessions

    from ctpat_audit.sessions.session import SessionRuleError, resume_session

    ws, ids = sample_workspace_with_sessions(tmp_path, validations=1, self_assessments=0,
                                             partners=6)
    sid = ids["validations"][0]
    before = F.session_findings(ws, sid, DAY).counts()["best_practices"]
    with resume_session(ws, sid, actor="s@cbp.example") as s:
        assert s.status == "submitted"
        with pytest.raises(SessionRuleError, match="Open revision"):
            s.record_best_practice("Photo at each seal hand-off")
        rev = s.new_revision()  # shares the connection of ``s``
        with pytest.raises(InputError):
            rev.record_best_practice("   ")
        rev.record_best_practice("Photo at each seal hand-off")
        assert "best_practice" in set(rev.history()["action"])
    assert F.session_findings(ws, sid, DAY).counts()["best_practices"] == before
    sf = F.session_findings(ws, rev.id, DAY)
    assert sf.counts()["best_practices"] == before + 1
    assert sf.best_practices["text"].iloc[-1] == "Photo at each seal hand-off"
    assert set(sf.findings["kind"]) <= {"Requirement", "Recommendation"}


def _criterion_status_row_by_row(answers_frame):
    """The row-by-row code criterion_status replaced (kept as the oracle)."""
    order = ["does_not_meet", "not_verified", "", "meets", "not_applicable"]
    rows = []
    for cid, g in answers_frame.groupby("criterion_id", sort=False):
        st = [("" if pd.isna(s) else str(s)) for s in g["status"]]
        rows.append({"criterion_id": cid, "status": min(st, key=order.index) if st else ""})
    return pd.DataFrame(rows, columns=["criterion_id", "status"]).astype(str)


def test_criterion_status_matches_the_row_by_row_rule_on_random_sessions():
    import random

    rng = random.Random(7)
    statuses = ["does_not_meet", "not_verified", None, "meets", "not_applicable"]
    for n in [0, 1, 2, 5, 40, 300]:
        rows = [(f"{rng.randint(1, 12)}.{rng.randint(1, 9)}", 1, rng.choice(["Must", "Should"]),
                 f"F{rng.randint(1, 3)}", rng.choice(statuses), "") for _ in range(n)]
        frame = answers(rows) if rows else answers([("1.1", 1, "Must", "", None, "")]).iloc[:0]
        got, want = F.criterion_status(frame), _criterion_status_row_by_row(frame)
        pd.testing.assert_frame_equal(got, want)
        assert list(got["criterion_id"]) == list(dict.fromkeys(frame["criterion_id"]))


def test_criterion_status_refuses_an_unknown_status():
    bad = answers([("1.1", 1, "Must", "", "meets", ""), ("1.1", 1, "Must", "F2", "passed", "")])
    with pytest.raises(InputError, match="passed"):
        F.criterion_status(bad)


def test_the_latest_submitted_self_assessment_is_the_one_compared(tmp_path):
    from session_helpers import ACCOUNT, CRITERIA, OFFICER, make_workspace

    from ctpat_audit.sessions.session import open_session

    ws = make_workspace(tmp_path / "ws")
    assert F.latest_self_assessment(ws, ACCOUNT) is None
    ids = {}
    for name, day, submit in [("old", 1, True), ("newer open", 9, False), ("new", 5, True)]:
        def clock(day=day):
            return dt.datetime(2026, 10, day, 12, tzinfo=dt.UTC)
        with open_session(ws, ACCOUNT, "self_assessment", None, OFFICER, criteria=CRITERIA,
                          catalogue_version="test", clock=clock) as s:
            s.answer("1.1", status="meets")
            if submit:
                s.submit(OFFICER)
            ids[name] = s.id
    assert F.latest_self_assessment(ws, ACCOUNT) == ids["new"]  # the open one is not yet
    assert F.latest_self_assessment(ws, "0099999") is None
