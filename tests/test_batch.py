"""Batch: a broken session does not stop the rest; resume, retry, force; kill mid-batch;
selection; index contents. Uses the fixture notebooks of tests/data/batch/ with real kernels,
real signing (specialist then supervisor) and real verification."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest
from batch_helpers import DATA, batch_kwargs, make_batch_setup
from openpyxl import load_workbook
from session_helpers import ACCOUNT

from ctpat_audit.batch.index import index_rows, render_index_html, write_index
from ctpat_audit.batch.run import BatchManifest, plan_batch, read_partner_file, run_batch, select_sessions
from ctpat_audit.batch.worker import ReportResult, ReportTask
from ctpat_audit.core.errors import BatchError
from ctpat_audit.trust.verify import verify_report
from ctpat_audit.workspace import db

pytestmark = pytest.mark.slow


def test_broken_session_fails_alone_with_its_cell_and_the_rest_is_signed(tmp_path: Path) -> None:
    """Through the CLI (a real process, a spawned worker), then re-runs through the API."""
    setup, ids = make_batch_setup(tmp_path, n=3, broken=1)
    out = tmp_path / "reports"
    kw = batch_kwargs(setup, out)
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parent)}
    args = [str(Path(sys.executable).parent / "ctpat-audit"), "batch", "-w", str(setup.ws.path),
            "--out", str(out), "--template", str(DATA / "report_min.ipynb"), "--workers", "1",
            "--key", str(setup.p12["sup"]), "--specialist-keys", str(setup.root),
            "--passphrase-env", kw["passphrase_env"], "--no-progress",
            "--artifacts", kw["artifacts"], "--kernel-warmup", kw["kernel_warmup"]]
    proc = subprocess.run(args, capture_output=True, text=True, env=env, timeout=120,
                          check=False)
    assert proc.returncode == 1, proc.stderr
    assert "3 selected, 3 run (2 ok, 1 failed)" in proc.stdout
    assert f"FAILED {ACCOUNT}/{ids[0]} at execute cell 4: ZeroDivisionError" in proc.stderr
    assert str(out / "index.html") in proc.stdout
    by_id = {sid: ReportResult(**rec) for sid, rec in BatchManifest(out).runs().items()}
    bad = by_id[ids[0]]
    # parameters (0), injected parameters (1), markdown (2), read (3), summary (4)
    assert (bad.status, bad.step, bad.failed_cell) == ("failed", "execute", 4)
    assert bad.error.startswith("ZeroDivisionError")
    failed_nb = nbformat.read(out / "_failed" / ids[0] / "report.ipynb", as_version=4)
    assert any(o.get("ename") == "ZeroDivisionError" for c in failed_nb.cells
               for o in c.get("outputs", []))
    assert not (out / ACCOUNT / ids[0]).exists()
    for sid in ids[1:]:
        r = by_id[sid]
        folder = out / ACCOUNT / sid
        assert r.status == "ok" and r.folder == f"{ACCOUNT}/{sid}"
        assert r.signatures == ["validated", "approved"]
        assert {"report.ipynb", "report.html", "report.pdf", "report.xlsx", "manifest.json",
                "manifest.sig"} <= {p.name for p in folder.iterdir()}
        assert verify_report(folder, setup.ws.path / "keys").ok
    assert by_id[ids[1]].findings == 2 and by_id[ids[2]].findings == 1
    assert not list((out / ".tmp").glob("*/*"))  # no half-built report left behind

    page = (out / "index.html").read_text()
    assert ids[0] in page and "cell 4" in page and "ZeroDivisionError" in page
    assert f'href="{ACCOUNT}/{ids[1]}/report.pdf"' in page
    assert "http://" not in page and "https://" not in page and "<script" not in page
    sheet = load_workbook(out / "index.xlsx")["Reports"]
    header = [c.value for c in sheet[1]]
    rows = [dict(zip(header, [c.value for c in row])) for row in sheet.iter_rows(min_row=2)]
    assert rows[0]["session"] == ids[0]  # failures first
    assert rows[0]["failed_cell"] == 4 and rows[0]["status"] == "failed"
    assert {r["session"]: r["findings"] for r in rows[1:]} == {ids[1]: 2, ids[2]: 1}
    assert rows[1]["exam_rate"] == pytest.approx(0.025)

    # Re-run: nothing is up for work; the failure is kept, not retried.
    again = run_batch(setup.ws.path, **batch_kwargs(setup, out, workers=0))
    assert (again.ran, again.skipped) == (0, 3)
    # --retry-failed re-runs only the failure (it still fails: the session has no answers).
    retry = run_batch(setup.ws.path, **batch_kwargs(setup, out, workers=0, retry_failed=True))
    assert [r.session_id for r in retry.results] == [ids[0]]
    assert retry.results[0].failed_cell == 4


def test_plan_up_to_date_changed_inputs_missing_folder_force(tmp_path: Path) -> None:
    out = tmp_path
    (out / "A" / "S1").mkdir(parents=True)
    (out / "A" / "S1" / "manifest.json").write_text("{}")
    runs = {"S1": {"status": "ok", "inputs_hash": "h1", "folder": "A/S1"},
            "S2": {"status": "ok", "inputs_hash": "h2", "folder": "A/S2"},  # folder gone
            "S3": {"status": "failed", "inputs_hash": "h3"},
            "S4": {"status": "ok", "inputs_hash": "old", "folder": "A/S1"}}
    tasks = [ReportTask(s, "A", h) for s, h in
             (("S1", "h1"), ("S2", "h2"), ("S3", "h3"), ("S4", "new"), ("S5", "h5"))]
    plan = plan_batch(tasks, runs, out)
    assert [t.session_id for t in plan.run] == ["S2", "S4", "S5"]
    assert plan.up_to_date == ["S1"] and plan.failed_kept == ["S3"]
    plan = plan_batch(tasks, runs, out, retry_failed=True)
    assert [t.session_id for t in plan.run] == ["S2", "S3", "S4", "S5"]
    assert len(plan_batch(tasks, runs, out, force=True).run) == 5


def test_manifest_ignores_a_torn_last_line(tmp_path: Path) -> None:
    m = BatchManifest(tmp_path)
    m.record(ReportResult("S1", "A", "h", "ok", folder="A/S1"))
    with m.path.open("ab") as f:
        f.write(b'{"session_id": "S2", "stat')  # SIGKILL in the middle of a write
    assert list(m.runs()) == ["S1"]
    m.record(ReportResult("S1", "A", "h2", "failed"))
    assert m.runs()["S1"]["inputs_hash"] == "h2"


def test_selection_by_status_dates_partners_region(tmp_path: Path) -> None:
    setup, ids = make_batch_setup(tmp_path, n=2)
    conn = setup.ws.connect()
    with db.write(conn):
        conn.execute("UPDATE sessions SET submitted_at = '2026-01-15T10:00:00+00:00' "
                     "WHERE session_id = ?", (ids[0],))
        conn.execute("UPDATE sessions SET submitted_at = '2026-03-01T10:00:00+00:00' "
                     "WHERE session_id = ?", (ids[1],))
    conn.close()
    ws = setup.ws.path
    assert [s["session_id"] for s in select_sessions(ws)] == ids
    assert select_sessions(ws, status="open") == []
    assert [s["session_id"] for s in select_sessions(ws, since="2026-02-01")] == [ids[1]]
    assert [s["session_id"] for s in select_sessions(ws, until="2026-01-15")] == [ids[0]]
    assert len(select_sessions(ws, region="mx")) == 2  # facilities are in Monterrey, MX
    assert len(select_sessions(ws, region="MX//monterrey")) == 2  # empty part: any state
    assert select_sessions(ws, region="MX/NL") == []  # no state recorded
    assert select_sessions(ws, region="MX//Tijuana") == []
    assert select_sessions(ws, region="US") == []
    plist = tmp_path / "partners.txt"
    plist.write_text("# supervisor's list\n0099999\n\n")
    assert select_sessions(ws, partners=read_partner_file(plist)) == []
    with pytest.raises(BatchError, match="--status"):
        select_sessions(ws, status="finished")
    with pytest.raises(BatchError, match="--since"):
        select_sessions(ws, since="15/01/2026")


def test_index_escapes_hostile_text_and_keeps_cells_as_text(tmp_path: Path) -> None:
    evil = '<script>alert("x")</script>'
    rows = [{"session_id": "V-AAAAAAAAAA", "account_id": evil, "status": "failed",
             "step": "execute", "failed_cell": 3, "error": "=HYPERLINK(\"http://x\")",
             "duration_s": 1.5},
            {"session_id": "V-BBBBBBBBBB", "account_id": "0012345", "status": "ok",
             "folder": "0012345/V-BBBBBBBBBB", "findings": 2, "exam_rate": 0.031,
             "signatures": ["validated", "approved"], "duration_s": 2.0}]
    page = render_index_html(index_rows(rows), title=evil, generated="2026-11-01")
    assert "<script" not in page and "&lt;script&gt;" in page
    assert "cell 3" in page and "3.10%" in page
    write_index(tmp_path, rows)
    sheet = load_workbook(tmp_path / "index.xlsx")["Reports"]
    header = [c.value for c in sheet[1]]
    cell = sheet.cell(row=2, column=header.index("error") + 1)
    assert sheet.cell(row=3, column=header.index("exam_rate") + 1).number_format == "0.00%"
    assert cell.value.startswith("=HYPERLINK") and cell.data_type == "s"
    assert sheet.cell(row=2, column=1).value == evil


def test_missing_passphrase_env_and_template_are_clear_errors(tmp_path: Path) -> None:
    setup, _ = make_batch_setup(tmp_path, n=1)
    with pytest.raises(BatchError, match="--passphrase-env"):
        run_batch(setup.ws.path, out=tmp_path / "o", template=DATA / "report_min.ipynb",
                  key=setup.p12["sup"], progress=False)
    with pytest.raises(BatchError, match="template"):
        run_batch(setup.ws.path, out=tmp_path / "o", template=tmp_path / "none.ipynb",
                  progress=False)


def test_wrong_passphrase_stops_the_batch_before_any_worker(tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    setup, _ = make_batch_setup(tmp_path, n=1)
    kw = batch_kwargs(setup, tmp_path / "o")
    monkeypatch.setenv(kw["passphrase_env"], "not-the-passphrase")
    with pytest.raises(BatchError, match=r"wrong passphrase.*nothing was rendered"):
        run_batch(setup.ws.path, **kw)
    assert not (tmp_path / "o").exists() or not any((tmp_path / "o").glob("*/*/report.pdf"))


KILL_SCRIPT = """
import sys
sys.path.insert(0, {tests!r})
from pathlib import Path
from batch_helpers import batch_kwargs
from signing_helpers import Setup
from ctpat_audit.batch.run import run_batch
from ctpat_audit.trust.keys import load_ca
if __name__ == "__main__":
    root = Path({root!r})
    setup = Setup(root, type("W", (), {{"path": root / "ws"}})(), None,
                  {{"sup": root / "sup.p12"}})
    run_batch(root / "ws", **batch_kwargs(setup, root / "reports", "slow_report.ipynb",
                                          workers=1))
"""


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGINT], ids=["SIGKILL", "SIGINT"])
def test_killed_batch_leaves_no_half_report_and_resumes_without_redoing(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, sig: signal.Signals) -> None:
    """kill -9 of the batch, its worker and kernels; or Ctrl-C (SIGINT to the group)."""
    setup, ids = make_batch_setup(tmp_path, n=3)
    script = tmp_path / "run.py"
    script.write_text(KILL_SCRIPT.format(tests=str(Path(__file__).parent), root=str(tmp_path)))
    out = tmp_path / "reports"
    env = {**os.environ, "CTPAT_TEST_SLEEP": "1.0"}
    proc = subprocess.Popen([sys.executable, str(script)], env=env, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    manifest = out / "batch-manifest.jsonl"
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline and proc.poll() is None:
        if manifest.exists() and manifest.read_bytes().count(b"\n") >= 1:
            break
        time.sleep(0.05)
    assert proc.poll() is None, "the batch finished before it could be killed"
    os.killpg(proc.pid, sig)  # the batch, its worker and its zygote
    assert proc.wait(timeout=60) != 0
    done = {json.loads(line)["session_id"] for line in manifest.read_text().splitlines()}
    assert 1 <= len(done) < 3
    for sid in ids:  # a report folder in place is complete, signed and verifies
        folder = out / ACCOUNT / sid
        if folder.exists():
            assert verify_report(folder, setup.ws.path / "keys").ok
    stamps = {sid: (out / ACCOUNT / sid / "manifest.json").stat().st_mtime_ns for sid in done}

    monkeypatch.setenv("CTPAT_TEST_SLEEP", "0")
    summary = run_batch(setup.ws.path, **batch_kwargs(setup, out, "slow_report.ipynb",
                                                      workers=0))
    assert {r.session_id for r in summary.results} == set(ids) - done
    assert summary.failed == 0 and summary.skipped == len(done)
    for sid in done:
        assert (out / ACCOUNT / sid / "manifest.json").stat().st_mtime_ns == stamps[sid]
    for sid in ids:
        assert verify_report(out / ACCOUNT / sid, setup.ws.path / "keys").ok
    assert not (out / ".tmp").exists() or not any((out / ".tmp").iterdir())


def test_a_report_the_specialist_signed_is_countersigned_as_it_is(tmp_path: Path) -> None:
    """The everyday flow: the specialist signed the report after the validation; the
    supervisor's batch (no specialist keys) countersigns that very report, never renders it
    again, and leaves a report that does not verify as it is."""
    from signing_helpers import make_report

    from ctpat_audit.trust.manifest import read_manifest
    from ctpat_audit.trust.signing import sign_report

    setup, _ = make_batch_setup(tmp_path, n=1)
    out = setup.root / "reports"
    good, bad = make_report(setup, evidence=False), make_report(setup, evidence=False)
    for folder in (good, bad):
        sign_report(folder, setup.ws, setup.signer("spec"))
    (bad / "report.html").write_text("<html>changed after signing</html>")
    signed_pdf, html = (good / "report.pdf").read_bytes(), (good / "report.html").read_bytes()
    bad_manifest = (bad / "manifest.json").read_bytes()
    summary = run_batch(setup.ws.path, workers=0, session_ids=[good.name, bad.name],
                        **batch_kwargs(setup, out, specialist_keys=None))
    by_id = {r.session_id: r for r in summary.results}
    ok = by_id[good.name]
    assert (ok.status, ok.signatures) == ("ok", ["validated", "approved"]), ok.error
    pdf = (good / "report.pdf").read_bytes()
    assert pdf.startswith(signed_pdf) and len(pdf) > len(signed_pdf)  # signed on, not redone
    assert (good / "report.html").read_bytes() == html
    assert [s["meaning"] for s in read_manifest(good)["signatures"]] == ["validated", "approved"]
    assert verify_report(good, setup.ws.path / "keys").ok
    failed = by_id[bad.name]
    assert failed.status == "failed" and "does not verify" in failed.error
    assert "report.html" in failed.error
    assert (bad / "manifest.json").read_bytes() == bad_manifest  # left as it was
    assert (bad / "report.html").read_text() == "<html>changed after signing</html>"
    again = run_batch(setup.ws.path, workers=0, session_ids=[good.name],
                      **batch_kwargs(setup, out, specialist_keys=None))
    assert again.ran == 0 and (good / "report.pdf").read_bytes() == pdf  # up to date


def test_summary_headline_and_one_line_per_failure(tmp_path: Path) -> None:
    from ctpat_audit.batch.run import BatchSummary

    ok = ReportResult("V-AAAAAAAAAA", ACCOUNT, "h1", "ok")
    cell = ReportResult("V-BBBBBBBBBB", ACCOUNT, "h2", "failed", step="execute", failed_cell=4,
                        error="\nZeroDivisionError: division by zero\n  File ...")
    sign = ReportResult("V-CCCCCCCCCC", "0099999", "h3", "failed", step="sign",
                        error="wrong passphrase")
    summary = BatchSummary(selected=4, ran=3, ok=1, failed=2, skipped=1, wall_s=12.345,
                           index_html=tmp_path / "index.html", index_xlsx=tmp_path / "index.xlsx",
                           results=[ok, cell, sign])
    assert summary.headline() == ("4 selected, 3 run (1 ok, 2 failed), 1 up to date or kept "
                                  "failed; 12.3 s")
    assert summary.failure_lines() == [
        f"FAILED {ACCOUNT}/V-BBBBBBBBBB at execute cell 4: ZeroDivisionError: division by zero",
        "FAILED 0099999/V-CCCCCCCCCC at sign: wrong passphrase"]


def test_a_best_practice_added_in_a_new_revision_renders_that_report_again(
        tmp_path: Path) -> None:
    """The batch's inputs hash covers best practices: a report is not "up to date" after one
    was recorded (render only, no keys: signing would lock the open revision)."""
    from signing_helpers import SPECIALIST

    from ctpat_audit.sessions.session import resume_session

    setup, ids = make_batch_setup(tmp_path, n=1)
    out = tmp_path / "reports"
    kw = batch_kwargs(setup, out, workers=0, status="open", key=None, specialist_keys=None)
    with resume_session(setup.ws, ids[0], actor=SPECIALIST) as submitted:
        with pytest.raises(Exception, match="Open revision"):
            submitted.record_best_practice("Seal photo at every hand-off")
        rev = submitted.new_revision()  # shares the connection of ``submitted``
        first = run_batch(setup.ws.path, **kw)
        assert [r.session_id for r in first.results] == [rev.id]
        assert first.results[0].status == "ok", first.results[0].error
        assert run_batch(setup.ws.path, **kw).ran == 0  # nothing changed: up to date
        rev.record_best_practice("Seal photo at every hand-off", criterion_id="6.1")
        again = run_batch(setup.ws.path, **kw)
        assert [r.session_id for r in again.results] == [rev.id]
        assert again.results[0].inputs_hash != first.results[0].inputs_hash
        assert run_batch(setup.ws.path, **kw).ran == 0


def test_a_session_changed_while_its_report_was_rendered_is_not_signed(
        tmp_path: Path, monkeypatch) -> None:
    """Workers render from the batch's snapshot; the coordinator records a signature only if
    the session's record is still what was rendered. An answer saved in between (an open
    session) fails that report at the record step: no entry, nothing published, the session
    not locked; the next batch renders it again with the answer and signs it."""
    from session_helpers import CRITERIA
    from signing_helpers import SPECIALIST

    from ctpat_audit.batch.record import Recorder
    from ctpat_audit.sessions.session import open_session, resume_session

    setup, _ = make_batch_setup(tmp_path, n=0)
    with open_session(setup.ws, ACCOUNT, "validation", "virtual", SPECIALIST,
                      criteria=CRITERIA, catalogue_version="test") as s:
        s.answer("1.1", status="meets", method="document_review")
        sid = s.id
    out = tmp_path / "reports"
    real_finish = Recorder.finish

    def finish(self: Recorder, res: ReportResult) -> ReportResult:
        with resume_session(setup.ws, sid) as s:  # the specialist goes on meanwhile
            s.answer("3.1", status="does_not_meet", method="interview")
        return real_finish(self, res)

    monkeypatch.setattr(Recorder, "finish", finish)
    summary = run_batch(setup.ws.path, status="open", **batch_kwargs(setup, out, workers=0))
    (res,) = summary.results
    assert (res.status, res.step) == ("failed", "record")
    assert "changed after this report was rendered" in res.error
    conn = db.connect(setup.ws.db_path)
    try:
        assert not conn.execute("SELECT count(*) FROM audit_log WHERE session_id = ? AND "
                                "action IN ('sign', 'lock', 'submit')", (sid,)).fetchone()[0]
    finally:
        conn.close()
    assert not (out / ACCOUNT / sid).exists() and not list((out / ".tmp").glob("*/*"))
    assert not (out / ".snapshots").exists()
    monkeypatch.undo()
    again = run_batch(setup.ws.path, status="open", retry_failed=True,
                      **batch_kwargs(setup, out, workers=0))
    (res,) = again.results
    assert res.status == "ok" and res.findings == 1, res.error
    assert verify_report(out / ACCOUNT / sid, setup.ws.path / "keys", setup.ws.path).ok
    with resume_session(setup.ws, sid) as s:
        assert s.status == "signed"
