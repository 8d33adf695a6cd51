"""The fork engine (``ctpat-fork``): entry point, parameters, warm imports, rich outputs as a
kernel would record them, failures, time-outs, dead children and clean-up."""
from __future__ import annotations

import os
import time
from pathlib import Path

import nbformat
import papermill as pm
import pytest
from nbclient.exceptions import CellTimeoutError, DeadKernelError

from ctpat_audit.core.errors import ForkError
from ctpat_audit.reports.fork_engine import ForkEngine
from ctpat_audit.reports.zygote import Zygote

pytestmark = pytest.mark.slow


def _notebook(path: Path, *cells: str) -> Path:
    nb = nbformat.v4.new_notebook()
    params = nbformat.v4.new_code_cell('session_id = ""')
    params.metadata["tags"] = ["parameters"]
    nb.cells = [nbformat.v4.new_markdown_cell("# probe"), params,
                *(nbformat.v4.new_code_cell(c) for c in cells)]
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


@pytest.fixture(scope="module")
def zygote():
    with Zygote("import pandas") as z:
        yield z


def test_engine_is_registered_through_the_entry_point() -> None:
    from papermill.engines import papermill_engines

    assert papermill_engines.get_engine("ctpat-fork") is ForkEngine


def test_parameters_warm_imports_and_rich_outputs(tmp_path: Path, zygote: Zygote) -> None:
    src = _notebook(tmp_path / "probe.ipynb",
                    "import sys, os\nprint(session_id, 'pandas' in sys.modules, os.getcwd())\n"
                    "print('second line')",
                    "from IPython.display import HTML, display\ndisplay(HTML('<b>x</b>'))\n"
                    "21 * 2",
                    "import matplotlib.pyplot as plt\nplt.plot([1, 2]); plt.show()",
                    "h = display('first', display_id=True)",
                    "h.update('updated')\nx = 1;",
                    "")
    pm.execute_notebook(src, tmp_path / "out.ipynb", parameters={"session_id": "S-1"},
                        engine_name="ctpat-fork", zygote=zygote, progress_bar=False,
                        cwd=str(tmp_path))
    nb = nbformat.read(tmp_path / "out.ipynb", as_version=4)
    cells = nb.cells
    assert [c.get("execution_count") for c in cells] == [None, 1, 2, 3, 4, 5, 6, 7, None]
    (stream,) = cells[3].outputs  # consecutive prints: one stream output
    assert stream.output_type == "stream" and stream.name == "stdout"
    assert stream.text == f"S-1 True {tmp_path}\nsecond line\n"  # imported before the fork
    html, result = cells[4].outputs
    assert html.output_type == "display_data" and html.data["text/html"] == "<b>x</b>"
    assert result.output_type == "execute_result" and result.execution_count == 4
    assert result.data == {"text/plain": "42"}
    assert any("image/png" in o.get("data", {}) for o in cells[5].outputs)  # inline plot
    assert cells[6].outputs[0].data["text/plain"] == "'updated'"  # display_id update
    assert cells[7].outputs == []  # a trailing ';' shows nothing
    assert nb.metadata.language_info.name == "python"
    assert {c.metadata.papermill.status for c in cells} == {"completed"}


def test_a_failure_names_its_cell_and_stops_the_run(tmp_path: Path, zygote: Zygote) -> None:
    broken = _notebook(tmp_path / "broken.ipynb", "x = 1", "raise KeyError('partner 42')",
                       "print('never')")
    with pytest.raises(pm.PapermillExecutionError) as err:
        pm.execute_notebook(broken, tmp_path / "broken-out.ipynb", engine_name="ctpat-fork",
                            zygote=zygote, progress_bar=False)
    assert err.value.cell_index == 3 and err.value.ename == "KeyError"  # markdown 0, params 1
    assert err.value.evalue == "'partner 42'"
    from ctpat_audit.reports.failure import strip_ansi

    assert "KeyError('partner 42')" in strip_ansi("\n".join(err.value.traceback))
    saved = nbformat.read(tmp_path / "broken-out.ipynb", as_version=4)
    assert "papermill-error-cell-tag" in saved.cells[0].metadata["tags"]  # marked by papermill
    code = [c for c in saved.cells if c.cell_type == "code"]
    failed = code[2]
    assert failed.source.startswith("raise") and failed.metadata.papermill.status == "failed"
    assert [o.output_type for o in failed.outputs] == ["error"]
    assert code[3].outputs == [] and code[3].execution_count is None  # not run


def test_timeouts_and_dead_children_raise_as_with_a_kernel(tmp_path: Path,
                                                           zygote: Zygote) -> None:
    stall = _notebook(tmp_path / "stall.ipynb", "import time\ntime.sleep(60)")
    with pytest.raises(CellTimeoutError):
        pm.execute_notebook(stall, tmp_path / "stall-out.ipynb", engine_name="ctpat-fork",
                            zygote=zygote, progress_bar=False, execution_timeout=1)
    die = _notebook(tmp_path / "die.ipynb", "import os\nos._exit(3)")
    with pytest.raises(DeadKernelError):
        pm.execute_notebook(die, tmp_path / "die-out.ipynb", engine_name="ctpat-fork",
                            zygote=zygote, progress_bar=False)
    saved = nbformat.read(tmp_path / "die-out.ipynb", as_version=4)
    assert saved.cells[2].metadata.papermill.status == "running"  # where it stopped
    ok = _notebook(tmp_path / "ok.ipynb", "print(session_id)")  # the zygote goes on
    nb = pm.execute_notebook(ok, tmp_path / "ok-out.ipynb", engine_name="ctpat-fork",
                             zygote=zygote, progress_bar=False, parameters={"session_id": "S"})
    assert nb.cells[3].outputs[0].text == "S\n"


def test_each_run_is_a_new_process_and_closing_stops_the_zygote(tmp_path: Path) -> None:
    src = _notebook(tmp_path / "pid.ipynb", "import os\nprint(os.getpid(), os.getppid())")
    zygote = Zygote("")
    pids = []
    for _ in range(2):
        nb = pm.execute_notebook(src, tmp_path / "pid-out.ipynb", engine_name="ctpat-fork",
                                 zygote=zygote, progress_bar=False)
        pid, parent = map(int, nb.cells[2].outputs[0].text.split())
        assert parent == zygote.proc.pid
        pids.append(pid)
    assert pids[0] != pids[1] and zygote.runs == 2
    assert _gone(pids[0]) and _gone(pids[1])  # each child ended after its run (and reaped)
    zygote.close()
    assert zygote.proc.returncode == 0
    with pytest.raises(ForkError):
        list(zygote.run([(0, "1")]))


def test_a_failing_warm_up_is_a_clear_error() -> None:
    with Zygote("raise ValueError('no pandas here')") as zygote, \
            pytest.raises(ForkError, match="no pandas here"):
        zygote.wait_ready(timeout=60)
