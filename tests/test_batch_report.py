"""The batch end to end with the real report template (templates/report.ipynb): sample
workspace, sample validations, demonstration keys; executed on forked warm kernels, HTML, PDF
through chromium, Excel, signed by the specialist and countersigned by the supervisor,
verified, indexed; a second run has nothing to do."""
from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import pytest
from openpyxl import load_workbook

from ctpat_audit.batch.run import BatchManifest, run_batch
from ctpat_audit.demo.sample_data import write_sample
from ctpat_audit.demo.sample_sessions import write_sample_sessions
from ctpat_audit.intake.importer import import_source
from ctpat_audit.reports.pipeline import network_urls, notebook_summary
from ctpat_audit.trust.signing import demo_keys
from ctpat_audit.trust.verify import verify_report
from ctpat_audit.workspace.reference import init_workspace

pytestmark = [pytest.mark.slow, pytest.mark.skipif(shutil.which("chromium") is None,
                                                   reason="Debian chromium not installed")]
AS_OF = dt.date(2026, 11, 1)
PASS = "demo-batch-pass"


def test_real_template_batch_signs_verifies_and_indexes(tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    src = write_sample(tmp_path / "src", partners=12, seed=4, as_of=AS_OF,
                       shipments_per_partner=40)
    ws = init_workspace(tmp_path / "ws")
    import_source(ws, src, progress=False)
    made = write_sample_sessions(ws, 2, 0, 4, AS_OF)
    keys = demo_keys(ws.path, PASS)
    monkeypatch.setenv("CTPAT_DEMO_PASS", PASS)
    out = tmp_path / "reports"
    kw = {"out": out, "key": keys["demo.supervisor@cbp.example"],
          "specialist_keys": ws.path / "demo-keys", "passphrase_env": "CTPAT_DEMO_PASS",
          "workers": 1, "progress": False}
    summary = run_batch(ws.path, **kw)
    assert summary.failed == 0, [(r.step, r.failed_cell, r.error) for r in summary.results]
    assert {r.session_id for r in summary.results} == set(made["validations"])
    for r in summary.results:
        folder = out / r.folder
        assert r.signatures == ["validated", "approved"]
        assert r.findings is not None and r.outcome
        assert {"report.ipynb", "report.html", "report.pdf", "report.xlsx"} <= {
            p.name for p in folder.iterdir()}
        assert network_urls((folder / "report.html").read_text()) == []
        # the kernel published the header and wrote the workbook (no second data load)
        head = notebook_summary(folder / "report.ipynb")["header"]
        assert head["session_id"] == r.session_id and head["account_id"] == r.account_id
        assert load_workbook(folder / "report.xlsx", read_only=True).sheetnames[0] == "Summary"
        check = verify_report(folder, ws.path / "keys")
        assert check.ok, check.problems
    page = (out / "index.html").read_text()
    for r in summary.results:
        assert f'href="{r.folder}/report.pdf"' in page
    assert network_urls(page) == []
    again = run_batch(ws.path, **kw)
    assert again.ran == 0 and again.skipped == 2
    assert len(BatchManifest(out).runs()) == 2
