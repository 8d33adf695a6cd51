"""A pytest plugin that fails the run when a test wrote into the source tree.

Tests write under ``tmp_path`` (or the ``artifacts_dir`` fixture); the checkout stays as it
was. :class:`CheckoutGuard` lists every file of the checkout with its size and modification
time when the session starts and again when it finishes; a file created, changed or deleted,
or a folder created or deleted, fails the run, and the summary names each one.

:func:`register` (called by ``tests/conftest.py``) adds it to the controller only (the single
process without pytest-xdist; never to an xdist worker), so with ``-n 2`` the checkout is
listed once, before the workers start and after they have all finished.

Not looked at: folders that tools keep beside the code by design (:data:`CACHES`): the git
metadata, the virtual environment, Python's bytecode, pytest's cache and the linters' caches.
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest

__all__ = ["CACHES", "CheckoutGuard", "changes", "register", "snapshot"]

CACHES = frozenset({".git", ".venv", "__pycache__", ".pytest_cache", ".ruff_cache",
                    ".mypy_cache", ".import_linter_cache"})
SHOWN = 50  # changes listed in the summary; the rest are counted

# a file or symlink: (size, mtime in ns); a folder: None (its mtime moves with any bytecode
# written inside it, so only its presence is compared)
Entry = tuple[int, int] | None


def snapshot(root: Path) -> dict[str, Entry]:
    """Every file, symlink and folder under ``root`` (relative POSIX paths), caches skipped."""
    found: dict[str, Entry] = {}

    def file_entry(path: Path) -> Entry:
        st = path.lstat()
        return st.st_size, st.st_mtime_ns

    for dirpath, dirnames, filenames in os.walk(root):  # symlinked folders are not entered
        here = Path(dirpath)
        dirnames[:] = sorted(d for d in dirnames if d not in CACHES)
        for name in dirnames:
            path = here / name
            found[path.relative_to(root).as_posix()] = (
                file_entry(path) if path.is_symlink() else None)
        for name in filenames:
            if name not in CACHES:
                path = here / name
                found[path.relative_to(root).as_posix()] = file_entry(path)
    return found


def changes(before: dict[str, Entry], after: dict[str, Entry]) -> list[str]:
    """``created|changed|deleted PATH`` for each difference, sorted by path."""
    out = []
    for rel in sorted(before.keys() | after.keys()):
        if rel not in before:
            out.append(f"created {rel}{'/' if after[rel] is None else ''}")
        elif rel not in after:
            out.append(f"deleted {rel}{'/' if before[rel] is None else ''}")
        elif before[rel] != after[rel]:
            out.append(f"changed {rel}")
    return out


class CheckoutGuard:
    """Compares the checkout at ``root`` before and after the session (see the module doc)."""

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()
        self.before: dict[str, Entry] | None = None
        self.found: list[str] = []

    def pytest_sessionstart(self, session: pytest.Session) -> None:
        self.before = snapshot(self.root)

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        if self.before is None:
            return
        self.found = changes(self.before, snapshot(self.root))
        if self.found and session.exitstatus in (pytest.ExitCode.OK,
                                                 pytest.ExitCode.NO_TESTS_COLLECTED):
            session.exitstatus = pytest.ExitCode.TESTS_FAILED

    def pytest_terminal_summary(self, terminalreporter: pytest.TerminalReporter) -> None:
        if not self.found:
            return
        tr = terminalreporter
        tr.write_sep("=", "tests wrote into the source tree", red=True, bold=True)
        tr.write_line(f"{self.root} changed during this run; a test must write under tmp_path "
                      "or artifacts_dir instead:")
        for line in self.found[:SHOWN]:
            tr.write_line(f"  {line}")
        if len(self.found) > SHOWN:
            tr.write_line(f"  ... and {len(self.found) - SHOWN} more")


def register(config: pytest.Config, root: Path) -> CheckoutGuard | None:
    """Register a guard of ``root`` in the controller (not in an xdist worker); return it."""
    if hasattr(config, "workerinput"):  # pytest-xdist sets it in its worker processes
        return None
    guard = CheckoutGuard(root)
    config.pluginmanager.register(guard, "ctpat-checkout-guard")
    return guard
