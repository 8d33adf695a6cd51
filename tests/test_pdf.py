"""PDF through the system chromium: paper sizes, escaped header/footer, page numbers, no network,
table rows kept whole, one browser reused, clear error without a browser."""
from __future__ import annotations

import subprocess
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from ctpat_audit.core.errors import PdfError
from ctpat_audit.reports.pdf import PdfEngine, html_to_pdf

ROWS = "".join(f"<tr><td>row{i}x</td><td>{'text ' * 30}end{i}x</td></tr>" for i in range(120))


def _page(tmp_path, body: str):
    p = tmp_path / "page.html"
    p.write_text(f"<!DOCTYPE html><html><head><meta charset='utf-8'><style>"
                 "tr{break-inside:avoid} td{border:1px solid #000}</style></head>"
                 f"<body>{body}</body></html>", encoding="utf-8")
    return p


def _text(pdf) -> str:
    return subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True,
                          text=True, check=True).stdout


def _size(pdf) -> str:
    info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True,
                          check=True).stdout
    return next(line for line in info.splitlines() if line.startswith("Page size"))


@pytest.fixture(scope="module")
def engine():
    with PdfEngine() as e:
        yield e


def test_paper_sizes_header_footer_and_rows_whole(engine, tmp_path):
    src = _page(tmp_path, f"<h1>Report</h1><table>{ROWS}</table>")
    a4 = engine.pdf(src, tmp_path / "a4.pdf", paper="A4", header="<b>Acme</b> & Co",
                    footer="Validation V-TEST")
    letter = engine.pdf(src, tmp_path / "letter.pdf", paper="Letter")
    assert "595" in _size(a4) and "842" in _size(a4)
    assert "612 x 792" in _size(letter)
    text = _text(a4)
    assert "<b>Acme</b> & Co" in text  # escaped markup prints as text
    assert "page 1 of" in text and "Validation V-TEST" in text
    pages = text.split("\f")
    assert len(pages) > 2
    for i in range(120):  # every row whole: its first and last words on one and the same page
        on = [n for n, p in enumerate(pages) if f"row{i}x" in p]
        assert len(on) == 1 and f"end{i}x" in pages[on[0]]


def test_no_network_requests(engine, tmp_path):
    hits = []

    class H(BaseHTTPRequestHandler):
        def do_GET(self):
            hits.append(self.path)
            self.send_response(404)
            self.end_headers()

        def log_message(self, *a):
            pass

    srv = HTTPServer(("127.0.0.1", 0), H)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    try:
        url = f"http://127.0.0.1:{srv.server_port}"
        src = _page(tmp_path, f"<img src='{url}/x.png'><link rel=stylesheet href='{url}/s.css'>"
                              "<p>offline</p>")
        out = engine.pdf(src, tmp_path / "o.pdf")
    finally:
        srv.shutdown()
    assert hits == [] and "offline" in _text(out)


def test_bad_paper_and_missing_browser(tmp_path, monkeypatch, engine):
    src = _page(tmp_path, "<p>x</p>")
    with pytest.raises(PdfError, match="paper"):
        engine.pdf(src, tmp_path / "x.pdf", paper="A3")
    monkeypatch.setenv("CTPAT_CHROMIUM", str(tmp_path / "no-chromium"))
    with pytest.raises(PdfError, match="apt-get install -y chromium"):
        html_to_pdf(src, tmp_path / "y.pdf")


def test_prints_where_an_asyncio_loop_is_running(engine, tmp_path):
    """A Jupyter kernel always runs an event loop; Playwright's sync API refuses one."""
    import asyncio

    page = tmp_path / "p.html"
    page.write_text("<html><body><h1>Inside a running loop</h1></body></html>")

    async def in_kernel_cell() -> bytes:
        return engine.pdf(page, tmp_path / "p.pdf", paper="Letter").read_bytes()

    data = asyncio.run(in_kernel_cell())
    assert data.startswith(b"%PDF")
    text = subprocess.run(["pdftotext", str(tmp_path / "p.pdf"), "-"], capture_output=True,
                          text=True, check=True).stdout
    assert "Inside a running loop" in text


def test_one_page_serves_many_reports_and_forgets_the_last_one(engine, tmp_path):
    """The engine prints every PDF from one page; a report never shows the previous one's
    content, and a page that went away (crash) is replaced without losing the PDF."""
    first = engine.pdf(_page(tmp_path, "<h1>ALPHA partner only</h1>"), tmp_path / "a.pdf")
    page = engine._pg
    second = engine.pdf(_page(tmp_path, "<h1>BETA partner</h1>"), tmp_path / "b.pdf")
    assert engine._pg is page  # the same page, not a new renderer per report
    assert "ALPHA" in _text(first)
    assert "BETA" in _text(second) and "ALPHA" not in _text(second)
    engine._call(page.close)  # as if the renderer had crashed
    third = engine.pdf(_page(tmp_path, "<h1>GAMMA partner</h1>"), tmp_path / "c.pdf")
    assert engine._pg is not page and "GAMMA" in _text(third)


def test_a_report_cannot_read_local_files(engine, tmp_path):
    secret = tmp_path / "secret.html"
    secret.write_text("<p>SECRET-LOCAL-FILE</p>")
    src = _page(tmp_path, f"<p>visible</p><iframe src='{secret.as_uri()}'></iframe>"
                          f"<object data='{secret.as_uri()}'></object>")
    text = _text(engine.pdf(src, tmp_path / "l.pdf"))
    assert "visible" in text and "SECRET-LOCAL-FILE" not in text
