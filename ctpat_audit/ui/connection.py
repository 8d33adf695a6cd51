"""The page's own front-end pieces (`anywidget <https://anywidget.dev>`_ modules in ``js/``):
the guard that shows when the kernel is lost, and the evidence button.

Every answer is saved by the kernel, so a page whose kernel died, was restarted or can no
longer be reached saves nothing more, while its widgets still look live.
:class:`ConnectionGuard` (``js/connection_guard.js``) sits at the top of the page and of the
checklist. In the browser it watches ipywidgets' "comm no longer live" event (sent to every
widget when the kernel restarts) and the kernel's own status (dead, restarting, disconnected);
then it disables every input of the page's widgets, replaces every "Saved" message with
:data:`LAB_MESSAGE` (Voila: :data:`PAGE_MESSAGE`) and shows it as a red banner. It works
the same in JupyterLab and in Voila, and needs nothing from the kernel, which is gone.

A kernel asked to stop (a restart, a shutdown) still saves the notes typed less than
:data:`~ctpat_audit.ui.checklist.NOTES_SAVE_DELAY_S` before it
(:func:`~ctpat_audit.ui.checklist.save_waiting_notes` runs when its process exits).

:class:`EvidenceButton` (``js/evidence_button.js``) reads "Evidence (N)" with N the files
stored for the criterion, and sends the files picked to the kernel.
"""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import anywidget
import traitlets

__all__ = ["ConnectionGuard", "EvidenceButton", "LAB_MESSAGE", "PAGE_MESSAGE"]

#: The banner in JupyterLab.
LAB_MESSAGE = "Not connected: Run All to resume"
#: The banner on a Voila page (no cells to run there).
PAGE_MESSAGE = "Not connected: reload the page to resume"


class ConnectionGuard(anywidget.AnyWidget):
    """Empty while the kernel is there; the "Not connected" banner, with every input of the
    page disabled, from the moment the page loses its kernel."""

    _esm = Path(__file__).parent / "js" / "connection_guard.js"
    lab_message = traitlets.Unicode(LAB_MESSAGE).tag(sync=True)
    page_message = traitlets.Unicode(PAGE_MESSAGE).tag(sync=True)

    def __init__(self) -> None:
        super().__init__()
        self.add_class("ctpat-connection-guard")


class EvidenceButton(anywidget.AnyWidget):
    """A criterion's evidence button: "Evidence (N)", N the files stored for it, which opens
    the browser's file picker. The files chosen are handed to ``on_files`` as (name, bytes)
    pairs; the card then sets :attr:`count` to what is stored. :meth:`receive` does from
    Python what a pick in the browser does."""

    _esm = Path(__file__).parent / "js" / "evidence_button.js"
    count = traitlets.Int(0).tag(sync=True)
    disabled = traitlets.Bool(False).tag(sync=True)

    def __init__(self, on_files: Callable[[list[tuple[str, bytes]]], None], *,
                 count: int = 0) -> None:
        super().__init__(count=count)
        self._on_files = on_files
        self.add_class("ctpat-evidence-upload")
        self.on_msg(self._message)

    def receive(self, files: list[tuple[str, bytes]]) -> None:
        """Files picked in the browser: (file name, content) pairs."""
        self._on_files(files)

    def _message(self, _widget: object, content: dict[str, Any], buffers: list[Any]) -> None:
        if content.get("kind") == "files":
            names = [str(n) for n in content.get("names", [])]
            self.receive([(n, bytes(b)) for n, b in zip(names, buffers, strict=False)])
