"""One report of a batch, as a worker process does it: execute, render, sign, verify, publish.

A worker process (local pool or Dask worker) keeps what is expensive in :class:`WorkerState`,
created lazily on first use: a warm :class:`~ctpat_audit.reports.zygote.Zygote` that forks one
fresh process per report, the signer keys (loaded once) and the artifact renderer's own state
(one browser, launched while the zygote warms up).

A worker never writes the workspace. ``BatchSettings.workspace`` is the batch's read-only
snapshot (:mod:`ctpat_audit.workspace.snapshot`): the report is executed and rendered from
it (the zygote and every report it forks open the snapshot), and signed there as far as a
signature goes without the workspace (:func:`~ctpat_audit.trust.signing.prepare_signature`:
checks, the PAdES signatures, the evidence). The result then carries the signatures to
record (:class:`PendingReport`), and the coordinating process records them in the
workspace, verifies and publishes the report (:mod:`ctpat_audit.batch.record`).

The steps are the report pipeline's, the same functions ``ctpat-audit report`` runs
(:mod:`ctpat_audit.reports.pipeline`): the notebook is executed on the fork engine
(``ctpat-fork``; ``engine="kernel"``: papermill's own, a new kernel per report), exported,
and built in a private folder ``OUT/.tmp/<random>/<session>/``
that is renamed into ``OUT/<account>/<session>/`` only when it is complete, signed and
verified, so an interrupted batch never leaves a half-written report where a finished one
belongs (a folder with signatures to record is handed to the coordinating process, which
removes it when done). A failed report leaves its executed notebook, marked at the failing cell, in
``OUT/_failed/<session>/``; the result names the cell and the reason as
:class:`~ctpat_audit.reports.failure.ReportError` does.
A report already signed in ``OUT`` (the specialist signed it after the validation) is a record:
it is verified and countersigned as it is, not rendered again (:func:`_adopt_signed`).
"""
from __future__ import annotations

import contextlib
import importlib
import logging
import os
import shutil
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

#: What a report notebook displays to hand its figures to the batch index (defined in
#: :mod:`ctpat_audit.reports.summary`):
#: ``display({SUMMARY_MIME: {"findings": 3, "exam_rate": 0.021}}, raw=True)``.
from ctpat_audit.reports.summary import SUMMARY_MIME

if TYPE_CHECKING:  # pragma: no cover
    from ctpat_audit.reports.publish import Scratch

__all__ = [
    "SUMMARY_MIME",
    "BatchSettings",
    "PendingReport",
    "ReportResult",
    "ReportTask",
    "WorkerState",
    "render_one",
]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BatchSettings:
    """What every report of one batch shares (picklable: sent to local and Dask workers).

    ``workspace``: for the workers, the batch's read-only snapshot of the workspace
    (:mod:`ctpat_audit.workspace.snapshot`), never the workspace itself.

    ``artifacts``: ``"module:function"`` that renders HTML, PDF and Excel from the executed
    notebook, called as ``fn(ws_path, session_id, notebook_path, folder, state)``; its
    ``state`` is a dict kept per worker process (one browser lives there).
    Passphrases are never carried here: workers read them from ``passphrase_env``.
    """

    workspace: str
    out: str
    template: str
    artifacts: str = "ctpat_audit.reports.pipeline:render_artifacts"
    supervisor_key: str | None = None
    specialist_keys: str | None = None
    passphrase_env: str | None = None
    #: "fork": each report in a child forked from this worker's warm zygote; "kernel":
    #: papermill's own engine, a new Jupyter kernel per report (the reference path)
    engine: str = "fork"
    kernel_warmup: str | None = None  # the zygote's warm-up; None: zygote.REPORT_WARMUP
    timeout_s: int = 600
    verify: bool = True
    #: a report already signed in OUT (a specialist signed it after the validation) is
    #: countersigned as it is, never rendered again; ``--force`` turns this off
    adopt_signed: bool = True


@dataclass
class Refusal:
    """A signature the worker's checks refused, for the coordinating process to log."""

    session_id: str
    meaning: str
    rule: str
    reason: str
    who: Any  # trust.keys.SignerIdentity


@dataclass
class PendingReport:
    """What a worker hands to the coordinating process with a report it rendered and signed:
    the scratch folder (``root``, ``folder``, on the shared output folder) and the
    signatures to record, in order; ``adopted``: a report already signed in OUT,
    countersigned as it is; ``refusal``: a signature refused instead (nothing to record)."""

    root: str = ""
    folder: str = ""
    requests: list[Any] = field(default_factory=list)  # trust.signing.SignatureRequest
    adopted: bool = False
    refusal: Refusal | None = None


@dataclass(frozen=True)
class ReportTask:
    session_id: str
    account_id: str
    inputs_hash: str


@dataclass
class ReportResult:
    """What the batch manifest and the index record about one report run."""

    session_id: str
    account_id: str
    inputs_hash: str
    status: str  # "ok" | "failed"
    duration_s: float = 0.0
    folder: str = ""  # relative to OUT
    step: str = ""  # where it failed: record, execute, artifacts, sign, verify, publish
    failed_cell: int | None = None  # index in the executed notebook (ReportError.cell_index)
    error: str = ""
    notebook: str = ""  # a failed run's executed notebook, relative to OUT
    findings: int | None = None
    exam_rate: float | None = None
    outcome: str = ""
    signatures: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)  # seconds per step
    worker: str = ""
    finished_at: float = 0.0
    #: signatures the coordinating process records before the report counts (not written
    #: to the batch manifest)
    pending: PendingReport | None = None

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out.pop("pending")
        return out

    @classmethod
    def worker_failed(cls, task: ReportTask, exc: BaseException) -> ReportResult:
        """The result of a task whose worker process failed (not the report itself)."""
        return cls(task.session_id, task.account_id, task.inputs_hash, "failed", step="worker",
                   error=f"{type(exc).__name__}: {exc}", finished_at=time.time())


class WorkerState:
    """Per-process resources: the warm zygote, loaded keys, renderer state."""

    def __init__(self, settings: BatchSettings) -> None:
        from ctpat_audit.reports.zygote import REPORT_WARMUP, Zygote

        if settings.engine not in ("fork", "kernel"):
            raise ValueError(f"engine {settings.engine!r}: expected 'fork' or 'kernel'")
        self.settings = settings
        warmup = REPORT_WARMUP if settings.kernel_warmup is None else settings.kernel_warmup
        self.zygote = (Zygote(warmup, workspace=settings.workspace)
                       if settings.engine == "fork" else None)
        self.artifact_state: dict[str, Any] = {}
        if settings.artifacts == BatchSettings.artifacts:  # the browser starts meanwhile
            from ctpat_audit.reports.export import prepare_artifact_state

            prepare_artifact_state(self.artifact_state)
        self.supervisor: Any = None
        self.specialists: dict[str, Any] = {}
        secret = os.environ.get(settings.passphrase_env or "", "")
        if settings.supervisor_key:
            from ctpat_audit.trust.keys import load_signer

            self.supervisor = load_signer(settings.supervisor_key, secret)
        if settings.specialist_keys:
            for signer in opened_keys(sorted(Path(settings.specialist_keys).glob("*.p12")),
                                      secret):
                if signer.identity.role == "specialist":
                    self.specialists.setdefault(signer.identity.email.lower(), signer)

    def close(self) -> None:
        """Stop the zygote and whatever the renderer keeps (its browser)."""
        if self.zygote is not None:
            self.zygote.close()
        for value in self.artifact_state.values():
            closer = getattr(value, "close", None)
            if callable(closer):
                with contextlib.suppress(Exception):
                    closer()


def opened_keys(paths: list[Path], secret: str) -> Iterator[Any]:
    """The signer of each key file in ``paths`` that ``secret`` opens, in order; the others
    are skipped (a folder of keys may hold some this passphrase is not for)."""
    from ctpat_audit.trust.keys import load_signer

    for path in paths:
        try:
            yield load_signer(path, secret)
        except Exception as exc:
            log.debug("skipping %s: %s", path, exc)


_STATE: dict[BatchSettings, WorkerState] = {}
_STATE_LOCK = threading.Lock()


def worker_state(settings: BatchSettings) -> WorkerState:
    """This process's state for these settings (made on first use; Dask or local pool).

    A new batch (other settings: every batch renders from a snapshot of its own) closes
    the state an earlier batch left in this process (a Dask worker outlives batches)."""
    with _STATE_LOCK:
        state = _STATE.get(settings)
        if state is None:
            if not _STATE:
                import atexit
                from multiprocessing import util

                atexit.register(close_worker_states)
                # a pool worker process ends without running atexit: its finalizers run,
                # so its zygote and browser are stopped and waited for (their CPU time is
                # then counted in the batch's RUSAGE_CHILDREN)
                util.Finalize(None, close_worker_states, exitpriority=10)
            for old in [k for k in _STATE if k != settings]:
                _STATE.pop(old).close()
            state = _STATE[settings] = WorkerState(settings)
        return state


def close_worker_states() -> None:
    with _STATE_LOCK:
        states = list(_STATE.values())
        _STATE.clear()
    for s in states:
        s.close()


def resolve_callable(spec: str) -> Callable[..., Any]:
    """The function a ``module:name`` spec names (the artifacts step is configurable)."""
    module, _, name = spec.partition(":")
    return getattr(importlib.import_module(module), name)


def render_one(task: ReportTask, settings: BatchSettings) -> ReportResult:
    """Execute, render, sign, verify and publish one report; never raises for report errors.

    The steps are the report pipeline's (:mod:`ctpat_audit.reports.pipeline`), run on this
    worker's zygote and browser; a failure is recorded in the result (step, failing
    cell, one-line reason, kept notebook) instead of raised.
    """
    from ctpat_audit.core.errors import RecordError, ReportError
    from ctpat_audit.reports.execute import execute_report, refuse_edited_session
    from ctpat_audit.reports.publish import (
        publish_report,
        report_folder,
        scratch_report,
    )
    from ctpat_audit.reports.summary import notebook_summary

    t0 = time.perf_counter()
    state = worker_state(settings)
    out = Path(settings.out)
    res = ReportResult(task.session_id, task.account_id, task.inputs_hash, "failed",
                       worker=f"{os.uname().nodename}:{os.getpid()}")
    mark = [time.perf_counter()]

    def lap(step: str) -> None:
        now = time.perf_counter()
        res.timings[step] = round(now - mark[0], 3)
        mark[0] = now

    scratch: Scratch | None = None
    try:
        res.step = "publish"  # the ids must be safe folder names before anything is built
        final = report_folder(out, task.account_id, task.session_id)
        with scratch_report(out, task.session_id) as scratch:
            folder = scratch.folder
            if settings.adopt_signed and (final / "manifest.json").is_file():
                return _adopt_signed(task, settings, state, res, final, scratch, lap)
            res.step = "record"
            refuse_edited_session(settings.workspace, task.session_id)
            res.step = "execute"
            engine: dict[str, Any] = ({"engine_name": "ctpat-fork", "zygote": state.zygote}
                                      if state.zygote is not None else {})
            nb = execute_report(settings.workspace, task.session_id, scratch.notebook,
                                template=settings.template, workbook=folder / "report.xlsx",
                                execution_timeout=settings.timeout_s, cwd=settings.workspace,
                                **engine)
            lap("execute")
            _record_summary(res, notebook_summary(nb))
            res.step = "artifacts"
            resolve_callable(settings.artifacts)(settings.workspace, task.session_id, scratch.notebook,
                                         folder, state.artifact_state)
            lap("artifacts")
            if state.supervisor is not None:
                res.step = "sign"
                specialist = state.specialists.get(session_opened_by(settings.workspace,
                                                              task.session_id))
                signers = ([(specialist, "validated")] if specialist is not None else []) + [
                    (state.supervisor, "approved")]
                res.pending = _prepare(res, task, settings, scratch.root, folder, signers,
                                       replayed=True)  # refused above if edited
                scratch.handed_over = True  # the coordinating process records and publishes
                lap("sign")
                return res
            res.step = "publish"
            return report_succeeded(res, out, publish_report(folder, out, task.account_id,
                                                       task.session_id))
    except RecordError as exc:  # edited outside the toolkit: refused before any rendering
        res.error = str(exc)
        return res
    except ReportError as exc:  # the pipeline's own account of the failure
        res.failed_cell, res.error = exc.cell_index, exc.reason
        return res
    except Exception as exc:
        res.error = f"{type(exc).__name__}: {exc}"
        if res.step == "execute":  # the kernel did not start or papermill itself failed
            res.error += "\n" + traceback.format_exc(limit=3)
        return res
    finally:
        if scratch is not None and scratch.kept is not None:
            res.notebook = str(scratch.kept.relative_to(out))
        res.duration_s = round(time.perf_counter() - t0, 3)
        res.finished_at = time.time()


def _adopt_signed(task: ReportTask, settings: BatchSettings, state: WorkerState,
                  res: ReportResult, existing: Path, scratch: Scratch,
                  lap: Callable[[str], None]) -> ReportResult:
    """A signed report is already in OUT (the specialist signed it after the validation):
    check it and countersign it as it is instead of rendering it again; a signed report is a
    record and is never replaced by a new rendering. Works on a copy in ``folder``: the
    report in OUT changes only when the countersigned copy verifies."""
    from ctpat_audit.reports.summary import notebook_summary
    from ctpat_audit.trust.verify import verify_report

    keys = Path(settings.workspace) / "keys"
    folder = scratch.folder
    shutil.rmtree(folder)
    shutil.copytree(existing, folder)
    res.step = "verify"
    check = verify_report(folder, keys)
    if not check.ok:
        res.error = ("the signed report already in the output folder does not verify, so it "
                     "was left as it is (--force renders it again): "
                     + "; ".join(check.problems))
        return res
    lap("verify")
    if state.supervisor is not None and "approved" not in signature_meanings(folder):
        res.step = "sign"
        # the copy was verified in full just above: prepare checks only its files again
        res.pending = _prepare(res, task, settings, scratch.root, folder,
                               [(state.supervisor, "approved")], adopted=True)
        scratch.handed_over = True
        lap("sign")
    if (existing / "report.ipynb").is_file():
        _record_summary(res, notebook_summary(existing / "report.ipynb"))
    if res.pending is not None:
        return res  # the coordinating process records the countersignature and publishes
    res.signatures = signature_meanings(existing)
    return report_succeeded(res, Path(settings.out), existing)


def _prepare(res: ReportResult, task: ReportTask, settings: BatchSettings, root: Path,
             folder: Path, signers: list[tuple[Any, str]], *,
             adopted: bool = False, replayed: bool = False) -> PendingReport:
    """Make the signatures (checks, PAdES) in ``folder`` from the snapshot, one after the
    other, and write the signed PDF; what the coordinating process needs to record them. A
    refused signature is raised, with the refusal left in ``res.pending`` to be logged.
    ``replayed``: this worker checked the session against its log on the same snapshot
    (:func:`~ctpat_audit.trust.signing.prepare_signature` then does not replay it again)."""
    from ctpat_audit.core.errors import AuthorityError
    from ctpat_audit.core.files import write_atomic
    from ctpat_audit.trust.signing import SignatureRequest, prepare_signature

    requests: list[SignatureRequest] = []
    for signer, meaning in signers:
        try:
            requests.append(prepare_signature(
                folder, settings.workspace, signer, meaning, session_id=task.session_id,
                check_prior=False, after=requests[-1] if requests else None,
                replayed=replayed))
        except AuthorityError as exc:
            res.pending = PendingReport(refusal=Refusal(exc.session_id, exc.meaning, exc.rule,
                                                        exc.reason, signer.identity))
            raise
    pdf = requests[-1].pdf
    assert pdf is not None
    write_atomic(folder / "report.pdf", pdf)
    for r in requests:  # written: only the small part travels to the coordinating process
        r.pdf = None
    return PendingReport(str(root), str(folder), requests, adopted=adopted)


def _record_summary(res: ReportResult, summary: dict[str, Any]) -> None:
    """The figures the report notebook published, for the manifest and the index."""
    res.findings = _int(summary.get("findings"))
    res.exam_rate = _float(summary.get("exam_rate"))
    res.outcome = str(summary.get("outcome") or "")


def report_succeeded(res: ReportResult, out: Path, final: Path) -> ReportResult:
    """Mark the report done in ``final``; a failed run's kept notebook is no longer needed."""
    from ctpat_audit.reports.failure import clear_failed

    res.folder = str(final.relative_to(out))
    res.status, res.step = "ok", ""
    clear_failed(out, res.session_id)
    return res


def session_opened_by(ws: str, session_id: str) -> str:
    """Who opened the session (case-folded e-mail), or "" for an unknown session."""
    from ctpat_audit.workspace import store
    from ctpat_audit.workspace.reference import as_workspace

    conn = as_workspace(ws).connect(readonly=True)
    try:
        row = store.get_session(conn, session_id)
    finally:
        conn.close()
    return str(row["opened_by"]).strip().lower() if row else ""


def signature_meanings(folder: Path) -> list[str]:
    from ctpat_audit.trust.manifest import read_manifest

    manifest = read_manifest(folder)
    return [str(s.get("meaning")) for s in manifest["signatures"]] if manifest else []


def _int(v: Any) -> int | None:
    try:
        return None if v is None else int(v)
    except (TypeError, ValueError):
        return None


def _float(v: Any) -> float | None:
    try:
        return None if v is None else float(v)
    except (TypeError, ValueError):
        return None
