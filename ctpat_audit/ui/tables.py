"""Readable tables for the notebooks: no index column, no NaN or <NA>, no Python dicts.

:func:`plain_table` shows any frame that way, every row reachable in a scrolling box.
:class:`ProfileReviewView` shows a security-profile review: a filter (blank, short,
unchanged, changed answers, Must criteria), each answer's state highlighted and the word diff
of changed answers ([-removed-] struck through in red, {+added+} in green).
"""
from __future__ import annotations

import html
import re
from collections.abc import Callable, Mapping
from typing import Any

import ipywidgets as widgets
import pandas as pd

__all__ = ["plain_table", "cell_text", "ProfileReviewView", "diff_html", "exam_flag_table",
           "EXAM_FLAG_LABELS"]

_BOX = "max-height:{h};overflow:auto;border:1px solid #ddd"
# JupyterLab right-aligns table cells; text reads better from the left
_CSS = ("<style>.jp-RenderedHTMLCommon table.ctpat-table td, .jp-RenderedHTMLCommon "
        "table.ctpat-table th, table.ctpat-table td, table.ctpat-table th"
        "{text-align:left;vertical-align:top}</style>")


def cell_text(value: Any) -> str:
    """A cell as plain words: missing values are empty, dicts read "key: value, ...",
    lists are joined with commas, whole floats lose their ".0"."""
    if value is None or value is pd.NA or value is pd.NaT or (isinstance(value, float)
                                                              and value != value):
        return ""
    if isinstance(value, Mapping):
        return ", ".join(f"{k}: {cell_text(v)}" for k, v in value.items())
    if isinstance(value, list | tuple | set):
        return ", ".join(cell_text(v) for v in value)
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _rows_html(frame: pd.DataFrame, labels: Mapping[str, str],
               row_style: Callable[[Mapping[str, Any]], str] | None,
               cell_html: Mapping[str, Callable[[Any], str]]) -> str:
    cols = [c for c in labels if c in frame.columns]
    head = "".join(f"<th style='text-align:left;position:sticky;top:0;background:#f5f5f5'>"
                   f"{html.escape(labels[c])}</th>" for c in cols)
    body = []
    rec: dict[str, Any]
    for rec in frame.to_dict("records"):  # type: ignore[assignment]  # pandas-stubs: Hashable keys; these frames have str columns
        style = row_style(rec) if row_style else ""
        cells = "".join(f"<td>{cell_html[c](rec[c]) if c in cell_html else html.escape(cell_text(rec[c]))}"
                        "</td>" for c in cols)
        body.append(f"<tr style='vertical-align:top;{style}'>{cells}</tr>")
    return (f"{_CSS}<table class='ctpat-table' style='border-collapse:collapse;width:100%'>"
            f"<tr>{head}</tr>" + "".join(body) + "</table>")


def plain_table(frame: pd.DataFrame, labels: Mapping[str, str] | None = None, *,
                row_style: Callable[[Mapping[str, Any]], str] | None = None,
                cell_html: Mapping[str, Callable[[Any], str]] | None = None,
                height: str = "360px") -> Any:
    """An HTML table of ``frame`` without its index (``labels``: column -> heading, in
    order; default every column, "_" read as a space), every row in a scrolling box.
    ``row_style``: a row's CSS; ``cell_html``: per column, the HTML of a cell (a link...)."""
    from IPython.display import HTML

    labels = labels or {c: str(c).replace("_", " ").capitalize() for c in frame.columns}
    if frame.empty:
        return HTML("<i>(none)</i>")
    return HTML(f"<div style='{_BOX.format(h=height)}'>"
                f"{_rows_html(frame, labels, row_style, cell_html or {})}</div>")


#: The headings of :func:`exam_flag_table`.
EXAM_FLAG_LABELS = {"discrepancy": "Exam found", "exams": "Exams", "latest": "Latest",
                    "category": "Category to look at", "criteria": "Criteria first",
                    "why": "Why", "entries": "Entries"}


def exam_flag_table(flags: pd.DataFrame) -> pd.DataFrame:
    """Exam flags (:func:`~ctpat_audit.analysis.exam_flags.flagged_criteria`, one row per
    discrepancy, category and criterion) merged for reading: one row per discrepancy and
    category, its criteria listed together, in the discrepancy's words (never its code), the
    category by number and name, the category's reason (else the criteria's), dates without
    times; most exams first, as ``flags`` is sorted."""
    rows: dict[tuple[str, int], dict[str, Any]] = {}
    r: Any
    for r in flags.itertuples(index=False):
        row = rows.setdefault((str(r.discrepancy), int(r.category)), {
            "discrepancy": str(r.discrepancy_label), "exams": int(r.count),
            "latest": str(r.latest_date)[:10],
            "category": f"{int(r.category)}. {r.category_name}", "criteria": [],
            "why": "", "criteria_why": [], "entries": str(r.entry_ids)})
        cid = r.criterion_id if isinstance(r.criterion_id, str) and r.criterion_id else ""
        if cid:
            row["criteria"].append(cid)
            row["criteria_why"].append(str(r.rationale))
        elif not row["why"]:
            row["why"] = str(r.rationale)
    out = [{**row, "criteria": ", ".join(row["criteria"]) or "(the whole category)",
            "why": row["why"] or " ".join(row["criteria_why"])} for row in rows.values()]
    return pd.DataFrame(out, columns=list(EXAM_FLAG_LABELS))


_DEL = re.compile(r"\[-(.*?)-\]", re.S)
_ADD = re.compile(r"\{\+(.*?)\+\}", re.S)


def diff_html(diff: Any) -> str:
    """A word diff ("[-old-] {+new+}") with removals struck through and additions marked."""
    text = html.escape(cell_text(diff))
    text = _DEL.sub(r"<del style='color:#b00020'>\1</del>", text)
    return _ADD.sub(r"<ins style='color:#2e7d32'>\1</ins>", text)


_STATE_STYLE = {"blank": "background:#fde2e2", "short": "background:#fff3cd"}
_FILTERS = (("All criteria", "all"), ("Blank answers", "blank"), ("Short answers", "short"),
            ("Unchanged since last year", "unchanged"), ("Changed since last year", "changed"),
            ("Must criteria", "must"))


class ProfileReviewView(widgets.VBox):
    """A security-profile review (:func:`~ctpat_audit.analysis.review.review_partner`) as a
    filterable table: blank answers red, short amber, unchanged in grey italics, word diffs."""

    def __init__(self, review: Any, *, previous: bool = True) -> None:
        self.review = review
        frame = review.criteria
        counts = review.counts()
        changes = frame["change"].value_counts().to_dict()
        summary = (f"Profile {review.current_year or '-'} against {review.previous_year or '-'}: "
                   f"{counts['answered']} answered, {counts['short']} short, "
                   f"{counts['blank']} blank; {changes.get('unchanged', 0)} unchanged since "
                   f"last year. Suspension risk: {review.risk}.")
        self.summary = widgets.HTML(f"<div>{html.escape(summary)}</div>")
        self.filter = widgets.Dropdown(options=_FILTERS, value="all", description="Show")
        self.table = widgets.HTML()
        self.table.add_class("ctpat-profile-review")
        self.labels = {"criterion_id": "Criterion", "must_should": "Level", "state": "Answer",
                       "change": "Since last year", "response": "This year"}
        if previous:
            self.labels |= {"diff": "Word diff", "previous_response": "Last year"}
        self.filter.observe(lambda _c: self.refresh(), names="value")
        super().__init__([self.summary, self.filter, self.table])
        self.refresh()

    def rows(self) -> pd.DataFrame:
        """The rows the filter shows."""
        f, choice = self.review.criteria, self.filter.value
        if choice in ("blank", "short"):
            return f[f["state"] == choice]
        if choice in ("unchanged", "changed"):
            return f[f["change"] == choice]
        if choice == "must":
            return f[f["must_should"] == "Must"]
        return f

    def refresh(self) -> None:
        rows = self.rows()

        def style(rec: Mapping[str, Any]) -> str:
            base = _STATE_STYLE.get(str(rec["state"]), "")
            return base + (";color:#666;font-style:italic" if rec["change"] == "unchanged" else "")

        self.table.value = (f"<div>{len(rows)} of {len(self.review.criteria)} criteria</div>"
                            f"<div style='{_BOX.format(h='420px')}'>"
                            + _rows_html(rows, self.labels, style, {"diff": diff_html})
                            + "</div>")
