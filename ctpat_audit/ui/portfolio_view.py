"""The portfolio for people: a terminal summary and a formatted workbook.

Kept apart from :mod:`portfolio` (the figures) so the figures stay pure and testable, and the
wording and styling can change without touching them.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from ctpat_audit.analysis.portfolio import Portfolio
from ctpat_audit.ui.terminal import plain_frame

#: Columns shown in the terminal, per table (the workbook has every column).
TERMINAL_COLUMNS = {
    "backlog": ["account_id", "legal_name", "status", "basis", "due_date", "days_overdue",
                "last_validation_type", "sites"],
    "regions": ["region", "backlog", "overdue", "due_soon", "scheduled", "plan"],
    "candidates": ["account_id", "legal_name", "risk", "why", "days_overdue",
                   "must_not_addressed", "company_officer", "outreach_attempts",
                   "outreach_unanswered", "last_outreach"],
    "rates": ["port_code", "port_name", "mode", "partners", "shipments", "examined",
              "exam_rate (95% CI)", "baseline", "above_baseline"],
}


def _pct(x: float, digits: int = 1) -> str:
    return "-" if pd.isna(x) else f"{100 * x:.{digits}f}%"


def _rate_text(rate: float, lo: float, hi: float) -> str:
    if pd.isna(rate):
        return "-"
    return f"{100 * rate:.1f}% ({100 * lo:.1f}-{100 * hi:.1f})"


def _section(title: str, frame: pd.DataFrame, total: int, limit: int) -> list[str]:
    shown = min(limit, len(frame))
    head = f"{title} ({'none' if total == 0 else f'top {shown} of {total}' if total > shown else total})"
    lines = ["", head, "-" * len(head)]
    if len(frame):
        with pd.option_context("display.width", 250, "display.max_columns", 50,
                               "display.max_colwidth", 60):
            lines.append(plain_frame(frame.head(limit)).to_string(index=False))
    return lines


def format_portfolio(p: Portfolio, limit: int = 10) -> str:
    """Headline figures and the top ``limit`` rows of each table, as plain text."""
    s = p.summary
    st = s["partners_by_status"]
    lo, hi = s["exam_rate_ci"]
    lines = [f"CTPAT portfolio as of {p.as_of}"]
    if p.demonstration:
        lines.append(f"NOTE: criteria catalogue {p.catalogue_version} is a DEMONSTRATION, not "
                     "CBP's official criteria; profile completeness below is illustrative.")
    else:
        lines.append(f"criteria catalogue {s['catalogue']}")
    lines += [
        f"partners: {s['partners']:,} (" + ", ".join(f"{k} {v:,}" for k, v in st.items()) + ")",
        "",
        "Validations (first within 1 year of certification, then at least every 4 years)",
        f"  scheduled (certified or validated)   {s['validations_scheduled']:>7,}",
        f"  overdue                              {s['validations_overdue']:>7,}"
        f"   ({s['first_validations_overdue']:,} first validations, "
        f"{s['revalidations_overdue']:,} revalidations)",
        f"  due in the next {s['due_within_days']} days              {s['validations_due_soon']:>7,}",
        f"  backlog (overdue + due soon)         {s['backlog']:>7,}"
        f"   ({s['backlog_with_no_site_visit_sites']:,} with a site CBP cannot visit, "
        f"{s['backlog_virtual_only']:,} of them virtual only)",
        f"  last validation in person / virtual  {_pct(s['in_person_share']):>7} / "
        f"{_pct(s['virtual_share'])}   (of {s['validations_with_type']:,} partners)",
        "Annual security-profile reviews",
        f"  overdue                              {s['reviews_overdue']:>7,}",
        f"  suspension candidates                {s['suspension_candidates']:>7,}"
        f"   (high risk {s['suspension_candidates_high']:,}, medium "
        f"{s['suspension_candidates_medium']:,})",
        f"Exams over the {s['months']} months before {p.as_of}",
        f"  shipments {s['shipments']:,}, examined {s['examined']:,}, exam rate "
        f"{_rate_text(s['exam_rate'], lo, hi)} (Wilson 95% CI)",
        f"  ports examined significantly more than the baseline: {s['ports_above_baseline']} "
        f"of {s['ports']}",
    ]
    backlog = p.backlog
    lines += _section("Validation backlog, most overdue first", backlog[TERMINAL_COLUMNS["backlog"]],
                      len(backlog), limit)
    cities = p.backlog_by_region[p.backlog_by_region["level"] == "city"]
    lines += _section("Backlog by city (a partner counts once per city with a facility)",
                      cities[TERMINAL_COLUMNS["regions"]], len(cities), limit + 5)
    countries = p.backlog_by_region[p.backlog_by_region["level"] == "country"]
    lines += _section("Backlog by country", countries[TERMINAL_COLUMNS["regions"]],
                      len(countries), limit)
    m = p.validation_modes.assign(in_person_share=p.validation_modes["in_person_share"].map(_pct),
                                  virtual_share=p.validation_modes["virtual_share"].map(_pct))
    lines += _section("Last validation: in person vs virtual, by year", m, len(m), 20)
    c = p.suspension_candidates
    lines += _section("Suspension candidates: annual review overdue or profile incomplete",
                      c[TERMINAL_COLUMNS["candidates"]] if len(c) else c, len(c), limit)
    r = p.exam_rates.copy()
    r["exam_rate (95% CI)"] = [_rate_text(a, b, d) for a, b, d in
                               zip(r["exam_rate"], r["ci_low"], r["ci_high"])]
    r["baseline"] = r["baseline_rate"].map(_pct)
    lines += _section("Exam rates by port across partners (largest ports first)",
                      r[TERMINAL_COLUMNS["rates"]], len(r), limit)
    if "test" in p.exam_rates.attrs:
        lines.append(f"test: {p.exam_rates.attrs['test']}")
    lines.append("baseline: non-CTPAT exam rates from the baseline table; rows marked SAMPLE "
                 "in its source column are demonstration values, not CBP data.")
    return "\n".join(lines)


# --------------------------------------------------------------------------- workbook
#: Per sheet: (column that marks a row, fill colour) for conditional row fills.
_ROW_FILLS = {
    "Validations due": [("overdue", "F8CBAD"), ("due_soon", "FFE699")],
    "Backlog by region": [("no_site_visits", "FFE699")],
    "Suspension candidates": [("review_status", "F8CBAD")],
    "Exam rates by port": [("above_baseline", "F8CBAD")],
}
_PERCENT = ("exam_rate", "ci_low", "ci_high", "baseline_rate", "in_person_share", "virtual_share")
_WIDE = {"legal_name": 34, "sites": 60, "no_site_visit_sites": 40, "reasons": 80, "plan": 50,
         "baseline_source": 60, "region": 40, "label": 44, "value": 70}


def write_portfolio_xlsx(p: Portfolio, path: str | Path) -> Path:
    """One sheet per table plus a Summary: header styles, frozen panes, filters, widths,
    percentages, and conditional fills (overdue rows red, due soon / no site visits amber,
    ports above the baseline red)."""
    from openpyxl import Workbook
    from openpyxl.formatting.rule import FormulaRule
    from openpyxl.styles import PatternFill
    from openpyxl.utils import get_column_letter

    from ctpat_audit.core import xlsx as excel

    label = (f"catalogue {p.catalogue_version}: {p.catalogue_label}" if p.demonstration
             else f"catalogue {p.catalogue_version}")
    wb = Workbook()
    ws = excel.first_sheet(wb)
    ws.title = "Summary"
    excel.title_row(ws, f"CTPAT portfolio as of {p.as_of} - {label}")
    rows = []
    for k, v in p.summary.items():
        if isinstance(v, dict):
            rows += [(f"{k}: {kk}", vv) for kk, vv in v.items()]
        elif isinstance(v, tuple):
            rows.append((k, ", ".join(f"{x:.4f}" for x in v)))
        else:
            rows.append((k, v))
    excel.write_table(ws, pd.DataFrame(rows, columns=["item", "value"]), start_row=2,
                      widths={"item": 36, "value": 70})
    for name, frame in p.tables().items():
        sheet = wb.create_sheet(name)
        excel.title_row(sheet, f"{name} - as of {p.as_of} - {label}")
        excel.write_table(sheet, frame, start_row=2,
                          widths={c: w for c, w in _WIDE.items() if c in frame.columns})
        last_row = 2 + max(1, len(frame))
        cols = list(frame.columns)
        for c in _PERCENT:
            if c in cols:
                j = cols.index(c) + 1
                for i in range(3, last_row + 1):
                    sheet.cell(row=i, column=j).number_format = "0.0%"
        ref = f"A3:{get_column_letter(len(cols))}{last_row}"
        for col, colour in _ROW_FILLS.get(name, []):
            if col not in cols:
                continue
            letter = get_column_letter(cols.index(col) + 1)
            test = f'${letter}3="overdue"' if col == "review_status" else f"${letter}3=TRUE"
            sheet.conditional_formatting.add(
                ref, FormulaRule(formula=[test], stopIfTrue=True,
                                 fill=PatternFill("solid", fgColor=colour, bgColor=colour)))
        if name == "Exam rates by port" and "test" in frame.attrs:
            excel.set_cell(sheet, last_row + 2, 1, "test: " + frame.attrs["test"])
    return excel.save(wb, path)


# --------------------------------------------------------------------------- notebook helpers
def headline(p: Portfolio) -> pd.DataFrame:
    """The headline figures as a two-column table (figure, value) in plain words."""
    s = p.summary
    lo, hi = s["exam_rate_ci"]
    st = s["partners_by_status"]
    rows = [
        ("Partners", f"{s['partners']:,} (" + ", ".join(f"{k} {v:,}" for k, v in st.items()) + ")"),
        ("Validations scheduled (certified or validated partners)", f"{s['validations_scheduled']:,}"),
        ("Validations overdue", f"{s['validations_overdue']:,} ({s['first_validations_overdue']:,} "
                                f"first validations, {s['revalidations_overdue']:,} revalidations)"),
        (f"Validations due in the next {s['due_within_days']} days", f"{s['validations_due_soon']:,}"),
        ("Backlog (overdue + due soon)", f"{s['backlog']:,}"),
        ("Backlog partners with a site CBP cannot visit",
         f"{s['backlog_with_no_site_visit_sites']:,} ({s['backlog_virtual_only']:,} with no other site)"),
        ("Last validation in person / virtual",
         f"{_pct(s['in_person_share'])} / {_pct(s['virtual_share'])} of "
         f"{s['validations_with_type']:,} partners"),
        ("Annual profile reviews overdue", f"{s['reviews_overdue']:,}"),
        ("Suspension candidates", f"{s['suspension_candidates']:,} (high risk "
                                  f"{s['suspension_candidates_high']:,}, medium "
                                  f"{s['suspension_candidates_medium']:,})"),
        (f"Shipments, last {s['months']} months", f"{s['shipments']:,}"),
        ("Exams / exam rate (Wilson 95% CI)",
         f"{s['examined']:,} / {_rate_text(s['exam_rate'], lo, hi)}"),
        ("Ports examined significantly more than the baseline",
         f"{s['ports_above_baseline']} of {s['ports']}"),
        ("Criteria catalogue", s["catalogue"]),
    ]
    return pd.DataFrame(rows, columns=["figure", "value"])


def readable(frame: pd.DataFrame, columns: list[str] | None = None, rows: int | None = None) -> pd.DataFrame:
    """A table for reading: chosen columns, rates as percentages, dates without times."""
    t = frame[columns] if columns else frame
    t = t.head(rows) if rows else t
    t = t.copy()
    for c in t.columns:
        if c in _PERCENT:
            t[c] = t[c].map(_pct)
        elif pd.api.types.is_datetime64_any_dtype(t[c]):
            t[c] = t[c].dt.strftime("%Y-%m-%d").fillna("")
    return t.reset_index(drop=True)


def backlog_row_style(row: Any) -> str:
    """A backlog row's colour: overdue red, due soon amber
    (the ``row_style`` of :func:`~ctpat_audit.ui.tables.plain_table`)."""
    overdue, until = row.get("days_overdue"), row.get("days_until_due")
    if isinstance(overdue, int | float) and overdue == overdue and overdue > 0:
        return "background:#fde2e2"
    if isinstance(until, int | float) and until == until and until >= 0:
        return "background:#fff3cd"
    return ""


def backlog_chart(p: Portfolio, level: str = "city", top: int = 25):
    """charts.backlog_by_region for one level; cities CBP cannot visit are marked."""
    from ctpat_audit.ui import charts

    t = p.backlog_by_region[p.backlog_by_region["level"] == level]
    return charts.backlog_by_region(t, region="label", count="backlog", top=top,
                                    title=f"Validation backlog by {level} on {p.as_of} "
                                          f"(overdue or due within {p.due_within_days} days)")


def exam_rate_chart(p: Portfolio, top: int = 15):
    """charts.exam_rate_by_port for the ``top`` ports by shipments, baseline beside each."""
    from ctpat_audit.ui import charts

    t = p.exam_rates.head(top).rename(columns={"above_baseline": "escalate"})
    return charts.exam_rate_by_port(
        t, title=f"Exam rate by port across partners, {p.summary['months']} months to {p.as_of}")
