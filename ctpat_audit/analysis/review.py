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

Everything takes ``as_of`` so the rules are testable at the window's edges.
"""
from __future__ import annotations

import datetime as dt
import difflib
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, cast

import numpy as np
import pandas as pd

from ctpat_audit.analysis.profile_states import STATES, answer_states, current_states
from ctpat_audit.core.vocabulary import COMPANY_OFFICER
from ctpat_audit.criteria.catalogue import Catalogue
from ctpat_audit.workspace.reference import Partner, Workspace

if TYPE_CHECKING:
    from pandas.api.typing import NaTType

WINDOW_DAYS = 90
UNANSWERED_OUTREACH = {"no_response", "bounced"}


class _PartnerRow(Protocol):
    """A row of ``Workspace.partners()``: the fields the portfolio review reads."""

    account_id: str
    legal_name: str
    status: str
    profile_anniversary: pd.Timestamp | NaTType
    last_profile_review_date: pd.Timestamp | NaTType


class _CriterionRow(Protocol):
    """A row of ``ProfileReview.criteria``: the fields the terminal text shows."""

    criterion_id: str
    must_should: str
    state: str
    response: str
    diff: str


def anniversary_in(year: int, anniversary: dt.date) -> dt.date:
    """The anniversary's month and day in ``year`` (29 Feb -> 28 Feb in common years)."""
    try:
        return anniversary.replace(year=year)
    except ValueError:
        return dt.date(year, 2, 28)


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


def annual_review(anniversary: dt.date | None, submitted_on: dt.date | None, as_of: dt.date,
                  status: str = "certified") -> AnnualReview:
    """Annual review status; see the module docstring for the rules."""
    if anniversary is None or status == "applicant":
        return AnnualReview(as_of, as_of, as_of, submitted_on, "not_applicable", None, None,
                            "no annual review before certification")
    nxt = anniversary_in(as_of.year, anniversary)
    if nxt < as_of:
        nxt = anniversary_in(as_of.year + 1, anniversary)
    opens = nxt - dt.timedelta(days=WINDOW_DAYS)
    if opens <= as_of:  # the window is open now
        if submitted_on is not None and opens <= submitted_on <= nxt:
            return AnnualReview(as_of, nxt, opens, submitted_on, "submitted", None, None,
                                f"submitted {submitted_on} inside the window")
        left = (nxt - as_of).days
        return AnnualReview(as_of, nxt, opens, submitted_on, "due", left, None,
                            f"window open since {opens}; {left} days left to submit")
    prev = anniversary_in(nxt.year - 1, anniversary)
    prev_opens = prev - dt.timedelta(days=WINDOW_DAYS)
    if submitted_on is not None and prev_opens <= submitted_on <= prev:
        return AnnualReview(as_of, prev, prev_opens, submitted_on, "submitted", None, None,
                            f"submitted {submitted_on}; next window opens {opens}")
    late = (f"; the submission of {submitted_on} was outside the window"
            if submitted_on is not None and submitted_on > prev else "")
    days = (as_of - prev).days
    return AnnualReview(as_of, prev, prev_opens, submitted_on, "overdue", None, days,
                        f"not submitted in the window {prev_opens} to {prev}; {days} days overdue{late}")


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
    """Our suspension-risk triage (high, medium, low) with its reasons in plain words."""
    reasons: list[str] = []
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


def _codes(values: pd.Series, index: pd.Index) -> np.ndarray:
    """Positions of ``values`` in ``index`` (-1 if absent); maps only the distinct values."""
    cat = values.astype("category")
    lookup = index.get_indexer(cat.cat.categories.astype(object))
    codes = cat.cat.codes.to_numpy()
    return np.where(codes >= 0, lookup[codes], -1)


def _completeness(ws: Workspace, catalogue: Catalogue, as_of: dt.date,
                  entities: dict[str, list[str]]) -> dict[str, tuple[int, int, int, int]]:
    """Per partner: (blank, short, answered, Must not addressed) over its applicable criteria.

    Vectorised over the whole portfolio: applicability is computed once per distinct mix of
    entity types, and everything is joined on integer codes.
    """
    combos: dict[tuple[str, ...], int] = {}
    app_rows: list[tuple[int, str, bool]] = []
    acc_combo: dict[str, int] = {}
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
    # every (account, applicable criterion) pair, as integer codes
    acc_codes = pd.Series(np.arange(len(accounts)), index=accounts)
    app["crit"] = crit_ids.get_indexer(app["criterion_id"])  # small: once per mix, not per pair
    pairs = pd.DataFrame({"acc": acc_codes.to_numpy(),
                          "combo": [acc_combo[a] for a in accounts]}).merge(
        app[["combo", "crit", "must"]], on="combo")
    states = current_states(ws, as_of)
    st = pd.DataFrame({"acc": _codes(states["account_id"], accounts),
                       "crit": _codes(states["criterion_id"], crit_ids),
                       "state": states["state"].to_numpy()})
    st = st[(st["acc"] >= 0) & (st["crit"] >= 0)]
    key_pairs = pairs["acc"].to_numpy(np.int64) * len(crit_ids) + pairs["crit"].to_numpy(np.int64)
    key_states = st["acc"].to_numpy(np.int64) * len(crit_ids) + st["crit"].to_numpy(np.int64)
    lookup = pd.Series(st["state"].to_numpy(), index=key_states)
    state_codes = lookup.reindex(key_pairs).fillna(0).to_numpy().astype(np.int64)  # missing = blank
    pair_acc = pairs["acc"].to_numpy()
    n = len(accounts)
    blank = np.bincount(pair_acc[state_codes == 0], minlength=n)
    short = np.bincount(pair_acc[state_codes == 1], minlength=n)
    answered = np.bincount(pair_acc[state_codes == 2], minlength=n)
    must_gap = np.bincount(pair_acc[pairs["must"].to_numpy() & (state_codes < 2)], minlength=n)
    return {a: (int(blank[i]), int(short[i]), int(answered[i]), int(must_gap[i]))
            for i, a in enumerate(accounts)}


def review_portfolio(ws: Workspace, catalogue: Catalogue, as_of: dt.date, *,
                     partners: pd.DataFrame | None = None,
                     outreach: pd.DataFrame | None = None) -> pd.DataFrame:
    """One row per partner, overdue first (most days overdue first), then by risk.

    ``partners`` and ``outreach``: the workspace's tables when the caller has read them
    already (:func:`portfolio.portfolio` does), so they are not read twice."""
    partners = ws.partners() if partners is None else partners
    ent = ws.table("entities")
    entities: dict[str, list[str]] = {}
    for acc, et in zip(ent["account_id"].tolist(), ent["entity_type"].tolist()):
        entities.setdefault(acc, []).append(et)
    contacts = ws.table("contacts")
    officers = set(contacts.loc[contacts["role"] == COMPANY_OFFICER, "account_id"])
    outreach = ws.table("outreach") if outreach is None else outreach
    unanswered = outreach[outreach["outcome"].isin(UNANSWERED_OUTREACH)] \
        .groupby("account_id").size().to_dict()
    attempts = outreach.groupby("account_id").size().to_dict()

    counts = _completeness(ws, catalogue, as_of, entities)
    out = []
    for p in cast(Iterator[_PartnerRow], partners.itertuples(index=False)):
        ann = p.profile_anniversary.date() if pd.notna(p.profile_anniversary) else None
        sub = p.last_profile_review_date.date() if pd.notna(p.last_profile_review_date) else None
        a = annual_review(ann, sub, as_of, p.status)
        c = counts.get(p.account_id, (0, 0, 0, 0))
        applicable_n, blank = int(sum(c[:3])), int(c[0])
        must_gaps, has_officer = int(c[3]), p.account_id in officers
        n_attempts = int(attempts.get(p.account_id, 0))
        n_unanswered = int(unanswered.get(p.account_id, 0))
        risk, reasons = triage(p.status, a, must_gaps, blank, applicable_n, has_officer,
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
