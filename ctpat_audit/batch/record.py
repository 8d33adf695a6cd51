"""The coordinating process's part of every batch report: record, verify, publish.

Workers render and sign from a read-only snapshot of the workspace and never write it
(:mod:`ctpat_audit.batch.worker`); a report they signed comes back with its signatures to
record (:class:`~ctpat_audit.batch.worker.PendingReport`). :class:`Recorder`, in the one
process that writes the workspace, records each signature in order
(:func:`~ctpat_audit.trust.signing.record_signature`: the ``sign`` entry, the manifest that
pins its hash and is signed by the same key, the anchor; refused if the session's record is
no longer the one the report was rendered from), then verifies the report as a whole and
publishes it. So every audit entry of a batch is appended here, in the order the signatures
are recorded, and every manifest pins its own entry whatever machine rendered it. A refusal
the worker met is logged here as well (``sign_refused``).

The coordinator holds the signers' keys too (the manifest signature needs the head, which
exists only once the entry is appended): the supervisor's and, for the demonstration flow,
the specialists' from ``--specialist-keys``, opened with the same passphrase variable.
"""
from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import Any

from ctpat_audit.batch.worker import BatchSettings, PendingReport, ReportResult, opened_keys

__all__ = ["Recorder"]


class Recorder:
    """Finishes the reports of one batch in the coordinating process (see module doc).

    ``workspace``: the workspace itself (not the snapshot); ``settings``: the batch's, for the
    output folder, the keys and whether to verify. One audit-chain checkpoint for the batch:
    the database integrity and the whole chain are checked before the first signature, only
    the entries added since before each later one.
    """

    def __init__(self, workspace: str | Path, settings: BatchSettings) -> None:
        from ctpat_audit.workspace.audit import ChainCheckpoint

        self.workspace = Path(workspace)
        self.settings = settings
        self.checkpoint = ChainCheckpoint()
        self._signers: dict[str, Any] | None = None

    def signer(self, fingerprint: str) -> Any:
        """The loaded key whose certificate has this fingerprint (keys loaded once)."""
        import os

        from ctpat_audit.core.errors import SigningError
        from ctpat_audit.trust.keys import fingerprint as fp

        if self._signers is None:
            secret = os.environ.get(self.settings.passphrase_env or "", "")
            paths = [Path(self.settings.supervisor_key)] if self.settings.supervisor_key else []
            if self.settings.specialist_keys:
                paths += sorted(Path(self.settings.specialist_keys).glob("*.p12"))
            self._signers = {}
            for s in opened_keys(paths, secret):
                self._signers.setdefault(fp(s.certificate), s)
        found = self._signers.get(fingerprint)
        if found is None:
            raise SigningError(self.workspace, "no key of this batch has the certificate "
                               f"{fingerprint[:16]}... that made the signature to record")
        return found

    def finish(self, res: ReportResult) -> ReportResult:
        """Record the signatures a worker made, verify and publish the report; a result
        without any is returned as it is (a refusal it carries is logged first)."""
        pending, res.pending = res.pending, None
        if pending is None:
            return res
        if pending.refusal is not None:
            self._log_refusal(pending)
            return res
        t0 = time.perf_counter()
        try:
            return self._finish(res, pending)
        finally:
            shutil.rmtree(pending.root, ignore_errors=True)
            res.duration_s = round(res.duration_s + time.perf_counter() - t0, 3)
            res.finished_at = time.time()

    def _finish(self, res: ReportResult, pending: PendingReport) -> ReportResult:
        from ctpat_audit.batch.worker import report_succeeded, signature_meanings
        from ctpat_audit.reports.failure import keep_failed
        from ctpat_audit.reports.publish import publish_report
        from ctpat_audit.trust.signing import record_signature
        from ctpat_audit.trust.verify import verify_report

        out = Path(self.settings.out)
        folder = Path(pending.folder)
        mark = time.perf_counter()
        try:
            res.step = "record"
            for request in pending.requests:
                record_signature(folder, self.workspace, self.signer(request.fingerprint),
                                 request, checkpoint=self.checkpoint)
            res.timings["record"] = round(time.perf_counter() - mark, 3)
            if self.settings.verify:
                mark = time.perf_counter()
                res.step = "verify"
                check = verify_report(folder, self.workspace / "keys")
                if not check.ok:
                    res.error = "verification failed: " + "; ".join(check.problems)
                    return res
                res.timings["verify"] = round(time.perf_counter() - mark, 3)
            res.step = "publish"
            final = publish_report(folder, out, res.account_id, res.session_id)
            res.signatures = signature_meanings(final)
            return report_succeeded(res, out, final)
        except Exception as exc:
            res.error = f"{type(exc).__name__}: {exc}"
            if not pending.adopted:
                kept = keep_failed(out, res.session_id, folder / "report.ipynb", exc)
                res.notebook = str(kept.relative_to(out)) if kept else ""
            return res

    def _log_refusal(self, pending: PendingReport) -> None:
        from ctpat_audit.core.errors import AuthorityError
        from ctpat_audit.trust.signing import log_refusal

        r = pending.refusal
        assert r is not None
        log_refusal(self.workspace, AuthorityError(r.session_id, r.who.email, r.meaning, r.rule,
                                                   r.reason), r.who)
