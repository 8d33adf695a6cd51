"""The warm-kernel papermill engine: entry point, parameters, warm imports, failures, clean-up."""
from __future__ import annotations

import os
import time
from pathlib import Path

import nbformat
import papermill as pm
import pytest

from ctpat_audit.batch.kernel_pool import KernelPool, WarmKernelEngine
from ctpat_audit.core.errors import ForkError, KernelStartError

pytestmark = pytest.mark.slow


def _notebook(path: Path, *cells: str) -> Path:
    nb = nbformat.v4.new_notebook()
    params = nbformat.v4.new_code_cell('session_id = ""')
    params.metadata["tags"] = ["parameters"]
    nb.cells = [params, *(nbformat.v4.new_code_cell(c) for c in cells)]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    nbformat.write(nb, path)
    return path


def _gone(pid: int, within: float = 10.0) -> bool:
    end = time.monotonic() + within
    while time.monotonic() < end:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.05)
    return False


def test_engine_is_registered_through_the_entry_point() -> None:
    from papermill.engines import papermill_engines

    assert papermill_engines.get_engine("ctpat-warm") is WarmKernelEngine


def test_runs_parameters_on_warm_kernels_then_a_failure_names_its_cell(tmp_path: Path) -> None:
    src = _notebook(tmp_path / "probe.ipynb",
                    "import sys, os\nprint(session_id, 'pandas' in sys.modules, "
                    "'ctpat_audit.workspace.reference' in sys.modules, os.getcwd())",
                    "import matplotlib.pyplot as plt\nplt.plot([1, 2]); plt.show()")
    broken = _notebook(tmp_path / "broken.ipynb", "x = 1", "raise KeyError('partner 42')")
    with KernelPool(1, cwd=tmp_path) as pool:
        nb = pm.execute_notebook(src, tmp_path / "out.ipynb", parameters={"session_id": "S-1"},
                                 engine_name="ctpat-warm", kernel_pool=pool, progress_bar=False)
        text = nb.cells[2].outputs[0]["text"].split()
        assert text == ["S-1", "True", "True", str(tmp_path)]  # imported before handed out
        assert any("image/png" in o.get("data", {}) for o in nb.cells[3].outputs)  # inline plot
        with pytest.raises(pm.PapermillExecutionError) as err:
            pm.execute_notebook(broken, tmp_path / "broken-out.ipynb", engine_name="ctpat-warm",
                                kernel_pool=pool, progress_bar=False)
        assert err.value.cell_index == 2 and err.value.ename == "KeyError"
        saved = nbformat.read(tmp_path / "broken-out.ipynb", as_version=4)
        assert any(o.get("ename") == "KeyError" for c in saved.cells  # marked by papermill
                   for o in c.get("outputs", []))
        assert "papermill-error-cell-tag" in saved.cells[0].metadata["tags"]
        assert pool.stats.handed_out == 2


def test_closing_the_pool_stops_warm_kernels_and_the_zygote(tmp_path: Path) -> None:
    pool = KernelPool(1, cwd=tmp_path)
    km = pool.acquire()
    used = km.provisioner.pid
    pool.release(km)
    deadline = time.monotonic() + 30
    while pool._ready.empty() and time.monotonic() < deadline:  # the replacement warms up
        time.sleep(0.05)
    warm = pool._ready.queue[0].km.provisioner.pid
    zygote = pool._zygote.proc.pid
    pool.close()
    assert _gone(used) and _gone(warm) and _gone(zygote)
    with pytest.raises(KernelStartError, match="closed"):
        pool.acquire()


@pytest.mark.parametrize("fork", [True, False])
def test_a_failing_warm_up_is_a_clear_error(tmp_path: Path, fork: bool) -> None:
    with (KernelPool(1, warmup="raise ValueError('no pandas here')", fork=fork,
                     cwd=tmp_path) as pool,
          pytest.raises((ForkError, KernelStartError), match="no pandas here")):
        pool.acquire(timeout=60)
