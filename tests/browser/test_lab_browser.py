"""A specialist's day in a real browser: run the validation notebook in JupyterLab, answer three
criteria by clicking and typing, lose the kernel, run again: the answers are back."""
from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import pytest
from lab_page import first_account, run_all, validation_notebook, wait_for_output

from ctpat_audit.server.lab import start_lab
from ctpat_audit.ui.checklist import STATUS_LABELS
from ctpat_audit.workspace.reference import as_workspace

pytestmark = [pytest.mark.browser, pytest.mark.slow]

SPECIALIST = "browser.test@cbp.example"
CHOICES = ["does_not_meet", "not_verified", "not_applicable"]


def _run_all(page) -> None:  # type: ignore[no-untyped-def]
    run_all(page)
    wait_for_output(page, page.locator(".ctpat-card"), timeout=60_000)


def _db(ws: Path) -> tuple[list[tuple], list[tuple]]:
    conn = sqlite3.connect(as_workspace(ws).db_path)
    try:
        sessions = conn.execute("SELECT session_id, opened_by FROM sessions").fetchall()
        answers = conn.execute("SELECT criterion_id, status, notes FROM answers "
                               "ORDER BY criterion_id").fetchall()
    finally:
        conn.close()
    return sessions, answers


def test_answers_survive_a_kernel_restart(chromium_browser, workspace_copy, tmp_path,
                                         artifacts_dir, monkeypatch):
    t0 = time.monotonic()
    # a new user: no Lab settings of their own yet (Lab would ask them about news)
    monkeypatch.setenv("JUPYTERLAB_SETTINGS_DIR", str(tmp_path / "lab-user-settings"))
    ws = workspace_copy
    account = first_account(ws)
    root = tmp_path / "notebooks"
    validation_notebook(root, ws, account, SPECIALIST)
    with start_lab(ws, account, notebook_dir=root, expose_app=True) as server:
        page = chromium_browser.new_page(viewport={"width": 1400, "height": 1000})
        try:
            page.goto(server.url, wait_until="domcontentloaded", timeout=60_000)
            _run_all(page)
            cards = page.locator(".ctpat-card")
            assert cards.count() >= 3
            typed: dict[str, tuple[str, str]] = {}
            for i, choice in enumerate(CHOICES):
                card = cards.nth(i)
                card.scroll_into_view_if_needed()
                cid = card.locator("b").first.inner_text().strip()
                card.locator(".ctpat-status select").select_option(label=STATUS_LABELS[choice])
                notes = card.locator(".ctpat-notes textarea")
                notes.click()
                text = f"browser note {i} for {cid}"
                notes.type(text)
                notes.press("Tab")  # the note is saved 0.8 s after the last keystroke
                card.locator(".ctpat-message").get_by_text("Saved").wait_for(timeout=15_000)
                typed[cid] = (choice, text)
            deadline = time.monotonic() + 15
            while len(_db(ws)[1]) < 3 or any(a[2] == "" for a in _db(ws)[1]):
                assert time.monotonic() < deadline, _db(ws)
                time.sleep(0.2)
            sessions, answers = _db(ws)
            assert sessions == [(sessions[0][0], SPECIALIST)]
            # the exam charts are drawn after the checklist is usable, in place of placeholders
            page.wait_for_function("() => !document.querySelector('.ctpat-later')",
                                   timeout=60_000)
            assert page.locator(".jp-OutputArea-output img").count() >= 1
            assert {a[0]: (a[1], a[2]) for a in answers} == typed

            # lose the kernel: restart it (all Python state gone), then run everything again
            page.evaluate("async () => { await window.jupyterapp.shell.currentWidget"
                          ".sessionContext.session.kernel.restart(); }")
            _run_all(page)
            cards = page.locator(".ctpat-card")
            for cid, (choice, text) in typed.items():
                card = page.locator(f".ctpat-c-{cid.replace('.', '-')}")
                select = card.locator(".ctpat-status select")
                shown = select.evaluate("s => s.options[s.selectedIndex].text").replace(
                    "\xa0", " ")  # ipywidgets shows labels with non-breaking spaces
                assert shown == STATUS_LABELS[choice]
                assert card.locator(".ctpat-notes textarea").input_value() == text
            header = page.locator(".ctpat-header").first
            assert "3/" in header.inner_text() and "DEMONSTRATION" in header.inner_text()
            assert _db(ws)[0] == sessions  # the same session was resumed, no new one
            cards.first.scroll_into_view_if_needed()
            # Lab asks nothing about news or updates (lab_settings/overrides.json)
            assert page.get_by_text("Jupyter news").count() == 0
            assert page.locator(".jp-Notification-Toast").count() == 0
            page.screenshot(path=str(artifacts_dir / "lab_browser_after_restart.png"))
        finally:
            page.close()
    assert time.monotonic() - t0 < 120
