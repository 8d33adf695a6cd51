"""What the report notebook shows: one context object and one rich-display function per section.

``templates/report.ipynb`` stays thin: it builds a :class:`ReportContext` with
:func:`load_context` and calls the ``show_*`` functions, each of which displays HTML (with a
plain-text alternative) so the executed notebook, the HTML export and the PDF all carry the same
content. Every value that comes from a partner, a specialist or a file (names, notes, evidence
file names) goes through :func:`esc` (``html.escape``, unsafe characters shown as U+FFFD, text
with bidi controls isolated in ``<bdi>``) or :func:`table`, which does that to every cell:
nothing supplied by a user can become markup or script, or reorder the text around it.
"""
from __future__ import annotations

import datetime as dt
import html
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from ctpat_audit.core.text import balanced, has_bidi_controls, visible
from ctpat_audit.core.vocabulary import ANSWER_STATUS_LABELS, NOT_ANSWERED
from ctpat_audit.reports.summary import SUMMARY_MIME
from ctpat_audit.sessions.findings import DEFAULT_DUE_DAYS, OUTCOME_NOTE, SessionFindings, session_findings

__all__ = [
    "SECTIONS",
    "SUMMARY_MIME",
    "ReportContext",
    "esc",
    "esc_attr",
    "load_context",
    "preload",
    "publish_summary",
    "report_header",
    "write_workbook",
    "show_appendix",
    "show_checklist",
    "show_comparison",
    "show_exams",
    "show_findings",
    "show_partner",
    "show_profile",
    "show_signatures",
    "show_toc",
    "table",
]

SECTIONS = [("partner", "Partner and validation"), ("profile", "Security-profile review"),
            ("exams", "Exam dashboard"), ("findings", "Findings"),
            ("checklist", "Criterion-by-criterion results"),
            ("comparison", "Self-assessment compared with the validation"),
            ("appendix", "Appendix: provenance"), ("signatures", "Signatures")]
STATUS_TEXT = {**ANSWER_STATUS_LABELS, "": NOT_ANSWERED}


_LONG_RUN = re.compile(r"\S{40,}")
_WRAP_EVERY = 20


def esc(value: object) -> str:
    """HTML-escaped text of a value ('' for None/NA), for element content.

    Characters no document should hold (XML-illegal characters, Unicode noncharacters) are
    shown as U+FFFD (:func:`ctpat_audit.core.text.visible`). Text that holds a bidi control
    (an unterminated U+202E in a partner's name) is balanced and wrapped in ``<bdi>``, so it
    cannot reverse what follows it (the account number after the name). A run of 40 or more
    characters without a space (a hash, a path, pasted or hostile text) gets a ``<wbr>``
    break opportunity every 20 characters: otherwise the browser cannot wrap it, its column
    takes its full width and the last columns of the table fall off the printed page.
    ``<bdi>`` and ``<wbr>`` are markup, not text: copied or extracted text is unchanged.
    For attribute values use :func:`esc_attr`.
    """
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return ""
    text = visible(str(value))
    out, pos = [], 0
    for m in _LONG_RUN.finditer(text):
        run = m.group()
        out.append(html.escape(text[pos:m.start()], quote=True))
        out.append("<wbr>".join(html.escape(run[i:i + _WRAP_EVERY], quote=True)
                                for i in range(0, len(run), _WRAP_EVERY)))
        pos = m.end()
    out.append(html.escape(text[pos:], quote=True))
    joined = "".join(out)
    return f"<bdi>{balanced(joined)}</bdi>" if has_bidi_controls(text) else joined


def esc_attr(value: object) -> str:
    """An attribute value: escaped (quotes too), unsafe characters shown as U+FFFD, no
    markup."""
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return ""
    return html.escape(visible(str(value)), quote=True)


def table(frame: pd.DataFrame, *, cls: str = "tbl", row_class: Callable[[Any], str] | None = None,
          headers: dict[str, str] | None = None) -> str:
    """An HTML table with every header and cell escaped; ``row_class(row)`` adds a CSS class."""
    heads = "".join(f"<th>{esc((headers or {}).get(c, c))}</th>" for c in frame.columns)
    body = []
    for row in frame.itertuples(index=False):
        rc = row_class(row) if row_class else ""
        cells = "".join(f"<td>{esc(_fmt(v))}</td>" for v in row)
        body.append(f'<tr class="{esc_attr(rc)}">{cells}</tr>' if rc else f"<tr>{cells}</tr>")
    if not body:
        body.append(f'<tr><td colspan="{max(1, len(frame.columns))}">none</td></tr>')
    return (f'<table class="{esc_attr(cls)}"><thead><tr>{heads}</tr></thead>'
            f"<tbody>{''.join(body)}</tbody></table>")


def _fmt(v: object) -> object:
    if isinstance(v, float) and not math.isnan(v):
        return f"{v:.4g}"
    if isinstance(v, pd.Timestamp):
        return v.date().isoformat()
    if isinstance(v, dt.date):
        return v.isoformat()
    return v


def _show(html_text: str, plain: str) -> None:
    from IPython.display import display

    display({"text/html": html_text, "text/plain": plain}, raw=True)


def _heading(key: str) -> str:
    title = dict(SECTIONS)[key]
    return f'<h2 id="{key}" class="section">{esc(title)}</h2>'


@dataclass
class ReportContext:
    workspace: Path
    session: dict[str, Any]
    partner: Any  # workspace.Partner
    catalogue: Any | None  # Catalogue, None when the session's version is not available
    findings: SessionFindings
    as_of: dt.date
    metrics: Any | None = None  # PartnerExamMetrics
    comparison: pd.DataFrame | None = None  # exam rates vs baseline
    review: Any | None = None  # review.ProfileReview
    provenance: dict[str, str] | None = None

    @property
    def demonstration(self) -> bool:
        return bool(self.catalogue is not None and self.catalogue.is_demonstration)


def _report_date(session: dict[str, Any], as_of: str | dt.date | None) -> dt.date:
    if isinstance(as_of, dt.date):
        return as_of
    if as_of:
        return dt.date.fromisoformat(str(as_of))
    stamp = session.get("submitted_at") or session.get("opened_at")
    return dt.datetime.fromisoformat(str(stamp)).date()


def load_context(workspace: str | Path, session_id: str, as_of: str | dt.date | None = None,
                 due_days: int = DEFAULT_DUE_DAYS) -> ReportContext:
    """Read everything one report shows. ``as_of``: report date (default: the submission date)."""
    from ctpat_audit.analysis.exam_metrics import compare_to_baseline, exam_metrics, load_baseline
    from ctpat_audit.core.errors import CtpatError
    from ctpat_audit.criteria.catalogue import load_catalogue
    from ctpat_audit.sessions.session import resume_session
    from ctpat_audit.workspace import audit
    from ctpat_audit.workspace.reference import open_workspace

    ws = open_workspace(workspace)
    with resume_session(ws, session_id) as s:
        info = s.info()
    report_date = _report_date(info, as_of)
    partner = ws.partner(info["account_id"])
    try:
        cat = load_catalogue(version=info["catalogue_version"], workspace=ws.path)
    except (CtpatError, OSError):
        cat = None
    ctx = ReportContext(ws.path, info, partner, cat,
                        session_findings(ws, session_id, report_date, due_days), report_date)
    ctx.metrics = exam_metrics(partner.shipments, report_date, 12)
    ctx.comparison = compare_to_baseline(ctx.metrics, load_baseline())
    if cat is not None:
        from ctpat_audit.analysis.review import review_partner

        ctx.review = review_partner(partner, cat, report_date)
    conn = ws.connect(readonly=True)
    try:
        seq, head = audit.head(conn)  # the chain itself is checked by `ctpat-audit verify`
    finally:
        conn.close()
    from importlib.metadata import version

    ctx.provenance = {
        "catalogue version": str(info["catalogue_version"]),
        "catalogue label": cat.label if cat is not None else "(catalogue file not available)",
        "package version": f"ctpat-audit {version('ctpat-audit')}",
        "data snapshot (source SHA-256)": ws.meta().get("source_sha256", "(no import yet)"),
        "audit-log head": f"entry {seq}, hash {head}",
        "report date": report_date.isoformat(),
    }
    return ctx


#: Imported by the sections on first use; a process that forks reports imports them once.
_REPORT_MODULES = ("IPython.display", "scipy.special", "pyarrow.parquet", "openpyxl",
                   "importlib.metadata", "ctpat_audit.analysis.exam_metrics",
                   "ctpat_audit.analysis.review", "ctpat_audit.criteria.catalogue",
                   "ctpat_audit.sessions.session", "ctpat_audit.workspace.audit",
                   "ctpat_audit.workspace.reference", "ctpat_audit.reports.workbook",
                   "ctpat_audit.ui.print_charts")


def preload(workspace: str | Path | None = None) -> None:
    """Load what every report shares, once, in a process that then forks one child per
    report (the zygote's warm-up, :mod:`ctpat_audit.reports.zygote`): the modules the
    sections import on first use, the shipped exam-rate baseline, and every criteria
    catalogue (built-in, and the workspace's when ``workspace`` is given) parsed and
    validated. No partner data."""
    import importlib
    from importlib.metadata import version

    from ctpat_audit.analysis.exam_metrics import load_baseline
    from ctpat_audit.criteria.catalogue import available_versions, load_catalogue

    for name in _REPORT_MODULES:
        importlib.import_module(name)
    version("ctpat-audit")
    load_baseline()  # the shipped baseline, read once here for every report
    for v in available_versions(workspace):
        try:
            load_catalogue(v, workspace)
        except Exception:  # a damaged catalogue fails the report that uses it, not the rest
            continue


def report_header(ctx: ReportContext) -> dict[str, Any]:
    """What the HTML head, the PDF's running header and footer show (plain text)."""
    s = ctx.session
    kind = "Self-assessment" if s["kind"] == "self_assessment" else "Validation"
    return {"partner": balanced(visible(str(ctx.partner.legal_name))),
            "account_id": str(ctx.partner.account_id),
            "session_id": str(s["session_id"]), "kind": kind,
            "report_date": ctx.as_of.isoformat(), "demonstration": ctx.demonstration,
            "title": f"CTPAT {kind} report {s['session_id']}"}


def publish_summary(ctx: ReportContext) -> None:
    """A small JSON output for the renderer and the batch index: findings count, exam rate,
    outcome and the report header, so neither has to load the session's data again."""
    from IPython.display import display

    c = ctx.findings.counts()
    rate = ctx.metrics.exam_rate if ctx.metrics is not None else None
    display({SUMMARY_MIME: {"findings": c["requirements"] + c["recommendations"], **c,
                            "exam_rate": None if rate is None or math.isnan(rate) else rate,
                            "outcome": ctx.findings.outcome.code,
                            "header": report_header(ctx)}}, raw=True)


def write_workbook(ctx: ReportContext, path: str) -> None:
    """The report's Excel workbook, written by the kernel that already holds the data
    (``path`` empty: nothing to do; the renderer then writes it itself)."""
    if path:
        from ctpat_audit.reports.workbook import write_report_xlsx

        write_report_xlsx(ctx, path)


def show_toc(ctx: ReportContext) -> None:
    s, p = ctx.session, ctx.partner
    kind = "Self-assessment" if s["kind"] == "self_assessment" else \
        f"Validation ({str(s['mode']).replace('_', '-')})"
    cat = ctx.catalogue
    demo = ('<p class="demo">DEMONSTRATION: built from a demonstration catalogue, '
            f"{esc(cat.label)}. Not an official CBP determination.</p>"
            if cat is not None and ctx.demonstration else "")
    items = "".join(f'<li><a href="#{k}">{esc(t)}</a></li>' for k, t in SECTIONS)
    _show(f'<div class="cover"><h1>CTPAT {esc(kind)} report</h1>'
          f'<p class="who"><b>{esc(p.legal_name)}</b>, account {esc(p.account_id)}<br>'
          f"Session {esc(s['session_id'])}, report date {esc(ctx.as_of)}</p>{demo}"
          f'<nav class="toc"><h2>Contents</h2><ol>{items}</ol></nav></div>',
          f"CTPAT {kind} report: {p.legal_name} ({p.account_id}), session {s['session_id']}")


def show_partner(ctx: ReportContext) -> None:
    p, s, o = ctx.partner, ctx.session, ctx.findings.outcome
    facts = [("Legal name", p.legal_name), ("Account", p.account_id), ("Status", p.status),
             ("Entity types", ", ".join(p.entity_types)),
             ("Certified", p.certification_date), ("Last validation",
                                                   f"{p.last_validation_date or '-'} "
                                                   f"{p.last_validation_type or ''}".strip()),
             ("Session", s["session_id"]), ("Kind / mode", f"{s['kind']} / {s['mode']}"),
             ("Opened by", s["opened_by"]), ("Opened at", s["opened_at"]),
             ("Submitted", f"{s.get('submitted_at') or '-'} by {s.get('submitted_by') or '-'}"),
             ("Facilities in scope", ", ".join(s["facilities"]) or "none (not per facility)")]
    rows = "".join(f"<tr><th>{esc(k)}</th><td>{esc(_fmt(v))}</td></tr>" for k, v in facts)
    reasons = "".join(f"<li>{esc(r)}</li>" for r in o.reasons)
    fac = p.facilities[["facility_id", "name", "kind", "country", "state_province", "city"]]
    _show(f'{_heading("partner")}<table class="facts">{rows}</table>'
          f'<div class="outcome outcome-{esc_attr(o.code)}"><h3>Overall outcome: {esc(o.label)}</h3>'
          f'<ul>{reasons}</ul><p class="note">{esc(OUTCOME_NOTE)}</p></div>'
          f"<h3>Facilities</h3>{table(fac)}",
          f"Outcome: {o.label}; " + "; ".join(o.reasons))


def show_profile(ctx: ReportContext) -> None:
    r = ctx.review
    if r is None:
        _show(f'{_heading("profile")}<p>The catalogue of this session is not available; '
              "no profile review.</p>", "no profile review")
        return
    c = r.counts()
    a = r.annual
    facts = [("Profile years", f"{r.current_year or '-'} (previous {r.previous_year or '-'})"),
             ("Answers", f"{c['answered']} answered, {c['short']} short, {c['blank']} blank"),
             ("Must criteria not addressed", ", ".join(r.must_not_addressed) or "none"),
             ("Annual review", f"{a.status}: anniversary {a.due}; {a.note}"),
             ("Company Officer on file", "yes" if r.has_company_officer else "NO"),
             ("Outreach", f"{r.outreach_attempts} attempts, {r.outreach_unanswered} unanswered"),
             ("Risk", f"{r.risk}: " + "; ".join(r.reasons))]
    rows = "".join(f"<tr><th>{esc(k)}</th><td>{esc(v)}</td></tr>" for k, v in facts)
    gaps = r.criteria[r.criteria["state"] != "answered"][["criterion_id", "must_should", "state",
                                                          "change"]]
    _show(f'{_heading("profile")}<table class="facts">{rows}</table>'
          f"<h3>Profile answers blank or short ({len(gaps)})</h3>{table(gaps.head(40))}",
          "profile review: " + "; ".join(f"{k}: {v}" for k, v in facts))


def show_exams(ctx: ReportContext) -> None:
    from ctpat_audit.ui import print_charts as charts  # vector, drawn straight as SVG

    m, comparison = ctx.metrics, ctx.comparison  # set together by report_context
    if m is None or comparison is None or m.shipments == 0:
        _show(f'{_heading("exams")}<p>No shipments in the 12 months before the report '
              "date.</p>", "no shipments")
        return
    lo, hi = m.interval
    figs = [charts.exam_rate_by_port(comparison, "Exam rate by port and mode"),
            charts.exam_types(m.by_exam_type, "Exams by type"),
            charts.monthly_trend(m.by_month, "Exam rate by month")]
    imgs = "".join(f'<figure class="chart">{svg}</figure>' for svg in figs)
    esc_rows = comparison[comparison["escalate"]]
    flag = (f"<p><b>Ports above the baseline</b> ({esc(comparison.attrs.get('test', ''))}):"
            f" {esc(', '.join(esc_rows['port_code'] + ' ' + esc_rows['mode']))}</p>"
            if len(esc_rows) else "<p>No port and mode is examined significantly more than "
            "the baseline.</p>")
    _show(f'{_heading("exams")}<p>{m.shipments:,} shipments, {m.examined:,} examined: '
          f"exam rate {m.exam_rate:.2%} (95% CI {lo:.2%} to {hi:.2%}), "
          f"{esc(m.window_text())}.</p>{flag}{imgs}",
          f"exam rate {m.exam_rate:.2%} over {m.shipments} shipments")


def show_findings(ctx: ReportContext) -> None:
    f = ctx.findings
    cols = ["finding_id", "kind", "criterion_id", "level", "facility_id", "requirement",
            "validator_notes", "due_date"]
    req = f.findings[f.findings["kind"] == "Requirement"][cols]
    rec = f.findings[f.findings["kind"] == "Recommendation"][cols[:-1]]
    heads = {"finding_id": "ID", "criterion_id": "Criterion", "facility_id": "Facility",
             "validator_notes": "Observed", "due_date": "Due date", "requirement": "Criterion text"}
    bp = f.best_practices[["criterion_id", "text", "recorded_by"]]
    due = f.report_date + dt.timedelta(days=f.due_days)
    _show(f'{_heading("findings")}<h3>Requirements ({len(req)}): action required by '
          f"{esc(due)} ({f.due_days} days after the report date)</h3>"
          f'{table(req, cls="tbl findings", headers=heads)}'
          f"<h3>Recommendations ({len(rec)})</h3>{table(rec, cls='tbl findings', headers=heads)}"
          f"<h3>Best Practices ({len(bp)})</h3>{table(bp)}",
          "\n".join(f"{r.finding_id} {r.kind} {r.criterion_id} due {r.due_date}"
                    for r in f.findings.itertuples()))


def show_checklist(ctx: ReportContext) -> None:
    a = ctx.findings.answers.copy()
    held = ctx.findings.evidence_by_unit()
    a["evidence"] = [" ; ".join(f"{name} sha256:{sha}" for name, sha in held.get((c, f), []))
                     for c, f in zip(a["criterion_id"], a["facility_id"])]
    a["status"] = [STATUS_TEXT.get("" if pd.isna(s) else str(s), str(s)) for s in a["status"]]
    a["method"] = a["method"].fillna("").astype(str).str.replace("_", " ")
    cols = ["criterion_id", "category", "level", "facility_id", "status", "method", "notes",
            "evidence"]
    heads = {"criterion_id": "ID", "category": "Cat.", "level": "Level",
             "facility_id": "Facility", "status": "Status", "method": "Method",
             "notes": "Notes", "evidence": "Evidence (SHA-256)"}

    def rc(row: Any) -> str:
        return {"Does not meet": "bad", "Not answered": "open", "Not verified": "open"}.get(
            row.status, "")

    _show(f'{_heading("checklist")}{table(a[cols], cls="tbl checklist", headers=heads, row_class=rc)}',
          f"{len(a)} units")


def show_comparison(ctx: ReportContext) -> None:
    f = ctx.findings
    if f.comparison is None:
        _show(f'{_heading("comparison")}<p>The partner has no submitted self-assessment to '
              "compare with.</p>", "no self-assessment")
        return
    c = f.comparison
    counts = c["agreement"].value_counts()
    summary = ", ".join(f"{v} {k}" for k, v in counts.items() if k)
    dis = c[c["agreement"].str.startswith("disagree")]

    def rc(row: Any) -> str:
        return "bad" if "overstated" in row.agreement else ""

    _show(f'{_heading("comparison")}<p>Self-assessment {esc(f.self_assessment_id)}: '
          f"{esc(summary)}.</p><h3>Where the partner and the validator differ ({len(dis)})</h3>"
          f"{table(dis, cls='tbl', row_class=rc)}", summary)


def show_appendix(ctx: ReportContext) -> None:
    rows = "".join(f"<tr><th>{esc(k)}</th><td class='mono'>{esc(v)}</td></tr>"
                   for k, v in (ctx.provenance or {}).items())
    _show(f'{_heading("appendix")}<table class="facts">{rows}</table>',
          "\n".join(f"{k}: {v}" for k, v in (ctx.provenance or {}).items()))


def signers_needed(ctx: ReportContext) -> Sequence[tuple[str, str]]:
    s = ctx.session
    if s["kind"] == "self_assessment":
        return [("Submitted by Company Officer", f"a Company Officer of {ctx.partner.account_id}")]
    return [("Validated by (specialist)", str(s["opened_by"])),
            ("Approved by (supervisor)", "a supervisor other than the specialist")]


def show_signatures(ctx: ReportContext) -> None:
    items = "".join(f"<li><b>{esc(m)}</b>: {esc(w)}</li>" for m, w in signers_needed(ctx))
    # The signing step stamps under the LAST word "Signatures" of the PDF: the label line
    # right above the empty stamp space below, so stamps never cover the text.
    _show(f'{_heading("signatures")}<div class="signatures"><p class="unsigned">Not signed '
          f"when rendered. Required signatures:</p><ul>{items}</ul>"
          '<p class="stamp-label">Signatures</p><div class="stamp-space"></div></div>',
          "Not signed when rendered. " + "; ".join(f"{m}: {w}" for m, w in signers_needed(ctx)))
