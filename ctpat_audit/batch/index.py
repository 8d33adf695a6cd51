"""The batch index: ``OUT/index.html`` and ``OUT/index.xlsx``, one row per report.

Columns: partner, session, status, duration, findings count, outcome, exam rate, signatures,
links to
the report's HTML, PDF and Excel files (relative, so the folder can be moved or zipped), and
for a failure the step, the failing cell index and the error. The HTML page is self-contained:
inline styles, no scripts, nothing fetched from the network; every value is HTML-escaped.
The workbook writes through :mod:`ctpat_audit.core.xlsx`, so no text ever becomes a formula.
"""
from __future__ import annotations

import datetime as dt
import html
import os
from pathlib import Path
from typing import Any

from ctpat_audit.core.clock import utc_now
from ctpat_audit.core.text import html_text, visible

__all__ = ["index_rows", "render_index_html", "write_index"]

COLUMNS = ("account_id", "session_id", "status", "duration_s", "findings", "outcome", "exam_rate",
           "signatures", "step", "failed_cell", "error", "folder")
LINKS = (("HTML", "report.html"), ("PDF", "report.pdf"), ("Excel", "report.xlsx"))

_STYLE = """
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:2em;color:#222}
h1{font-size:1.4em} table{border-collapse:collapse;width:100%;font-size:.9em}
th,td{border:1px solid #ccc;padding:.3em .5em;text-align:left;vertical-align:top}
th{background:#1f3864;color:#fff} tr.failed td{background:#fde2e1}
td.num{text-align:right} pre{white-space:pre-wrap;margin:0;font-size:.85em}
.summary span{margin-right:1.5em}
"""


def index_rows(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One clean row per report (latest run per session), failures first, then by partner."""
    rows = []
    for r in records:
        row = {c: r.get(c) for c in COLUMNS}
        row["signatures"] = ", ".join(str(s) for s in (r.get("signatures") or []))
        row["error"] = str(r.get("error") or "").strip().splitlines()[0:1]
        row["error"] = row["error"][0] if row["error"] else ""
        rows.append(row)
    rows.sort(key=lambda x: (x["status"] == "ok", str(x["account_id"]), str(x["session_id"])))
    return rows


def _e(value: object) -> str:
    """Escaped text (attributes too), characters no document may hold shown as U+FFFD."""
    return html.escape(visible("" if value is None else str(value)), quote=True)


def _href(folder: str, name: str) -> str:
    from urllib.parse import quote

    return quote(f"{folder}/{name}", safe="/")


def render_index_html(rows: list[dict[str, Any]], *, title: str, generated: str) -> str:
    """The index page (pure: rows in, HTML text out)."""
    ok = sum(r["status"] == "ok" for r in rows)
    head = ("<tr><th>Partner</th><th>Session</th><th>Status</th><th>Duration (s)</th>"
            "<th>Findings</th><th>Outcome</th><th>Exam rate</th><th>Signatures</th><th>Report</th>"
            "<th>Failure</th></tr>")
    body = []
    for r in rows:
        failed = r["status"] != "ok"
        if r.get("folder") and not failed:
            links = " ".join(f'<a href="{_e(_href(r["folder"], f))}">{label}</a>'
                             for label, f in LINKS)
        elif failed:
            links = (f'<a href="{_e(_href("_failed/" + str(r["session_id"]), "report.ipynb"))}">'
                     "notebook</a>")
        else:
            links = ""
        failure = ""
        if failed:
            cell = "" if r.get("failed_cell") is None else f"cell {_e(r['failed_cell'])}: "
            failure = f"<pre>{_e(r.get('step'))}: {cell}{html_text(r.get('error'))}</pre>"
        rate = "" if r.get("exam_rate") is None else f"{float(r['exam_rate']):.2%}"
        dur = "" if r.get("duration_s") is None else f"{float(r['duration_s']):.1f}"
        body.append(
            f'<tr class="{"failed" if failed else "ok"}"><td>{_e(r["account_id"])}</td>'
            f'<td>{_e(r["session_id"])}</td><td>{_e(r["status"])}</td>'
            f'<td class="num">{dur}</td><td class="num">{_e(r.get("findings"))}</td>'
            f'<td>{_e(r.get("outcome"))}</td>'
            f'<td class="num">{_e(rate)}</td><td>{_e(r.get("signatures"))}</td>'
            f"<td>{links}</td><td>{failure}</td></tr>")
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
        "style-src 'unsafe-inline'; img-src 'self'\">"
        f"<title>{_e(title)}</title><style>{_STYLE}</style></head><body>"
        f"<h1>{_e(title)}</h1><p class=\"summary\"><span>{len(rows)} reports</span>"
        f"<span>{ok} ok</span><span>{len(rows) - ok} failed</span>"
        f"<span>generated {_e(generated)}</span></p>"
        f"<table><thead>{head}</thead><tbody>{''.join(body)}</tbody></table></body></html>\n")


def write_index(out: str | Path, records: list[dict[str, Any]], *, title: str = "CTPAT batch",
                now: dt.datetime | None = None) -> tuple[Path, Path]:
    """Write ``index.html`` and ``index.xlsx`` into ``out`` (each through a rename)."""
    import pandas as pd
    from openpyxl import Workbook
    from openpyxl.styles import PatternFill

    from ctpat_audit.core import xlsx as excel

    out = Path(out)
    rows = index_rows(records)
    generated = (now or utc_now()).strftime("%Y-%m-%d %H:%M UTC")
    page = out / "index.html"
    tmp = out / f".index.html.{os.getpid()}"
    tmp.write_text(render_index_html(rows, title=title, generated=generated), encoding="utf-8")
    os.replace(tmp, page)

    frame = pd.DataFrame(
        {"partner": pd.Series([r["account_id"] for r in rows], dtype="str"),
         "session": pd.Series([r["session_id"] for r in rows], dtype="str"),
         "status": pd.Series([r["status"] for r in rows], dtype="str"),
         "duration_s": pd.Series([r.get("duration_s") for r in rows], dtype="Float64"),
         "findings": pd.Series([r.get("findings") for r in rows], dtype="Int64"),
         "outcome": pd.Series([r.get("outcome") or "" for r in rows], dtype="str"),
         "exam_rate": pd.Series([r.get("exam_rate") for r in rows], dtype="Float64"),
         "signatures": pd.Series([r["signatures"] for r in rows], dtype="str"),
         "report_folder": pd.Series([r.get("folder") or "" for r in rows], dtype="str"),
         "failed_step": pd.Series([r.get("step") or "" if r["status"] != "ok" else ""
                                   for r in rows], dtype="str"),
         "failed_cell": pd.Series([r.get("failed_cell") for r in rows], dtype="Int64"),
         "error": pd.Series([r.get("error") or "" for r in rows], dtype="str")})
    wb = Workbook()
    sheet = excel.first_sheet(wb)
    sheet.title = "Reports"
    excel.write_table(sheet, frame.astype(object).where(frame.notna(), None),
                      widths={"error": 60}, wrap=("error",))
    red = PatternFill("solid", fgColor="FDE2E1")
    for i, r in enumerate(rows, start=2):
        if r["status"] != "ok":
            for cell in sheet[i]:
                cell.fill = red
        rate = sheet.cell(row=i, column=7)
        rate.number_format = "0.00%"
    return page, excel.save(wb, out / "index.xlsx")
