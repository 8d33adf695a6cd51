"""Who may sign what: the meanings of a signature and the rules of authority (pure functions).

A validation is signed ``validated`` by the session's specialist, then countersigned
``approved`` by a supervisor who is another person (another person id of the workspace CA
and another mailbox: :func:`~ctpat_audit.trust.keys.same_person`); a self-assessment is signed ``submitted``
only by a contact holding the Company Officer role for that partner.
"""
from __future__ import annotations

from typing import Any

from ctpat_audit.core.vocabulary import COMPANY_OFFICER, SIGNATURE_MEANINGS
from ctpat_audit.trust.keys import SignerIdentity, same_person

__all__ = ["MEANINGS", "authority_problem", "default_meaning"]

#: meaning -> (stamp label, role required, session kind)
MEANINGS = SIGNATURE_MEANINGS


def default_meaning(role: str) -> str:
    """The meaning a role signs with: specialist validated, supervisor approved, officer
    submitted."""
    return {"specialist": "validated", "supervisor": "approved",
            "company_officer": "submitted"}.get(role, "validated")


def authority_problem(kind: str, account_id: str, opened_by: str, who: SignerIdentity,
                      meaning: str, prior: list[dict[str, Any]],
                      contact_roles: list[str] | None) -> tuple[str, str] | None:
    """(rule, message) when ``who`` may not sign with ``meaning``; None when entitled.

    ``prior``: signatures already on the report (dicts with meaning, email), in order.
    ``contact_roles``: the signer's portal roles for the partner in the workspace now;
    None skips that check (offline verification has no workspace).
    """
    if meaning not in MEANINGS:
        return "unknown_meaning", f"meaning must be one of {', '.join(MEANINGS)}"
    label, role, needed_kind = MEANINGS[meaning]
    done = [p["meaning"] for p in prior]
    if kind != needed_kind:
        return "wrong_kind", f"a {kind.replace('_', '-')} is not signed '{meaning}'"
    if who.role != role:
        return "wrong_role", (f"'{label}' needs a {role} certificate; this certificate says "
                              f"{who.role or 'no role'}")
    if meaning == "validated":
        if done:
            return "already_signed", "the report already carries " + ", ".join(done)
        if who.email.lower() != opened_by.strip().lower():
            return "not_session_specialist", (f"the validation was opened by {opened_by}; only "
                                              "that specialist signs it first")
    elif meaning == "approved":
        if "validated" not in done:
            return "needs_specialist_first", "the specialist signs first ('validated')"
        if "approved" in done:
            return "already_signed", "the report is already approved"
        first = next(p for p in prior if p["meaning"] == "validated")
        if same_person(who, first):
            return "same_person", (f"{who.name} <{who.email}> is the person who validated "
                                   f"this report ({first.get('signer', '')} "
                                   f"<{first.get('email', '')}>); a supervisor cannot approve "
                                   "their own validation")
    else:  # submitted
        if done:
            return "already_signed", "the self-assessment is already submitted"
        if who.account_id != account_id:
            return "wrong_partner", (f"the certificate is for partner {who.account_id}, the "
                                     f"self-assessment is for partner {account_id}")
        if contact_roles is not None and COMPANY_OFFICER not in contact_roles:
            return "not_company_officer", (
                f"{who.email} does not hold the {COMPANY_OFFICER} role for partner "
                f"{account_id} in the workspace contacts (roles now: "
                f"{', '.join(contact_roles) or 'none'})")
    return None
