"""Execute the report notebook with papermill, on the engine the caller chooses.

``ctpat-audit report``, the notebooks' sign panel and the batch run ``templates/report.ipynb``
on the fork engine (``engine_name="ctpat-fork"`` with a ``zygote``,
:mod:`ctpat_audit.reports.fork_engine`); ``engine_name=None`` is papermill's own engine on a
new ``python3`` kernel. Either way the notebook gets the same parameters and a failure is
reported the same way: a
:class:`~ctpat_audit.reports.failure.ReportError` naming the failing cell, with the executed
notebook marked there (:func:`~ctpat_audit.reports.failure.mark_failed_notebook`).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from ctpat_audit.core import package_data
from ctpat_audit.core.errors import ReportError
from ctpat_audit.reports.failure import mark_failed_notebook, one_line, strip_ansi

__all__ = ["DEFAULT_TEMPLATE", "KERNEL_ARGUMENTS", "execute_report", "report_parameters"]

DEFAULT_TEMPLATE = package_data.templates_dir() / "report.ipynb"
#: Command-line arguments of every kernel the toolkit starts itself (reports, the batch's
#: warm and forked kernels). A kernel's own log goes to the terminal of whoever ran the
#: command, and a normal run logs two lines there that are not the user's business: the
#: warning that the kernel listens on 127.0.0.1 without ZeroMQ encryption (its messages are
#: signed with the connection file's key, and the ports take no other traffic) and, at
#: shutdown, "KeyboardInterrupt caught in kernel" (jupyter_client interrupts a kernel before
#: it asks it to stop). A cell's error reaches the caller through the notebook, never
#: through this log.
KERNEL_ARGUMENTS = ("--IPKernelApp.log_level=CRITICAL",)


def report_parameters(workspace: str | Path, session_id: str, *, as_of: str | None = None,
                      due_days: int = 90, workbook: str | Path | None = None) -> dict[str, Any]:
    """The report notebook's parameters. ``workbook``: where the kernel writes
    ``report.xlsx`` ("": it writes none); ``as_of`` "": the session's submission date."""
    return {"workspace": str(Path(workspace).resolve()), "session_id": session_id,
            "as_of": as_of or "", "due_days": int(due_days),
            "workbook": str(Path(workbook).resolve()) if workbook else ""}


def refuse_edited_session(workspace: str | Path, session_id: str) -> None:
    """Raise :class:`~ctpat_audit.core.errors.RecordError`, naming every difference, when the
    session's state tables differ from the replay of its audit log: a session edited outside
    the toolkit is never rendered (``report`` and ``batch`` call this before executing)."""
    from ctpat_audit.workspace.reference import as_workspace
    from ctpat_audit.workspace.replay import require_replayed_state

    conn = as_workspace(workspace).connect(readonly=True)
    try:
        require_replayed_state(conn, session_id)
    finally:
        conn.close()


def execute_report(workspace: str | Path, session_id: str, out_nb: Path, *,
                   as_of: str | None = None, due_days: int = 90,
                   template: str | Path = DEFAULT_TEMPLATE, workbook: str | Path | None = None,
                   engine_name: str | None = None, kernel_name: str = "python3",
                   execution_timeout: float | None = None, **engine_kw: Any) -> Any:
    """Execute the report notebook to ``out_nb``; the executed notebook.

    ``engine_name``: a papermill engine (None: papermill's own, on a new ``kernel_name``
    kernel); ``engine_kw`` go to it (``zygote=`` for ``ctpat-fork``).
    ``execution_timeout``: seconds a cell may run. A cell that raises, runs out of time or
    loses its kernel raises :class:`ReportError` with that cell's index, and ``out_nb`` is
    left marked at that cell. Callers rendering a session's report first call
    :func:`refuse_edited_session`.
    """
    import papermill as pm
    from nbclient.exceptions import CellTimeoutError, DeadKernelError

    params = report_parameters(workspace, session_id, as_of=as_of, due_days=due_days,
                               workbook=workbook)
    kw: dict[str, Any] = {"progress_bar": False, "kernel_name": kernel_name,
                          "extra_arguments": list(KERNEL_ARGUMENTS), **engine_kw}
    if engine_name is not None:
        kw["engine_name"] = engine_name
    if execution_timeout is not None:
        kw["execution_timeout"] = execution_timeout
    try:
        return pm.execute_notebook(str(template), str(out_nb), parameters=params, **kw)
    except pm.PapermillExecutionError as exc:
        reason = one_line(exc.ename, exc.evalue)
        cell = mark_failed_notebook(out_nb, exc.cell_index, reason)
        raise ReportError(session_id, reason,
                          cell_index=exc.cell_index if cell is None else cell, source=exc.source or "",
                          traceback=strip_ansi("\n".join(exc.traceback or []))) from None
    except (CellTimeoutError, DeadKernelError) as exc:
        # no error output to point at: the run stopped in the last cell it started
        reason = one_line(type(exc).__name__, exc)
        cell = mark_failed_notebook(out_nb, None, reason)
        raise ReportError(session_id, reason, cell_index=cell,
                          source=_cell_source(out_nb, cell)) from exc


def _cell_source(nb_path: Path, index: int | None) -> str:
    import nbformat

    if index is None:
        return ""
    return str(nbformat.read(str(nb_path), as_version=4).cells[index].source)
