"""What a notebook page shows when it loses its kernel, and the notes it saves on the way out.

Every answer is saved by the kernel, so a page whose kernel died, was restarted or can no
longer be reached saves nothing more, while its widgets still look live. :class:`ConnectionGuard`
is a small front-end piece (an `anywidget <https://anywidget.dev>`_ module,
``js/connection_guard.js``) placed at the top of the page and of the checklist. In the browser
it watches ipywidgets' "comm no longer live" event (sent to every widget when the kernel
restarts) and the kernel's own status (dead, restarting, disconnected); then it disables every
input of the page's widgets, replaces every "Saved" message with :data:`LAB_MESSAGE` (Voila:
:data:`PAGE_MESSAGE`) and shows it as a red banner. It works the same in JupyterLab and in
Voila, and needs nothing from the kernel, which is gone.

A kernel asked to stop (a restart, a shutdown) still saves the notes typed less than
:data:`~ctpat_audit.ui.checklist.NOTES_SAVE_DELAY_S` before it
(:func:`~ctpat_audit.ui.checklist.save_waiting_notes` runs when its process exits).
"""
from __future__ import annotations

from pathlib import Path

import anywidget
import traitlets

__all__ = ["ConnectionGuard", "LAB_MESSAGE", "PAGE_MESSAGE"]

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
