"""Sample sessions: submitted, realistic mixes, deterministic answers for a seed; CLI."""
from __future__ import annotations

from click.testing import CliRunner
from report_helpers import sample_workspace_with_sessions

from ctpat_audit.cli import main
from ctpat_audit.sessions.session import list_sessions, resume_session


def _statuses(ws, ids):
    out = []
    for sid in ids:
        with resume_session(ws, sid) as s:
            out.append(s.answers()["status"].tolist())
    return out


def test_sample_sessions_are_realistic_and_deterministic(tmp_path):
    ws, ids = sample_workspace_with_sessions(tmp_path / "a", validations=3, self_assessments=2)
    assert len(ids["validations"]) == 3 and len(ids["self_assessments"]) == 2
    s = list_sessions(ws)
    assert set(s["status"]) == {"submitted"}
    v = s[s["kind"] == "validation"]
    assert {"in_person", "virtual"} <= set(v["mode"])
    # validations start with the partners who self-assessed: reports can compare them
    sa_accounts = set(s[s["kind"] == "self_assessment"]["account_id"])
    assert sa_accounts <= set(v["account_id"])
    levels_not_met = set()
    for sid in ids["validations"]:
        with resume_session(ws, sid) as sess:
            a = sess.answers()
            assert sess.progress().complete
            assert a["method"].notna().all()  # every validation answer says how it was seen
            levels_not_met |= set(a.loc[a["status"] == "does_not_meet", "level"])
            assert len(sess.evidence()) == 1
            if sess.mode == "in_person":
                assert sess.facilities and set(a["facility_id"]) == set(sess.facilities)
    assert levels_not_met == {"Must", "Should"}
    ws2, ids2 = sample_workspace_with_sessions(tmp_path / "b", validations=3, self_assessments=2)
    assert _statuses(ws, ids["validations"]) == _statuses(ws2, ids2["validations"])


def test_cli_sample_sessions(tmp_path):
    ws, _ = sample_workspace_with_sessions(tmp_path, validations=0, self_assessments=0,
                                           partners=6)
    r = CliRunner().invoke(main, ["sample-sessions", "-w", str(ws.path), "--validations", "1",
                                  "--self-assessments", "1", "--seed", "3",
                                  "--as-of", "2026-11-01"])
    assert r.exit_code == 0, r.output
    assert "validations: V-" in r.output and "self_assessments: S-" in r.output
    assert len(list_sessions(ws)) == 2
