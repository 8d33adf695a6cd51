"""Signer keys and the workspace certificate authority (trust store in ``WORKSPACE/keys``).

::

    WORKSPACE/keys/
      ca.pem          the workspace root certificate (ECDSA P-256, self-signed): the trust root
      ca.p12          the CA private key, in a PKCS#12 file encrypted with the CA passphrase
      crl.pem         certificate revocation list signed by the CA (``keys revoke``)
      certs/<serial>.pem  every signer certificate issued (public; for ``keys list``)

A signer certificate is ECDSA P-256 (the family PIV cards use) and names the person
(CN, e-mail in the subject and as an RFC 822 alternative name) and the role: the subject's
OU is the role (``specialist``, ``supervisor`` or ``company_officer``) and, for a Company
Officer, the subject's ``O`` is ``CTPAT partner <account>``. The same facts are carried
machine-readably in a non-critical extension (:data:`ROLE_OID`, a UTF-8 JSON string
``{"role": ..., "account_id": ..., "person_id": ...}``), which is what :func:`identity_of`
reads. Key usage: digitalSignature + nonRepudiation (contentCommitment).

**People, not strings.** The CA records people: every certificate carries a person id
(``P-`` + 10 characters), the same across all of one person's certificates, signed by the CA
with the rest. :func:`issue_certificate` compares the new holder with every certificate
issued before, by e-mail (:func:`normal_email`: case-folded, without a ``+tag``) and by name
(:func:`normal_name`). The same e-mail under the same role is the same person (a renewal).
Any match under another role must be settled by whoever issues: ``same_person=True`` (the
person id is reused) or ``same_person=False`` (a new one; refused when the e-mail is the same
mailbox). The decision is written to the workspace's audit log (``issue_certificate``).

Private keys are never written in clear: signer keys go into a PKCS#12 file encrypted with
the signer's passphrase (AES-256, PBKDF2), or stay in a PKCS#11 token (:mod:`ctpat_audit.trust.token`).

On the team server (``ctpat-audit hub``) only an admin creates the CA, issues and revokes
certificates; a certificate issued to the mailbox of one of the team's people who has no
person id yet gives them this one (``person_link``).
"""
from __future__ import annotations

import base64
import datetime as dt
import json
import unicodedata
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from ctpat_audit.core.clock import Clock, utc_now
from ctpat_audit.core.errors import InputError, KeyStoreError
from ctpat_audit.core.files import write_atomic
from ctpat_audit.core.identifiers import EMAIL_EXPECTED, check_email, file_stem, is_email
from ctpat_audit.core.vocabulary import SIGNER_ROLES
from ctpat_audit.workspace.reference import as_workspace

__all__ = ["ROLES", "ROLE_OID", "KeyStoreError", "SignerIdentity", "Signer", "CertificateAuthority",
           "init_ca", "load_ca", "issue_signer", "key_file_name", "issue_certificate", "revoke",
           "list_certs", "identity_of", "fingerprint", "load_signer", "trust_paths", "has_ca",
           "normal_email", "normal_name", "same_person", "person_for"]

ROLES = SIGNER_ROLES
#: Role extension OID: a UUID-derived OID (ITU-T X.667, arc 2.25) minted for ctpat-audit.
ROLE_OID = x509.ObjectIdentifier("2.25.216744935310437462915393574339617396071")
CA_VALIDITY_DAYS = 3650
SIGNER_VALIDITY_DAYS = 730



@dataclass(frozen=True)
class SignerIdentity:
    """Who a certificate names: printed name, e-mail, role, partner account (officers)."""

    name: str
    email: str
    role: str
    account_id: str | None = None
    person_id: str | None = None  # the CA's id of the person (None in older certificates)

    @property
    def role_label(self) -> str:
        if self.role == "company_officer":
            return f"Company Officer, partner {self.account_id}"
        return self.role.capitalize()


@dataclass
class Signer:
    """A private key able to sign (PKCS#12 or PKCS#11) with its certificate and identity."""

    hanko: Any  # pyhanko.sign.signers.Signer
    certificate: x509.Certificate
    identity: SignerIdentity
    #: room kept for one signature in a PDF, sized once (signing.sign_pdf)
    pdf_bytes_reserved: int | None = field(default=None, init=False, repr=False)
    #: a manifest signature made once, re-signed for each manifest (signing.sign_manifest)
    manifest_template: Any = field(default=None, init=False, repr=False)

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.certificate)


@dataclass
class CertificateAuthority:
    """The workspace CA: its certificate and (unlocked) private key."""

    certificate: x509.Certificate
    key: ec.EllipticCurvePrivateKey
    folder: Path


def fingerprint(cert: x509.Certificate) -> str:
    """SHA-256 fingerprint of the DER certificate, lowercase hex."""
    return cert.fingerprint(hashes.SHA256()).hex()


def trust_paths(trust: str | Path) -> tuple[Path, Path | None]:
    """(root certificate, CRL or None) of a trust store folder or a CA .pem file."""
    trust = Path(trust)
    if trust.is_dir():
        ca, crl = trust / "ca.pem", trust / "crl.pem"
    else:
        ca, crl = trust, trust.with_name("crl.pem")
    if not ca.is_file():
        raise KeyStoreError(ca, "no workspace root certificate here; create keys with "
                        "`ctpat-audit keys new -w WORKSPACE ...` or pass --trust WORKSPACE/keys")
    return ca, (crl if crl.is_file() else None)


def _passphrase(passphrase: str | bytes, what: str) -> bytes:
    data = passphrase.encode("utf-8") if isinstance(passphrase, str) else passphrase
    if len(data) < 8:
        raise InputError(what, "(hidden)", "a passphrase of at least 8 characters")
    return data


def _encryption(passphrase: bytes) -> serialization.KeySerializationEncryption:
    return (serialization.PrivateFormat.PKCS12.encryption_builder()
            .kdf_rounds(200_000)
            .key_cert_algorithm(pkcs12.PBES.PBESv2SHA256AndAES256CBC)
            .hmac_hash(hashes.SHA256()).build(passphrase))


# --- the certificate authority -----------------------------------------------------------------

def keys_folder(workspace: Any) -> Path:
    """``WORKSPACE/keys``: the trust store of a Workspace or a workspace folder path."""
    return as_workspace(workspace).path / "keys"


def _require_keys(folder: Path) -> None:
    """On the team server only an admin creates the CA, issues or revokes certificates."""
    from ctpat_audit.workspace import people
    from ctpat_audit.workspace.reference import DB_NAME

    if people.hub_user() is not None and (folder.parent / DB_NAME).is_file():
        people.require(folder.parent, "keys")


def has_ca(workspace: str | Path) -> bool:
    """Whether the workspace CA exists yet (:func:`init_ca` creates it on first use)."""
    return (keys_folder(workspace) / "ca.pem").exists()


def init_ca(workspace: str | Path, passphrase: str | bytes, *, name: str | None = None,
            clock: Clock = utc_now) -> CertificateAuthority:
    """Create the workspace CA (ca.pem + encrypted ca.p12) unless it exists; then load it."""
    folder = keys_folder(workspace)
    _require_keys(folder)
    if has_ca(workspace):
        return load_ca(workspace, passphrase)
    secret = _passphrase(passphrase, "CA passphrase")
    key = ec.generate_private_key(ec.SECP256R1())
    now = clock()
    subject = x509.Name([
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "ctpat-audit workspace"),
        x509.NameAttribute(NameOID.COMMON_NAME,
                           name or f"ctpat-audit root {Path(folder).parent.name}"[:64])])
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=CA_VALIDITY_DAYS))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=False, content_commitment=False,
                                         key_encipherment=False, data_encipherment=False,
                                         key_agreement=False, key_cert_sign=True, crl_sign=True,
                                         encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()),
                           critical=False)
            .sign(key, hashes.SHA256()))
    p12 = pkcs12.serialize_key_and_certificates(b"ctpat-audit CA", key, cert, None,
                                                 _encryption(secret))
    write_atomic(folder / "ca.p12", p12, 0o600)
    write_atomic(folder / "ca.pem", cert.public_bytes(serialization.Encoding.PEM))
    ca = CertificateAuthority(cert, key, folder)
    _write_crl(ca, [], clock)
    return ca


def load_ca(workspace: str | Path, passphrase: str | bytes) -> CertificateAuthority:
    """Unlock the workspace CA with its passphrase."""
    folder = keys_folder(workspace)
    path = folder / "ca.p12"
    if not path.is_file():
        raise KeyStoreError(path, "no workspace CA; `ctpat-audit keys new -w WORKSPACE` creates it")
    try:
        key, cert, _ = pkcs12.load_key_and_certificates(path.read_bytes(),
                                                        _passphrase(passphrase, "CA passphrase"))
    except ValueError as exc:
        raise KeyStoreError(path, "cannot open the CA key: wrong passphrase or damaged "
                            "file") from exc
    assert isinstance(key, ec.EllipticCurvePrivateKey) and cert is not None
    return CertificateAuthority(cert, key, folder)


# --- signer certificates -----------------------------------------------------------------------

def check_identity(name: str, email: str, role: str, account_id: str | None) -> SignerIdentity:
    if not isinstance(name, str) or not name.strip() or len(name) > 64:
        raise InputError("name", name, "the signer's printed name (1-64 characters)")
    if not is_email(email) or len(email) > 128:
        raise InputError("email", email, EMAIL_EXPECTED + " (at most 128 characters)")
    if role not in ROLES:
        raise InputError("role", role, "one of " + ", ".join(ROLES))
    if role == "company_officer" and not account_id:
        raise InputError("account", account_id, "the partner account id of a Company Officer")
    if role != "company_officer" and account_id:
        raise InputError("account", account_id, "no account: only a Company Officer has one")
    return SignerIdentity(name.strip(), email.strip().lower(), role, account_id or None)


def normal_email(email: str) -> str:
    """An e-mail as one mailbox: NFKC, case-folded, surrounding blanks and a ``+tag`` of the
    local part removed (``Ana.Spec+sup@CBP.example`` -> ``ana.spec@cbp.example``)."""
    local, _, domain = unicodedata.normalize("NFKC", email).strip().casefold().rpartition("@")
    return f"{local.split('+', 1)[0]}@{domain}" if local else domain


def normal_name(name: str) -> str:
    """A printed name compared as people read it: NFKC, case-folded, blanks collapsed."""
    return " ".join(unicodedata.normalize("NFKC", name).casefold().split())


def same_person(a: SignerIdentity, b: SignerIdentity | dict[str, Any]) -> bool:
    """Whether two signers are one person: the same person id, or the same mailbox."""
    other = b if isinstance(b, SignerIdentity) else SignerIdentity(
        str(b.get("signer", "")), str(b.get("email", "")), str(b.get("role", "")),
        b.get("account_id"), b.get("person_id"))
    if a.person_id and other.person_id and a.person_id == other.person_id:
        return True
    return normal_email(a.email) == normal_email(other.email)


def _new_person_id() -> str:
    return "P-" + base64.b32encode(uuid.uuid4().bytes).decode()[:10]


def person_for(folder: Path, who: SignerIdentity, same: bool | None
               ) -> tuple[str, str, list[dict[str, Any]]]:
    """(person id, decision, certificates matched) for a new certificate of ``who``.

    ``decision`` is ``new``, ``renewal``, ``same_person`` or ``different_person``. Raises
    :class:`InputError` when a match under another role needs ``same`` and it is None (a
    renewal of a person already settled under every matching role needs nothing), when
    ``same=False`` but a certificate under another role has the same mailbox, and when
    ``same=True`` matches nobody or several people.
    """
    email, name = normal_email(who.email), normal_name(who.name)
    matched = [c for c in list_certs(folder.parent) if normal_email(c["email"]) == email
               or normal_name(c["name"]) == name]
    renewal = [c for c in matched if normal_email(c["email"]) == email and c["role"] == who.role
               and c.get("person_id")]
    other_role = [c for c in matched if c["role"] != who.role]
    if same is None:
        # a renewal of someone already recorded as one person under several roles is settled
        known = {renewal[0]["person_id"]} if renewal else set()
        undecided = [c for c in other_role if c.get("person_id") not in known]
        if undecided:
            shown = "; ".join(f"{c['name']} <{c['email']}> ({c['role']}, person "
                              f"{c.get('person_id') or 'unrecorded'})" for c in undecided)
            raise InputError("person", f"{who.name} <{who.email}> ({who.role})",
                             f"a decision: this name or e-mail matches {shown}. Say whether "
                             "it is the same person (--same-person) or a different one "
                             "(--different-person)")
        if renewal:
            return str(renewal[0]["person_id"]), "renewal", matched
        return _new_person_id(), "new", matched
    if same:
        ids = {c.get("person_id") for c in matched if c.get("person_id")}
        if len(ids) != 1:
            raise InputError("--same-person", f"{who.name} <{who.email}>",
                             "exactly one person with this name or e-mail among the "
                             f"certificates issued (found {len(ids)})")
        return str(ids.pop()), "same_person", matched
    mailbox = [c for c in other_role if normal_email(c["email"]) == email]
    if mailbox:
        raise InputError("--different-person", who.email,
                         f"another mailbox: {who.email} is {mailbox[0]['email']} (the same "
                         "address once case and +tags are set aside), so it is the same "
                         "person; use --same-person")
    if renewal:
        return str(renewal[0]["person_id"]), "renewal", matched
    return _new_person_id(), "different_person" if other_role else "new", matched


def issue_certificate(ca: CertificateAuthority, public_key: Any, name: str, email: str,
                      role: str, account_id: str | None = None, *,
                      same_person: bool | None = None, clock: Clock = utc_now
                      ) -> x509.Certificate:
    """Issue a signer certificate for a P-256 public key (from a new key or a token).

    The holder's person id is decided by :func:`person_for` (``same_person``: the issuer's
    answer when the name or e-mail matches someone under another role) and the issue is
    written to the workspace's audit log (when the CA belongs to a workspace).
    """
    _require_keys(ca.folder)
    who = check_identity(name, email, role, account_id)
    person_id, decision, matched = person_for(ca.folder, who, same_person)
    if not isinstance(public_key, ec.EllipticCurvePublicKey) or \
            not isinstance(public_key.curve, ec.SECP256R1):
        raise InputError("public key", type(public_key).__name__, "an ECDSA P-256 public key")
    attrs = [x509.NameAttribute(NameOID.COMMON_NAME, who.name),
             x509.NameAttribute(NameOID.EMAIL_ADDRESS, who.email),
             x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, who.role)]
    if who.account_id:
        attrs.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME,
                                        f"CTPAT partner {who.account_id}"))
    role_value = json.dumps({"role": who.role, "account_id": who.account_id,
                             "person_id": person_id}, sort_keys=True).encode("utf-8")
    der_utf8 = b"\x0c" + _der_len(len(role_value)) + role_value
    now = clock()
    cert = (x509.CertificateBuilder().subject_name(x509.Name(attrs))
            .issuer_name(ca.certificate.subject).public_key(public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=SIGNER_VALIDITY_DAYS))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=True,
                                         key_encipherment=False, data_encipherment=False,
                                         key_agreement=False, key_cert_sign=False,
                                         crl_sign=False, encipher_only=False,
                                         decipher_only=False), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]),
                           critical=False)
            .add_extension(x509.SubjectAlternativeName([x509.RFC822Name(who.email)]),
                           critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
                ca.key.public_key()), critical=False)
            .add_extension(x509.UnrecognizedExtension(ROLE_OID, der_utf8), critical=False)
            .sign(ca.key, hashes.SHA256()))
    write_atomic(ca.folder / "certs" / f"{cert.serial_number:x}.pem",
                  cert.public_bytes(serialization.Encoding.PEM))
    _log_issue(ca, cert, who, person_id, decision, matched, clock)
    return cert


def _log_issue(ca: CertificateAuthority, cert: x509.Certificate, who: SignerIdentity,
               person_id: str, decision: str, matched: list[dict[str, Any]],
               clock: Clock) -> None:
    from ctpat_audit.core.clock import timestamp
    from ctpat_audit.workspace import audit, db
    from ctpat_audit.workspace.reference import DB_NAME

    if not (ca.folder.parent / DB_NAME).is_file():  # a CA outside any workspace
        return
    conn = as_workspace(ca.folder.parent).connect()
    try:
        at = timestamp(clock())
        with db.write(conn):
            audit.append(conn, at=at, actor="workspace CA",
                         action="issue_certificate", session_id=None,
                         target={"serial": f"{cert.serial_number:x}"}, old=None,
                         new={"name": who.name, "email": who.email, "role": who.role,
                              "account_id": who.account_id, "person_id": person_id,
                              "decision": decision, "fingerprint": fingerprint(cert),
                              "matched": sorted({str(c.get("person_id") or c["serial"])
                                                 for c in matched})})
            _link_people(conn, who.email, person_id, at)
    finally:
        conn.close()


def _link_people(conn: Any, email: str, person_id: str, at: str) -> None:
    """The team's people of this mailbox who have no person id yet take the new
    certificate's (one ``person_link`` audit entry each)."""
    from ctpat_audit.workspace import audit
    from ctpat_audit.workspace import people as team

    for p in team.person_rows(conn):
        if p.person_id is None and normal_email(p.email) == normal_email(email):
            team.update_person(conn, p.hub_user, person_id=person_id)
            audit.append(conn, at=at, actor="workspace CA", action="person_link",
                         session_id=None, target={"hub_user": p.hub_user},
                         old={"person_id": None}, new={"person_id": person_id})


def _der_len(n: int) -> bytes:
    if n < 0x80:
        return bytes([n])
    body = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(body)]) + body


def key_file_name(email: str, suffix: str = ".p12") -> Path:
    """The default file for a signer's key (``.p12``) or certificate (``.pem``): named after
    the e-mail address, in the current folder whatever the address holds. An address that
    is not one (``../../x@y.example``) is an InputError."""
    return Path(file_stem(check_email("email", email)) + suffix)


def issue_signer(ca: CertificateAuthority, out: str | Path, passphrase: str | bytes, *,
                 name: str, email: str, role: str, account_id: str | None = None,
                 same_person: bool | None = None, clock: Clock = utc_now) -> x509.Certificate:
    """Create a P-256 key and its certificate; write both to an encrypted PKCS#12 ``out``."""
    secret = _passphrase(passphrase, "key passphrase")
    out = Path(out)
    if out.exists():
        raise KeyStoreError(out, "exists; choose a new file name (keys are never overwritten)")
    key = ec.generate_private_key(ec.SECP256R1())
    cert = issue_certificate(ca, key.public_key(), name, email, role, account_id,
                             same_person=same_person, clock=clock)
    data = pkcs12.serialize_key_and_certificates(email.encode("utf-8"), key, cert,
                                                  [ca.certificate], _encryption(secret))
    write_atomic(out, data, 0o600)
    return cert


def identity_of(cert: x509.Certificate) -> SignerIdentity:
    """The signer identity a certificate carries (role extension; subject as fallback)."""
    def attr(oid: x509.ObjectIdentifier) -> str | None:
        found = cert.subject.get_attributes_for_oid(oid)
        return str(found[0].value) if found else None

    role, account, person = attr(NameOID.ORGANIZATIONAL_UNIT_NAME) or "", None, None
    try:
        ext = cert.extensions.get_extension_for_oid(ROLE_OID).value
        if not isinstance(ext, x509.UnrecognizedExtension):  # how cryptography reads our OID
            raise ValueError("the role extension is not raw DER")
        raw = ext.value
        info = json.loads(raw[1 + (1 if raw[1] < 0x80 else 1 + (raw[1] & 0x7F)):])
        role, account, person = info["role"], info.get("account_id"), info.get("person_id")
    except (x509.ExtensionNotFound, ValueError, KeyError, IndexError):
        pass
    return SignerIdentity(attr(NameOID.COMMON_NAME) or "", (attr(NameOID.EMAIL_ADDRESS) or
                                                            "").lower(), role, account,
                          person if isinstance(person, str) else None)


# --- revocation --------------------------------------------------------------------------------

def _read_crl(folder: Path) -> x509.CertificateRevocationList | None:
    path = folder / "crl.pem"
    return x509.load_pem_x509_crl(path.read_bytes()) if path.is_file() else None


def _write_crl(ca: CertificateAuthority, revoked: list[x509.RevokedCertificate],
               clock: Clock) -> None:
    now = clock()
    old = _read_crl(ca.folder)
    number = 1
    if old is not None:
        try:
            number = old.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number + 1
        except x509.ExtensionNotFound:
            pass
    builder = (x509.CertificateRevocationListBuilder().issuer_name(ca.certificate.subject)
               .last_update(now - dt.timedelta(minutes=5))
               .next_update(now + dt.timedelta(days=CA_VALIDITY_DAYS))
               .add_extension(x509.CRLNumber(number), critical=False)
               .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
                   ca.key.public_key()), critical=False))
    for item in revoked:
        builder = builder.add_revoked_certificate(item)
    crl = builder.sign(ca.key, hashes.SHA256())
    write_atomic(ca.folder / "crl.pem", crl.public_bytes(serialization.Encoding.PEM))


def revoke(ca: CertificateAuthority, serial: int | str, *, clock: Clock = utc_now) -> None:
    """Add a certificate serial (int or hex text) to the CA-signed CRL ``keys/crl.pem``."""
    _require_keys(ca.folder)
    number = int(serial, 16) if isinstance(serial, str) else int(serial)
    old = _read_crl(ca.folder)
    revoked = list(old) if old is not None else []
    if any(r.serial_number == number for r in revoked):
        return
    revoked.append(x509.RevokedCertificateBuilder().serial_number(number)
                   .revocation_date(clock() - dt.timedelta(seconds=1)).build())
    _write_crl(ca, revoked, clock)


def list_certs(workspace: str | Path) -> list[dict[str, Any]]:
    """Every signer certificate issued in this workspace, with its revocation status."""
    folder = keys_folder(workspace)
    crl = _read_crl(folder)
    revoked = {r.serial_number for r in crl} if crl is not None else set()
    rows = []
    for path in sorted((folder / "certs").glob("*.pem")):
        cert = x509.load_pem_x509_certificate(path.read_bytes())
        who = identity_of(cert)
        rows.append({"serial": f"{cert.serial_number:x}", "name": who.name, "email": who.email,
                     "role": who.role, "account_id": who.account_id, "person_id": who.person_id,
                     "not_after": cert.not_valid_after_utc.isoformat(),
                     "revoked": cert.serial_number in revoked,
                     "fingerprint": fingerprint(cert)})
    return rows


# --- loading signers ---------------------------------------------------------------------------

def load_signer(p12_path: str | Path, passphrase: str | bytes) -> Signer:
    """A signer from an encrypted PKCS#12 file (key + certificate + CA chain)."""
    from pyhanko.sign import signers

    path = Path(p12_path)
    if not path.is_file():
        raise KeyStoreError(path, "no such key file")
    secret = passphrase.encode("utf-8") if isinstance(passphrase, str) else passphrase
    data = path.read_bytes()
    try:
        key, cert, _ = pkcs12.load_key_and_certificates(data, secret)
    except ValueError as exc:
        raise KeyStoreError(path, "cannot open the key: wrong passphrase or damaged file") from exc
    if cert is None or key is None:
        raise KeyStoreError(path, "not a PKCS#12 file with a key and its certificate")
    hanko = signers.SimpleSigner.load_pkcs12_data(data, other_certs=(), passphrase=secret)
    return Signer(hanko, cert, identity_of(cert))
