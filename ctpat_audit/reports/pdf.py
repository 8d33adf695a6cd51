"""HTML -> print-quality PDF through Debian's chromium, driven by Playwright.

Playwright never downloads a browser here: :class:`PdfEngine` launches the system chromium
(``executable_path``, default ``/usr/bin/chromium`` or ``$CTPAT_CHROMIUM``) with networking
features off. The report's HTML is handed to one page as its content (``set_content``, no URL
to load it from) with JavaScript off, and every request it makes other than ``data:`` is
aborted, so a report can fetch nothing. One engine keeps one browser and one page open across
many PDFs (a batch worker creates one and reuses it; each new document replaces the last);
:func:`html_to_pdf` is the one-shot form.

Pages: A4 or Letter, a running header (partner and session) and a footer with "page X of Y",
both plain text, escaped (a partner's name is never markup) with unsafe characters shown as
U+FFFD; the caller isolates a name that holds bidi controls (``core.text.isolate``). Page
breaks follow the report's print CSS (no table row split, charts kept whole).
"""
from __future__ import annotations

import concurrent.futures
import html
import logging
import os
from pathlib import Path
from typing import Any

from ctpat_audit.core.errors import PdfError
from ctpat_audit.core.text import visible

__all__ = ["CHROMIUM_ARGS", "PAPERS", "PdfEngine", "PdfError", "chromium_path", "html_to_pdf"]

log = logging.getLogger(__name__)
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run",
                 "--disable-dev-shm-usage"]
PAPERS = {"A4": "A4", "Letter": "Letter"}


def chromium_path() -> str:
    """The system chromium to use ($CTPAT_CHROMIUM, else /usr/bin/chromium)."""
    path = os.environ.get("CTPAT_CHROMIUM", "/usr/bin/chromium")
    if not Path(path).is_file():
        raise PdfError(f"no chromium at {path}: install Debian's package "
                       "(`apt-get install -y chromium`) or set CTPAT_CHROMIUM")
    return path


def _band(text: str, right: str, size: str = "8px") -> str:
    return (f'<div style="font-size:{size}; width:100%; margin:0 12mm; display:flex; '
            f'justify-content:space-between; font-family:sans-serif; color:#333">'
            f"<span>{text}</span><span>{right}</span></div>")


class PdfEngine:
    """One chromium kept open for many PDFs. Use as a context manager or call :meth:`close`."""

    def __init__(self, executable: str | None = None) -> None:
        self.executable = executable
        self._pw: Any = None
        self._browser: Any = None
        self._ctx: Any = None
        self._pg: Any = None
        # Playwright's sync API refuses to run where an asyncio loop is running (a Jupyter
        # kernel always has one) and its objects belong to the thread that made them: every
        # browser call therefore runs on this engine's own thread.
        self._thread = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="ctpat-pdf")

    def _call(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        return self._thread.submit(fn, *args, **kwargs).result()

    def start(self) -> None:
        """Launch chromium and open the page now, in the background (returns at once): a
        caller starts it before executing the notebook, so the browser is up by the time
        the first PDF is printed. A launch failure is raised by the next :meth:`pdf`."""
        self._thread.submit(self._warm)

    def _warm(self) -> None:
        try:
            # a first page printed now, not with the first report: chromium starts its
            # print machinery (header and footer frames, the PDF compositor) on its first
            # PDF, about 0.2 s that the first report waited for otherwise
            self._print(self._page(), "<p></p>", paper="A4", header="", footer="")
        except Exception as exc:  # raised again, with its cause, when a PDF is asked for
            self._drop_page()
            log.debug("chromium did not start in the background: %s", exc)

    def _start(self) -> Any:
        if self._browser is None or not self._browser.is_connected():
            from playwright.sync_api import sync_playwright

            exe = self.executable or chromium_path()
            if self._pw is None:
                self._pw = sync_playwright().start()
            try:
                self._browser = self._pw.chromium.launch(executable_path=exe, args=CHROMIUM_ARGS)
            except Exception as exc:
                raise PdfError(f"chromium at {exe} did not start: {exc}") from exc
        return self._browser

    def pdf(self, html_path: str | Path, out_path: str | Path, *, paper: str = "A4",
            header: str = "", footer: str = "") -> Path:
        """Print ``html_path`` to ``out_path``; ``header``/``footer`` are plain text (escaped)."""
        return self._call(self._pdf, html_path, out_path, paper=paper, header=header, footer=footer)

    def _page(self) -> Any:
        """The one page every PDF is printed from (JavaScript off, offline, every request
        other than ``data:`` aborted); made again if the browser or the page went away."""
        page = self._pg
        if page is None or page.is_closed() or not self._browser or not self._browser.is_connected():
            self._drop_page()
            self._ctx = self._start().new_context(java_script_enabled=False, offline=True)
            page = self._ctx.new_page()
            page.route("**/*", lambda route: route.continue_()
                       if route.request.url.startswith("data:") else route.abort())
            page.emulate_media(media="print")
            self._pg = page
        return page

    def _drop_page(self) -> None:
        ctx, self._ctx, self._pg = self._ctx, None, None
        if ctx is not None:
            try:
                ctx.close()
            except Exception as exc:
                log.debug("context close: %s", exc)

    def _pdf(self, html_path: str | Path, out_path: str | Path, *, paper: str,
             header: str, footer: str) -> Path:
        if paper not in PAPERS:
            raise PdfError(f"paper {paper!r}: expected one of {', '.join(PAPERS)}")
        markup = Path(html_path).read_text(encoding="utf-8")
        for attempt in (1, 2):  # a crashed page is replaced once
            page = self._page()
            try:
                data = self._print(page, markup, paper=paper, header=header, footer=footer)
                break
            except Exception as exc:
                self._drop_page()
                if attempt == 2:
                    raise PdfError(f"{html_path}: chromium could not print it: {exc}") from exc
                log.warning("chromium page failed (%s); retrying with a new page", exc)
        out = Path(out_path)
        out.write_bytes(data)
        return out

    def _print(self, page: Any, markup: str, *, paper: str, header: str, footer: str) -> bytes:
        """The PDF of ``markup``, printed from ``page`` (the one page)."""
        head = _band(html.escape(visible(header)), "")
        foot = _band(html.escape(visible(footer)), 'page <span class="pageNumber"></span> of '
                     '<span class="totalPages"></span>')
        # the page is reused: a new document replaces the last one (a new context per PDF
        # would start a renderer process each time, about 1 s of CPU)
        page.set_content(markup, wait_until="load")
        data: bytes = page.pdf(format=PAPERS[paper], print_background=True,
                               display_header_footer=True, header_template=head,
                               footer_template=foot, prefer_css_page_size=False,
                               margin={"top": "16mm", "bottom": "16mm", "left": "12mm",
                                       "right": "12mm"})
        return data

    def close(self) -> None:
        try:
            self._call(self._close)
        finally:
            self._thread.shutdown(wait=True)
            self._thread = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="ctpat-pdf")

    def _close(self) -> None:
        self._drop_page()
        if self._browser is not None:
            try:
                self._browser.close()
            except Exception as exc:
                log.debug("browser close: %s", exc)
            self._browser = None
        if self._pw is not None:
            self._pw.stop()
            self._pw = None

    def __enter__(self) -> PdfEngine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def html_to_pdf(html_path: str | Path, out_path: str | Path, *, paper: str = "A4",
                header: str = "", footer: str = "") -> Path:
    """One PDF with a browser of its own (started and closed here)."""
    with PdfEngine() as engine:
        return engine.pdf(html_path, out_path, paper=paper, header=header, footer=footer)
