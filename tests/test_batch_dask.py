"""The batch on a Dask distributed cluster: a LocalCluster of 2 worker processes, each with its
own warm kernels and keys; results, manifest and index as on the local pool."""
from __future__ import annotations

from pathlib import Path

import pytest
from batch_helpers import batch_kwargs, make_batch_setup
from session_helpers import ACCOUNT

from ctpat_audit.batch.run import BatchManifest, run_batch
from ctpat_audit.trust.verify import verify_report

pytestmark = pytest.mark.slow


def test_batch_on_a_local_dask_cluster_of_two_processes(tmp_path: Path) -> None:
    from distributed import LocalCluster

    setup, ids = make_batch_setup(tmp_path, n=4, broken=1)
    out = tmp_path / "reports"
    kw = batch_kwargs(setup, out)  # sets the passphrase variable the workers inherit
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                      dashboard_address=None) as cluster:
        summary = run_batch(setup.ws.path, scheduler=cluster.scheduler_address, **kw)
        assert (summary.ok, summary.failed) == (3, 1)
        bad = next(r for r in summary.results if r.status != "ok")
        assert (bad.session_id, bad.failed_cell) == (ids[0], 4)
        workers = {r.worker for r in summary.results}
        assert workers and all(":" in w for w in workers)
        for sid in ids[1:]:
            assert verify_report(out / ACCOUNT / sid, setup.ws.path / "keys").ok
        assert set(BatchManifest(out).runs()) == set(ids)
        assert ids[0] in (out / "index.html").read_text()
        # Resume on the cluster: nothing left to do.
        again = run_batch(setup.ws.path, scheduler=cluster.scheduler_address, **kw)
        assert again.ran == 0 and again.skipped == 4
