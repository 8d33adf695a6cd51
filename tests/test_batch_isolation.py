"""Isolation: a report never sees state left by the previous report on the same worker.

tests/data/batch/plants_state.ipynb first records what it can see of earlier reports (a user
variable, a global set on the ctpat_audit package, a rebound module constant in
ctpat_audit.core.vocabulary, matplotlib rcParams, an environment variable, a module planted in
sys.modules), then plants all of that with its own session id. Run one after another on ONE
worker, each report must see nothing, on the fork engine (each report in a child forked from
the worker's zygote) as on papermill's own engine (a new kernel per report). A control run on
one reused kernel whose user namespace is cleared (``%reset -f``) shows the same probe does
catch the leaks.
"""
from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from batch_helpers import DATA, make_batch_setup
from session_helpers import ACCOUNT

from ctpat_audit.batch.run import run_batch
from ctpat_audit.batch.worker import SUMMARY_MIME

pytestmark = pytest.mark.slow

CLEAN = {"user_namespace": [], "package_global": None, "module_constant": None,
         "env": None, "sys_modules": False}


def _summary(nb_path: Path) -> dict:
    nb = nbformat.read(nb_path, as_version=4)
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            if SUMMARY_MIME in out.get("data", {}):
                return out["data"][SUMMARY_MIME]
    raise AssertionError(f"no summary output in {nb_path}")


def _cells(name: str) -> list[str]:
    nb = nbformat.read(DATA / name, as_version=4)
    return [c.source for c in nb.cells if c.cell_type == "code"]


@pytest.mark.parametrize("engine", ["fork", "kernel"], ids=["fork-engine", "new-kernels"])
def test_next_report_on_the_same_worker_sees_no_state_of_the_previous(
        tmp_path: Path, engine: str) -> None:
    setup, ids = make_batch_setup(tmp_path, n=3)
    out = tmp_path / "reports"
    summary = run_batch(setup.ws.path, out=out, template=DATA / "plants_state.ipynb",
                        workers=0, artifacts="batch_helpers:fixture_artifacts",
                        progress=False, engine=engine)
    assert summary.ok == 3, [r.error for r in summary.results]
    assert len({r.worker for r in summary.results}) == 1  # one worker did all three
    for sid in ids:
        seen = _summary(out / ACCOUNT / sid / "report.ipynb")
        default_lw = seen.pop("default_linewidth")
        probe = seen["seen"]
        assert probe.pop("rcparams_linewidth") == default_lw != 7.25
        assert probe == CLEAN, (sid, probe)


def test_the_probe_detects_leaks_on_a_reused_kernel_with_a_cleared_namespace() -> None:
    """Control: clearing only the user namespace is not isolation."""
    from jupyter_client.manager import start_new_kernel

    setup_code, probe, plant = _cells("plants_state.ipynb")[1:4]
    km, kc = start_new_kernel(kernel_name="python3")
    try:
        def run(code: str) -> dict:
            found: dict = {}

            def hook(msg: dict) -> None:
                data = msg["content"].get("data", {})
                if SUMMARY_MIME in data:
                    found.update(data[SUMMARY_MIME])
                elif "text/plain" in data:
                    found["text"] = data["text/plain"]
            reply = kc.execute_interactive(code, output_hook=hook, timeout=60)
            assert reply["content"]["status"] == "ok", reply["content"]
            return found

        run("session_id = 'V-FIRSTPARTN'\n" + setup_code)
        run(probe)
        run(plant)
        run("%reset -f")
        run("session_id = 'V-SECONDPART'\n" + setup_code)
        run(probe)
        leaked = run(plant)["seen"]
        assert leaked["user_namespace"] == []  # the namespace was cleared ...
        assert leaked["package_global"] == "V-FIRSTPARTN"  # ... the rest was not
        assert leaked["module_constant"] == ["sea", "V-FIRSTPARTN"]
        assert leaked["rcparams_linewidth"] == 7.25
        assert leaked["env"] == "V-FIRSTPARTN"
        assert leaked["sys_modules"] is True
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)
