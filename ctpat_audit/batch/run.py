"""Supervisor batch: many reports rendered, countersigned and verified; resumable; local or Dask.

:func:`run_batch` selects sessions (:func:`select_sessions`), works out which reports are
already up to date from the batch manifest (:class:`BatchManifest`, ``OUT/batch-manifest.jsonl``),
runs the rest on a local pool of worker processes or on a Dask cluster (from a read-only
snapshot of the workspace; this process alone writes the workspace: :mod:`ctpat_audit.batch.record`),
records every result, and writes ``OUT/index.html`` and ``OUT/index.xlsx``
(:mod:`ctpat_audit.batch.index`).

A report is **up to date** when the manifest's last run of its session succeeded with the same
inputs hash (:func:`inputs_hash`: everything stored that the report reads, from
:func:`ctpat_audit.workspace.report_inputs.session_inputs_hash`, plus the template's bytes, the
package version and the signing keys) and its folder is still there. Failed runs are re-run
with ``retry_failed``; ``force`` redoes all, also rendering again reports already signed in
``OUT``, which are otherwise verified and countersigned as they are.
"""
from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import os
import shutil
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from ctpat_audit.batch.record import Recorder
from ctpat_audit.batch.worker import (
    BatchSettings,
    ReportResult,
    ReportTask,
    close_worker_states,
    render_one,
)
from ctpat_audit.core.errors import BatchError
from ctpat_audit.core.vocabulary import SESSION_STATUSES
from ctpat_audit.reports.execute import DEFAULT_TEMPLATE

__all__ = [
    "DEFAULT_TEMPLATE",
    "MANIFEST_NAME",
    "BatchError",
    "BatchManifest",
    "BatchSummary",
    "inputs_hash",
    "plan_batch",
    "run_batch",
    "select_sessions",
]

MANIFEST_NAME = "batch-manifest.jsonl"
#: Where a batch keeps the read-only snapshot its workers render from, inside OUT (the
#: workers see OUT; workspace.snapshot), removed when the batch ends
SNAPSHOTS = ".snapshots"


# --- selection -------------------------------------------------------------------------------

def _date(value: str | dt.date | None, what: str) -> str | None:
    if value is None or value == "":
        return None
    try:
        return (value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value))
                ).isoformat()
    except ValueError:
        raise BatchError(what, f"{value!r} is not a date (expected YYYY-MM-DD)") from None


def read_partner_file(path: str | Path) -> list[str]:
    """Account ids, one a line (blank lines and ``#`` comments ignored)."""
    p = Path(path)
    try:
        lines = p.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise BatchError(str(p), f"cannot read the partner list ({exc})") from None
    return [ln.split("#", 1)[0].strip() for ln in lines if ln.split("#", 1)[0].strip()]


def select_sessions(ws: object, *, status: str | None = "submitted,signed",
                    since: Any = None, until: Any = None, partners: Iterable[str] | None = None,
                    region: str | None = None, kind: str = "validation") -> list[dict[str, str]]:
    """Sessions to report on, oldest first: kind, status, date range, partner list, region.

    ``status``: one status or several separated by commas (default: the completed ones,
    submitted or signed by their specialist).
    Dates apply to the day the session was submitted (opened, when never submitted), both
    ends included. ``region`` is ``COUNTRY[/STATE[/CITY]]`` matched (case-insensitively)
    against the partner's facilities; an empty part matches any (``MX//Monterrey``).
    """
    from ctpat_audit.workspace import store
    from ctpat_audit.workspace.reference import as_workspace

    wanted_status = [x.strip() for x in (status or "").split(",") if x.strip()]
    for x in wanted_status:
        if x not in SESSION_STATUSES:
            raise BatchError("--status", f"{x!r} is not one of "
                             f"{', '.join(SESSION_STATUSES)}")
    lo, hi = _date(since, "--since"), _date(until, "--until")
    pairs: list[tuple[str, str]] = []
    if region:
        parts = [p.strip().lower() for p in region.split("/")]
        if not parts[0] or len(parts) > 3:
            raise BatchError("--region", f"{region!r}: expected COUNTRY[/STATE[/CITY]]")
        pairs = [(c, p) for c, p in zip(("country", "state_province", "city"), parts) if p]
    conn = as_workspace(ws).connect(readonly=True)
    try:
        rows = store.select_sessions(conn, kind, statuses=wanted_status, since=lo, until=hi,
                                     facility_match=pairs)
    finally:
        conn.close()
    wanted = set(partners) if partners is not None else None
    return [r for r in rows if wanted is None or r["account_id"] in wanted]


def inputs_hash(conn: Any, session_id: str, template_sha: str, extra: str = "") -> str:
    """SHA-256 over what the report is made from: the stored inputs
    (:func:`~ctpat_audit.workspace.report_inputs.session_inputs_hash`), the template, the
    package version and ``extra`` (the signing keys)."""
    from importlib.metadata import version

    from ctpat_audit.workspace.report_inputs import session_inputs_hash

    h = hashlib.sha256(session_inputs_hash(conn, session_id).encode())
    h.update(f"template={template_sha};package={version('ctpat-audit')};{extra}".encode())
    return h.hexdigest()


# --- the batch manifest --------------------------------------------------------------------

class BatchManifest:
    """``OUT/batch-manifest.jsonl``: one JSON line per report run, appended and fsynced.

    The last line of a session wins. A line cut short by a kill is ignored when read.
    Only the batch's coordinating process writes it.
    """

    def __init__(self, out: str | Path) -> None:
        self.path = Path(out) / MANIFEST_NAME

    def runs(self) -> dict[str, dict[str, Any]]:
        latest: dict[str, dict[str, Any]] = {}
        if not self.path.exists():
            return latest
        with self.path.open("rb") as f:
            for line in f:
                try:
                    rec = json.loads(line)
                except (json.JSONDecodeError, UnicodeDecodeError):
                    continue  # a torn last line after SIGKILL
                if isinstance(rec, dict) and isinstance(rec.get("session_id"), str):
                    latest[rec["session_id"]] = rec
        return latest

    def record(self, result: ReportResult) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        line = (json.dumps(result.to_dict(), sort_keys=True) + "\n").encode()
        with self.path.open("ab") as f:
            if f.tell() and not _ends_with_newline(self.path):
                f.write(b"\n")
            f.write(line)
            f.flush()
            os.fsync(f.fileno())


def _ends_with_newline(path: Path) -> bool:
    with path.open("rb") as f:
        f.seek(-1, os.SEEK_END)
        return f.read(1) == b"\n"


@dataclass
class Plan:
    run: list[ReportTask] = field(default_factory=list)
    up_to_date: list[str] = field(default_factory=list)
    failed_kept: list[str] = field(default_factory=list)


def plan_batch(tasks: list[ReportTask], runs: dict[str, dict[str, Any]], out: Path, *,
               retry_failed: bool = False, force: bool = False) -> Plan:
    """Which tasks to run: new, changed inputs, missing folders; failures only when asked."""
    plan = Plan()
    for t in tasks:
        rec = runs.get(t.session_id)
        if force or rec is None or rec.get("inputs_hash") != t.inputs_hash:
            plan.run.append(t)
        elif rec.get("status") == "ok":
            if (out / str(rec.get("folder", "")) / "manifest.json").exists() or (
                    rec.get("folder") and (out / rec["folder"]).is_dir()):
                plan.up_to_date.append(t.session_id)
            else:
                plan.run.append(t)
        elif retry_failed:
            plan.run.append(t)
        else:
            plan.failed_kept.append(t.session_id)
    return plan


# --- running ---------------------------------------------------------------------------------

@dataclass
class BatchSummary:
    """What one :func:`run_batch` call did."""

    selected: int
    ran: int
    ok: int
    failed: int
    skipped: int
    wall_s: float
    index_html: Path
    index_xlsx: Path
    results: list[ReportResult]

    def headline(self) -> str:
        """One line: reports selected, run (ok, failed), skipped, and the wall time."""
        return (f"{self.selected} selected, {self.ran} run ({self.ok} ok, {self.failed} "
                f"failed), {self.skipped} up to date or kept failed; {self.wall_s:.1f} s")

    def failure_lines(self) -> list[str]:
        """One line per failed report: which, the step (and notebook cell) where it failed,
        and the first line of the error (the index has the whole of it)."""
        lines = []
        for r in self.results:
            if r.status != "ok":
                cell = f" cell {r.failed_cell}" if r.failed_cell is not None else ""
                first = (r.error.strip().splitlines() or [""])[0]
                kept = (f"; executed notebook kept at {self.index_html.parent / r.notebook}"
                        if r.notebook else "")
                lines.append(f"FAILED {r.account_id}/{r.session_id} at {r.step}{cell}: "
                             f"{first}{kept}")
        return lines


def _tasks(ws: Any, selected: list[dict[str, str]], template: Path,
           extra: str) -> list[ReportTask]:
    tsha = hashlib.sha256(template.read_bytes()).hexdigest()
    conn = ws.connect(readonly=True)
    try:
        return [ReportTask(s["session_id"], s["account_id"],
                           inputs_hash(conn, s["session_id"], tsha, extra)) for s in selected]
    finally:
        conn.close()


def _key_tag(*paths: str | None) -> str:
    tags = []
    for p in paths:
        if p and Path(p).is_file():
            tags.append(hashlib.sha256(Path(p).read_bytes()).hexdigest()[:16])
        elif p and Path(p).is_dir():
            tags += [hashlib.sha256(k.read_bytes()).hexdigest()[:16]
                     for k in sorted(Path(p).glob("*.p12"))]
    return "keys=" + ",".join(tags)


def run_batch(workspace: str | Path, *, out: str | Path = "reports",
              template: str | Path | None = None, status: str | None = "submitted,signed",
              since: Any = None, until: Any = None, partners: Iterable[str] | None = None,
              region: str | None = None, workers: int = 2, retry_failed: bool = False,
              force: bool = False, scheduler: str | None = None, key: str | Path | None = None,
              specialist_keys: str | Path | None = None, passphrase_env: str | None = None,
              engine: str = "fork", kernel_warmup: str | None = None,
              artifacts: str | None = None, progress: bool = True,
              session_ids: list[str] | None = None, verify: bool = True,
              on_result: Callable[[ReportResult], None] | None = None) -> BatchSummary:
    """Render, countersign and verify every selected session's report; write the index.

    ``key``: the supervisor's PKCS#12 file (countersigns "approved"); ``specialist_keys``: a
    folder of specialists' keys used to sign "validated" first where the session's specialist
    has a key there (demonstration and benchmark flows); both opened with the passphrase in
    the environment variable ``passphrase_env``. Without ``key`` reports are rendered but not
    signed. ``scheduler``: a Dask scheduler address (``tcp://host:8786``) instead of the local
    pool; workers must see ``out`` and the key files at the same paths (shared storage).
    Workers, local or Dask, render and sign from a read-only snapshot of the workspace made
    in ``out/.snapshots/`` and never write the workspace: this process records every
    signature, verifies and publishes each report (:class:`~ctpat_audit.batch.record.Recorder`).
    ``engine``: "fork" (default) runs each report in a child forked from the worker's warm
    zygote; "kernel" runs it on papermill's own engine, a new Jupyter kernel per report.
    ``kernel_warmup``: the zygote's warm-up code (default: the report's imports and shared
    tables, :data:`~ctpat_audit.reports.zygote.REPORT_WARMUP`).
    On the team server only a supervisor runs it (:class:`~ctpat_audit.core.errors.AccessError`).
    """
    from ctpat_audit.batch.index import write_index

    t0 = time.perf_counter()
    from ctpat_audit.workspace.people import require
    from ctpat_audit.workspace.reference import as_workspace, open_workspace

    ws = open_workspace(as_workspace(workspace).path.resolve())  # a workspace, schema current
    require(ws, "batch")  # on the team server: supervisors only
    ws_root = ws.path
    tpl = Path(template) if template else DEFAULT_TEMPLATE
    if not tpl.is_file():
        raise BatchError(str(tpl), "report template notebook not found (templates/report.ipynb)")
    if key and not passphrase_env:
        raise BatchError("--passphrase-env", "name the environment variable holding the key "
                         "passphrase (never pass a passphrase on the command line)")
    if passphrase_env and passphrase_env not in os.environ:
        raise BatchError("--passphrase-env", f"environment variable {passphrase_env} is not set")
    if key and not Path(key).is_file():
        raise BatchError(str(key), "supervisor key file not found")
    if key:  # open it here, so a wrong passphrase stops the batch before any worker starts
        from ctpat_audit.core.errors import KeyStoreError
        from ctpat_audit.trust.keys import load_signer

        try:
            load_signer(key, os.environ[str(passphrase_env)])
        except KeyStoreError as exc:
            raise BatchError(str(key), f"{exc}; nothing was rendered") from None
    out_dir = Path(out).resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    shutil.rmtree(out_dir / ".tmp", ignore_errors=True)  # leftovers of an interrupted batch
    _remove_snapshots(out_dir)
    settings = BatchSettings(
        workspace=str(ws_root), out=str(out_dir), template=str(tpl.resolve()),
        supervisor_key=str(Path(key).resolve()) if key else None,
        specialist_keys=str(Path(specialist_keys).resolve()) if specialist_keys else None,
        passphrase_env=passphrase_env, engine=engine, kernel_warmup=kernel_warmup,
        verify=verify, adopt_signed=not force,
        artifacts=artifacts or BatchSettings.artifacts)
    selected = select_sessions(ws, status=status, since=since, until=until,
                               partners=partners, region=region)
    if session_ids is not None:
        keep = set(session_ids)
        selected = [s for s in selected if s["session_id"] in keep]
    tasks = _tasks(ws, selected, tpl, _key_tag(settings.supervisor_key,
                                                    settings.specialist_keys))
    manifest = BatchManifest(out_dir)
    runs = manifest.runs()
    plan = plan_batch(tasks, runs, out_dir, retry_failed=retry_failed, force=force)
    results: list[ReportResult] = []
    bar = _progress(len(plan.run), progress)
    snapshot: Path | None = None
    recorder = Recorder(ws_root, settings)
    try:
        if plan.run:  # the workers' read-only copy; the workspace itself is written only here
            from ctpat_audit.workspace.snapshot import make_snapshot

            snapshot = make_snapshot(ws, out_dir / SNAPSHOTS / time.strftime("%Y%m%dT%H%M%S"),
                                     sessions=[t.session_id for t in plan.run])
        rendering = replace(settings, workspace=str(snapshot or ws_root))
        for res in _execute(plan.run, rendering, workers, scheduler):
            res = recorder.finish(res)
            manifest.record(res)
            results.append(res)
            if on_result:
                on_result(res)
            bar.update(1)
            bar.set_postfix(failed=sum(r.status != "ok" for r in results), refresh=False)
    finally:
        bar.close()
        if snapshot is not None:
            _remove_snapshots(out_dir)
        latest = manifest.runs()
        rows = [latest[t.session_id] for t in tasks if t.session_id in latest]
        html, xlsx = write_index(out_dir, rows, title=f"CTPAT batch: {ws_root.name}")
    ok = sum(r.status == "ok" for r in results)
    return BatchSummary(selected=len(tasks), ran=len(results), ok=ok, failed=len(results) - ok,
                        skipped=len(plan.up_to_date) + len(plan.failed_kept),
                        wall_s=time.perf_counter() - t0, index_html=html, index_xlsx=xlsx,
                        results=results)


def _remove_snapshots(out_dir: Path) -> None:
    from ctpat_audit.workspace.snapshot import remove_snapshot

    for path in sorted((out_dir / SNAPSHOTS).glob("*")):
        remove_snapshot(path)
    with contextlib.suppress(OSError):
        (out_dir / SNAPSHOTS).rmdir()


def _progress(total: int, enabled: bool) -> Any:
    from tqdm import tqdm

    return tqdm(total=total, unit="report", disable=not enabled, dynamic_ncols=True,
                desc="reports")


def _execute(tasks: list[ReportTask], settings: BatchSettings, workers: int,
             scheduler: str | None) -> Iterator[ReportResult]:
    if not tasks:
        return
    if scheduler:
        from ctpat_audit.batch.cluster import run_on_dask

        yield from run_on_dask(tasks, settings, scheduler)
    elif workers <= 0:
        try:
            for t in tasks:
                yield render_one(t, settings)
        finally:
            close_worker_states()
    else:
        yield from _local_pool(tasks, settings, workers)


def _local_pool(tasks: list[ReportTask], settings: BatchSettings,
                workers: int) -> Iterator[ReportResult]:
    """A pool of spawned worker processes; each keeps its zygote and browser."""
    import multiprocessing as mp
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait

    ex = ProcessPoolExecutor(max_workers=min(workers, len(tasks)),
                             mp_context=mp.get_context("spawn"), initializer=_ignore_sigint)
    pending = {ex.submit(render_one, t, settings): t for t in tasks}
    finished = False
    try:
        while pending:
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            for fut in done:
                task = pending.pop(fut)
                try:
                    yield fut.result()
                except Exception as exc:
                    yield ReportResult.worker_failed(task, exc)
        finished = True
    finally:
        for fut in pending:
            fut.cancel()
        if not finished:  # Ctrl-C or an error here: stop the workers now (reports in
            for proc in list(getattr(ex, "_processes", {}).values()):  # flight are only in
                proc.terminate()  # OUT/.tmp, never published, redone on the next run)
        ex.shutdown(wait=finished, cancel_futures=True)


#: How much lower the CPU priority of a local worker process is (``nice``) where the idle
#: scheduling class (below) is not available.
WORKER_NICE = 10


def _give_way() -> None:
    """Run this process, and everything it starts, in Linux's idle scheduling class
    (``SCHED_IDLE``): it gets a core only when no ordinary process wants one, and an ordinary
    process that wakes takes the core at once. Rendering is bulk work, while the team's
    answers and the coordinator's recording hold the workspace's write lock; a worker never
    does (it reads a snapshot), so giving way to them costs the batch nothing it waits for,
    and costs nothing at all on an otherwise idle machine. ``nice`` (:data:`WORKER_NICE`)
    where the class is not available: a lower weight, but a waking answer may still queue
    behind a renderer for a few milliseconds."""
    import os

    try:
        os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
    except (AttributeError, OSError):
        os.nice(WORKER_NICE)


def _ignore_sigint() -> None:
    """Workers leave Ctrl-C to the coordinating process, which stops them (and with them
    their zygote, which ignores it too), and give way to every other process
    (:func:`_give_way`; their zygote, report processes and browser inherit it)."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _give_way()
