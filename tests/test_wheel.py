"""The wheel, installed on its own: built from a copy of the checkout, installed into a fresh
virtual environment outside it, and every workflow of `make demo` run with that environment's
`ctpat-audit` from a folder outside the checkout (sample, init, import, sample sessions,
portfolio, demo keys, a batch of two rendered, signed, countersigned and verified, `lab` on
the user's copy).

Nothing of the checkout is on the path of those commands: if the package still found a file
through the source tree (a missing package-data glob, a path built from ``__file__`` up into the
repository), a command here fails.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest
from checkout_guard import snapshot

pytestmark = pytest.mark.slow

CHECKOUT = Path(__file__).resolve().parent.parent
PASS_ENV, PASSPHRASE = "CTPAT_DEMO_PASS", "demo-passphrase-not-secret"  # as in the Makefile
AS_OF, SEED = "2026-11-01", "7"
DIST_INFO = re.compile(r"^ctpat_audit-[^/]+\.dist-info/")
# one-liners run by the installed interpreter (from a folder outside the checkout)
KERNEL = ("import json; from jupyter_client.kernelspec import KernelSpecManager; "
          "s = KernelSpecManager().get_kernel_spec('python3'); "
          "print(json.dumps([s.resource_dir, s.argv[0]]))")
PACKAGE_FOLDER = ("import os, ctpat_audit; "
                  "print(os.path.dirname(os.path.realpath(ctpat_audit.__file__)))")
DATA_FOLDERS = ("from ctpat_audit.core import package_data as p; "
                "print(p.data_dir()); print(p.notebooks_dir()); print(p.templates_dir())")
VERSION = "from importlib.metadata import version; print(version('ctpat-audit'))"


def _source_files() -> list[str]:
    """The checkout's files as a commit would have them: tracked and new, nothing ignored."""
    out = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                         cwd=CHECKOUT, capture_output=True, check=True).stdout
    return sorted(p for p in out.decode().split("\0") if p and (CHECKOUT / p).is_file())


def _run(args: list[str], cwd: Path, env: dict[str, str] | None = None,
         timeout: float = 600) -> str:
    """Run a command; fail with its output unless it exits 0; return its stdout."""
    done = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=timeout, check=False)
    assert done.returncode == 0, (f"{' '.join(map(str, args))} exited {done.returncode}\n"
                                  f"--- stdout ---\n{done.stdout}\n--- stderr ---\n{done.stderr}")
    return done.stdout


@dataclass(frozen=True)
class Installed:
    venv: Path
    package: Path  # the installed ctpat_audit folder
    env: dict[str, str]  # for commands of that venv only

    def cli(self, *args: str, cwd: Path, timeout: float = 600) -> str:
        return _run([str(self.venv / "bin" / "ctpat-audit"), *args], cwd, self.env, timeout)


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel, built by uv from a copy of the checkout (the build writes build/ and
    *.egg-info into the copy, never into the checkout)."""
    root = tmp_path_factory.mktemp("wheel-build")
    src = root / "src"
    for rel in _source_files():
        (src / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(CHECKOUT / rel, src / rel)
    had_build = (CHECKOUT / "build").exists()
    _run([sys.executable, "-m", "uv", "build", "--wheel", "--out-dir", str(root / "dist"),
          str(src)], root)
    assert (CHECKOUT / "build").exists() == had_build
    [built] = (root / "dist").glob("ctpat_audit-*-py3-none-any.whl")
    return built


@pytest.fixture(scope="module")
def installed(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Installed:
    """A fresh venv outside the checkout with the wheel (same overrides as the Makefile) and
    its own ``python3`` kernel; Jupyter's per-user folders point into the test's folder, so
    only that kernel can be found."""
    root = tmp_path_factory.mktemp("wheel-venv")
    venv = root / "venv"
    uv = [sys.executable, "-m", "uv"]
    _run([*uv, "venv", "--quiet", "--python", sys.executable, str(venv)], root)
    _run([*uv, "pip", "install", "--quiet", "--python", str(venv / "bin" / "python"),
          "--override", str(CHECKOUT / "constraints" / "overrides.txt"), str(wheel)], root,
         timeout=900)
    env = {k: v for k, v in os.environ.items()
           if k not in ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME", "CTPAT_WORKSPACE",
                        "CTPAT_ACCOUNT", "CTPAT_USER", "CTPAT_TRUST")}
    env.update({"PATH": f"{venv / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}",
                "JUPYTER_DATA_DIR": str(root / "jupyter-data"),
                "JUPYTER_CONFIG_DIR": str(root / "jupyter-config"),
                "IPYTHONDIR": str(root / "ipython"), PASS_ENV: PASSPHRASE})
    python = str(venv / "bin" / "python")
    _run([python, "-m", "ipykernel", "install", "--sys-prefix", "--name", "python3",
          "--display-name", "Python 3 (ipykernel)"], root, env)
    resource_dir, kernel_python = json.loads(_run([python, "-c", KERNEL], root, env))
    assert Path(resource_dir).is_relative_to(venv) and Path(kernel_python).is_relative_to(venv)
    where = _run([python, "-c", PACKAGE_FOLDER], root, env)
    return Installed(venv, Path(where.strip()), env)


def test_wheel_holds_every_module_notebook_template_and_data_file(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    expected = set()
    for rel in _source_files():
        for top, inside in (("ctpat_audit/", "ctpat_audit/"),
                            ("notebooks/", "ctpat_audit/notebooks/"),
                            ("templates/", "ctpat_audit/templates/")):
            if rel.startswith(top):
                expected.add(inside + rel[len(top):])
    assert {"ctpat_audit/notebooks/validation.ipynb", "ctpat_audit/notebooks/self_assessment.ipynb",
            "ctpat_audit/notebooks/portfolio.ipynb", "ctpat_audit/templates/report.ipynb",
            "ctpat_audit/templates/ctpat_report/index.html.j2", "ctpat_audit/py.typed",
            "ctpat_audit/data/catalogue-demo-2019.11.json"} <= expected
    assert {n for n in names if not DIST_INFO.match(n)} == expected  # all of it, nothing else
    entry_points = next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
    text = zipfile.ZipFile(wheel).read(entry_points).decode()
    assert "ctpat-audit = ctpat_audit.cli:main" in text
    assert "ctpat-fork = ctpat_audit.reports.fork_engine:ForkEngine" in text


def test_installed_package_and_its_data_are_outside_the_checkout(installed, tmp_path):
    assert installed.package.is_relative_to(installed.venv.resolve())
    assert not installed.package.is_relative_to(CHECKOUT)
    python = str(installed.venv / "bin" / "python")
    out = _run([python, "-c", DATA_FOLDERS], tmp_path, installed.env)
    folders = [Path(line) for line in out.split()]
    assert folders == [installed.package / "data", installed.package / "notebooks",
                       installed.package / "templates"]
    assert (folders[2] / "ctpat_report" / "conf.json").is_file()
    version = _run([python, "-c", VERSION], tmp_path, installed.env).strip()
    assert installed.cli("--version", cwd=tmp_path).strip().endswith(version)


def _verified(text: str, *meanings: str) -> bool:
    return "VERIFIED" in text and all(f"[OK ] {m} by" in text for m in meanings)


def test_demo_workflow_runs_from_the_installed_wheel(installed, tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    package_before = snapshot(installed.package)
    cli = installed.cli

    cli("sample", "source", "--partners", "12", "--seed", SEED, "--as-of", AS_OF, cwd=run)
    cli("init", "-w", "ws", cwd=run)
    assert "partners: 12 rows" in cli("import", "-w", "ws", "source", "--quiet", cwd=run)
    out = cli("sample-sessions", "-w", "ws", "--validations", "2", "--self-assessments", "0",
              "--seed", SEED, "--as-of", AS_OF, cwd=run)
    validations = re.findall(r"V-[A-Z0-9]+", out.split("validations:", 1)[1].splitlines()[0])
    assert len(validations) == 2, out
    cli("portfolio", "-w", "ws", "--as-of", AS_OF, "--limit", "8", "--xlsx", "portfolio.xlsx", cwd=run)
    assert (run / "portfolio.xlsx").stat().st_size > 0  # reads the baseline tables shipped
    cli("keys", "demo", "-w", "ws", "--passphrase-env", PASS_ENV, cwd=run)
    supervisor_key = run / "ws" / "demo-keys" / "supervisor-demo.supervisor_cbp.example.p12"
    assert supervisor_key.is_file()

    # the batch: both validations rendered, signed, countersigned and verified
    out = cli("batch", "-w", "ws", "--out", "batch", "--specialist-keys", "ws/demo-keys",
              "--key", str(supervisor_key), "--passphrase-env", PASS_ENV, "--no-progress",
              cwd=run, timeout=900)
    assert re.search(r"\b2 run \(2 ok, 0 failed\)", out), out
    reports = sorted((run / "batch").glob("*/V-*"))
    assert sorted(p.name for p in reports) == sorted(validations)
    for folder in reports:
        text = cli("verify", str(folder), "--trust", "ws/keys", "--workspace", "ws", cwd=run)
        assert _verified(text, "Validated", "Approved"), text
    assert (run / "batch" / "index.html").is_file() and (run / "batch" / "index.xlsx").is_file()

    # lab from the wheel serves the user's copy; an edit through Jupyter lands there
    user = "wheel.user@cbp.example"
    said = _edit_through_lab(installed, run, user)
    assert any(line.startswith("Copied") and f"notebooks/{user}" in line for line in said), said
    copy = run / "ws" / "notebooks" / user / "validation.ipynb"
    assert "edited from the wheel" in copy.read_text()
    assert snapshot(installed.package) == package_before  # nothing written into the package
    assert "edited from the wheel" not in (installed.package / "notebooks" /
                                           "validation.ipynb").read_text()


def _edit_through_lab(installed: Installed, cwd: Path, user: str) -> list[str]:
    """Start ``ctpat-audit lab``, append a cell to validation.ipynb through the contents API,
    stop it with Ctrl-C; what it printed up to the URL."""
    proc = subprocess.Popen([str(installed.venv / "bin" / "ctpat-audit"), "lab", "-w", "ws",
                             "--user", user, "--no-browser"], cwd=cwd, env=installed.env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        lines: list[str] = []
        while not (lines and lines[-1].startswith("Open:")):
            line = proc.stdout.readline()  # type: ignore[union-attr]
            assert line, (lines, proc.stderr.read())  # type: ignore[union-attr]
            lines.append(line)
        found = re.search(r"(http://127\.0\.0\.1:\d+/)lab/tree/validation\.ipynb\?token=(\S+)",
                          lines[-1])
        assert found, lines
        base, token = found.groups()
        headers = {"Authorization": f"token {token}", "Content-Type": "application/json"}
        with urllib.request.urlopen(urllib.request.Request(
                base + "api/contents/validation.ipynb", headers=headers), timeout=60) as r:
            model = json.load(r)
        model["content"]["cells"].append({"cell_type": "markdown", "metadata": {},
                                          "id": "wheel-note", "source": "edited from the wheel"})
        body = json.dumps({"type": "notebook", "format": "json",
                           "content": model["content"]}).encode()
        with urllib.request.urlopen(urllib.request.Request(
                base + "api/contents/validation.ipynb", data=body, method="PUT",
                headers=headers), timeout=60) as r:
            assert r.status == 200
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(30)
    assert proc.returncode == 0
    return lines
