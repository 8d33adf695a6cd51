"""Sample sessions: submitted validations and self-assessments for demos/tests.

:func:`write_sample_sessions` answers sessions through the ordinary Session API, as a
specialist would: most criteria met, some Must and Should criteria not met (with a note saying
what was seen), an observation method on every answer, an evidence file where something was not
met, and now and then a Best Practice. Partners with a Company Officer also get submitted
self-assessments, opened before the validations so reports show the self-vs-validator
comparison. In-person validations cover one or two of the partner's facilities (answers per
facility); virtual ones rely on live video, submitted photos and document review.

Everything is deterministic for a seed and ``as_of``. All people and texts are invented
(DEMONSTRATION material).
"""
from __future__ import annotations

import datetime as dt
import random
from typing import Any

from ctpat_audit.core.vocabulary import COMPANY_OFFICER
from ctpat_audit.sessions.session import open_session

__all__ = ["SPECIALISTS", "write_sample_sessions"]

SPECIALISTS = ("demo.specialist@cbp.example", "demo.specialist2@cbp.example")
_IN_PERSON_METHODS = ("observed_on_site", "observed_on_site", "interview", "document_review")
_VIRTUAL_METHODS = ("live_video", "photos_video_submitted", "document_review", "interview")
_GAPS = ("Procedure exists but staff interviewed could not describe it.",
         "No record of the last review could be produced.",
         "Written procedure missing; practice varies between shifts.",
         "Seal log incomplete for two of the sampled dates.",
         "Training records older than twelve months for most staff sampled.")
_PRACTICES = ("Seal verification uses a photo taken at each hand-off, kept with the bill of lading.",
              "Quarterly unannounced security walk-through led by senior management.",
              "Business-partner screening repeated automatically every six months.")


def _clock(at: dt.datetime) -> Any:
    return lambda: at


def _answer_all(s: Any, rng: random.Random, methods: tuple[str, ...], p_must: float,
                p_should: float, actor: str, force: bool = False) -> list[tuple[str, str]]:
    """Answer every unit of session ``s``; returns the (criterion, facility) units not met."""
    missed = []
    units = s.units()
    level_of = {c.criterion_id: c.level for c in s.criteria}
    forced = set()
    if force:  # a validation always finds something: one Must and one Should unit not met
        for lv in ("Must", "Should"):
            pool = [u for u in units if level_of[u[0]] == lv]
            if pool:
                forced.add(rng.choice(pool))
    for cid, fid in units:
        level = level_of[cid]
        r = rng.random()
        if (cid, fid) in forced or r < (p_must if level == "Must" else p_should):
            status, notes = "does_not_meet", rng.choice(_GAPS)
            missed.append((cid, fid))
        elif r > 0.985:
            status, notes = "not_applicable", "Not applicable to this site's operations."
        else:
            status, notes = "meets", ""
        method = rng.choice(methods) if methods else None
        kw: dict[str, Any] = {"status": status, "notes": notes, "facility_id": fid, "actor": actor}
        if methods:
            kw["method"] = method
        s.answer(cid, **kw)
    return missed


def write_sample_sessions(ws: Any, n_validations: int, n_self_assessments: int, seed: int,
                          as_of: dt.date) -> dict[str, list[str]]:
    """Create submitted sample sessions; returns {"validations": ids, "self_assessments": ids}.

    Partners are drawn (seeded) from the workspace; self-assessments go to partners with a
    Company Officer and come first so later validations of the same partner can be compared.
    """
    from ctpat_audit.workspace.reference import as_workspace

    w = as_workspace(ws)
    rng = random.Random(seed)
    partners = w.partners()
    contacts = w.table("contacts")
    facilities = w.table("facilities")
    accounts = sorted(partners["account_id"].astype(str))
    officers = contacts[contacts["role"] == COMPANY_OFFICER]
    with_officer = sorted(set(officers["account_id"].astype(str)))
    rng.shuffle(with_officer)
    out: dict[str, list[str]] = {"validations": [], "self_assessments": []}
    base = dt.datetime.combine(as_of, dt.time(9, 0), tzinfo=dt.UTC) - dt.timedelta(days=30)

    sa_accounts = with_officer[:n_self_assessments]
    for i, acc in enumerate(sa_accounts):
        officer = str(officers[officers["account_id"] == acc]["email"].sort_values().iloc[0])
        at = base + dt.timedelta(hours=i)
        with open_session(w, acc, "self_assessment", None, officer, clock=_clock(at)) as s:
            _answer_all(s, rng, (), 0.04, 0.08, officer)
            s.submit(officer)
            out["self_assessments"].append(s.id)

    # validations: partners with a self-assessment first (comparison), then the others
    rest = [a for a in accounts if a not in sa_accounts]
    rng.shuffle(rest)
    chosen = (sa_accounts + rest)[:n_validations]
    for i, acc in enumerate(chosen):
        specialist = SPECIALISTS[i % len(SPECIALISTS)]
        at = base + dt.timedelta(days=7, hours=i)
        fids = sorted(facilities[facilities["account_id"] == acc]["facility_id"].astype(str))
        in_person = bool(fids) and i % 2 == 0
        mode = "in_person" if in_person else "virtual"
        visit = rng.sample(fids, k=min(len(fids), rng.choice((1, 2)))) if in_person else None
        with open_session(w, acc, "validation", mode, specialist, facilities=visit,
                          clock=_clock(at)) as s:
            methods = _IN_PERSON_METHODS if in_person else _VIRTUAL_METHODS
            missed = _answer_all(s, rng, methods, 0.05, 0.10, specialist, force=True)
            if missed:
                cid, fid = missed[0]
                note = (f"Evidence for criterion {cid}: photo log and notes taken during the "
                        f"{mode.replace('_', '-')} validation (demonstration file).\n")
                s.attach(cid, f"evidence-{cid}.txt", note.encode(), facility_id=fid)
            if rng.random() < 0.4:
                s.record_best_practice(rng.choice(_PRACTICES), actor=specialist)
            s.submit(specialist)
            out["validations"].append(s.id)
    return out
