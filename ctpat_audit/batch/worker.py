"""One report of a batch, as a worker process does it: execute, render, sign, verify, publish.

A worker process (local pool or Dask worker) keeps what is expensive in :class:`WorkerState`,
created lazily on first use: a :class:`~ctpat_audit.batch.kernel_pool.KernelPool` of warm single-use
kernels, the signer keys (loaded once) and the artifact renderer's own state (one browser).

Every report is built in a private temporary folder ``OUT/.tmp/<random>/<session>/`` and only
renamed into ``OUT/<account>/<session>/`` when it is complete, signed and verified, so an
interrupted batch never leaves a half-written report where a finished one belongs. A failed
report leaves its executed notebook (error marked by papermill) in ``OUT/_failed/<session>/``.
A report already signed in ``OUT`` (the specialist signed it after the validation) is a record:
it is verified and countersigned as it is, not rendered again (:func:`_adopt_signed`).
"""
from __future__ import annotations

import contextlib
import importlib
import logging
import os
import shutil
import tempfile
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ctpat_audit.core.identifiers import SAFE_ID_EXPECTED, is_safe_id

#: What a report notebook displays to hand its figures to the batch index (defined in
#: reports.summary): ``display({SUMMARY_MIME: {"findings": 3, "exam_rate": 0.021}}, raw=True)``.
from ctpat_audit.reports.summary import SUMMARY_MIME

__all__ = [
    "SUMMARY_MIME",
    "BatchSettings",
    "ReportResult",
    "ReportTask",
    "WorkerState",
    "publish_folder",
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
    kernel_pool: int = 1
    fork_kernels: bool = True
    kernel_warmup: str | None = None  # None: engine.WARMUP_CODE (pandas, matplotlib, ours)
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
    step: str = ""  # where it failed: execute, artifacts, sign, verify, publish
    failed_cell: int | None = None
    error: str = ""
    findings: int | None = None
    exam_rate: float | None = None
    outcome: str = ""
    signatures: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)  # seconds per step
    worker: str = ""
    finished_at: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class WorkerState:
    """Per-process resources: warm kernels, loaded keys, renderer state, the audit-chain
    checkpoint (the workspace is verified in full once per worker, then incrementally)."""

    def __init__(self, settings: BatchSettings) -> None:
        from ctpat_audit.batch.kernel_pool import WARMUP_CODE, KernelPool

        self.settings = settings
        warmup = WARMUP_CODE if settings.kernel_warmup is None else settings.kernel_warmup
        self.pool = KernelPool(settings.kernel_pool, cwd=settings.workspace,
                               fork=settings.fork_kernels, warmup=warmup)
        self.artifact_state: dict[str, Any] = {}
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
                except Exception as exc:  # noqa: BLE001 - keys this passphrase does not open
                    log.debug("skipping %s: %s", path, exc)
                    continue
                if signer.identity.role == "specialist":
                    self.specialists.setdefault(signer.identity.email.lower(), signer)

    def close(self) -> None:
        """Stop the kernels and whatever the renderer keeps (its browser)."""
        self.pool.close()
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

                atexit.register(close_worker_states)
            state = _STATE[settings] = WorkerState(settings)
        return state


def close_worker_states() -> None:
    with _STATE_LOCK:
        states = list(_STATE.values())
        _STATE.clear()
    for s in states:
        s.close()


def _resolve(spec: str) -> Callable[..., Any]:
    module, _, name = spec.partition(":")
    return getattr(importlib.import_module(module), name)


def publish_folder(tmp: Path, final: Path) -> None:
    """Move a finished report folder into place (a rename; an older one is replaced)."""
    from ctpat_audit.core.files import replace_folder

    replace_folder(tmp, final)


def render_one(task: ReportTask, settings: BatchSettings) -> ReportResult:
    """Execute, render, sign, verify and publish one report; never raises for report errors.
    A task whose account or session id cannot name a folder fails at once, before any work."""
    import papermill as pm

    t0 = time.perf_counter()
    res = ReportResult(task.session_id, task.account_id, task.inputs_hash, "failed",
                       worker=f"{os.uname().nodename}:{os.getpid()}")
    out = Path(settings.out)
    if _final_folder(out, task) is None:  # such a report could never be published: no work
        res.step = "check"
        res.error = (f"account {task.account_id!r} / session {task.session_id!r} is not a "
                     f"safe folder name: expected {SAFE_ID_EXPECTED}")
        return res
    state = worker_state(settings)
    (out / ".tmp").mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=f"{task.session_id}-", dir=out / ".tmp"))
    folder = scratch / task.session_id
    folder.mkdir()
    nb_path = folder / "report.ipynb"
    mark = [time.perf_counter()]

    def lap(step: str) -> None:
        now = time.perf_counter()
        res.timings[step] = round(now - mark[0], 3)
        mark[0] = now

    final = _final_folder(out, task)
    assert final is not None  # checked above
    try:
        if settings.adopt_signed and final is not None and (final / "manifest.json").is_file():
            return _adopt_signed(task, settings, state, res, final, folder, lap)
        res.step = "execute"
        try:
            nb = pm.execute_notebook(
                settings.template, str(nb_path), engine_name="ctpat-warm",
                kernel_pool=state.pool, progress_bar=False, cwd=None,
                parameters={"workspace": settings.workspace, "session_id": task.session_id,
                            "workbook": str((folder / "report.xlsx").resolve())},
                execution_timeout=settings.timeout_s)
        except pm.PapermillExecutionError as exc:
            res.failed_cell, res.error = exc.cell_index, f"{exc.ename}: {exc.evalue}"
            _keep_failed(out, task, nb_path)
            return res
        lap("execute")
        from ctpat_audit.reports.summary import notebook_summary

        _record_summary(res, notebook_summary(nb))
        res.step = "artifacts"
        _resolve(settings.artifacts)(settings.workspace, task.session_id, nb_path, folder,
                                     state.artifact_state)
        lap("artifacts")
        if state.supervisor is not None:
            from ctpat_audit.trust.signing import sign_report

            res.step = "sign"
            specialist = state.specialists.get(_opened_by(settings.workspace, task.session_id))
            if specialist is not None:
                sign_report(folder, settings.workspace, specialist, "validated",
                            session_id=task.session_id, checkpoint=state.checkpoint)
            # the folder is this worker's own and was signed just above; the whole report is
            # verified after the countersignature (unless verification is switched off, in
            # which case the countersignature checks what it signs over)
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
        publish_folder(folder, final)
        return _succeeded(res, out, final)
    except Exception as exc:  # noqa: BLE001 - one partner's failure never stops the batch
        res.error = f"{type(exc).__name__}: {exc}"
        if res.step == "execute":
            res.error += "\n" + traceback.format_exc(limit=3)
        if nb_path.exists():
            _keep_failed(out, task, nb_path)
        return res
    finally:
        res.duration_s = round(time.perf_counter() - t0, 3)
        res.finished_at = time.time()
        shutil.rmtree(scratch, ignore_errors=True)


def _adopt_signed(task: ReportTask, settings: BatchSettings, state: WorkerState,
                  res: ReportResult, existing: Path, folder: Path,
                  lap: Callable[[str], None]) -> ReportResult:
    """A signed report is already in OUT (the specialist signed it after the validation):
    check it and countersign it as it is instead of rendering it again; a signed report is a
    record and is never replaced by a new rendering. Works on a copy in ``folder``: the
    report in OUT changes only when the countersigned copy verifies."""
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
        publish_folder(folder, existing)
    if (existing / "report.ipynb").is_file():
        _record_summary(res, notebook_summary(existing / "report.ipynb"))
    res.signatures = _signature_meanings(existing)
    return _succeeded(res, Path(settings.out), existing)


def _final_folder(out: Path, task: ReportTask) -> Path | None:
    """``OUT/<account>/<session>``, or None when either id is not a safe folder name."""
    if not all(is_safe_id(x) for x in (task.account_id, task.session_id)):
        return None
    return out / task.account_id / task.session_id


def _record_summary(res: ReportResult, summary: dict[str, Any]) -> None:
    """The figures the report notebook published, for the manifest and the index."""
    res.findings = _int(summary.get("findings"))
    res.exam_rate = _float(summary.get("exam_rate"))
    res.outcome = str(summary.get("outcome") or "")


def _succeeded(res: ReportResult, out: Path, final: Path) -> ReportResult:
    """Mark the report done in ``final``; a failed run's kept notebook is no longer needed."""
    res.folder = str(final.relative_to(out))
    res.status, res.step = "ok", ""
    shutil.rmtree(out / "_failed" / final.name, ignore_errors=True)  # the session id
    return res


def _keep_failed(out: Path, task: ReportTask, nb_path: Path) -> None:
    """Keep the failed run's executed notebook (papermill marked the failing cell)."""
    dest = out / "_failed" / task.session_id
    dest.mkdir(parents=True, exist_ok=True)
    if nb_path.exists():
        tmp = dest / f".report.ipynb.{os.getpid()}"
        shutil.copyfile(nb_path, tmp)
        os.replace(tmp, dest / "report.ipynb")


def _opened_by(ws: str, session_id: str) -> str:
    from ctpat_audit.workspace import db

    conn = db.connect(Path(ws) / "ctpat.sqlite")
    try:
        row = conn.execute("SELECT opened_by FROM sessions WHERE session_id = ?",
                           (session_id,)).fetchone()
    finally:
        conn.close()
    return str(row[0]).strip().lower() if row else ""


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
