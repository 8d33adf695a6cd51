"""Security-profile review: the annual window's edges, answer states, diffs, triage, CLI."""
from __future__ import annotations

import datetime as dt
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from openpyxl import load_workbook

from ctpat_audit.analysis import profile_states
from ctpat_audit.analysis.profile_states import answer_state, answer_states
from ctpat_audit.analysis.review import (
    annual_review,
    change,
    review_partner,
    review_portfolio,
    word_diff,
)
from ctpat_audit.criteria.catalogue import load_catalogue

D = dt.date
ANNIV = D(2020, 6, 30)  # anniversary 30 June; window opens 1 April (90 days before)


@pytest.mark.parametrize("as_of, submitted, status, left, overdue", [
    (D(2026, 3, 31), D(2025, 5, 1), "submitted", None, None),   # day 91 before: last cycle's counts
    (D(2026, 4, 1), None, "due", 90, None),                      # day 90 before: the window opens
    (D(2026, 4, 1), D(2026, 4, 1), "submitted", None, None),     # submitted on the first day
    (D(2026, 6, 30), None, "due", 0, None),                      # the anniversary: last day
    (D(2026, 6, 30), D(2026, 3, 31), "due", 0, None),            # a day before the window does not count
    (D(2026, 7, 1), None, "overdue", None, 1),                   # one day after
    (D(2026, 7, 1), D(2026, 6, 30), "submitted", None, None),
    (D(2026, 7, 1), D(2026, 7, 1), "overdue", None, 1),          # late submission: outside the window
])
def test_annual_window_edges(as_of, submitted, status, left, overdue):
    a = annual_review(ANNIV, submitted, as_of)
    assert (a.status, a.days_left, a.days_overdue) == (status, left, overdue)
    assert (as_of - a.window_opens).days <= 90 or a.status != "due"


def test_window_opening_is_exactly_90_days():
    a = annual_review(ANNIV, None, D(2026, 5, 1))
    assert a.window_opens == D(2026, 4, 1) and (a.due - a.window_opens).days == 90


def test_leap_day_anniversary():
    leap = D(2020, 2, 29)
    a = annual_review(leap, None, D(2027, 2, 28))  # common year: 28 Feb is the anniversary
    assert a.due == D(2027, 2, 28) and a.status == "due" and a.days_left == 0
    assert a.window_opens == D(2026, 11, 30)
    b = annual_review(leap, None, D(2028, 3, 1))   # leap year: 29 Feb, so 1 March is one day late
    assert b.due == D(2028, 2, 29) and b.days_overdue == 1
    c = annual_review(leap, None, D(2028, 2, 29))
    assert c.status == "due" and c.window_opens == D(2027, 12, 1)  # 90 days back across a leap February


def test_applicants_have_no_annual_review():
    assert annual_review(ANNIV, None, D(2026, 7, 1), status="applicant").status == "not_applicable"


def test_answer_states_and_changes():
    assert answer_state(None) == answer_state("   ") == "blank"
    assert answer_state("N/A") == answer_state("Yes.") == answer_state("short text") == "short"
    assert answer_state("Written seal procedures are reviewed every year.") == "answered"
    texts = pd.Series([None, pd.NA, "", " \t\n", "\u00a0", "YES", "n/a..", " See policy ",
                       "é" * 19, "é" * 20, "  " + "x" * 19 + "  ", "Seals are logged daily."],
                      dtype="object")
    assert answer_states(texts).tolist() == [0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 1, 2]
    assert change("", "We do it now in all plants") == "new"
    assert change("We did it", "") == "dropped"
    assert change("Same  text", "Same text") == "unchanged"
    assert change("old words here", "new words here") == "changed"
    assert word_diff("seals are checked daily", "seals are checked weekly by guards") == \
        "seals are checked [-daily-] {+weekly by guards+}"


@pytest.fixture(scope="module")
def reviewed(sample_workspace):
    cat = load_catalogue()
    return sample_workspace, cat, review_portfolio(sample_workspace, cat, D(2026, 11, 1))


def test_partner_review_matches_its_rows(reviewed):
    ws, cat, frame = reviewed
    acc = frame.iloc[0]["account_id"]
    p = ws.partner(acc)
    r = review_partner(p, cat, D(2026, 11, 1))
    applicable = {c.id for c in cat.applicable(p.entity_types)}
    assert set(r.criteria["criterion_id"]) == applicable
    cur = p.responses[p.responses["profile_year"] == 2026].set_index("criterion_id")["response_text"]
    blank_ids = {c for c in applicable if c not in cur.index or pd.isna(cur[c]) or not str(cur[c]).strip()}
    assert set(r.criteria.loc[r.criteria["state"] == "blank", "criterion_id"]) == blank_ids
    row = frame.iloc[0]
    assert row["blank"] == len(blank_ids) and row["applicable"] == len(applicable)
    assert r.counts()["blank"] == len(blank_ids)
    musts = [c.id for c in cat.applicable(p.entity_types) if c.level_for(p.entity_types) == "Must"]
    assert set(r.must_not_addressed) <= set(musts)
    assert row["must_not_addressed"] == len(r.must_not_addressed)


def test_portfolio_lists_overdue_first_most_overdue_first(reviewed):
    _, _, frame = reviewed
    status = list(frame["review_status"])
    n_over = status.count("overdue")
    assert n_over >= 1 and status[:n_over] == ["overdue"] * n_over
    days = list(frame["days_overdue"][:n_over])
    assert days == sorted(days, reverse=True)
    no_officer = frame[~frame["company_officer"]]
    assert (no_officer["reasons"].str.contains("no Company Officer")).all()
    assert set(frame["risk"]) <= {"high", "medium", "low"}


def test_review_cli_prints_label_and_writes_workbook(reviewed, tmp_path):
    ws, _, frame = reviewed
    exe = Path(sys.executable).parent / "ctpat-audit"
    out = tmp_path / "review.xlsx"
    r = subprocess.run([str(exe), "review", "-w", str(ws.path), "--as-of", "2026-11-01", "--xlsx", str(out)],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert "DEMONSTRATION" in r.stdout and frame.iloc[0]["account_id"] in r.stdout
    wb = load_workbook(out)
    sheet = wb["review"]
    assert "DEMONSTRATION" in sheet["A1"].value
    header = [c.value for c in sheet[2]]
    assert header[:4] == ["account_id", "legal_name", "status", "entity_types"]
    assert sheet.freeze_panes == "A3"
    one = subprocess.run([str(exe), "review", "-w", str(ws.path), frame.iloc[0]["account_id"],
                          "--as-of", "2026-11-01"], capture_output=True, text=True, timeout=120)
    assert one.returncode == 0 and "annual review:" in one.stdout and "suspension risk:" in one.stdout
    missing = subprocess.run([str(exe), "review", "-w", str(ws.path), "nope"], capture_output=True, text=True)
    assert missing.returncode == 1 and "no partner" in missing.stderr


def test_portfolio_completeness_the_same_from_kept_states_fresh_states_and_sqlite(reviewed,
                                                                                tmp_path):
    import shutil

    from ctpat_audit.workspace.reference import derived_file, open_workspace

    ws, cat, frame = reviewed
    copy = tmp_path / "ws"
    shutil.copytree(ws.path, copy)
    ws2 = open_workspace(copy)
    kept = derived_file(ws2.bulk_path("profile_responses"),
                        f"answer-states-{profile_states.rule_tag()}")
    assert kept.is_file()  # kept by the first review, next to the responses file
    pd.testing.assert_frame_equal(frame, review_portfolio(ws2, cat, D(2026, 11, 1)))
    kept.unlink()  # classified again from the responses, and kept again
    pd.testing.assert_frame_equal(frame, review_portfolio(ws2, cat, D(2026, 11, 1)))
    assert kept.is_file()
    conn = ws2.connect()
    conn.execute("DELETE FROM meta WHERE key = 'profile_responses_file'")  # no Parquet copy
    conn.close()
    assert ws2.bulk_path("profile_responses") is None
    pd.testing.assert_frame_equal(frame, review_portfolio(ws2, cat, D(2026, 11, 1)))
    assert frame["blank"].sum() > 0 and frame["short"].sum() > 0


def test_another_setting_of_the_rule_takes_effect_without_an_import(reviewed, tmp_path,
                                                                    monkeypatch):
    import shutil

    from ctpat_audit.workspace.reference import derived_file, open_workspace

    ws, cat, frame = reviewed
    shutil.copytree(ws.path, tmp_path / "ws")
    ws2 = open_workspace(tmp_path / "ws")
    before = profile_states.rule_tag()
    monkeypatch.setattr(profile_states, "MIN_ANSWER_CHARS", 10_000)  # every answer is short
    assert profile_states.rule_tag() != before
    strict = review_portfolio(ws2, cat, D(2026, 11, 1))
    assert strict["answered"].sum() == 0 and frame["answered"].sum() > 0
    assert (strict["short"] + strict["blank"]).tolist() == (
        frame.set_index("account_id").loc[strict["account_id"], "applicable"].tolist())
    assert derived_file(ws2.bulk_path("profile_responses"),
                        f"answer-states-{profile_states.rule_tag()}").is_file()


def test_a_workspace_that_cannot_be_written_is_classified_in_memory(reviewed, tmp_path,
                                                                    monkeypatch):
    import errno
    import shutil
    from contextlib import contextmanager

    from ctpat_audit.workspace.reference import open_workspace

    ws, cat, frame = reviewed
    shutil.copytree(ws.path, tmp_path / "ws")
    ws2 = open_workspace(tmp_path / "ws")
    for kept in (tmp_path / "ws" / "profile").glob("*.answer-states-*"):
        kept.unlink()

    @contextmanager
    def read_only_folder(path):
        raise OSError(errno.EROFS, "Read-only file system", str(path))
        yield path

    monkeypatch.setattr(profile_states, "replacing", read_only_folder)
    pd.testing.assert_frame_equal(frame, review_portfolio(ws2, cat, D(2026, 11, 1)))
    assert not list((tmp_path / "ws" / "profile").glob("*.answer-states-*"))
