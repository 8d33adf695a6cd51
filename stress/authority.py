"""Recipe 4: a Hypothesis state machine over people, roles, role changes and signing attempts.

The state is real: one workspace with its CA, certificates issued and revoked through
``ctpat_audit.trust.keys``, the partner's contacts table edited in SQLite, report folders made like
``tests/signing_helpers.py`` does, and every signing attempt goes through ``sign_report``.
An independent model written here from the rules (the signing rules of docs/signing.md) says who is
entitled at that moment:

* the certificate chains to the workspace CA and is not revoked;
* ``validated``: a specialist certificate, the validation's opener, first signature;
* ``approved``: a supervisor certificate, after ``validated`` and only once, not the validator;
* ``submitted``: a Company Officer certificate for this partner, on a self-assessment, first
  signature, and the signer holds the Company Officer role in the contacts table *now*;
* countersigning needs the existing signatures to verify (a revoked earlier signer blocks it).

``unauthorized_signatures`` counts signatures ``sign_report`` made that the model refuses
(target 0); ``authority_wrongly_refused`` counts the reverse (reported, not a target).
State carries over between Hypothesis examples (shrinking is off), so steps add up.
"""
from __future__ import annotations

import itertools
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path

from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, initialize, rule, run_state_machine_as_test
from session_helpers import ACCOUNT, OFFICER, USER
from signing_helpers import (
    CA_PASS,
    KEY_PASS,
    OTHER_OFFICER,
    OTHER_SPECIALIST,
    SPECIALIST,
    SUPERVISOR,
    make_report,
    make_setup,
)

from ctpat_audit.core.errors import CtpatError
from ctpat_audit.trust import keys
from ctpat_audit.trust.signing import sign_report

from . import Figures

NEEDS = {"validated": ("specialist", "validation"), "approved": ("supervisor", "validation"),
         "submitted": ("company_officer", "self_assessment")}
DEFAULT = {"specialist": "validated", "supervisor": "approved", "company_officer": "submitted"}
EMAILS = {"spec": SPECIALIST, "spec2": OTHER_SPECIALIST, "sup": SUPERVISOR, "officer": OFFICER,
          "user": USER, "other_officer": OTHER_OFFICER, "forger": SUPERVISOR}
CONTACT_ROLES = ("Company Officer", "User", "Administrator")


@dataclass
class Person:
    signer: keys.Signer
    trusted: bool = True
    revoked: bool = False


@dataclass
class Report:
    folder: Path
    kind: str
    opened_by: str
    signed: list[tuple[str, str]] = field(default_factory=list)  # (meaning, person)


@dataclass
class World:
    setup: object
    people: dict[str, Person]
    contacts: dict[str, str]  # e-mail -> current contacts role in ACCOUNT
    counter: itertools.count = field(default_factory=itertools.count)
    steps: int = 0
    attempts: int = 0
    signed: int = 0
    unauthorized: list[str] = field(default_factory=list)
    wrongly_refused: list[str] = field(default_factory=list)
    other_errors: list[str] = field(default_factory=list)


def make_world(root: Path) -> World:
    setup = make_setup(root / "setup")
    people = {short: Person(setup.signer(short)) for short in setup.p12
              if short in EMAILS}
    foreign = keys.init_ca(root / "foreign", CA_PASS)  # a CA the workspace does not trust
    keys.issue_signer(foreign, root / "forger.p12", KEY_PASS, name="Sue Sup", email=SUPERVISOR,
                      role="supervisor")
    people["forger"] = Person(keys.load_signer(root / "forger.p12", KEY_PASS), trusted=False)
    return World(setup, people, {OFFICER: "Company Officer", USER: "User"})


def entitled(world: World, report: Report, who: str, meaning: str) -> bool:
    person = world.people[who]
    ident = person.signer.identity
    if not person.trusted or person.revoked or meaning not in NEEDS:
        return False
    if any(world.people[p].revoked or not world.people[p].trusted for _, p in report.signed):
        return False  # the signed report no longer verifies: no countersignature
    role, kind = NEEDS[meaning]
    if ident.role != role or report.kind != kind:
        return False
    done = [m for m, _ in report.signed]
    if meaning == "validated":
        return not done and ident.email.lower() == report.opened_by.lower()
    if meaning == "approved":
        validator = next((p for m, p in report.signed if m == "validated"), None)
        return (done == ["validated"] and validator is not None
                and world.people[validator].signer.identity.email.lower() != ident.email.lower())
    return (not done and ident.account_id == ACCOUNT
            and world.contacts.get(ident.email) == "Company Officer")


def machine_for(world: World) -> type[RuleBasedStateMachine]:
    setup = world.setup

    class Authority(RuleBasedStateMachine):
        reports = Bundle("reports")

        @initialize(target=reports)
        def first_report(self):
            world.steps += 1
            return self._new("validation", SPECIALIST)

        def _new(self, kind: str, opener: str) -> Report:
            folder = make_report(setup, kind=kind, opened_by=opener, evidence=False)
            return Report(folder, kind, opener)

        @rule(target=reports, kind=st.sampled_from(["validation", "self_assessment"]),
              opener=st.sampled_from([SPECIALIST, OTHER_SPECIALIST]))
        def new_report(self, kind, opener):
            world.steps += 1
            return self._new(kind, OFFICER if kind == "self_assessment" else opener)

        @rule(report=reports, who=st.sampled_from(sorted(EMAILS)),
              meaning=st.sampled_from([None, None, "validated", "approved", "submitted",
                                       "signed"]))
        def sign(self, report, who, meaning):
            world.steps += 1
            world.attempts += 1
            signer = world.people[who].signer
            meaning = meaning or DEFAULT.get(signer.identity.role, "validated")
            allowed = entitled(world, report, who, meaning)
            label = f"{who}({signer.identity.role}) {meaning} {report.kind} {report.folder.name}"
            try:
                sign_report(report.folder, setup.ws, signer, meaning)
            except CtpatError:
                if allowed:
                    world.wrongly_refused.append(label)
                return
            except Exception as exc:
                world.other_errors.append(f"{label}: {exc!r}")
                return
            world.signed += 1
            report.signed.append((meaning, who))
            if not allowed:
                world.unauthorized.append(label)

        @rule(who=st.sampled_from([OFFICER, USER]), role=st.sampled_from(CONTACT_ROLES))
        def change_contact_role(self, who, role):
            world.steps += 1
            conn = sqlite3.connect(setup.ws.db_path)
            with conn:
                conn.execute("UPDATE contacts SET role = ? WHERE account_id = ? AND email = ?",
                             (role, ACCOUNT, who))
            conn.close()
            world.contacts[who] = role

        @rule(who=st.sampled_from(["spec", "spec2", "sup", "officer", "user"]))
        def revoke(self, who):
            world.steps += 1
            person = world.people[who]
            if not person.revoked:
                keys.revoke(setup.ca, person.signer.certificate.serial_number)
                person.revoked = True

        @rule(who=st.sampled_from(["spec", "spec2", "sup", "officer", "user"]),
              role=st.sampled_from(["specialist", "supervisor", "company_officer"]),
              account=st.sampled_from([ACCOUNT, "0099999"]))
        def new_certificate(self, who, role, account):
            """A role change: the old certificate is revoked, a new one issued."""
            world.steps += 1
            old = world.people[who]
            if not old.revoked:
                keys.revoke(setup.ca, old.signer.certificate.serial_number)
                old.revoked = True
            out = setup.root / f"{who}-{next(world.counter)}.p12"
            keys.issue_signer(setup.ca, out, KEY_PASS, name=old.signer.identity.name,
                              email=EMAILS[who], role=role,
                              account_id=account if role == "company_officer" else None,
                              same_person=True)  # the CA records the role change of one person
            world.people[who] = Person(keys.load_signer(out, KEY_PASS))

    return Authority


def run(root: Path, quick: bool = False, seed: int = 0) -> Figures:
    steps_wanted = 40 if quick else 5000
    per_example = 10 if quick else 50
    world = make_world(Path(root))
    machine = machine_for(world)
    while world.steps < steps_wanted:
        run_state_machine_as_test(machine, settings=settings(
            max_examples=max(1, (steps_wanted - world.steps) // per_example),
            stateful_step_count=per_example, phases=[Phase.generate], database=None,
            deadline=None, derandomize=True, suppress_health_check=list(HealthCheck)))
    return {"authority_steps": world.steps, "unauthorized_signatures": len(world.unauthorized),
            "authority_attempts": world.attempts, "authority_signed": world.signed,
            "authority_wrongly_refused": len(world.wrongly_refused),
            "authority_errors": len(world.other_errors),
            "authority_examples": (world.unauthorized + world.wrongly_refused
                                   + world.other_errors)[:10]}
