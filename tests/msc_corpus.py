"""A corpus of criteria-table PDFs in many layouts, generated in code, each with its expected rows.

The text is the project's own (not CBP's wording), composed from a seeded generator so each
layout has different ids, wording, lengths, fonts and column widths. Two generators:
- HTML printed by Debian's chromium through the toolkit's own engine
  (:class:`ctpat_audit.reports.pdf.PdfEngine`): browser tables with ruling, repeated ``thead``
  headers, spanning heading cells, rows broken across pages, running titles and page footers;
- fpdf2 (dev extra): text placed by coordinates, for tables drawn without any rules and for a
  landscape page with cell rectangles.

``Layout.spec`` is the table content; :func:`expected_rows` is what an exact import reads.
``plant`` makes a "bad twin" with one problem.
"""
from __future__ import annotations

import html
import random
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

from ctpat_audit.core import vocabulary as v


@dataclass(frozen=True)
class Crit:
    id: str
    criteria: str
    guidance: str
    level: str
    notes: str = ""


@dataclass(frozen=True)
class Heading:
    category: int
    title: str  # as printed, e.g. "6. Seal Security"
    intro: str = ""


@dataclass(frozen=True)
class Focus:
    text: str


Item = Crit | Heading | Focus

SUBJECTS = ["The member", "Management", "The company", "Each site", "The security lead",
            "CTPAT Members", "The partner", "Every facility", "Supervisors", "The team"]
VERBS = {"Must": ["must keep", "must document", "must check", "must record", "must review"],
         "Should": ["should keep", "should document", "should check", "should review",
                    "should consider"]}
OBJECTS = {
    1: ["a signed statement of support", "a cross-functional security group",
        "yearly reports to senior managers", "the security program's goals"],
    2: ["a written map of the cargo flow", "threat ratings for each trade lane",
        "a yearly review of the risk picture", "the weak points found in transit"],
    3: ["screening records for new partners", "proof of partners' certification status",
        "security clauses in service contracts", "follow-up of partner weaknesses"],
    4: ["current firewall and anti-malware settings", "individual log-ins for every user",
        "tested backups kept off the network", "a record of access-right reviews"],
    5: ["a multi-point inspection before loading", "photos of each inspection point",
        "a secure yard for empty trailers", "a second check on a sample of loads"],
    6: ["high-security seals on every sealable load", "a seal log with each number issued",
        "a controlled stock of unused seals", "the steps to take when a seal is broken"],
    7: ["cargo counts against the shipping papers", "a record of each driver's identity",
        "an internal inquiry after every breach", "shipping papers that are legible"],
    8: ["wood packaging marked under ISPM 15", "pest checks of packing material",
        "clean conveyances before loading", "a log of pest findings"],
    9: ["fences around cargo handling areas", "locks on every outside door",
        "lighting over gates and docks", "cameras covering the loading area"],
    10: ["badges for employees and visitors", "a log of every visitor", "a list of issued keys",
         "challenges to people without a badge"],
    11: ["checks on new hires where the law allows", "a code of conduct read by staff",
         "periodic re-checks for sensitive roles", "removal of access when staff leave"],
    12: ["security training at hiring", "yearly refresher courses", "records of who was trained",
         "drills on reporting suspicious activity"],
}
REASONS = ["so that gaps are found early", "before goods leave the site", "at least once a year",
           "whenever the process changes", "for every shipment to the United States",
           "and keep the result for twelve months", "with the date and the name of the checker",
           "in a place where auditors can find it", "during nights and weekends as well"]
GUIDES = ["A simple checklist is enough for a small site.",
          "Larger members may use software; paper records are also acceptable.",
          "Photos taken with a date stamp make the record easier to verify.",
          "The record can be kept on paper or on a shared drive.",
          "Staff who do the work should be able to explain it.",
          "A template is available from most industry associations.",
          "Keep older versions so that changes can be traced.",
          "Where a step is skipped, note the reason and who approved it."]
INTROS = [("Members build this part of the program on their own risks; the rows below say what "
          "is required and what is recommended."),
          ("A weakness here is often how contraband enters a shipment, so these criteria ask "
          "for written steps and records that show the steps were followed."),
          ("This section explains what a member is expected to do and how a specialist may "
          "verify it during a validation visit.")]


def _sentence(rng: random.Random, category: int, level: str) -> str:
    return (f"{rng.choice(SUBJECTS)} {rng.choice(VERBS[level])} {rng.choice(OBJECTS[category])} "
            f"{rng.choice(REASONS)}.")


def make_spec(seed: int, categories: list[int], per_category: tuple[int, int] = (2, 4),
              long_rows: int = 0, intro: bool = False, numbered: bool = True,
              focus: bool = True, notes: bool = False) -> list[Item]:
    """A table's content: headings (with an introduction if asked) and criteria with
    non-sequential ids, wording and lengths from ``seed``."""
    rng = random.Random(seed)
    items: list[Item] = []
    area = None
    long_left = long_rows
    for category in categories:
        c = v.CATEGORIES[category - 1]
        if focus and c.focus_area != area:
            area = c.focus_area
            items.append(Focus(area))
        title = f"{category}. {c.name}" if numbered else c.name
        items.append(Heading(category, title, rng.choice(INTROS) if intro else ""))
        numbers = sorted(rng.sample(range(1, 40), rng.randint(*per_category)))
        for n in numbers:
            level = "Must" if rng.random() < 0.6 else "Should"
            sentences = 1 + rng.randint(0, 2)
            guides = rng.randint(0, 3)
            if long_left and rng.random() < 0.5:
                sentences, guides, long_left = 14, 16, long_left - 1
            criteria = " ".join(_sentence(rng, category, level) for _ in range(sentences))
            guidance = " ".join(rng.choice(GUIDES) for _ in range(guides))
            note = rng.choice(["", "see site plan", "added 2020", "reviewed"]) if notes else ""
            items.append(Crit(f"{category}.{n}", criteria, guidance, level, note))
    return items


def expected_rows(spec: list[Item]) -> list[tuple[str, str, str, str, int]]:
    """(id, criteria, guidance, level, category of the heading above) for each criterion."""
    out, heading = [], 0
    for item in spec:
        if isinstance(item, Heading):
            heading = item.category
        elif isinstance(item, Crit):
            out.append((item.id, item.criteria, item.guidance, item.level, heading))
    return out


# -- HTML through chromium -------------------------------------------------------------------

@dataclass(frozen=True)
class HtmlStyle:
    font: str = "Liberation Sans"
    size: str = "9pt"
    widths: tuple[int, ...] = (8, 44, 36, 12)
    headers: tuple[str, ...] = ("ID", "Criteria", "Implementation Guidance", "Must/Should")
    header_align: str = "center"
    header_valign: str = "middle"
    ruled: bool = True
    separate_borders: bool = False  # Word-like: every cell draws its own box
    repeat_header: bool = True  # thead (chromium repeats it on every page)
    headings_outside: bool = False  # CBP-like: headings and introductions between tables
    notes_column: bool = False
    paper: str = "A4"
    title: str = "CTPAT Minimum Security Criteria - Test Entity"
    footer: str = "Test table"
    body_valign: str = "top"
    extra_css: str = ""


def _cells(item: Crit, style: HtmlStyle) -> str:
    cells = [item.id, item.criteria, item.guidance, item.level] + ([item.notes] if style.notes_column else [])
    return "<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in cells) + "</tr>"


def render_html(spec: list[Item], style: HtmlStyle) -> str:
    ncols = len(style.headers)
    border = "1px solid #222" if style.ruled else "none"
    collapse = ("border-collapse: separate; border-spacing: 0" if style.separate_borders
                else "border-collapse: collapse")
    head_cells = "".join(f"<th>{h}</th>" for h in style.headers)
    cols = "".join(f'<col style="width:{w}%">' for w in style.widths)
    head = f"<tr class=head>{head_cells}</tr>"

    def table(body: list[str]) -> str:
        if style.repeat_header:
            return f"<table>{cols}<thead>{head}</thead><tbody>{''.join(body)}</tbody></table>"
        return f"<table>{cols}<tbody>{head}{''.join(body)}</tbody></table>"

    parts: list[str] = []
    body: list[str] = []
    for item in spec:
        if isinstance(item, Focus):
            text = f"<b>{html.escape(item.text)}</b>"
            if style.headings_outside:
                if body:
                    parts.append(table(body))
                    body = []
                parts.append(f"<p class=focus>{text}</p>")
            else:
                body.append(f'<tr class=focus><td colspan="{ncols}">{text}</td></tr>')
        elif isinstance(item, Heading):
            text = f"<b>{html.escape(item.title)}</b>"
            if item.intro:
                text += f" &ndash; {html.escape(item.intro)}"
            if style.headings_outside:
                if body:
                    parts.append(table(body))
                    body = []
                parts.append(f"<p>{text}</p>")
            else:
                body.append(f'<tr class=heading><td colspan="{ncols}">{text}</td></tr>')
        else:
            body.append(_cells(item, style))
    parts.append(table(body))
    return f"""<!doctype html><html><head><meta charset="utf-8"><style>
body {{ font-family: '{style.font}'; font-size: {style.size}; }}
table {{ {collapse}; width: 100%; table-layout: fixed; margin-bottom: 8pt; }}
td, th {{ border: {border}; padding: 3pt 4pt; vertical-align: {style.body_valign};
          overflow-wrap: break-word; }}
th {{ text-align: {style.header_align}; vertical-align: {style.header_valign}; }}
tr {{ break-inside: auto; }}
tr.focus td {{ background: #d9e2f3; text-align: center; }}
tr.heading td {{ background: #eeeeee; }}
{style.extra_css}
</style></head><body>{''.join(parts)}</body></html>"""


def chromium_pdf(spec: list[Item], style: HtmlStyle, out: Path, engine) -> Path:
    src = out.with_suffix(".html")
    src.write_text(render_html(spec, style), encoding="utf-8")
    return engine.pdf(src, out, paper=style.paper, header=style.title, footer=style.footer)


# -- fpdf2 -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class FpdfStyle:
    font: str = "Times"
    size: float = 10
    orientation: str = "P"
    paper: str = "A4"
    widths: tuple[float, ...] = (16, 78, 70, 22)  # mm
    headers: tuple[tuple[str, ...], ...] = (("ID",), ("Criteria",), ("Implementation", "Guidance"),
                                            ("Must /", "Should"))
    ruled: bool = False
    line_h: float = 4.6
    header_middle: bool = False  # single-line headers drawn level with the middle line
    title: str = "Minimum Security Criteria - test table"


def fpdf_pdf(spec: list[Item], style: FpdfStyle, out: Path) -> Path:
    """A criteria table drawn with fpdf2: each text line placed by coordinates; ``ruled``
    draws each row's cell rectangles (a row cut by the page break keeps open sides)."""
    from fpdf import FPDF

    pdf = FPDF(orientation=style.orientation, unit="mm", format=style.paper)
    pdf.set_auto_page_break(False)
    pdf.set_margins(12, 12, 12)
    lh = style.line_h
    xs = [12.0]
    for w in style.widths:
        xs.append(xs[-1] + w)
    bottom = pdf.h - 22
    table_w = xs[-1] - xs[0]

    def text(x: float, y: float, s: str, bold: bool = False) -> None:
        pdf.set_font(style.font, style="B" if bold else "", size=style.size)
        pdf.set_xy(x, y)
        pdf.cell(0, lh, s)

    def page() -> float:
        pdf.add_page()
        text(12, 8, style.title)
        pdf.set_xy(pdf.w / 2 - 10, pdf.h - 14)
        pdf.set_font(style.font, size=style.size - 1)
        pdf.cell(20, lh, f"Page {pdf.page_no()}", align="C")
        tallest = max(len(h) for h in style.headers)
        y0 = 20
        for (x, w), lines in zip(zip(xs, style.widths), style.headers):
            start = y0 + ((tallest - len(lines)) * lh / 2 if style.header_middle else 0)
            for i, s in enumerate(lines):
                pdf.set_font(style.font, style="B", size=style.size)
                pdf.set_xy(x + (w - pdf.get_string_width(s)) / 2 - 1, start + i * lh)
                pdf.cell(0, lh, s)
        y = y0 + tallest * lh + 2
        if style.ruled:
            pdf.line(xs[0], y - 1, xs[-1], y - 1)
        return y

    def wrap(s: str, width: float) -> list[str]:
        if not s:
            return []
        pdf.set_font(style.font, size=style.size)
        return pdf.multi_cell(width - 3, lh, s, dry_run=True, output="LINES")

    y = page()
    for item in spec:
        if isinstance(item, (Focus, Heading)):
            s = item.text if isinstance(item, Focus) else (
                item.title + (f" - {item.intro}" if item.intro else ""))
            lines = wrap(s, table_w)
            if y + lh * len(lines) > bottom:
                y = page()
            for i, ln in enumerate(lines):
                text(xs[0] + 1, y + i * lh, ln, bold=i == 0 and not item.__dict__.get("intro"))
            y += lh * len(lines) + 2
            continue
        cols = [wrap(s, w) for s, w in zip((item.id, item.criteria, item.guidance, item.level),
                                            style.widths)]
        n = max(len(c) for c in cols)
        top = y
        for i in range(n):
            if y + lh > bottom:
                if style.ruled:
                    for x in xs:
                        pdf.line(x, top - 1, x, y + 1)
                y = page()
                top = y
            for x, c in zip(xs, cols):
                if i < len(c):
                    text(x + 1, y, c[i])
            y += lh
        if style.ruled:
            for x in xs:
                pdf.line(x, top - 1, x, y + 1)
            pdf.line(xs[0], y + 1, xs[-1], y + 1)
        y += 2.5
    pdf.output(str(out))
    return out


# -- the layouts -----------------------------------------------------------------------------

@dataclass(frozen=True)
class Layout:
    name: str
    spec: list[Item]
    make: Callable[..., Path]  # (spec, out path, engine) -> path
    about: str = ""
    notices: int = 0
    extra: dict = field(default_factory=dict)


def _html(style: HtmlStyle) -> Callable[..., Path]:
    return lambda spec, out, engine: chromium_pdf(spec, style, out, engine)


def _fpdf(style: FpdfStyle) -> Callable[..., Path]:
    return lambda spec, out, engine: fpdf_pdf(spec, style, out)


LAYOUTS = [
    Layout("ruled_centred", make_spec(11, [1, 2, 6, 7], (3, 5)),
           _html(HtmlStyle(font="Liberation Sans", size="9pt", widths=(7, 45, 36, 12))),
           "every cell ruled; headers centred in their cells (HTML, chromium)"),
    Layout("no_rules", make_spec(12, [3, 4, 5], (3, 6), numbered=False),
           _fpdf(FpdfStyle(font="Times", size=10, widths=(15, 80, 68, 23),
                           headers=(("ID",), ("Criteria",), ("Implementation Guidance",),
                                    ("Must/Should",)))),
           "no lines at all; columns from text alignment; left-aligned headers (fpdf2)"),
    Layout("two_line_header", make_spec(13, [9, 10, 11], (3, 5)),
           _html(HtmlStyle(font="DejaVu Serif", size="8.5pt", widths=(9, 40, 42, 9),
                           headers=("ID", "Criteria", "Implementation<br>Guidance",
                                    "Must /<br>Should"))),
           "header wrapped over two lines, ID and Criteria centred between them (HTML)"),
    Layout("heading_intro", make_spec(14, [2, 3, 8, 12], (2, 4), intro=True),
           _html(HtmlStyle(font="Liberation Serif", size="10pt", widths=(8, 38, 40, 14),
                           header_align="left")),
           "category headings span the table and carry an introduction sentence (HTML)"),
    Layout("word_export", make_spec(15, [1, 4, 5, 9], (3, 6), intro=True),
           _html(HtmlStyle(font="DejaVu Sans Condensed", size="9pt", widths=(8, 42, 38, 12),
                           separate_borders=True, headings_outside=True,
                           headers=("ID", "Criteria", "Implementation Guidance", "Must / Should"),
                           extra_css="tr.head th { background: #1f3864; color: #fff; }",
                           title="CTPAT MSC | Test Entity | November 2019")),
           "Word-style: a table per category under its heading and introduction, header "
           "shaded and repeated on every page, every cell its own box (HTML)"),
    Layout("landscape", make_spec(16, [6, 7, 10], (3, 5)),
           _fpdf(FpdfStyle(font="Courier", size=8, orientation="L", paper="Letter",
                           widths=(16, 95, 120, 24), ruled=True, line_h=4.0)),
           "landscape Letter, ruled rows drawn as lines, a monospaced font (fpdf2)"),
    Layout("extra_column", make_spec(17, [7, 8, 11], (3, 5), notes=True),
           _html(HtmlStyle(font="Liberation Sans Narrow", size="10pt", widths=(7, 36, 33, 10, 14),
                           headers=("ID", "Criteria", "Implementation Guidance", "Must/Should",
                                    "Notes"), header_align="left", notes_column=True)),
           "a fifth column (Notes) that the import ignores with one notice (HTML)", notices=1),
    Layout("page_breaks", make_spec(18, [2, 5, 12], (2, 4), long_rows=3),
           _html(HtmlStyle(font="DejaVu Sans", size="9.5pt", widths=(8, 46, 34, 12),
                           paper="Letter", header_valign="bottom")),
           "long rows that break across pages in the middle of a sentence (HTML, Letter)"),
    Layout("no_rules_middle_header", make_spec(19, [1, 6, 9], (3, 5), long_rows=2, intro=True),
           _fpdf(FpdfStyle(font="Helvetica", size=8.5, widths=(13, 70, 82, 20),
                           headers=(("ID",), ("Criteria",), ("Implementation Guidance",),
                                    ("Must /", "Should")), header_middle=True, line_h=4.2)),
           "no lines; 'Must /' above and 'Should' below the line naming the other columns; "
           "rows break across pages (fpdf2)"),
]
BY_NAME = {lay.name: lay for lay in LAYOUTS}


# -- bad twins -------------------------------------------------------------------------------

def plant(spec: list[Item], problem: str) -> tuple[list[Item], str, str]:
    """The spec with one problem planted in a criterion near the middle, the planted
    criterion's id (as it now reads) and the text that marks its line."""
    crits = [i for i, item in enumerate(spec) if isinstance(item, Crit)]

    def category(i: int) -> str:
        item = spec[i]
        assert isinstance(item, Crit)
        return item.id.split(".")[0]

    # a criterion with another one before it under the same heading (a duplicate stays there)
    second = [i for j, i in enumerate(crits) if j and category(crits[j - 1]) == category(i)]
    k = second[len(second) // 2]
    target = spec[k]
    assert isinstance(target, Crit)
    out = list(spec)
    if problem == "missing_level":
        out[k] = replace(target, level="")
        return out, target.id, target.id
    if problem == "unknown_level":
        out[k] = replace(target, level="Could")
        return out, target.id, "Could"
    if problem == "wrong_category":
        category = int(target.id.split(".")[0])
        other = 12 if category != 12 else 11
        taken = {i.id for i in spec if isinstance(i, Crit)}
        new = next(f"{other}.{n}" for n in range(41, 99) if f"{other}.{n}" not in taken)
        out[k] = replace(target, id=new)
        return out, new, new
    if problem == "duplicate_id":
        earlier = spec[crits[crits.index(k) - 1]]
        assert isinstance(earlier, Crit)
        out[k] = replace(target, id=earlier.id)
        return out, earlier.id, earlier.id
    raise ValueError(problem)


PROBLEMS = ("missing_level", "wrong_category", "duplicate_id", "unknown_level")


# -- written after the reader was finished (see test_late_layout_...) -------------------------

LIBERATION = "/usr/share/fonts/truetype/liberation"


def cbp_style_pdf(spec: list[Item], out: Path, entity: str = "Test Carriers") -> Path:
    """A table laid out the way CBP's published criteria documents are (landscape Letter):
    a title block and a note, focus-area lines and each category's heading with its
    introduction as paragraphs between tables, one table per category whose shaded header
    puts "Must /" above and "Should" below the line naming the other columns, every cell
    drawn as its own rectangle, curly quotes and en dashes, a running title with the page
    number at the top right, and rows that continue on the next page under a repeated header.
    Drawn with fpdf2 and the Liberation fonts."""
    from fpdf import FPDF

    pdf = FPDF(orientation="L", unit="pt", format="Letter")
    pdf.set_auto_page_break(False)
    pdf.add_font("LS", "", f"{LIBERATION}/LiberationSerif-Regular.ttf")
    pdf.add_font("LS", "B", f"{LIBERATION}/LiberationSerif-Bold.ttf")
    size, lh = 9.5, 11.5
    widths = [34, 250, 352, 52]
    x0 = (pdf.w - sum(widths)) / 2
    xs = [x0]
    for w in widths:
        xs.append(xs[-1] + w)
    top, bottom = 54, pdf.h - 40
    curly = str.maketrans({"'": "\u2019"})

    def running_title() -> None:
        pdf.set_font("LS", "", 8)
        pdf.set_xy(x0, 24)
        pdf.cell(0, 10, f"CTPAT Minimum Security Criteria \u2013 {entity} | November 2019")
        pdf.set_xy(xs[-1] - 60, 24)
        pdf.cell(60, 10, f"Page {pdf.page_no()}", align="R")

    def new_page() -> float:
        pdf.add_page()
        running_title()
        return top

    def header(y: float) -> float:
        h = 3 * lh
        pdf.set_fill_color(217, 217, 217)
        for x, w in zip(xs, widths):
            pdf.rect(x, y, w, h, style="DF")
        pdf.set_font("LS", "B", size)
        for (x, w), label in zip(zip(xs, widths), ("ID", "Criteria", "Implementation Guidance")):
            pdf.set_xy(x, y + lh)
            pdf.cell(w, lh, label, align="C")
        pdf.set_xy(xs[3], y + 0.5 * lh)
        pdf.cell(widths[3], lh, "Must /", align="C")
        pdf.set_xy(xs[3], y + 1.5 * lh)
        pdf.cell(widths[3], lh, "Should", align="C")
        return y + h

    def wrap(text: str, width: float, bold: bool = False) -> list[str]:
        if not text:
            return []
        pdf.set_font("LS", "B" if bold else "", size)
        return pdf.multi_cell(width - 8, lh, text, dry_run=True, output="LINES")

    def paragraph(y: float, text: str, bold_prefix: str = "") -> float:
        lines = wrap(bold_prefix + text, xs[-1] - x0)
        if y + lh * (len(lines) + 1) > bottom:
            y = new_page()
        for i, ln in enumerate(lines):
            pdf.set_font("LS", "B" if i == 0 and bold_prefix else "", size)
            pdf.set_xy(x0, y + i * lh)
            pdf.cell(0, lh, ln)
        return y + lh * len(lines) + 6

    y = new_page()
    pdf.set_font("LS", "B", 13)
    pdf.set_xy(x0, y)
    pdf.cell(0, 16, f"Minimum Security Criteria \u2013 {entity}")
    pdf.set_xy(x0, y + 16)
    pdf.cell(0, 16, "November 2019")
    y = paragraph(y + 40, "Note: criteria ID numbers may not be sequential. ID numbers not listed "
                          "are not applicable to this entity type.")
    in_table = False
    for item in spec:
        if isinstance(item, Focus):
            y = paragraph(y + 4, f"Focus Area: {item.text}", "")
            in_table = False
            continue
        if isinstance(item, Heading):
            title = item.title.replace("Vision and Responsibility", "Vision & Responsibility")
            y = paragraph(y, (" \u2013 " + item.intro.translate(curly)) if item.intro else "",
                          title)
            in_table = False
            continue
        cols = [wrap(t.translate(curly) if i in (1, 2) else t, w)
                for i, (t, w) in enumerate(zip((item.id, item.criteria, item.guidance, item.level),
                                                widths))]
        n = max(len(c) for c in cols)
        if not in_table or y + 3 * lh + 2 * lh > bottom:
            if y + 3 * lh + 2 * lh > bottom:
                y = new_page()
            y = header(y)
            in_table = True
        done = 0
        while done < n:
            fit = max(1, int((bottom - y - 6) // lh))
            part = min(n - done, fit)
            h = part * lh + 6
            for x, w in zip(xs, widths):
                pdf.rect(x, y, w, h)
            pdf.set_font("LS", "", size)
            for x, c in zip(xs, cols):
                for k, ln in enumerate(c[done:done + part]):
                    pdf.set_xy(x + 3, y + 3 + k * lh)
                    pdf.cell(0, lh, ln)
            done += part
            y += h
            if done < n:
                y = header(new_page())
    pdf.output(str(out))
    return out


LATE_LAYOUT = Layout(
    "cbp_landscape_late",
    make_spec(41, [1, 2, 5, 6, 9, 12], (3, 6), long_rows=2, intro=True),
    lambda spec, out, engine: cbp_style_pdf(spec, out),
    "CBP's published layout, written after the reader was finished and not used to change it")
