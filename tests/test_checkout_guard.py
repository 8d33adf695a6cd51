"""The rule that no test writes into the source tree (tests/checkout_guard.py), also under
pytest-xdist, where the files are written by workers and the check runs in the controller."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from checkout_guard import changes, snapshot

TESTS = Path(__file__).resolve().parent


def _clean_env(**extra: str) -> dict[str, str]:
    """This environment without what the running pytest (or its xdist worker) set."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    env.update(extra)
    return env


def test_snapshot_and_changes_name_what_was_created_changed_and_deleted(tmp_path):
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "mod.py").write_text("x = 1\n")
    (tmp_path / "old.txt").write_text("old")
    (tmp_path / "gone").mkdir()
    before = snapshot(tmp_path)
    assert before["pkg"] is None and before["pkg/mod.py"] is not None
    (tmp_path / "pkg" / "mod.py").write_text("x = 22\n")
    (tmp_path / "old.txt").unlink()
    (tmp_path / "gone").rmdir()
    (tmp_path / "artifacts").mkdir()
    (tmp_path / "pkg" / "new.png").write_bytes(b"png")
    (tmp_path / "link").symlink_to(tmp_path / "pkg")
    # caches that tools keep beside the code are not looked at
    for cache in ("__pycache__", ".pytest_cache", ".venv", ".ruff_cache"):
        (tmp_path / "pkg" / cache).mkdir()
        (tmp_path / "pkg" / cache / "x").write_text("cache")
    assert changes(before, snapshot(tmp_path)) == [
        "created artifacts/", "deleted gone/", "created link", "deleted old.txt",
        "changed pkg/mod.py", "created pkg/new.png"]
    assert changes(before, before) == []


def test_same_size_rewrite_is_a_change(tmp_path):
    f = tmp_path / "notebook.ipynb"
    f.write_text("aaaa")
    before = snapshot(tmp_path)
    st = f.stat()
    f.write_text("bbbb")
    os.utime(f, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000))
    assert changes(before, snapshot(tmp_path)) == ["changed notebook.ipynb"]


def _fake_checkout(root: Path, writes: bool) -> Path:
    """A tiny project whose conftest registers the guard as tests/conftest.py does; test_a
    writes a file named after its xdist worker into the checkout when ``writes``."""
    root.mkdir()
    (root / "pytest.ini").write_text("[pytest]\n")
    (root / "conftest.py").write_text(textwrap.dedent("""\
        from pathlib import Path

        import checkout_guard


        def pytest_configure(config):
            checkout_guard.register(config, Path(__file__).parent)
        """))
    (root / "test_a.py").write_text(textwrap.dedent("""\
        import os
        from pathlib import Path

        WRITES = WRITES_VALUE


        def test_a(tmp_path):
            (tmp_path / "fine.txt").write_text("tmp_path is the place")
            if WRITES:
                worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
                (Path(__file__).parent / f"written-by-{worker}.txt").write_text("oops")
        """).replace("WRITES_VALUE", repr(writes)))
    (root / "test_b.py").write_text("def test_b():\n    assert True\n")
    return root


def _run(root: Path, basetemp: Path, *args: str) -> subprocess.CompletedProcess[str]:
    lib = basetemp.parent / "lib"  # the plugin imported from a copy: its bytecode lands there
    lib.mkdir(exist_ok=True)
    shutil.copy2(TESTS / "checkout_guard.py", lib)
    env = _clean_env(PYTHONPATH=str(lib))
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # bytecode is written, and must not count
    return subprocess.run([sys.executable, "-m", "pytest", "-q", f"--basetemp={basetemp}",
                           *args], cwd=root, env=env, capture_output=True, text=True,
                          timeout=300, check=False)


def test_a_worker_writing_into_the_checkout_fails_the_run_and_is_named(tmp_path):
    root = _fake_checkout(tmp_path / "checkout", writes=True)
    run = _run(root, tmp_path / "basetemp", "-n", "2", "--dist", "loadfile")
    out = run.stdout
    assert run.returncode == 1, out + run.stderr
    assert "2 passed" in out  # the tests passed; the run fails because of the write
    assert out.count("tests wrote into the source tree") == 1  # once, by the controller
    assert "created written-by-gw" in out and "fine.txt" not in out
    assert str(root) in out


def test_a_clean_run_passes_with_bytecode_and_pytest_cache_written(tmp_path):
    root = _fake_checkout(tmp_path / "checkout", writes=False)
    for args in (("-n", "2", "--dist", "loadfile"), ()):
        run = _run(root, tmp_path / f"basetemp{len(args)}", *args)
        assert run.returncode == 0, run.stdout + run.stderr
        assert "source tree" not in run.stdout
    assert (root / ".pytest_cache").is_dir() and any(root.glob("__pycache__/*.pyc"))


def test_without_xdist_the_single_process_checks(tmp_path):
    root = _fake_checkout(tmp_path / "checkout", writes=True)
    run = _run(root, tmp_path / "basetemp", "-p", "no:xdist")
    assert run.returncode == 1, run.stdout + run.stderr
    assert "created written-by-main.txt" in run.stdout


def test_artifacts_go_to_ctpat_test_artifacts_and_the_run_says_where(tmp_path):
    """The real suite's conftest: a worker saves a chart under $CTPAT_TEST_ARTIFACTS, and the
    controller prints that folder at the end of the run."""
    art = tmp_path / "artifacts"
    env = _clean_env(CTPAT_TEST_ARTIFACTS=str(art))
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-n", "2",
           f"--basetemp={tmp_path / 'basetemp'}", "tests/test_charts.py", "-k", "backlog"]
    run = subprocess.run(cmd, cwd=TESTS.parent, env=env, capture_output=True, text=True,
                         timeout=300, check=False)
    assert run.returncode == 0, run.stdout + run.stderr
    assert (art / "test_charts" / "backlog_by_region.png").stat().st_size > 5_000
    assert str(art) in run.stdout.split("test artifacts", 1)[1]
    inside = subprocess.run(cmd, cwd=TESTS.parent, env={**env, "CTPAT_TEST_ARTIFACTS":
                                                         str(TESTS / "artifacts")},
                            capture_output=True, text=True, timeout=300, check=False)
    assert inside.returncode == pytest.ExitCode.USAGE_ERROR
    assert "inside the checkout" in inside.stderr and not (TESTS / "artifacts").exists()
