"""Plain text for the terminal: no pandas markers for missing values, catalogue listings."""
from __future__ import annotations

from collections import Counter

import numpy as np
import pandas as pd

from ctpat_audit.criteria.catalogue import load_catalogue
from ctpat_audit.ui.terminal import (
    format_catalogue,
    format_certificates,
    format_review_portfolio,
    plain_frame,
    plain_table,
)

MARKERS = ("NaN", "<NA>", "NaT", "None", "nan")


def test_missing_values_print_as_empty_cells():
    frame = pd.DataFrame({
        "text": pd.Series(["a", None], dtype="str"),
        "obj": pd.Series([None, "b"], dtype="object"),
        "int": pd.Series([1, None], dtype="Int64"),
        "float": [np.nan, 2.5],
        "when": pd.to_datetime(["2026-11-01 10:00", None]),
        "flag": pd.Series([True, None], dtype="boolean"),
    })
    text = plain_table(frame)
    assert not any(m in text for m in MARKERS), text
    assert "2026-11-01" in text and "10:00" not in text
    assert plain_frame(frame).isna().sum().sum() == 0


def test_long_text_is_clipped_unless_width_is_none():
    frame = pd.DataFrame({"note": ["x" * 80]})
    assert plain_table(frame, width=20).splitlines()[1].strip() == "x" * 17 + "..."
    assert plain_table(frame, width=None).splitlines()[1].strip() == "x" * 80


def test_columns_limit_and_empty():
    frame = pd.DataFrame({"a": [1, 2, 3], "b": ["x", "y", "z"]})
    assert plain_table(frame, ["b"], limit=2).split() == ["b", "x", "y"]
    assert plain_table(frame.iloc[:0], empty="no rows") == "no rows"


def test_catalogue_listing_counts_levels_per_entity_type():
    cat = load_catalogue()
    lines = format_catalogue(cat).splitlines()
    rows = {ln.split()[0]: ln.split()[1:3] for ln in lines if ln.startswith("  ")}
    assert len(rows) == len(cat.criteria)
    for c in cat.criteria:
        counts = Counter(c.must_should.values())
        assert rows[c.id][0] == f"M:{counts['Must']}", c.id
        assert rows[c.id][1] == f"S:{counts['Should']}", c.id
    assert lines[0] == cat.label and lines[1].endswith("; all entity types")
    assert lines[-1] == f"{len(cat.criteria)} criteria - {cat.label}"


def test_catalogue_listing_for_entity_types_shows_the_strictest_level():
    cat = load_catalogue()
    types = ["importer", "sea_carrier"]
    text = format_catalogue(cat, types)
    expected = cat.applicable(types)
    levels = {ln.split()[0]: ln.split()[1] for ln in text.splitlines() if ln.startswith("  ")}
    assert list(levels) == [c.id for c in expected]
    assert levels == {c.id: c.level_for(types) for c in expected}
    musts = sum(c.level_for(types) == "Must" for c in expected)
    assert text.splitlines()[-1].startswith(
        f"{len(expected)} criteria (Must: {musts}, Should: {len(expected) - musts})")


def test_review_portfolio_headline_counts_and_full_reasons():
    frame = pd.DataFrame({
        "account_id": ["0001", "0002"], "legal_name": ["A Co", "B Co"],
        "status": ["certified", "validated"], "review_status": ["overdue", "submitted"],
        "days_overdue": pd.Series([12, None], dtype="Int64"), "blank": [1, 0],
        "must_not_addressed": [2, 0], "risk": ["high", "low"],
        "reasons": ["r" * 150, ""], "extra": ["not shown", "not shown"]})
    text = format_review_portfolio(frame, "2026-11-01", load_catalogue(), limit=1)
    lines = text.splitlines()
    assert lines[0].startswith("security-profile review as of 2026-11-01 - catalogue demo-2019.11")
    assert lines[1] == "overdue: 1, submitted: 1"
    assert len(lines) == 4 and "0002" not in text and "not shown" not in text
    assert "r" * 150 in lines[3]


def test_certificates_listing():
    rows = [{"serial": "ab12", "name": "Sam Spec", "email": "sam@cbp.example",
             "role": "specialist", "account_id": None, "not_after": "2028-01-01T00:00:00",
             "revoked": False, "person_id": "P-AAAAAAAAAA"},
            {"serial": "cd34", "name": "Ana Officer", "email": "ana@example.com",
             "role": "company_officer", "account_id": "0012345",
             "not_after": "2028-01-01T00:00:00", "revoked": True, "person_id": None},
            {"serial": "ef56", "name": "Sam Spec", "email": "sam+sup@cbp.example",
             "role": "supervisor", "account_id": None, "not_after": "2028-01-01T00:00:00",
             "revoked": False, "person_id": "P-AAAAAAAAAA"}]
    lines = format_certificates(rows).splitlines()
    assert lines[0].startswith("valid   ab12") and "partner" not in lines[0]
    assert "P-AAAAAAAAAA" in lines[0] and "P-AAAAAAAAAA" in lines[2]
    assert lines[1].startswith("REVOKED cd34") and lines[1].endswith(
        "Ana Officer <ana@example.com> partner 0012345 until 2028-01-01")
    assert "(no person id)" in lines[1]
    assert lines[3] == "3 certificate(s), 1 person(s)"
