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


def _open_in_child(db_path: str) -> str:
    """In a new Python process started by this one: what opening ``db_path`` for writing
    raises (the name of the error), or "opened"."""
    import subprocess
    import sys

    code = ("import sqlite3\n"
            "try:\n"
            f"    sqlite3.connect({db_path!r}).execute('CREATE TABLE IF NOT EXISTS x (a)')\n"
            "    print('opened')\n"
            "except Exception as exc:\n"
            "    print(type(exc).__name__)\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True)
    return done.stdout.strip()


def _tree(root: Path) -> dict[str, tuple[int, str]]:
    import hashlib

    return {str(p.relative_to(root)): (p.stat().st_mode, hashlib.sha256(p.read_bytes()).hexdigest()
                                       if p.is_file() else "")
            for p in sorted(root.rglob("*"))}


def test_dask_workers_render_and_sign_from_a_read_only_snapshot(tmp_path: Path,
                                                                monkeypatch) -> None:
    """The workers get only the batch's snapshot of the workspace, read-only: in each
    worker process, and in every process it starts (its zygote, each report's forked child),
    opening a workspace database other than ``mode=ro&immutable=1`` raises and is logged
    (batch_helpers.READ_ONLY_GUARD; root ignores file modes, so the folder's modes alone
    would prove nothing). Nothing was refused, the report processes were given the snapshot,
    and the snapshot folder (read-only) is exactly the same after the batch as when it was
    made.
    The coordinating process appends every entry: each report verifies against the
    workspace (``verify REPORT --workspace``) and the whole record checks
    (``audit-verify``)."""
    import json

    from batch_helpers import read_only_worker_plugin
    from click.testing import CliRunner
    from distributed import Client, LocalCluster

    from ctpat_audit.cli import main
    from ctpat_audit.workspace import snapshot as snap

    setup, ids = make_batch_setup(tmp_path, n=3)
    out = tmp_path / "reports"
    kw = batch_kwargs(setup, out, engine="fork")
    guard = tmp_path / "guard"
    made: dict[str, dict[str, tuple[int, str]]] = {}
    at_end: dict[str, dict[str, tuple[int, str]]] = {}
    real_make, real_remove = snap.make_snapshot, snap.remove_snapshot

    def make(ws: object, dest: Path, **k: object) -> Path:
        path = real_make(ws, dest, **k)
        made[str(path)] = _tree(path)
        return path

    def remove(path: Path) -> None:
        if Path(path).exists() and str(path) in made:
            at_end[str(path)] = _tree(Path(path))
        real_remove(path)

    monkeypatch.setattr(snap, "make_snapshot", make)
    monkeypatch.setattr(snap, "remove_snapshot", remove)
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                      dashboard_address=None) as cluster, Client(cluster) as client:
        client.register_plugin(read_only_worker_plugin(guard))
        guarded = client.run(lambda: __import__("sqlite3").connect.__name__)
        assert set(guarded.values()) == {"guarded"}
        # the guard holds in a process a worker starts, as its zygote is
        tries = client.run(_open_in_child, str(tmp_path / "probe-ctpat.sqlite"))
        assert set(tries.values()) == {"PermissionError"}, tries
        (guard / "guard.log").unlink()
        summary = run_batch(setup.ws.path, scheduler=client, **kw)
    assert not (guard / "guard.log").exists(), (guard / "guard.log").read_text()
    assert (summary.ok, summary.failed) == (3, 0), [r.error for r in summary.results]
    (path, tree), = made.items()
    assert Path(path).parent == out / ".snapshots" and not Path(path).exists()
    assert at_end[path] == tree  # nothing in the snapshot was written, added or removed
    assert not any(name.endswith(("-wal", "-shm", "-journal")) for name in tree)
    for name, (mode, digest) in tree.items():  # folders and the snapshot's own files
        if not digest or name in ("ctpat.sqlite", "snapshot.json"):
            assert mode & 0o222 == 0, name
    runner = CliRunner()
    for sid in ids:
        folder = out / ACCOUNT / sid
        nb = json.loads((folder / "report.ipynb").read_text())
        params = "".join(next(c["source"] for c in nb["cells"]
                              if "injected-parameters" in c["metadata"].get("tags", [])))
        assert path in params  # the report's kernel read the snapshot
        res = runner.invoke(main, ["verify", str(folder), "--trust", str(setup.ws.path / "keys"),
                                   "--workspace", str(setup.ws.path)])
        assert res.exit_code == 0 and "VERIFIED" in res.output, res.output
    res = runner.invoke(main, ["audit-verify", "-w", str(setup.ws.path)])
    assert res.exit_code == 0, res.output
