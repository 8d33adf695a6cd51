"""Submitting in a real browser, with no code typed: identity from the launch, the gate with a
reason, the visible lock, "Open revision"; and in Voila, a partner who is not the Company
Officer cannot submit as the officer."""
from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import pytest
from lab_page import first_account, run_all, validation_notebook
from playwright.sync_api import expect

from ctpat_audit.server.lab import start_lab, start_voila
from ctpat_audit.workspace.reference import as_workspace

pytestmark = [pytest.mark.browser, pytest.mark.slow]

SPECIALIST = "gate.test@cbp.example"


def _sessions(ws: Path) -> list[tuple]:
    conn = sqlite3.connect(as_workspace(ws).db_path)
    try:
        return conn.execute("SELECT status, opened_by, submitted_by, supersedes FROM sessions "
                            "ORDER BY opened_at").fetchall()
    finally:
        conn.close()


def _wait_db(ws: Path, check, timeout: float = 20) -> list[tuple]:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not check(rows := _sessions(ws)):
        assert time.monotonic() < deadline, rows
        time.sleep(0.2)
    return rows


def test_specialist_submits_through_the_gate_and_opens_a_revision(
        chromium_browser, workspace_copy, tmp_path, artifacts_dir):
    ws = workspace_copy
    account = first_account(ws)
    root = tmp_path / "notebooks"
    validation_notebook(root, ws, account, SPECIALIST)
    with start_lab(ws, account, notebook_dir=root, expose_app=True) as server:
        page = chromium_browser.new_page(viewport={"width": 1400, "height": 1000})
        try:
            page.goto(server.url, wait_until="domcontentloaded", timeout=60_000)
            run_all(page)
            panel = page.locator(".ctpat-submit-panel")
            panel.wait_for(state="attached", timeout=90_000)
            # identity: shown, not typed
            assert page.get_by_text("Submitted by").count() == 0
            assert panel.locator("input[type=text]").count() == 0
            assert SPECIALIST in panel.locator(".ctpat-submitter").inner_text()
            assert SPECIALIST in page.locator(".ctpat-header").first.inner_text()
            # the progress header stays on screen while the cards scroll under it
            page.locator(".ctpat-card").nth(4).scroll_into_view_if_needed()
            page.wait_for_timeout(300)
            top, outer = page.evaluate(
                "() => [document.querySelector('.ctpat-sticky').getBoundingClientRect().top, "
                "document.querySelector('.jp-WindowedPanel-outer').getBoundingClientRect().top]")
            assert abs(top - outer) < 2, (top, outer)
            # answer one criterion; the gate follows the save
            card = page.locator(".ctpat-card").first
            card.locator(".ctpat-status select").select_option(label="Not applicable")
            card.locator(".ctpat-message").get_by_text("Saved").wait_for(timeout=15_000)
            panel.scroll_into_view_if_needed()
            submit = panel.locator(".ctpat-submit")
            assert submit.is_disabled()  # incomplete: no submit without the decision
            panel.locator(".ctpat-incomplete input").check()
            reason = panel.locator(".ctpat-reason textarea")
            reason.wait_for(timeout=15_000)
            reason.click()
            reason.type("Partner site closed; remaining criteria at the next visit")
            page.wait_for_function("() => !document.querySelector('.ctpat-submit').disabled",
                                   timeout=15_000)
            submit.click()
            panel.locator(".ctpat-confirm").click()
            rows = _wait_db(ws, lambda r: r and r[-1][0] == "submitted")
            assert rows == [("submitted", SPECIALIST, SPECIALIST, None)]
            header = page.locator(".ctpat-header").first
            page.wait_for_function("() => document.querySelector('.ctpat-header').innerText"
                                   ".includes('Submitted, read-only')", timeout=15_000)
            assert card.locator(".ctpat-status select").is_disabled()
            assert "Submitted, read-only" in panel.inner_text()
            panel.screenshot(path=str(artifacts_dir / "submit_gate_after_submit.png"))
            page.locator(".ctpat-open-revision").first.click()
            rows = _wait_db(ws, lambda r: len(r) == 2)
            assert [r[0] for r in rows] == ["superseded", "open"] and rows[1][1] == SPECIALIST
            page.wait_for_function("() => !document.querySelector('.ctpat-card select')"
                                   ".disabled", timeout=15_000)
            expect(header).to_contain_text("Open", timeout=15_000)  # redrawn after the revision
            header.scroll_into_view_if_needed()
            page.screenshot(path=str(artifacts_dir / "submit_revision_opened.png"))
        finally:
            page.close()


def test_a_contact_who_is_not_the_officer_cannot_submit_in_voila(
        chromium_browser, workspace_copy, artifacts_dir):
    ws = workspace_copy
    conn = sqlite3.connect(as_workspace(ws).db_path)
    acc, email = conn.execute(
        "SELECT account_id, email FROM contacts WHERE role != 'Company Officer' AND account_id "
        "IN (SELECT account_id FROM contacts WHERE role = 'Company Officer') "
        "ORDER BY account_id LIMIT 1").fetchone()
    conn.close()
    with start_voila(ws, acc, user=email) as server:
        page = chromium_browser.new_page(viewport={"width": 1400, "height": 1000})
        try:
            page.goto(server.url, wait_until="domcontentloaded", timeout=120_000)
            panel = page.locator(".ctpat-submit-panel")
            panel.wait_for(state="attached", timeout=120_000)
            assert page.title() == "CTPAT self-assessment"
            assert panel.locator("input[type=text]").count() == 0  # no name to type
            assert page.get_by_text("Submitted by").count() == 0
            assert email in panel.inner_text() and "not a Company Officer" in panel.inner_text()
            assert panel.locator(".ctpat-submit").count() == 0  # no submit button to click
            panel.scroll_into_view_if_needed()
            page.screenshot(path=str(artifacts_dir / "voila_non_officer_cannot_submit.png"))
            # the contact may answer: the gap table and the submit panel follow each save
            gaps = page.locator(".ctpat-gaps")
            total = gaps.inner_text().split(" answered")[0].split("/")[1]
            page.locator(".ctpat-card").first.locator(".ctpat-status select").select_option(
                label="Meets")
            gaps.get_by_text(f"1/{total} answered").wait_for(timeout=15_000)
            panel.get_by_text(f"1/{total} answered").wait_for(timeout=15_000)
        finally:
            page.close()
    assert [r[0] for r in _sessions(ws)] == ["open"]  # answered, never submitted
