"""The kernel dies under a page, in a real browser: every input is disabled, the page says
"Not connected", a stale widget claims nothing saved; run again and every answer is back.
In JupyterLab, and in Voila."""
from __future__ import annotations

import os
import signal
import sqlite3
import time
from pathlib import Path

import psutil
import pytest
from lab_page import KERNEL_IDLE, first_account, validation_notebook

from ctpat_audit.server.lab import start_lab, start_voila
from ctpat_audit.ui.checklist import STATUS_LABELS
from ctpat_audit.ui.connection import LAB_MESSAGE, PAGE_MESSAGE
from ctpat_audit.workspace.reference import as_workspace

pytestmark = [pytest.mark.browser, pytest.mark.slow]

SPECIALIST = "loss.test@cbp.example"
STALE = "typed into a widget whose kernel is gone"

# Every input of the page's widgets, and whether each is disabled.
INPUTS_DISABLED = """() => Array.from(document.querySelectorAll(
    '.jp-OutputArea-output input, .jp-OutputArea-output select, '
    + '.jp-OutputArea-output textarea, .jp-OutputArea-output button')).map(e => e.disabled)"""


def _answers(ws: Path) -> list[tuple]:
    conn = sqlite3.connect(as_workspace(ws).db_path)
    try:
        return conn.execute("SELECT criterion_id, status, notes FROM answers "
                            "ORDER BY criterion_id").fetchall()
    finally:
        conn.close()


def _wait(check, timeout: float = 20):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not (value := check()):
        assert time.monotonic() < deadline, value
        time.sleep(0.2)
    return value


def _kill_kernel(server) -> int:  # type: ignore[no-untyped-def]
    """SIGKILL the server's kernel process (no chance to save anything); its pid."""
    kernels = [p for p in psutil.Process(server.process.pid).children(recursive=True)
               if "ipykernel" in " ".join(p.cmdline())]
    assert len(kernels) == 1, kernels
    os.kill(kernels[0].pid, signal.SIGKILL)
    return kernels[0].pid


def _answer_first_card(page, choice: str, note: str) -> str:  # type: ignore[no-untyped-def]
    card = page.locator(".ctpat-card").first
    card.scroll_into_view_if_needed()
    cid = card.locator("b").first.inner_text().strip()
    card.locator(".ctpat-status select").select_option(label=STATUS_LABELS[choice])
    notes = card.locator(".ctpat-notes textarea")
    notes.click()
    notes.type(note)
    notes.press("Tab")
    card.locator(".ctpat-message").get_by_text("Saved").wait_for(timeout=15_000)
    return cid


def _check_stale_page(page, ws: Path, message: str, saved: list[tuple],  # type: ignore[no-untyped-def]
                      screenshot: Path) -> None:
    banners = page.locator(".ctpat-not-connected")  # the top of the page and the checklist
    banners.first.wait_for(state="attached", timeout=60_000)
    # text, not innerText: JupyterLab leaves cells off screen unrendered
    assert [b.strip() for b in banners.all_text_contents()] == [message, message]
    disabled = page.evaluate(INPUTS_DISABLED)
    assert disabled and all(disabled), disabled
    messages = page.locator(".ctpat-message").all_text_contents()
    assert messages and all(m.strip() == message for m in messages), messages
    ok = page.get_by_role("button", name="Ok")  # JupyterLab's "Kernel Restarting" dialog
    if ok.count():
        ok.first.click()
    page.locator(".ctpat-card").first.scroll_into_view_if_needed()
    page.screenshot(path=str(screenshot))
    # force text into a stale notes box (as a browser would deliver it): nothing is saved,
    # nothing says "Saved"
    page.evaluate("""(text) => {
        const box = document.querySelector('.ctpat-card .ctpat-notes textarea');
        box.disabled = false; box.value = text;
        box.dispatchEvent(new Event('input', {bubbles: true}));
        box.dispatchEvent(new Event('change', {bubbles: true})); }""", STALE)
    page.wait_for_timeout(2000)  # longer than the notes' save delay
    assert page.get_by_text("Saved", exact=True).count() == 0
    assert _answers(ws) == saved  # the stale text reached nothing


def test_lab_kernel_killed_page_disabled_then_run_all_brings_everything_back(
        chromium_browser, workspace_copy, tmp_path, artifacts_dir):
    ws = workspace_copy
    account = first_account(ws)
    root = tmp_path / "notebooks"
    validation_notebook(root, ws, account, SPECIALIST)
    with start_lab(ws, account, notebook_dir=root, expose_app=True) as server:
        page = chromium_browser.new_page(viewport={"width": 1400, "height": 1000})
        try:
            page.goto(server.url, wait_until="domcontentloaded", timeout=60_000)
            page.wait_for_function(KERNEL_IDLE, timeout=60_000)
            page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")
            page.locator(".ctpat-card").first.wait_for(timeout=90_000)
            cid = _answer_first_card(page, "does_not_meet", "seal log missing two days")
            saved = [(cid, "does_not_meet", "seal log missing two days")]
            _wait(lambda: _answers(ws) == saved)

            _kill_kernel(server)
            _check_stale_page(page, ws, LAB_MESSAGE, saved, artifacts_dir / "lab_kernel_lost.png")

            page.wait_for_function(KERNEL_IDLE, timeout=60_000)  # the server restarted it
            page.evaluate("() => window.jupyterapp.commands.execute("
                          "'notebook:clear-all-cell-outputs')")
            page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")
            card = page.locator(f".ctpat-c-{cid.replace('.', '-')}")
            card.wait_for(timeout=90_000)
            select = card.locator(".ctpat-status select")
            assert select.evaluate("s => s.options[s.selectedIndex].text").replace(
                "\xa0", " ") == STATUS_LABELS["does_not_meet"]
            assert card.locator(".ctpat-notes textarea").input_value() == saved[0][2]
            assert page.locator(".ctpat-not-connected").count() == 0
            assert not select.is_disabled()
            assert _answers(ws) == saved
        finally:
            page.close()


def test_voila_kernel_killed_page_disabled_then_reload_brings_everything_back(
        chromium_browser, workspace_copy, artifacts_dir):
    ws = workspace_copy
    conn = sqlite3.connect(as_workspace(ws).db_path)
    acc, officer = conn.execute("SELECT account_id, email FROM contacts WHERE role = "
                                "'Company Officer' ORDER BY account_id LIMIT 1").fetchone()
    conn.close()
    with start_voila(ws, acc, user=officer) as server:
        page = chromium_browser.new_page(viewport={"width": 1400, "height": 1000})
        try:
            page.goto(server.url, wait_until="domcontentloaded", timeout=120_000)
            page.locator(".ctpat-card").first.wait_for(timeout=120_000)
            cid = _answer_first_card(page, "meets", "written procedure, signed 2026")
            saved = [(cid, "meets", "written procedure, signed 2026")]
            _wait(lambda: _answers(ws) == saved)

            _kill_kernel(server)
            _check_stale_page(page, ws, PAGE_MESSAGE, saved,
                              artifacts_dir / "voila_kernel_lost.png")

            page.reload(wait_until="domcontentloaded", timeout=120_000)
            card = page.locator(f".ctpat-c-{cid.replace('.', '-')}")
            card.wait_for(timeout=120_000)
            assert card.locator(".ctpat-notes textarea").input_value() == saved[0][2]
            assert page.locator(".ctpat-not-connected").count() == 0
        finally:
            page.close()
