"""How a report fails: the error it raises and the executed notebook it leaves behind.

A notebook run that fails raises :class:`ReportError`, which names the failing cell by its
index in the executed notebook (0-based; the cell papermill injects with the parameters
counts), carries a one-line reason (``ename: evalue``, without ANSI colour codes), the cell's
source and its traceback. The executed notebook is marked where it failed
(:func:`mark_failed_notebook`) without moving any cell, so the same index finds the failing
cell in it, and :func:`keep_failed` copies it to ``OUT/_failed/<session>/report.ipynb``
where a user can open it. ``ctpat-audit report`` and the batch both go through these
functions, so a failure reads and is kept the same way on both paths.
"""
from __future__ import annotations

import html
import os
import re
import shutil
from pathlib import Path

from ctpat_audit.core.errors import ReportError
from ctpat_audit.core.files import replacing

__all__ = [
    "FAILED_DIR",
    "FAILED_TAG",
    "NOTE_TAG",
    "ReportError",
    "clear_failed",
    "failed_notebook",
    "keep_failed",
    "mark_failed_notebook",
    "one_line",
    "strip_ansi",
]

#: Folder of ``OUT`` holding the executed notebooks of failed runs, one folder per session.
FAILED_DIR = "_failed"
#: Tag of the cell where the run stopped.
FAILED_TAG = "ctpat-failed-cell"
#: Tag of the markdown note placed right after that cell.
NOTE_TAG = "ctpat-failure-note"
#: Tag papermill puts on the banner and anchor cells it inserts into a failed notebook.
PAPERMILL_MARKER_TAG = "papermill-error-cell-tag"

_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def strip_ansi(text: str) -> str:
    """``text`` without ANSI terminal colour and cursor codes (IPython colours tracebacks)."""
    return _ANSI.sub("", text)


def one_line(ename: str, evalue: object = "") -> str:
    """``"ename: first line of evalue"`` without colour codes (``ename`` alone if no value)."""
    lines = [ln.strip() for ln in strip_ansi(str(evalue or "")).splitlines() if ln.strip()]
    name = strip_ansi(ename).strip() or "Error"
    return f"{name}: {lines[0]}" if lines else name


def mark_failed_notebook(nb_path: Path, cell_index: int | None, reason: str) -> int | None:
    """Mark the executed notebook at ``nb_path`` where the run stopped; the cell's index.

    ``cell_index``: the failing cell as papermill counted it (None: the last cell that
    started, which is where a timeout or a dead kernel stopped the run). Papermill's own
    banner and anchor cells are removed (they shift every later cell), the failing cell is
    tagged :data:`FAILED_TAG` and followed by a markdown note (:data:`NOTE_TAG`) giving the
    reason, and the notebook's ``ctpat.failure`` metadata records both. Returns None, and
    leaves the file alone, when there is no notebook to mark or no cell ran.
    """
    import nbformat

    try:
        nb = nbformat.read(str(nb_path), as_version=4)
    except (OSError, ValueError):  # not written (the kernel never started) or unreadable
        return None
    nb.cells = [c for c in nb.cells
                if PAPERMILL_MARKER_TAG not in c.get("metadata", {}).get("tags", [])]
    if cell_index is None:
        started = [i for i, c in enumerate(nb.cells)
                   if c.get("metadata", {}).get("papermill", {}).get("start_time")]
        cell_index = started[-1] if started else None
    if cell_index is None or not 0 <= cell_index < len(nb.cells):
        return None
    cell = nb.cells[cell_index]
    tags = cell.metadata.setdefault("tags", [])
    if FAILED_TAG not in tags:
        tags.append(FAILED_TAG)
    note = nbformat.v4.new_markdown_cell(
        f'<span id="ctpat-failed-cell" style="color:#b00020;font-weight:bold">The report '
        f"stopped at the cell above (cell {cell_index}): {html.escape(reason)}</span><br>"
        "The cells below did not run. Correct the session or the report notebook and "
        "render the report again.", metadata={"tags": [NOTE_TAG]})
    nb.cells.insert(cell_index + 1, note)
    nb.metadata.setdefault("ctpat", {})["failure"] = {"cell_index": cell_index,
                                                      "reason": reason}
    with replacing(nb_path) as tmp:
        nbformat.write(nb, str(tmp))
    return cell_index


def failed_notebook(out: str | Path, session_id: str) -> Path:
    """Where a failed run of ``session_id`` leaves its notebook: ``OUT/_failed/<session>/``."""
    return Path(out) / FAILED_DIR / session_id / "report.ipynb"


def keep_failed(out: str | Path, session_id: str, nb_path: Path,
                error: BaseException | None = None) -> Path | None:
    """Copy a failed run's executed notebook to :func:`failed_notebook`; its new path.

    None when the run wrote no notebook. A :class:`ReportError` given as ``error`` learns
    the path (its message then names it). ``session_id`` must be a safe folder name
    (:func:`ctpat_audit.reports.publish.check_safe_id`).
    """
    if not nb_path.is_file():
        return None
    dest = failed_notebook(out, session_id)
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f".report.ipynb.{os.getpid()}")
    shutil.copyfile(nb_path, tmp)
    os.replace(tmp, dest)
    if isinstance(error, ReportError):
        error.notebook = dest
    return dest


def clear_failed(out: str | Path, session_id: str) -> None:
    """Remove the notebook a failed run left (the report has since been published)."""
    shutil.rmtree(failed_notebook(out, session_id).parent, ignore_errors=True)
