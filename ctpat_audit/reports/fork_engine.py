"""papermill engine ``ctpat-fork``: each notebook run in a child forked from a warm zygote.

Registered through the ``papermill.engine`` entry point, so papermill still does everything
around the execution: it parameterizes the notebook, writes the output notebook, records each
cell's status and timing, and turns an error output into ``PapermillExecutionError`` naming
the failing cell. Only the execution differs from papermill's own engine: instead of starting
a kernel and talking to it over the kernel protocol, the cells run in a process forked from
a :class:`~ctpat_audit.reports.zygote.Zygote` (pre-imported, shared tables loaded) and their
outputs come back as the kernel would have sent them::

    papermill.execute_notebook(src, dst, parameters=..., engine_name="ctpat-fork",
                               zygote=zygote)

Without ``zygote`` it uses this process's own (:func:`default_zygote`). A cell running longer
than ``execution_timeout`` raises nbclient's ``CellTimeoutError``; a child that dies raises
``DeadKernelError``, as with a kernel. The cells ``nbclient`` would skip (empty, tagged
``skip-execution``) are skipped here too. Notebooks people run interactively still use
Jupyter kernels; this engine is for rendering.
"""
from __future__ import annotations

import atexit
import os
import threading
from pathlib import Path
from typing import Any

__all__ = ["ENGINE_NAME", "ForkEngine", "default_zygote"]

ENGINE_NAME = "ctpat-fork"
SKIP_TAG = "skip-execution"  # nbclient's default skip_cells_with_tag

_ZYGOTES: dict[str, Any] = {}
_ZYGOTES_LOCK = threading.Lock()


def default_zygote(workspace: str | Path | None = None) -> Any:
    """This process's zygote for ``workspace`` (started on first use, stopped at exit)."""
    from ctpat_audit.reports.zygote import Zygote

    key = str(Path(workspace).resolve()) if workspace else ""
    with _ZYGOTES_LOCK:
        zygote = _ZYGOTES.get(key)
        if zygote is None or zygote.proc.poll() is not None:
            zygote = _ZYGOTES[key] = Zygote(workspace=workspace or None)
            if len(_ZYGOTES) == 1:
                atexit.register(_close_all)
        return zygote


def _close_all() -> None:
    with _ZYGOTES_LOCK:
        zygotes = list(_ZYGOTES.values())
        _ZYGOTES.clear()
    for z in zygotes:
        z.close()


class ForkEngine:
    """The papermill engine (papermill calls these class methods)."""

    @classmethod
    def execute_notebook(cls, nb: Any, kernel_name: str, output_path: Any = None,
                         progress_bar: bool = True, log_output: bool = False,
                         autosave_cell_every: int = 30, **kwargs: Any) -> Any:
        from papermill.engines import NotebookExecutionManager

        nb_man = NotebookExecutionManager(nb, output_path=output_path,
                                          progress_bar=progress_bar, log_output=log_output,
                                          autosave_cell_every=autosave_cell_every)
        # papermill writes the whole notebook at the start and before and after every cell
        # (progress for a reader of the output file); here it is written once, at the end
        # (also when the run fails: notebook_complete runs in any case)
        save = nb_man.save
        nb_man.save = lambda **_kw: None
        try:
            nb_man.notebook_start()
            _execute(nb_man, **kwargs)
        finally:
            nb_man.cleanup_pbar()
            nb_man.save = save
            nb_man.notebook_complete()
        return nb_man.nb

    @classmethod
    def nb_kernel_name(cls, nb: Any, name: str | None = None) -> str:
        from papermill.utils import nb_kernel_name

        return str(nb_kernel_name(nb, name))

    @classmethod
    def nb_language(cls, nb: Any, language: str | None = None) -> str:
        from papermill.utils import nb_language

        return str(nb_language(nb, language))


def _execute(nb_man: Any, *, zygote: Any = None, execution_timeout: float | None = None,
             timeout: float | None = None, **_ignored: Any) -> None:
    """Run the managed notebook's code cells in a forked child, updating ``nb_man`` as the
    kernel engine does (cell start, outputs, failure, completion)."""
    from nbclient.exceptions import CellTimeoutError, DeadKernelError
    from nbformat import from_dict

    from ctpat_audit.reports.zygote import CellTimeout, ChildDied

    nb = nb_man.nb
    zygote = zygote or default_zygote()
    code = [(i, c.source) for i, c in enumerate(nb.cells)
            if c.cell_type == "code" and c.source.strip()
            and SKIP_TAG not in c.metadata.get("tags", [])]
    marked = 0  # cells before this index have been started and completed

    def pass_over(upto: int) -> None:  # markdown and skipped cells, as papermill marks them
        nonlocal marked
        for j in range(marked, upto):
            nb_man.cell_start(nb.cells[j], j)
            nb_man.cell_complete(nb.cells[j], j)
        marked = max(marked, upto)

    try:
        for event in zygote.run(code, cwd=os.getcwd(),
                                cell_timeout=execution_timeout or timeout):
            if "start" in event:
                i = int(event["start"])
                pass_over(i)
                nb_man.cell_start(nb.cells[i], i)
                nb.cells[i].outputs = []
            elif "done" in event:
                i = int(event["done"])
                cell = nb.cells[i]
                cell.execution_count = event.get("count")
                cell.outputs = [from_dict(o) for o in event.get("outputs", [])]
                if event.get("failed"):
                    nb_man.cell_exception(cell, i)
                nb_man.cell_complete(cell, i)
                marked = i + 1
                if event.get("failed"):
                    return
            elif "changed" in event:
                nb.cells[int(event["changed"])].outputs = [
                    from_dict(o) for o in event.get("outputs", [])]
            elif event.get("end"):
                nb.metadata["language_info"] = from_dict(event.get("language_info", {}))
                pass_over(len(nb.cells))
    except CellTimeout as exc:
        raise CellTimeoutError(str(exc)) from None
    except ChildDied as exc:
        raise DeadKernelError(str(exc)) from None
