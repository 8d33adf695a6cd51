"""Outputs drawn after the page is usable: a notebook section that takes seconds to draw does
not hold up the cells after it.

Charts need matplotlib (and the exam comparison scipy), which take two seconds or more to
import in a new kernel: drawn in their cell, they would keep *Run All* from reaching the
checklist for that long. :func:`show_later` shows a placeholder line per output at once and
draws the outputs in a background thread once the kernel has no cell left to run (*Run All*
sends every cell at once: the thread starts after the last one, so it does not slow them
down), replacing each placeholder in place when its output is ready. The kernel answers the
widgets meanwhile.

Only a person at the frontend gains from that. A run with nobody there (papermill, nbconvert,
Voila, plain Python: their execute requests do not allow input, :func:`someone_waits`) draws
in the cell, so the notebook it saves holds every output, exactly as before.
"""
from __future__ import annotations

import html
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

from IPython.display import HTML, DisplayHandle, display

__all__ = ["someone_waits", "show_later", "Drawing", "QUIET_S"]

#: The kernel counts as having no cell left to run when none started this long after the last
#: one ended (queued cells follow each other within milliseconds).
QUIET_S = 0.25


def someone_waits() -> bool:
    """True when the running cell came from a frontend a person works in: its execute request
    allows input (JupyterLab, Notebook). False under papermill, nbconvert and Voila (they send
    ``allow_stdin: false``), in plain Python, or when this cannot be told."""
    try:
        from IPython import get_ipython

        kernel = getattr(get_ipython(), "kernel", None)
        parent = kernel.get_parent("shell") if kernel is not None else None
    except Exception:  # an unknown kernel: draw in the cell (always correct)
        return False
    content = parent.get("content") if isinstance(parent, dict) else None
    return bool(isinstance(content, dict) and content.get("allow_stdin"))


class _Cells:
    """Whether the shell is running a cell, and since when it is not (IPython's cell events)."""

    def __init__(self, shell: Any) -> None:
        self.running = True  # made from inside a cell
        self.since = time.monotonic()
        self.changed = threading.Condition()
        shell.events.register("pre_run_cell", self._started)
        shell.events.register("post_run_cell", self._ended)

    def _started(self, _info: object) -> None:
        with self.changed:
            self.running = True

    def _ended(self, _result: object) -> None:
        with self.changed:
            self.running, self.since = False, time.monotonic()
            self.changed.notify_all()

    def wait_quiet(self, quiet: float = QUIET_S) -> None:
        """Return once no cell has run for ``quiet`` seconds."""
        with self.changed:
            while True:
                left = quiet - (time.monotonic() - self.since)
                if not self.running and left <= 0:
                    return
                self.changed.wait(None if self.running else left)


_cells: dict[int, _Cells] = {}


def _cells_of(shell: Any) -> _Cells:
    if id(shell) not in _cells:
        _cells[id(shell)] = _Cells(shell)
    return _cells[id(shell)]


class Drawing:
    """The outputs of one :func:`show_later` call: drawn in the cell or in the background."""

    def __init__(self, handles: Sequence[DisplayHandle]) -> None:
        self.handles = list(handles)
        self.error: BaseException | None = None
        self.done = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def background(self) -> bool:
        return self._thread is not None

    def wait(self, timeout: float | None = None) -> bool:
        """Block until every output is drawn (or failed); False if ``timeout`` ran out."""
        return self.done.wait(timeout)

    def _start(self, outputs: Callable[[], Iterable[Any]], failed: str, cells: _Cells) -> None:
        self._thread = threading.Thread(target=self._draw, args=(outputs, failed, cells),
                                        name="ctpat-draw-later", daemon=True)
        self._thread.start()

    def _draw(self, outputs: Callable[[], Iterable[Any]], failed: str, cells: _Cells) -> None:
        pending: Iterator[DisplayHandle] = iter(self.handles)
        try:
            cells.wait_quiet()
            for output, handle in zip(outputs(), pending):
                handle.update(output)
            for handle in pending:  # fewer outputs than placeholders
                handle.update(HTML(""))
        except Exception as exc:  # shown in place of the outputs, in words
            self.error = exc
            for handle in pending:
                handle.update(HTML(f"<div style='color:#b00020'>{html.escape(failed)}: "
                                   f"{html.escape(str(exc))}</div>"))
        finally:
            self.done.set()


def show_later(placeholders: Sequence[str], outputs: Callable[[], Iterable[Any]], *,
               failed: str = "Not drawn") -> Drawing:
    """Display what ``outputs()`` yields, one output per placeholder line.

    With a person at the frontend (:func:`someone_waits`) the placeholders show at once and a
    background thread draws the outputs once no cell is left to run, each replacing its
    placeholder as soon as it is ready; otherwise the outputs are drawn and displayed here,
    before this returns. In the background, a failure replaces the outputs not drawn with
    ``failed`` and the reason, in plain words.
    """
    if not someone_waits():
        drawing = Drawing([])
        try:
            for output in outputs():
                display(output)
        finally:
            drawing.done.set()
        return drawing
    handles = [display(HTML(f"<i class='ctpat-later' style='color:#555'>{html.escape(text)}"
                            "</i>"), display_id=True) for text in placeholders]
    from IPython import get_ipython

    drawing = Drawing([h for h in handles if h is not None])
    drawing._start(outputs, failed, _cells_of(get_ipython()))
    return drawing
