"""One report of a batch, as a worker process does it: execute, render, sign, verify, publish.

A worker process (local pool or Dask worker) keeps what is expensive in :class:`WorkerState`,
created lazily on first use: a warm :class:`~ctpat_audit.reports.zygote.Zygote` that forks one
fresh process per report, the signer keys (loaded once), the artifact renderer's own state
(one browser, launched while the zygote warms up) and the audit-chain checkpoint.

The steps are the report pipeline's, the same functions ``ctpat-audit report`` runs
(:mod:`ctpat_audit.reports.pipeline`): the notebook is executed on the fork engine
(``ctpat-fork``; ``engine="kernel"``: papermill's own, a new kernel per report), exported,
and built in a private folder ``OUT/.tmp/<random>/<session>/``
that is renamed into ``OUT/<account>/<session>/`` only when it is complete, signed and
verified, so an interrupted batch never leaves a half-written report where a finished one
belongs. A failed report leaves its executed notebook, marked at the failing cell, in
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
from collections.abc import Callable
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
    "ReportResult",
    "ReportTask",
    "WorkerState",
    "render_one",
]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BatchSettings:
    """What every report of one batch shares (picklable: sent to local and Dask workers).

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

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def worker_failed(cls, task: ReportTask, exc: BaseException) -> ReportResult:
        """The result of a task whose worker process failed (not the report itself)."""
        return cls(task.session_id, task.account_id, task.inputs_hash, "failed", step="worker",
                   error=f"{type(exc).__name__}: {exc}", finished_at=time.time())


class WorkerState:
    """Per-process resources: the warm zygote, loaded keys, renderer state, the audit-chain
    checkpoint (the workspace is verified in full once per worker, then incrementally)."""

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
        from ctpat_audit.workspace.audit import ChainCheckpoint

        self.checkpoint = ChainCheckpoint()  # full integrity + chain check once per worker
        self.supervisor: Any = None
        self.specialists: dict[str, Any] = {}
        secret = os.environ.get(settings.passphrase_env or "", "")
        if settings.supervisor_key:
            from ctpat_audit.trust.keys import load_signer

            self.supervisor = load_signer(settings.supervisor_key, secret)
        if settings.specialist_keys:
            from ctpat_audit.trust.keys import load_signer

            for path in sorted(Path(settings.specialist_keys).glob("*.p12")):
                try:
                    signer = load_signer(path, secret)
                except Exception as exc:
                    log.debug("skipping %s: %s", path, exc)
                    continue
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


_STATE: dict[BatchSettings, WorkerState] = {}
_STATE_LOCK = threading.Lock()


def worker_state(settings: BatchSettings) -> WorkerState:
    """This process's state for these settings (made on first use; Dask or local pool)."""
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
                return _adopt_signed(task, settings, state, res, final, folder, lap)
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
                from ctpat_audit.trust.signing import sign_report

                res.step = "sign"
                specialist = state.specialists.get(session_opened_by(settings.workspace,
                                                              task.session_id))
                if specialist is not None:
                    sign_report(folder, settings.workspace, specialist, "validated",
                                session_id=task.session_id, checkpoint=state.checkpoint)
                # the folder is this worker's own and was signed just above; the whole report
                # is verified after the countersignature (unless verification is switched
                # off, in which case the countersignature checks what it signs over)
                entry = sign_report(folder, settings.workspace, state.supervisor, "approved",
                                    session_id=task.session_id, checkpoint=state.checkpoint,
                                    check_prior=not settings.verify)
                res.signatures = _signature_meanings(folder) or [entry["meaning"]]
                lap("sign")
                if settings.verify:
                    from ctpat_audit.trust.verify import verify_report

                    res.step = "verify"
                    check = verify_report(folder, Path(settings.workspace) / "keys")
                    if not check.ok:
                        res.error = "verification failed: " + "; ".join(check.problems)
                        return res
                    lap("verify")
            res.step = "publish"
            return _succeeded(res, out, publish_report(folder, out, task.account_id,
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
                  res: ReportResult, existing: Path, folder: Path,
                  lap: Callable[[str], None]) -> ReportResult:
    """A signed report is already in OUT (the specialist signed it after the validation):
    check it and countersign it as it is instead of rendering it again; a signed report is a
    record and is never replaced by a new rendering. Works on a copy in ``folder``: the
    report in OUT changes only when the countersigned copy verifies."""
    from ctpat_audit.reports.publish import publish_report
    from ctpat_audit.reports.summary import notebook_summary
    from ctpat_audit.trust.signing import sign_report
    from ctpat_audit.trust.verify import verify_report

    keys = Path(settings.workspace) / "keys"
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
    if state.supervisor is not None and "approved" not in _signature_meanings(folder):
        res.step = "sign"
        sign_report(folder, settings.workspace, state.supervisor, "approved",
                    session_id=task.session_id, checkpoint=state.checkpoint,
                    check_prior=False)  # the copy was verified in full just above
        lap("sign")
        if settings.verify:
            res.step = "verify"
            check = verify_report(folder, keys)
            if not check.ok:
                res.error = "verification failed: " + "; ".join(check.problems)
                return res
            lap("verify")
        res.step = "publish"
        publish_report(folder, settings.out, task.account_id, task.session_id)
    if (existing / "report.ipynb").is_file():
        _record_summary(res, notebook_summary(existing / "report.ipynb"))
    res.signatures = _signature_meanings(existing)
    return _succeeded(res, Path(settings.out), existing)


def _record_summary(res: ReportResult, summary: dict[str, Any]) -> None:
    """The figures the report notebook published, for the manifest and the index."""
    res.findings = _int(summary.get("findings"))
    res.exam_rate = _float(summary.get("exam_rate"))
    res.outcome = str(summary.get("outcome") or "")


def _succeeded(res: ReportResult, out: Path, final: Path) -> ReportResult:
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


def _signature_meanings(folder: Path) -> list[str]:
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
