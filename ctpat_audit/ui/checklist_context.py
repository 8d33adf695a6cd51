"""What a checklist card shows, as pure data, and the session a notebook opens by default.

:func:`build_context` gathers it once per session: the session's pinned criteria joined with
the catalogue text, the partner's security-profile responses (this year and last), the exam
history's flags (each discrepancy once per card) and the previous validation's finding, most
pressing criteria first. No widgets here: :mod:`ctpat_audit.ui.checklist` shows it.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from ctpat_audit.core import vocabulary as v
from ctpat_audit.core.errors import NotFoundError
from ctpat_audit.sessions.session import (
    Session,
    find_open_session,
    list_sessions,
    open_session,
    resume_session,
)

__all__ = ["CriterionInfo", "ChecklistContext", "build_context", "previous_findings",
           "open_or_resume", "plain_value", "STATUS_LABELS"]

STATUS_LABELS = v.ANSWER_STATUS_LABELS
_FOCUS_AREAS = {c.number: c.focus_area for c in v.CATEGORIES}


# --- what the cards show (pure data) --------------------------------------------------------

@dataclass(frozen=True)
class CriterionInfo:
    """One criterion as the checklist shows it; all text is plain (escaped when rendered)."""

    criterion_id: str
    category: int
    level: str  # Must | Should, for this partner
    requirement: str
    guide_label: str  # "Observe on site" | "Request (virtual)" | "Have ready"
    guide: str
    response_now: str  # "2026: text" or ""
    response_before: str
    previous_finding: str  # "" when there is no earlier validation answer
    flag: str  # why exam history flags it, "" when not flagged

    @property
    def focus_area(self) -> str:
        return _FOCUS_AREAS.get(self.category, "")


@dataclass(frozen=True)
class ChecklistContext:
    """What the checklist needs besides the session: labels and one CriterionInfo each."""

    legal_name: str
    catalogue_label: str
    is_demonstration: bool
    facilities: dict[str, str]  # facility id -> "F01 - Monterrey plant (MX)", in scope only
    criteria: tuple[CriterionInfo, ...]  # flagged first (most pressing first), then the rest
    flagged_categories: tuple[int, ...]
    partner_status: str = "active"  # the partner's program status (suspended, removed...)


def plain_value(value: object) -> Any:
    """A DataFrame cell as a plain value: missing (None, NA, NaN) becomes None."""
    return None if value is None or value is pd.NA or (isinstance(value, float)
                                                       and value != value) else value


def _responses_by_key(frame: pd.DataFrame) -> dict[tuple[int, str], tuple[object, object]]:
    return {(int(y), str(c)): (t, i) for y, c, t, i in zip(
        frame["profile_year"], frame["criterion_id"], frame["response_text"],
        frame["implemented"]) if y is not pd.NA}


def _response_text(responses: dict[tuple[int, str], tuple[object, object]], year: int | None,
                   cid: str) -> str:
    if year is None:
        return ""
    if (year, cid) not in responses:
        return f"{year}: (no response)"
    text, impl = responses[(year, cid)]
    text, impl = plain_value(text), plain_value(impl)
    text = "" if text is None else str(text).strip()
    said = "" if impl is None else (" [says implemented]" if impl
                                                      else " [says not implemented]")
    return f"{year}: {text or '(blank)'}{said}"


def _merged_flags(own: dict[str, str], category: dict[str, str]) -> str:
    """A card's exam flags, each discrepancy once: the criterion's own flag, else its
    category's."""
    return "; ".join([*own.values(), *(t for k, t in category.items() if k not in own)])


def previous_findings(workspace: str | Path, session: Session) -> dict[str, str]:
    """Per criterion, the latest earlier submitted/signed validation's answer, in words."""
    frame = list_sessions(workspace, account_id=session.account_id, kind="validation")
    frame = frame[frame["status"].isin(["submitted", "signed"])
                  & (frame["opened_at"] < session.opened_at)
                  & (frame["session_id"] != session.id)]
    if frame.empty:
        return {}
    prev_id, prev_at = str(frame["session_id"].iloc[0]), str(frame["opened_at"].iloc[0])[:10]
    with resume_session(workspace, prev_id) as prev:
        answers = prev.answers()
    out: dict[str, list[str]] = {}
    row: Any
    for row in answers.itertuples(index=False):
        if not plain_value(row.status):
            continue
        where = f" at {row.facility_id}" if row.facility_id else ""
        note = f": {row.notes}" if plain_value(row.notes) else ""
        out.setdefault(row.criterion_id, []).append(
            f"{STATUS_LABELS.get(row.status, row.status)}{where}{note}")
    return {cid: f"{prev_id} ({prev_at}): " + "; ".join(parts) for cid, parts in out.items()}


def build_context(session: Session, *, as_of: dt.date | None = None) -> ChecklistContext:
    """Gather the checklist's text for a session: catalogue, responses, flags, history.

    ``as_of``: exam history counted is the 12 months before it (all history when None).
    """
    from ctpat_audit.analysis.exam_flags import flagged_criteria
    from ctpat_audit.criteria.catalogue import load_catalogue
    from ctpat_audit.workspace.reference import open_workspace

    partner = open_workspace(session.root).partner(session.account_id)
    try:
        cat = load_catalogue(session.catalogue_version, workspace=session.root)
        text, label, demo = ({c.id: c for c in cat.criteria}, cat.label, cat.is_demonstration)
    except NotFoundError:
        text, label, demo = {}, f"catalogue {session.catalogue_version} (text not available)", False
    flagged = flagged_criteria(partner.shipments, as_of=as_of, months=12 if as_of else None)
    # criterion id (or category, for category-wide flags) -> discrepancy label -> text
    flags: dict[str | int, dict[str, str]] = {}
    flag_row: Any
    for flag_row in flagged.itertuples(index=False):
        key = flag_row.criterion_id if isinstance(flag_row.criterion_id, str) and flag_row.criterion_id \
            else int(flag_row.category)
        flags.setdefault(key, {}).setdefault(
            flag_row.discrepancy_label, f"{flag_row.discrepancy_label} x{flag_row.count} (latest "
            f"{str(flag_row.latest_date)[:10]})" + ("" if isinstance(key, str) else
                                              f", all of category {key}"))
    responses = _responses_by_key(partner.responses)
    years = sorted({y for y, _c in responses
                    if as_of is None or int(y) <= as_of.year}, reverse=True)
    now_y, before_y = (years + [None, None])[:2]
    history = previous_findings(session.root, session)
    guide_label = {"in_person": "Observe on site", "virtual": "Request (virtual validation)"
                   }.get(session.mode, "Have ready")
    infos = []
    for pc in session.criteria:
        crit = text.get(pc.criterion_id)
        guide = "" if crit is None else (crit.observe if session.mode == "in_person"
                                         else crit.request)
        infos.append(CriterionInfo(
            pc.criterion_id, pc.category, pc.level, crit.requirement if crit else "",
            guide_label, guide, _response_text(responses, now_y, pc.criterion_id),
            _response_text(responses, before_y, pc.criterion_id),
            history.get(pc.criterion_id, ""),
            _merged_flags(flags.get(pc.criterion_id, {}), flags.get(pc.category, {}))))
    # criteria flagged by name first, then those of flagged categories, then catalogue order
    rank: dict[str | int, int] = {}
    for key in [c for c in flagged["criterion_id"] if isinstance(c, str) and c] + [
            int(c) for c, cid in zip(flagged["category"], flagged["criterion_id"])
            if not (isinstance(cid, str) and cid)]:
        rank.setdefault(key, len(rank))
    infos.sort(key=lambda i: min(rank.get(i.criterion_id, len(rank)),
                                 rank.get(i.category, len(rank)) + 0.5))
    fac = partner.facilities.set_index("facility_id")
    facilities = {f: f"{f} - {fac.at[f, 'name']!s} ({fac.at[f, 'city']!s}, {fac.at[f, 'country']!s})"
                  if f in fac.index else f for f in session.facilities}
    return ChecklistContext(partner.legal_name, label, demo, facilities, tuple(infos),
                            tuple(dict.fromkeys(int(c) for c in flagged["category"])),
                            str(partner.status))


def open_or_resume(workspace: str | Path, account_id: str, kind: str, mode: str | None,
                   actor: str, session_id: str | None = None,
                   facilities: list[str] | None = None) -> Session:
    """The session a notebook works on: ``session_id`` if given, else the partner's open one
    of this kind (and mode), else a new one (in person: all the partner's facilities unless
    ``facilities`` names the ones visited)."""
    if session_id:
        return resume_session(workspace, session_id, actor=actor)
    found = find_open_session(workspace, account_id, kind, actor=actor)
    if found is not None and (kind != "validation" or found.mode == mode):
        return found
    if found is not None:
        found.close()
    if kind == "validation" and mode == "in_person" and facilities is None:
        from ctpat_audit.workspace.reference import open_workspace

        facilities = open_workspace(workspace).partner(account_id).facilities[
            "facility_id"].astype(str).tolist()
    return open_session(workspace, account_id, kind, mode, actor, facilities=facilities)
