"""Verify a signed report folder offline: nothing but the folder and the trust store.

Checks, each failure a plain sentence in :attr:`VerificationReport.problems`:

* ``manifest.json`` is a manifest and ``manifest.sig`` is a valid detached CMS signature of
  its exact bytes, by a certificate that chains to the trust root, is not revoked (CRL) and
  is the latest signer's (fingerprint in the manifest);
* every file in the folder is listed, with the SHA-256 and size recorded (nothing missing,
  changed or added);
* every PAdES signature in ``report.pdf`` (pyHanko's validator, trust root + CRL, no network):
  intact, valid, trusted, not revoked; earlier ones only followed by allowed incremental
  updates, the last one covering the whole file; one per manifest signature, same signer
  certificate, in order; and each names this report's session (bound to the report);
* authority: each signature's certificate carries the role its meaning needs, in the right
  order (specialist ``validated`` = the session's opener, then supervisor ``approved``; or the
  partner's Company Officer ``submitted``). Whether the officer held the role in the contacts
  table at signing time was checked when signing and is pinned by the audit-log head.
"""
from __future__ import annotations

import io
from collections.abc import Callable, Set
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from ctpat_audit.core.errors import InputError, ManifestError
from ctpat_audit.core.threads import run_outside_event_loop
from ctpat_audit.trust.authority import MEANINGS, authority_problem
from ctpat_audit.trust.keys import fingerprint, identity_of, trust_paths
from ctpat_audit.trust.manifest import MANIFEST, MANIFEST_SIG, file_sha256, read_manifest, report_files

if TYPE_CHECKING:
    from pyhanko.sign.validation.pdf_embedded import EmbeddedPdfSignature
    from pyhanko.sign.validation.status import PdfSignatureStatus
    from pyhanko_certvalidator import ValidationContext

__all__ = ["VerificationReport", "SignatureCheck", "verify_report"]


@dataclass
class SignatureCheck:
    """One signature as found: who, role, when, meaning and whether it passed."""

    signer: str
    email: str
    role: str
    meaning: str
    time: str
    fingerprint: str
    ok: bool
    detail: str = ""
    account_id: str | None = None
    person_id: str | None = None


@dataclass
class VerificationReport:
    """The result of :func:`verify_report`; ``ok`` only when ``problems`` is empty."""

    folder: Path
    problems: list[str] = field(default_factory=list)
    signatures: list[SignatureCheck] = field(default_factory=list)
    files_checked: int = 0
    session_id: str | None = None
    account_id: str | None = None

    @property
    def ok(self) -> bool:
        return not self.problems and bool(self.signatures)

    def verdict(self) -> str:
        """One line: VERIFIED, or FAILED with the first problem (and how many more)."""
        if not self.problems:
            return ("VERIFIED: every signature, the manifest and every file check out"
                    if self.signatures else "FAILED: the report carries no signature")
        more = len(self.problems) - 1
        return f"FAILED: {self.problems[0]}" + (f" (and {more} more problem(s) below)"
                                                 if more else "")

    def text(self) -> str:
        """The plain report ``ctpat-audit verify`` prints: the verdict first, then what was
        checked and every problem."""
        lines = [self.verdict(), f"Report {self.folder}",
                 f"  session {self.session_id or '?'}, partner {self.account_id or '?'}",
                 f"  {self.files_checked} files checked against the manifest"]
        for s in self.signatures:
            mark = "OK " if s.ok else "BAD"
            lines.append(f"  [{mark}] {MEANINGS.get(s.meaning, (s.meaning,))[0]} {s.signer} "
                         f"<{s.email}> ({s.role}) at {s.time}"
                         + (f": {s.detail}" if s.detail else ""))
        if not self.signatures:
            lines.append("  no signatures")
        if self.problems:
            lines.append(f"{len(self.problems)} problem(s):")
            lines.extend(f"  - {p}" for p in self.problems)
        return "\n".join(lines)


def _context(trust: str | Path) -> ValidationContext:
    from asn1crypto import crl as asn1_crl
    from asn1crypto import x509 as asn1_x509
    from pyhanko_certvalidator import ValidationContext
    from pyhanko_certvalidator.policy_decl import (
        CertRevTrustPolicy,
        RevocationCheckingPolicy,
        RevocationCheckingRule,
    )

    ca_path, crl_path = trust_paths(trust)
    ca = x509.load_pem_x509_certificate(ca_path.read_bytes())
    root = asn1_x509.Certificate.load(ca.public_bytes(serialization.Encoding.DER))
    crls = []
    if crl_path is not None:
        crl = x509.load_pem_x509_crl(crl_path.read_bytes())
        crls.append(asn1_crl.CertificateList.load(crl.public_bytes(serialization.Encoding.DER)))
    # Our certificates declare no CRL distribution point, so pyHanko's "hard-fail" mode
    # would not look at the CRL; require it explicitly for end-entity certificates.
    rule = RevocationCheckingRule.CRL_REQUIRED if crls else RevocationCheckingRule.NO_CHECK
    policy = CertRevTrustPolicy(RevocationCheckingPolicy(
        ee_certificate_rule=rule, intermediate_ca_cert_rule=RevocationCheckingRule.NO_CHECK))
    return ValidationContext(trust_roots=[root], crls=crls, allow_fetching=False,
                             revinfo_policy=policy)


def _cert_of(asn1_cert: Any) -> x509.Certificate:
    return x509.load_der_x509_certificate(asn1_cert.dump())


def _status_problem(status: Any) -> str | None:
    if not status.intact:
        return "the signed bytes were changed"
    if not status.valid:
        return "the signature value is not valid"
    if getattr(status, "revoked", False):
        return "the signer's certificate is revoked"
    if not status.trusted:
        return "the signer's certificate does not chain to the trust store (or is revoked)"
    return None


def verify_report(report_dir: str | Path, trust: str | Path,
                  workspace: str | Path | None = None) -> VerificationReport:
    """Check a signed report folder against a trust store (``WS/keys`` or a CA .pem file;
    required: InputError when None).

    ``workspace`` (optional, not needed offline): also check that workspace's audit log end
    to end, that it still holds the head hash the manifest pinned (not truncated or
    rewritten since signing), that it logged every signature of the manifest (the last one
    as the pinned head) and that the session's state tables equal their replay.
    """
    if trust is None:
        raise InputError("trust store", trust, "the folder WORKSPACE/keys or the workspace's "
                         "ca.pem file: the root certificate the signatures are checked against")
    folder = Path(report_dir)
    rep = VerificationReport(folder)
    try:
        manifest = read_manifest(folder)
    except ManifestError as exc:
        rep.problems.append(str(exc))
        return rep
    if manifest is None:
        rep.problems.append(f"no {MANIFEST}: the report is not signed")
        return rep
    try:
        vc_factory = partial(_context, trust)  # a fresh context per validation
        vc_factory()
    except Exception as exc:
        rep.problems.append(f"trust store: {exc}")
        return rep
    shape = _shape_problem(manifest)
    if shape:
        rep.problems.append(f"{MANIFEST}: {shape}")
        return rep
    report = manifest["report"]
    rep.session_id, rep.account_id = report["session_id"], report["account_id"]
    sigs: list[dict[str, Any]] = manifest["signatures"]
    checks: list[tuple[str, Callable[[], None]]] = [
        ("manifest signature", lambda: _check_manifest_signature(
            folder, sigs, vc_factory, rep, _trusted_der(trust))),
        ("files", lambda: check_files(folder, manifest, rep)),
        ("PDF signatures", lambda: _check_pdf(folder, report, sigs, vc_factory, rep)),
        ("authority", lambda: _check_authority(report, sigs, rep))]
    for what, check in checks:
        try:
            check()
        except Exception as exc:
            rep.problems.append(f"{what}: could not be checked ({type(exc).__name__}: {exc})")
    if workspace is not None:
        try:
            _check_audit_log(workspace, manifest, rep)
        except Exception as exc:
            rep.problems.append(f"audit log: could not be checked ({exc})")
    if folder.name.startswith(("V-", "S-")) and folder.name != rep.session_id:
        rep.problems.append(f"the folder is named {folder.name} but the manifest is for "
                            f"session {rep.session_id} (moved between reports?)")
    return rep


def _check_audit_log(workspace: Any, manifest: dict[str, Any],
                     rep: VerificationReport) -> None:
    from ctpat_audit.workspace.audit import verify_audit_log
    from ctpat_audit.workspace.reference import as_workspace
    from ctpat_audit.workspace.replay import differences, replay, state_message

    head = manifest.get("provenance", {}).get("audit_log_head")
    sid = str(manifest["report"]["session_id"])
    conn = as_workspace(workspace).connect(readonly=True)
    try:
        result = verify_audit_log(conn, expected_head=head if isinstance(head, str) else "")
        state = replay(conn, [sid])
        found = differences(conn, [sid])
    finally:
        conn.close()
    for problem in result.problems:
        rep.problems.append(f"audit log, entry {problem.seq}: {problem.detail}")
    if found:
        rep.problems.append(state_message(found))
    logged = state.sessions.get(sid)
    pairs = list(zip(logged.signatures, logged.sign_heads)) if logged else []
    for i, entry in enumerate(manifest["signatures"]):
        match = [h for s, h in pairs if s == entry]
        if not match:
            rep.problems.append(f"signature {i + 1} ({entry.get('email')}, "
                                f"{entry.get('meaning')}) is not in the workspace's audit log")
        elif i == len(manifest["signatures"]) - 1 and match[-1][1] != head:
            rep.problems.append("the manifest pins audit-log head "
                                f"{head} but its last signature was logged as entry "
                                f"{match[-1][0]} with hash {match[-1][1]}")


def _shape_problem(manifest: dict[str, Any]) -> str | None:
    """What is structurally wrong with a manifest (types of the fields verify relies on)."""
    report, arts, sigs = (manifest.get("report"), manifest.get("artifacts"),
                          manifest.get("signatures"))
    if not isinstance(report, dict) or not all(
            isinstance(report.get(k), str) for k in ("session_id", "account_id", "kind",
                                                       "opened_by")):
        return "'report' must name session_id, account_id, kind and opened_by"
    if not isinstance(arts, list) or not all(
            isinstance(a, dict) and isinstance(a.get("path"), str)
            and isinstance(a.get("sha256"), str) and isinstance(a.get("size"), int)
            for a in arts):
        return "'artifacts' must be a list of {path, sha256, size}"
    if not isinstance(sigs, list) or not sigs or not all(
            isinstance(x, dict) and all(isinstance(x.get(k), str) for k in
                                        ("meaning", "cert_fingerprint", "email", "time"))
            for x in sigs):
        return "'signatures' must be a non-empty list of {meaning, cert_fingerprint, email, time}"
    return None


def _trusted_der(trust: str | Path) -> set[bytes]:
    """DER of the trust store's CA certificate (the only extra certificate a signature may carry)."""
    ca_path, _ = trust_paths(trust)
    ca = x509.load_pem_x509_certificate(ca_path.read_bytes())
    return {ca.public_bytes(serialization.Encoding.DER)}


def _parse_unsigned_parts(signed_data: Any) -> None:
    """Parse eagerly the parts of a CMS SignedData its signature does not cover, so damage
    there raises. The signed attributes are covered by the signature, and the certificates
    are compared byte for byte with the signer's and the trusted CA's: parsing those in
    full (``signed_data.native``) would add nothing, and costs about 20 ms once pyHanko has
    registered its attribute types (asn1crypto re-encodes the signing-certificate
    attribute's default algorithm over and over), a quarter of a report's verification."""
    for name in ("version", "digest_algorithms", "encap_content_info", "crls"):
        _ = signed_data[name].native
    for info in signed_data["signer_infos"]:
        for name in ("version", "sid", "digest_algorithm", "signature_algorithm",
                     "signature", "unsigned_attrs"):
            _ = info[name].native


def _check_manifest_signature(folder: Path, sigs: list[dict[str, Any]],
                              vc_factory: Callable[[], ValidationContext],
                              rep: VerificationReport, trusted_der: Set[bytes] = frozenset()
                              ) -> None:
    from asn1crypto import cms
    from pyhanko.sign.validation.generic_cms import async_validate_detached_cms

    sig_path = folder / MANIFEST_SIG
    if not sig_path.is_file():
        rep.problems.append(f"no {MANIFEST_SIG}: the manifest is not signed")
        return
    data = (folder / MANIFEST).read_bytes()
    try:
        # strict: bytes after the DER structure are tampering too, not ignorable padding
        content = cms.ContentInfo.load(sig_path.read_bytes(), strict=True)
        signed_data = content["content"]
        _parse_unsigned_parts(signed_data)  # garbage raises here
    except Exception:
        rep.problems.append(f"{MANIFEST_SIG} is not a CMS signature (damaged)")
        return

    def run() -> Any:
        import asyncio

        return asyncio.run(async_validate_detached_cms(data, signed_data,
                                                        signer_validation_context=vc_factory()))
    try:
        status = run_outside_event_loop(run)
    except Exception as exc:
        rep.problems.append(f"{MANIFEST_SIG} cannot be validated: {exc}")
        return
    problem = _status_problem(status)
    if problem:
        rep.problems.append(f"manifest signature: {problem}")
    # Certificates in the CMS are not covered by the signature; path building uses the trust
    # store, so a changed copy of the CA would go unnoticed: only the signer's own
    # certificate and byte-exact copies of the trusted CA may be there.
    declared = {d["algorithm"].native for d in signed_data["digest_algorithms"]}
    used = {si["digest_algorithm"]["algorithm"].native for si in signed_data["signer_infos"]}
    versions = [signed_data["version"].native] + [si["version"].native
                                                  for si in signed_data["signer_infos"]]
    if versions != ["v1"] * len(versions):  # RFC 5652 5.1/5.3 for what sign_manifest makes
        rep.problems.append(f"{MANIFEST_SIG}: CMS version fields {versions} are not the ones "
                            "this toolkit writes (v1; changed after signing)")
    if declared != used:  # the header list is not signed either
        rep.problems.append(f"{MANIFEST_SIG}: digest algorithms {sorted(declared)} do not match "
                            f"the signer's {sorted(used)} (changed after signing)")
    signing_der = status.signing_cert.dump()
    for choice in signed_data["certificates"] or []:
        der = choice.chosen.dump()
        if der != signing_der and der not in trusted_der:
            rep.problems.append(f"{MANIFEST_SIG}: carries a certificate that is neither the "
                                "signer's nor the trusted CA's (changed after signing)")
            break
    fp = fingerprint(_cert_of(status.signing_cert))
    if not sigs or sigs[-1].get("cert_fingerprint") != fp:
        rep.problems.append("manifest signature: made by a certificate that is not the "
                            "latest signer's in the manifest")


def check_files(folder: Path, manifest: dict[str, Any], rep: VerificationReport) -> None:
    """Add to ``rep`` every file of ``folder`` missing from, added to or changed since
    ``manifest`` (sizes and SHA-256)."""
    listed = {str(a.get("path")): a for a in manifest.get("artifacts", []) if isinstance(a, dict)}
    present = set(report_files(folder))
    for rel in sorted(set(listed) - present):
        rep.problems.append(f"{rel}: listed in the manifest but missing")
    for rel in sorted(present - set(listed)):
        rep.problems.append(f"{rel}: not in the manifest (added after signing)")
    for rel in sorted(present & set(listed)):
        rep.files_checked += 1
        path = folder / rel
        if path.stat().st_size != listed[rel].get("size") or \
                file_sha256(path) != listed[rel].get("sha256"):
            rep.problems.append(f"{rel}: SHA-256 differs from the manifest (changed)")
    if "report.pdf" not in listed:
        rep.problems.append("report.pdf is not in the manifest")


def _validate_pdf_signature(emb: EmbeddedPdfSignature,
                            vc_factory: Callable[[], ValidationContext]) -> PdfSignatureStatus:
    from pyhanko.sign.validation import validate_pdf_signature

    return validate_pdf_signature(emb, signer_validation_context=vc_factory())


def _check_pdf(folder: Path, report: dict[str, Any], sigs: list[dict[str, Any]],
               vc_factory: Callable[[], ValidationContext], rep: VerificationReport) -> None:
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.validation.status import SignatureCoverageLevel

    pdf = folder / "report.pdf"
    if not pdf.is_file():
        rep.problems.append("report.pdf is missing")
        return
    try:
        reader = PdfFileReader(io.BytesIO(pdf.read_bytes()), strict=False)
        embedded = list(reader.embedded_signatures)
    except Exception as exc:
        rep.problems.append(f"report.pdf cannot be read as a signed PDF: {exc}")
        return
    if len(embedded) != len(sigs):
        rep.problems.append(f"report.pdf has {len(embedded)} signature(s), the manifest lists "
                            f"{len(sigs)}")
    sid = report.get("session_id", "?")
    for i, emb in enumerate(embedded):
        entry = sigs[i] if i < len(sigs) else {}
        try:
            status = run_outside_event_loop(partial(_validate_pdf_signature, emb, vc_factory))
        except Exception as exc:
            rep.problems.append(f"PDF signature {i + 1}: cannot be validated: {exc}")
            continue
        cert = _cert_of(status.signing_cert)
        who = identity_of(cert)
        problem = _status_problem(status) or (None if status.bottom_line else
                                              "modified in a way the signature does not allow")
        last = i == len(embedded) - 1
        if problem is None and last and status.coverage != SignatureCoverageLevel.ENTIRE_FILE:
            problem = "data was appended to the PDF after the last signature"
        reason = str(emb.sig_object.get("/Reason", ""))
        if problem is None and f"report {sid}," not in reason:
            problem = f"the signature was made for another report ({reason!r})"
        if problem is None and entry.get("cert_fingerprint") != fingerprint(cert):
            problem = "signed by a certificate other than the manifest's signer"
        if problem is None and entry.get("pdf_field") not in (None, emb.field_name):
            problem = f"field {emb.field_name} where the manifest says {entry.get('pdf_field')}"
        if problem:
            rep.problems.append(f"PDF signature {i + 1} ({who.name}, {entry.get('meaning', '?')})"
                                f": {problem}")
        rep.signatures.append(SignatureCheck(
            signer=who.name, email=who.email, role=who.role,
            meaning=str(entry.get("meaning", "?")), time=str(entry.get("time", "?")),
            fingerprint=fingerprint(cert), ok=problem is None, detail=problem or "",
            account_id=who.account_id, person_id=who.person_id))


def _check_authority(report: dict[str, Any], sigs: list[dict[str, Any]],
                     rep: VerificationReport) -> None:
    from ctpat_audit.trust.keys import SignerIdentity

    by_fp = {s.fingerprint: s for s in rep.signatures}
    for i, entry in enumerate(sigs):
        check = by_fp.get(entry.get("cert_fingerprint", ""))
        if check is None:
            continue  # already reported: no PDF signature for this entry
        who = SignerIdentity(check.signer, check.email, check.role, check.account_id,
                             check.person_id)
        # earlier signers as their certificates say (the manifest's text is not trusted here)
        prior = [{**s, "person_id": by_fp[s["cert_fingerprint"]].person_id,
                  "email": by_fp[s["cert_fingerprint"]].email}
                 if s.get("cert_fingerprint") in by_fp else s for s in sigs[:i]]
        found = authority_problem(str(report.get("kind")), str(report.get("account_id")),
                                  str(report.get("opened_by", "")), who,
                                  str(entry.get("meaning")), prior, None)
        if found:
            rep.problems.append(f"signature {i + 1} ({check.signer}): no authority: {found[1]}")
            check.ok, check.detail = False, found[1]

