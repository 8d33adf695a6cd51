"""Render a session's report: executed notebook, HTML, PDF and Excel, written atomically.

Pipeline (per session): papermill executes ``templates/report.ipynb`` with ``workspace``,
``session_id`` and ``as_of``; nbconvert exports it through the ``templates/ctpat_report``
template (no code, no scripts, nothing from the network); :mod:`ctpat_audit.reports.pdf` prints that
HTML with the system chromium; :mod:`ctpat_audit.reports.workbook` writes the workbook. Everything
is written to a temporary folder next to the target and renamed into
``OUT/<account>/<session>/`` at the end, so a reader never sees half a report.

A failed notebook run raises :class:`ReportError` naming the cell (index, source excerpt,
error and traceback); the executed notebook, with the error marked by papermill, is kept at
``OUT/_failed/<session>/report.ipynb``.

Reuse for batches: :class:`Renderer` keeps one chromium (and an optional papermill engine and
kernel pool) across many ``render(session_id)`` calls; :func:`render_artifacts` is the hook the
batch calls with a notebook it executed itself. :func:`render_report` is the one-shot form.
"""
from __future__ import annotations

import functools
import os
import re
import shutil
import tempfile
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ctpat_audit.core import package_data
from ctpat_audit.core.errors import CtpatError
from ctpat_audit.core.identifiers import id_refusal, is_safe_id
from ctpat_audit.core.text import isolate
from ctpat_audit.reports.summary import SUMMARY_MIME, notebook_summary

__all__ = [
    "DEFAULT_TEMPLATE",
    "FORMATS",
    "TEMPLATE_DIR",
    "Renderer",
    "ReportError",
    "SUMMARY_MIME",
    "close_artifact_state",
    "execute_report",
    "export_html",
    "network_urls",
    "notebook_summary",
    "render_artifacts",
    "render_report",
    "report_folder",
]

TEMPLATE_DIR = package_data.templates_dir()
DEFAULT_TEMPLATE = TEMPLATE_DIR / "report.ipynb"
HTML_TEMPLATE = "ctpat_report"
FORMATS = ("ipynb", "html", "pdf", "xlsx")
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
#: the partner's name in the PDF's running header is cut to this length (with an ellipsis)
HEADER_NAME_CHARS = 80


class ReportError(CtpatError):
    """A report could not be rendered; for a notebook failure it names the cell."""

    def __init__(self, session_id: str, message: str, *, cell_index: int | None = None,
                 source: str = "", traceback: str = "", notebook: Path | None = None) -> None:
        self.session_id, self.cell_index, self.source = session_id, cell_index, source
        self.traceback, self.notebook = traceback, notebook
        where = f"report of session {session_id}"
        if cell_index is not None:
            excerpt = source.strip().splitlines()[0][:80] if source.strip() else ""
            where += f", notebook cell {cell_index} ({excerpt!r})"
        text = f"{where}: {message}"
        if notebook is not None:
            text += f"; executed notebook kept at {notebook}"
        super().__init__(text)


def network_urls(html_text: str) -> list[str]:
    """http(s) URLs the HTML would load (script src, link href, img src, @import, url())."""
    pats = [r"<script[^>]*\bsrc\s*=\s*[\"']?(https?:[^\"' >]+)",
            r"<link[^>]*\bhref\s*=\s*[\"']?(https?:[^\"' >]+)",
            r"<img[^>]*\bsrc\s*=\s*[\"']?(https?:[^\"' >]+)",
            r"@import\s+(?:url\()?[\"']?(https?:[^\"') ;]+)", r"url\(\s*[\"']?(https?:[^\"')]+)"]
    return [m for p in pats for m in re.findall(p, html_text, flags=re.IGNORECASE)]


def report_folder(out_dir: str | Path, account_id: str, session_id: str) -> Path:
    """``OUT/<account>/<session>``, refusing ids that are not plain path components
    (:data:`ctpat_audit.core.identifiers.SAFE_ID_PATTERN`)."""
    for what, v in (("account id", account_id), ("session id", session_id)):
        if not is_safe_id(v):
            reason = id_refusal(v) if isinstance(v, str) else "text"
            raise ReportError(str(session_id), f"{what} {v!r} is not a safe folder name: "
                              f"expected {reason}")
    return Path(out_dir) / account_id / session_id


def execute_report(workspace: str | Path, session_id: str, out_nb: Path, *,
                   as_of: str | None = None, due_days: int = 90,
                   template: str | Path = DEFAULT_TEMPLATE, workbook: str | Path | None = None,
                   **papermill_kw: Any) -> Any:
    """Execute the report notebook to ``out_nb``; ReportError naming the failing cell.
    ``workbook``: where the kernel writes ``report.xlsx`` (None: it writes none)."""
    import papermill as pm

    params = {"workspace": str(Path(workspace).resolve()), "session_id": session_id,
              "as_of": as_of or "", "due_days": int(due_days),
              "workbook": str(Path(workbook).resolve()) if workbook else ""}
    kw = {"progress_bar": False, "kernel_name": "python3", **papermill_kw}
    try:
        return pm.execute_notebook(str(template), str(out_nb), parameters=params, **kw)
    except pm.PapermillExecutionError as exc:
        tb = _ANSI.sub("", "\n".join(exc.traceback or []))
        raise ReportError(session_id, f"{exc.ename}: {_ANSI.sub('', str(exc.evalue))}",
                          cell_index=_error_cell(out_nb, exc.cell_index),
                          source=exc.source or "", traceback=tb, notebook=out_nb) from None


def _error_cell(nb_path: Path, fallback: int) -> int:
    """Index of the cell holding the error in the saved notebook (papermill adds a banner
    cell at the top, so its execution index is off by one there)."""
    import nbformat

    try:
        nb = nbformat.read(str(nb_path), as_version=4)
    except Exception:  # noqa: BLE001 - no notebook written: keep papermill's index
        return fallback
    for i, cell in enumerate(nb.cells):
        if any(o.get("output_type") == "error" for o in cell.get("outputs", [])):
            return i
    return fallback


def export_html(nb_path: str | Path | Any, out_html: str | Path, header: dict[str, Any]) -> Path:
    """HTML through the ctpat_report nbconvert template; fails if it would load a URL.
    ``nb_path``: the executed notebook's file, or the notebook itself (it is not changed)."""
    import copy

    import nbformat

    nb = (copy.deepcopy(nb_path) if hasattr(nb_path, "cells")
          else nbformat.read(str(nb_path), as_version=4))
    nb.metadata["ctpat"] = header
    nb.cells = [c for c in nb.cells if c.cell_type == "code"]  # prose stays in the notebook
    for c in nb.cells:  # the machine-readable summary is for the batch index, not for people
        c.outputs = [o for o in c.get("outputs", [])
                     if SUMMARY_MIME not in o.get("data", {})]
    with _EXPORT_LOCK:  # the exporter registers filters on each call: one call at a time
        body, _ = _exporter().from_notebook_node(nb, resources={"metadata": {"name": header.get(
            "title", "CTPAT report")}})
    urls = network_urls(body)
    if urls:
        raise ReportError(str(header.get("session_id")), "the HTML would load from the "
                          f"network: {', '.join(urls[:3])}")
    out = Path(out_html)
    out.write_text(body, encoding="utf-8")
    return out


_EXPORT_LOCK = threading.Lock()


@functools.lru_cache(maxsize=1)
def _exporter() -> Any:
    """One HTML exporter per process: its Jinja templates compile once (about 0.2 s), not
    for every report. It holds no per-report state (resources are per call)."""
    from nbconvert import HTMLExporter
    from nbconvert.exporters.templateexporter import TemplateExporter

    class ReportHTMLExporter(HTMLExporter):  # type: ignore[misc]
        """The lab HTML exporter without its last pass: HTMLExporter re-parses the whole
        page with BeautifulSoup to add ``alt`` texts and ``tabindex`` to code cells (about
        0.25 s a report). The report has no code cells and its charts carry their alt
        text, so the page is taken as the template wrote it."""

        def from_notebook_node(self, nb: Any, resources: Any = None,
                               **kw: Any) -> tuple[str, dict[str, Any]]:
            from nbconvert.filters.highlight import Highlight2HTML
            from nbconvert.filters.widgetsdatatypefilter import WidgetsDataTypeFilter

            resources = self._init_resources(resources)
            self.register_filter("highlight_code", self.filters.get(
                "highlight_code", Highlight2HTML(pygments_lexer="ipython3", parent=self)))
            self.register_filter("filter_data_type", WidgetsDataTypeFilter(
                notebook_metadata=self._nb_metadata, parent=self, resources=resources))
            return TemplateExporter.from_notebook_node(self, nb, resources, **kw)

    return ReportHTMLExporter(template_name=HTML_TEMPLATE,
                              extra_template_basedirs=[str(TEMPLATE_DIR)], exclude_input=True,
                              exclude_input_prompt=True, exclude_output_prompt=True)


def render_artifacts(ws_path: str | Path, session_id: str, notebook: Path, folder: Path,
                     state: dict[str, Any], *, formats: Iterable[str] = FORMATS,
                     paper: str = "A4", as_of: str | None = None, due_days: int = 90) -> None:
    """HTML, PDF and Excel next to an executed ``notebook`` in ``folder`` (batch hook).

    ``state`` is per-worker: the chromium engine is created once (``state["pdf_engine"]``)
    and reused by every later call. The header comes from the notebook's published summary
    and the workbook is the one the kernel wrote (``workbook`` parameter), so the session's
    data is loaded again only for templates that do neither.
    """
    import nbformat

    formats = set(formats)
    nb = nbformat.read(str(notebook), as_version=4)  # read once, for the summary and the HTML
    summary = notebook_summary(nb)
    header = summary.get("header")
    workbook = folder / "report.xlsx"
    ctx = None
    if not isinstance(header, dict) or ("xlsx" in formats and not workbook.is_file()):
        # a template that does not publish its header or write its workbook: load the data
        from ctpat_audit.reports.sections import load_context, report_header

        ctx = load_context(ws_path, session_id, as_of or None, due_days)
        header = report_header(ctx)
    html_path = folder / "report.html"
    if formats & {"html", "pdf"}:
        export_html(nb, html_path, header)
    if "pdf" in formats:
        from ctpat_audit.reports.pdf import PdfEngine

        engine = state.get("pdf_engine")
        if engine is None:
            engine = state["pdf_engine"] = PdfEngine()
        name = str(header["partner"])  # cut, so the account id always fits on the line
        if len(name) > HEADER_NAME_CHARS:
            name = name[:HEADER_NAME_CHARS - 1] + "\u2026"
        engine.pdf(html_path, folder / "report.pdf", paper=paper,
                   header=f"{isolate(name)} ({header['account_id']})",
                   footer=f"{header['kind']} {header['session_id']}, {header['report_date']}"
                          + (" - DEMONSTRATION" if header["demonstration"] else ""))
    if "xlsx" in formats and ctx is not None:
        from ctpat_audit.reports.workbook import write_report_xlsx

        write_report_xlsx(ctx, workbook)
    if "html" not in formats:
        html_path.unlink(missing_ok=True)


def close_artifact_state(state: dict[str, Any]) -> None:
    """Stop what :func:`render_artifacts` keeps in a worker's ``state`` (the browser)."""
    engine = state.pop("pdf_engine", None)
    if engine is not None:
        engine.close()


def _publish(tmp: Path, final: Path) -> None:
    from ctpat_audit.core.files import replace_folder

    replace_folder(tmp, final)


class Renderer:
    """Renders many reports with one browser (and optionally a warm papermill engine).

    ``papermill_kw`` goes to ``papermill.execute_notebook`` (e.g. ``engine_name="ctpat-warm",
    kernel_pool=pool``). Close it (or use ``with``) to stop the browser.
    """

    def __init__(self, workspace: str | Path, out_dir: str | Path, *,
                 formats: Iterable[str] = FORMATS, paper: str = "A4", as_of: str | None = None,
                 due_days: int = 90, template: str | Path = DEFAULT_TEMPLATE,
                 **papermill_kw: Any) -> None:
        self.workspace, self.out = Path(workspace), Path(out_dir)
        self.formats = tuple(formats)
        bad = [f for f in self.formats if f not in FORMATS]
        if bad or paper not in ("A4", "Letter"):
            raise ReportError("-", f"formats {bad} / paper {paper!r}: expected formats from "
                              f"{', '.join(FORMATS)} and paper A4 or Letter")
        self.paper, self.as_of, self.due_days = paper, as_of, due_days
        self.template, self.papermill_kw = template, papermill_kw
        self.state: dict[str, Any] = {}

    def render(self, session_id: str) -> Path:
        """Render one session; returns ``OUT/<account>/<session>``."""
        from ctpat_audit.core.errors import NotFoundError
        from ctpat_audit.sessions.session import validate_session_id

        validate_session_id(session_id)
        try:  # an account id that cannot be a folder is refused before any work
            final: Path | None = self._folder(session_id)
        except NotFoundError:
            final = None  # no such session: the notebook's run fails on it and names the cell
        (self.out / ".tmp").mkdir(parents=True, exist_ok=True)
        scratch = Path(tempfile.mkdtemp(prefix=f"{session_id}-", dir=self.out / ".tmp"))
        umask = os.umask(0)
        os.umask(umask)
        scratch.chmod(0o777 & ~umask)
        try:
            nb_path = scratch / "report.ipynb"
            try:
                execute_report(self.workspace, session_id, nb_path, as_of=self.as_of,
                               due_days=self.due_days, template=self.template,
                               workbook=(scratch / "report.xlsx"
                                         if "xlsx" in self.formats else None),
                               **self.papermill_kw)
            except ReportError as exc:
                exc.notebook = self._keep_failed(session_id, nb_path)
                exc.args = (str(exc).split("; executed notebook kept at")[0]
                            + f"; executed notebook kept at {exc.notebook}",)
                raise
            render_artifacts(self.workspace, session_id, nb_path, scratch, self.state,
                             formats=self.formats, paper=self.paper, as_of=self.as_of,
                             due_days=self.due_days)
            if "ipynb" not in self.formats:
                nb_path.unlink()
            _publish(scratch, final or self._folder(session_id))
            shutil.rmtree(self.out / "_failed" / session_id, ignore_errors=True)
            return final
        finally:
            shutil.rmtree(scratch, ignore_errors=True)

    def _folder(self, session_id: str) -> Path:
        """Where the session's report goes (ReportError for ids that are not folder names)."""
        from ctpat_audit.sessions.session import resume_session

        with resume_session(self.workspace, session_id) as s:
            return report_folder(self.out, s.account_id, session_id)

    def _keep_failed(self, session_id: str, nb_path: Path) -> Path | None:
        if not nb_path.exists():
            return None
        dest = self.out / "_failed" / session_id
        dest.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(nb_path, dest / ".report.ipynb.tmp")
        os.replace(dest / ".report.ipynb.tmp", dest / "report.ipynb")
        return dest / "report.ipynb"

    def close(self) -> None:
        close_artifact_state(self.state)

    def __enter__(self) -> Renderer:  # noqa: PYI034
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def render_report(ws: str | Path, session_id: str, out_dir: str | Path, *,
                  formats: Iterable[str] = FORMATS, paper: str = "A4", as_of: str | None = None,
                  due_days: int = 90) -> Path:
    """One report, one browser: ``OUT/<account>/<session>/report.{ipynb,html,pdf,xlsx}``."""
    path = getattr(ws, "path", ws)
    with Renderer(path, out_dir, formats=formats, paper=paper, as_of=as_of,
                  due_days=due_days) as r:
        return r.render(session_id)
