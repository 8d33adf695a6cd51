"""Findings of a session: Requirements, Recommendations, Best Practices, outcome, comparison.

Rules (the Must/Should levels are the ones pinned in the session from the catalogue):

* a **Must** criterion answered ``does_not_meet`` (at any facility) is a **Requirement**: the
  partner must act, due ``report date + due_days`` (90 days by default, configurable);
* a **Should** criterion answered ``does_not_meet`` is a **Recommendation** (no due date);
* **Best Practices** (practices beyond the criteria) are recorded by the specialist with
  :meth:`Session.record_best_practice <ctpat_audit.sessions.session.Session.record_best_practice>`
  while the session is open (each record is also an audit-log entry);
* the **overall outcome** (see :data:`OUTCOMES`) with the reasons that led to it;
* where the partner has a submitted self-assessment, :func:`compare_self_assessment` sets the
  partner's answer beside the validator's finding per criterion (agree / disagree / one side
  only).

The outcome labels and the 90-day default are this toolkit's working assumptions (labelled as
such in :data:`OUTCOME_NOTE`), not quoted CBP rules.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, cast

import pandas as pd

from ctpat_audit.core.errors import InputError

if TYPE_CHECKING:
    from pandas.api.typing import NAType


class _AnswerRow(Protocol):
    """A row of :meth:`Session.answers`: the fields a finding is made of."""

    criterion_id: str
    category: int
    level: str
    facility_id: str | None
    notes: str | NAType | None


class _EvidenceRow(Protocol):
    """A row of ``SessionFindings.evidence``."""

    criterion_id: str
    facility_id: str
    name: str
    sha256: str

__all__ = [
    "DEFAULT_DUE_DAYS",
    "FINDING_COLUMNS",
    "OUTCOMES",
    "OUTCOME_NOTE",
    "Outcome",
    "SessionFindings",
    "build_findings",
    "compare_self_assessment",
    "criterion_status",
    "latest_self_assessment",
    "overall_outcome",
    "session_findings",
]

DEFAULT_DUE_DAYS = 90
OUTCOMES = {
    "no_action": "Validated: no action required",
    "recommendations": "Validated with recommendations",
    "action_required": "Action required: requirements to correct",
    "incomplete": "Incomplete: Must criteria not verified",
}
OUTCOME_NOTE = ("Outcome labels and the 90-day correction period are this toolkit's working "
                "assumptions, configurable per report; they are not quoted from CBP.")
FINDING_COLUMNS = ["finding_id", "kind", "criterion_id", "category", "level", "facility_id",
                   "requirement", "validator_notes", "due_date", "owner", "partner_response",
                   "status"]

@dataclass(frozen=True)
class Outcome:
    code: str  # key of OUTCOMES
    label: str
    reasons: list[str] = field(default_factory=list)


#: A criterion's status over its facilities: the first of these that any facility has.
_STATUS_ORDER = ("does_not_meet", "not_verified", "", "meets", "not_applicable")


def criterion_status(answers: pd.DataFrame) -> pd.DataFrame:
    """One status per criterion over its facilities: does_not_meet wins, then not_verified,
    then meets; not_applicable only when every facility says so; unanswered is ``""``.
    Criteria in the order they first appear in ``answers``."""
    status = answers["status"].astype(object).where(answers["status"].notna(), "").astype(str)
    rank = status.map({s: i for i, s in enumerate(_STATUS_ORDER)})
    if rank.isna().any():
        bad = status[rank.isna()].iloc[0]
        raise InputError("status", bad, f"one of {', '.join(map(repr, _STATUS_ORDER))}")
    worst = rank.groupby(answers["criterion_id"].to_numpy(), sort=False).min()
    return pd.DataFrame({"criterion_id": worst.index.astype(str),
                         "status": [_STATUS_ORDER[int(i)] for i in worst.to_numpy()]},
                        columns=["criterion_id", "status"]).astype(str)


def build_findings(answers: pd.DataFrame, requirement_text: dict[str, str],
                   report_date: dt.date, due_days: int = DEFAULT_DUE_DAYS) -> pd.DataFrame:
    """Requirements and Recommendations, one per criterion and facility not met.

    ``answers``: :meth:`Session.answers` (criterion_id, category, level, facility_id, status,
    notes). ``requirement_text``: criterion id -> the criterion's text (may be empty).
    """
    if not isinstance(due_days, int) or due_days < 1:
        raise InputError("due_days", due_days, "a whole number of days >= 1")
    due = report_date + dt.timedelta(days=due_days)
    bad = answers[answers["status"].astype(str) == "does_not_meet"]
    rows = []
    for r in cast(Iterator[_AnswerRow], bad.itertuples(index=False)):
        must = str(r.level) == "Must"
        rows.append({"kind": "Requirement" if must else "Recommendation",
                     "criterion_id": str(r.criterion_id), "category": int(r.category),
                     "level": str(r.level), "facility_id": str(r.facility_id or ""),
                     "requirement": requirement_text.get(str(r.criterion_id), ""),
                     "validator_notes": "" if pd.isna(r.notes) else str(r.notes),
                     "due_date": due if must else None, "owner": "", "partner_response": "",
                     "status": "open"})
    frame = pd.DataFrame(rows, columns=FINDING_COLUMNS[1:])
    if len(frame):
        from ctpat_audit.criteria.catalogue import criterion_sort_key

        frame["_k"] = [(0 if k == "Requirement" else 1, *criterion_sort_key(c), f)
                       for k, c, f in zip(frame["kind"], frame["criterion_id"],
                                          frame["facility_id"])]
        frame = frame.sort_values("_k", kind="stable").drop(columns="_k")
    prefix = {"Requirement": "R", "Recommendation": "C"}
    counter: dict[str, int] = {}
    ids = []
    for k in frame["kind"]:
        counter[k] = counter.get(k, 0) + 1
        ids.append(f"{prefix[k]}{counter[k]:02d}")
    frame.insert(0, "finding_id", pd.Series(ids, index=frame.index, dtype="str"))
    frame = frame.reset_index(drop=True)
    for col in FINDING_COLUMNS:
        if col not in ("category", "due_date"):
            frame[col] = pd.array(frame[col].tolist(), dtype="str")
    frame["category"] = pd.array(frame["category"].tolist(), dtype="Int64")
    frame["due_date"] = pd.array(frame["due_date"].tolist(), dtype=object)
    return frame


def overall_outcome(answers: pd.DataFrame, findings: pd.DataFrame) -> Outcome:
    """The outcome of a session and why (unverified Must criteria first, then findings)."""
    per = criterion_status(answers)
    levels = answers.drop_duplicates("criterion_id").set_index("criterion_id")["level"]
    per["level"] = per["criterion_id"].map(levels).astype(str)
    must_open = per[(per["level"] == "Must") & per["status"].isin(["", "not_verified"])]
    n_req = int((findings["kind"] == "Requirement").sum())
    n_rec = int((findings["kind"] == "Recommendation").sum())
    reasons = []
    if len(must_open):
        ids = ", ".join(must_open["criterion_id"].head(10))
        more = "" if len(must_open) <= 10 else f" and {len(must_open) - 10} more"
        reasons.append(f"{len(must_open)} Must criteria not verified or unanswered: {ids}{more}")
    if n_req:
        ids = ", ".join(dict.fromkeys(findings.loc[findings["kind"] == "Requirement",
                                                   "criterion_id"]))
        reasons.append(f"{n_req} Requirement(s): Must criteria not met ({ids})")
    if n_rec:
        reasons.append(f"{n_rec} Recommendation(s): Should criteria not met")
    met = int((per["status"] == "meets").sum())
    reasons.append(f"{met} of {len(per)} criteria met")
    code = ("incomplete" if len(must_open) else "action_required" if n_req
            else "recommendations" if n_rec else "no_action")
    return Outcome(code, OUTCOMES[code], reasons)


def compare_self_assessment(validator: pd.DataFrame, partner: pd.DataFrame) -> pd.DataFrame:
    """Per criterion: the partner's self-assessed status beside the validator's finding.

    ``agreement``: ``agree`` (same status), ``disagree`` (different statuses; ``partner
    overstated`` when the partner said meets and the validator found does_not_meet),
    ``validator only`` / ``partner only`` when one side has no answer.
    """
    v = criterion_status(validator).rename(columns={"status": "validator_status"})
    p = criterion_status(partner).rename(columns={"status": "partner_status"})
    levels = validator.drop_duplicates("criterion_id").set_index("criterion_id")["level"]
    t = v.merge(p, on="criterion_id", how="left")
    t["partner_status"] = t["partner_status"].fillna("").astype(str)
    t.insert(1, "level", t["criterion_id"].map(levels).astype(str))

    def judge(ps: str, vs: str) -> str:
        if not ps and not vs:
            return ""
        if not ps:
            return "validator only"
        if not vs:
            return "partner only"
        if ps == vs:
            return "agree"
        if ps == "meets" and vs == "does_not_meet":
            return "disagree: partner overstated"
        return "disagree"

    t["agreement"] = pd.array([judge(a, b) for a, b in zip(t["partner_status"],
                                                           t["validator_status"])], dtype="str")
    return t[["criterion_id", "level", "partner_status", "validator_status", "agreement"]]


# --- one session, everything the report needs -----------------------------------------------

def latest_self_assessment(ws: Any, account_id: str) -> str | None:
    """The partner's most recent submitted (or signed) self-assessment session id, if any."""
    from ctpat_audit.sessions.session import connect_store
    from ctpat_audit.workspace import store

    _, conn = connect_store(ws)
    try:
        return store.latest_session(conn, account_id, "self_assessment",
                                    ("submitted", "signed"))
    finally:
        conn.close()


@dataclass
class SessionFindings:
    session: dict[str, Any]  # the session row
    answers: pd.DataFrame  # every unit, answered or not
    evidence: pd.DataFrame
    findings: pd.DataFrame
    outcome: Outcome
    best_practices: pd.DataFrame
    comparison: pd.DataFrame | None  # None: no submitted self-assessment
    self_assessment_id: str | None
    report_date: dt.date
    due_days: int
    requirement_text: dict[str, str]

    def evidence_by_unit(self) -> dict[tuple[str, str], list[tuple[str, str]]]:
        """(criterion, facility) -> [(file name, SHA-256), ...] of the evidence held there."""
        out: dict[tuple[str, str], list[tuple[str, str]]] = {}
        for r in cast(Iterator[_EvidenceRow], self.evidence.itertuples()):
            out.setdefault((r.criterion_id, r.facility_id), []).append((r.name, r.sha256))
        return out

    def counts(self) -> dict[str, int]:
        k = self.findings["kind"]
        return {"requirements": int((k == "Requirement").sum()),
                "recommendations": int((k == "Recommendation").sum()),
                "best_practices": len(self.best_practices)}


def session_findings(ws: Any, session_id: str, report_date: dt.date,
                     due_days: int = DEFAULT_DUE_DAYS) -> SessionFindings:
    """Everything findings-related for one session (reads the workspace, pure otherwise)."""
    from ctpat_audit.core.errors import CtpatError
    from ctpat_audit.criteria.catalogue import load_catalogue
    from ctpat_audit.sessions.session import resume_session

    with resume_session(ws, session_id) as s:
        info = s.info()
        answers = s.answers(include_unanswered=True)
        ev = s.evidence()
        practices = s.best_practices()
        try:
            cat = load_catalogue(version=s.catalogue_version, workspace=s.root)
            text = {c.id: c.requirement for c in cat.criteria}
        except (CtpatError, OSError):
            text = {}
    findings = build_findings(answers, text, report_date, due_days)
    outcome = overall_outcome(answers, findings)
    comparison, sa_id = None, None
    if info["kind"] == "validation":
        sa_id = latest_self_assessment(ws, info["account_id"])
        if sa_id:
            with resume_session(ws, sa_id) as sa:
                comparison = compare_self_assessment(answers, sa.answers())
    return SessionFindings(info, answers, ev, findings, outcome, practices, comparison, sa_id,
                           report_date, due_days, text)
