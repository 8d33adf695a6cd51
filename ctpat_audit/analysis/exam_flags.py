"""Exam findings point at criteria: which MSC categories and criteria a discrepancy implicates.

When CBP's exam of a partner's shipment finds something (a seal discrepancy, pests, narcotics,
a hidden compartment, misdescribed goods, a tampered conveyance), the criteria most likely at
fault should be looked at first in the next validation. The mapping is DATA
(``data/exam_findings_map.csv``), one row per (discrepancy, category, criterion) with the
rationale in words, and a user can replace it with their own file (:func:`load_findings_map`).

File format (CSV or xlsx): ``discrepancy`` (an exam result code other than ``cleared``, see
vocabulary.EXAM_RESULTS), ``category`` (1-12), ``criterion_id`` (empty = the whole category,
or an id like 6.1 whose number before the dot is the category), ``rationale`` (why).

The shipped file names only criterion ids confirmed in a public source (those in
``data/confirmed_criteria.yaml``); where no criterion was confirmed it maps to the category.
"""
from __future__ import annotations

import datetime as dt
import functools
import re
from pathlib import Path

import numpy as np
import pandas as pd

from ctpat_audit.analysis.exam_metrics import (
    DATA_DIR,
    check_columns,
    entry_dates,
    exam_window,
    read_data_table,
)
from ctpat_audit.core import vocabulary as v
from ctpat_audit.core.errors import IntakeError, Problem

DEFAULT_MAP = DATA_DIR / "exam_findings_map.csv"
CONFIRMED_CRITERIA = DATA_DIR / "confirmed_criteria.yaml"
MAP_COLUMNS = ("discrepancy", "category", "criterion_id", "rationale")
DISCREPANCIES = tuple(r for r in v.EXAM_RESULTS if r != "cleared")
_ID = re.compile(r"^(\d{1,2})\.(\d{1,3})$")
_CATEGORY_NAMES = {c.number: c.name for c in v.CATEGORIES}

FLAGGED_COLUMNS = ["category", "category_name", "criterion_id", "level", "discrepancy",
                   "discrepancy_label", "count", "latest_date", "entry_ids", "rationale"]


@functools.cache
def confirmed_criterion_ids() -> frozenset[str]:
    """Criterion ids confirmed from public sources (data/confirmed_criteria.yaml)."""
    import yaml

    doc = yaml.safe_load(CONFIRMED_CRITERIA.read_text(encoding="utf-8"))
    return frozenset(str(c["id"]) for c in doc.get("criteria", []))


def load_findings_map(path: str | Path | None = None) -> pd.DataFrame:
    """The discrepancy -> category/criterion mapping (default: the shipped file).

    Returns columns discrepancy, category (int), category_name, criterion_id (text; missing
    for a whole-category row), level ("category" or "criterion"), rationale. Every bad cell
    is reported at once (IntakeError naming file, row, column).
    """
    path = Path(path) if path is not None else DEFAULT_MAP
    frame, first = read_data_table(path, MAP_COLUMNS, "exam findings map")
    problems: list[Problem] = []
    cats: list[int] = []
    ids: list[str | None] = []
    for i, row in enumerate(frame.itertuples(index=False)):
        line = first + i

        def bad(col: str, value: object, code: str, expected: str, line: int = line) -> None:
            problems.append(Problem(path.name, None, line, col, str(value), code, expected))

        if row.discrepancy not in DISCREPANCIES:
            bad("discrepancy", row.discrepancy, "bad_choice", "one of: " + ", ".join(DISCREPANCIES))
        category = str(row.category)
        cat = int(category) if category.isdigit() else -1
        if cat not in _CATEGORY_NAMES:
            bad("category", row.category, "bad_category", "a category number 1 to 12")
        cid = str(row.criterion_id) or None
        if cid is not None:
            m = _ID.match(cid)
            if m is None:
                bad("criterion_id", cid, "bad_criterion_id",
                    "empty (whole category) or an id like 6.1")
            elif int(m.group(1)) != cat:
                bad("criterion_id", cid, "category_mismatch",
                    f"an id in category {row.category} (the number before the dot)")
        if not str(row.rationale).strip():
            bad("rationale", "", "missing_value", "why this discrepancy points at this criterion")
        cats.append(cat)
        ids.append(cid)
    if problems:
        raise IntakeError(problems)
    out = pd.DataFrame({
        "discrepancy": frame["discrepancy"].astype("str"),
        "category": np.asarray(cats, dtype="int64"),
        "category_name": [_CATEGORY_NAMES[c] for c in cats],
        "criterion_id": pd.array(ids, dtype="str"),
        "level": ["criterion" if c else "category" for c in ids],
        "rationale": frame["rationale"].astype("str"),
    })
    return out


def flagged_criteria(shipments: pd.DataFrame, mapping: pd.DataFrame | None = None,
                     as_of: dt.date | None = None, months: int | None = 12) -> pd.DataFrame:
    """Categories and criteria implicated by the partner's exam findings, most pressing first.

    One row per (category, criterion, discrepancy) with the number of examined shipments
    that found that discrepancy, the latest entry date and the entry ids (comma-separated,
    newest first), so every flag traces to its entries. Window: the :func:`exam_window` rule
    (``months`` before ``as_of``, start included, as_of excluded); ``months=None`` takes all
    history before ``as_of``; ``as_of=None`` takes every row. Sorted by count (desc), latest
    date (desc), category, then criterion. Columns: FLAGGED_COLUMNS.
    """
    mapping = load_findings_map() if mapping is None else mapping
    check_columns(shipments, ("entry_id", "entry_date", "examined", "exam_result"))
    dates = entry_dates(shipments["entry_date"])
    keep = shipments["examined"].fillna(False).to_numpy(dtype=bool, copy=True)
    keep &= shipments["exam_result"].isin(DISCREPANCIES).to_numpy()
    if as_of is not None:
        start, end = exam_window(as_of, months or 1)
        keep &= (dates < end).to_numpy()
        if months is not None:
            keep &= (dates >= start).to_numpy()
    hits = pd.DataFrame({"discrepancy": shipments["exam_result"].to_numpy()[keep].astype(str),
                         "entry_date": dates.to_numpy()[keep],
                         "entry_id": shipments["entry_id"].to_numpy()[keep].astype(str)})
    if hits.empty:
        return pd.DataFrame({c: pd.Series(dtype=t) for c, t in zip(
            FLAGGED_COLUMNS, ["int64", "str", "str", "str", "str", "str", "int64",
                              "datetime64[ns]", "str", "str"])})
    hits = hits.sort_values(["entry_date", "entry_id"], ascending=[False, True])
    per = hits.groupby("discrepancy", sort=False).agg(
        count=("entry_id", "size"), latest_date=("entry_date", "max"),
        entry_ids=("entry_id", lambda s: ", ".join(s)))
    per = per.reset_index()
    out = mapping.merge(per, on="discrepancy", how="inner")
    out["discrepancy_label"] = out["discrepancy"].map(v.EXAM_RESULTS)
    out["_crit"] = [_sort_number(c) for c in out["criterion_id"]]
    out = out.sort_values(["count", "latest_date", "category", "_crit"],
                          ascending=[False, False, True, True], kind="stable")
    out["count"] = out["count"].astype("int64")
    return out[FLAGGED_COLUMNS].reset_index(drop=True)


def _sort_number(cid: object) -> int:
    """Category-level rows (no id) sort before the category's criteria; 5.8 before 5.14."""
    if not isinstance(cid, str) or not cid:
        return -1
    m = _ID.match(cid)
    return int(m.group(2)) if m else 10_000


def priority_order(flagged: pd.DataFrame) -> tuple[list[int], list[str]]:
    """The flagged categories and criterion ids, most pressing first, without repeats.

    The checklist shows these criteria first (and then the rest of these categories).
    """
    cats = list(dict.fromkeys(int(c) for c in flagged["category"]))
    crit = [c for c in flagged["criterion_id"] if isinstance(c, str) and c]
    return cats, list(dict.fromkeys(crit))
