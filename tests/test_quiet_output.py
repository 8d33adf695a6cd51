"""A normal run prints no kernel or library chatter, and a failure says why in one line first.

Each test runs the real command in its own process (a kernel inherits that process's stderr,
and Python's last-resort log handler writes there), and reads what a person would see.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import papermill as pm
import pytest
from batch_helpers import DATA, LIGHT_WARMUP, make_batch_setup
from signing_helpers import make_report, make_setup

from ctpat_audit.reports.failure import strip_ansi
from ctpat_audit.server.lab import notebooks_dir
from ctpat_audit.trust.signing import sign_report

CLI = [str(Path(sys.executable).parent / "ctpat-audit")]


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "CTPAT_DEBUG"}
    return subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=300, env=env)


def test_verify_with_the_wrong_trust_store_says_why_first_and_prints_no_traceback(
        tmp_path: Path) -> None:
    setup = make_setup(tmp_path / "a")
    folder = make_report(setup)
    sign_report(folder, setup.ws, setup.signer("spec"))
    other = make_setup(tmp_path / "b")  # another workspace's CA: the signer does not chain

    res = _run("verify", str(folder), "--trust", str(other.ws.path / "keys"))
    assert res.returncode == 1
    assert res.stderr == ""  # pyHanko's logged tracebacks stay out of the terminal
    first = res.stdout.splitlines()[0]
    assert first.startswith("FAILED: manifest signature: the signer's certificate does not "
                            "chain to the trust store"), res.stdout

    debug = _run("--debug", "verify", str(folder), "--trust", str(other.ws.path / "keys"))
    assert debug.returncode == 1
    assert "Traceback" in debug.stderr and "pyhanko" in debug.stderr  # kept for --debug


def test_a_failed_report_is_one_line_on_stderr_without_kernel_warnings(tmp_path: Path) -> None:
    setup, ids = make_batch_setup(tmp_path, n=1, broken=1)  # the fixture report fails on it
    res = _run("report", "-w", str(setup.ws.path), "--session", ids[0], "--out",
               str(tmp_path / "out"), "--template", str(DATA / "report_min.ipynb"),
               "--format", "ipynb")
    assert res.returncode == 1
    lines = res.stderr.splitlines()
    assert len(lines) == 1, res.stderr  # no "[IPKernelApp] WARNING ... without encryption",
    # no "KeyboardInterrupt caught in kernel" at shutdown
    assert lines[0].startswith(f"error: report of session {ids[0]}, notebook cell 4"), lines
    assert "ZeroDivisionError: division by zero" in lines[0]


@pytest.mark.slow
def test_a_batch_run_prints_no_kernel_warnings(tmp_path: Path) -> None:
    setup, _ids = make_batch_setup(tmp_path, n=1)
    res = _run("batch", "-w", str(setup.ws.path), "--out", str(tmp_path / "out"), "--template",
               str(DATA / "report_min.ipynb"), "--workers", "0", "--no-progress",
               "--kernel-warmup", LIGHT_WARMUP)
    assert res.returncode == 0, res.stderr
    assert "IPKernelApp" not in res.stderr and "KeyboardInterrupt" not in res.stderr, res.stderr


@pytest.mark.parametrize("params, expected", [
    ({"mode": "on foot"},
     "InputError: notebook parameter mode: got 'on foot', expected 'in_person' or 'virtual'"),
    ({"account_id": 12.5}, "InputError: notebook parameter account_id: got 12.5, expected "
                           "the account id as text"),
])
def test_a_wrong_notebook_parameter_is_one_line_naming_it(sample_workspace, tmp_path: Path,
                                                         params, expected) -> None:
    base = {"workspace": str(sample_workspace.path), "account_id": "0000000",
            "specialist": "quiet.test@cbp.example", "as_of": "2026-11-01"}
    with pytest.raises(pm.PapermillExecutionError) as info:
        pm.execute_notebook(str(notebooks_dir() / "validation.ipynb"),
                            str(tmp_path / "out.ipynb"), parameters={**base, **params},
                            progress_bar=False, kernel_name="python3", cwd=str(tmp_path))
    lines = [strip_ansi(line).strip() for line in info.value.traceback if line.strip()]
    assert lines == [expected]  # not the stack of toolkit frames
