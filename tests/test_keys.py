"""The workspace CA, signer certificates, encrypted key files, revocation, and the keys CLI."""
from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID
from hypothesis import given
from hypothesis import strategies as st
from session_helpers import ACCOUNT, make_workspace

from ctpat_audit.cli import main
from ctpat_audit.core.errors import InputError
from ctpat_audit.core.identifiers import EMAIL_PATTERN
from ctpat_audit.trust import keys

CA_PASS, KEY_PASS = "ca-passphrase-1", "key-passphrase-1"


@pytest.fixture
def ca(tmp_path: Path) -> keys.CertificateAuthority:
    return keys.init_ca(tmp_path / "ws", CA_PASS)


def test_ca_is_a_p256_root_with_its_key_encrypted(ca: keys.CertificateAuthority) -> None:
    folder = ca.folder
    root = x509.load_pem_x509_certificate((folder / "ca.pem").read_bytes())
    assert isinstance(root.public_key(), ec.EllipticCurvePublicKey)
    assert root.public_key().curve.name == "secp256r1"
    assert root.issuer == root.subject
    assert root.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    data = (folder / "ca.p12").read_bytes()
    assert b"PRIVATE KEY" not in data
    with pytest.raises(ValueError):
        pkcs12.load_key_and_certificates(data, b"wrong-passphrase")
    with pytest.raises(keys.KeyStoreError, match="wrong passphrase"):
        keys.load_ca(folder.parent, "wrong-passphrase")
    again = keys.load_ca(folder.parent, CA_PASS)
    assert again.certificate == root
    assert (folder / "ca.p12").stat().st_mode & 0o077 == 0
    # init on an existing CA loads it rather than replacing the trust root
    assert keys.init_ca(folder.parent, CA_PASS).certificate == root


def test_signer_certificate_names_person_role_and_partner(ca: keys.CertificateAuthority,
                                                          tmp_path: Path) -> None:
    cert = keys.issue_signer(ca, tmp_path / "co.p12", KEY_PASS, name="Ana Officer",
                             email="Ana@Example.com", role="company_officer",
                             account_id=ACCOUNT)
    assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "Ana Officer"
    assert cert.subject.get_attributes_for_oid(NameOID.EMAIL_ADDRESS)[0].value == \
        "ana@example.com"
    assert cert.subject.get_attributes_for_oid(NameOID.ORGANIZATIONAL_UNIT_NAME)[0].value == \
        "company_officer"
    assert cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value == \
        f"CTPAT partner {ACCOUNT}"
    ku = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    assert ku.digital_signature and ku.content_commitment and not ku.key_cert_sign
    assert cert.extensions.get_extension_for_oid(keys.ROLE_OID).critical is False
    cert.verify_directly_issued_by(ca.certificate)
    who = keys.identity_of(cert)
    assert who == keys.SignerIdentity("Ana Officer", "ana@example.com", "company_officer",
                                      ACCOUNT, who.person_id)
    assert who.person_id is not None and len(who.person_id) == 12
    signer = keys.load_signer(tmp_path / "co.p12", KEY_PASS)
    assert signer.identity.account_id == ACCOUNT and signer.fingerprint == keys.fingerprint(cert)
    assert b"PRIVATE KEY" not in (tmp_path / "co.p12").read_bytes()
    with pytest.raises(keys.KeyStoreError, match="wrong passphrase"):
        keys.load_signer(tmp_path / "co.p12", "not-the-passphrase")


@pytest.mark.parametrize("kwargs, what", [
    ({"role": "company_officer"}, "account"),
    ({"role": "specialist", "account_id": ACCOUNT}, "account"),
    ({"role": "auditor"}, "role"),
    ({"role": "specialist", "email": "not-an-email"}, "email"),
    ({"role": "specialist", "name": " "}, "name"),
])
def test_bad_identities_are_refused(ca: keys.CertificateAuthority, tmp_path: Path,
                                    kwargs: dict, what: str) -> None:
    args = {"name": "X Y", "email": "x@y.example", **kwargs}
    with pytest.raises(InputError) as err:
        keys.issue_signer(ca, tmp_path / "k.p12", KEY_PASS, **args)
    assert err.value.what == what
    assert not (tmp_path / "k.p12").exists()


def test_short_passphrase_and_overwrite_are_refused(ca: keys.CertificateAuthority,
                                                    tmp_path: Path) -> None:
    with pytest.raises(InputError, match="at least 8"):
        keys.issue_signer(ca, tmp_path / "k.p12", "short", name="X", email="x@y.example",
                          role="specialist")
    keys.issue_signer(ca, tmp_path / "k.p12", KEY_PASS, name="X", email="x@y.example",
                      role="specialist")
    with pytest.raises(keys.KeyStoreError, match="never overwritten"):
        keys.issue_signer(ca, tmp_path / "k.p12", KEY_PASS, name="X", email="x@y.example",
                          role="specialist")


def test_revocation_list_is_signed_by_the_ca(ca: keys.CertificateAuthority,
                                             tmp_path: Path) -> None:
    a = keys.issue_signer(ca, tmp_path / "a.p12", KEY_PASS, name="A", email="a@y.example",
                          role="specialist")
    b = keys.issue_signer(ca, tmp_path / "b.p12", KEY_PASS, name="B", email="b@y.example",
                          role="supervisor")
    keys.revoke(ca, f"{a.serial_number:x}")
    keys.revoke(ca, a.serial_number)  # twice: still listed once
    crl = x509.load_pem_x509_crl((ca.folder / "crl.pem").read_bytes())
    assert crl.is_signature_valid(ca.certificate.public_key())
    assert [r.serial_number for r in crl] == [a.serial_number]
    listed = {r["email"]: r["revoked"] for r in keys.list_certs(ca.folder.parent)}
    assert listed == {"a@y.example": True, "b@y.example": False}
    assert b.serial_number not in {r.serial_number for r in crl}


def test_cli_keys_new_list_revoke_and_sign(tmp_path: Path, monkeypatch) -> None:
    from signing_helpers import write_pdf

    ws = make_workspace(tmp_path / "ws")
    monkeypatch.setenv("CA_PASS", CA_PASS)
    monkeypatch.setenv("KEY_PASS", KEY_PASS)
    runner = CliRunner()
    out = tmp_path / "spec.p12"
    res = runner.invoke(main, ["keys", "new", "-w", str(ws.path), "--name", "Sam Spec", "--email",
                               "sam@cbp.example", "--role", "specialist", "--out", str(out),
                               "--passphrase-env", "KEY_PASS", "--ca-passphrase-env", "CA_PASS"])
    assert res.exit_code == 0, res.output
    assert out.is_file() and (ws.path / "keys" / "ca.pem").is_file()
    # a passphrase is never accepted as a plain argument
    res = runner.invoke(main, ["keys", "new", "-w", str(ws.path), "--name", "X", "--email",
                               "x@cbp.example", "--role", "specialist", "--passphrase", "x"])
    assert res.exit_code == 2 and "No such option" in res.output
    # passphrase from a file, CA passphrase from the (hidden) prompt
    pw = tmp_path / "pw.txt"
    pw.write_text(KEY_PASS + "\n")
    res = runner.invoke(main, ["keys", "new", "-w", str(ws.path), "--name", "Ana Officer", "--email",
                               "ana@example.com", "--role", "company_officer", "--account",
                               ACCOUNT, "--out", str(tmp_path / "co.p12"),
                               "--passphrase-file", str(pw)], input=CA_PASS + "\n")
    assert res.exit_code == 0, res.output
    res = runner.invoke(main, ["keys", "list", "-w", str(ws.path)])
    assert "specialist" in res.output and f"partner {ACCOUNT}" in res.output
    serial = next(r["serial"] for r in keys.list_certs(ws.path)
                  if r["email"] == "ana@example.com")
    res = runner.invoke(main, ["keys", "revoke", "-w", str(ws.path), serial, "--ca-passphrase-env",
                               "CA_PASS"])
    assert res.exit_code == 0 and "REVOKED" in runner.invoke(main, ["keys", "list", "-w",
                                                                    str(ws.path)]).output
    res = runner.invoke(main, ["keys", "revoke", "-w", str(ws.path), serial], input="bad-pass-1\n")
    assert res.exit_code == 1 and "wrong passphrase" in res.output

    # sign: a report folder of a session this specialist did not open is refused (exit 1)
    from session_helpers import CRITERIA

    from ctpat_audit.sessions.session import open_session

    with open_session(ws, ACCOUNT, "validation", "virtual", "other@cbp.example",
                      criteria=CRITERIA, catalogue_version="test") as s:
        sid = s.id
    folder = tmp_path / "reports" / ACCOUNT / sid
    folder.mkdir(parents=True)
    write_pdf(folder / "report.pdf", sid)
    res = runner.invoke(main, ["sign", str(folder), "--workspace", str(ws.path), "--key",
                               str(out), "--passphrase-env", "KEY_PASS"])
    assert res.exit_code == 1 and "opened by other@cbp.example" in res.output
    # ... and the session this specialist opened is signed, then verifies
    with open_session(ws, ACCOUNT, "validation", "virtual", "sam@cbp.example",
                      criteria=CRITERIA, catalogue_version="test") as s:
        sid = s.id
    folder = tmp_path / "reports" / ACCOUNT / sid
    folder.mkdir(parents=True)
    write_pdf(folder / "report.pdf", sid)
    res = runner.invoke(main, ["sign", str(folder), "--workspace", str(ws.path), "--key",
                               str(out), "--passphrase-env", "KEY_PASS"])
    assert res.exit_code == 0, res.output
    assert "Validated by Sam Spec (specialist)" in res.output
    res = runner.invoke(main, ["verify", str(folder), "--trust", str(ws.path / "keys")])
    assert res.exit_code == 0 and "VERIFIED" in res.output


def test_has_ca_before_and_after_the_first_key(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    assert not keys.has_ca(ws)
    keys.init_ca(ws, CA_PASS)
    assert keys.has_ca(ws)


def test_a_token_certificate_never_overwrites_a_file_nor_touches_the_token(
        ca: keys.CertificateAuthority, tmp_path: Path) -> None:
    from ctpat_audit.trust.token import issue_token_certificate

    out = tmp_path / "spec.pem"
    out.write_text("kept")
    # the module does not exist: reaching the token would fail with another error
    with pytest.raises(keys.KeyStoreError, match="exists; choose a new file name"):
        issue_token_certificate(ca, out, module=tmp_path / "no-such-module.so",
                                token_label="t", pin="123456", key_label="k", name="Sam Spec",
                                email="sam@cbp.example", role="specialist")
    assert out.read_text() == "kept"


def test_load_certificate_says_what_is_wrong(ca: keys.CertificateAuthority,
                                             tmp_path: Path) -> None:
    from ctpat_audit.trust.token import load_certificate

    with pytest.raises(keys.KeyStoreError, match="no such certificate file"):
        load_certificate(tmp_path / "missing.pem")
    junk = tmp_path / "junk.pem"
    junk.write_text("not a certificate")
    with pytest.raises(keys.KeyStoreError, match="not a PEM certificate"):
        load_certificate(junk)
    assert load_certificate(ca.folder / "ca.pem") == ca.certificate


def _keys_new(ws, email: str):
    return CliRunner().invoke(main, ["keys", "new", "-w", str(ws.path), "--name", "X Y", "--email",
                                     email, "--role", "specialist", "--passphrase-env",
                                     "KEY_PASS", "--ca-passphrase-env", "CA_PASS"])


def test_keys_new_refuses_an_email_that_is_not_one_and_writes_nothing(tmp_path: Path,
                                                                       monkeypatch) -> None:
    ws = make_workspace(tmp_path / "ws")
    cwd = tmp_path / "a" / "b" / "c"
    cwd.mkdir(parents=True)
    monkeypatch.chdir(cwd)
    monkeypatch.setenv("CA_PASS", CA_PASS)
    monkeypatch.setenv("KEY_PASS", KEY_PASS)
    before = sorted(tmp_path.rglob("*"))
    for email in ("../../../x@y.example", "x/../../y@z.example/..", "x@y", ".x@y.example"):
        res = _keys_new(ws, email)
        assert res.exit_code == 1 and "e-mail address" in res.output, (email, res.output)
    assert sorted(tmp_path.rglob("*")) == before  # not even the CA was created


def test_keys_new_default_file_is_named_safely_in_the_current_folder(tmp_path: Path,
                                                                     monkeypatch) -> None:
    ws = make_workspace(tmp_path / "ws")
    cwd = tmp_path / "here"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    monkeypatch.setenv("CA_PASS", CA_PASS)
    monkeypatch.setenv("KEY_PASS", KEY_PASS)
    res = _keys_new(ws, "a/b@y.example")  # a valid address with a slash in it
    assert res.exit_code == 0, res.output
    assert [p.name for p in cwd.iterdir()] == ["a_b@y.example.p12"]
    assert not (tmp_path / "a").exists()


@given(st.from_regex(EMAIL_PATTERN, fullmatch=True))
def test_the_default_key_file_of_any_address_stays_in_the_current_folder(email: str) -> None:
    if len(email) > 254:
        return
    path = keys.key_file_name(email)
    assert len(path.parts) == 1 and not path.name.startswith(".")
    assert path.suffix == ".p12" and keys.key_file_name(email, ".pem").suffix == ".pem"
