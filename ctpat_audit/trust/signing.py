"""Sign a report folder: authority checks, PAdES PDF signature, signed manifest, audit entry.

A report folder (``REPORTS/<account>/<session>/``) holds ``report.pdf`` and the other
artifacts (``report.ipynb``, ``report.html``, ``report.xlsx``). Signing it:

1. checks the signer's **authority** (:func:`authority_problem`): a validation is signed
   ``validated`` by the session's specialist (role specialist, certificate e-mail = the
   session's ``opened_by``), then countersigned ``approved`` by a supervisor (another person);
   a self-assessment is signed ``submitted`` only by a contact holding the Company Officer role
   for that partner in the workspace contacts table *now*, with a company_officer certificate
   for that account. A refusal raises :class:`AuthorityError` and is written to the audit log;
2. adds a **PAdES** signature to ``report.pdf`` (pyHanko, incremental update; a countersignature
   is a second incremental signature) with a visible stamp: printed name, role, UTC time and
   meaning ("Validated by", "Approved by", "Submitted by Company Officer");
3. locks the session (:meth:`Session.lock`; later edits need ``new_revision``) and appends a
   ``sign`` entry to the hash-chained audit log;
4. copies the session's evidence files into ``evidence/`` and writes ``manifest.json``: every
   file's SHA-256, provenance (catalogue version, package version, data snapshot hash,
   audit-log head) and the list of signatures; then ``manifest.sig``: a detached CMS
   (ECDSA-SHA256) signature of the exact bytes of ``manifest.json`` by the latest signer.
   Each signing step re-signs the manifest (with the new PDF hash); the PDF keeps every
   signer's own PAdES signature. The signed manifest is also kept in the workspace as the
   anchor of its ``sign`` entry (:mod:`ctpat_audit.trust.anchoring`), in the same transaction.

The work is in two halves so that it can be split between processes.
:func:`prepare_signature` does steps 1 and 2 and the evidence copy without writing to the
workspace, which may be a read-only snapshot (a batch worker on another machine);
:func:`record_signature`, in the one process that writes the workspace, checks again, locks,
appends the entry, signs the manifest that pins its hash and keeps the anchor in one
transaction, and only then writes the PDF and the manifest pair into the folder: a folder
never pins a head the log does not hold. The manifest can only be signed there, since the
head it pins exists only once the entry is appended. :func:`sign_report` runs both halves in
one process. A signature prepared on a snapshot is recorded only if the session's record
(answers, evidence, best practices, scope: :func:`session_record_hash`) is still what the
report was rendered from.

On the team server (``ctpat-audit hub``) the signed-in person signs only with their own key
(same person id or mailbox as the certificate) and only with a meaning their role allows
(:data:`SIGN_PERMISSIONS`); the ``sign`` entry and the session's status changes name that
person. The process that records the signature checks this (:func:`record_signature`, the
batch's coordinator): it is the one the hub started for that person.

A session whose state tables differ from the replay of its audit log is refused
(:class:`~ctpat_audit.core.errors.RecordError`) before anything is signed, and so is a
workspace whose log no longer holds a head an earlier signature pinned.
"""
from __future__ import annotations

import datetime as dt
import fcntl
import hashlib
import io
import logging
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric import ec

from ctpat_audit.core.clock import Clock, utc_now
from ctpat_audit.core.errors import (
    AccessError,
    AuthorityError,
    KeyStoreError,
    NotFoundError,
    SigningError,
)
from ctpat_audit.core.files import write_atomic
from ctpat_audit.core.threads import run_outside_event_loop
from ctpat_audit.core.vocabulary import COMPANY_OFFICER
from ctpat_audit.trust.anchoring import anchor_problems
from ctpat_audit.trust.authority import MEANINGS, authority_problem, default_meaning
from ctpat_audit.trust.der_cache import check_last_signature, settled_encoding
from ctpat_audit.trust.keys import (
    Signer,
    SignerIdentity,
    fingerprint,
    load_signer,
    same_person,
    trust_paths,
)
from ctpat_audit.trust.manifest import (
    MANIFEST,
    MANIFEST_FORMAT,
    MANIFEST_SIG,
    artifact_entries,
    copy_evidence,
    file_sha256,
    manifest_bytes,
    read_manifest,
    report_files,
)
from ctpat_audit.workspace import anchors, audit, db, people, reference_store, store
from ctpat_audit.workspace.reference import as_workspace
from ctpat_audit.workspace.replay import require_replayed_state
from ctpat_audit.workspace.report_inputs import session_record_hash

log = logging.getLogger(__name__)

__all__ = ["MEANINGS", "AuthorityError", "SigningError", "sign_report", "load_signer", "demo_keys",
           "find_signer", "SignatureRequest", "prepare_signature", "record_signature",
           "log_refusal",
           "authority_problem", "default_meaning", "manifest_bytes", "file_sha256",
           "report_files", "MANIFEST", "MANIFEST_SIG"]




# --- PDF signing -------------------------------------------------------------------------------

def _stamp_text(meaning: str, who: SignerIdentity, at: dt.datetime, session_id: str) -> str:
    label = MEANINGS[meaning][0]
    lines = [f"{label}: {who.name}", f"Role: {who.role_label}", who.email,
             f"{at.astimezone(dt.UTC):%Y-%m-%d %H:%M:%S} UTC", f"Report {session_id}"]
    return "\n".join(line.replace("%", "%%") for line in lines)


SIGNATURE_ANCHOR = "signatures"
STAMP_W_GAP, STAMP_H, STAMP_ROW = 12, 76, 84


def stamp_box(pdf: bytes, slot: int) -> tuple[int, tuple[int, int, int, int]]:
    """(page index, box) of the ``slot``-th visible stamp (two per row).

    Under the lowest word "Signatures" (a heading the report template prints above its
    signature block) on one of the last two pages when there is room below it; otherwise at
    the bottom of the last page. Text is searched with PDFium (``pypdfium2``): a few
    milliseconds, where a full layout analysis of the page took about 0.4 s a signature.
    """
    import pypdfium2 as pdfium

    doc = pdfium.PdfDocument(pdf)
    try:
        last = len(doc) - 1
        width, _ = doc[last].get_size()
        w = (float(width) - 72 - STAMP_W_GAP) / 2
        x = 36 + (slot % 2) * (w + STAMP_W_GAP)
        for index in (last, last - 1):
            bottom = _anchor_bottom(doc, index) if index >= 0 else None
            if bottom is not None:
                top = bottom - 8 - (slot // 2) * STAMP_ROW
                if top - STAMP_H >= 20:
                    return index, (int(x), int(top - STAMP_H), int(x + w), int(top))
    finally:
        doc.close()
    y0 = 30 + (slot // 2) * STAMP_ROW
    return last, (int(x), int(y0), int(x + w), int(y0 + STAMP_H))


def _anchor_bottom(doc: Any, index: int) -> float | None:
    """PDF y (from the page's bottom) of the lowest whole word "Signatures" on a page."""
    page = doc[index]
    text = page.get_textpage()
    try:
        search = text.search(SIGNATURE_ANCHOR, match_case=False, match_whole_word=True)
        bottoms = []
        while hit := search.get_next():
            bottoms.append(float(text.get_charbox(hit[0], loose=True)[1]))
        return min(bottoms) if bottoms else None
    finally:
        text.close()
        page.close()


def sign_pdf(pdf: bytes, signer: Signer, meaning: str, at: dt.datetime, session_id: str,
             account_id: str, slot: int) -> bytes:
    """The PDF with one more PAdES signature (incremental) and its visible stamp."""
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign import fields, signers
    from pyhanko.stamp import TextStampStyle

    page, box = stamp_box(pdf, slot)
    who = signer.identity
    label = MEANINGS[meaning][0]
    meta = signers.PdfSignatureMetadata(
        field_name=f"ctpat-{meaning}", md_algorithm="sha256",
        subfilter=fields.SigSeedSubFilter.PADES, name=who.name, contact_info=who.email,
        reason=f"{label} {who.name} ({who.role_label}); report {session_id}, partner "
               f"{account_id}",
        location="ctpat-audit")
    style = TextStampStyle(stamp_text=_stamp_text(meaning, who, at, session_id),
                           border_width=1)
    spec = fields.SigFieldSpec(sig_field_name=f"ctpat-{meaning}", on_page=page, box=box)

    def sign() -> bytes:
        writer = IncrementalPdfFileWriter(io.BytesIO(pdf), strict=False)
        out = io.BytesIO()
        signers.PdfSigner(meta, signer=signer.hanko, stamp_style=style,
                          new_field_spec=spec).sign_pdf(
            writer, output=out, bytes_reserved=_bytes_reserved(signer))
        return out.getvalue()

    def run() -> bytes:
        with settled_encoding():  # 48 -> 14 ms a signature; each one checked below
            signed = sign()
        problem = check_last_signature(signed, signer.certificate)
        if problem is None:
            return signed
        log.warning("signature made with asn1crypto's encoding cache did not check out "
                    "(%s); signing again without it", problem)
        return sign()

    return run_outside_event_loop(run)


def _bytes_reserved(signer: Signer) -> int:
    """Room for the signature in the PDF, worked out once per signer (pyHanko would make a
    throw-away signature before every real one to size it: a third of the signing time).
    Same rule as pyHanko's: the dry-run container's hex length plus half again."""
    if signer.pdf_bytes_reserved is None:
        import asyncio

        from cryptography.hazmat.primitives import hashes

        digest = hashes.Hash(hashes.SHA256()).finalize()
        cms = asyncio.run(signer.hanko.async_sign(digest, "sha256", use_pades=True,
                                                  dry_run=True))
        test_len = len(cms.dump()) * 2
        signer.pdf_bytes_reserved = test_len + 2 * (test_len // 4)
    return signer.pdf_bytes_reserved


def sign_manifest(data: bytes, signer: Signer) -> bytes:
    """Detached CMS SignedData (DER) over the exact manifest bytes.

    pyHanko builds the structure once per signer (certificates and signed attributes: about
    35 ms of CPU, nearly all of it ASN.1 encoding; :class:`_ManifestTemplate`); each
    manifest then gets the same bytes with its own message digest among the signed
    attributes, signed again by the signer's key (a fraction of a millisecond, on a PKCS#11
    token as well). It matters because the manifest is signed inside the transaction that
    records the signature (:func:`record_signature`), while the team waits for the lock.
    """
    def run() -> bytes:
        import asyncio

        template = manifest_template(signer)
        attrs = template.signed_attrs(hashlib.sha256(data).digest())
        signature: bytes = asyncio.run(signer.hanko.async_sign_raw(b"\x31" + attrs[1:],
                                                                   "sha256"))
        return template.signed_data(attrs, signature)

    return run_outside_event_loop(run)


def manifest_template(signer: Signer) -> _ManifestTemplate:
    """The signer's reusable manifest signature (made on first use: call it before taking
    the write lock, as :func:`record_signature` does)."""
    def run() -> _ManifestTemplate:
        import asyncio

        if signer.manifest_template is None:
            signer.manifest_template = _ManifestTemplate(asyncio.run(
                signer.hanko.async_sign_general_data(b"", "sha256", detached=True)).dump())
        template: _ManifestTemplate = signer.manifest_template
        return template

    return run_outside_event_loop(run)


def _der(tag: int, body: bytes) -> bytes:
    """One DER element: tag, definite length, body."""
    n = len(body)
    if n < 0x80:
        return bytes([tag, n]) + body
    size = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([tag, 0x80 | len(size)]) + size + body


class _ManifestTemplate:
    """A detached CMS signature pyHanko made over empty data, cut into the DER pieces that
    do not depend on the data: what :func:`sign_manifest` puts together for each manifest.
    Checked once: the pieces put back together with the template's own digest and
    signature give the template byte for byte."""

    EMPTY = hashlib.sha256(b"").digest()

    def __init__(self, der: bytes) -> None:
        from asn1crypto import cms

        info = cms.ContentInfo.load(der)
        signed = info["content"]
        (si,) = list(signed["signer_infos"])
        if si["unsigned_attrs"].native is not None:
            raise SigningError(Path("manifest.sig"), "unexpected unsigned attributes")
        self.content_type = info["content_type"].dump()
        self.head = b"".join(signed[f].dump() for f in ("version", "digest_algorithms",
                                                        "encap_content_info", "certificates",
                                                        "crls") if signed[f].native is not None)
        self.si_head = b"".join(si[f].dump() for f in ("version", "sid", "digest_algorithm"))
        self.attrs: bytes = si["signed_attrs"].dump()
        self.sig_algorithm = si["signature_algorithm"].dump()
        if self.attrs.count(self.EMPTY) != 1 or self.signed_data(
                self.attrs, si["signature"].native) != der:
            raise SigningError(Path("manifest.sig"), "the signature structure pyHanko made "
                               "cannot be reused")

    def signed_attrs(self, digest: bytes) -> bytes:
        """The signed attributes ([0] IMPLICIT, as in SignerInfo) for this message digest."""
        attrs: bytes = self.attrs.replace(self.EMPTY, digest)
        return attrs

    def signed_data(self, attrs: bytes, signature: bytes) -> bytes:
        signer_info = _der(0x30, self.si_head + attrs + self.sig_algorithm
                           + _der(0x04, signature))
        signed = _der(0x30, self.head + _der(0x31, signer_info))
        return _der(0x30, self.content_type + _der(0xA0, signed))


# --- the whole step ----------------------------------------------------------------------------

def _check_cert_in_trust(cert: x509.Certificate, keys_dir: Path) -> str | None:
    """Why this workspace's trust store does not accept the certificate, or None."""
    try:
        ca_path, crl_path = trust_paths(keys_dir)
    except KeyStoreError as exc:
        return str(exc)
    ca = x509.load_pem_x509_certificate(ca_path.read_bytes())
    try:
        cert.verify_directly_issued_by(ca)
    except (ValueError, TypeError, InvalidSignature):
        return "the certificate was not issued by this workspace's CA"
    if crl_path is not None:
        crl = x509.load_pem_x509_crl(crl_path.read_bytes())
        ca_key = ca.public_key()  # a workspace CA's key is EC P-256 (keys.init_ca)
        if not isinstance(ca_key, ec.EllipticCurvePublicKey) or not crl.is_signature_valid(ca_key):
            return f"{crl_path} is not signed by the workspace CA"
        if crl.get_revoked_certificate_by_serial_number(cert.serial_number) is not None:
            return f"certificate {cert.serial_number:x} is revoked"
    return None


#: What the team server's person needs to sign with each meaning.
SIGN_PERMISSIONS = {"validated": "sign_validated", "approved": "sign_approved",
                    "submitted": "self_assessment"}


def _team_signer(workspace: Any, who: SignerIdentity, meaning: str) -> str | None:
    """On the team server: the signed-in person's e-mail, when their role signs with
    ``meaning`` and the key is their own (:class:`AccessError` otherwise); None outside it."""
    if meaning not in SIGN_PERMISSIONS:
        return None  # refused below, as an unknown meaning
    person = people.require(workspace, SIGN_PERMISSIONS[meaning])
    if person is None:
        return None
    if not same_person(who, {"signer": person.name, "email": person.email,
                             "person_id": person.person_id}):
        raise AccessError(person.hub_user, "identity_mismatch",
                          f"this key belongs to {who.name} <{who.email}>; you are signed in "
                          f"to the team server as {person.describe()}. Sign with your own "
                          "key.")
    return person.email


def _refusal_entry(conn: Any, session_id: str, who: SignerIdentity, meaning: str, rule: str,
                   message: str, at: str, actor: str | None = None) -> AuthorityError:
    """Log a refused signature (inside the caller's write transaction); the error to raise."""
    audit.append(conn, at=at, actor=actor or who.email or who.name, action="sign_refused",
                 session_id=session_id, target={"session_id": session_id},
                 old=None, new={"meaning": meaning, "rule": rule, "message": message,
                                "role": who.role, "account_id": who.account_id})
    return AuthorityError(session_id, who.email, meaning, rule, message)


def _refuse(conn: Any, session_id: str, who: SignerIdentity, meaning: str, rule: str,
            message: str, at: str, actor: str | None = None) -> AuthorityError:
    with db.write(conn):
        return _refusal_entry(conn, session_id, who, meaning, rule, message, at, actor)


def log_refusal(ws: Any, refused: AuthorityError, who: SignerIdentity,
                clock: Clock = utc_now) -> None:
    """Write to the workspace's audit log a signature that was refused where the workspace
    could not be written (a batch worker's snapshot); the coordinating process calls this.
    On the team server the entry names the signed-in person."""
    workspace = as_workspace(ws)
    actor = people.acting(workspace, None, default=who.email or who.name)
    conn = workspace.connect()
    try:
        _refuse(conn, refused.session_id, who, refused.meaning, refused.rule,
                refused.reason, clock().astimezone(dt.UTC).isoformat(timespec="microseconds"),
                actor)
    finally:
        conn.close()


def _signing_problem(conn: Any, info: dict[str, Any], signer: Signer, meaning: str,
                     prior: list[dict[str, Any]], keys_dir: Path) -> tuple[str, str] | None:
    """(rule, reason) when ``signer`` may not sign this session's report with ``meaning``
    after the ``prior`` signatures: untrusted certificate, authority, superseded session."""
    who = signer.identity
    problem = _check_cert_in_trust(signer.certificate, keys_dir)
    if problem:
        return "untrusted_certificate", problem
    roles = store.contact_roles(conn, info["account_id"], who.email)
    found = authority_problem(info["kind"], info["account_id"], info["opened_by"], who,
                              meaning, prior, roles)
    if found:
        return found
    if info["status"] == "superseded":
        return "superseded", "the session was superseded by a newer revision"
    return None


@dataclass
class SignatureRequest:
    """A signature made and not yet recorded (:func:`prepare_signature`).

    The PDF is signed, but the manifest cannot be: it pins the hash of the signature's own
    ``sign`` entry of the audit log, known only when that entry is appended. This carries
    what :func:`record_signature` needs to append it and complete the manifest. A batch
    worker prepares from a read-only snapshot and its coordinating process records; it is
    plain data (picklable). ``pdf``: the signed PDF, written when the signature is recorded
    (None when the preparer has written it into a folder of its own).
    """

    session_id: str
    meaning: str
    fingerprint: str  # the signer's certificate
    prior: list[dict[str, Any]]  # the signatures before this one, as the manifest lists them
    entry: dict[str, Any]  # this one: the manifest's entry and the ``sign`` entry's value
    report: dict[str, Any]  # the manifest's "report"
    provenance: dict[str, Any]  # the manifest's "provenance" but the audit-log head
    artifacts: list[dict[str, Any]]  # every file of the folder, the PDF as signed here
    record_sha256: str  # the session's record as the report shows it (report_inputs)
    pdf: bytes | None = field(default=None, repr=False)


def prepare_signature(report_dir: str | Path, ws: Any, signer: Signer,
                      meaning: str | None = None, *, session_id: str | None = None,
                      clock: Clock = utc_now, check_prior: bool = True,
                      after: SignatureRequest | None = None,
                      replayed: bool = False) -> SignatureRequest:
    """Check and make a signature without writing to the workspace (which may be a
    read-only snapshot): the authority checks, the session's state against the replay of
    its log, the PAdES signature of the PDF (in memory) and the evidence files copied into
    the folder. Raises :class:`AuthorityError` (not logged here: the caller that can write
    logs it, see :func:`sign_report`, :func:`log_refusal`).

    ``after``: a signature prepared a moment ago for the same folder and not yet recorded
    (a batch signs ``validated`` then ``approved`` before the coordinator records either):
    this one signs its PDF and follows its entry, and the session's state, checked against
    its log for that signature on the same workspace, is not replayed again (recording
    checks it again, for each signature). ``replayed``: the caller has just checked the
    session's state against its log on this same workspace, and the workspace is a
    read-only snapshot (which nothing changes): not replayed again. On a live workspace
    the flag is ignored. ``check_prior``: see :func:`sign_report`.
    """
    from importlib.metadata import version

    from ctpat_audit.sessions.session import validate_session_id

    folder = Path(report_dir)
    workspace = as_workspace(ws)
    keys_dir = workspace.path / "keys"
    who = signer.identity
    meaning = meaning or default_meaning(who.role)
    if after is not None:
        if after.pdf is None:
            raise SigningError(folder, "the signature to follow carries no PDF")
        pdf, prior, sid = after.pdf, [*after.prior, after.entry], after.session_id
    else:
        pdf_path = folder / "report.pdf"
        if not pdf_path.is_file():
            raise SigningError(folder, "no report.pdf here; render the report first "
                               "(`ctpat-audit report`)")
        pdf = pdf_path.read_bytes()
        prior_manifest = read_manifest(folder)
        prior = list(prior_manifest["signatures"]) if prior_manifest else []
        if prior_manifest:
            _check_prior(folder, prior_manifest, keys_dir, check_prior)
            sid = prior_manifest["report"]["session_id"]
        else:
            sid = session_id or folder.name
    validate_session_id(sid)
    if session_id and session_id != sid:
        raise SigningError(folder, f"this folder is the report of session {sid}, "
                           f"not {session_id}")
    at_dt = clock().astimezone(dt.UTC)
    conn = workspace.connect(readonly=True)
    try:
        row = store.get_session(conn, sid)
        if row is None:
            raise NotFoundError("session", sid, "the id of a session of this workspace "
                                "(`ctpat-audit sessions` lists them)")
        info = dict(row)
        found = _signing_problem(conn, info, signer, meaning, prior, keys_dir)
        if found:
            raise AuthorityError(sid, who.email, meaning, found[0], found[1])
        if after is None:
            if not (replayed and workspace.is_snapshot):
                require_replayed_state(conn, sid)
            record = session_record_hash(conn, sid)
        else:  # checked for the signature this one follows, a moment ago
            record = after.record_sha256
        snapshot_sha = reference_store.meta_value(conn, "source_sha256")
        evidence_meta = copy_evidence(conn, sid, workspace.path, folder)
    finally:
        conn.close()
    signed_pdf = sign_pdf(pdf, signer, meaning, at_dt, sid, info["account_id"], slot=len(prior))
    entry = {"signer": who.name, "email": who.email, "role": who.role,
             "account_id": who.account_id, "person_id": who.person_id, "meaning": meaning,
             "label": MEANINGS[meaning][0], "time": at_dt.isoformat(timespec="microseconds"),
             "cert_fingerprint": fingerprint(signer.certificate),
             "cert_serial": f"{signer.certificate.serial_number:x}",
             "pdf_sha256": hashlib.sha256(signed_pdf).hexdigest(),
             "pdf_field": f"ctpat-{meaning}"}
    return SignatureRequest(
        session_id=sid, meaning=meaning, fingerprint=fingerprint(signer.certificate), prior=prior,
        entry=entry,
        report={k: info[k] for k in ("account_id", "kind", "mode", "opened_by",
                                     "supersedes")} | {"session_id": sid},
        provenance={"catalogue_version": info["catalogue_version"],
                    "package_version": version("ctpat-audit"),
                    "data_snapshot_sha256": snapshot_sha},
        artifacts=artifact_entries(folder, evidence_meta, {"report.pdf": signed_pdf}),
        record_sha256=record, pdf=signed_pdf)


def _check_prior(folder: Path, manifest: dict[str, Any], keys_dir: Path, full: bool) -> None:
    """Refuse to countersign a signed report that does not verify (``full=False``: only its
    files against the manifest, for signatures the caller made itself a moment ago)."""
    from ctpat_audit.trust.verify import VerificationReport, check_files, verify_report

    if full:
        check = verify_report(folder, keys_dir)
        refused = not check.ok
    else:
        check = VerificationReport(folder)
        check_files(folder, manifest, check)
        refused = bool(check.problems)
    if refused:
        raise SigningError(folder, "the signed report does not verify, so it is not "
                           "countersigned: " + "; ".join(check.problems))


def record_signature(report_dir: str | Path, ws: Any, signer: Signer,
                     request: SignatureRequest, *, clock: Clock = utc_now,
                     checkpoint: audit.ChainCheckpoint | None = None) -> dict[str, Any]:
    """Record a prepared signature in the workspace and complete the report folder; the
    signature's manifest entry. Run by the one process that writes the workspace.

    Before: the database and the audit chain are checked (``checkpoint``: see
    :func:`sign_report`), and the session's state against its replay; a validation is
    submitted (if open) and locked. Then ONE write transaction checks again that the signer
    may sign, that the session's record is still the one the report was rendered from
    (``SigningError`` if it changed: render again), appends the ``sign`` entry, signs the
    manifest that pins its hash and keeps it as the entry's anchor. A refusal is logged
    (``sign_refused``) and raised as :class:`AuthorityError`. Only once that commits are the
    files written: the PDF (if the request carries it), ``manifest.json``, ``manifest.sig``;
    a report folder never pins a head the log does not hold.
    """
    from ctpat_audit.sessions.session import resume_session

    folder = Path(report_dir)
    workspace = as_workspace(ws)
    keys_dir = workspace.path / "keys"
    who, sid, meaning = signer.identity, request.session_id, request.meaning
    if fingerprint(signer.certificate) != request.fingerprint:
        raise SigningError(folder, "this key did not make the signature to record")
    actor = _team_signer(workspace, who, meaning) or who.email
    session = resume_session(workspace, sid, actor=actor or "unknown", clock=clock)
    conn = workspace.connect()
    lock = _lock_folder(folder)
    try:
        current = read_manifest(folder)
        if (list(current["signatures"]) if current else []) != request.prior:
            raise SigningError(folder, "someone else signed this report meanwhile; sign again")
        first_check = checkpoint is None or checkpoint.mark is None
        checked = (checkpoint or audit.ChainCheckpoint()).verify(conn)
        if not checked.ok:
            raise SigningError(folder, "the workspace database or its audit log does not "
                               "verify; nothing was signed")
        if first_check:  # once per batch, like the full chain check
            unanchored = anchor_problems(conn, keys_dir)
            if unanchored:
                raise SigningError(folder, "the audit log no longer holds what earlier "
                                   f"signatures pinned ({unanchored[0][1]}); nothing was "
                                   "signed. Run `ctpat-audit audit-verify`")
        require_replayed_state(conn, sid)
        at = clock().astimezone(dt.UTC).isoformat(timespec="microseconds")
        found = _signing_problem(conn, session.info(), signer, meaning, request.prior, keys_dir)
        if found:
            raise _refuse(conn, sid, who, meaning, found[0], found[1], at, actor)
        _require_record(conn, folder, sid, request)  # before locking; again when appending
        if meaning != "approved":
            if session.status == "open":
                session.submit(actor)
            if session.status == "submitted":
                session.lock(actor)
        refused: AuthorityError | None = None
        manifest_template(signer)  # the slow part of a manifest signature, outside the lock
        with db.write(conn):  # the entry, the manifest pinning it and its anchor: together
            info = dict(store.get_session(conn, sid) or {})
            found = _signing_problem(conn, info, signer, meaning, request.prior, keys_dir)
            if found:
                refused = _refusal_entry(conn, sid, who, meaning, found[0], found[1], at,
                                         actor)
            else:
                _require_record(conn, folder, sid, request)
                logged = audit.append(conn, at=at, actor=actor, action="sign",
                                      session_id=sid,
                                      target={"session_id": sid, "report": folder.name},
                                      old=None, new=request.entry)
                manifest = {"format": MANIFEST_FORMAT, "report": request.report,
                            "provenance": {**request.provenance,
                                           "audit_log_head": logged.hash},
                            "artifacts": request.artifacts,
                            "signatures": [*request.prior, request.entry]}
                data = manifest_bytes(manifest)
                sig = sign_manifest(data, signer)
                anchors.insert_anchor(conn, seq=logged.seq, head=logged.hash, session_id=sid,
                                      manifest=data, signature=sig)
        if refused is not None:
            raise refused
        if request.pdf is not None:  # recorded: now the files
            write_atomic(folder / "report.pdf", request.pdf)
        write_atomic(folder / MANIFEST, data)
        write_atomic(folder / MANIFEST_SIG, sig)
        return request.entry
    finally:
        os.close(lock)  # closing the descriptor releases the flock
        conn.close()
        session.close()


def _require_record(conn: Any, folder: Path, sid: str, request: SignatureRequest) -> None:
    """The session's record is still the one the report was rendered from, or SigningError."""
    if session_record_hash(conn, sid) != request.record_sha256:
        raise SigningError(folder, f"session {sid} changed after this report was rendered; "
                           "nothing was signed: render it again")


def sign_report(report_dir: str | Path, ws: Any, signer: Signer, meaning: str | None = None,
                *, session_id: str | None = None, clock: Clock = utc_now,
                checkpoint: audit.ChainCheckpoint | None = None,
                check_prior: bool = True) -> dict[str, Any]:
    """Sign a report folder (see module doc): :func:`prepare_signature` then
    :func:`record_signature`, in this process; returns the new signature entry of the
    manifest. A refusal is logged in the workspace and raised (:class:`AuthorityError`);
    on the team server a key or meaning that is not the signed-in person's is refused first
    (:class:`AccessError`).

    ``session_id`` defaults to the manifest's (countersigning) or the folder's name
    (``REPORTS/<account>/<session>/``). ``checkpoint``: a
    :class:`~ctpat_audit.workspace.audit.ChainCheckpoint` kept across many signatures (a
    batch), so the database integrity and the full chain are checked once and each later
    signature checks only the entries added since; without it every signature checks both
    in full. Before countersigning, the report is verified; ``check_prior=False`` checks
    only its files against the manifest and not the signatures' cryptography: for a caller
    that made those signatures itself a moment ago in a folder of its own and verifies the
    result after (the batch).
    """
    _team_signer(as_workspace(ws), signer.identity,  # refused before any work is done
                 meaning or default_meaning(signer.identity.role))
    try:
        request = prepare_signature(report_dir, ws, signer, meaning, session_id=session_id,
                                    clock=clock, check_prior=check_prior)
    except AuthorityError as exc:
        log_refusal(ws, exc, signer.identity, clock)
        raise
    return record_signature(report_dir, ws, signer, request, clock=clock,
                            checkpoint=checkpoint)


def _lock_folder(folder: Path) -> int:
    """An exclusive flock on the report folder itself: one signer at a time per report."""
    fd = os.open(folder, os.O_RDONLY)
    fcntl.flock(fd, fcntl.LOCK_EX)
    return fd


def find_signer(key_dir: str | Path, ws: Any, report_dir: str | Path, passphrase: str,
                meaning: str | None = None) -> Signer:
    """The first PKCS#12 key in ``key_dir`` (sorted by name) entitled to sign this report
    next (with ``meaning``, or whatever the key's role signs): a convenience for the demo and
    for batches where one passphrase opens every key of a folder."""
    from ctpat_audit.sessions.session import resume_session

    folder, workspace = Path(report_dir), as_workspace(ws)
    manifest = read_manifest(folder)
    prior = list(manifest["signatures"]) if manifest else []
    sid = manifest["report"]["session_id"] if manifest else folder.name
    with resume_session(workspace, sid) as session:
        info = session.info()
    conn = workspace.connect(readonly=True)
    try:
        for path in sorted(Path(key_dir).glob("*.p12")):
            try:
                signer = load_signer(path, passphrase)
            except KeyStoreError:
                continue
            who = signer.identity
            roles = store.contact_roles(conn, info["account_id"], who.email)
            if _check_cert_in_trust(signer.certificate, workspace.path / "keys") is None and \
                    authority_problem(info["kind"], info["account_id"], info["opened_by"], who,
                                      meaning or default_meaning(who.role), prior,
                                      roles) is None:
                return signer
    finally:
        conn.close()
    raise SigningError(folder, f"no key in {key_dir} that this passphrase opens may sign "
                       f"session {sid} {('as ' + meaning) if meaning else 'next'}")


def demo_keys(ws: Any, passphrase: str, *, out_dir: str | Path | None = None,
              specialists: list[str] | None = None, supervisor: str = "demo.supervisor@cbp.example",
              officer_accounts: list[str] | None = None, ca_passphrase: str | None = None
              ) -> dict[str, Path]:
    """DEMONSTRATION keys for the sample workspace (used by ``make demo``); e-mail -> .p12.

    Creates the workspace CA if needed, then (unless the file exists) one specialist key per
    e-mail in ``specialists`` (default: everyone who opened a validation in the workspace, or
    ``demo.specialist@cbp.example``), one supervisor key, and a Company Officer key for the
    first Company Officer contact of each partner in ``officer_accounts`` (default: partners
    with a self-assessment session). All keys use ``passphrase``. The CA never does:
    ``ca_passphrase`` must differ from it (InputError); without one, a new CA is created with a
    random passphrase used once and forgotten (no holder of a demo key can issue
    certificates), and an existing CA is only needed, and then refused, when a key is
    missing. Files go to ``out_dir`` (default WS/demo-keys/): demonstration keys, not for
    real records.
    """
    import secrets

    from ctpat_audit.core.errors import InputError
    from ctpat_audit.trust.keys import CertificateAuthority, has_ca, init_ca, issue_signer

    if ca_passphrase is not None and ca_passphrase == passphrase:
        raise InputError("CA passphrase", "(hidden)", "a passphrase other than the demo keys' "
                         "one: a key holder must not be able to issue certificates")

    workspace = as_workspace(ws)
    root = workspace.path
    out = Path(out_dir) if out_dir else root / "demo-keys"
    out.mkdir(parents=True, exist_ok=True)
    conn = workspace.connect(readonly=True)
    try:
        if specialists is None:
            specialists = (store.session_openers(conn, "validation")
                           or ["demo.specialist@cbp.example"])
        if officer_accounts is None:
            officer_accounts = store.session_accounts(conn, "self_assessment")
        officers = []
        for acct in officer_accounts:
            found = store.first_contact_with_role(conn, acct, COMPANY_OFFICER)
            if found is not None:
                officers.append((*found, acct))
    finally:
        conn.close()
    people: list[tuple[str, str, str, str | None]] = [
        (_name_from_email(e), e, "specialist", None) for e in specialists]
    people.append((_name_from_email(supervisor), supervisor, "supervisor", None))
    people += [(n, e, "company_officer", a) for n, e, a in officers]
    made: dict[str, Path] = {}
    ca: CertificateAuthority | None = None
    for name, email, role, account in people:
        path = out / f"{role}-{re.sub(r'[^A-Za-z0-9_.-]', '_', email)}"
        path = path.with_name(path.name + (f"-{account}" if account else "") + ".p12")
        if not path.exists():
            if ca is None:
                if ca_passphrase is None and has_ca(root):
                    raise KeyStoreError(root / "keys", "the workspace CA exists; give its "
                                        f"passphrase to issue the missing key {path.name}")
                ca = init_ca(root, ca_passphrase or secrets.token_urlsafe(32))
            try:
                issue_signer(ca, path, passphrase, name=name[:64], email=email, role=role,
                             account_id=account)
            except InputError:  # a namesake under another role: demo holders are one per
                issue_signer(ca, path, passphrase, name=name[:64], email=email, role=role,
                             account_id=account, same_person=False)  # mailbox and role
        made[email if role != "company_officer" else f"{email}#{account}"] = path
    return made


def _name_from_email(email: str) -> str:
    local = email.split("@")[0]
    return " ".join(p.capitalize() for p in re.split(r"[._-]+", local) if p) or email
