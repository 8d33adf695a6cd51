"""A kernel that stops loses no note that reached it, and the page knows how to say it is gone.

The browser half (the banner, disabled inputs, nothing claimed saved) is
``tests/browser/test_kernel_loss_browser.py``; here a real kernel is restarted while a note
waits for its save delay.
"""
from __future__ import annotations

import shutil
import sqlite3
import textwrap
from pathlib import Path

from jupyter_client.manager import KernelManager

from ctpat_audit.reports.execute import KERNEL_ARGUMENTS
from ctpat_audit.ui.checklist import NOTES_SAVE_DELAY_S, save_waiting_notes
from ctpat_audit.ui.connection import LAB_MESSAGE, ConnectionGuard
from ctpat_audit.workspace.reference import as_workspace


def _run(kc, code: str) -> dict:  # type: ignore[no-untyped-def]
    reply = kc.execute_interactive(textwrap.dedent(code), timeout=120,
                                   output_hook=lambda _msg: None)
    assert reply["content"]["status"] == "ok", reply["content"]
    return dict(reply["content"])


def _notes(ws: Path) -> list[tuple[str, str]]:
    conn = sqlite3.connect(as_workspace(ws).db_path)
    try:
        return conn.execute("SELECT criterion_id, notes FROM answers").fetchall()
    finally:
        conn.close()


def test_a_note_waiting_for_its_delay_is_saved_when_the_kernel_restarts(sample_workspace,
                                                                       tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    shutil.copytree(sample_workspace.path, ws)
    km = KernelManager(kernel_name="python3")
    km.start_kernel(cwd=str(tmp_path), extra_arguments=list(KERNEL_ARGUMENTS))
    try:
        kc = km.client()
        kc.start_channels()
        kc.wait_for_ready(timeout=60)
        _run(kc, f"""
            from ctpat_audit.ui.checklist import ChecklistWidget
            from ctpat_audit.ui.session_page import SessionPage
            from ctpat_audit.workspace.reference import open_workspace
            ws = {str(ws)!r}
            account = str(open_workspace(ws).partners()["account_id"].iloc[0])
            page = SessionPage(ws, account, "validation", "virtual", "loss.test@cbp.example")
            w = ChecklistWidget(page)
            card = next(iter(w.cards.values()))
            card.notes.value = "typed just before the restart"
            assert card.notes_timer.waiting  # saved {NOTES_SAVE_DELAY_S} s after the last key
            """)
        assert _notes(ws) == []  # not yet: the note waits for its delay
        kc.stop_channels()
        km.restart_kernel(now=False)  # a restart asks the kernel to stop, then starts anew
        [(_criterion, notes)] = _notes(ws)
        assert notes == "typed just before the restart"
    finally:
        km.shutdown_kernel(now=True)


def test_saving_waiting_notes_in_plain_python_has_nothing_to_do() -> None:
    assert save_waiting_notes() == 0  # no event loop: a note is saved at once, never waits


def test_the_guard_carries_the_banner_and_its_front_end() -> None:
    guard = ConnectionGuard()
    assert guard.lab_message == LAB_MESSAGE == "Not connected: Run All to resume"
    assert "reload the page" in guard.page_message
    esm = guard._esm if isinstance(guard._esm, str) else Path(guard._esm).read_text()
    assert "comm_live_update" in esm and "statusChanged" in esm and ".ctpat-message" in esm
