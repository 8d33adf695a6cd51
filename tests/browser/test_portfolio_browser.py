"""The supervisor's portfolio in a real browser: overdue rows red, due-soon amber; an account id
opens that partner's validation notebook, where the evidence button counts the files attached."""
from __future__ import annotations

import sqlite3

import pytest
from lab_page import KERNEL_IDLE

from ctpat_audit.server.lab import start_lab
from ctpat_audit.workspace.reference import as_workspace

pytestmark = [pytest.mark.browser, pytest.mark.slow]

SUPERVISOR = "portfolio.test@cbp.example"
RED, AMBER = "rgb(253, 226, 226)", "rgb(255, 243, 205)"
CURRENT_PATH = ("(path) => { const w = window.jupyterapp.shell.currentWidget; "
                "return !!w && !!w.context && w.context.path === path; }")


def _run_all(page) -> None:  # type: ignore[no-untyped-def]
    page.wait_for_function(KERNEL_IDLE, timeout=60_000)
    page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")


def test_portfolio_rows_are_coloured_and_open_a_partner_whose_evidence_is_counted(
        chromium_browser, workspace_copy, tmp_path, artifacts_dir):
    ws = workspace_copy
    with start_lab(ws, user=SUPERVISOR, notebook="portfolio.ipynb", expose_app=True) as server:
        page = chromium_browser.new_page(viewport={"width": 1400, "height": 1000})
        try:
            page.goto(server.url, wait_until="domcontentloaded", timeout=60_000)
            _run_all(page)
            links = page.locator("a.ctpat-open-partner")
            links.first.wait_for(timeout=120_000)
            backlog = links.first.locator("xpath=ancestor::table[1]")
            colours = backlog.locator("tr").evaluate_all(
                "rows => rows.map(r => getComputedStyle(r).backgroundColor)")
            assert RED in colours  # overdue
            overdue = backlog.locator("tr", has=page.locator("a.ctpat-open-partner")).first
            assert overdue.evaluate("r => getComputedStyle(r).backgroundColor") == RED
            assert int(overdue.locator("td").nth(5).text_content()) > 0  # days overdue
            if AMBER in colours:  # due soon: not overdue, due within the window
                amber = backlog.locator("tr").nth(colours.index(AMBER))
                assert (amber.locator("td").nth(5).text_content() or "").strip() in ("", "0")
            backlog.scroll_into_view_if_needed()
            page.screenshot(path=str(artifacts_dir / "portfolio_backlog_colours_links.png"))

            account = (links.first.text_content() or "").strip()
            links.first.click()
            target = f"partners/validation-{account}.ipynb"
            page.wait_for_function(CURRENT_PATH, arg=target, timeout=60_000)
            _run_all(page)
            header = page.locator(".ctpat-header").first
            header.wait_for(timeout=120_000)
            conn = sqlite3.connect(as_workspace(ws).db_path)
            name = conn.execute("SELECT legal_name FROM partners WHERE account_id = ?",
                                (account,)).fetchone()[0]
            opened_by = lambda: conn.execute(  # noqa: E731
                "SELECT opened_by FROM sessions WHERE account_id = ? AND status = 'open'",
                (account,)).fetchall()
            assert f"{name} ({account})" in header.inner_text()
            assert opened_by() == [(SUPERVISOR,)]  # the launched user, never typed

            card = page.locator(".ctpat-card").first
            button = card.locator(".ctpat-evidence-button")
            assert button.inner_text() == "Evidence (0)"
            files = [tmp_path / "seal_log.pdf", tmp_path / "gate.jpg"]
            for f in files:
                f.write_bytes(b"evidence " + f.name.encode())
            with page.expect_file_chooser() as chooser:
                button.click()
            chooser.value.set_files([str(f) for f in files])
            card.get_by_text("Evidence (2)").wait_for(timeout=30_000)
            assert "seal_log.pdf" in card.locator(".ctpat-evidence").inner_text()
            assert conn.execute("SELECT count(*) FROM evidence WHERE session_id IN (SELECT "
                                "session_id FROM sessions WHERE account_id = ?)",
                                (account,)).fetchone()[0] == 2
            conn.close()
            card.scroll_into_view_if_needed()
            page.screenshot(path=str(artifacts_dir / "partner_opened_evidence_counted.png"))
        finally:
            page.close()
