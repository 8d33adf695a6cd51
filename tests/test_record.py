"""The record end to end: sign, report, batch and verify refuse an edited session, and the
signed anchors catch a truncated or rewritten history with no option given.

Every attack is made with plain ``sqlite3`` on a real workspace with real keys, as someone who
can write the database but holds no signer key would.
"""
from __future__ import annotations

import hashlib
import json
import sqlite3
from pathlib import Path

import pytest
from batch_helpers import batch_kwargs, make_batch_setup
from click.testing import CliRunner
from session_helpers import ACCOUNT
from signing_helpers import make_report, make_setup

from ctpat_audit.batch.run import run_batch
from ctpat_audit.cli import main
from ctpat_audit.core.errors import RecordError, SigningError
from ctpat_audit.trust import keys
from ctpat_audit.trust.record import verify_record
from ctpat_audit.trust.signing import sign_report
from ctpat_audit.trust.verify import verify_report
from ctpat_audit.workspace.audit import GENESIS_HASH, entry_hash


@pytest.fixture
def signed(tmp_path):
    """A report validated and approved, then a second session answered after it."""
    setup = make_setup(tmp_path)
    folder = make_report(setup)
    from ctpat_audit.sessions.session import resume_session

    with resume_session(setup.ws, folder.name) as s:
        s.answer("3.1", status="does_not_meet", notes="no seal log")
    sign_report(folder, setup.ws, setup.signer("spec"))
    sign_report(folder, setup.ws, setup.signer("sup"))
    later = make_report(setup, evidence=False)
    with resume_session(setup.ws, later.name) as s:
        s.answer("1.1", status="meets")
    return setup, folder, later


def _sql(ws, *statements: str, args: tuple = ()) -> None:
    conn = sqlite3.connect(ws.db_path)
    conn.executescript("DROP TRIGGER IF EXISTS audit_log_no_update; "
                       "DROP TRIGGER IF EXISTS audit_log_no_delete;")
    with conn:
        for stmt in statements:
            conn.execute(stmt, args if "?" in stmt else ())
    conn.close()


def _rehash(ws) -> None:
    """Recompute every hash of the chain, as an attacker who rewrote an entry would."""
    conn = sqlite3.connect(ws.db_path)
    conn.row_factory = sqlite3.Row
    rows = [dict(r) for r in conn.execute("SELECT * FROM audit_log ORDER BY seq")]
    prev = GENESIS_HASH
    with conn:
        for r in rows:
            r["prev_hash"] = prev
            r["hash"] = entry_hash(r)
            conn.execute("UPDATE audit_log SET prev_hash = ?, hash = ? WHERE seq = ?",
                         (r["prev_hash"], r["hash"], r["seq"]))
            prev = r["hash"]
    conn.close()


def test_an_untouched_signed_workspace_verifies_and_its_anchors_hold(signed):
    setup, folder, _ = signed
    result = verify_record(setup.ws)
    assert result.ok, result.lines()
    assert result.anchored == 2
    assert verify_report(folder, setup.ws.path / "keys", setup.ws.path).ok


def test_a_truncated_tail_fails_audit_verify_without_any_option(signed):
    setup, _, _ = signed
    conn = sqlite3.connect(setup.ws.db_path)
    sign_seq = conn.execute("SELECT MAX(seq) FROM audit_log WHERE action = 'sign'"
                            ).fetchone()[0]
    conn.close()
    _sql(setup.ws, f"DELETE FROM audit_log WHERE seq >= {sign_seq}")
    result = verify_record(setup.ws)
    assert not result.ok and result.chain.ok  # the chain alone looks fine
    assert any(seq == sign_seq and "no longer in the log" in why for seq, why in result.anchors)
    run = CliRunner().invoke(main, ["audit-verify", "-w", str(setup.ws.path)])
    assert run.exit_code == 1 and "truncated or rewritten" in run.output


def test_a_rewritten_and_rehashed_history_fails_audit_verify(signed):
    setup, folder, _ = signed
    sid = folder.name
    _sql(setup.ws, "UPDATE audit_log SET new_value = replace(new_value, 'does_not_meet', "
         "'meets') WHERE session_id = ? AND action = 'answer'",
         "UPDATE answers SET status = 'meets' WHERE session_id = ?", args=(sid,))
    _rehash(setup.ws)
    result = verify_record(setup.ws)
    assert result.chain.ok and not result.state  # consistent with itself ...
    assert not result.ok  # ... but not with what the signers pinned
    assert len(result.anchors) == 2
    assert all("rewritten and re-hashed" in why for _, why in result.anchors)
    check = verify_report(folder, setup.ws.path / "keys", setup.ws.path)
    assert not check.ok


def test_removing_the_anchors_of_logged_signatures_is_found(signed):
    setup, _, _ = signed
    _sql(setup.ws, "DELETE FROM log_anchors")
    result = verify_record(setup.ws)
    assert [why.endswith("(anchor removed)") for _, why in result.anchors] == [True, True]


def test_moving_the_start_of_anchoring_is_found(signed):
    setup, _, _ = signed
    _sql(setup.ws, "UPDATE meta SET value = '100000' WHERE key = 'anchored_from_seq'")
    result = verify_record(setup.ws)
    assert not result.ok and any("meta changed" in why for _, why in result.anchors)


def test_an_anchor_row_pointing_elsewhere_or_forged_is_found(signed, tmp_path):
    setup, _, _ = signed
    _sql(setup.ws, "UPDATE log_anchors SET head = 'ff' || substr(head, 3) WHERE anchor_id = 1")
    assert any("the row was changed" in why for _, why in verify_record(setup.ws).anchors)
    # a manifest signed by a key of another CA (the attacker's own) is not an anchor
    other = keys.init_ca(tmp_path / "other", "other-ca-passphrase")
    keys.issue_signer(other, tmp_path / "mine.p12", "mine-passphrase", name="Sue Sup",
                      email="sue.sup@cbp.example", role="supervisor")
    mine = keys.load_signer(tmp_path / "mine.p12", "mine-passphrase")
    from ctpat_audit.trust.signing import sign_manifest

    conn = sqlite3.connect(setup.ws.db_path)
    data = conn.execute("SELECT manifest FROM log_anchors WHERE anchor_id = 2").fetchone()[0]
    conn.close()
    _sql(setup.ws, "UPDATE log_anchors SET signature = ? WHERE anchor_id = 2",
         args=(sign_manifest(data, mine),))
    assert any("did not issue" in why for _, why in verify_record(setup.ws).anchors)


def test_sign_refuses_a_session_edited_outside_the_toolkit(signed):
    setup, _, later = signed
    _sql(setup.ws, "UPDATE answers SET status = 'does_not_meet' WHERE session_id = ?",
         args=(later.name,))
    before = hashlib.sha256((later / "report.pdf").read_bytes()).hexdigest()
    with pytest.raises(RecordError) as e:
        sign_report(later, setup.ws, setup.signer("spec"))
    assert (f"table answers, session {later.name}, criterion 1.1, field status: the audit log "
            "says 'meets', the table holds 'does_not_meet'") in str(e.value)
    assert not (later / "manifest.json").exists()
    assert hashlib.sha256((later / "report.pdf").read_bytes()).hexdigest() == before
    conn = sqlite3.connect(setup.ws.db_path)
    assert conn.execute("SELECT COUNT(*) FROM audit_log WHERE session_id = ? AND action IN "
                        "('sign', 'lock', 'submit')", (later.name,)).fetchone()[0] == 0
    conn.close()


def test_verify_workspace_finds_a_signed_session_edited_after_signing(signed):
    setup, folder, _ = signed
    _sql(setup.ws, "UPDATE answers SET status = 'meets' WHERE session_id = ?",
         args=(folder.name,))
    check = verify_report(folder, setup.ws.path / "keys", setup.ws.path)
    assert not check.ok
    assert any(f"session {folder.name}, criterion 3.1, field status: the audit log says "
               "'does_not_meet', the table holds 'meets'" in p for p in check.problems)
    run = CliRunner().invoke(main, ["verify", str(folder), "--trust",
                                    str(setup.ws.path / "keys"), "-w", str(setup.ws.path)])
    assert run.exit_code == 1 and "the table holds 'meets'" in run.output


def test_verify_workspace_finds_a_signature_the_log_never_recorded(signed):
    setup, folder, _ = signed
    _sql(setup.ws, "UPDATE audit_log SET new_value = replace(new_value, '\"approved\"', "
         "'\"validated\"') WHERE action = 'sign' AND session_id = ?", args=(folder.name,))
    _rehash(setup.ws)
    problems = verify_report(folder, setup.ws.path / "keys", setup.ws.path).problems
    assert any("is not in the workspace's audit log" in p for p in problems)


def test_report_refuses_an_edited_session_before_running_anything(signed, tmp_path):
    setup, _, later = signed
    _sql(setup.ws, "UPDATE sessions SET status = 'submitted' WHERE session_id = ?",
         args=(later.name,))
    out = tmp_path / "rendered"
    run = CliRunner().invoke(main, ["report", "-w", str(setup.ws.path), "--session",
                                    later.name, "--out", str(out)])
    assert run.exit_code == 1
    assert ("field status: the audit log says 'open', the table holds 'submitted'"
            in run.output)
    assert not out.exists() or not [p for p in out.rglob("*") if p.is_file()]


def test_batch_fails_the_edited_session_alone(tmp_path: Path):
    setup, ids = make_batch_setup(tmp_path, n=2)
    _sql(setup.ws, "UPDATE answers SET status = 'meets' WHERE session_id = ? AND "
         "criterion_id = '3.1'", args=(ids[0],))
    out = tmp_path / "reports"
    summary = run_batch(setup.ws.path, **batch_kwargs(setup, out, workers=0))
    by_id = {r.session_id: r for r in summary.results}
    assert by_id[ids[0]].status == "failed" and by_id[ids[0]].step == "record"
    assert "the audit log says 'does_not_meet', the table holds 'meets'" in by_id[ids[0]].error
    assert not (out / ACCOUNT / ids[0]).exists()
    assert by_id[ids[1]].status == "ok"
    manifest = json.loads((out / ACCOUNT / ids[1] / "manifest.json").read_text())
    assert [s["meaning"] for s in manifest["signatures"]] == ["validated", "approved"]
    assert verify_record(setup.ws).state  # audit-verify still names the edit


def test_a_kept_manifest_edited_to_pin_another_head_is_found(signed):
    setup, _, _ = signed
    conn = sqlite3.connect(setup.ws.db_path)
    anchor_id, head, data = conn.execute(
        "SELECT anchor_id, head, manifest FROM log_anchors ORDER BY seq DESC").fetchone()
    conn.close()
    forged = bytes(data).replace(head.encode(), b"0" * 64)
    _sql(setup.ws, "UPDATE log_anchors SET manifest = ?, head = ? WHERE anchor_id = ?",
         args=(forged, "0" * 64, anchor_id))
    assert any("digest differs" in why for _, why in verify_record(setup.ws).anchors)


def test_cutting_the_issue_of_a_certificate_from_the_log_is_found(signed):
    setup, _, _ = signed
    _sql(setup.ws, "DELETE FROM audit_log WHERE action = 'issue_certificate' AND seq = "
         "(SELECT MAX(seq) FROM audit_log WHERE action = 'issue_certificate')")
    _rehash(setup.ws)
    result = verify_record(setup.ws)
    assert any("its issue is not in the log" in why for _, why in result.anchors)


def test_sign_refuses_a_workspace_whose_history_was_rewritten(signed):
    setup, _, later = signed
    _sql(setup.ws, "UPDATE audit_log SET actor = 'someone.else@cbp.example' WHERE seq = 2")
    _rehash(setup.ws)
    with pytest.raises(SigningError, match="no longer holds what earlier signatures pinned"):
        sign_report(later, setup.ws, setup.signer("spec"))
    assert not (later / "manifest.json").exists()


def test_replayed_is_trusted_only_on_a_read_only_snapshot(tmp_path, monkeypatch):
    """prepare_signature(replayed=True): a batch worker replayed the session on its snapshot
    a moment before; on a live workspace the flag changes nothing, an edited session is still
    refused."""
    from ctpat_audit.sessions.session import resume_session
    from ctpat_audit.trust import signing
    from ctpat_audit.workspace.snapshot import make_snapshot

    setup = make_setup(tmp_path)
    folder = make_report(setup)
    sid = folder.name
    with resume_session(setup.ws, sid, actor="sam.spec@cbp.example") as s:
        s.answer("1.1", status="does_not_meet", method="document_review")
    _sql(setup.ws, "UPDATE answers SET status = 'meets' WHERE session_id = ?", args=(sid,))
    with pytest.raises(RecordError):
        signing.prepare_signature(folder, setup.ws, setup.signer("spec"), "validated",
                                  session_id=sid, replayed=True)
    snap = make_snapshot(setup.ws, tmp_path / "snap", sessions=[sid])
    replays = []
    monkeypatch.setattr(signing, "require_replayed_state",
                        lambda conn, s: replays.append(s))
    signing.prepare_signature(folder, snap, setup.signer("spec"), "validated",
                              session_id=sid, replayed=True)
    assert replays == []
    signing.prepare_signature(folder, snap, setup.signer("spec"), "validated", session_id=sid)
    assert replays == [sid]
