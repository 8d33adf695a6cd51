"""A read-only snapshot of a workspace: what a batch's workers render and sign from.

SQLite must not be written over a network filesystem (its WAL needs shared memory that only
one machine has), and a reader of a WAL database writes too (its ``-shm`` file). A worker on
another machine therefore never opens the workspace: the coordinating process copies what
reports are made from into a snapshot folder, and the workers open that, read-only::

    SNAPSHOT/
      snapshot.json   this marker: the workspace, when, and the audit-log head of the copy
      ctpat.sqlite    a consistent copy (SQLite's backup API) in rollback-journal mode, so a
                      reader needs no -wal or -shm file; opened ``mode=ro&immutable=1``
                      (:meth:`~ctpat_audit.workspace.reference.Workspace.connect`), so any
                      write raises
      exams/, profile/  the current bulk Parquet files and the files derived from them
      evidence/       the evidence files of the sessions the snapshot is for
      keys/           the trust store: ca.pem, crl.pem, certs/ (never the CA's private key)
      catalogues/     imported criteria catalogues

Files the workspace never changes in place (bulk files, evidence: a new file each time) are
hard links when the snapshot is on the same filesystem, copies otherwise; an import that
replaces a bulk file removes only its own name for it. Folders, the database copy and the
marker are made read-only. The snapshot is made in ``SNAPSHOT.part`` and renamed when whole.
"""
from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import sqlite3
import stat
from collections.abc import Iterable
from pathlib import Path

from ctpat_audit.core.errors import WorkspaceError
from ctpat_audit.workspace import audit, bulk_files, reference_store
from ctpat_audit.workspace.evidence import evidence_path
from ctpat_audit.workspace.reference import (
    CATALOGUES_DIR,
    DB_NAME,
    SNAPSHOT_MARKER,
    SUBDIRS,
    Workspace,
    as_workspace,
)

__all__ = ["SNAPSHOT_MARKER", "make_snapshot", "remove_snapshot", "snapshot_info"]

SNAPSHOT_FORMAT = "ctpat-audit-snapshot/1"
_ATTEMPTS = 3


def make_snapshot(ws: object, dest: str | Path, *, sessions: Iterable[str] = ()) -> Path:
    """Snapshot the workspace into ``dest`` (which must not exist), with the evidence of
    ``sessions``; returns ``dest``. An import that replaces a bulk file while the snapshot
    is made is met by making it again (the copy and the files must be of one moment)."""
    workspace = as_workspace(ws)
    dest = Path(dest)
    if dest.exists():
        raise WorkspaceError(dest, "exists already; a snapshot goes to a new folder")
    wanted = sorted(set(sessions))
    part = dest.with_name(dest.name + ".part")
    for attempt in range(_ATTEMPTS):
        remove_snapshot(part)
        try:
            _build(workspace, part, wanted)
        except FileNotFoundError:
            if attempt == _ATTEMPTS - 1:
                remove_snapshot(part)
                raise
            continue
        break
    _read_only(part)
    part.rename(dest)
    return dest


def snapshot_info(path: str | Path) -> dict[str, object] | None:
    """The marker of a snapshot folder, or None for a folder that is not one."""
    marker = Path(path) / SNAPSHOT_MARKER
    if not marker.is_file():
        return None
    data: dict[str, object] = json.loads(marker.read_text(encoding="utf-8"))
    return data


def remove_snapshot(path: str | Path) -> None:
    """Remove a snapshot folder (made writable again first, so its owner can remove it)."""
    root = Path(path)
    if not root.exists():
        return
    for folder, dirs, _files in os.walk(root):
        os.chmod(folder, 0o755)
        for d in dirs:
            os.chmod(os.path.join(folder, d), 0o755)
    shutil.rmtree(root)


def _build(ws: Workspace, part: Path, sessions: list[str]) -> None:
    part.mkdir(parents=True)
    for sub in SUBDIRS:
        (part / sub).mkdir()
    db_copy = part / DB_NAME
    src = ws.connect(readonly=True)
    try:
        dst = sqlite3.connect(str(db_copy), isolation_level=None)
        try:
            src.backup(dst)  # one read transaction of the source: a consistent copy
            dst.execute("PRAGMA journal_mode=DELETE")  # readers need no -wal/-shm file
            meta = reference_store.read_meta(dst)
            head_seq, head_hash = audit.head(dst)
            shas = _evidence_shas(dst, sessions)
        finally:
            dst.close()
    finally:
        src.close()
    copy = Workspace(part)
    for kind in bulk_files.FOLDERS:
        path = ws.bulk_path(kind, meta)
        if path is None:
            continue
        target = copy.bulk_path(kind, meta)
        assert target is not None
        _link_or_copy(path, target)  # FileNotFoundError: an import replaced it meanwhile
        for derived in path.parent.glob(path.stem + ".*.parquet"):
            _link_or_copy(derived, target.parent / derived.name)
    for sha in shas:
        _link_or_copy(evidence_path(ws.path, sha), evidence_path(part, sha))
    keys = ws.path / "keys"
    for name in ("ca.pem", "crl.pem"):
        if (keys / name).is_file():
            shutil.copy2(keys / name, part / "keys" / name)
    if (keys / "certs").is_dir():
        shutil.copytree(keys / "certs", part / "keys" / "certs")
    for cat in sorted((ws.path / CATALOGUES_DIR).glob("*.json")):
        shutil.copy2(cat, part / CATALOGUES_DIR / cat.name)
    marker = {"format": SNAPSHOT_FORMAT, "workspace": str(ws.path.resolve()),
              "made_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
              "audit_head": {"seq": head_seq, "hash": head_hash},
              "source_sha256": meta.get("source_sha256"), "sessions": len(sessions)}
    (part / SNAPSHOT_MARKER).write_text(json.dumps(marker, indent=2) + "\n", encoding="utf-8")


def _evidence_shas(conn: sqlite3.Connection, sessions: list[str]) -> list[str]:
    shas: set[str] = set()
    for i in range(0, len(sessions), 500):
        part = sessions[i:i + 500]
        shas |= {str(r[0]) for r in conn.execute(
            f"SELECT sha256 FROM evidence WHERE session_id IN ({', '.join('?' * len(part))})",
            part)}
    return sorted(shas)


def _link_or_copy(src: Path, dst: Path) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(src, dst)
    except OSError as exc:
        if isinstance(exc, FileNotFoundError) or not src.is_file():
            raise FileNotFoundError(src) from exc
        shutil.copy2(src, dst)  # another filesystem (or links not allowed): a copy


def _read_only(root: Path) -> None:
    """Folders and the snapshot's own files read-only (hard-linked files keep their mode:
    they are the workspace's own files, which it never changes in place)."""
    read_only = stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH
    for folder, dirs, files in os.walk(root, topdown=False):
        for f in files:
            path = os.path.join(folder, f)
            if os.stat(path).st_nlink == 1:
                os.chmod(path, read_only)
        for d in dirs:
            os.chmod(os.path.join(folder, d), 0o555)
    os.chmod(root, 0o555)
