"""One report pipeline: a failing report reads the same, names the same cell and keeps the same
marked notebook whether ``ctpat-audit report`` or ``ctpat-audit batch`` ran it, and whichever
papermill engine executed it (a new kernel, or the fork engine of both).

Fixtures (tests/data/batch/): report_min.ipynb divides by the number of answers, so a
submitted session without answers fails in its cell 4 of the executed notebook (parameters 0,
injected parameters 1, markdown 2, read 3, summary 4); fails_in_colour.ipynb raises an error
whose value carries ANSI colour codes and two lines; stalls.ipynb never finishes a cell.
"""
from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest
from batch_helpers import DATA, LIGHT_WARMUP, make_batch_setup
from click.testing import CliRunner
from session_helpers import ACCOUNT

from ctpat_audit.batch.run import BatchManifest
from ctpat_audit.batch.worker import (
    BatchSettings,
    ReportTask,
    close_worker_states,
    render_one,
    worker_state,
)
from ctpat_audit.cli import main
from ctpat_audit.core.errors import ReportError
from ctpat_audit.reports.execute import execute_report
from ctpat_audit.reports.failure import FAILED_TAG, NOTE_TAG
from ctpat_audit.reports.zygote import Zygote

pytestmark = pytest.mark.slow


def _marked(nb_path: Path, cell: int) -> nbformat.NotebookNode:
    """The kept notebook, checked to be marked at ``cell`` and nowhere else."""
    nb = nbformat.read(nb_path, as_version=4)
    tagged = [i for i, c in enumerate(nb.cells) if FAILED_TAG in c.metadata.get("tags", [])]
    notes = [i for i, c in enumerate(nb.cells) if NOTE_TAG in c.metadata.get("tags", [])]
    assert (tagged, notes) == ([cell], [cell + 1])
    assert [o for o in nb.cells[cell].outputs if o.output_type == "error"]
    assert not any("papermill-error-cell-tag" in c.metadata.get("tags", []) for c in nb.cells)
    assert nb.metadata["ctpat"]["failure"]["cell_index"] == cell
    return nb


def _code(nb: nbformat.NotebookNode) -> list[str]:
    """Sources of the template's code cells (the injected parameters hold per-run paths)."""
    return [c.source for c in nb.cells
            if c.cell_type == "code" and "injected-parameters" not in c.metadata.get("tags", [])]


def test_report_and_batch_report_a_failing_cell_alike(tmp_path: Path) -> None:
    setup, ids = make_batch_setup(tmp_path, n=1, broken=1)  # submitted, without answers
    sid, ws = ids[0], str(setup.ws.path)
    template = str(DATA / "report_min.ipynb")
    runner = CliRunner()

    one = runner.invoke(main, ["report", "-w", ws, "--session", sid, "--out", str(tmp_path / "one"),
                               "--template", template, "--format", "ipynb"])
    assert one.exit_code == 1, one.output
    found = re.search(r"notebook cell (\d+) \('([^']*)'\): (.*); executed notebook kept at "
                      r"(\S+)", one.output)
    assert found, one.output
    cell, excerpt, reason, kept = int(found[1]), found[2], found[3], Path(found[4])
    assert (cell, reason) == (4, "ZeroDivisionError: division by zero")
    assert excerpt.startswith("failing = sum(")
    assert not (tmp_path / "one" / ACCOUNT).exists()  # nothing published

    many = runner.invoke(main, ["batch", "-w", ws, "--out", str(tmp_path / "many"), "--template",
                                template, "--workers", "0", "--no-progress",
                                "--kernel-warmup", LIGHT_WARMUP])
    assert many.exit_code == 1, many.output
    found = re.search(rf"FAILED {ACCOUNT}/{sid} at execute cell (\d+): (.*); executed notebook "
                      r"kept at (\S+)", many.output)
    assert found, many.output
    assert (int(found[1]), found[2]) == (cell, reason)
    kept_by_batch = Path(found[3])
    run = BatchManifest(tmp_path / "many").runs()[sid]
    assert (run["failed_cell"], run["error"], run["step"]) == (cell, reason, "execute")
    assert run["notebook"] == f"_failed/{sid}/report.ipynb"
    assert not (tmp_path / "many" / ACCOUNT).exists()

    # the failed notebook is kept in the same place relative to each output folder ...
    assert kept.relative_to(tmp_path / "one") == kept_by_batch.relative_to(tmp_path / "many") \
        == Path("_failed", sid, "report.ipynb")
    # ... marked the same way at the cell both reported
    by_report, by_batch = _marked(kept, cell), _marked(kept_by_batch, cell)
    assert _code(by_report) == _code(by_batch)
    assert by_report.metadata["ctpat"] == by_batch.metadata["ctpat"]
    assert [o.ename for o in by_report.cells[cell].outputs if o.output_type == "error"] == \
        [o.ename for o in by_batch.cells[cell].outputs if o.output_type == "error"] \
        == ["ZeroDivisionError"]
    assert not list((tmp_path / "one" / ".tmp").iterdir())  # scratch folders are removed
    assert not list((tmp_path / "many" / ".tmp").iterdir())


def test_both_engines_give_the_same_one_line_error_without_colour_codes(tmp_path: Path) -> None:
    """papermill's own engine on a new kernel and the fork engine (ctpat-audit report and
    the batch) fail the same notebook with the same ReportError."""
    errors = {}
    with Zygote(LIGHT_WARMUP) as zygote:
        for name, kw in (("plain", {}), ("warm", {"engine_name": "ctpat-fork",
                                                  "zygote": zygote})):
            with pytest.raises(ReportError) as info:
                execute_report(tmp_path, "V-AAAAAAAAAA", tmp_path / f"{name}.ipynb",
                               template=DATA / "fails_in_colour.ipynb", **kw)
            errors[name] = info.value
    plain, warm = errors["plain"], errors["warm"]
    assert plain.reason == warm.reason == "ValueError: partner of V-AAAAAAAAAA has no answers"
    assert plain.cell_index == warm.cell_index == 4
    assert plain.source == warm.source and plain.source.startswith("raise ValueError")
    for err in (plain, warm):
        assert "\x1b" not in err.traceback and "\x1b" not in str(err)
        assert "second line of the message" in err.traceback  # the whole error is kept
        assert str(err).startswith("report of session V-AAAAAAAAAA, notebook cell 4 ")
        nb = _marked(tmp_path / f"{'plain' if err is plain else 'warm'}.ipynb", 4)
        assert plain.reason in nb.cells[5].source  # the note under the failing cell


def test_a_cell_that_runs_out_of_time_is_named_and_marked(tmp_path: Path) -> None:
    """A timeout leaves no error output: the cell that was running is the one named."""
    with Zygote(LIGHT_WARMUP) as zygote, pytest.raises(ReportError) as info:
        execute_report(tmp_path, "V-AAAAAAAAAA", tmp_path / "out.ipynb",
                       template=DATA / "stalls.ipynb", engine_name="ctpat-fork",
                       zygote=zygote, execution_timeout=2)
    err = info.value
    assert err.cell_index == 4 and err.source == "time.sleep(120)"
    assert err.reason.startswith("CellTimeoutError: ") and "\n" not in err.reason
    nb = nbformat.read(tmp_path / "out.ipynb", as_version=4)
    assert FAILED_TAG in nb.cells[4].metadata["tags"]
    assert NOTE_TAG in nb.cells[5].metadata["tags"]
    assert "never reached" in nb.cells[6].source and not nb.cells[6].outputs


def test_the_batch_refuses_unsafe_ids_before_a_kernel_runs(tmp_path: Path) -> None:
    """The batch and ctpat-audit report share one safe-id check (reports.publish)."""
    setup, ids = make_batch_setup(tmp_path, n=1)
    out = tmp_path / "out"
    settings = BatchSettings(workspace=str(setup.ws.path), out=str(out),
                             template=str(DATA / "report_min.ipynb"),
                             kernel_warmup=LIGHT_WARMUP)
    try:
        res = render_one(ReportTask(ids[0], "../elsewhere", "h"), settings)
        assert (res.status, res.step, res.failed_cell) == ("failed", "publish", None)
        assert res.error.startswith("account id '../elsewhere' is not a safe folder name: ")
        assert worker_state(settings).zygote.runs == 0  # no report was executed
    finally:
        close_worker_states()
    assert not (tmp_path / "elsewhere").exists()
    assert not out.exists() or not any(out.rglob("*.ipynb"))
