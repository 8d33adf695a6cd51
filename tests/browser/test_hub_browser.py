"""The team server in a real browser: JupyterHub with password accounts in front of a workspace.

One hub for the module (ports chosen free at start). People sign up on the hub's pages; the
admin approves two of them on the hub's authorization page. The specialist answers and
submits a validation and is refused the portfolio by the toolkit itself; the supervisor opens
the portfolio; a person who signed up but was not approved, and one approved but not among
the workspace's people, get no server.
"""
from __future__ import annotations

import json
import shutil
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import nbformat
import pytest
from lab_page import accept_kernel_choice, first_account
from papermill.iorw import load_notebook_node
from papermill.parameterize import parameterize_notebook

from ctpat_audit.server.hub import start_hub
from ctpat_audit.server.hub_config import state_files
from ctpat_audit.server.lab import free_port, notebooks_dir
from ctpat_audit.server.user_notebooks import NOTEBOOKS_FOLDER, user_folder_name
from ctpat_audit.trust.people import add_person, set_active
from ctpat_audit.workspace.reference import as_workspace

pytestmark = [pytest.mark.browser, pytest.mark.slow]

AS_OF = "2026-11-01"
PASSWORD = {"boss": "admin-pass-4417", "ana": "ana-pass-9931", "sue": "sue-pass-2286",
            "eve": "eve-pass-7702", "zed": "zed-pass-5108", "dan": "dan-pass-3390"}
EMAIL = {"boss": "bo.admin@cbp.example", "ana": "ana.diaz@cbp.example",
         "sue": "sue.sup@cbp.example", "eve": "eve.new@cbp.example",
         "dan": "dan.gone@cbp.example"}


def _notebook(ws: Path, email: str, name: str, params: dict[str, object]) -> None:
    """The person's own copy of ``name`` with its parameters set, as they would have set them
    (the hub keeps an existing copy as it is)."""
    nb = parameterize_notebook(load_notebook_node(str(notebooks_dir() / name)), params)
    folder = ws / NOTEBOOKS_FOLDER / user_folder_name(email)
    folder.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, folder / name)


@pytest.fixture(scope="module")
def team(sample_workspace, tmp_path_factory) -> Iterator[dict]:
    ws = tmp_path_factory.mktemp("hub") / "ws"
    shutil.copytree(sample_workspace.path, ws)
    add_person(ws, "boss", "Bo Admin", EMAIL["boss"], "admin")
    add_person(ws, "ana", "Ana Diaz", EMAIL["ana"], "specialist")
    add_person(ws, "sue", "Sue Sup", EMAIL["sue"], "supervisor")
    add_person(ws, "eve", "Eve New", EMAIL["eve"], "specialist")
    add_person(ws, "dan", "Dan Gone", EMAIL["dan"], "specialist")
    set_active(ws, "dan", False)
    account = first_account(ws)
    _notebook(ws, EMAIL["ana"], "validation.ipynb",
              {"workspace": str(ws), "account_id": account, "mode": "virtual",
               "specialist": "", "as_of": AS_OF})
    _notebook(ws, EMAIL["ana"], "portfolio.ipynb", {"workspace": str(ws), "as_of": AS_OF})
    _notebook(ws, EMAIL["sue"], "portfolio.ipynb", {"workspace": str(ws), "as_of": AS_OF})
    with start_hub(ws, port=free_port()) as hub:
        yield {"ws": ws, "hub": hub, "account": account}


def _sign_up(browser, url: str, user: str) -> str:
    page = browser.new_page()
    try:
        page.goto(url + "signup")
        page.fill("#username_input", user)
        page.fill("#password_input", PASSWORD[user])
        page.fill("#password_confirmation_input", PASSWORD[user])
        page.click("#signup_submit")
        page.wait_for_load_state()
        return page.inner_text("body")
    finally:
        page.close()


def _log_in(browser, url: str, user: str, then: str = ""):  # type: ignore[no-untyped-def]
    """A new browser context signed in as ``user``; ``then``: the hub page to go to after
    (default: the person's server, which the hub starts)."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.goto(url + "login" + (f"?next=/hub/{then}" if then else ""))
    page.fill("#username_input", user)
    page.fill("#password_input", PASSWORD[user])
    page.click("input[type=submit]")
    page.wait_for_load_state()
    return context, page


def _hub_users(ws: Path) -> dict[str, bool]:
    """The hub's own accounts (its database): name -> has a running server."""
    conn = sqlite3.connect(state_files(ws)["db"])
    try:
        rows = conn.execute("SELECT users.name, spawners.server_id FROM users LEFT JOIN "
                            "spawners ON spawners.user_id = users.id").fetchall()
        return {name: server is not None for name, server in rows}
    finally:
        conn.close()


#: True once a code cell of the open notebook has run or is running ("[*]:" or "[1]:").
_STARTED = """() => [...document.querySelectorAll('.jp-InputPrompt')]
  .some(p => /\\[(\\*|\\d+)\\]/.test(p.textContent))"""


def _run_all(page) -> None:  # type: ignore[no-untyped-def]
    """Run > Run All Cells, from JupyterLab's menu (no code typed); again if the first click
    came before the kernel took requests."""
    for _attempt in range(3):
        accept_kernel_choice(page)
        page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
        page.locator(".lm-Menu-itemLabel", has_text="Run All Cells").first.click()
        try:
            page.wait_for_function(_STARTED, timeout=20_000)
            return
        except Exception:  # not started: the kernel was not ready yet
            page.keyboard.press("Escape")
    raise AssertionError("Run All Cells did not start the notebook")


def _open_lab(page, timeout: float = 120_000) -> None:  # type: ignore[no-untyped-def]
    page.wait_for_url("**/lab/**", timeout=timeout)
    page.locator(".jp-Notebook:visible").first.wait_for(timeout=timeout)
    # the kernel is ready when the status bar reads "Python 3 (ipykernel) | Idle"
    idle = page.locator(".jp-StatusBar-Widget", has_text="Python 3 (ipykernel) | Idle").first
    asked = page.locator(".jp-Dialog", has_text="Select Kernel")
    idle.or_(asked).first.wait_for(timeout=timeout)
    accept_kernel_choice(page)
    idle.wait_for(timeout=timeout)


def test_sign_up_approval_and_refusals(chromium_browser, team, artifacts_dir):
    url, ws = team["hub"].url, team["ws"]
    # the first admin signs up: no approval needed
    assert "The signup was successful!" in _sign_up(chromium_browser, url, "boss")
    for user in ("ana", "sue", "eve", "zed", "dan"):
        assert "Your information has been sent to the admin" in _sign_up(
            chromium_browser, url, user)
    context, page = _log_in(chromium_browser, url, "boss", then="authorize")
    try:
        assert page.url.endswith("/hub/authorize")
        for user in ("ana", "sue", "zed", "dan"):  # not eve
            row = page.locator("tr", has=page.locator("td", has_text=user)).first
            row.get_by_role("button", name="Authorize").click()
            page.wait_for_load_state()
            page.goto(url + "authorize")
        page.screenshot(path=str(artifacts_dir / "hub-authorize.png"), full_page=True)
        body = page.inner_text("body")
        assert "eve" in body
    finally:
        context.close()
    # signed up, not approved: no sign-in, no server
    context, page = _log_in(chromium_browser, url, "eve")
    try:
        assert "has not been authorized by an administrator yet" in page.inner_text("body")
        page.goto(url + "spawn")
        assert "/hub/login" in page.url
    finally:
        context.close()
    # approved by the hub's admin but not one of the workspace's people: a plain refusal
    context, page = _log_in(chromium_browser, url, "zed")
    try:
        text = page.inner_text("body")
        page.screenshot(path=str(artifacts_dir / "hub-not-in-people.png"), full_page=True)
        assert "is not one of this workspace's people" in text
        assert "Traceback" not in text
    finally:
        context.close()
    # approved, in people, deactivated
    context, page = _log_in(chromium_browser, url, "dan")
    try:
        assert "is deactivated in this workspace" in page.inner_text("body")
    finally:
        context.close()
    servers = _hub_users(ws)
    assert "eve" not in servers and "zed" not in servers and "dan" not in servers
    assert not (ws / NOTEBOOKS_FOLDER / user_folder_name(EMAIL["eve"])).exists()


def _audit(ws: Path, session_id: str) -> list[tuple[str, str]]:
    conn = sqlite3.connect(as_workspace(ws).db_path)
    try:
        return conn.execute("SELECT actor, action FROM audit_log WHERE session_id = ? "
                            "ORDER BY seq", (session_id,)).fetchall()
    finally:
        conn.close()


def test_specialist_answers_and_submits_and_is_refused_the_portfolio(
        chromium_browser, team, artifacts_dir):
    url, ws = team["hub"].url, team["ws"]
    context, page = _log_in(chromium_browser, url, "ana")
    try:
        _open_lab(page)
        assert "/user/ana/lab/tree/validation.ipynb" in page.url
        _run_all(page)
        panel = page.locator(".ctpat-submit-panel")
        panel.wait_for(state="attached", timeout=120_000)
        assert EMAIL["ana"] in page.locator(".ctpat-header").first.inner_text()
        card = page.locator(".ctpat-card").first
        card.locator(".ctpat-status select").select_option(label="Not applicable")
        card.locator(".ctpat-message").get_by_text("Saved").wait_for(timeout=20_000)
        panel.scroll_into_view_if_needed()
        panel.locator(".ctpat-incomplete input").check()
        reason = panel.locator(".ctpat-reason textarea")
        reason.wait_for(timeout=15_000)
        reason.click()
        reason.type("Partner site closed; the rest at the next visit")
        page.wait_for_function("() => !document.querySelector('.ctpat-submit').disabled",
                               timeout=15_000)
        panel.locator(".ctpat-submit").click()
        panel.locator(".ctpat-confirm").click()
        page.get_by_text("Submitted, read-only").first.wait_for(timeout=20_000)
        page.screenshot(path=str(artifacts_dir / "hub-specialist-submitted.png"))
        conn = sqlite3.connect(as_workspace(ws).db_path)
        try:
            sid, opened_by, submitted_by = conn.execute(
                "SELECT session_id, opened_by, submitted_by FROM sessions WHERE account_id = ?"
                " ORDER BY opened_at DESC", (team["account"],)).fetchone()
        finally:
            conn.close()
        assert opened_by == submitted_by == EMAIL["ana"]
        entries = _audit(ws, sid)
        assert {a for a, _ in entries} == {EMAIL["ana"]}
        actions = [x for _, x in entries]
        assert actions[0] == "open_session" and "submit" in actions
        # a supervisor's notebook in her own folder: the toolkit refuses, not only the menu
        # opened from the file browser, as she would
        page.locator(".jp-DirListing-item", has_text="portfolio.ipynb").first.dblclick()
        page.locator(".lm-TabBar-tab.lm-mod-current", has_text="portfolio.ipynb").wait_for()
        _open_lab(page)
        _run_all(page)
        refusal = page.locator(".jp-OutputArea-output", has_text="may not open the portfolio")
        # Run All stops at the refused cell, near the top: bring it into view
        page.evaluate("() => document.querySelector('.jp-WindowedPanel-outer').scrollTop = 0")
        refusal.first.wait_for(timeout=120_000)
        assert "Ana Diaz (ana) is a specialist" in refusal.first.inner_text()
        refusal.first.scroll_into_view_if_needed()
        page.screenshot(path=str(artifacts_dir / "hub-specialist-refused-portfolio.png"))
    finally:
        page.screenshot(path=str(artifacts_dir / "hub-specialist-last.png"))
        context.close()


def test_supervisor_opens_the_portfolio(chromium_browser, team, artifacts_dir):
    url = team["hub"].url
    context, page = _log_in(chromium_browser, url, "sue")
    try:
        _open_lab(page)
        assert "/user/sue/lab/tree/portfolio.ipynb" in page.url
        _run_all(page)
        headline = page.locator(".jp-OutputArea-output", has_text="Suspension candidates")
        headline.first.wait_for(timeout=120_000)
        headline.first.scroll_into_view_if_needed()
        page.wait_for_timeout(800)  # Lab draws the cells scrolled into view a moment later
        page.screenshot(path=str(artifacts_dir / "hub-supervisor-portfolio.png"))
        text = page.locator(".jp-Notebook").first.inner_text()
        assert "may not" not in text and "AccessError" not in text
    finally:
        context.close()
    servers = _hub_users(team["ws"])
    assert servers.get("ana") and servers.get("sue")
    folders = json.dumps(sorted(p.name for p in (team["ws"] / NOTEBOOKS_FOLDER).iterdir()))
    assert user_folder_name(EMAIL["sue"]) in folders
