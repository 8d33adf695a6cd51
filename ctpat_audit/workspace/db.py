"""SQLite connection rules for the workspace database.

Every connection: WAL journal, ``synchronous=FULL`` (an acknowledged commit survives power
loss), ``foreign_keys=ON`` and a busy timeout. Every write goes through :func:`write`, which
opens the transaction with ``BEGIN IMMEDIATE``: a deferred transaction that reads and then
writes fails with SQLITE_BUSY under two writers even with a busy timeout, because the lock
upgrade cannot wait.

Waiting for the write lock. SQLite's own busy handler sleeps 1, 2, 5, 10, 15, 20, 25, 25, 25,
50, 50, 100 ms between tries, so a writer that found the lock taken can sleep on for tens of
milliseconds after it was released: with a team of writers that is what an answer's latency
is made of. :func:`write` therefore waits for the lock itself, trying again every 0.5 to
3 milliseconds (:data:`LOCK_POLL_S`, with jitter so waiters do not move in step) until
:data:`BUSY_TIMEOUT_MS`. Bulk work (an import) does not hold the lock for long either: it
writes in :class:`ShortTransactions`, pausing after each, and before each it waits on the
writers' queue (a ``flock`` beside the database, :func:`write`) until no writer is waiting.
"""
from __future__ import annotations

import fcntl
import gc
import os
import random
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from itertools import islice
from pathlib import Path
from typing import Any

BUSY_TIMEOUT_MS = 30_000
#: Pauses between tries for the write lock (seconds, each times a random 0.5-1.5)
LOCK_POLL_S = (0.0005, 0.001, 0.002)


def connect(path: str | Path, *, readonly: bool = False,
            immutable: bool = False) -> sqlite3.Connection:
    """Open the workspace database with the toolkit's pragmas (autocommit mode).

    ``immutable``: a snapshot's copy (``workspace.snapshot``), which nothing changes while it
    is open: opened ``mode=ro&immutable=1``, so SQLite takes no lock, creates no file
    beside it and refuses every write ("attempt to write a readonly database").
    """
    if immutable:
        if not Path(path).is_file():
            raise FileNotFoundError(path)
        uri = Path(path).resolve().as_uri() + "?mode=ro&immutable=1"
        conn = sqlite3.connect(uri, uri=True, isolation_level=None, check_same_thread=False)
        conn.row_factory = sqlite3.Row
        conn.execute("PRAGMA query_only=ON")
        return conn
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


def _busy(exc: sqlite3.OperationalError) -> bool:
    return "locked" in str(exc) or "busy" in str(exc)


def begin_immediate(conn: sqlite3.Connection) -> None:
    """``BEGIN IMMEDIATE``, waiting for the write lock in steps of a few milliseconds (see
    the module doc) up to :data:`BUSY_TIMEOUT_MS`; then SQLite's "database is locked"."""
    conn.execute("PRAGMA busy_timeout=0")  # SQLite's own waiting would sleep too long
    try:
        deadline, tries = 0.0, 0
        while True:
            try:
                conn.execute("BEGIN IMMEDIATE")
                return
            except sqlite3.OperationalError as exc:
                if not _busy(exc):
                    raise
                now = time.monotonic()
                deadline = deadline or now + BUSY_TIMEOUT_MS / 1000
                if now > deadline:
                    raise
            time.sleep(LOCK_POLL_S[min(tries, len(LOCK_POLL_S) - 1)] * (0.5 + random.random()))
            tries += 1
    finally:
        conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")


#: The writers' queue beside the database (``ctpat.sqlite-writers``): see :func:`write`.
QUEUE_SUFFIX = "-writers"
_QUEUES_KEPT = 8  # open queue files kept per process (a test run opens many workspaces)
_queues: dict[tuple[int, int, str], tuple[int, int]] = {}  # (process, thread, db) -> (fd, inode)


def _queue(conn: sqlite3.Connection) -> int | None:
    """This process's descriptor of the writers' queue of ``conn``'s database (created with
    the database's own permissions); None for a database that is not a file or a connection
    that cannot write."""
    row = conn.execute("PRAGMA database_list").fetchone()
    path = row[2] if row is not None else ""
    if not path or conn.execute("PRAGMA query_only").fetchone()[0]:
        return None  # in memory, or a connection that cannot write (a snapshot's)
    # flock belongs to an open file, shared by the threads and forked children that hold it:
    # each thread of each process opens its own
    key = (os.getpid(), threading.get_ident(), path)
    queue = path + QUEUE_SUFFIX
    kept = _queues.pop(key, None)
    if kept is not None:
        try:
            if os.stat(queue).st_ino == kept[1]:
                _queues[key] = kept  # most recently used last
                return kept[0]
        except OSError:
            pass
        os.close(kept[0])  # the workspace was removed (and perhaps made again at this path)
    try:
        mode = os.stat(path).st_mode & 0o666
        fd = os.open(queue, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, mode)
    except OSError:
        return None  # a folder we may not write in: the writer just polls, as before
    _queues[key] = (fd, os.fstat(fd).st_ino)
    while len(_queues) > _QUEUES_KEPT:
        old_key = next(iter(_queues))
        if old_key[0] == os.getpid():
            os.close(_queues[old_key][0])
        del _queues[old_key]
    return fd


@contextmanager
def write(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """A write transaction: BEGIN IMMEDIATE, COMMIT on success, ROLLBACK on any error.

    While it waits and writes, the writer holds a shared ``flock`` on the database's writers'
    queue. Bulk work (:class:`ShortTransactions`) takes that lock exclusively, and at once lets
    it go, before each of its pieces: the kernel wakes it only when no writer is waiting or
    writing, so an answer never loses the write lock to the next piece of an import, however
    the two are scheduled (polling alone, a writer descheduled for a few milliseconds could
    miss every gap between pieces).
    """
    fd = _queue(conn)
    if fd is not None:
        fcntl.flock(fd, fcntl.LOCK_SH)
    try:
        with _transaction(conn):
            yield conn
    finally:
        if fd is not None:
            fcntl.flock(fd, fcntl.LOCK_UN)


@contextmanager
def _transaction(conn: sqlite3.Connection) -> Iterator[None]:
    """BEGIN IMMEDIATE (:func:`begin_immediate`), COMMIT on success, ROLLBACK on any error:
    the transaction of :func:`write` and of each :class:`ShortTransactions` piece."""
    begin_immediate(conn)
    try:
        yield
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def _after_writers(conn: sqlite3.Connection) -> None:
    """Wait until no :func:`write` is waiting or writing (bulk work, before each piece)."""
    fd = _queue(conn)
    if fd is not None:
        fcntl.flock(fd, fcntl.LOCK_EX)
        fcntl.flock(fd, fcntl.LOCK_UN)


class ShortTransactions:
    """Bulk writes cut into transactions of about ``target_s`` each, with a pause after each
    one at least as long as it held the write lock (and never shorter than the longest pause
    a waiting :func:`write` takes between tries), so writers waiting for the lock get it in
    between: an import never makes an answer wait more than a few milliseconds.

    :meth:`run` calls ``step(n)``, which writes at most ``n`` units (rows) inside the
    transaction and returns how many it wrote; ``n`` follows the time the last transaction
    of the same ``kind`` of work held the lock (copying rows inside SQLite and inserting
    them from Python go at very different speeds). Each piece first waits until no writer
    is waiting (the writers' queue, :func:`write`), and Python's garbage collection is off
    while it holds the lock. At most every :data:`CHECKPOINT_EVERY_S`, with the lock
    released, the bulk writer copies what it wrote from the log into the database file
    itself (a passive checkpoint, synced): left to SQLite's automatic checkpoint, that work
    and its syncs would fall to whichever writer commits next, an answer among them; after
    every piece, its syncs alone (hundreds a second) made the answers' own syncs wait.

    For staged work that nobody reads until one last transaction publishes it, use
    ``durable=False``: the pieces are then committed without waiting for a sync (the
    checkpoint syncs them, outside the lock); the last transaction
    (:func:`write`, after :meth:`close`) is synced as every other one.
    """

    MIN_PAUSE_S = 1.5 * LOCK_POLL_S[-1] + 0.0005
    CHECKPOINT_EVERY_S = 0.25

    def __init__(self, conn: sqlite3.Connection, *, target_s: float = 0.002,
                 first: int = 500, durable: bool = True) -> None:
        self.conn, self.target_s, self.first = conn, target_s, first
        self.sizes: dict[str, int] = {}
        self.durable, self.closed = durable, False
        self.checkpointed = 0.0
        self.autocheckpoint = int(conn.execute("PRAGMA wal_autocheckpoint").fetchone()[0])
        conn.execute("PRAGMA wal_autocheckpoint=0")
        if not durable:
            conn.execute("PRAGMA synchronous=NORMAL")

    def run(self, step: Callable[[int], int], kind: str = "") -> int:
        """One transaction of ``step``; the number of units it wrote."""
        size = self.sizes.get(kind, self.first)
        collecting = gc.isenabled()
        gc.disable()  # a full collection of a bulk writer's heap takes tens of milliseconds:
        try:  # it runs after the commit, never while the team waits for the lock
            _after_writers(self.conn)
            with _transaction(self.conn):
                t0 = time.perf_counter()
                done = step(size)
            held = time.perf_counter() - t0  # the commit included
        finally:
            if collecting:
                gc.enable()
        if done >= size:  # a full piece: aim the next one at the target time
            scale = self.target_s / max(held, 1e-4)
            self.sizes[kind] = int(min(max(size * min(max(scale, 0.5), 2.0), 50), 200_000))
        t1 = time.perf_counter()
        if t1 - self.checkpointed >= self.CHECKPOINT_EVERY_S:
            self.conn.execute("PRAGMA wal_checkpoint(PASSIVE)")
            self.checkpointed = time.perf_counter()
        time.sleep(max(held - (time.perf_counter() - t1), self.MIN_PAUSE_S))
        return done

    def feed(self, rows: Iterable[Any], write: Callable[[list[Any]], object],
             kind: str = "") -> int:
        """Write ``rows`` a piece per transaction (:meth:`run`); the number written. Each
        piece is taken from ``rows`` before its transaction begins, never inside it: making
        the rows (a Parquet batch decoded, a frame converted) may take far longer than
        writing them, and nobody should wait for that."""
        it = iter(rows)
        total = 0
        while True:
            piece = list(islice(it, self.sizes.get(kind, self.first)))
            if not piece:
                return total

            def step(_n: int, piece: list[Any] = piece) -> int:
                write(piece)
                return len(piece)

            total += self.run(step, kind)

    def execute(self, sql: str) -> None:
        """One statement (quick in itself: a CREATE or a DROP of an empty table) as one of
        these transactions."""
        def step(_n: int) -> int:
            self.conn.execute(sql)
            return 0

        self.run(step)

    def close(self) -> None:
        """Back to the connection's own settings (durable commits, automatic checkpoints)."""
        if not self.closed:
            self.conn.execute(f"PRAGMA wal_autocheckpoint={self.autocheckpoint}")
            self.conn.execute("PRAGMA synchronous=FULL")
            self.closed = True


def integrity_ok(conn: sqlite3.Connection) -> bool:
    """``PRAGMA integrity_check`` says ok (run before signing)."""
    status: object = conn.execute("PRAGMA integrity_check").fetchone()[0]
    return status == "ok"
