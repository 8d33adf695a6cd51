"""Outputs drawn after the page is usable (ctpat_audit.ui.background), in a real kernel: with a
person at the frontend the cell shows placeholders and returns, and the outputs replace them
once no queued cell is left; with nobody there (papermill) the cell draws them itself."""
from __future__ import annotations

import ast
import queue
import time
from collections.abc import Iterator
from typing import Any

import pytest

SHOW = """
import time
from IPython.display import HTML
from ctpat_audit.ui.background import show_later

started = []

def outputs():
    started.append(time.monotonic())
    yield HTML("<b>drawn 1</b>")
    if FAIL:
        raise ValueError("the baseline file is missing")
    yield HTML("<b>drawn 2</b>")

drawing = show_later(["Drawing one ...", "Drawing two ..."], outputs)
"""


@pytest.fixture(scope="module")
def kernel() -> Iterator[Any]:
    from jupyter_client.manager import start_new_kernel

    km, kc = start_new_kernel(kernel_name="python3")
    try:
        yield kc
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)


def _messages(kc: Any, until: Any, timeout: float = 60.0) -> list[dict]:
    """iopub messages until ``until(messages)`` is true."""
    got: list[dict] = []
    deadline = time.monotonic() + timeout
    while not until(got):
        assert time.monotonic() < deadline, [m["msg_type"] for m in got]
        try:
            got.append(kc.get_iopub_msg(timeout=1))
        except queue.Empty:
            continue
    return got


def _idle(msg_id: str) -> Any:
    return lambda got: any(m["msg_type"] == "status" and m["content"]["execution_state"] == "idle"
                           and m["parent_header"].get("msg_id") == msg_id for m in got)


def _html(msg: dict) -> str:
    return str(msg["content"].get("data", {}).get("text/html", ""))


def _value(kc: Any, expr: str) -> Any:
    """The value of a Python literal expression evaluated in the kernel."""
    seen: list[dict] = []
    reply = kc.execute_interactive(f"print(repr({expr}))", timeout=60, output_hook=seen.append)
    assert reply["content"]["status"] == "ok"
    text = "".join(m["content"].get("text", "") for m in seen if m["msg_type"] == "stream")
    return ast.literal_eval(text.strip())


def test_nobody_at_the_frontend_the_cell_draws_its_outputs(kernel: Any) -> None:
    msg_id = kernel.execute("FAIL = False\n" + SHOW, allow_stdin=False)
    got = _messages(kernel, _idle(msg_id))
    shown = [_html(m) for m in got if m["msg_type"] == "display_data"
             and m["parent_header"].get("msg_id") == msg_id]
    assert shown == ["<b>drawn 1</b>", "<b>drawn 2</b>"]  # in the cell, no placeholders
    assert not any(m["msg_type"] == "update_display_data" for m in got)


def test_a_person_at_the_frontend_gets_the_outputs_after_the_queued_cells(kernel: Any) -> None:
    show = kernel.execute("FAIL = False\n" + SHOW, allow_stdin=True)
    # Run All: the next cell is already queued when the first one ends
    later = kernel.execute("time.sleep(1.0); later_ended = time.monotonic()", allow_stdin=True)
    got = _messages(kernel, lambda got: sum(m["msg_type"] == "update_display_data"
                                            for m in got) == 2)
    placeholders = [m for m in got if m["msg_type"] == "display_data"
                    and m["parent_header"].get("msg_id") == show]
    assert ["Drawing one ..." in _html(m) for m in placeholders] == [True, False]
    assert "Drawing two ..." in _html(placeholders[1])
    ids = [m["content"]["transient"]["display_id"] for m in placeholders]
    updates = [m for m in got if m["msg_type"] == "update_display_data"]
    assert [m["content"]["transient"]["display_id"] for m in updates] == ids
    assert [_html(m) for m in updates] == ["<b>drawn 1</b>", "<b>drawn 2</b>"]
    # the cell returned at once; the drawing waited for the queued cell to end
    order = [m["msg_type"] for m in got]
    assert order.index("update_display_data") > max(
        i for i, m in enumerate(got) if m["msg_type"] == "status"
        and m["parent_header"].get("msg_id") == later and m["content"]["execution_state"] == "idle")
    assert _value(kernel, "started[0] - later_ended") >= 0.2
    assert _value(kernel, "drawing.wait(10) and drawing.error is None") is True


def test_a_failed_drawing_is_said_in_place_in_plain_words(kernel: Any) -> None:
    msg_id = kernel.execute("FAIL = True\n" + SHOW, allow_stdin=True)
    got = _messages(kernel, lambda got: sum(m["msg_type"] == "update_display_data"
                                            for m in got) == 2)
    updates = [_html(m) for m in got if m["msg_type"] == "update_display_data"]
    assert updates[0] == "<b>drawn 1</b>"
    assert "Not drawn: the baseline file is missing" in updates[1]
    assert "Traceback" not in updates[1]
    assert not any(m["msg_type"] == "error" for m in got)
    assert _idle(msg_id)(got)
