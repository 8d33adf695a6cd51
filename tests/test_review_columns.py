"""The portfolio review computed in columns gives exactly the table the row-by-row code gave.

``_reference_*`` below is the row-by-row implementation as it was before the review was
computed in columns (commit c50dcdd, ``ctpat_audit/analysis/review.py``), frozen here as the
oracle: per partner ``annual_review`` and ``triage``, a dict per row, one frame from the rows.
The rules themselves live once, in :mod:`ctpat_audit.analysis.review` (``annual_reviews``,
``triages``); the scalar ``annual_review`` and ``triage`` call them.
"""
from __future__ import annotations

import datetime as dt
import itertools
import math

import numpy as np
import pandas as pd
import pytest

from ctpat_audit.analysis.profile_states import current_states
from ctpat_audit.analysis.review import (
    UNANSWERED_OUTREACH,
    WINDOW_DAYS,
    AnnualReview,
    annual_review,
    annual_reviews,
    review_portfolio,
    triage,
    triages,
)
from ctpat_audit.core.vocabulary import COMPANY_OFFICER
from ctpat_audit.criteria.catalogue import load_catalogue

D = dt.date
AS_OF = D(2026, 11, 1)


# -- the row-by-row reference (frozen copy of the code before the columns) -------------------
def _reference_anniversary_in(year, anniversary):
    try:
        return anniversary.replace(year=year)
    except ValueError:
        return dt.date(year, 2, 28)


def _reference_annual_review(anniversary, submitted_on, as_of, status="certified"):
    if anniversary is None or status == "applicant":
        return AnnualReview(as_of, as_of, as_of, submitted_on, "not_applicable", None, None,
                            "no annual review before certification")
    nxt = _reference_anniversary_in(as_of.year, anniversary)
    if nxt < as_of:
        nxt = _reference_anniversary_in(as_of.year + 1, anniversary)
    opens = nxt - dt.timedelta(days=WINDOW_DAYS)
    if opens <= as_of:
        if submitted_on is not None and opens <= submitted_on <= nxt:
            return AnnualReview(as_of, nxt, opens, submitted_on, "submitted", None, None,
                                f"submitted {submitted_on} inside the window")
        left = (nxt - as_of).days
        return AnnualReview(as_of, nxt, opens, submitted_on, "due", left, None,
                            f"window open since {opens}; {left} days left to submit")
    prev = _reference_anniversary_in(nxt.year - 1, anniversary)
    prev_opens = prev - dt.timedelta(days=WINDOW_DAYS)
    if submitted_on is not None and prev_opens <= submitted_on <= prev:
        return AnnualReview(as_of, prev, prev_opens, submitted_on, "submitted", None, None,
                            f"submitted {submitted_on}; next window opens {opens}")
    late = (f"; the submission of {submitted_on} was outside the window"
            if submitted_on is not None and submitted_on > prev else "")
    days = (as_of - prev).days
    return AnnualReview(as_of, prev, prev_opens, submitted_on, "overdue", None, days,
                        f"not submitted in the window {prev_opens} to {prev}; {days} days overdue{late}")


def _reference_triage(status, annual, must_gaps, blank, total, has_officer, unanswered, attempts):
    reasons = []
    n_must = must_gaps if isinstance(must_gaps, int) else len(must_gaps)
    if status in ("suspended", "removed"):
        reasons.append(f"already {status}")
    if annual.overdue:
        reasons.append(f"annual profile review overdue by {annual.days_overdue} days (due {annual.due})")
    if n_must:
        listed = "" if isinstance(must_gaps, int) else \
            " (" + ", ".join(must_gaps[:8]) + (", ..." if n_must > 8 else "") + ")"
        reasons.append(f"{n_must} Must criteria not addressed in the profile{listed}")
    if total and blank / total >= 0.2:
        reasons.append(f"{blank} of {total} criteria blank")
    if not has_officer:
        reasons.append("no Company Officer on file: nobody can submit the annual review")
    if unanswered >= 2:
        reasons.append(f"{unanswered} of {attempts} outreach attempts unanswered")
    if annual.overdue and (len(reasons) >= 3 or not has_officer or unanswered >= 2):
        return "high", reasons
    if annual.overdue or n_must or not has_officer:
        return "medium", reasons
    return "low", reasons


def _reference_codes(values, index):
    cat = values.astype("category")
    lookup = index.get_indexer(cat.cat.categories.astype(object))
    codes = cat.cat.codes.to_numpy()
    return np.where(codes >= 0, lookup[codes], -1)


def _reference_completeness(ws, catalogue, as_of, entities):
    combos, app_rows, acc_combo = {}, [], {}
    for acc, types in entities.items():
        key = tuple(sorted(types))
        if key not in combos:
            combos[key] = len(combos)
            app_rows += [(combos[key], c.id, c.level_for(key) == "Must") for c in catalogue.applicable(key)]
        acc_combo[acc] = combos[key]
    if not app_rows:
        return {}
    app = pd.DataFrame(app_rows, columns=["combo", "criterion_id", "must"])
    accounts = pd.Index(sorted(acc_combo))
    crit_ids = pd.Index(sorted(set(app["criterion_id"])))
    acc_codes = pd.Series(np.arange(len(accounts)), index=accounts)
    app["crit"] = crit_ids.get_indexer(app["criterion_id"])
    pairs = pd.DataFrame({"acc": acc_codes.to_numpy(),
                          "combo": [acc_combo[a] for a in accounts]}).merge(
        app[["combo", "crit", "must"]], on="combo")
    states = current_states(ws, as_of)
    st = pd.DataFrame({"acc": _reference_codes(states["account_id"], accounts),
                       "crit": _reference_codes(states["criterion_id"], crit_ids),
                       "state": states["state"].to_numpy()})
    st = st[(st["acc"] >= 0) & (st["crit"] >= 0)]
    key_pairs = pairs["acc"].to_numpy(np.int64) * len(crit_ids) + pairs["crit"].to_numpy(np.int64)
    key_states = st["acc"].to_numpy(np.int64) * len(crit_ids) + st["crit"].to_numpy(np.int64)
    lookup = pd.Series(st["state"].to_numpy(), index=key_states)
    state_codes = lookup.reindex(key_pairs).fillna(0).to_numpy().astype(np.int64)
    pair_acc = pairs["acc"].to_numpy()
    n = len(accounts)
    blank = np.bincount(pair_acc[state_codes == 0], minlength=n)
    short = np.bincount(pair_acc[state_codes == 1], minlength=n)
    answered = np.bincount(pair_acc[state_codes == 2], minlength=n)
    must_gap = np.bincount(pair_acc[pairs["must"].to_numpy() & (state_codes < 2)], minlength=n)
    return {a: (int(blank[i]), int(short[i]), int(answered[i]), int(must_gap[i]))
            for i, a in enumerate(accounts)}


def _reference_review_portfolio(ws, catalogue, as_of, *, partners=None, outreach=None):
    partners = ws.partners() if partners is None else partners
    ent = ws.table("entities")
    entities = {}
    for acc, et in zip(ent["account_id"].tolist(), ent["entity_type"].tolist()):
        entities.setdefault(acc, []).append(et)
    contacts = ws.table("contacts")
    officers = set(contacts.loc[contacts["role"] == COMPANY_OFFICER, "account_id"])
    outreach = ws.table("outreach") if outreach is None else outreach
    unanswered = outreach[outreach["outcome"].isin(UNANSWERED_OUTREACH)] \
        .groupby("account_id").size().to_dict()
    attempts = outreach.groupby("account_id").size().to_dict()
    counts = _reference_completeness(ws, catalogue, as_of, entities)
    out = []
    for p in partners.itertuples(index=False):
        ann = p.profile_anniversary.date() if pd.notna(p.profile_anniversary) else None
        sub = p.last_profile_review_date.date() if pd.notna(p.last_profile_review_date) else None
        a = _reference_annual_review(ann, sub, as_of, p.status)
        c = counts.get(p.account_id, (0, 0, 0, 0))
        applicable_n, blank = int(sum(c[:3])), int(c[0])
        must_gaps, has_officer = int(c[3]), p.account_id in officers
        n_attempts = int(attempts.get(p.account_id, 0))
        n_unanswered = int(unanswered.get(p.account_id, 0))
        risk, reasons = _reference_triage(p.status, a, must_gaps, blank, applicable_n, has_officer,
                                          n_unanswered, n_attempts)
        out.append({
            "account_id": p.account_id, "legal_name": p.legal_name, "status": p.status,
            "entity_types": ", ".join(entities.get(p.account_id, [])),
            "review_status": a.status, "due": a.due if a.status != "not_applicable" else None,
            "days_overdue": a.days_overdue, "days_left": a.days_left,
            "applicable": applicable_n, "answered": int(c[2]),
            "short": int(c[1]), "blank": blank,
            "must_not_addressed": must_gaps,
            "company_officer": has_officer,
            "outreach_attempts": n_attempts,
            "outreach_unanswered": n_unanswered,
            "risk": risk, "reasons": "; ".join(reasons),
        })
    frame = pd.DataFrame(out)
    if frame.empty:
        return frame
    frame["_o"] = frame["review_status"].map({"overdue": 0, "due": 1}).fillna(2)
    frame["_r"] = frame["risk"].map({"high": 0, "medium": 1, "low": 2})
    frame = frame.sort_values(["_o", "days_overdue", "_r", "account_id"],
                              ascending=[True, False, True, True], na_position="last")
    return frame.drop(columns=["_o", "_r"]).reset_index(drop=True)


# -- exact comparison ---------------------------------------------------------------------
def _same(a: object, b: object) -> bool:
    """Equal values of the same type; None and NaN are told apart."""
    if a is None or b is None:
        return a is None and b is None
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a):
        return math.isnan(b)
    return type(a) is type(b) and a == b


def assert_same_table(new: pd.DataFrame, ref: pd.DataFrame) -> None:
    """Same columns in the same order, same dtypes, same index, same values cell by cell."""
    assert list(new.columns) == list(ref.columns)
    assert [str(t) for t in new.dtypes] == [str(t) for t in ref.dtypes]
    pd.testing.assert_frame_equal(new, ref, check_exact=True)
    for column in ref.columns:
        for i, (x, y) in enumerate(zip(new[column].tolist(), ref[column].tolist())):
            assert _same(x, y), (column, i, x, y)


def _both(ws, cat, as_of, **kw) -> tuple[pd.DataFrame, pd.DataFrame]:
    return review_portfolio(ws, cat, as_of, **kw), _reference_review_portfolio(ws, cat, as_of, **kw)


# -- the rules, over grids ------------------------------------------------------------------
ANNIVERSARIES = [D(2020, 2, 29), D(2019, 2, 28), D(2021, 3, 1), D(2020, 1, 1), D(2018, 12, 31),
                 D(2020, 6, 30), D(2022, 4, 2)]


def test_annual_review_is_the_row_by_row_rule_on_every_third_day_of_two_years():
    days = [D(2027, 1, 1) + dt.timedelta(days=k) for k in range(0, 731, 3)] + \
        [D(2027, 2, 28), D(2028, 2, 28), D(2028, 2, 29), D(2028, 3, 1), D(2027, 12, 31)]
    offsets = [None, 0, 1, 89, 90, 91, 120, 365, 366, 455, -3]  # submitted this many days before
    rows = []
    for anniversary, as_of, off, status in itertools.product(
            ANNIVERSARIES + [None], days, offsets, ["certified", "applicant"]):
        if status == "applicant" and off not in (None, 0):
            continue
        sub = None if off is None else as_of - dt.timedelta(days=off)
        rows.append((anniversary, sub, as_of, status,
                     _reference_annual_review(anniversary, sub, as_of, status)))
    for anniversary, sub, as_of, status, ref in rows[::7]:  # one partner, with its note
        assert annual_review(anniversary, sub, as_of, status) == ref, (anniversary, sub, as_of)
    # the columns: many partners at once, one as_of per call
    for as_of, group in itertools.groupby(sorted(rows, key=lambda r: r[2]), key=lambda r: r[2]):
        g = list(group)
        r = annual_reviews([x[0] for x in g], [x[1] for x in g], as_of, [x[3] for x in g])
        for i, (*_, ref) in enumerate(g):
            assert r.status[i] == ref.status and r.due[i].item() == ref.due
            assert r.window_opens[i].item() == ref.window_opens
            assert (ref.days_left is None) == np.isnan(r.days_left[i])
            assert (ref.days_overdue is None) == np.isnan(r.days_overdue[i])
            assert ref.days_left is None or ref.days_left == r.days_left[i]
            assert ref.days_overdue is None or ref.days_overdue == r.days_overdue[i]


def test_annual_reviews_take_timestamps_and_nat_as_the_portfolio_passes_them():
    anniversaries = pd.Series(pd.to_datetime(["2020-02-29", None, "2021-07-01"])).astype("datetime64[s]")
    submitted = pd.Series(pd.to_datetime([None, "2026-05-01", "2026-06-01"])).astype("datetime64[s]")
    r = annual_reviews(anniversaries, submitted, AS_OF, ["validated", "certified", "suspended"])
    assert r.status.tolist() == ["overdue", "not_applicable", "submitted"]
    assert [d.item() for d in r.due] == [D(2026, 2, 28), AS_OF, D(2026, 7, 1)]
    assert r.days_overdue[0] == (AS_OF - D(2026, 2, 28)).days and np.isnan(r.days_overdue[1:]).all()


STATUSES = ["certified", "validated", "suspended", "removed", "applicant"]


def test_triages_are_the_row_by_row_rule():
    """Every combination of the rules' inputs, on both sides of each threshold, at once."""
    annuals = [_reference_annual_review(D(2020, 6, 30), None, AS_OF),  # overdue
               _reference_annual_review(D(2020, 12, 1), None, AS_OF)]  # due
    grid = list(itertools.product(STATUSES, annuals, [0, 1, 12],
                                  [(0, 0), (1, 5), (2, 10), (19, 100), (20, 100), (3, 0)],
                                  [True, False], [(0, 0), (1, 1), (2, 2), (2, 5), (4, 4)]))
    review = pd.DataFrame([{
        "status": status, "review_status": a.status, "due": a.due, "days_overdue": a.days_overdue,
        "must_not_addressed": must, "blank": blank, "applicable": total,
        "company_officer": officer, "outreach_unanswered": unanswered,
        "outreach_attempts": attempts}
        for status, a, must, (blank, total), officer, (unanswered, attempts) in grid])
    risk, reasons = triages(review)
    for i, (status, a, must, (blank, total), officer, (unanswered, attempts)) in enumerate(grid):
        ref_risk, ref_reasons = _reference_triage(status, a, must, blank, total, officer,
                                                  unanswered, attempts)
        assert risk[i] == ref_risk and [r for r in reasons.iloc[i] if pd.notna(r)] == ref_reasons


def test_triage_of_one_partner_is_the_row_by_row_rule():
    """The scalar form, which names the Must criteria when given them as a list."""
    overdue = _reference_annual_review(D(2020, 6, 30), None, AS_OF, "suspended")
    due = _reference_annual_review(D(2020, 12, 1), None, AS_OF)
    for annual, status, must, officer, (unanswered, attempts) in itertools.product(
            [overdue, due], ["suspended", "certified"],
            [0, 3, [], ["1.1"], [f"{k}.1" for k in range(1, 9)], [f"{k}.1" for k in range(1, 10)]],
            [True, False], [(0, 0), (2, 3)]):
        args = (status, annual, must, 5, 10, officer, unanswered, attempts)
        assert triage(*args) == _reference_triage(*args), args


# -- the table, on a real sample workspace ---------------------------------------------------
@pytest.fixture(scope="module")
def cat():
    return load_catalogue()


@pytest.mark.parametrize("as_of", [AS_OF, D(2026, 1, 15), D(2027, 2, 28), D(2028, 2, 29), D(2028, 3, 1)])
def test_portfolio_table_is_the_row_by_row_table(sample_workspace, cat, as_of):
    new, ref = _both(sample_workspace, cat, as_of)
    assert len(new) == len(sample_workspace.partners())
    assert_same_table(new, ref)


def _edge_partners(ws) -> pd.DataFrame:
    """The sample's partners with every edge on some row: no anniversary, no submission,
    applicant/suspended/removed, 29 February, submissions on the window's edges, an account
    with no entity types, contacts or outreach; and not in index order."""
    p = ws.partners()
    n = len(p)
    p.loc[0:2, "profile_anniversary"] = pd.NaT
    p.loc[3:6, "last_profile_review_date"] = pd.NaT
    p.loc[7:8, "status"] = "applicant"
    p.loc[9:10, "status"] = "suspended"
    p.loc[11:12, "status"] = "removed"
    p.loc[13:15, "profile_anniversary"] = pd.Timestamp("2016-02-29")
    p.loc[16, "profile_anniversary"] = pd.Timestamp("2019-11-01")  # the anniversary is as_of
    p.loc[16, "last_profile_review_date"] = pd.Timestamp("2026-08-03")  # the window's first day
    p.loc[17, "profile_anniversary"] = pd.Timestamp("2019-10-31")  # one day overdue
    p.loc[17, "last_profile_review_date"] = pd.Timestamp("2026-11-01")  # late: outside the window
    p.loc[18, "profile_anniversary"] = pd.Timestamp("2019-01-30")  # the window opens tomorrow
    p.loc[18, "last_profile_review_date"] = pd.Timestamp("2025-11-01")
    lonely = p.iloc[[19]].copy()
    lonely["account_id"] = "ZZ-no-entities"
    lonely["status"] = "certified"
    p = pd.concat([p, lonely])
    p.index = np.arange(len(p))[::-1] * 3  # not a RangeIndex: the result's index is new
    assert len(p) == n + 1
    return p


def _edge_outreach(ws, partners: pd.DataFrame) -> pd.DataFrame:
    """Outreach: several unanswered (no_response, bounced), answered only, one unanswered,
    and attempts for an account that is not among the partners."""
    out = ws.table("outreach").iloc[0:0]
    ids = partners["account_id"].tolist()
    rows = []
    for i, acc in enumerate(ids[:12]):
        outcomes = [["no_response", "bounced", "responded"], ["responded", "responded"],
                    ["no_response"], ["bounced", "bounced"]][i % 4]
        rows += [(acc, D(2026, 10, 1) - dt.timedelta(days=k), "email", o, "reminder")
                 for k, o in enumerate(outcomes)]
    rows.append(("NOT-A-PARTNER", D(2026, 10, 1), "email", "no_response", "reminder"))
    new = pd.DataFrame(rows, columns=["account_id", "contacted_on", "channel", "outcome", "note"])
    new["contacted_on"] = pd.to_datetime(new["contacted_on"])
    return new.astype(out.dtypes.to_dict())


@pytest.mark.parametrize("as_of", [AS_OF, D(2027, 2, 28), D(2028, 2, 29)])
def test_portfolio_edge_cases_are_the_row_by_row_table(sample_workspace, cat, as_of):
    partners = _edge_partners(sample_workspace)
    outreach = _edge_outreach(sample_workspace, partners)
    new, ref = _both(sample_workspace, cat, as_of, partners=partners, outreach=outreach)
    assert_same_table(new, ref)
    statuses = set(new["review_status"])
    assert {"not_applicable", "overdue", "due"} <= statuses
    assert (~new["company_officer"]).any() and (new["outreach_unanswered"] >= 2).any()
    lonely = new[new["account_id"] == "ZZ-no-entities"].iloc[0]
    assert lonely["entity_types"] == "" and lonely["applicable"] == 0
    new, ref = _both(sample_workspace, cat, as_of, partners=partners)  # the workspace's outreach
    assert_same_table(new, ref)


def test_column_types_follow_the_rows_in_corner_cases(sample_workspace, cat):
    """A table built row by row types a column by what is in it: days_overdue is int64 when
    every partner is overdue, None throughout when none is; the columns do the same."""
    p = sample_workspace.partners()
    full = review_portfolio(sample_workspace, cat, AS_OF)
    overdue = p[p["account_id"].isin(full.loc[full["review_status"] == "overdue", "account_id"])]
    applicants = p.assign(status="applicant")
    one = p.iloc[[5]]
    for subset in (overdue, applicants, one):
        new, ref = _both(sample_workspace, cat, AS_OF, partners=subset)
        assert_same_table(new, ref)
    assert str(review_portfolio(sample_workspace, cat, AS_OF, partners=overdue)["days_overdue"].dtype) \
        == "int64"
    none = review_portfolio(sample_workspace, cat, AS_OF, partners=applicants)
    assert none["due"].tolist() == [None] * len(p) and none["days_overdue"].dtype == object
    new, ref = _both(sample_workspace, cat, AS_OF, partners=p.iloc[0:0])
    assert new.empty and list(new.columns) == list(ref.columns) == []
