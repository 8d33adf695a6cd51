"""Readable notebook tables: no index, no NaN or <NA>, no dicts; the profile review filters."""
from __future__ import annotations

import datetime as dt

import pandas as pd

from ctpat_audit.ui.tables import ProfileReviewView, diff_html, plain_table


def test_plain_table_has_no_index_no_missing_markers_and_no_dicts():
    frame = pd.DataFrame({"port": ["Laredo", None], "rate": [0.25, float("nan")],
                          "exams": pd.array([3, pd.NA], dtype="Int64"),
                          "counts": [{"answered": 114, "blank": 2}, {}]}, index=[7, 8])
    out = plain_table(frame).data
    for raw in ("NaN", "nan", "&lt;NA&gt;", "<NA>", "None", "{'", "&#x27;answered", ">7<", ">8<"):
        assert raw not in out
    assert "answered: 114, blank: 2" in out and "Laredo" in out and ">3<" in out
    assert "<th style" in out and ">Port<" in out


def test_word_diff_is_marked():
    out = diff_html("Seals are [-checked-] {+verified and logged+} at the gate")
    assert "<del" in out and "checked</del>" in out and "verified and logged</ins>" in out


def test_profile_review_view_filters_and_highlights(sample_workspace):
    from ctpat_audit.analysis.review import review_partner
    from ctpat_audit.criteria.catalogue import load_catalogue

    ws = sample_workspace
    cat = load_catalogue(workspace=ws.path)
    reviews = [review_partner(ws.partner(str(a)), cat, dt.date(2026, 11, 1))
               for a in ws.partners()["account_id"][:10]]
    review = next(r for r in reviews if (r.criteria["state"] == "blank").any()
                  and (r.criteria["change"] == "changed").any())
    view = ProfileReviewView(review)
    n = len(review.criteria)
    assert f"{n} of {n} criteria" in view.table.value  # every row, not the first ten
    assert view.table.value.count("<tr") == n + 1
    assert "background:#fde2e2" in view.table.value  # blank answers highlighted
    view.filter.value = "blank"
    blank = int((review.criteria["state"] == "blank").sum())
    assert f"{blank} of {n} criteria" in view.table.value
    view.filter.value = "changed"
    assert "<del" in view.table.value or "<ins" in view.table.value
    assert "NaN" not in view.table.value and "&lt;NA&gt;" not in view.table.value


def test_a_suspended_partner_is_announced_and_a_certified_one_is_not(sample_workspace):
    from types import SimpleNamespace

    from ctpat_audit.server.lab import partner_notice

    assert partner_notice(SimpleNamespace(status="certified", account_id="0012345")).data == ""
    out = partner_notice(SimpleNamespace(status="suspended", account_id="0012345")).data
    assert "Partner 0012345 is suspended" in out


def test_backlog_rows_are_coloured_by_due_date():
    from ctpat_audit.ui.portfolio_view import backlog_row_style

    frame = pd.DataFrame({"account_id": ["1", "2", "3"], "days_overdue": [12, float("nan"), 0],
                          "days_until_due": [float("nan"), 20, float("nan")]})
    out = plain_table(frame, row_style=backlog_row_style).data
    rows = out.split("<tr")[2:]
    assert "#fde2e2" in rows[0] and "#fff3cd" in rows[1]
    assert "#fde2e2" not in rows[2] and "#fff3cd" not in rows[2]


def test_exam_flags_are_merged_per_discrepancy_and_category_in_words():
    from ctpat_audit.analysis.exam_flags import flagged_criteria
    from ctpat_audit.core import vocabulary as v
    from ctpat_audit.ui.tables import EXAM_FLAG_LABELS, exam_flag_table

    day = pd.Timestamp("2026-06-01")
    shipments = pd.DataFrame({
        "entry_id": ["E1", "E2", "E3"], "entry_date": [day, day + pd.Timedelta(days=3), day],
        "examined": [True, True, True],
        "exam_result": ["seal_discrepancy", "seal_discrepancy", "cleared"]})
    flags = flagged_criteria(shipments, as_of=dt.date(2026, 11, 1))
    table = exam_flag_table(flags)
    # one row per category the discrepancy points at, its criteria together
    assert len(table) == flags["category"].nunique() < len(flags)
    assert list(table.columns) == list(EXAM_FLAG_LABELS)
    assert set(table["discrepancy"]) == {v.EXAM_RESULTS["seal_discrepancy"]}
    assert set(table["exams"]) == {2} and set(table["latest"]) == {"2026-06-04"}
    for row in table.itertuples(index=False):
        mine = flags[flags["category"] == int(row.category.split(".")[0])]
        ids = [c for c in mine["criterion_id"] if isinstance(c, str) and c]
        assert row.criteria == (", ".join(ids) or "(the whole category)")
        assert row.why and row.entries == "E2, E1"
    out = plain_table(table, EXAM_FLAG_LABELS).data
    assert "seal_discrepancy" not in out and "NaN" not in out and "Exam found" in out
