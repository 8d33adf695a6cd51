"""Security-profile review: is the partner's profile complete, current and submitted on time?

Rules (each from the program as summarised in the project's domain notes, or marked as ours):

* The annual review window opens 90 days before the partner's anniversary date and closes
  on it; only a submission inside the window counts as the annual review (CBP Portal rules).
  An anniversary of 29 February falls on 28 February in common years (our convention).
* An answer is *blank* when empty, *short* when it is under ``MIN_ANSWER_CHARS`` characters
  or a placeholder such as "N/A" or "Yes" (our threshold, configurable), else *answered*
  (:mod:`ctpat_audit.analysis.profile_states`).
* Change since last year: *unchanged*, *changed* (with a word diff), *new*, *dropped*.
* Suspension risk is the toolkit's own triage rule, not CBP's: it lists its reasons
  (overdue review, Must criteria not addressed, no Company Officer, unanswered outreach).

Everything takes ``as_of`` so the rules are testable at the window's edges. The annual review
and the triage are written once, over arrays of any length (:func:`annual_reviews`,
:func:`_triage_rules`): the portfolio applies them to every partner at once
(:func:`triages` over a table); :func:`annual_review` and :func:`triage` apply them to one
partner (length-1 arrays, no frame: cheap enough to run once per report) and add the words.
"""
from __future__ import annotations

import datetime as dt
import difflib
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol, cast

import numpy as np
import pandas as pd

from ctpat_audit.analysis.profile_states import STATES, answer_states, current_states
from ctpat_audit.core.vocabulary import COMPANY_OFFICER
from ctpat_audit.criteria.catalogue import Catalogue
from ctpat_audit.workspace.reference import Partner, Workspace

WINDOW_DAYS = 90
UNANSWERED_OUTREACH = {"no_response", "bounced"}
#: Ours: a profile with this share of its applicable criteria blank is incomplete (a triage
#: reason here, and the portfolio's "incomplete profile").
INCOMPLETE_BLANK_SHARE = 0.2


class _CriterionRow(Protocol):
    """A row of ``ProfileReview.criteria``: the fields the terminal text shows."""

    criterion_id: str
    must_should: str
    state: str
    response: str
    diff: str


def anniversary_in(year: int, anniversary: dt.date) -> dt.date:
    """The anniversary's month and day in ``year`` (29 Feb -> 28 Feb in common years)."""
    days = anniversaries_in(np.array([year]), np.array([anniversary], dtype="datetime64[D]"))
    return cast(dt.date, days[0].item())


def anniversaries_in(years: np.ndarray, anniversaries: np.ndarray) -> np.ndarray:
    """:func:`anniversary_in` of many anniversaries (``datetime64[D]``, NaT stays NaT), each
    in its own year."""
    missing = np.isnat(anniversaries)
    days = np.where(missing, np.datetime64("2000-01-01", "D"), anniversaries)
    months = days.astype("datetime64[M]")
    month = months.astype(np.int64) % 12  # 0 is January
    day = (days - months.astype("datetime64[D]")).astype(np.int64)  # 0 is the first
    years = np.asarray(years, dtype=np.int64)
    leap = (years % 4 == 0) & ((years % 100 != 0) | (years % 400 == 0))
    day = np.where((month == 1) & (day == 28) & ~leap, 27, day)  # 29 Feb -> 28 Feb
    starts = ((years - 1970) * 12 + month).astype("datetime64[M]").astype("datetime64[D]")
    return np.where(missing, np.datetime64("NaT", "D"), starts + day.astype("timedelta64[D]"))


@dataclass(frozen=True)
class AnnualReview:
    """Where a partner stands in its annual security-profile review cycle on ``as_of``."""

    as_of: dt.date
    due: dt.date  # the anniversary this cycle is measured against
    window_opens: dt.date
    submitted_on: dt.date | None
    status: str  # submitted | due | overdue | not_applicable
    days_left: int | None  # window open and not yet submitted: days until the anniversary
    days_overdue: int | None
    note: str

    @property
    def overdue(self) -> bool:
        return self.status == "overdue"


@dataclass(frozen=True)
class AnnualReviews:
    """:func:`annual_reviews` of many partners: one entry per partner in each array."""

    status: np.ndarray  # submitted | due | overdue | not_applicable
    due: np.ndarray  # datetime64[D]: the anniversary the cycle is measured against (else as_of)
    window_opens: np.ndarray  # datetime64[D]: that anniversary's window (else as_of)
    next_opens: np.ndarray  # datetime64[D]: the window open now or opening next (else NaT)
    days_left: np.ndarray  # float: days until the anniversary where due, else NaN
    days_overdue: np.ndarray  # float: where overdue, else NaN


def _day_array(values: pd.Series | np.ndarray | list[Any]) -> np.ndarray:
    """Dates, Timestamps or missing values (None, NaT) as ``datetime64[D]``."""
    if isinstance(values, pd.Series):
        values = values.to_numpy()
    if isinstance(values, np.ndarray) and values.dtype.kind == "M":
        return values.astype("datetime64[D]")
    return np.array([np.datetime64("NaT") if v is None or pd.isna(v) else np.datetime64(v, "D")
                     for v in values], dtype="datetime64[D]")


def annual_reviews(anniversaries: pd.Series | np.ndarray | list[Any],
                   submitted: pd.Series | np.ndarray | list[Any], as_of: dt.date,
                   statuses: pd.Series | np.ndarray | list[str]) -> AnnualReviews:
    """Annual review status of many partners at once; see the module docstring for the rules.

    A missing anniversary or the status "applicant": not applicable (no review before
    certification)."""
    ann, sub, today = _day_array(anniversaries), _day_array(submitted), np.datetime64(as_of, "D")
    window = np.timedelta64(WINDOW_DAYS, "D")
    status = np.asarray(statuses, dtype=object)
    nxt = anniversaries_in(np.full(len(ann), as_of.year), ann)
    nxt = np.where(nxt < today, anniversaries_in(np.full(len(ann), as_of.year + 1), ann), nxt)
    opens = nxt - window
    prev = anniversaries_in(nxt.astype("datetime64[Y]").astype(np.int64) + 1970 - 1, ann)
    prev_opens = prev - window
    applies = ~np.isnat(ann) & (status != "applicant")
    is_open = opens <= today  # the window is open now
    result = np.select(
        [~applies, is_open & (opens <= sub) & (sub <= nxt), is_open,
         (prev_opens <= sub) & (sub <= prev)],
        ["not_applicable", "submitted", "due", "submitted"], "overdue")
    due = np.where(applies, np.where(is_open, nxt, prev), today)
    nan = np.float64("nan")
    return AnnualReviews(
        result, due, np.where(applies, np.where(is_open, opens, prev_opens), today),
        np.where(applies, opens, np.datetime64("NaT", "D")),
        np.where(result == "due", (nxt - today).astype(np.int64), nan),
        np.where(result == "overdue", (today - prev).astype(np.int64), nan))


def annual_review(anniversary: dt.date | None, submitted_on: dt.date | None, as_of: dt.date,
                  status: str = "certified") -> AnnualReview:
    """Annual review status of one partner (:func:`annual_reviews`) with a note in words."""
    r = annual_reviews([anniversary], [submitted_on], as_of, [status])
    state = str(r.status[0])
    due, opens = cast(dt.date, r.due[0].item()), cast(dt.date, r.window_opens[0].item())
    left = None if np.isnan(r.days_left[0]) else int(r.days_left[0])
    days = None if np.isnan(r.days_overdue[0]) else int(r.days_overdue[0])
    if state == "not_applicable":
        note = "no annual review before certification"
    elif state == "submitted" and r.window_opens[0] == r.next_opens[0]:  # the open window
        note = f"submitted {submitted_on} inside the window"
    elif state == "submitted":
        note = f"submitted {submitted_on}; next window opens {r.next_opens[0].item()}"
    elif state == "due":
        note = f"window open since {opens}; {left} days left to submit"
    else:
        late = (f"; the submission of {submitted_on} was outside the window"
                if submitted_on is not None and _day_array([submitted_on])[0] > r.due[0] else "")
        note = f"not submitted in the window {opens} to {due}; {days} days overdue{late}"
    return AnnualReview(as_of, due, opens, submitted_on, state, left, days, note)


def _normal(s: str) -> str:
    return re.sub(r"\s+", " ", s).strip()


def word_diff(old: str, new: str) -> str:
    """A readable word diff: [-removed-] {+added+}."""
    a, b = _normal(old).split(), _normal(new).split()
    out: list[str] = []
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(a=a, b=b, autojunk=False).get_opcodes():
        if op == "equal":
            out.extend(a[i1:i2])
        if op in ("delete", "replace"):
            out.append("[-" + " ".join(a[i1:i2]) + "-]")
        if op in ("insert", "replace"):
            out.append("{+" + " ".join(b[j1:j2]) + "+}")
    return " ".join(out)


def change(old: object, new: object) -> str:
    o = "" if old is None or old is pd.NA else _normal(str(old))
    n = "" if new is None or new is pd.NA else _normal(str(new))
    if not o and not n:
        return "blank both years"
    if not o:
        return "new"
    if not n:
        return "dropped"
    return "unchanged" if o == n else "changed"


@dataclass
class ProfileReview:
    """The review of one partner's security profile on ``as_of``."""

    account_id: str
    legal_name: str
    as_of: dt.date
    catalogue_version: str
    catalogue_label: str
    current_year: int | None
    previous_year: int | None
    criteria: pd.DataFrame  # one row per applicable criterion
    annual: AnnualReview
    has_company_officer: bool
    outreach_attempts: int
    outreach_unanswered: int
    risk: str  # high | medium | low
    reasons: list[str] = field(default_factory=list)

    @property
    def must_not_addressed(self) -> list[str]:
        c = self.criteria
        return c[(c["must_should"] == "Must") & (c["state"] != "answered")]["criterion_id"].tolist()

    def counts(self) -> dict[str, int]:
        counts = self.criteria["state"].value_counts().reindex(
            ["answered", "short", "blank"], fill_value=0)
        return {str(state): int(n) for state, n in counts.items()}


def _years(responses: pd.DataFrame, as_of: dt.date) -> tuple[int | None, int | None]:
    years = sorted({int(y) for y in responses["profile_year"].dropna() if int(y) <= as_of.year})
    cur = years[-1] if years else None
    prev = years[-2] if len(years) > 1 else None
    return cur, prev


def review_partner(partner: Partner, catalogue: Catalogue, as_of: dt.date) -> ProfileReview:
    """Completeness, change since last year, annual review and suspension risk of one partner."""
    applicable = catalogue.applicable(partner.entity_types) if partner.entity_types else []
    cur, prev = _years(partner.responses, as_of)
    r = partner.responses
    def column(year: int | None, name: str) -> dict[str, Any]:
        if year is None:
            return {}
        part = r[r["profile_year"] == year]
        return dict(zip(part["criterion_id"].tolist(), part[name].tolist()))

    now_text, before_text = column(cur, "response_text"), column(prev, "response_text")
    implemented = column(cur, "implemented")
    rows = []
    for c in applicable:
        now, before, impl = now_text.get(c.id), before_text.get(c.id), implemented.get(c.id)
        now_s = "" if now is None or now is pd.NA else str(now)
        before_s = "" if before is None or before is pd.NA else str(before)
        ch = change(before_s, now_s)
        rows.append({
            "criterion_id": c.id, "category": c.category, "must_should": c.level_for(partner.entity_types),
            "state": "", "implemented": None if impl is pd.NA else impl,
            "change": ch, "diff": word_diff(before_s, now_s) if ch == "changed" else "",
            "response": now_s, "previous_response": before_s,
        })
    criteria = pd.DataFrame(rows, columns=["criterion_id", "category", "must_should", "state", "implemented",
                                           "change", "diff", "response", "previous_response"])
    criteria["state"] = pd.Series([STATES[k] for k in answer_states(criteria["response"])],
                                  index=criteria.index, dtype="str")
    annual = annual_review(partner.profile_anniversary, partner.last_profile_review_date, as_of,
                           partner.status)
    officer = bool((partner.contacts["role"] == COMPANY_OFFICER).any()) if len(partner.contacts) else False
    out = partner.outreach
    attempts = len(out)
    unanswered = int(out["outcome"].isin(UNANSWERED_OUTREACH).sum()) if attempts else 0
    review = ProfileReview(partner.account_id, partner.legal_name, as_of, catalogue.version, catalogue.label,
                           cur, prev, criteria, annual, officer, attempts, unanswered, "low")
    counts = review.counts()
    review.risk, review.reasons = triage(partner.status, annual, review.must_not_addressed,
                                         counts["blank"], sum(counts.values()), officer,
                                         unanswered, attempts)
    return review


def triage(status: str, annual: AnnualReview, must_gaps: list[str] | int, blank: int, total: int,
           has_officer: bool, unanswered: int, attempts: int) -> tuple[str, list[str]]:
    """Our suspension-risk triage (high, medium, low) of one partner (:func:`_triage_rules`, as
    :func:`triages`) with its reasons in plain words; a list of ``must_gaps`` is named (the
    first eight). Length-1 arrays, no frame: this runs once per partner report."""
    n_must = must_gaps if isinstance(must_gaps, int) else len(must_gaps)
    listed = None if isinstance(must_gaps, int) else \
        [" (" + ", ".join(must_gaps[:8]) + (", ..." if n_must > 8 else "") + ")"]
    risk, reasons = _triage_rules({
        "status": np.array([status], dtype=object), "overdue": np.array([annual.overdue]),
        "days_overdue": np.array([annual.days_overdue or 0], dtype=np.int64),
        "due": np.array([annual.due], dtype=object),
        "must_not_addressed": np.array([n_must], dtype=np.int64),
        "blank": np.array([blank], dtype=np.int64), "applicable": np.array([total], dtype=np.int64),
        "company_officer": np.array([has_officer], dtype=bool),
        "outreach_unanswered": np.array([unanswered], dtype=np.int64),
        "outreach_attempts": np.array([attempts], dtype=np.int64)}, listed)
    return str(risk[0]), [texts[0] for _, texts in reasons.values() if texts]


def triages(review: pd.DataFrame, listed: list[str] | None = None) -> tuple[np.ndarray, pd.DataFrame]:
    """Our suspension-risk triage of many partners at once (:func:`_triage_rules`): the risk
    (high, medium, low) of each row of ``review`` (its columns named as in
    :func:`review_portfolio`'s table) and the reasons, one column per rule in the order they
    are given, missing where it does not apply.

    ``listed``: per row, text to follow the number of Must criteria not addressed."""
    risk, reasons = _triage_rules(_triage_columns(review), listed)
    columns = {}
    for name, (rows, texts) in reasons.items():
        column = np.full(len(review), np.nan, dtype=object)
        column[rows] = texts
        columns[name] = pd.Series(column, index=review.index, dtype="str")
    return risk, pd.DataFrame(columns, index=review.index)


def _triage_columns(review: pd.DataFrame) -> dict[str, np.ndarray]:
    """The columns of ``review`` that :func:`_triage_rules` reads, as its arrays (missing
    numbers are 0; ``due``: datetime64[D] where the column holds datetimes, else as given)."""
    def ints(column: str) -> np.ndarray:
        return pd.to_numeric(review[column]).fillna(0).to_numpy(np.int64)

    due = review["due"]
    return {
        "status": review["status"].astype("str").to_numpy(object),
        "overdue": (review["review_status"] == "overdue").to_numpy(bool),
        "days_overdue": ints("days_overdue"),
        "due": due.to_numpy("datetime64[D]") if due.dtype.kind == "M" else due.to_numpy(object),
        "must_not_addressed": ints("must_not_addressed"), "blank": ints("blank"),
        "applicable": ints("applicable"), "company_officer": review["company_officer"].to_numpy(bool),
        "outreach_unanswered": ints("outreach_unanswered"),
        "outreach_attempts": ints("outreach_attempts")}


def _triage_rules(c: dict[str, np.ndarray], listed: list[str] | None
                  ) -> tuple[np.ndarray, dict[str, tuple[np.ndarray, list[str]]]]:
    """The triage rules, each written once, over 1-D arrays of equal length (any length: one
    partner or the portfolio) named as :func:`review_portfolio`'s columns (``overdue``: bool;
    ``due``: dates or their text). Returns each row's risk and, per rule in order, the rows
    where it applies with their reasons in words (texts made for those rows only)."""
    status, overdue, has_officer = c["status"], c["overdue"], c["company_officer"]
    n_must, blank, total = c["must_not_addressed"], c["blank"], c["applicable"]
    unanswered, attempts, days, due = (c["outreach_unanswered"], c["outreach_attempts"],
                                       c["days_overdue"], c["due"])
    share = np.divide(blank, total, out=np.zeros(len(blank)), where=total > 0)
    listing = [""] * len(n_must) if listed is None else listed
    rules: dict[str, tuple[np.ndarray, Callable[[int], str]]] = {
        "status": ((status == "suspended") | (status == "removed"), lambda i: f"already {status[i]}"),
        "overdue": (overdue,
                    lambda i: f"annual profile review overdue by {days[i]} days (due {due[i]})"),
        "must": (n_must > 0,
                 lambda i: f"{n_must[i]} Must criteria not addressed in the profile{listing[i]}"),
        "blank": ((total > 0) & (share >= INCOMPLETE_BLANK_SHARE),
                  lambda i: f"{blank[i]} of {total[i]} criteria blank"),
        "officer": (~has_officer,
                    lambda i: "no Company Officer on file: nobody can submit the annual review"),
        "outreach": (unanswered >= 2,
                     lambda i: f"{unanswered[i]} of {attempts[i]} outreach attempts unanswered"),
    }
    n_reasons = sum(mask.astype(np.int64) for mask, _ in rules.values())
    high = overdue & ((n_reasons >= 3) | ~has_officer | (unanswered >= 2))
    risk = np.where(high, "high", np.where(overdue | (n_must > 0) | ~has_officer, "medium", "low"))
    reasons = {}
    for name, (mask, text) in rules.items():
        rows = np.flatnonzero(mask)
        reasons[name] = (rows, [text(i) for i in rows.tolist()])
    return risk, reasons


def _joined(reasons: dict[str, tuple[np.ndarray, list[str]]], n: int) -> pd.Series:
    """Each of ``n`` rows' reasons (:func:`_triage_rules`) that apply, in the rules' order,
    joined with "; " ("" where none applies)."""
    parts: list[list[str]] = [[] for _ in range(n)]
    for rows, texts in reasons.values():
        for i, text in zip(rows.tolist(), texts):
            parts[i].append(text)
    return pd.Series(["; ".join(p) for p in parts], dtype="str")


def _codes(values: pd.Series, index: pd.Index) -> np.ndarray:
    """Positions of ``values`` in ``index`` (-1 if absent); maps only the distinct values."""
    cat = values.astype("category")
    lookup = index.get_indexer(cat.cat.categories.astype(object))
    codes = cat.cat.codes.to_numpy()
    return np.where(codes >= 0, lookup[codes], -1)


def _completeness(ws: Workspace, catalogue: Catalogue, as_of: dt.date,
                  entities: dict[str, list[str]]) -> pd.DataFrame:
    """Per partner with entity types (the index): blank, short, answered and must (Must not
    addressed) over its applicable criteria.

    Vectorised over the whole portfolio: applicability is computed once per distinct mix of
    entity types, and the answers' state codes are laid out as one row per partner and one
    column per criterion (a criterion without an answer is blank)."""
    combos: dict[tuple[str, ...], int] = {}
    app_rows: list[tuple[int, str, bool]] = []
    combo_of: list[int] = []
    for types in entities.values():
        key = tuple(sorted(types))
        if key not in combos:
            combos[key] = len(combos)
            app_rows += [(combos[key], c.id, c.level_for(key) == "Must") for c in catalogue.applicable(key)]
        combo_of.append(combos[key])
    accounts = pd.Index(list(entities))
    if not app_rows:
        return pd.DataFrame(0, index=accounts, columns=["blank", "short", "answered", "must"])
    app = pd.DataFrame(app_rows, columns=["combo", "criterion_id", "must"])
    crit_ids = pd.Index(sorted(set(app["criterion_id"])))
    combo, crit, is_must = app["combo"].to_numpy(), crit_ids.get_indexer(app["criterion_id"]), \
        app["must"].to_numpy(bool)
    applies = np.zeros((len(combos), len(crit_ids)), dtype=bool)
    applies[combo, crit] = True
    must = np.zeros_like(applies)
    must[combo[is_must], crit[is_must]] = True
    states = current_states(ws, as_of)
    acc, cid = _codes(states["account_id"], accounts), _codes(states["criterion_id"], crit_ids)
    known = (acc >= 0) & (cid >= 0)
    state = np.zeros((len(accounts), len(crit_ids)), dtype=np.int8)  # 0: blank
    state[acc[known], cid[known]] = states["state"].to_numpy()[known]
    applies, must = applies[combo_of], must[combo_of]  # one row per partner
    return pd.DataFrame({"blank": (applies & (state == 0)).sum(axis=1),
                         "short": (applies & (state == 1)).sum(axis=1),
                         "answered": (applies & (state == 2)).sum(axis=1),
                         "must": (must & (state < 2)).sum(axis=1)}, index=accounts)


def _optional_days(days: np.ndarray) -> np.ndarray:
    """Whole days (NaN where none), typed as a table built row by row types such a column:
    int64 where none is missing, None throughout where all are, else float64 with NaN."""
    missing = np.isnan(days)
    if not missing.any():
        return days.astype(np.int64)
    return np.full(len(days), None, dtype=object) if missing.all() else days


def _per_account(counts: pd.Series, accounts: pd.Series) -> np.ndarray:
    """``counts`` (indexed by account id) of each of ``accounts``; 0 where it has none."""
    return counts.reindex(accounts.to_numpy(), fill_value=0).to_numpy(np.int64)


def review_portfolio(ws: Workspace, catalogue: Catalogue, as_of: dt.date, *,
                     partners: pd.DataFrame | None = None,
                     outreach: pd.DataFrame | None = None) -> pd.DataFrame:
    """One row per partner, overdue first (most days overdue first), then by risk.

    ``partners`` and ``outreach``: the workspace's tables when the caller has read them
    already (:func:`portfolio.portfolio` does), so they are not read twice. Computed in
    columns: :func:`annual_reviews` and the triage (:func:`_triage_rules`, as :func:`triages`)
    over every partner at once."""
    partners = (ws.partners() if partners is None else partners).reset_index(drop=True)
    if not len(partners):
        return pd.DataFrame([])
    ent = ws.table("entities")
    entities: dict[str, list[str]] = {}
    for acc, et in zip(ent["account_id"].tolist(), ent["entity_type"].tolist()):
        entities.setdefault(acc, []).append(et)
    officers = pd.Index(sorted(ws.accounts_with_contact(COMPANY_OFFICER)), dtype=object)
    outreach = ws.table("outreach") if outreach is None else outreach
    unanswered = outreach[outreach["outcome"].isin(UNANSWERED_OUTREACH)].groupby("account_id").size()
    attempts = outreach.groupby("account_id").size()

    ids, status = partners["account_id"], partners["status"].astype("str")
    counts = _completeness(ws, catalogue, as_of, entities).reindex(ids.to_numpy(), fill_value=0)
    annual = annual_reviews(partners["profile_anniversary"], partners["last_profile_review_date"],
                            as_of, status.to_numpy(dtype=object))
    applicable = counts[["blank", "short", "answered"]].sum(axis=1)
    frame = pd.DataFrame({
        "account_id": ids.astype("str"), "legal_name": partners["legal_name"].astype("str"),
        "status": status,
        "entity_types": pd.Series([", ".join(entities.get(a, ())) for a in ids.tolist()], dtype="str"),
        "review_status": annual.status,
        "due": np.where(annual.status != "not_applicable", annual.due, np.datetime64("NaT", "D"))
        .astype(object),
        "days_overdue": _optional_days(annual.days_overdue),
        "days_left": _optional_days(annual.days_left),
        "applicable": applicable.to_numpy(np.int64), "answered": counts["answered"].to_numpy(np.int64),
        "short": counts["short"].to_numpy(np.int64), "blank": counts["blank"].to_numpy(np.int64),
        "must_not_addressed": counts["must"].to_numpy(np.int64),
        "company_officer": officers.get_indexer(pd.Index(ids.to_numpy(object))) >= 0,
        "outreach_attempts": _per_account(attempts, ids),
        "outreach_unanswered": _per_account(unanswered, ids),
    })
    risk, reasons = _triage_rules(_triage_columns(frame), None)
    frame["risk"] = pd.Series(risk, dtype="str")
    frame["reasons"] = _joined(reasons, len(frame))
    frame["_o"] = frame["review_status"].map({"overdue": 0, "due": 1}).fillna(2)
    frame["_r"] = frame["risk"].map({"high": 0, "medium": 1, "low": 2})
    frame = frame.sort_values(["_o", "days_overdue", "_r", "account_id"],
                              ascending=[True, False, True, True], na_position="last")
    return frame.drop(columns=["_o", "_r"]).reset_index(drop=True)


# -- presentation ---------------------------------------------------------------------------
def format_partner_review(r: ProfileReview) -> str:
    """The review as plain text for the terminal."""
    a = r.annual
    counts = r.counts()
    lines = [
        f"{r.legal_name} (account {r.account_id}) - security-profile review as of {r.as_of}",
        f"catalogue {r.catalogue_version}: {r.catalogue_label}",
        f"annual review: {a.status.upper()} - {a.note}",
        f"profile year {r.current_year} vs {r.previous_year}: {counts['answered']} answered, "
        f"{counts['short']} too short, {counts['blank']} blank of {len(r.criteria)} applicable",
        f"Company Officer on file: {'yes' if r.has_company_officer else 'NO'}; "
        f"outreach attempts: {r.outreach_attempts} ({r.outreach_unanswered} unanswered)",
        f"suspension risk: {r.risk.upper()}"
        + ("".join(f"\n  - {x}" for x in r.reasons) if r.reasons else ""),
    ]
    gaps = r.criteria[r.criteria["state"] != "answered"]
    if len(gaps):
        lines.append("\nnot answered (Must first):")
        gaps = gaps.sort_values("must_should", key=lambda s: s.map({"Must": 0, "Should": 1}), kind="stable")
        for g in cast(Iterator[_CriterionRow], gaps.itertuples()):
            lines.append(f"  {g.criterion_id:>6}  {g.must_should:<6}  {g.state:<6}  {g.response[:60]!r}")
    changed = r.criteria[r.criteria["change"] == "changed"]
    if len(changed):
        lines.append(f"\nchanged since {r.previous_year}:")
        for g in cast(Iterator[_CriterionRow], changed.itertuples()):
            lines.append(f"  {g.criterion_id:>6}  {g.diff[:110]}")
    return "\n".join(lines)


def write_review_xlsx(path, *, portfolio: pd.DataFrame | None = None,
                      partner: ProfileReview | None = None, label: str = "") -> object:
    """The portfolio review or one partner's review as a formatted workbook."""
    from openpyxl import Workbook

    from ctpat_audit.core import xlsx as excel

    wb = Workbook()
    ws = excel.first_sheet(wb)
    if portfolio is not None:
        ws.title = "review"
        excel.title_row(ws, f"Security-profile review - {label}")
        excel.write_table(ws, portfolio, start_row=2, widths={"reasons": 70, "legal_name": 36})
    if partner is not None:
        ws.title = "summary"
        excel.title_row(ws, f"{partner.legal_name} ({partner.account_id}) - review as of {partner.as_of}")
        summary = pd.DataFrame([
            ("catalogue", f"{partner.catalogue_version}: {partner.catalogue_label}"),
            ("annual review", f"{partner.annual.status}: {partner.annual.note}"),
            ("suspension risk", partner.risk), ("reasons", "; ".join(partner.reasons)),
            ("Company Officer on file", "yes" if partner.has_company_officer else "no"),
        ], columns=["item", "value"])
        excel.write_table(ws, summary, start_row=3, widths={"item": 26, "value": 100})
        sheet = wb.create_sheet("criteria")
        excel.write_table(sheet, partner.criteria,
                          widths={"response": 60, "previous_response": 60, "diff": 60},
                          wrap=["response", "previous_response", "diff"])
    return excel.save(wb, path)
