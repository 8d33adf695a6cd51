"""Bulk Parquet files: an interrupted import leaves no file behind once the workspace is opened
again, and removal never touches the files of an import that is still running."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from ctpat_audit.intake.importer import import_source
from ctpat_audit.workspace import bulk_files, reference_store
from ctpat_audit.workspace.reference import init_workspace, open_workspace

BIN = Path(sys.executable).parent / "ctpat-audit"


def bulk_listing(root: Path) -> list[str]:
    return sorted(f"{d}/{p.name}" for d in bulk_files.FOLDERS.values()
                  for p in (root / d).iterdir())


def current(ws) -> list[str]:
    """The current bulk files and the files derived from them (kept beside them)."""
    return sorted(str(q.relative_to(ws.path)) for p in ws.bulk_paths() if p is not None
                  for q in [p, *p.parent.glob(p.stem + ".*.parquet")])


@pytest.fixture
def ws(tmp_path, small_source):
    ws = init_workspace(tmp_path / "ws")
    import_source(ws, small_source, progress=False)
    return ws


def test_a_failure_between_writing_and_committing_leaves_nothing(ws, small_source, monkeypatch):
    from ctpat_audit.workspace import db

    before = bulk_listing(ws.path)
    rows = len(ws.shipments())

    def broken(conn):
        raise RuntimeError("disk went away")

    monkeypatch.setattr(db, "write", broken)
    with pytest.raises(RuntimeError):
        import_source(ws, small_source, progress=False)
    assert bulk_listing(ws.path) == before and len(ws.shipments()) == rows


KILLED_IMPORT = """
import contextlib, os, signal, sys
from ctpat_audit.workspace import db
from ctpat_audit.intake.importer import import_source

real, when = db.write, sys.argv[3]
real_run = db.ShortTransactions.run

@contextlib.contextmanager
def write(conn):  # the one transaction that publishes the import
    if when == "before_commit":  # Parquet files and SQLite tables staged, nothing published
        os.kill(os.getpid(), signal.SIGKILL)
    with real(conn) as c:
        yield c
    os.kill(os.getpid(), signal.SIGKILL)  # committed; the replaced files and tables remain

def run(self, step, kind=""):  # a short transaction of the staging
    done = real_run(self, step, kind)
    if when == "mid_staging":
        os.kill(os.getpid(), signal.SIGKILL)
    return done

db.write, db.ShortTransactions.run = write, run
import_source(sys.argv[1], sys.argv[2], progress=False)
"""


def stage_tables(ws) -> list[str]:
    conn = ws.connect(readonly=True)
    try:
        return reference_store.leftover_stages(conn)
    finally:
        conn.close()


@pytest.mark.parametrize("when", ["mid_staging", "before_commit", "after_commit"])
def test_kill_9_at_either_side_of_the_commit_leaves_files_that_the_next_open_removes(
        ws, small_source, when):
    rows, contacts = len(ws.shipments()), ws.table("contacts")
    old = current(ws)
    proc = subprocess.run([sys.executable, "-c", KILLED_IMPORT, str(ws.path), str(small_source),
                           when], capture_output=True, timeout=300, check=False)
    assert proc.returncode == -signal.SIGKILL, proc.stderr.decode()[-2000:]
    orphans = set(bulk_listing(ws.path)) - set(current(ws))
    assert orphans  # what the killed import left: its new files, or the replaced ones
    assert stage_tables(ws)  # and its staged (or replaced) tables
    assert ws.table("contacts").equals(contacts)  # readers see the old rows or the new
    opened = open_workspace(ws.path)
    assert bulk_listing(ws.path) == current(opened)
    assert stage_tables(opened) == []
    assert (current(opened) == old) == (when != "after_commit")
    assert len(opened.shipments()) == rows  # the same source: the data is whole either way
    assert opened.table("contacts").equals(contacts)
    import_source(opened, small_source, progress=False)  # and the next import goes through
    assert stage_tables(opened) == [] and opened.table("contacts").equals(contacts)


def test_a_real_kill_9_mid_import_leaves_nothing_after_the_next_open(ws, small_source):
    """``ctpat-audit import`` killed from outside as soon as its first new Parquet file is in
    place (before the commit that would make it current)."""
    before = set(bulk_listing(ws.path))
    rows = len(ws.shipments())
    proc = subprocess.Popen([str(BIN), "import", "--quiet", "-w", str(ws.path), str(small_source)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    try:
        while not set(bulk_listing(ws.path)) - before:
            assert proc.poll() is None, "the import ended before it wrote a file"
            assert time.monotonic() < deadline
            time.sleep(0.001)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait(30)
    opened = open_workspace(ws.path)
    assert bulk_listing(ws.path) == current(opened)
    assert len(opened.shipments()) == rows


def test_removal_waits_for_no_running_import(ws):
    stray = ws.path / "exams" / bulk_files.file_name("shipments", "20990101T000000000000")
    with bulk_files.import_lock(ws.path):  # as an import that has written, not committed
        stray.write_bytes(b"PAR1 being written")
        open_workspace(ws.path)
        assert stray.exists()
    open_workspace(ws.path)
    assert not stray.exists()
    assert bulk_listing(ws.path) == current(ws)


def test_other_files_in_the_bulk_folders_are_left_alone(ws):
    mine = [ws.path / "exams" / "notes.txt", ws.path / "profile" / "shipments.csv"]
    for p in mine:
        p.write_text("kept")
    open_workspace(ws.path)
    assert all(p.exists() for p in mine)


def test_imports_take_turns(ws, small_source):
    done = threading.Event()
    errors: list[BaseException] = []

    def second_import():
        try:
            import_source(ws.path, small_source, progress=False)
        except BaseException as exc:
            errors.append(exc)
        done.set()

    with bulk_files.import_lock(ws.path):
        before = bulk_listing(ws.path)
        t = threading.Thread(target=second_import)
        t.start()
        assert not done.wait(1.0)  # waiting for the lock, nothing written
        assert bulk_listing(ws.path) == before
    assert done.wait(120) and not errors
    t.join()
    assert bulk_listing(ws.path) == current(ws) and current(ws) != before
