"""Export an executed report notebook: HTML (nbconvert), PDF (chromium) and the workbook.

:func:`export_html` renders the notebook through the ``templates/ctpat_report`` nbconvert
template (no code, no scripts, nothing from the network); :func:`render_artifacts` writes
``report.html``, ``report.pdf`` (:mod:`ctpat_audit.reports.pdf`) and ``report.xlsx``
(:mod:`ctpat_audit.reports.workbook`) next to the executed notebook. Its ``state`` keeps one
browser per caller, so a renderer or a batch worker prints every PDF with the same chromium.
"""
from __future__ import annotations

import functools
import logging
import re
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ctpat_audit.core import package_data
from ctpat_audit.core.errors import ReportError
from ctpat_audit.core.text import isolate
from ctpat_audit.reports.summary import SUMMARY_MIME, notebook_summary

if TYPE_CHECKING:
    from nbformat import NotebookNode

__all__ = ["FORMATS", "TEMPLATE_DIR", "close_artifact_state", "export_html", "network_urls",
           "prepare_artifact_state", "render_artifacts"]

log = logging.getLogger(__name__)
TEMPLATE_DIR = package_data.templates_dir()
HTML_TEMPLATE = "ctpat_report"
FORMATS = ("ipynb", "html", "pdf", "xlsx")
#: the partner's name in the PDF's running header is cut to this length (with an ellipsis)
HEADER_NAME_CHARS = 80


def network_urls(html_text: str) -> list[str]:
    """http(s) URLs the HTML would load (script src, link href, img src, @import, url())."""
    pats = [r"<script[^>]*\bsrc\s*=\s*[\"']?(https?:[^\"' >]+)",
            r"<link[^>]*\bhref\s*=\s*[\"']?(https?:[^\"' >]+)",
            r"<img[^>]*\bsrc\s*=\s*[\"']?(https?:[^\"' >]+)",
            r"@import\s+(?:url\()?[\"']?(https?:[^\"') ;]+)", r"url\(\s*[\"']?(https?:[^\"')]+)"]
    return [m for p in pats for m in re.findall(p, html_text, flags=re.IGNORECASE)]


def export_html(nb_path: str | Path | NotebookNode, out_html: str | Path,
                header: dict[str, Any]) -> Path:
    """HTML through the ctpat_report nbconvert template; fails if it would load a URL.
    ``nb_path``: the executed notebook's file, or the notebook itself (it is not changed)."""
    import copy

    import nbformat

    if isinstance(nb_path, (str, Path)):
        nb = nbformat.read(str(nb_path), as_version=4)
    else:
        nb = copy.deepcopy(nb_path)
    body = _html(nb, header)
    urls = network_urls(body)
    if urls:
        raise ReportError(str(header.get("session_id")), "the HTML would load from the "
                          f"network: {', '.join(urls[:3])}")
    out = Path(out_html)
    out.write_text(body, encoding="utf-8")
    return out


def _html(nb: NotebookNode, header: dict[str, Any]) -> str:
    """The page for ``nb`` (changed here: its prose cells and summaries are dropped)."""
    nb.metadata["ctpat"] = header
    nb.cells = [c for c in nb.cells if c.cell_type == "code"]  # prose stays in the notebook
    for c in nb.cells:  # the machine-readable summary is for the batch index, not for people
        c.outputs = [o for o in c.get("outputs", [])
                     if SUMMARY_MIME not in o.get("data", {})]
    with _EXPORT_LOCK:  # the exporter registers filters on each call: one call at a time
        body, _ = _exporter().from_notebook_node(nb, resources={"metadata": {"name": header.get(
            "title", "CTPAT report")}})
    return str(body)


_EXPORT_LOCK = threading.Lock()


def prepare_artifact_state(state: dict[str, Any], formats: Iterable[str] = FORMATS) -> None:
    """Start what :func:`render_artifacts` will need while the notebook still executes: the
    browser (``state["pdf_engine"]``, launched in the background) and the HTML exporter
    (imported and compiled in a background thread). Returns at once."""
    formats = set(formats)
    if "pdf" in formats and state.get("pdf_engine") is None:
        from ctpat_audit.reports.pdf import PdfEngine

        engine = state["pdf_engine"] = PdfEngine()
        engine.start()
    if formats & {"html", "pdf"}:
        threading.Thread(target=_warm_exporter, daemon=True, name="ctpat-html-warm").start()


def _warm_exporter() -> None:
    # papermill first, as the caller's thread imports it next: two threads importing the
    # jupyter packages in different orders can meet a half-initialized module
    import papermill  # noqa: F401
    from nbformat.v4 import new_code_cell, new_notebook, new_output

    # a page rendered now compiles what the exporter only loads on its first page: the
    # Jinja templates the report template extends and imports, and the notebook schema's
    # validator (about 0.25 s of the first report's HTML step otherwise)
    out = new_output("display_data", data={"text/html": "<p>warm-up</p>", "text/plain": ""})
    try:
        _html(new_notebook(cells=[new_code_cell(outputs=[out])]),
              {"title": "warm-up", "partner": "", "account_id": "", "session_id": "",
               "kind": "", "report_date": "", "demonstration": False})
    except Exception as exc:  # the report's own export raises it again, where it is reported
        log.debug("HTML exporter warm-up: %s", exc)


_EXPORTER_LOCK = threading.Lock()


def _exporter() -> Any:
    """The process's HTML exporter (made on first use, by whichever thread comes first)."""
    with _EXPORTER_LOCK:
        return _make_exporter()


@functools.lru_cache(maxsize=1)
def _make_exporter() -> Any:
    """One HTML exporter per process: its Jinja templates compile once (about 0.2 s, on its
    first page), not for every report. It holds no per-report state (resources are per
    call)."""
    from nbconvert import HTMLExporter
    from nbconvert.exporters.templateexporter import TemplateExporter

    class ReportHTMLExporter(HTMLExporter):
        """The lab HTML exporter without its last pass: HTMLExporter re-parses the whole
        page with BeautifulSoup to add ``alt`` texts and ``tabindex`` to code cells (about
        0.25 s a report). The report has no code cells and its charts carry their alt
        text, so the page is taken as the template wrote it."""

        # ignore[override] as in nbconvert's own template exporters: Exporter's annotation
        # returns a NotebookNode, the template exporters return the page's text
        def from_notebook_node(self, nb: NotebookNode, resources: Any = None,  # type: ignore[override]
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
