"""The notebooks' last step: render the report, sign it as the launched user, verify it."""
from __future__ import annotations

from pathlib import Path

import pytest
from session_helpers import ACCOUNT, CRITERIA, OFFICER
from signing_helpers import KEY_PASS, SPECIALIST, Setup, make_setup, write_pdf

from ctpat_audit.sessions.session import open_session
from ctpat_audit.ui.session_page import SessionPage
from ctpat_audit.ui.sign_panel import RenderAndSignPanel


@pytest.fixture
def setup(tmp_path: Path) -> Setup:
    return make_setup(tmp_path)


def _page(setup: Setup, kind: str, actor: str) -> SessionPage:
    mode = "virtual" if kind == "validation" else None
    return SessionPage.of(open_session(setup.ws, ACCOUNT, kind, mode, actor, criteria=CRITERIA,
                                       catalogue_version="test"))


def _renderer(setup: Setup, calls: list[str]):
    """Writes the four report files the pipeline writes (a real PDF, small stand-ins for the
    rest) and returns the folder, as the pipeline's render does."""
    def render(session_id: str) -> Path:
        calls.append(session_id)
        folder = setup.root / "reports" / ACCOUNT / session_id
        folder.mkdir(parents=True, exist_ok=True)
        write_pdf(folder / "report.pdf", f"CTPAT report {session_id}")
        (folder / "report.html").write_text(f"<html><body><h1>{session_id}</h1></body></html>")
        (folder / "report.ipynb").write_text('{"cells": [], "metadata": {}, "nbformat": 4}')
        (folder / "report.xlsx").write_bytes(b"PK\x03\x04 workbook " + session_id.encode())
        return folder
    return render


def test_the_specialist_renders_signs_and_verifies_in_the_notebook(setup):
    page, calls = _page(setup, "validation", SPECIALIST), []
    panel = RenderAndSignPanel(page, _renderer(setup, calls), key_path=setup.p12["spec"])
    panel.passphrase.value = KEY_PASS
    panel.button.click()  # still open: the submit step comes first
    assert "submit it first" in panel.status.value and calls == []
    assert panel.passphrase.value == ""
    page.submit(reason="test")
    panel.key.value = str(setup.p12["spec2"])  # a colleague's key
    panel.passphrase.value = KEY_PASS
    panel.button.click()
    assert "this key belongs to olga.spec@cbp.example" in panel.status.value and calls == []
    panel.key.value = str(setup.p12["spec"])
    panel.passphrase.value = "not-it"
    panel.button.click()
    assert "Not signed" in panel.status.value and "passphrase" in panel.status.value
    panel.passphrase.value = KEY_PASS
    assert panel.run()
    assert calls == [page.session.id] and "Validated by" in panel.status.value
    assert "verified" in panel.status.value and "report.pdf" in panel.status.value
    assert page.status == "signed" and page.read_only
    panel.passphrase.value = KEY_PASS
    assert not panel.run() and "Signed, read-only" in panel.status.value


def test_the_company_officer_submits_and_signs_the_self_assessment(setup):
    page, calls = _page(setup, "self_assessment", OFFICER), []
    page.submit(reason="test")
    panel = RenderAndSignPanel(page, _renderer(setup, calls), key_path=setup.p12["officer"])
    panel.passphrase.value = KEY_PASS
    assert panel.run(), panel.status.value
    assert page.session.info()["signed_by"] == OFFICER and page.status == "signed"


def test_sign_step_renders_through_the_report_pipeline(sample_workspace, tmp_path, monkeypatch):
    import shutil

    from ctpat_audit.server import lab
    from ctpat_audit.trust import keys
    from ctpat_audit.workspace.reference import open_workspace

    ws = tmp_path / "ws"
    shutil.copytree(sample_workspace.path, ws)
    ca = keys.init_ca(ws, "ca-pass-1")
    key = tmp_path / "me.p12"
    keys.issue_signer(ca, key, KEY_PASS, name="Sam Spec", email=SPECIALIST, role="specialist")
    acc = str(open_workspace(ws).partners()["account_id"].iloc[0])
    page = SessionPage(ws, acc, "validation", "virtual", SPECIALIST)
    for cid, fid in page.session.units():
        page.session.answer(cid, status="meets", method="document_review", facility_id=fid)
    page.submit()
    monkeypatch.chdir(tmp_path)  # the notebook's folder: the PDF link is relative to it
    panel = lab.sign_step(page)
    panel.key.value, panel.passphrase.value = str(key), KEY_PASS
    panel.button.click()
    folder = tmp_path / "reports" / acc / page.session.id
    assert panel.report_dir == folder, panel.status.value
    assert {p.name for p in folder.iterdir()} >= {"report.ipynb", "report.html", "report.pdf",
                                                  "report.xlsx", "manifest.json"}
    assert "verified" in panel.status.value and "FAILED" not in panel.status.value
    assert f"href='reports/{acc}/{page.session.id}/report.pdf'" in panel.status.value
    assert page.status == "signed"


def test_the_officer_signs_the_self_assessment_through_the_report_pipeline(
        sample_workspace, tmp_path, monkeypatch):
    import shutil

    from ctpat_audit.server import lab
    from ctpat_audit.trust import keys
    from ctpat_audit.workspace.reference import open_workspace

    ws = tmp_path / "ws"
    shutil.copytree(sample_workspace.path, ws)
    w = open_workspace(ws)
    acc, officer = next((str(a), str(c[c["role"] == "Company Officer"]["email"].iloc[0]))
                        for a in w.partners()["account_id"]
                        if ((c := w.partner(str(a)).contacts)["role"] == "Company Officer").any())
    key = tmp_path / "officer.p12"
    keys.issue_signer(keys.init_ca(ws, "ca-pass-1"), key, KEY_PASS, name="The Officer",
                      email=officer, role="company_officer", account_id=acc)
    page = SessionPage(ws, acc, "self_assessment", None, officer)
    page.session.answer(page.session.criteria[0].criterion_id, status="meets")
    page.submit(reason="the rest is not ready yet")
    monkeypatch.chdir(tmp_path)
    panel = lab.sign_step(page)
    panel.key.value, panel.passphrase.value = str(key), KEY_PASS
    assert panel.run(), panel.status.value
    assert "Submitted by Company Officer The Officer" in panel.status.value
    assert (panel.report_dir / "report.pdf").is_file() and page.status == "signed"
