"""People, not strings: one person id across a person's certificates, mailboxes compared
case-folded and without +tags, and a supervisor never approves their own validation.

The alias case is the one a probe of the toolkit found: a supervisor certificate for the
specialist under ``demo.specialist+sup@cbp.example`` (same name) approving that specialist's
validation.
"""
from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner
from session_helpers import make_workspace
from signing_helpers import CA_PASS, KEY_PASS, Setup, make_report

from ctpat_audit.cli import main
from ctpat_audit.core.errors import AuthorityError, InputError
from ctpat_audit.trust import keys
from ctpat_audit.trust.signing import sign_report
from ctpat_audit.trust.verify import verify_report

SPEC = "demo.specialist@cbp.example"
ALIAS = "demo.specialist+sup@cbp.example"


@pytest.fixture
def setup(tmp_path: Path) -> Setup:
    ws = make_workspace(tmp_path / "ws")
    ca = keys.init_ca(ws.path, CA_PASS)
    p12 = {"spec": tmp_path / "spec.p12", "sup": tmp_path / "sup.p12"}
    keys.issue_signer(ca, p12["spec"], KEY_PASS, name="Demo Specialist", email=SPEC,
                      role="specialist")
    keys.issue_signer(ca, p12["sup"], KEY_PASS, name="Sue Sup", email="sue.sup@cbp.example",
                      role="supervisor")
    return Setup(tmp_path, ws, ca, p12)


def _issues(ws) -> list[dict]:
    conn = sqlite3.connect(ws.db_path)
    rows = [json.loads(r[0]) for r in conn.execute(
        "SELECT new_value FROM audit_log WHERE action = 'issue_certificate' ORDER BY seq")]
    conn.close()
    return rows


@pytest.mark.parametrize(("a", "b"), [
    ("Ana.Spec@CBP.example", "ana.spec@cbp.example"),
    ("ana.spec+sup@cbp.example", "ana.spec@cbp.example"),
    (" ANA.SPEC+a+b@cbp.EXAMPLE ", "ana.spec@cbp.example"),
])
def test_mailboxes_are_compared_case_folded_and_without_tags(a: str, b: str) -> None:
    assert keys.normal_email(a) == keys.normal_email(b)


def test_a_different_mailbox_stays_different() -> None:
    assert keys.normal_email("ana.spec@cbp.example") != keys.normal_email("ana.spec@cbp.gov")
    assert keys.normal_name("  Demo   SPECIALIST ") == keys.normal_name("demo specialist")


def test_every_certificate_carries_a_person_id_and_a_renewal_keeps_it(setup: Setup) -> None:
    first = keys.identity_of(keys.load_signer(setup.p12["spec"], KEY_PASS).certificate)
    assert first.person_id and first.person_id.startswith("P-")
    again = keys.issue_signer(setup.ca, setup.root / "spec-2027.p12", KEY_PASS,
                              name="Demo Specialist", email=SPEC.upper(), role="specialist")
    assert keys.identity_of(again).person_id == first.person_id
    assert [i["decision"] for i in _issues(setup.ws)] == ["new", "new", "renewal"]


def test_the_alias_under_another_role_needs_a_decision(setup: Setup) -> None:
    with pytest.raises(InputError, match=r"--same-person.*--different-person"):
        keys.issue_signer(setup.ca, setup.root / "alias.p12", KEY_PASS, name="Demo Specialist",
                          email=ALIAS, role="supervisor")
    assert not (setup.root / "alias.p12").exists()
    with pytest.raises(InputError, match="same person; use --same-person"):
        keys.issue_signer(setup.ca, setup.root / "alias.p12", KEY_PASS, name="Demo Specialist",
                          email=ALIAS, role="supervisor", same_person=False)
    assert len(keys.list_certs(setup.ws.path)) == 2  # nothing issued


def test_the_same_name_under_another_role_may_be_another_person(setup: Setup) -> None:
    cert = keys.issue_signer(setup.ca, setup.root / "namesake.p12", KEY_PASS,
                             name="Demo Specialist", email="d.specialist@cbp.example",
                             role="supervisor", same_person=False)
    spec = keys.identity_of(keys.load_signer(setup.p12["spec"], KEY_PASS).certificate)
    assert keys.identity_of(cert).person_id != spec.person_id
    last = _issues(setup.ws)[-1]
    assert last["decision"] == "different_person" and last["matched"] == [spec.person_id]


def test_the_alias_case_is_refused_when_approving(setup: Setup) -> None:
    """The alias, issued as the same person, cannot approve that person's validation."""
    keys.issue_signer(setup.ca, setup.root / "alias.p12", KEY_PASS, name="Demo Specialist",
                      email=ALIAS, role="supervisor", same_person=True)
    alias = keys.load_signer(setup.root / "alias.p12", KEY_PASS)
    spec = keys.load_signer(setup.p12["spec"], KEY_PASS)
    assert alias.identity.person_id == spec.identity.person_id
    assert _issues(setup.ws)[-1]["decision"] == "same_person"
    folder = make_report(setup, opened_by=SPEC, evidence=False)
    sign_report(folder, setup.ws, spec)
    with pytest.raises(AuthorityError, match="is the person who validated"):
        sign_report(folder, setup.ws, alias)
    sign_report(folder, setup.ws, setup_signer(setup, "sup"))
    assert verify_report(folder, setup.ws.path / "keys", setup.ws.path).ok


def test_an_alias_certificate_made_without_the_check_is_still_refused(setup: Setup,
                                                                      monkeypatch) -> None:
    """A certificate that names the alias as another person (as a CA without this check
    would issue it) still cannot approve: the mailbox is the same, when signing and when
    verifying offline."""
    monkeypatch.setattr(keys, "person_for", lambda folder, who, same: ("P-NOTTHESAME", "new", []))
    keys.issue_signer(setup.ca, setup.root / "alias.p12", KEY_PASS, name="Demo Specialist",
                      email=ALIAS, role="supervisor")
    monkeypatch.undo()
    alias = keys.load_signer(setup.root / "alias.p12", KEY_PASS)
    spec = keys.load_signer(setup.p12["spec"], KEY_PASS)
    assert alias.identity.person_id == "P-NOTTHESAME" != spec.identity.person_id
    folder = make_report(setup, opened_by=SPEC, evidence=False)
    sign_report(folder, setup.ws, spec)
    with pytest.raises(AuthorityError, match="is the person who validated"):
        sign_report(folder, setup.ws, alias)
    from ctpat_audit.trust.authority import authority_problem

    found = authority_problem("validation", "1", SPEC, alias.identity, "approved",
                              [{"meaning": "validated", "email": SPEC, "signer": "Demo "
                                "Specialist", "person_id": spec.identity.person_id}], None)
    assert found is not None and found[0] == "same_person"


def setup_signer(setup: Setup, who: str) -> keys.Signer:
    return keys.load_signer(setup.p12[who], KEY_PASS)


def test_keys_new_asks_for_a_decision_and_logs_it(setup: Setup, monkeypatch) -> None:
    monkeypatch.setenv("KEY_PASS", KEY_PASS)
    monkeypatch.setenv("CA_PASS", CA_PASS)
    base = ["keys", "new", "-w", str(setup.ws.path), "--name", "Demo Specialist", "--email",
            ALIAS, "--role", "supervisor", "--passphrase-env", "KEY_PASS",
            "--ca-passphrase-env", "CA_PASS"]
    runner = CliRunner()
    res = runner.invoke(main, [*base, "--out", str(setup.root / "a.p12")])
    assert res.exit_code != 0 and "--same-person" in res.output
    assert not (setup.root / "a.p12").exists()
    res = runner.invoke(main, [*base, "--out", str(setup.root / "a.p12"), "--same-person"])
    assert res.exit_code == 0, res.output
    spec = keys.identity_of(keys.load_signer(setup.p12["spec"], KEY_PASS).certificate)
    assert f"person {spec.person_id}" in res.output
    assert _issues(setup.ws)[-1] == {
        "name": "Demo Specialist", "email": ALIAS, "role": "supervisor", "account_id": None,
        "person_id": spec.person_id, "decision": "same_person",
        "fingerprint": keys.fingerprint(keys.load_signer(setup.root / "a.p12",
                                                         KEY_PASS).certificate),
        "matched": [spec.person_id]}


def test_keys_demo_never_gives_the_ca_the_keys_passphrase(tmp_path: Path, monkeypatch) -> None:
    ws = make_workspace(tmp_path / "ws")
    monkeypatch.setenv("DEMO_PASS", "demo-passphrase")
    res = CliRunner().invoke(main, ["keys", "demo", "-w", str(ws.path), "--passphrase-env",
                                    "DEMO_PASS", "--ca-passphrase-env", "DEMO_PASS"])
    assert res.exit_code != 0 and "other than the demo keys" in res.output
    res = CliRunner().invoke(main, ["keys", "demo", "-w", str(ws.path), "--passphrase-env",
                                    "DEMO_PASS"])
    assert res.exit_code == 0, res.output
    with pytest.raises(keys.KeyStoreError, match="wrong passphrase"):
        keys.load_ca(ws.path, "demo-passphrase")


def test_a_report_approved_by_the_validators_alias_does_not_verify(setup: Setup,
                                                                   monkeypatch) -> None:
    """What the probe made verify: the alias approval, forced past the signing check, is
    refused by offline verification (identity taken from the certificates)."""
    from ctpat_audit.trust import signing

    keys.issue_signer(setup.ca, setup.root / "alias.p12", KEY_PASS, name="Demo Specialist",
                      email=ALIAS, role="supervisor", same_person=True)
    alias = keys.load_signer(setup.root / "alias.p12", KEY_PASS)
    folder = make_report(setup, opened_by=SPEC, evidence=False)
    sign_report(folder, setup.ws, keys.load_signer(setup.p12["spec"], KEY_PASS))
    monkeypatch.setattr(signing, "authority_problem", lambda *a, **k: None)
    sign_report(folder, setup.ws, alias)
    monkeypatch.undo()
    check = verify_report(folder, setup.ws.path / "keys")
    assert not check.ok
    assert any("no authority" in p and "is the person who validated" in p
               for p in check.problems)


def test_demo_keys_issue_a_namesake_under_another_role_as_another_person(tmp_path: Path) -> None:
    from ctpat_audit.trust.signing import demo_keys

    ws = make_workspace(tmp_path / "ws")
    made = demo_keys(ws, "demo-passphrase", specialists=["pat.lee@cbp.example"],
                     supervisor="pat.lee@cbp.gov", ca_passphrase="demo-ca-passphrase")
    who = {e: keys.load_signer(p, "demo-passphrase").identity for e, p in made.items()}
    assert who["pat.lee@cbp.example"].name == who["pat.lee@cbp.gov"].name == "Pat Lee"
    assert who["pat.lee@cbp.example"].person_id != who["pat.lee@cbp.gov"].person_id
    assert [i["decision"] for i in _issues(ws)] == ["new", "different_person"]
    (tmp_path / "ws" / "demo-keys" / "supervisor-pat.lee_cbp.gov.p12").unlink()
    again = demo_keys(ws, "demo-passphrase", specialists=["pat.lee@cbp.example"],
                      supervisor="pat.lee@cbp.gov", ca_passphrase="demo-ca-passphrase")
    renewed = keys.load_signer(again["pat.lee@cbp.gov"], "demo-passphrase").identity
    assert renewed.person_id == who["pat.lee@cbp.gov"].person_id
    assert _issues(ws)[-1]["decision"] == "renewal"


def test_renewing_a_certificate_of_a_person_settled_under_two_roles_asks_nothing(
        setup: Setup) -> None:
    keys.issue_signer(setup.ca, setup.root / "alias.p12", KEY_PASS, name="Demo Specialist",
                      email=ALIAS, role="supervisor", same_person=True)
    renewed = keys.issue_signer(setup.ca, setup.root / "alias-2.p12", KEY_PASS,
                                name="Demo Specialist", email=ALIAS, role="supervisor")
    spec = keys.identity_of(keys.load_signer(setup.p12["spec"], KEY_PASS).certificate)
    assert keys.identity_of(renewed).person_id == spec.person_id
    assert _issues(setup.ws)[-1]["decision"] == "renewal"
