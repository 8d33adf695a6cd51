"""The team's people and roles: the ``people`` table (logged), identity from the team server
(``JUPYTERHUB_USER``) and the role checks at the API's entry points; the hub's gate and
pre-spawn hook without a browser (the browser test drives a real hub)."""
from __future__ import annotations

import json
import os
import sqlite3
import stat
from pathlib import Path
from types import SimpleNamespace

import pytest
from click.testing import CliRunner
from session_helpers import ACCOUNT, CRITERIA, OFFICER, make_workspace
from signing_helpers import KEY_PASS, SPECIALIST, SUPERVISOR, Setup, make_report, make_setup
from tornado import web

from ctpat_audit.analysis.portfolio import portfolio
from ctpat_audit.batch.run import run_batch
from ctpat_audit.cli import main
from ctpat_audit.core.errors import AccessError, InputError
from ctpat_audit.server import hub_config
from ctpat_audit.server.lab import person_parameter
from ctpat_audit.sessions.session import open_session, resume_session
from ctpat_audit.trust import keys
from ctpat_audit.trust.people import add_person, list_people, set_active
from ctpat_audit.trust.signing import sign_report
from ctpat_audit.workspace import people
from ctpat_audit.workspace.audit import verify_audit_log

HUB = people.HUB_USER_ENV


def _entries(ws, *actions: str) -> list[tuple[str, str, dict, dict]]:
    conn = sqlite3.connect(ws.db_path)
    try:
        rows = conn.execute(f"SELECT actor, action, target, new_value FROM audit_log WHERE "
                            f"action IN ({', '.join('?' * len(actions))}) ORDER BY seq",
                            actions).fetchall()
    finally:
        conn.close()
    return [(a, x, json.loads(t), json.loads(n)) for a, x, t, n in rows]


@pytest.fixture
def team(tmp_path: Path) -> Setup:
    """The signing set-up (CA, keys of Sam Spec and Sue Sup) with three people."""
    setup = make_setup(tmp_path)
    add_person(setup.ws, "sam", "Sam Spec", SPECIALIST, "specialist")
    add_person(setup.ws, "sue", "Sue Sup", SUPERVISOR, "supervisor")
    add_person(setup.ws, "ada", "Ada Admin", "ada.admin@cbp.example", "admin")
    return setup


# --- the people table ------------------------------------------------------------------------

def test_people_are_added_listed_deactivated_and_logged(tmp_path, monkeypatch):
    ws = make_workspace(tmp_path / "ws")
    p = add_person(ws, "ana", " Ana Diaz ", "Ana.Diaz@CBP.example", "specialist")
    assert (p.name, p.email, p.role, p.active, p.person_id) == (
        "Ana Diaz", "ana.diaz@cbp.example", "specialist", True, None)
    assert p.added_by.endswith("(system account)")
    with pytest.raises(InputError, match="not yet in this workspace's people"):
        add_person(ws, "ana", "Ana Again", "ana2@cbp.example", "specialist")
    with pytest.raises(InputError, match="the mailbox of Ana Diaz"):
        add_person(ws, "ana2", "Ana Two", "ana.diaz+x@cbp.example", "specialist")
    for bad in ("Ana", "ana diaz", "../x", ""):
        with pytest.raises(InputError, match="hub user"):
            add_person(ws, bad, "X", "x@cbp.example", "specialist")
    with pytest.raises(InputError, match="specialist, supervisor, admin"):
        add_person(ws, "bo", "Bo", "bo@cbp.example", "partner")
    assert not set_active(ws, "ana", False).active
    assert set_active(ws, "ana", False).active is False  # no change, no entry
    assert set_active(ws, "ana", True).active
    assert [(x, t["hub_user"], n) for _a, x, t, n in _entries(ws, *people.PERSON_ACTIONS)] == [
        ("person_add", "ana", {"name": "Ana Diaz", "email": "ana.diaz@cbp.example",
                               "role": "specialist", "active": True, "person_id": None}),
        ("person_active", "ana", {"active": False}), ("person_active", "ana", {"active": True})]
    conn = ws.connect(readonly=True)
    try:
        assert verify_audit_log(conn).ok
    finally:
        conn.close()


def test_people_cli_add_list_deactivate(tmp_path):
    ws = make_workspace(tmp_path / "ws")
    run = CliRunner().invoke
    w = ["-w", str(ws.path)]
    res = run(main, ["people", "add", *w, "--hub-user", "sue", "--name", "Sue Sup", "--email",
                     SUPERVISOR, "--role", "supervisor"])
    assert res.exit_code == 0, res.output
    assert "added Sue Sup <sue.sup@cbp.example> (hub user sue, supervisor)" in res.output
    res = run(main, ["people", "add", *w, "--hub-user", "sue", "--name", "X", "--email",
                     "x@cbp.example", "--role", "specialist"])
    assert res.exit_code == 1 and "error: hub user" in res.output
    res = run(main, ["people", "deactivate", *w, "sue"])
    assert res.exit_code == 0 and "deactivated" in res.output
    res = run(main, ["people", "list", *w])
    assert "sue" in res.output and "supervisor" in res.output and " no " in res.output
    res = run(main, ["people", "deactivate", *w, "nobody"])
    assert res.exit_code == 1 and "no person 'nobody'" in res.output


def test_a_person_takes_the_person_id_of_their_certificates(team):
    spec = keys.identity_of(team.signer("spec").certificate)
    assert {p.hub_user: p.person_id for p in list_people(team.ws)}["sam"] == spec.person_id
    # a person added before their certificate gets its id when it is issued
    add_person(team.ws, "olga", "Olga Late", "olga.late@cbp.example", "specialist")
    cert = keys.issue_signer(team.ca, team.root / "olga.p12", KEY_PASS, name="Olga Late",
                             email="olga.late@cbp.example", role="specialist")
    olga = {p.hub_user: p for p in list_people(team.ws)}["olga"]
    assert olga.person_id == keys.identity_of(cert).person_id
    assert _entries(team.ws, "person_link")[-1][2:] == ({"hub_user": "olga"},
                                                       {"person_id": olga.person_id})
    with pytest.raises(InputError, match="person id"):
        add_person(team.ws, "zed", "Zed", "zed@cbp.example", "specialist",
                   person_id="P-NOSUCHONE")


# --- identity and roles under the team server ----------------------------------------------

def test_outside_the_team_server_nothing_is_looked_up(team):
    assert people.hub_user() is None
    assert people.require(team.ws, "portfolio") is None
    assert people.acting(team.ws, "anyone@cbp.example") == "anyone@cbp.example"


def test_the_signed_in_person_acts_whatever_is_typed(team, monkeypatch):
    monkeypatch.setenv(HUB, "sam")
    with pytest.raises(AccessError, match=r"names 'sue\.sup@cbp\.example'") as e:
        open_session(team.ws, ACCOUNT, "validation", "virtual", SUPERVISOR, criteria=CRITERIA,
                     catalogue_version="test")
    assert e.value.rule == "identity_mismatch"
    with open_session(team.ws, ACCOUNT, "validation", "virtual", "", criteria=CRITERIA,
                      catalogue_version="test") as s:
        assert s.opened_by == s.actor == SPECIALIST
        s.answer("1.1", status="meets")
        with pytest.raises(AccessError, match="names"):
            s.answer("3.1", status="meets", actor=SUPERVISOR)
        s.submit(reason="test")
        sid = s.id
    assert {a for a, *_ in _entries(team.ws, "open_session", "answer", "submit")} == {SPECIALIST}
    assert person_parameter(team.ws.path, "specialist", "") == SPECIALIST
    assert person_parameter(team.ws.path, "specialist", "SAM") == SPECIALIST
    with pytest.raises(AccessError, match="the notebook parameter specialist names"):
        person_parameter(team.ws.path, "specialist", SUPERVISOR)
    # resuming: the actor is the signed-in person, not who opened the session
    monkeypatch.setenv(HUB, "sue")
    with resume_session(team.ws, sid) as s:
        assert s.actor == SUPERVISOR


def test_roles_are_enforced_at_the_entry_points(team, tmp_path, monkeypatch):
    monkeypatch.setenv(HUB, "sam")
    with pytest.raises(AccessError, match=r"Sam Spec \(sam\) is a specialist and may not open "
                                          "the portfolio: a supervisor may do that") as e:
        portfolio(team.ws, __import__("datetime").date(2026, 11, 1))
    assert e.value.rule == "role"
    with pytest.raises(AccessError, match="may not run the batch"):
        run_batch(team.ws.path, out=tmp_path / "reports", progress=False)
    with pytest.raises(AccessError, match="may not manage signing keys"):
        keys.issue_signer(team.ca, tmp_path / "x.p12", KEY_PASS, name="X Y",
                          email="x.y@cbp.example", role="specialist")
    with pytest.raises(AccessError, match="may not manage the people"):
        add_person(team.ws, "bo", "Bo", "bo@cbp.example", "specialist")
    with pytest.raises(AccessError, match="partners do it in their own install"):
        open_session(team.ws, ACCOUNT, "self_assessment", None, "", criteria=CRITERIA,
                     catalogue_version="test")
    monkeypatch.setenv(HUB, "sue")
    assert people.require(team.ws, "portfolio").hub_user == "sue"
    assert people.require(team.ws, "batch").role == "supervisor"
    with pytest.raises(AccessError, match="may not manage signing keys"):
        keys.revoke(team.ca, 1)
    monkeypatch.setenv(HUB, "ada")
    with pytest.raises(AccessError, match="may not open or answer validations"):
        open_session(team.ws, ACCOUNT, "validation", "virtual", "", criteria=CRITERIA,
                     catalogue_version="test")
    bo = add_person(team.ws, "bo", "Bo New", "bo.new@cbp.example", "specialist")
    assert bo.added_by == "ada.admin@cbp.example"
    keys.issue_signer(team.ca, tmp_path / "bo.p12", KEY_PASS, name="Bo New",
                      email="bo.new@cbp.example", role="specialist")


def test_unknown_deactivated_and_edited_people_are_refused(team, monkeypatch):
    monkeypatch.setenv(HUB, "nobody")
    with pytest.raises(AccessError, match="is not one of this workspace's people") as e:
        people.require(team.ws, "validate")
    assert e.value.rule == "not_in_people"
    monkeypatch.setenv(HUB, "sam")
    s = open_session(team.ws, ACCOUNT, "validation", "virtual", "", criteria=CRITERIA,
                     catalogue_version="test")
    monkeypatch.delenv(HUB)
    set_active(team.ws, "sam", False)
    monkeypatch.setenv(HUB, "sam")
    with pytest.raises(AccessError, match="deactivated") as e:
        s.answer("1.1", status="meets")  # the session was open; the next change is refused
    assert e.value.rule == "inactive"
    s.close()
    monkeypatch.delenv(HUB)
    set_active(team.ws, "sam", True)
    conn = sqlite3.connect(team.ws.db_path)
    conn.execute("UPDATE people SET role = 'supervisor' WHERE hub_user = 'sam'")
    conn.commit()
    conn.close()
    monkeypatch.setenv(HUB, "sam")
    with pytest.raises(AccessError, match="changed outside ctpat-audit") as e:
        people.require(team.ws, "portfolio")
    assert e.value.rule == "record"


def test_signing_on_the_team_server_needs_the_role_and_ones_own_key(team, monkeypatch):
    monkeypatch.setenv(HUB, "sam")
    folder = make_report(team, opened_by="", evidence=False)
    with pytest.raises(AccessError, match="this key belongs to Sue Sup"):
        sign_report(folder, team.ws, team.signer("sup"), "validated")
    with pytest.raises(AccessError, match="may not approve a validation"):
        sign_report(folder, team.ws, team.signer("spec"), "approved")
    assert sign_report(folder, team.ws, team.signer("spec"))["meaning"] == "validated"
    monkeypatch.setenv(HUB, "sue")
    with pytest.raises(AccessError, match="this key belongs to Sam Spec"):
        sign_report(folder, team.ws, team.signer("spec"), "approved")
    assert sign_report(folder, team.ws, team.signer("sup"))["meaning"] == "approved"
    signed = [(a, n["meaning"]) for a, _x, _t, n in _entries(team.ws, "sign")]
    assert signed == [(SPECIALIST, "validated"), (SUPERVISOR, "approved")]


# --- the hub's gate and pre-spawn hook -------------------------------------------------------

def test_hub_state_is_private_and_created_once(tmp_path):
    ws = make_workspace(tmp_path / "ws")
    files = hub_config.prepare_state(ws.path)
    secret = files["cookie_secret"].read_text()
    assert len(secret.strip()) == 64
    assert stat.S_IMODE(files["folder"].stat().st_mode) == 0o700
    for name in ("cookie_secret", "db"):
        assert stat.S_IMODE(files[name].stat().st_mode) == 0o600
    os.chmod(files["cookie_secret"], 0o644)
    hub_config.prepare_state(ws.path)
    assert files["cookie_secret"].read_text() == secret
    assert stat.S_IMODE(files["cookie_secret"].stat().st_mode) == 0o600


def test_the_gate_lets_in_active_people_only_and_makes_admins(team):
    gate = hub_config.TeamAuthenticator(workspace=str(team.ws.path))
    assert gate.check_allowed("sam") is True
    assert gate.is_admin(None, {"name": "ada"}) and not gate.is_admin(None, {"name": "sue"})
    with pytest.raises(web.HTTPError) as e:
        gate.check_allowed("mallory")
    assert e.value.status_code == 403 and "ctpat-audit people add" in e.value.log_message
    set_active(team.ws, "sue", False)
    with pytest.raises(web.HTTPError, match="deactivated"):
        gate.check_allowed("sue")


def test_the_pre_spawn_hook_opens_the_notebooks_of_the_role(team, tmp_path):
    gate = hub_config.TeamAuthenticator(workspace=str(team.ws.path))

    def spawner(name: str) -> SimpleNamespace:
        return SimpleNamespace(authenticator=gate, user=SimpleNamespace(name=name),
                               notebook_dir="", default_url="")

    sue = spawner("sue")
    hub_config.prepare_server(sue)
    folder = Path(sue.notebook_dir)
    assert folder == team.ws.path / "notebooks" / SUPERVISOR
    assert sorted(p.name for p in folder.glob("*.ipynb")) == ["portfolio.ipynb",
                                                             "validation.ipynb"]
    assert sue.default_url == "/lab/tree/portfolio.ipynb"
    sam = spawner("sam")
    hub_config.prepare_server(sam)
    assert [p.name for p in Path(sam.notebook_dir).glob("*.ipynb")] == ["validation.ipynb"]
    with pytest.raises(web.HTTPError):
        hub_config.prepare_server(spawner("eve"))
    assert not (team.ws.path / "notebooks" / "eve").exists()
    assert OFFICER  # the partner's officer has no account: partners are not people here


def test_hub_command_prints_the_config_file_and_needs_a_workspace(monkeypatch):
    monkeypatch.delenv("CTPAT_WORKSPACE", raising=False)
    res = CliRunner().invoke(main, ["hub", "--config-file"])
    assert res.exit_code == 0 and res.output.strip() == str(hub_config.CONFIG_FILE)
    assert "configure(c, workspace=" in hub_config.CONFIG_FILE.read_text()
    res = CliRunner().invoke(main, ["hub"])
    assert res.exit_code == 2 and "-w PATH" in res.output
