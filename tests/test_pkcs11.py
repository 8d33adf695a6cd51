"""Signing with a key that never leaves a PKCS#11 token (Debian's SoftHSM2).

The test creates a token in a temporary SOFTHSM2_CONF folder, generates a P-256 key pair in
it, has the workspace CA certify the public key, signs a report through the token (pyHanko
with ``use_raw_mechanism=True``) and verifies the result offline.
"""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from session_helpers import make_workspace
from signing_helpers import CA_PASS, SPECIALIST, Setup, make_report

from ctpat_audit.trust import keys
from ctpat_audit.trust import token as token_keys
from ctpat_audit.trust.signing import sign_report
from ctpat_audit.trust.verify import verify_report

MODULE_CANDIDATES = ("/usr/lib/softhsm/libsofthsm2.so",
                     "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so",
                     "/usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so")
MODULE = next((m for m in MODULE_CANDIDATES if Path(m).is_file()), None)
PIN, SO_PIN, LABEL = "123456", "12345678", "ctpat-test"

pytestmark = pytest.mark.skipif(
    MODULE is None or shutil.which("softhsm2-util") is None,
    reason="SoftHSM2 is not installed (apt-get install -y softhsm2; the Makefile does it)")


@pytest.fixture(scope="module")
def token(tmp_path_factory):
    """An initialised SoftHSM2 token in its own config folder; returns its label.

    Module-scoped: a PKCS#11 library reads its configuration once per process."""
    base = tmp_path_factory.mktemp("softhsm")
    store = base / "tokens"
    store.mkdir()
    conf = base / "softhsm2.conf"
    conf.write_text(f"directories.tokendir = {store}\nobjectstore.backend = file\n"
                    "log.level = ERROR\n")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SOFTHSM2_CONF", str(conf))
        subprocess.run(["softhsm2-util", "--init-token", "--free", "--label", LABEL, "--pin",
                        PIN, "--so-pin", SO_PIN], check=True, capture_output=True)
        yield LABEL


def test_sign_and_verify_with_a_p256_key_in_softhsm2(token: str, tmp_path: Path) -> None:
    import pkcs11
    from cryptography.hazmat.primitives.serialization import load_der_public_key
    from pkcs11 import Attribute, KeyType
    from pkcs11.util.ec import encode_ec_public_key, encode_named_curve_parameters

    ws = make_workspace(tmp_path / "ws")
    ca = keys.init_ca(ws.path, CA_PASS)
    lib = pkcs11.lib(MODULE)
    tok = lib.get_token(token_label=token)
    with tok.open(rw=True, user_pin=PIN) as session:
        params = session.create_domain_parameters(
            KeyType.EC, {Attribute.EC_PARAMS: encode_named_curve_parameters("secp256r1")},
            local=True)
        pub, priv = params.generate_keypair(store=True, label="sam-spec", id=b"\x01")
        assert priv[Attribute.SENSITIVE] and not priv[Attribute.EXTRACTABLE]
        public_key = load_der_public_key(encode_ec_public_key(pub))
        cert = keys.issue_certificate(ca, public_key, "Sam Spec", SPECIALIST, "specialist")
        signer = token_keys.pkcs11_signer(session, cert, key_label="sam-spec")
        assert signer.identity.role == "specialist"

        setup = Setup(tmp_path, ws, ca, {})
        folder = make_report(setup)
        entry = sign_report(folder, ws, signer)
        assert entry["cert_fingerprint"] == keys.fingerprint(cert)

    rep = verify_report(folder, ws.path / "keys")
    assert rep.ok, rep.problems
    assert [(s.signer, s.meaning) for s in rep.signatures] == [("Sam Spec", "validated")]


def test_cli_keys_new_and_sign_through_the_token(token: str, tmp_path: Path,
                                                 monkeypatch) -> None:
    from click.testing import CliRunner

    from ctpat_audit.cli import main

    ws = make_workspace(tmp_path / "ws")
    monkeypatch.setenv("CA_PASS", CA_PASS)
    monkeypatch.setenv("TOKEN_PIN", PIN)
    runner = CliRunner()
    p11 = ["--pkcs11-module", MODULE, "--token-label", token, "--key-label", "cli-spec",
           "--pin-env", "TOKEN_PIN"]
    cert = tmp_path / "spec.pem"
    res = runner.invoke(main, ["keys", "new", "-w", str(ws.path), "--name", "Sam Spec", "--email",
                               SPECIALIST, "--role", "specialist", "--out", str(cert),
                               "--ca-passphrase-env", "CA_PASS", *p11])
    assert res.exit_code == 0, res.output
    assert "generated in token" in res.output and b"PRIVATE" not in cert.read_bytes()
    res = runner.invoke(main, ["keys", "new", "-w", str(ws.path), "--name", "Sam Spec", "--email",
                               SPECIALIST, "--role", "specialist", "--out",
                               str(tmp_path / "again.pem"), "--ca-passphrase-env", "CA_PASS",
                               *p11])
    assert res.exit_code == 1 and "already holds a key" in res.output

    setup = Setup(tmp_path, ws, keys.load_ca(ws.path, CA_PASS), {})
    folder = make_report(setup, evidence=False)
    res = runner.invoke(main, ["sign", str(folder), "--workspace", str(ws.path), "--cert",
                               str(cert), *p11])
    assert res.exit_code == 0, res.output
    monkeypatch.setenv("TOKEN_PIN", "000000")
    bad = runner.invoke(main, ["sign", str(folder), "--workspace", str(ws.path), "--cert",
                               str(cert), *p11])
    assert bad.exit_code == 1 and "wrong PIN" in bad.output
    assert verify_report(folder, ws.path / "keys").ok
