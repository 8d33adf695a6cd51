"""SQLite connection rules for the workspace database.

Every connection: WAL journal, ``synchronous=FULL`` (an acknowledged commit survives power
loss), ``foreign_keys=ON`` and a busy timeout. Every write goes through :func:`write`, which
opens the transaction with ``BEGIN IMMEDIATE``: a deferred transaction that reads and then
writes fails with SQLITE_BUSY under two writers even with a busy timeout, because the lock
upgrade cannot wait.
"""
from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

BUSY_TIMEOUT_MS = 30_000


def connect(path: str | Path, *, readonly: bool = False) -> sqlite3.Connection:
    """Open the workspace database with the toolkit's pragmas (autocommit mode)."""
    # A read-only connection is opened read-write with query_only: a WAL database opened
    # with mode=ro leaves its -wal/-shm files behind, while the last ordinary connection
    # removes them on close, leaving the folder exactly as it was.
    if readonly and not Path(path).is_file():
        raise FileNotFoundError(path)
    conn = sqlite3.connect(str(path), isolation_level=None,
                           timeout=BUSY_TIMEOUT_MS / 1000, check_same_thread=False)
    conn.row_factory = sqlite3.Row
    conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    conn.execute("PRAGMA foreign_keys=ON")
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    if readonly:
        conn.execute("PRAGMA query_only=ON")
    return conn


@contextmanager
def write(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """A write transaction: BEGIN IMMEDIATE, COMMIT on success, ROLLBACK on any error."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def integrity_ok(conn: sqlite3.Connection) -> bool:
    """``PRAGMA integrity_check`` says ok (run before signing)."""
    status: object = conn.execute("PRAGMA integrity_check").fetchone()[0]
    return status == "ok"
