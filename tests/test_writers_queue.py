"""The writers' queue: an answer waiting for the write lock is never overtaken by the next piece
of bulk work (an import), and bulk work pays for its own collection and checkpoints."""
from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

from ctpat_audit.workspace import db


def _table(path: Path) -> None:
    conn = db.connect(path)
    conn.execute("CREATE TABLE t (seq INTEGER PRIMARY KEY AUTOINCREMENT, who TEXT)")
    conn.close()


def test_a_waiting_writer_goes_before_the_next_bulk_piece(tmp_path):
    path = tmp_path / "ctpat.sqlite"
    _table(path)
    bulk = db.connect(path)
    pace = db.ShortTransactions(bulk, durable=False)
    holder = db.connect(path)
    db.begin_immediate(holder)  # someone holds the lock (a bulk piece in flight)
    waiting = threading.Event()

    def answer() -> None:
        conn = db.connect(path)
        waiting.set()
        with db.write(conn):  # queues, then polls for the lock
            conn.execute("INSERT INTO t (who) VALUES ('answer')")
        conn.close()

    writer = threading.Thread(target=answer)
    writer.start()
    waiting.wait(5)
    time.sleep(0.2)  # the writer is in the queue, polling
    holder.execute("COMMIT")

    def piece(n: int) -> int:
        bulk.execute("INSERT INTO t (who) VALUES ('bulk')")
        return 1

    pace.run(piece, "bulk")  # the lock is free now, but a writer is waiting: it goes first
    writer.join(5)
    pace.close()
    order = [r[0] for r in bulk.execute("SELECT who FROM t ORDER BY seq")]
    assert order == ["answer", "bulk"]
    assert (tmp_path / ("ctpat.sqlite" + db.QUEUE_SUFFIX)).is_file()
    for c in (bulk, holder):
        c.close()


def test_a_connection_that_cannot_write_makes_no_queue_file(tmp_path):
    path = tmp_path / "ctpat.sqlite"
    _table(path)
    ro = db.connect(path, readonly=True)
    try:
        with db.write(ro):
            ro.execute("INSERT INTO t (who) VALUES ('x')")
    except sqlite3.OperationalError as exc:
        assert "readonly" in str(exc)
    else:
        raise AssertionError("a read-only connection wrote")
    ro.close()
    assert not (tmp_path / ("ctpat.sqlite" + db.QUEUE_SUFFIX)).exists()


def test_a_workspace_made_again_at_the_same_path_gets_a_new_queue(tmp_path):
    path = tmp_path / "ctpat.sqlite"
    _table(path)
    conn = db.connect(path)
    with db.write(conn):
        conn.execute("INSERT INTO t (who) VALUES ('a')")
    conn.close()
    for f in tmp_path.iterdir():
        f.unlink()
    _table(path)
    conn = db.connect(path)
    with db.write(conn):
        conn.execute("INSERT INTO t (who) VALUES ('b')")
    conn.close()
    queue = tmp_path / ("ctpat.sqlite" + db.QUEUE_SUFFIX)
    assert queue.is_file()  # made again, and the one this thread now locks
    assert db._queues[next(k for k in db._queues if k[2] == str(path))][1] == queue.stat().st_ino
