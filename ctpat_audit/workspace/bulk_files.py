"""The Parquet files of the bulk tables: where they live, the lock imports take turns on, and
the removal of files an interrupted import left behind.

An import writes a bulk table as a new file (``exams/shipments-<stamp>.parquet``), then
records it in the database's ``meta`` table in the transaction that commits the import; the
previous file is removed after that commit. A process killed between those steps leaves a
file no ``meta`` entry names (the new file before the commit, the old one after it, or a
``.tmp-`` file from the middle of a write). The data stays consistent, since readers follow
``meta``, but the files take space: :func:`tidy` removes them, and the staging folder an
import keeps in ``exams/`` while it checks (:func:`staging_folder`), the next time the workspace
is opened.

A file written by a running import is not yet named by ``meta`` either, so removal and
imports exclude each other: an import holds :func:`import_lock` (an ``flock`` on the
``exams`` folder, released by the kernel when the process dies, even by ``kill -9``) from
before it writes until after it has removed the old file, and :func:`tidy` removes files only
while it holds the same lock, without waiting for it. No file is created for the lock, so a
workspace that is only read stays exactly as it was.
"""
from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

#: bulk table -> its folder in the workspace; files are named ``<kind with dashes>-<stamp>``
FOLDERS = {"shipments": "exams", "profile_responses": "profile"}
LOCK_FOLDER = "exams"


#: An import's staging folder (in ``LOCK_FOLDER``): the long tables of the source, checked
#: batch by batch, and DuckDB's spill files. Removed when the import ends, or as a leftover.
STAGING_PREFIX = ".tmp-stage-"


def staging_folder(root: str | Path, stamp: str) -> Path:
    return Path(root) / LOCK_FOLDER / f"{STAGING_PREFIX}{stamp}"


def file_name(kind: str, stamp: str) -> str:
    return f"{kind.replace('_', '-')}-{stamp}.parquet"


def _is_bulk_file(kind: str, name: str) -> bool:
    prefix = kind.replace("_", "-") + "-"
    return (name.startswith(prefix) and name.endswith(".parquet")) or \
        name.startswith(f".tmp-{prefix}")


@contextmanager
def import_lock(root: str | Path, *, wait: bool = True) -> Iterator[bool]:
    """Hold the workspace's import lock; yields False (holding nothing) when ``wait`` is
    False and another process holds it. Where ``fcntl`` does not exist there is no lock
    (yields True)."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX
        yield True
        return
    folder = Path(root) / LOCK_FOLDER
    folder.mkdir(exist_ok=True)
    fd = os.open(folder, os.O_RDONLY)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def leftovers(root: str | Path, current: Iterable[Path | None]) -> list[Path]:
    """Bulk files (and ``.tmp-`` files of bulk writes) that are not ``current`` nor derived
    from a current file (``<current stem>.<name>.parquet``, see ``reference.derived_file``),
    and staging folders of imports."""
    root = Path(root)
    keep = {Path(p).resolve() for p in current if p is not None}
    stems = tuple(p.stem + "." for p in keep)
    found: list[Path] = []
    for kind, folder in FOLDERS.items():
        path = root / folder
        if not path.is_dir():
            continue
        for entry in sorted(path.iterdir()):
            if entry.is_file() and _is_bulk_file(kind, entry.name) \
                    and entry.resolve() not in keep and not entry.name.startswith(stems):
                found.append(entry)
            elif folder == LOCK_FOLDER and entry.is_dir() \
                    and entry.name.startswith(STAGING_PREFIX):
                found.append(entry)
    return found


def remove_leftovers(root: str | Path, current: Iterable[Path | None]) -> list[Path]:
    """Remove :func:`leftovers`; call with :func:`import_lock` held. Returns what was removed."""
    removed = []
    for path in leftovers(root, current):
        if path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
        removed.append(path)
    return removed


def tidy(root: str | Path, current: Callable[[], Iterable[Path | None]]) -> list[Path]:
    """Remove the files an interrupted import left, if no import is running now (this does
    not wait for one) and the folder can be written; ``current`` is called under the lock
    (it reads ``meta``). Returns what was removed."""
    root = Path(root)
    if not any(leftovers(root, ())):  # nothing that looks like a bulk file: nothing to read
        return []
    try:
        with import_lock(root, wait=False) as held:
            return remove_leftovers(root, current()) if held else []
    except OSError:  # a read-only copy of a workspace: leave it as it is
        return []
