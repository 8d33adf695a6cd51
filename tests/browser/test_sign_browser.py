"""After a submission, in a real browser with no code typed: the notebook creates nothing until
the specialist chooses; they view the submitted validation, then render, sign and verify its
report in the notebook and get a link to the PDF."""
from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from lab_page import first_account, run_all, validation_notebook

from ctpat_audit.server.lab import start_lab
from ctpat_audit.sessions.session import open_session
from ctpat_audit.trust import keys
from ctpat_audit.workspace.reference import as_workspace

pytestmark = [pytest.mark.browser, pytest.mark.slow]

SPECIALIST = "sign.test@cbp.example"
KEY_PASS = "key-passphrase-1"


def _sessions(ws: Path) -> list[tuple]:
    conn = sqlite3.connect(as_workspace(ws).db_path)
    try:
        return conn.execute("SELECT session_id, status FROM sessions").fetchall()
    finally:
        conn.close()


def test_view_the_submitted_validation_then_render_sign_and_verify(
        chromium_browser, workspace_copy, tmp_path, artifacts_dir):
    ws = workspace_copy
    account = first_account(ws)
    with open_session(ws, account, "validation", "virtual", SPECIALIST) as s:
        for cid, fid in s.units():
            s.answer(cid, status="meets", method="document_review", facility_id=fid)
        s.submit()
        sid = s.id
    key = tmp_path / "my-key.p12"
    keys.issue_signer(keys.init_ca(ws, "ca-passphrase-1"), key, KEY_PASS, name="Sign Test",
                      email=SPECIALIST, role="specialist")
    root = tmp_path / "notebooks"
    validation_notebook(root, ws, account, SPECIALIST)
    with start_lab(ws, account, notebook_dir=root, expose_app=True) as server:
        page = chromium_browser.new_page(viewport={"width": 1400, "height": 1000})
        try:
            page.goto(server.url, wait_until="domcontentloaded", timeout=60_000)
            run_all(page)
            chooser = page.locator(".ctpat-session-chooser")
            chooser.get_by_text("Nothing has been created").wait_for(timeout=90_000)
            page.locator(".ctpat-render-sign").wait_for(state="attached", timeout=90_000)
            assert _sessions(ws) == [(sid, "submitted")]  # Run All created nothing
            chooser.scroll_into_view_if_needed()
            page.screenshot(path=str(artifacts_dir / "sign_choice_after_submission.png"))
            chooser.get_by_role("button", name="View the Submitted, read-only validation").click()
            card = page.locator(".ctpat-card").first
            card.wait_for(timeout=60_000)
            assert card.locator(".ctpat-status select").is_disabled()
            assert _sessions(ws) == [(sid, "submitted")]

            sign = page.locator(".ctpat-render-sign").locator("xpath=..")
            sign.scroll_into_view_if_needed()
            key_box = sign.locator("input[type=text]")
            key_box.fill(str(key))
            key_box.press("Enter")
            secret = sign.locator("input[type=password]")
            secret.fill(KEY_PASS)
            secret.press("Enter")
            page.locator(".ctpat-render-sign").click()
            result = page.locator(".ctpat-sign-result")
            result.get_by_text("verified", exact=True).wait_for(timeout=300_000)
            assert "VERIFIED: every signature" in result.inner_text()
            link = result.locator("a.ctpat-pdf-link")
            assert link.get_attribute("href") == f"reports/{account}/{sid}/report.pdf"
            assert (root / "reports" / account / sid / "report.pdf").is_file()
            assert _sessions(ws) == [(sid, "signed")]
            page.wait_for_function("() => document.querySelector('.ctpat-header').innerText"
                                   ".includes('Signed, read-only')", timeout=15_000)
            result.scroll_into_view_if_needed()
            page.screenshot(path=str(artifacts_dir / "sign_verified_in_notebook.png"))
        finally:
            page.close()


def test_the_company_officer_submits_and_signs_in_voila(
        chromium_browser, workspace_copy, tmp_path, artifacts_dir):
    from ctpat_audit.server.lab import start_voila

    ws = workspace_copy
    conn = sqlite3.connect(as_workspace(ws).db_path)
    acc, officer = conn.execute("SELECT account_id, email FROM contacts WHERE role = "
                                "'Company Officer' ORDER BY account_id LIMIT 1").fetchone()
    conn.close()
    key = tmp_path / "officer.p12"
    keys.issue_signer(keys.init_ca(ws, "ca-passphrase-1"), key, KEY_PASS, name="The Officer",
                      email=officer, role="company_officer", account_id=acc)
    with start_voila(ws, acc, user=officer) as server:
        page = chromium_browser.new_page(viewport={"width": 1400, "height": 1000})
        try:
            page.goto(server.url, wait_until="domcontentloaded", timeout=120_000)
            panel = page.locator(".ctpat-submit-panel")
            panel.wait_for(state="attached", timeout=120_000)
            assert officer in panel.inner_text()
            page.locator(".ctpat-card").first.locator(".ctpat-status select").select_option(
                label="Meets")
            panel.get_by_text("1/").first.wait_for(timeout=15_000)
            panel.locator(".ctpat-incomplete input").check()
            reason = panel.locator(".ctpat-reason textarea")
            reason.wait_for(timeout=15_000)
            reason.fill("Our procedures are being rewritten; the rest follows in March")
            reason.press("Tab")
            page.wait_for_function("() => !document.querySelector('.ctpat-submit').disabled",
                                   timeout=15_000)
            panel.locator(".ctpat-submit").click()
            panel.locator(".ctpat-confirm").click()
            panel.get_by_text("contact your CBP Supply Chain Security Specialist").first \
                .wait_for(timeout=15_000)
            assert [r[1] for r in _sessions(ws)] == ["submitted"]
            sign = page.locator(".ctpat-render-sign").locator("xpath=..")
            sign.locator("input[type=text]").fill(str(key))
            sign.locator("input[type=text]").press("Tab")
            sign.locator("input[type=password]").fill(KEY_PASS)
            sign.locator("input[type=password]").press("Tab")
            page.locator(".ctpat-render-sign").click()
            result = page.locator(".ctpat-sign-result")
            result.get_by_text("verified", exact=True).wait_for(timeout=300_000)
            assert "Submitted by Company Officer The Officer" in result.inner_text()
            href = result.locator("a.ctpat-pdf-link").get_attribute("href")
            pdf = page.request.get(server.base_url + href)  # the link opens the signed PDF
            assert pdf.status == 200 and pdf.body().startswith(b"%PDF")
            assert [r[1] for r in _sessions(ws)] == ["signed"]
            result.scroll_into_view_if_needed()
            page.screenshot(path=str(artifacts_dir / "voila_officer_signed.png"))
        finally:
            page.close()
