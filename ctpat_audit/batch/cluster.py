"""Run a batch's reports on a Dask distributed cluster (``--scheduler tcp://host:8786``).

Each task is :func:`ctpat_audit.batch.worker.render_one`; every Dask worker process keeps its
own zygote, keys and browser in a lazily created per-process state, exactly as a
local worker does, so nothing is shipped per task but the task itself. Workers must see the
output folder and the key files at the same paths (shared storage such as NFS); they never
see the workspace itself, only the batch's read-only snapshot inside the output folder
(``settings.workspace``), and return the signatures they made for the coordinating process
to record (:mod:`ctpat_audit.batch.record`), which alone writes the workspace, the batch
manifest and the index. Passphrases are never sent: each worker reads the environment
variable named by ``passphrase_env``.
"""
from __future__ import annotations

from collections.abc import Iterator

from ctpat_audit.batch.worker import BatchSettings, ReportResult, ReportTask

__all__ = ["run_on_dask"]


def run_on_dask(tasks: list[ReportTask], settings: BatchSettings,
                scheduler: str | object) -> Iterator[ReportResult]:
    """Submit every task, yield results as they complete (a lost worker fails one report).

    ``scheduler``: an address, or an existing ``distributed.Client`` / ``LocalCluster``.
    """

    from distributed import Client, as_completed

    own = isinstance(scheduler, str)
    client = Client(scheduler) if own else (
        scheduler if isinstance(scheduler, Client) else Client(scheduler))
    try:
        futures = {client.submit(_render, t, settings, key=f"ctpat-report-{t.session_id}-"
                                 f"{t.inputs_hash[:12]}", pure=False, retries=0): t
                   for t in tasks}
        try:
            for fut in as_completed(list(futures)):
                task = futures[fut]
                try:
                    yield fut.result()
                except Exception as exc:
                    yield ReportResult.worker_failed(task, exc)
        finally:
            client.cancel(list(futures))
    finally:
        if own or not isinstance(scheduler, Client):
            client.close()


def _render(task: ReportTask, settings: BatchSettings) -> ReportResult:
    from ctpat_audit.batch.worker import render_one

    return render_one(task, settings)
