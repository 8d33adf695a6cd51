"""Render a session's report: executed notebook, HTML, PDF and Excel, published atomically.

The one report pipeline, used by ``ctpat-audit report`` (:class:`Renderer`,
:func:`render_report`) and by every batch worker (``ctpat_audit.batch.worker``); each step
lives in its own module and both callers run the same functions:

1. **execute** (:mod:`ctpat_audit.reports.execute`): papermill runs ``templates/report.ipynb``
   with ``workspace``, ``session_id``, ``as_of``, ``due_days`` and ``workbook``, on the fork
   engine (``ctpat-fork``: a child forked from a warm zygote, :mod:`ctpat_audit.reports.zygote`)
   or on papermill's own engine (a new kernel) when the caller passes ``engine_name=None``;
2. **export** (:mod:`ctpat_audit.reports.export`): HTML, PDF and the workbook;
3. **publish** (:mod:`ctpat_audit.reports.publish`): everything is built in
   ``OUT/.tmp/<random>/<session>/`` and renamed into ``OUT/<account>/<session>/`` at the end,
   so a reader never sees half a report;
4. **keep failed** (:mod:`ctpat_audit.reports.failure`): a failed notebook run raises
   :class:`ReportError` naming the cell (index, source, one-line reason, traceback); the
   executed notebook, marked at that cell, is kept at ``OUT/_failed/<session>/report.ipynb``.

:class:`Renderer` keeps one chromium and one zygote across many ``render(session_id)`` calls,
and starts both as soon as it is made, so the browser launches and the zygote imports while
the caller gets on with the first report; :func:`render_report` is the one-shot form.
"""
from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ctpat_audit.core.errors import NotFoundError, ReportError
from ctpat_audit.reports.execute import DEFAULT_TEMPLATE, execute_report, refuse_edited_session
from ctpat_audit.reports.export import (
    FORMATS,
    TEMPLATE_DIR,
    close_artifact_state,
    export_html,
    network_urls,
    prepare_artifact_state,
    render_artifacts,
)
from ctpat_audit.reports.fork_engine import ENGINE_NAME, default_zygote
from ctpat_audit.reports.publish import publish_report, report_folder, scratch_report
from ctpat_audit.reports.summary import SUMMARY_MIME, notebook_summary

__all__ = [
    "DEFAULT_TEMPLATE",
    "FORMATS",
    "SUMMARY_MIME",
    "TEMPLATE_DIR",
    "Renderer",
    "ReportError",
    "close_artifact_state",
    "execute_report",
    "export_html",
    "network_urls",
    "notebook_summary",
    "render_artifacts",
    "render_report",
    "report_folder",
]


class Renderer:
    """Renders many reports with one browser and one warm zygote.

    ``engine_name``: the papermill engine (default ``ctpat-fork``, each report in a child of
    ``zygote``, by default this process's zygote for the workspace; None: papermill's own
    engine on a new kernel per report). Other ``papermill_kw`` go to
    :func:`~ctpat_audit.reports.execute.execute_report`. The zygote and the browser start
    when the renderer is made. Close it (or use ``with``) to stop the browser.
    """

    def __init__(self, workspace: str | Path, out_dir: str | Path, *,
                 formats: Iterable[str] = FORMATS, paper: str = "A4", as_of: str | None = None,
                 due_days: int = 90, template: str | Path = DEFAULT_TEMPLATE,
                 engine_name: str | None = ENGINE_NAME, zygote: Any = None,
                 **papermill_kw: Any) -> None:
        self.workspace, self.out = Path(workspace), Path(out_dir)
        self.formats = tuple(formats)
        bad = [f for f in self.formats if f not in FORMATS]
        if bad or paper not in ("A4", "Letter"):
            raise ReportError("-", f"formats {bad} / paper {paper!r}: expected formats from "
                              f"{', '.join(FORMATS)} and paper A4 or Letter")
        self.paper, self.as_of, self.due_days = paper, as_of, due_days
        self.template = template
        self.papermill_kw: dict[str, Any] = {"engine_name": engine_name, **papermill_kw}
        if engine_name == ENGINE_NAME:
            self.papermill_kw["zygote"] = zygote or default_zygote(self.workspace)
        self.state: dict[str, Any] = {}
        prepare_artifact_state(self.state, self.formats)

    def render(self, session_id: str) -> Path:
        """Render one session; returns ``OUT/<account>/<session>``.

        A failure raises (a notebook failure as :class:`ReportError` naming the cell and
        the kept notebook; a session edited outside the toolkit as
        :class:`~ctpat_audit.core.errors.RecordError` before anything runs); nothing is
        published then.
        """
        from ctpat_audit.sessions.session import resume_session, validate_session_id

        validate_session_id(session_id)
        refuse_edited_session(self.workspace, session_id)
        try:  # an account id that cannot be a folder is refused before any work
            with resume_session(self.workspace, session_id) as s:
                account: str | None = s.account_id
            report_folder(self.out, str(account), session_id)
        except NotFoundError:
            account = None  # no such session: the notebook's run fails on it and names the cell
        with scratch_report(self.out, session_id) as scratch:
            execute_report(self.workspace, session_id, scratch.notebook, as_of=self.as_of,
                           due_days=self.due_days, template=self.template,
                           workbook=(scratch.folder / "report.xlsx"
                                     if "xlsx" in self.formats else None),
                           **self.papermill_kw)
            render_artifacts(self.workspace, session_id, scratch.notebook, scratch.folder,
                             self.state, formats=self.formats, paper=self.paper,
                             as_of=self.as_of, due_days=self.due_days)
            if "ipynb" not in self.formats:
                scratch.notebook.unlink()
            return publish_report(scratch.folder, self.out, str(account), session_id)

    def close(self) -> None:
        close_artifact_state(self.state)

    def __enter__(self) -> Renderer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def render_report(ws: str | Path, session_id: str, out_dir: str | Path, *,
                  formats: Iterable[str] = FORMATS, paper: str = "A4", as_of: str | None = None,
                  due_days: int = 90) -> Path:
    """One report, one browser: ``OUT/<account>/<session>/report.{ipynb,html,pdf,xlsx}``."""
    from ctpat_audit.workspace.reference import as_workspace

    path = as_workspace(ws).path
    with Renderer(path, out_dir, formats=formats, paper=paper, as_of=as_of,
                  due_days=due_days) as r:
        return r.render(session_id)
