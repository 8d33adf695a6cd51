"""The audit log anchored by signers' keys: a truncated or re-hashed history is found.

The hash chain alone proves only that the log is consistent with itself: someone who can
write the database can cut its tail, or edit an entry and recompute every hash after it. What
they cannot do without a signer's private key is produce a signed manifest. Every signature
of a report (:func:`ctpat_audit.trust.signing.sign_report`) pins the hash of its own ``sign``
entry in the manifest (``provenance.audit_log_head``) and keeps the signed manifest in the
workspace (:mod:`ctpat_audit.workspace.anchors`). :func:`anchor_problems` then checks, with no
option to give:

* each kept manifest is signed (detached CMS) by a certificate the workspace CA issued, and
  names the head and the session its anchor row says;
* the log entry the anchor points at is still there with that hash: a cut tail, a rewritten
  and re-hashed chain, or a moved entry all change it;
* every ``sign`` entry (from ``anchored_from_seq`` on) has its anchor: removing the anchors
  of entries that are still in the log does not hide anything.

A signed report handed out holds the same manifest, so ``verify REPORT --workspace`` checks
the workspace against a head kept outside it too. What this does not protect against (an
attacker who replaces the trust root, or rolls the whole workspace back to an earlier genuine
copy) is set out in ``docs/reliability.md``.
"""
from __future__ import annotations

import hashlib
import json
import sqlite3
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from ctpat_audit.trust.keys import fingerprint, identity_of, trust_paths
from ctpat_audit.workspace import anchors
from ctpat_audit.workspace.anchors import Anchor

__all__ = ["anchor_problems", "cms_signer", "unlogged_certificates"]


def cms_signer(data: bytes, signature: bytes, ca: x509.Certificate) -> x509.Certificate:
    """The certificate that made ``signature`` (detached CMS, DER) over ``data``; ValueError
    with the reason when it is not a valid signature by a certificate ``ca`` issued."""
    from asn1crypto import cms

    try:
        info = cms.ContentInfo.load(signature, strict=True)
        signed = info["content"]
        (signer_info,) = list(signed["signer_infos"])
        certs = [c.chosen for c in signed["certificates"] or []]
        sid = signer_info["sid"].chosen
        cert_der = next(c.dump() for c in certs
                        if c.issuer == sid["issuer"]
                        and c.serial_number == sid["serial_number"].native)
        attrs = signer_info["signed_attrs"]
        digest = next(a["values"][0].native for a in attrs if a["type"].native ==
                      "message_digest")
        signed_bytes = b"\x31" + attrs.dump()[1:]  # signed over as a SET OF, not [0]
        value = signer_info["signature"].native
    except (ValueError, TypeError, KeyError, StopIteration) as exc:
        raise ValueError(f"not a CMS signature this toolkit writes ({exc})") from None
    cert = x509.load_der_x509_certificate(cert_der)
    try:
        cert.verify_directly_issued_by(ca)
    except (ValueError, TypeError, InvalidSignature):
        raise ValueError("signed by a certificate the workspace CA did not issue") from None
    if digest != hashlib.sha256(data).digest():
        raise ValueError("the signature is over other bytes (digest differs)")
    key = cert.public_key()
    if not isinstance(key, ec.EllipticCurvePublicKey):
        raise ValueError("not an ECDSA signer certificate")
    try:
        key.verify(value, signed_bytes, ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        raise ValueError("the signature value is not valid") from None
    return cert


def anchor_problems(conn: sqlite3.Connection, trust: str | Path) -> list[tuple[int, str]]:
    """(log seq, plain sentence) for every way the log fails its anchors (see module doc).

    ``trust``: the trust store the manifests' signers must chain to (``WORKSPACE/keys`` or
    a copy of its ``ca.pem`` kept elsewhere)."""
    problems: list[tuple[int, str]] = []
    rows = anchors.anchor_rows(conn)
    signs = anchors.sign_entries(conn)
    start = anchors.anchored_from(conn)
    if start is None:
        problems.append((0, "the workspace does not say from which entry its signatures are "
                            "anchored (meta key anchored_from_seq missing or changed)"))
        start = 1
    ca: x509.Certificate | None = None
    if rows:
        try:
            ca_path, _ = trust_paths(trust)
            ca = x509.load_pem_x509_certificate(ca_path.read_bytes())
        except Exception as exc:
            return [*problems, (0, f"the anchors cannot be checked: no trust root ({exc})")]
    found = anchors.entry_hashes(conn, sorted({a.seq for a in rows}))
    for a in rows:
        assert ca is not None
        why = _anchor_problem(a, ca, found.get(a.seq))
        if why:
            problems.append((a.seq, why))
        if a.seq < start:
            problems.append((a.seq, f"entry {a.seq} is anchored but anchored_from_seq says "
                                    f"anchoring began at entry {start} (meta changed)"))
    have = {a.seq for a in rows}
    for seq, _, sid in signs:
        if seq >= start and seq not in have:
            problems.append((seq, f"entry {seq} signs session {sid} but its signed manifest "
                                  "is not in the workspace (anchor removed)"))
    return sorted(problems)


def _anchor_problem(a: Anchor, ca: x509.Certificate, logged_hash: str | None) -> str | None:
    where = f"the signed manifest of session {a.session_id} pins entry {a.seq}"
    try:
        cms_signer(a.manifest, a.signature, ca)
    except ValueError as exc:
        return f"{where}, but its signature does not check: {exc}"
    try:
        manifest = json.loads(a.manifest.decode("utf-8"))
        head = manifest["provenance"]["audit_log_head"]
        sid = manifest["report"]["session_id"]
    except (ValueError, KeyError, TypeError):
        return f"{where}, but it is not a manifest with a pinned head"
    if head != a.head or sid != a.session_id:
        return (f"{where}, but the anchor row says head {a.head} / session {a.session_id} "
                f"where the signed manifest says {head} / {sid} (the row was changed)")
    if logged_hash is None:
        return (f"{where} (hash {head}), which is no longer in the log: the history was "
                "truncated or rewritten")
    if logged_hash != head:
        return (f"{where} with hash {head}; the log now has {logged_hash} there: the "
                "history was rewritten and re-hashed")
    return None


def unlogged_certificates(conn: sqlite3.Connection, trust: str | Path) -> list[tuple[int, str]]:
    """(0, sentence) for each certificate of ``trust/certs`` that the CA issued with a person
    id but whose issue is not in the log: the tail that recorded it was cut."""
    folder = Path(trust) if Path(trust).is_dir() else Path(trust).parent
    try:
        ca_path, _ = trust_paths(folder)
        ca = x509.load_pem_x509_certificate(ca_path.read_bytes())
    except Exception:
        return []  # no CA yet: nothing was issued
    logged = anchors.logged_certificates(conn)
    out = []
    for path in sorted((folder / "certs").glob("*.pem")):
        try:
            cert = x509.load_pem_x509_certificate(path.read_bytes())
            cert.verify_directly_issued_by(ca)
        except (ValueError, TypeError, InvalidSignature):
            continue  # not the CA's: it names no one
        if identity_of(cert).person_id and fingerprint(cert) not in logged:
            out.append((0, f"certificate {path.stem} ({identity_of(cert).email}) was issued "
                           "by the workspace CA but its issue is not in the log: the history "
                           "was truncated or rewritten"))
    return out
