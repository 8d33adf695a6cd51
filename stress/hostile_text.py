"""Recipe 5: hostile text through the HTML, PDF and Excel the toolkit writes.

10,000 generated strings (formula starts ``= + - @``, tab and CR, HTML/script payloads,
control characters, Unicode noncharacters, bidi controls (unterminated overrides, stray
pop-isolates), line separators, very long text) go in as partner names, partner responses,
validator notes and file names:

* Excel: the problems workbook (``intake.importer.write_problems_xlsx``: file names and values), the
  review workbook (``review.write_review_xlsx``: partner names and responses), the batch index
  workbook (``batch.index.write_index``: partner ids and error text) and the questionnaire
  (``questionnaire.export_questionnaire``: the partner's legal name, for a sample of strings).
  ``formula_cells`` counts ``<f>`` elements in every sheet's XML; each string must read back
  equal to itself after the documented replacement of XML-illegal characters and
  noncharacters by U+FFFD (``core.xlsx.cell_value``) and Excel's 32,767-character cell limit
  (openpyxl cuts longer text; ``hostile_truncated`` counts such strings).
* HTML: the batch index page (``batch.index.render_index_html``). ``live_html`` counts script
  elements, ``on*`` attributes and ``javascript:`` URLs found by ``html.parser``; the text must
  still be in the page (escaped).
* Sessions: notes with control characters are refused (InputError) and the rest are stored
  exactly (``Session.answer``).
* The validation report (:func:`report_stage`): hostile strings as the partner's legal name
  (one per report; the partners table takes any text), as the notes of every unit of an
  in-person validation (status "does not meet", so each note is shown in the checklist and as
  a finding; notes the session refuses are counted in ``hostile_report_notes_refused``) and as
  evidence file names (``Session.attach``; refused names counted). The data model has no
  partner responses yet (the workbook's ``partner_response`` column is left empty for the
  partner), so none go in. One ``report.Renderer`` (one chromium) renders every session:
  quick, one report; full, every ``REPORT_STRIDE``-th string of the 10,000.
  ``hostile_report_strings`` counts the strings that went in. Checks per report:
  ``report.html`` with ``live_html`` and every string present as ``core.text`` shows it
  (unsafe characters as U+FFFD, isolates balanced; whitespace collapsed, after unescaping);
  ``report.xlsx`` with ``formula_cells`` and every note (and the Summary's partner name) read
  back exactly as above; ``report.pdf`` with :func:`pdf_javascript`
  (``/JS``, ``/JavaScript``, ``/Launch``, ``/OpenAction``, ``/AA``, ``/URI`` to
  ``javascript:``/``vbscript:`` in the PDF's objects, compressed object streams included, not
  in the bytes of fonts and images; figure ``pdf_javascript``)
  and readability: the first ``PRINT_PREFIX`` (30) printable characters of each string must
  be in ``pdftotext -raw`` output. Normalisation, both sides: NFKC, then whitespace,
  separators (U+2028/U+2029) and control/format characters (zero-width space, BOM, bidi
  controls) removed, because chromium wraps lines and draws no glyph for those. Bidi
  overrides (U+202E and the other embedding/isolate controls) make chromium lay the text
  after them out right to left, and the PDF holds it in that visual (reversed) order: for
  such strings only the part before the first bidi control is compared
  (``hostile_report_bidi`` counts them, so the weaker check is visible, not hidden). A value
  holding a bidi control is shown isolated (``<bdi>``, U+2068), whose direction is that of its
  first strong character: when that is right-to-left (U+200F RLM, U+061C ALM: this set has
  no Hebrew or Arabic letters) the whole value, the part before the control included, is laid
  out right to left, and nothing of it is compared in the PDF (``hostile_report_rtl`` counts
  them; the HTML and workbook checks still read them whole). What
  follows such text must not be reversed: for every report whose partner name holds a bidi
  control (``hostile_report_bidi_names``; every 13th string holds an override left open
  after a stray U+2069), the PDF must show the account id in order after the name in the
  running header and on the cover, in the PDF's text layer (``pdftotext``; :func:`bidi_spoof`;
  ``bidi_spoofs``, target 0: a name spoofing what follows it reads ``)5432100(``).
  Characters the report font (DejaVu Sans) has no glyph for (CJK such as 東京, fullwidth
  ``＝``) are drawn by chromium as empty boxes in a separate text run, which pdftotext gives
  out of order: they are removed from both sides before comparing (before NFKC), and
  ``hostile_report_missing_glyphs`` counts the strings that hold any. With no CJK font
  installed, such text is NOT readable in the PDF (it is in the HTML and the workbook).
"""
from __future__ import annotations

import functools
import html
import random
import re
import subprocess
import unicodedata
import zipfile
import zlib
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pandas as pd
from openpyxl import load_workbook
from report_helpers import set_legal_name
from session_helpers import ACCOUNT, CRITERIA, FACILITIES, make_workspace

from ctpat_audit.analysis.review import write_review_xlsx
from ctpat_audit.batch.index import render_index_html, write_index
from ctpat_audit.core.errors import InputError, Problem
from ctpat_audit.core.text import BIDI_CONTROLS as ALL_BIDI_CONTROLS
from ctpat_audit.core.text import balanced, visible
from ctpat_audit.core.xlsx import cell_value
from ctpat_audit.intake.importer import write_problems_xlsx
from ctpat_audit.sessions.questionnaire import export_questionnaire
from ctpat_audit.sessions.session import open_session
from ctpat_audit.workspace import db

from . import Figures

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
#: Unicode noncharacters: no workbook can hold them (one used to stop a whole export)
NONCHARACTERS = ["\ufffe", "\uffff", "\ufdd0", "\ufdef", "\U0001fffe", "\U0010ffff"]
#: bidi controls, unterminated or stray (a lone U+2069 tries to close an isolate around it)
BIDI = ["\u202e", "\u202b", "\u202d", "\u2067", "\u2069", "\u2069\u202e", "\u200f", "\u061c"]
WORDS = ["Acme", "Logistics", "seal", "log", "O'Brien", "naïve", "東京", "—", "&", "%00", ";"]


def hostile_strings(n: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    out = []
    for k in range(n):
        parts = [rng.choice(STARTS)] if rng.random() < 0.6 else []
        for _ in range(rng.randint(0, 4)):
            r = rng.random()
            parts.append(rng.choice(PAYLOADS) if r < 0.3 else rng.choice(CONTROLS)
                         if r < 0.5 else rng.choice(NONCHARACTERS) if r < 0.6
                         else rng.choice(BIDI) if r < 0.7 else rng.choice(WORDS))
        if k % 97 == 0:  # very long text
            parts.append(rng.choice(PAYLOADS) * rng.randint(200, 1500))
        if k % 13 == 0:  # an override left open mid-name (the first report's name has one)
            parts.insert(len(parts) // 2, "Acme \u2069\u202eParts ")
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


def _sheet_rows(path: Path, sheet: str, first_row: int) -> list[tuple[Any, ...]]:
    wb = load_workbook(path, read_only=True)
    try:
        return list(wb[sheet].iter_rows(min_row=first_row, values_only=True))
    finally:
        wb.close()


def _column(path: Path, sheet: str, header_row: int, name: str) -> list[object]:
    rows = _sheet_rows(path, sheet, header_row)
    j = list(rows[0]).index(name)
    return [r[j] for r in rows[1:]]


def _records(path: Path, sheet: str, header_row: int) -> list[dict[str, Any]]:
    head, *rows = _sheet_rows(path, sheet, header_row)
    return [dict(zip(head, r)) for r in rows]


EXCEL_CELL_LIMIT = 32_767  # Excel's maximum characters in a cell; openpyxl cuts longer text


def _expected(s: str) -> str:
    """What a cell must read back as: XML-illegal characters and noncharacters -> U+FFFD,
    Excel's length cap; bidi controls stay (a cell is text of its own)."""
    return cell_value(s)[:EXCEL_CELL_LIMIT]


def _shown(s: str) -> str:
    """What an HTML page or PDF must show of ``s``: unsafe characters as U+FFFD and the
    isolates balanced (a stray U+2069 dropped), as ``core.text`` writes it."""
    return balanced(visible(s))


# --- report stage: the validation report's HTML, PDF and workbook ---------------------------

PDF_LIVE = re.compile(rb"/(?:JS|JavaScript|Launch|OpenAction|AA)(?=[\s/<>\[\]()]|$)")
PDF_URI = re.compile(rb"/URI\s*(\((?:\\.|[^\\)])*\)|<[0-9A-Fa-f\s]*>)")
REPORT_STRIDE = 1  # full mode: every string (all 10,000) goes through the reports too
REPORT_NAMES = 20  # hostile evidence file names attached per report session
PRINT_PREFIX = 30  # printable characters of each string that must be found in the PDF text
BIDI_CONTROLS = ALL_BIDI_CONTROLS  # embeddings, overrides, isolates and marks


STREAM = re.compile(rb"stream\r?\n(.*?)\r?\nendstream", flags=re.S)


def pdf_objects(data: bytes) -> list[bytes]:
    """The PDF's object syntax, where actions can be: the file with every stream's bytes left
    out (compressed fonts and images are binary, where ``/AA)`` turns up by chance), and the
    objects packed in object streams (``/Type /ObjStm``), inflated when Flate-compressed."""
    parts, syntax, at = [], [], 0
    for m in STREAM.finditer(data):
        syntax.append(data[at:m.start(1)])
        at = m.end(1)
        head = data[max(0, m.start() - 2000):m.start()]
        if re.search(rb"/Type\s*/ObjStm\b", head[head.rfind(b" obj"):]):
            body = m.group(1)
            if b"/FlateDecode" in head[head.rfind(b" obj"):]:
                try:  # what inflates (the end-of-line before endstream may be taken)
                    body = zlib.decompressobj().decompress(body)
                except zlib.error:
                    pass  # damaged: scanned as it is
            parts.append(body)
    syntax.append(data[at:])
    return [b"".join(syntax), *parts]


def pdf_javascript(data: bytes) -> list[str]:
    """JavaScript a PDF reader could run: ``/JS``, ``/JavaScript``, ``/Launch``,
    ``/OpenAction``, ``/AA`` (additional actions) and ``/URI`` with a ``javascript:`` or
    ``vbscript:`` target, in the PDF's objects (:func:`pdf_objects`: object streams
    included)."""
    parts = pdf_objects(data)
    found = [m.group(0).decode("latin-1") for p in parts for m in PDF_LIVE.finditer(p)]
    for p in parts:
        for m in PDF_URI.finditer(p):
            raw = m.group(1)
            uri = (bytes.fromhex(re.sub(rb"\s", b"", raw[1:-1]).decode()) if raw[:1] == b"<"
                   else raw[1:-1])
            if re.sub(rb"[\x00-\x20]", b"", uri).lower().startswith((b"javascript:",
                                                                     b"vbscript:")):
                found.append("/URI " + uri[:40].decode("latin-1"))
    return found


REPORT_FONTS = ("DejaVu Sans", "Droid Sans Fallback")  # templates/ctpat_report/report.css


@functools.cache
def report_font_chars() -> frozenset[int]:
    """Code points the report's fonts (DejaVu Sans, then the CJK fallback the Makefile
    installs) have glyphs for."""
    from fontTools.ttLib import TTFont

    chars: set[int] = set()
    for family in REPORT_FONTS:
        path = subprocess.run(["fc-match", "-f", "%{file}", family], capture_output=True,
                              text=True, check=True).stdout
        chars |= set(TTFont(path, lazy=True).getBestCmap())
    return frozenset(chars)


def missing_glyphs(text: str) -> set[str]:
    """Printable characters of ``text`` the report font cannot draw."""
    chars = report_font_chars()
    return {ch for ch in text if ord(ch) not in chars and not ch.isspace()
            and unicodedata.category(ch)[0] not in "CZ"}


def printable(text: str, *, keep_missing: bool = False) -> str:
    """What a PDF reader can give back of ``text``: NFKC, without whitespace, separators,
    control/format characters (bidi controls, zero-width, BOM), unassigned code points and
    (unless ``keep_missing``) characters the report font has no glyph for."""
    if not keep_missing:  # before NFKC: U+FF1D (fullwidth =) is drawn as a missing glyph
        chars = report_font_chars()
        text = "".join(ch for ch in text if ord(ch) in chars or ch.isspace())
    return "".join(ch for ch in unicodedata.normalize("NFKC", text)
                   if not ch.isspace() and unicodedata.category(ch)[0] not in "CZ")


def first_strong(text: str) -> str | None:
    """``"L"`` or ``"R"``: the direction of the first strong character of ``text`` outside
    the isolates it opens (Unicode bidi rule P2), which sets the direction of ``text`` shown
    in a first-strong isolate (``<bdi>``, U+2068); None when it has none."""
    depth = 0
    for ch in text:
        if ch in "\u2066\u2067\u2068":
            depth += 1
        elif ch == "\u2069":
            depth = max(0, depth - 1)
        elif not depth:
            kind = unicodedata.bidirectional(ch)
            if kind in ("L", "R", "AL"):
                return "L" if kind == "L" else "R"
    return None


def pdf_key(text: str) -> str:
    """The normalised prefix of ``text`` that must occur in the PDF's text (see the module
    docstring): text after a bidi control is cut off (the browser lays it out reversed), and
    all of it when it holds one and its first strong character is right-to-left."""
    cut = min((i for i, ch in enumerate(text) if ch in BIDI_CONTROLS), default=len(text))
    if cut < len(text) and first_strong(text) == "R":
        return ""
    return printable(text[:cut])[:PRINT_PREFIX]


def pdf_text(path: Path) -> str:
    """Text of a PDF in drawing order (``pdftotext -raw``: a table cell's lines stay
    together, where ``-layout`` would interleave neighbouring cells)."""
    return subprocess.run(["pdftotext", "-raw", "-enc", "UTF-8", str(path), "-"],
                          capture_output=True, check=True).stdout.decode("utf-8", "replace")


def bidi_spoof(drawn: str) -> int:
    """1 when the PDF does not show the account id in order after the partner's name, in
    the running header ``name (account)`` and on the cover ``name, account ...``. The text
    layer keeps each run's direction marks, so they and whitespace are removed first."""
    flat = re.sub(rf"[\s{ALL_BIDI_CONTROLS}]", "", drawn)
    return 0 if f"({ACCOUNT})" in flat and f"account{ACCOUNT}" in flat else 1


def _flat(text: str) -> str:
    return " ".join(text.split())


def _open_report_session(ws: Any, quick: bool) -> Any:
    facilities = list(FACILITIES[:1] if quick else FACILITIES)
    return open_session(ws, ACCOUNT, "validation", "in_person", "spec@cbp.example",
                        facilities=facilities)


def report_stage(root: Path, strings: list[str], quick: bool) -> Figures:
    """Hostile partner names, answer notes and evidence file names through rendered reports.

    Notes fill every unit of a session (150 criteria x facilities) with status 'does not
    meet', so each string appears in the checklist and the findings; refused notes (control
    characters, over the length limit) are counted. One :class:`Renderer` (one browser)
    renders every session.
    """
    from ctpat_audit.reports.pipeline import Renderer

    ws = make_workspace(root / "report_ws")
    sessions: list[tuple[str, str, dict[tuple[str, str], str], list[str]]] = []
    refused = names_refused = 0
    todo = list(strings)
    while todo:
        legal_name = todo[0]
        with _open_report_session(ws, quick) as sess:
            notes: dict[tuple[str, str], str] = {}
            units = sess.units()
            while todo and len(notes) < len(units):
                s = todo.pop(0)
                cid, fid = units[len(notes)]
                try:
                    sess.answer(cid, facility_id=fid, status="does_not_meet", method="interview",
                                notes=s)
                except InputError:
                    refused += 1
                    continue
                notes[(cid, fid)] = s
            names: list[str] = []
            first = len(sessions) * REPORT_NAMES
            for k, s in enumerate(strings[first:first + REPORT_NAMES]):
                cid, fid = units[k]
                try:
                    sess.attach(cid, s, f"evidence {k}".encode(), facility_id=fid)
                except InputError:
                    names_refused += 1
                    continue
                names.append(unicodedata.normalize("NFC", s).strip())
            sessions.append((sess.id, legal_name, notes, names))
    formulas = live = unreadable = pdf_js = through = bidi = no_glyph = bidi_names = spoofs = rtl = 0
    examples: list[str] = []
    with Renderer(ws.path, root / "reports", as_of="2026-11-01") as renderer:
        for sid, legal_name, notes, names in sessions:
            set_legal_name(ws, ACCOUNT, legal_name)
            folder = renderer.render(sid)
            through += 1 + len(notes) + len(names)
            # HTML: nothing live, every value there as text
            with open(folder / "report.html", encoding="utf-8", newline="") as fh:
                page = fh.read()
            found = live_html(page)
            live += len(found)
            examples += found[:2]
            flat = _flat(html.unescape(re.sub(r"<wbr\s*/?>", "", page)))  # break markup
            wanted = [legal_name, *notes.values(), *names]
            bad = [s for s in wanted if _flat(_shown(s)) not in flat]
            # PDF: no JavaScript, each string's normalised prefix in the text
            pdf = folder / "report.pdf"
            found = pdf_javascript(pdf.read_bytes())
            pdf_js += len(found)
            examples += found[:2]
            drawn = pdf_text(pdf)
            shown = printable(drawn)
            bad += [s for s in wanted if pdf_key(_shown(s)) not in shown]
            bidi += sum(1 for s in wanted if any(ch in BIDI_CONTROLS for ch in s))
            rtl += sum(1 for s in wanted if any(ch in BIDI_CONTROLS for ch in s)
                       and first_strong(_shown(s)) == "R")
            if any(ch in ALL_BIDI_CONTROLS for ch in legal_name):
                bidi_names += 1
                spoofs += bidi_spoof(drawn)
            no_glyph += sum(1 for s in wanted if missing_glyphs(s))
            # workbook: no formulas, notes and the partner's name read back exactly
            xlsx = folder / "report.xlsx"
            formulas += formula_cells(xlsx)
            rows = _records(xlsx, "Checklist", 4)
            cells = {(r["criterion_id"], r["facility_id"] or ""): r["notes"] or "" for r in rows}
            bad += [s for u, s in notes.items() if cells.get(u) != _expected(s)]
            partner = {r[0]: r[1] for r in _sheet_rows(xlsx, "Summary", 1) if len(r) > 1}
            bad += [] if partner.get("Partner") == _expected(legal_name) else [legal_name]
            unreadable += len(bad)
            examples += [f"unreadable: {s[:60]!r}" for s in bad[:2]]
    return {"hostile_report_strings": through, "hostile_report_sessions": len(sessions),
            "hostile_report_notes_refused": refused,
            "hostile_report_names_refused": names_refused, "hostile_report_bidi": bidi,
            "hostile_report_rtl": rtl,
            "hostile_report_bidi_names": bidi_names, "bidi_spoofs": spoofs,
            "hostile_report_missing_glyphs": no_glyph,
            "pdf_javascript": pdf_js,
            "formula_cells": formulas, "live_html": live, "hostile_unreadable": unreadable,
            "hostile_examples": examples}


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
        unreadable += sum(1 for s in chunk if s.strip() and visible(s).strip()[:40] not in text)
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
    # the validation report: HTML, PDF and workbook (quick: one report; full: every string)
    report = report_stage(root / "report", strings if quick else strings[::REPORT_STRIDE],
                          quick)
    return {**report, "hostile_strings": n,
            "hostile_with_noncharacters": sum(1 for x in strings
                                              if any(c in x for c in NONCHARACTERS)),
            "hostile_with_bidi": sum(1 for x in strings if any(c in x for c in BIDI_CONTROLS)),
            "formula_cells": formulas + report["formula_cells"],
            "live_html": live + report["live_html"],
            "hostile_unreadable": unreadable + report["hostile_unreadable"],
            "hostile_notes_refused": refused, "hostile_notes_stored": stored,
            "hostile_truncated": sum(len(x) > EXCEL_CELL_LIMIT for x in strings),
            "hostile_examples": (examples + report["hostile_examples"])[:5]}
