"""Recipe 5: hostile text through the HTML and Excel the toolkit writes.

10,000 generated strings (formula starts ``= + - @``, tab and CR, HTML/script payloads,
control characters, bidi/line-separator characters, very long text) go in as partner names,
partner responses, validator notes and file names:

* Excel: the problems workbook (``intake.write_problems_xlsx``: file names and values), the
  review workbook (``review.write_review_xlsx``: partner names and responses), the batch index
  workbook (``batch_index.write_index``: partner ids and error text) and the questionnaire
  (``questionnaire.export_questionnaire``: the partner's legal name, for a sample of strings).
  ``formula_cells`` counts ``<f>`` elements in every sheet's XML; each string must read back
  equal to itself after the documented replacement of XML-illegal control characters by
  U+FFFD (``excel.cell_value``) and Excel's 32,767-character cell limit (openpyxl cuts longer
  text; ``hostile_truncated`` counts such strings).
* HTML: the batch index page (``batch_index.render_index_html``). ``live_html`` counts script
  elements, ``on*`` attributes and ``javascript:`` URLs found by ``html.parser``; the text must
  still be in the page (escaped).
* Sessions: notes with control characters are refused (InputError) and the rest are stored
  exactly (``Session.answer``).

PDF is not covered here (the report PDF needs Chromium and ``report.py``); see the README.
"""
from __future__ import annotations

import html
import random
import re
import zipfile
from html.parser import HTMLParser
from pathlib import Path

import pandas as pd
from openpyxl import load_workbook

from . import Figures  # noqa: F401  (puts tests/ on sys.path)
from session_helpers import ACCOUNT, CRITERIA, make_workspace

from ctpat_audit import db
from ctpat_audit.batch_index import render_index_html, write_index
from ctpat_audit.errors import InputError, Problem
from ctpat_audit.excel import cell_value
from ctpat_audit.intake import write_problems_xlsx
from ctpat_audit.questionnaire import export_questionnaire
from ctpat_audit.review import write_review_xlsx
from ctpat_audit.session import open_session

STARTS = ["=", "+", "-", "@", "\t", "\r", "\t=", "\r=", " =", "=cmd|' /C calc'!A0",
          "=HYPERLINK(\"http://evil.example\",\"x\")", "+1+1", "-2+3", "@SUM(A1:A2)",
          "=1+1", "DDE(\"cmd\";\"/C calc\";\"!A0\")", "\uff1d1+1"]
PAYLOADS = ["<script>alert(1)</script>", "<img src=x onerror=alert(1)>",
            "<a href=\"javascript:alert(1)\">x</a>", "\"><svg onload=alert(1)>",
            "<iframe src=\"javascript:alert(1)\"></iframe>", "</td></tr></table><script>x()</script>",
            "<body onload=alert(1)>", "<scr<script>ipt>alert(1)</script>", "' onmouseover='x()",
            "<style>@import 'javascript:alert(1)'</style>", "&lt;script&gt;", "{{7*7}}",
            "<!--", "]]>", "<?xml version='1.0'?>", "Ac\u0301me S.A. de C.V.", "\u202etxt.exe"]
CONTROLS = [chr(c) for c in (*range(0, 32), 0x7F)] + ["\u2028", "\u2029", "\ufeff", "\u200b"]
WORDS = ["Acme", "Logistics", "seal", "log", "O'Brien", "naïve", "東京", "—", "&", "%00", ";"]


def hostile_strings(n: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    out = []
    for k in range(n):
        parts = [rng.choice(STARTS)] if rng.random() < 0.6 else []
        for _ in range(rng.randint(0, 4)):
            r = rng.random()
            parts.append(rng.choice(PAYLOADS) if r < 0.35 else rng.choice(CONTROLS)
                         if r < 0.6 else rng.choice(WORDS))
        if k % 97 == 0:  # very long text
            parts.append(rng.choice(PAYLOADS) * rng.randint(200, 1500))
        text = "".join(parts) or rng.choice(STARTS)
        out.append(text)
    return out


class _Live(HTMLParser):
    """Counts what a browser would run: script elements, on* handlers, javascript: URLs."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.live: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag in ("script", "iframe", "object", "embed"):
            self.live.append(f"<{tag}>")
        for name, value in attrs:
            if name.lower().startswith("on"):
                self.live.append(f"{tag} {name}")
            url = re.sub(r"[\x00-\x20]", "", value or "").lower()
            if url.startswith(("javascript:", "vbscript:", "data:text/html")):
                self.live.append(f"{tag} {name}={value[:40]}")

    handle_startendtag = handle_starttag


def live_html(page: str) -> list[str]:
    parser = _Live()
    parser.feed(page)
    parser.close()
    return parser.live


def formula_cells(path: Path) -> int:
    """``<f>`` elements (formulas) in every worksheet of an .xlsx file."""
    with zipfile.ZipFile(path) as z:
        return sum(len(re.findall(rb"<(?:\w+:)?f[ >/]", z.read(n))) for n in z.namelist()
                   if n.startswith("xl/worksheets/") and n.endswith(".xml"))


def _column(path: Path, sheet: str, header_row: int, name: str) -> list[object]:
    wb = load_workbook(path, read_only=True)
    try:
        rows = list(wb[sheet].iter_rows(min_row=header_row, values_only=True))
    finally:
        wb.close()
    j = list(rows[0]).index(name)
    return [r[j] for r in rows[1:]]


EXCEL_CELL_LIMIT = 32_767  # Excel's maximum characters in a cell; openpyxl cuts longer text


def _expected(s: str) -> str:
    """What a cell must read back as: illegal XML characters -> U+FFFD, Excel's length cap."""
    return cell_value(s)[:EXCEL_CELL_LIMIT]


def run(root: Path, quick: bool = False, seed: int = 11) -> Figures:
    n = 200 if quick else 10_000
    batch = 100 if quick else 1000
    root = Path(root)
    strings = hostile_strings(n, seed)
    formulas = live = unreadable = refused = stored = 0
    examples: list[str] = []
    for b in range(0, n, batch):
        chunk = strings[b:b + batch]
        out = root / f"chunk{b}"
        out.mkdir(parents=True)
        # problems workbook: file names and values
        probs = [Problem(s, None, i + 2, "legal_name", s, "bad_value", "text") for i, s in
                 enumerate(chunk)]
        p = write_problems_xlsx(probs, out / "problems.xlsx")
        formulas += formula_cells(p)
        for col in ("file", "value"):
            got = _column(p, "problems", 1, col)
            unreadable += sum(1 for s, g in zip(chunk, got) if (g or "") != _expected(s))
        # review workbook: partner names and responses
        frame = pd.DataFrame({"account_id": pd.Series([f"{i:07d}" for i in range(len(chunk))],
                                                      dtype="str"),
                              "legal_name": pd.Series(chunk, dtype="str"),
                              "reasons": pd.Series(list(reversed(chunk)), dtype="str")})
        p = write_review_xlsx(out / "review.xlsx", portfolio=frame, label=chunk[0])
        formulas += formula_cells(p)
        got = _column(p, "review", 2, "legal_name")
        unreadable += sum(1 for s, g in zip(chunk, got) if (g or "") != _expected(s))
        # batch index: HTML page and workbook
        records = [{"session_id": "V-AAAAAAAAAA", "account_id": s, "status": "failed",
                    "step": "execute", "error": s, "duration_s": 1.0} for s in chunk]
        page = render_index_html(records, title=chunk[-1], generated="2026-11-01")
        found = live_html(page)
        live += len(found)
        examples += found[:2]
        text = html.unescape(page)
        unreadable += sum(1 for s in chunk if s.strip() and s.strip()[:40] not in text)
        idx = out / "index"
        idx.mkdir()
        _, xlsx = write_index(idx, records, title=chunk[-1])
        formulas += formula_cells(xlsx)
        live += len(live_html((idx / "index.html").read_text(encoding="utf-8")))
    # questionnaire title row (one workbook per partner name: a sample) and session notes
    ws = make_workspace(root / "ws")
    conn = db.connect(ws.db_path)
    sample = strings[:: max(1, n // (10 if quick else 100))]
    for k, s in enumerate(sample):
        with db.write(conn):
            conn.execute("UPDATE partners SET legal_name = ? WHERE account_id = ?", (s, ACCOUNT))
        p = export_questionnaire(ws, ACCOUNT, root / f"q{k}.xlsx")
        formulas += formula_cells(p)
        wb = load_workbook(p, read_only=True)
        title = next(wb.worksheets[0].iter_rows(max_row=1, values_only=True))[0]
        wb.close()
        unreadable += 0 if _expected(s) in (title or "") else 1
    conn.close()
    with open_session(ws, ACCOUNT, "validation", "virtual", "spec@cbp.example",
                      criteria=CRITERIA, catalogue_version="test") as sess:
        for k, s in enumerate(strings[: 50 if quick else 1000]):
            cid = CRITERIA[k % len(CRITERIA)][0]
            try:
                row = sess.answer(cid, status="does_not_meet", notes=s)
            except InputError:
                refused += 1
                continue
            stored += 1
            unreadable += 0 if row.get("notes") == s else 1
    return {"hostile_strings": n, "formula_cells": formulas, "live_html": live,
            "hostile_unreadable": unreadable, "hostile_notes_refused": refused,
            "hostile_notes_stored": stored,
            "hostile_truncated": sum(len(x) > EXCEL_CELL_LIMIT for x in strings), "hostile_examples": examples[:5]}
