"""Exam discrepancies -> MSC categories and criteria, traced to the entries that found them."""
from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pytest
import yaml

from ctpat_audit.analysis.exam_flags import (
    DEFAULT_MAP,
    flagged_criteria,
    load_findings_map,
    priority_order,
)
from ctpat_audit.core import vocabulary as v
from ctpat_audit.core.errors import IntakeError

AS_OF = dt.date(2025, 3, 1)  # window 2024-03-01 .. 2025-02-28


def shipments() -> pd.DataFrame:
    recs = [
        ("E01", "2024-02-29", True, "seal_discrepancy"),  # day before the window
        ("E02", "2024-03-01", True, "seal_discrepancy"),  # first day of the window
        ("E03", "2024-10-10", True, "seal_discrepancy"),
        ("E04", "2024-07-15", True, "narcotics"),
        ("E05", "2024-07-16", True, "cleared"),
        ("E06", "2024-07-17", False, None),
        ("E07", "2025-03-01", True, "agricultural_contamination"),  # the as-of day: excluded
    ]
    f = pd.DataFrame(recs, columns=["entry_id", "entry_date", "examined", "exam_result"])
    f["entry_date"] = pd.to_datetime(f["entry_date"])
    f["exam_result"] = f["exam_result"].astype("str")
    f["account_id"] = "A1"
    return f


def test_shipped_map_uses_only_confirmed_criteria_and_known_codes():
    m = load_findings_map()
    doc = yaml.safe_load((DEFAULT_MAP.parent / "confirmed_criteria.yaml").read_text())
    confirmed = {str(c["id"]) for c in doc["criteria"]}
    ids = set(m["criterion_id"].dropna())
    assert ids and ids <= confirmed
    # every discrepancy kind of the vocabulary (all but "cleared") is mapped
    assert set(m["discrepancy"]) == set(v.EXAM_RESULTS) - {"cleared"}
    assert m["rationale"].str.len().gt(20).all()
    seal = m[m["discrepancy"] == "seal_discrepancy"]
    assert set(seal["category"]) == {6} and set(seal["criterion_id"].dropna()) == {"6.1", "6.2"}
    agri = m[m["discrepancy"] == "agricultural_contamination"]
    assert set(agri["category"]) == {8} and set(agri["criterion_id"].dropna()) == {"8.1"}
    assert set(m.loc[m["discrepancy"] == "narcotics", "category"]) == {5, 7, 10, 11}


def test_flagged_criteria_by_hand():
    f = flagged_criteria(shipments(), load_findings_map(), AS_OF)
    # in the window: seal x2 (E02, E03), narcotics x1 (E04); E01 before, E07 on as_of: out
    # seal -> category 6, 6.1, 6.2 (3 rows, count 2); narcotics -> 5, 7, 7.37, 10, 11 (5 rows)
    assert len(f) == 8
    keys = list(zip(f["category"], f["criterion_id"].fillna(""), f["discrepancy"]))
    assert keys == [(6, "", "seal_discrepancy"), (6, "6.1", "seal_discrepancy"),
                    (6, "6.2", "seal_discrepancy"), (5, "", "narcotics"), (7, "", "narcotics"),
                    (7, "7.37", "narcotics"), (10, "", "narcotics"), (11, "", "narcotics")]
    seal = f.iloc[1]
    assert seal["count"] == 2 and seal["latest_date"] == pd.Timestamp("2024-10-10")
    assert seal["entry_ids"] == "E03, E02"  # newest first
    assert seal["level"] == "criterion" and seal["category_name"] == "Seal Security"
    assert f.iloc[0]["level"] == "category"
    assert f.iloc[3]["discrepancy_label"] == "Narcotics"
    cats, crits = priority_order(f)
    assert cats == [6, 5, 7, 10, 11] and crits == ["6.1", "6.2", "7.37"]


def test_window_options():
    s = shipments()
    # all history before as_of: E01 joins the seal rows
    f = flagged_criteria(s, as_of=AS_OF, months=None)
    assert f.iloc[0]["count"] == 3 and f.iloc[0]["entry_ids"] == "E03, E02, E01"
    # no as_of: every row, including E07's agricultural contamination -> category 8 and 8.1
    f = flagged_criteria(s)
    assert {(8, "8.1")} <= set(zip(f["category"], f["criterion_id"]))
    # nothing found -> empty frame with the documented columns
    empty = flagged_criteria(s[s["exam_result"] == "cleared"], as_of=AS_OF)
    assert empty.empty and "entry_ids" in empty.columns


def test_user_map_replaces_shipped_and_is_checked(tmp_path: Path):
    p = tmp_path / "map.csv"
    p.write_text("discrepancy,category,criterion_id,rationale\n"
                 "narcotics,12,,training on recognising internal conspiracies\n", encoding="utf-8")
    f = flagged_criteria(shipments(), load_findings_map(p), AS_OF)
    assert f[["category", "discrepancy", "count"]].values.tolist() == [[12, "narcotics", 1]]
    p.write_text("discrepancy,category,criterion_id,rationale\n"
                 "smuggling,6,6.1,x\n"
                 "seal_discrepancy,13,,x\n"
                 "seal_discrepancy,6,7.37,x\n"
                 "seal_discrepancy,6,six,\n", encoding="utf-8")
    with pytest.raises(IntakeError) as err:
        load_findings_map(p)
    got = {(pr.row, pr.column, pr.code) for pr in err.value.problems}
    assert got == {(2, "discrepancy", "bad_choice"), (3, "category", "bad_category"),
                   (4, "criterion_id", "category_mismatch"), (5, "criterion_id", "bad_criterion_id"),
                   (5, "rationale", "missing_value")}
