"""Signing a report folder: authority, PAdES signatures, manifest, audit log, session lock."""
from __future__ import annotations

import io
import json
import re
from pathlib import Path

import pytest
from session_helpers import ACCOUNT, OFFICER
from signing_helpers import CA_PASS, KEY_PASS, SPECIALIST, Setup, make_report, make_setup

from ctpat_audit.core.errors import (
    AuthorityError,
    InputError,
    KeyStoreError,
    SessionRuleError,
    SigningError,
)
from ctpat_audit.sessions.session import resume_session
from ctpat_audit.trust import keys
from ctpat_audit.trust.signing import MANIFEST, authority_problem, demo_keys, file_sha256, sign_report
from ctpat_audit.trust.verify import verify_report
from ctpat_audit.workspace import audit, db


@pytest.fixture(scope="module")
def setup(tmp_path_factory) -> Setup:
    return make_setup(tmp_path_factory.mktemp("signing"))


def _audit(setup: Setup, session_id: str) -> list[dict]:
    conn = db.connect(setup.ws.db_path)
    try:
        frame = audit.audit_entries(conn, session_id)
        assert audit.verify_audit_log(conn).ok
        return frame.to_dict("records")
    finally:
        conn.close()


def _status(setup: Setup, sid: str) -> str:
    with resume_session(setup.ws, sid) as s:
        return s.status


def test_specialist_signs_then_supervisor_countersigns(setup: Setup) -> None:
    from pyhanko.pdf_utils.reader import PdfFileReader

    folder = make_report(setup)
    sid = folder.name
    first = sign_report(folder, setup.ws, setup.signer("spec"))
    assert first["meaning"] == "validated" and first["label"] == "Validated by"
    assert _status(setup, sid) == "signed"
    second = sign_report(folder, setup.ws, setup.signer("sup"))
    assert second["meaning"] == "approved"

    manifest = json.loads((folder / MANIFEST).read_text())
    assert manifest["report"] == {"session_id": sid, "account_id": ACCOUNT, "kind": "validation",
                                  "mode": "virtual", "opened_by": SPECIALIST, "supersedes": None}
    paths = {a["path"]: a for a in manifest["artifacts"]}
    assert {"report.pdf", "report.html", "report.ipynb", "report.xlsx"} <= set(paths)
    ev = [a for a in manifest["artifacts"] if a["kind"] == "evidence"]
    assert len(ev) == 1 and ev[0]["evidence"][0]["name"] == "seal log.pdf"
    assert ev[0]["path"] == f"evidence/{ev[0]['sha256']}.pdf"
    for rel, art in paths.items():
        assert file_sha256(folder / rel) == art["sha256"]
    assert [s["meaning"] for s in manifest["signatures"]] == ["validated", "approved"]
    assert manifest["signatures"][1]["pdf_sha256"] == paths["report.pdf"]["sha256"]
    assert manifest["provenance"]["catalogue_version"] == "test"
    assert manifest["provenance"]["package_version"]

    entries = _audit(setup, sid)
    signs = [e for e in entries if e["action"] == "sign"]
    assert len(signs) == 2 and any(e["action"] == "lock" for e in entries)
    assert manifest["provenance"]["audit_log_head"] == signs[-1]["hash"]
    assert json.loads(signs[0]["new_value"])["cert_fingerprint"] == \
        manifest["signatures"][0]["cert_fingerprint"]

    reader = PdfFileReader(io.BytesIO((folder / "report.pdf").read_bytes()))
    assert [s.field_name for s in reader.embedded_signatures] == ["ctpat-validated",
                                                                  "ctpat-approved"]
    assert verify_report(folder, setup.ws.path / "keys").ok


def test_pyhanko_validator_accepts_the_signed_pdf(setup: Setup) -> None:
    """pyHanko's own validator, used directly: intact, valid, trusted, PAdES, two revisions."""
    from asn1crypto import x509 as asn1_x509
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.validation import validate_pdf_signature
    from pyhanko_certvalidator import ValidationContext

    folder = make_report(setup, evidence=False)
    sign_report(folder, setup.ws, setup.signer("spec"))
    sign_report(folder, setup.ws, setup.signer("sup"))
    root = asn1_x509.Certificate.load(setup.ca.certificate.public_bytes(
        __import__("cryptography.hazmat.primitives.serialization", fromlist=["Encoding"])
        .Encoding.DER))
    reader = PdfFileReader(io.BytesIO((folder / "report.pdf").read_bytes()))
    for emb in reader.embedded_signatures:
        status = validate_pdf_signature(emb, ValidationContext(trust_roots=[root]))
        assert status.bottom_line, status.pretty_print_details()
        assert emb.sig_object["/SubFilter"] == "/ETSI.CAdES.detached"


def test_visible_stamp_shows_name_role_time_and_meaning(setup: Setup) -> None:
    import pdfplumber

    folder = make_report(setup, evidence=False)
    sign_report(folder, setup.ws, setup.signer("spec"))
    sign_report(folder, setup.ws, setup.signer("sup"))
    from pyhanko.pdf_utils.reader import PdfFileReader

    reader = PdfFileReader(io.BytesIO((folder / "report.pdf").read_bytes()))
    texts = []
    for emb in reader.embedded_signatures:
        ap = emb.sig_field["/AP"]["/N"]
        texts.append(ap.get_object().data.decode("latin-1"))
    # PDF string literals escape ':' and '-' as octal (\072); undo that to read the text
    joined = re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), "\n".join(texts))
    for needle in ("Validated by: Sam Spec", "Role: Specialist", "Approved by: Sue Sup",
                   "Role: Supervisor", " UTC", folder.name):
        assert needle in joined, needle
    with pdfplumber.open(folder / "report.pdf") as pdf:
        assert len(pdf.pages) == 2


def test_specialist_who_did_not_open_the_session_is_refused_and_logged(setup: Setup) -> None:
    folder = make_report(setup)
    before = (folder / "report.pdf").read_bytes()
    with pytest.raises(AuthorityError) as err:
        sign_report(folder, setup.ws, setup.signer("spec2"))
    assert err.value.rule == "not_session_specialist"
    assert "opened by sam.spec@cbp.example" in str(err.value)
    refused = [e for e in _audit(setup, folder.name) if e["action"] == "sign_refused"]
    assert len(refused) == 1 and refused[0]["actor"] == "olga.spec@cbp.example"
    assert json.loads(refused[0]["new_value"])["rule"] == "not_session_specialist"
    assert (folder / "report.pdf").read_bytes() == before
    assert not (folder / MANIFEST).exists()
    assert _status(setup, folder.name) == "open"


@pytest.mark.parametrize("who, meaning, rule", [
    ("sup", None, "needs_specialist_first"),
    ("sup", "validated", "wrong_role"),
    ("officer", "submitted", "wrong_kind"),
    ("spec", "approved", "wrong_role"),
])
def test_validation_signing_order_and_roles(setup: Setup, who: str, meaning: str | None,
                                            rule: str) -> None:
    folder = make_report(setup, evidence=False)
    with pytest.raises(AuthorityError) as err:
        sign_report(folder, setup.ws, setup.signer(who), meaning)
    assert err.value.rule == rule
    assert any(e["action"] == "sign_refused" for e in _audit(setup, folder.name))


def test_no_double_signing(setup: Setup) -> None:
    folder = make_report(setup, evidence=False)
    sign_report(folder, setup.ws, setup.signer("spec"))
    with pytest.raises(AuthorityError) as err:
        sign_report(folder, setup.ws, setup.signer("spec"))
    assert err.value.rule == "already_signed"
    sign_report(folder, setup.ws, setup.signer("sup"))
    with pytest.raises(AuthorityError) as err:
        sign_report(folder, setup.ws, setup.signer("sup"))
    assert err.value.rule == "already_signed"


def test_self_assessment_only_by_its_company_officer(setup: Setup) -> None:
    folder = make_report(setup, kind="self_assessment", opened_by=OFFICER)
    for who, rule in (("user", "not_company_officer"), ("other_officer", "wrong_partner"),
                      ("spec", "wrong_kind"), ("sup", "wrong_kind")):
        with pytest.raises(AuthorityError) as err:
            sign_report(folder, setup.ws, setup.signer(who))
        assert err.value.rule == rule, who
    entry = sign_report(folder, setup.ws, setup.signer("officer"))
    assert entry["label"] == "Submitted by Company Officer"
    info = resume_session(setup.ws, folder.name).info()
    assert info["status"] == "signed" and info["submitted_by"] == OFFICER
    refused = [e for e in _audit(setup, folder.name) if e["action"] == "sign_refused"]
    assert len(refused) == 4
    assert verify_report(folder, setup.ws.path / "keys").ok


def test_officer_role_is_checked_in_the_contacts_table_at_signing_time(tmp_path: Path) -> None:
    setup = make_setup(tmp_path)
    folder = make_report(setup, kind="self_assessment", opened_by=OFFICER, evidence=False)
    conn = db.connect(setup.ws.db_path)
    with db.write(conn):
        conn.execute("UPDATE contacts SET role = 'Admin' WHERE email = ?", (OFFICER,))
    conn.close()
    with pytest.raises(AuthorityError) as err:
        sign_report(folder, setup.ws, setup.signer("officer"))
    assert err.value.rule == "not_company_officer" and "Admin" in str(err.value)


def test_signed_session_is_locked_and_revised_by_new_revision(setup: Setup) -> None:
    folder = make_report(setup, evidence=False)
    sign_report(folder, setup.ws, setup.signer("spec"))
    with resume_session(setup.ws, folder.name) as s:
        with pytest.raises(SessionRuleError) as err:
            s.answer("1.1", status="meets")
        assert err.value.rule == "session_not_open"
        new = s.new_revision(SPECIALIST)
        assert new.supersedes == folder.name and new.status == "open"
        new.close()


def test_foreign_or_revoked_certificate_is_refused_at_signing(setup: Setup,
                                                              tmp_path: Path) -> None:
    foreign_ca = keys.init_ca(tmp_path / "other-ws", CA_PASS)
    p12 = tmp_path / "foreign.p12"
    keys.issue_signer(foreign_ca, p12, KEY_PASS, name="Sam Spec", email=SPECIALIST,
                      role="specialist")
    folder = make_report(setup, evidence=False)
    with pytest.raises(AuthorityError) as err:
        sign_report(folder, setup.ws, keys.load_signer(p12, KEY_PASS))
    assert err.value.rule == "untrusted_certificate"

    revoked = tmp_path / "revoked.p12"
    cert = keys.issue_signer(setup.ca, revoked, KEY_PASS, name="Sam Spec", email=SPECIALIST,
                             role="specialist")
    keys.revoke(setup.ca, cert.serial_number)
    with pytest.raises(AuthorityError) as err:
        sign_report(folder, setup.ws, keys.load_signer(revoked, KEY_PASS))
    assert err.value.rule == "untrusted_certificate" and "revoked" in str(err.value)


def test_tampered_report_is_not_countersigned(setup: Setup) -> None:
    folder = make_report(setup, evidence=False)
    sign_report(folder, setup.ws, setup.signer("spec"))
    (folder / "report.html").write_text("<html>changed</html>")
    with pytest.raises(SigningError, match=r"report\.html"):
        sign_report(folder, setup.ws, setup.signer("sup"))


def test_countersigning_with_the_quick_prior_check_still_refuses_changed_files(
        setup: Setup) -> None:
    """check_prior=False (the batch worker, which signed the folder itself a moment ago)
    skips the signatures' cryptography, not the files: a changed file is still refused."""
    folder = make_report(setup, evidence=False)
    sign_report(folder, setup.ws, setup.signer("spec"))
    before = (folder / "manifest.json").read_bytes()
    (folder / "report.html").write_text("<html>changed</html>")
    with pytest.raises(SigningError, match=r"report\.html"):
        sign_report(folder, setup.ws, setup.signer("sup"), check_prior=False)
    assert (folder / "manifest.json").read_bytes() == before  # nothing countersigned


def test_missing_pdf_is_a_clear_error(setup: Setup, tmp_path: Path) -> None:
    with pytest.raises(SigningError, match=r"no report\.pdf"):
        sign_report(tmp_path, setup.ws, setup.signer("spec"))


def test_authority_rules_are_pure() -> None:
    spec = keys.SignerIdentity("A", "a@x.example", "specialist")
    assert authority_problem("validation", "1", "A@x.example", spec, "validated", [], None) is None
    sup = keys.SignerIdentity("S", "a@x.example", "supervisor")
    found = authority_problem("validation", "1", "a@x.example", sup, "approved",
                              [{"meaning": "validated", "email": "a@x.example"}], None)
    assert found and found[0] == "same_person"
    assert authority_problem("validation", "1", "x", spec, "blessed", [], None)[0] == \
        "unknown_meaning"


def test_demo_keys_without_a_ca_passphrase_leave_a_ca_no_key_holder_can_open(
        tmp_path: Path) -> None:
    from session_helpers import make_workspace

    ws = make_workspace(tmp_path / "ws")
    made = demo_keys(ws, "demo-passphrase")
    assert len(made) == 2 and keys.has_ca(ws.path)
    with pytest.raises(KeyStoreError, match="wrong passphrase"):
        keys.load_ca(ws.path, "demo-passphrase")


def test_demo_keys(tmp_path: Path) -> None:
    from session_helpers import make_workspace

    ws = make_workspace(tmp_path / "ws")
    made = demo_keys(ws, "demo-passphrase", ca_passphrase="demo-ca-passphrase")
    assert set(made) == {"demo.specialist@cbp.example", "demo.supervisor@cbp.example"}
    roles = {keys.load_signer(p, "demo-passphrase").identity.role for p in made.values()}
    assert roles == {"specialist", "supervisor"}
    with pytest.raises(KeyStoreError, match="wrong passphrase"):  # a key holder is no CA
        keys.load_ca(ws.path, "demo-passphrase")
    with pytest.raises(InputError, match="other than the demo keys"):
        demo_keys(ws, "demo-passphrase", ca_passphrase="demo-passphrase",
                  officer_accounts=[ACCOUNT])
    with pytest.raises(KeyStoreError, match="give its passphrase"):
        demo_keys(ws, "demo-passphrase", officer_accounts=[ACCOUNT])
    assert demo_keys(ws, "demo-passphrase") == made  # nothing to issue: no CA needed
    made2 = demo_keys(ws, "demo-passphrase", officer_accounts=[ACCOUNT],
                      ca_passphrase="demo-ca-passphrase")
    officer = keys.load_signer(made2[f"{OFFICER}#{ACCOUNT}"], "demo-passphrase").identity
    assert (officer.role, officer.account_id, officer.email) == ("company_officer", ACCOUNT,
                                                                OFFICER)


def test_notebook_sign_panel_signs_refuses_and_clears_the_passphrase(setup: Setup) -> None:
    from ctpat_audit.ui.sign_panel import sign_panel

    folder = make_report(setup, evidence=False)
    panel = sign_panel(folder, setup.ws, setup.p12["spec2"])
    panel.passphrase.value = KEY_PASS
    panel.sign_button.click()
    assert "Not signed" in panel.status.value and "opened by" in panel.status.value
    assert panel.passphrase.value == ""
    panel.key.value = str(setup.p12["spec"])
    panel.passphrase.value = "wrong-passphrase"
    panel.sign_button.click()
    assert "wrong passphrase" in panel.status.value
    panel.passphrase.value = KEY_PASS
    panel.sign_button.click()
    assert "Validated by" in panel.status.value and "VERIFIED" in panel.status.value
    assert panel.passphrase.value == ""


def test_stamps_go_under_the_signatures_heading(setup: Setup) -> None:
    from fpdf import FPDF
    from pyhanko.pdf_utils.reader import PdfFileReader

    from ctpat_audit.trust.signing import stamp_box

    folder = make_report(setup, evidence=False)
    pdf = FPDF(unit="pt", format="A4")  # 595 x 842 pt
    pdf.set_font("helvetica", size=12)
    pdf.add_page()
    pdf.text(40, 300, "Signatures")  # baseline 300 pt from the top
    pdf.text(40, 700, "Appendix text that a stamp must not cover")
    (folder / "report.pdf").write_bytes(bytes(pdf.output()))
    page, box = stamp_box((folder / "report.pdf").read_bytes(), 0)
    assert page == 0 and 842 - 300 - 90 < box[1] < box[3] < 842 - 300
    sign_report(folder, setup.ws, setup.signer("spec"))
    sign_report(folder, setup.ws, setup.signer("sup"))
    reader = PdfFileReader(io.BytesIO((folder / "report.pdf").read_bytes()))
    rects = [[float(v) for v in e.sig_field["/Rect"]] for e in reader.embedded_signatures]
    assert rects[0][1] == box[1] and rects[1][0] > rects[0][2]  # second stamp to the right
    assert all(r[3] < 842 - 300 and r[1] > 842 - 700 for r in rects)
    # no heading: the bottom of the last page
    assert stamp_box(_pdf_without_heading(), 2)[1][1] == 30 + 84


def _pdf_without_heading() -> bytes:
    from fpdf import FPDF

    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("helvetica", size=12)
    pdf.cell(0, 10, "no heading here")
    return bytes(pdf.output())


def test_demo_flow_keys_demo_sign_countersign_verify_cli(tmp_path: Path, monkeypatch) -> None:
    """What `make demo` runs: demo keys, sign with --key-dir twice, verify."""
    from click.testing import CliRunner
    from session_helpers import make_workspace

    from ctpat_audit.cli import main

    ws = make_workspace(tmp_path / "ws")
    ws_setup = Setup(tmp_path, ws, None, {})  # type: ignore[arg-type]  # no keys yet
    folder = make_report(ws_setup)
    monkeypatch.setenv("DEMO_PASS", "demo-passphrase")
    runner = CliRunner()
    res = runner.invoke(main, ["keys", "demo", "-w", str(ws_setup.ws.path), "--passphrase-env",
                               "DEMO_PASS"])
    assert res.exit_code == 0, res.output
    assert SPECIALIST in res.output and "demo.supervisor@cbp.example" in res.output
    common = ["--workspace", str(ws_setup.ws.path), "--key-dir",
              str(ws_setup.ws.path / "demo-keys"), "--passphrase-env", "DEMO_PASS"]
    for meaning, who in (("validated", "Sam Spec"), ("approved", "Demo Supervisor")):
        res = runner.invoke(main, ["sign", str(folder), "--meaning", meaning, *common])
        assert res.exit_code == 0, res.output
        assert who in res.output
    res = runner.invoke(main, ["sign", str(folder), *common])
    assert res.exit_code == 1 and "no key" in res.output
    res = runner.invoke(main, ["verify", str(folder), "--trust",
                               str(ws_setup.ws.path / "keys")])
    assert res.exit_code == 0 and "VERIFIED" in res.output


def test_a_failure_while_writing_leaves_no_half_signed_report(setup: Setup,
                                                              monkeypatch) -> None:
    from ctpat_audit.trust import signing

    folder = make_report(setup, evidence=False)
    before = (folder / "report.pdf").read_bytes()

    def broken(data: bytes, signer: object) -> bytes:
        raise OSError("token removed")

    monkeypatch.setattr(signing, "sign_manifest", broken)
    with pytest.raises(OSError):
        sign_report(folder, setup.ws, setup.signer("spec"))
    assert (folder / "report.pdf").read_bytes() == before
    assert not (folder / MANIFEST).exists()
    assert not [e for e in _audit(setup, folder.name) if e["action"] == "sign"]
    monkeypatch.undo()
    sign_report(folder, setup.ws, setup.signer("spec"))  # the retry signs it properly
    assert verify_report(folder, setup.ws.path / "keys").ok


def test_a_manifest_signature_is_the_cms_pyhanko_makes_over_those_bytes(setup: Setup) -> None:
    """sign_manifest reuses one pyHanko structure per key and signs only the new signed
    attributes: the result is pyHanko's own structure (certificates and attributes byte for
    byte; only the ECDSA value differs, as it does between any two signatures), valid over
    those bytes and no others."""
    import asyncio

    from asn1crypto import cms
    from cryptography import x509

    from ctpat_audit.trust.anchoring import cms_signer
    from ctpat_audit.trust.signing import sign_manifest

    signer = setup.signer("sup")
    ca = x509.load_pem_x509_certificate((setup.ws.path / "keys" / "ca.pem").read_bytes())
    for data in (b"", b'{"format": "ctpat-audit-manifest/1"}\n', bytes(range(256)) * 400):
        ours = cms.ContentInfo.load(sign_manifest(data, signer))
        ref = cms.ContentInfo.load(asyncio.run(signer.hanko.async_sign_general_data(
            data, "sha256", detached=True)).dump())
        mine, theirs = ours["content"], ref["content"]
        for f in ("version", "digest_algorithms", "encap_content_info", "certificates"):
            assert mine[f].dump() == theirs[f].dump(), f
        a, b = mine["signer_infos"][0], theirs["signer_infos"][0]
        for f in ("version", "sid", "digest_algorithm", "signed_attrs", "signature_algorithm"):
            assert a[f].dump() == b[f].dump(), f
        assert cms_signer(data, ours.dump(), ca).subject == signer.certificate.subject
        with pytest.raises(ValueError, match="other bytes"):
            cms_signer(data + b" ", ours.dump(), ca)
