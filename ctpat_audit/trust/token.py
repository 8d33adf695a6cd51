"""Signer keys that never leave a PKCS#11 token (a PIV card, an HSM, SoftHSM2).

The key pair is generated inside the token (private key sensitive, never extractable); the
workspace CA certifies its public key (:func:`issue_token_certificate`) and only the
certificate is written to disk. Signing opens a logged-in session on the token and hands
pyHanko a signer that asks the token for each signature (:func:`token_signer`).
"""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from ctpat_audit.core.errors import KeyStoreError
from ctpat_audit.core.files import write_atomic
from ctpat_audit.trust.keys import (
    CertificateAuthority,
    Signer,
    check_identity,
    identity_of,
    issue_certificate,
    person_for,
)

__all__ = ["pkcs11_session", "pkcs11_new_key", "pkcs11_signer", "issue_token_certificate",
           "load_certificate", "token_signer"]


@contextmanager
def pkcs11_session(module: str | Path, token_label: str, pin: str) -> Iterator[Any]:
    """A logged-in read-write session on the token labelled ``token_label``."""
    import pkcs11

    try:
        token = pkcs11.lib(str(module)).get_token(token_label=token_label)
    except (pkcs11.NoSuchToken, pkcs11.MultipleTokensReturned) as exc:
        raise KeyStoreError(module, f"no single token labelled {token_label!r}") from exc
    try:
        session = token.open(rw=True, user_pin=pin)
    except (pkcs11.PinIncorrect, pkcs11.PinInvalid, pkcs11.PinLenRange) as exc:
        raise KeyStoreError(module, f"token {token_label!r}: wrong PIN") from exc
    try:
        yield session
    finally:
        session.close()


def pkcs11_new_key(session: Any, label: str) -> ec.EllipticCurvePublicKey:
    """Generate a P-256 key pair inside the token (private key sensitive, never extractable);
    returns the public key, to be certified with :func:`~ctpat_audit.trust.keys.issue_certificate`."""
    from cryptography.hazmat.primitives.serialization import load_der_public_key
    from pkcs11 import Attribute, KeyType, ObjectClass
    from pkcs11.util.ec import encode_ec_public_key, encode_named_curve_parameters

    if list(session.get_objects({Attribute.LABEL: label, Attribute.CLASS:
                                 ObjectClass.PRIVATE_KEY})):
        raise KeyStoreError(label, "the token already holds a key with this label")
    params = session.create_domain_parameters(
        KeyType.EC, {Attribute.EC_PARAMS: encode_named_curve_parameters("secp256r1")},
        local=True)
    pub, _ = params.generate_keypair(store=True, label=label, private_template={
        Attribute.SENSITIVE: True, Attribute.EXTRACTABLE: False})
    key = load_der_public_key(encode_ec_public_key(pub))
    assert isinstance(key, ec.EllipticCurvePublicKey)
    return key


def pkcs11_signer(session: Any, certificate: x509.Certificate, *, key_label: str | None = None,
                  key_id: bytes | None = None) -> Signer:
    """A signer whose P-256 key stays in a PKCS#11 token (``session``: an open python-pkcs11
    session, logged in). EC keys in SoftHSM2 need pyHanko's ``use_raw_mechanism=True``: the
    token signs the digest pyHanko computed (CKM_ECDSA) instead of hashing itself."""
    from asn1crypto import x509 as asn1_x509
    from pyhanko.sign.pkcs11 import PKCS11Signer

    asn1_cert = asn1_x509.Certificate.load(certificate.public_bytes(serialization.Encoding.DER))
    hanko = PKCS11Signer(session, key_label=key_label, key_id=key_id, signing_cert=asn1_cert,
                         use_raw_mechanism=True, other_certs_to_pull=None)
    return Signer(hanko, certificate, identity_of(certificate))


def issue_token_certificate(ca: CertificateAuthority, out: str | Path, *, module: str | Path,
                            token_label: str, pin: str, key_label: str, name: str, email: str,
                            role: str, account_id: str | None = None,
                            same_person: bool | None = None) -> x509.Certificate:
    """Generate a key labelled ``key_label`` in the token, have the CA certify it, and write
    the certificate (PEM) to ``out``; the private key stays in the token.

    ``out`` is checked before the token is touched: an existing file is never overwritten,
    so no key is generated whose certificate could not be written; so is who the holder is
    (``same_person``, see :func:`~ctpat_audit.trust.keys.person_for`).
    """
    out = Path(out)
    if out.exists():
        raise KeyStoreError(out, "exists; choose a new file name (certificates are never "
                                 "overwritten)")
    person_for(ca.folder, check_identity(name, email, role, account_id), same_person)
    with pkcs11_session(module, token_label, pin) as session:
        public = pkcs11_new_key(session, key_label)
    cert = issue_certificate(ca, public, name, email, role, account_id,
                             same_person=same_person)
    write_atomic(out, cert.public_bytes(serialization.Encoding.PEM))
    return cert


def load_certificate(path: str | Path) -> x509.Certificate:
    """A signer certificate from a PEM file (KeyStoreError when missing or not PEM)."""
    path = Path(path)
    if not path.is_file():
        raise KeyStoreError(path, "no such certificate file")
    try:
        return x509.load_pem_x509_certificate(path.read_bytes())
    except ValueError as exc:
        raise KeyStoreError(path, "not a PEM certificate") from exc


@contextmanager
def token_signer(*, module: str | Path, token_label: str, pin: str, key_label: str,
                 certificate: str | Path) -> Iterator[Signer]:
    """A signer for the key ``key_label`` in the token, with its certificate file; usable
    while the ``with`` block holds the token session open."""
    cert = load_certificate(certificate)
    with pkcs11_session(module, token_label, pin) as session:
        yield pkcs11_signer(session, cert, key_label=key_label)
