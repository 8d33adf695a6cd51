"""Recipe 1: kill -9 a child that is answering criteria; no acknowledged answer is lost.

The child (``session_workers.answer_until_killed``) sends each answer's (criterion, notes) on a
pipe only after ``Session.answer`` returned, i.e. after the commit. The parent kills it after a
random number of acknowledgements plus a random sub-millisecond-to-10 ms delay (so the kill
lands at random moments of the next write), then checks: every acknowledged answer is in the
audit log, each answer row equals the last audit entry written for it, ``PRAGMA
integrity_check`` is ok after every round, and the audit chain verifies.
"""
from __future__ import annotations

import multiprocessing as mp
import os
import random
import signal
import time
from pathlib import Path

from session_helpers import ACCOUNT, make_workspace
from session_workers import MANY, answer_until_killed, check_acknowledged, drain

from ctpat_audit.sessions.session import open_session
from ctpat_audit.workspace import db
from ctpat_audit.workspace.audit import verify_audit_log

from . import Figures

ctx = mp.get_context("spawn")


def run(root: Path, quick: bool = False, seed: int = 20250602) -> Figures:
    kills_wanted = 8 if quick else 200
    parallel = 4
    ws = make_workspace(Path(root) / "ws")
    with open_session(ws, ACCOUNT, "validation", "in_person", "lead@cbp.example",
                      criteria=MANY, catalogue_version="test") as s:
        sid = s.id
    rng = random.Random(seed)
    reported: list[tuple[str, str]] = []
    kills = integrity_failures = 0
    while kills < kills_wanted:
        pipes, procs = [], []
        for w in range(min(parallel, kills_wanted - kills)):
            recv, send = ctx.Pipe(duplex=False)
            p = ctx.Process(target=answer_until_killed, args=(str(ws.path), sid, kills + w, send))
            p.start()
            send.close()
            pipes.append(recv)
            procs.append(p)
        for recv, p in zip(pipes, procs):
            target = rng.randint(1, 40)
            got = 0
            while got < target:
                if not recv.poll(60):
                    raise RuntimeError("writer stopped answering")
                reported.append(recv.recv())
                got += 1
            time.sleep(rng.random() * 0.01)  # a random moment inside the next answer
            os.kill(p.pid, signal.SIGKILL)
            kills += 1
        for recv, p in zip(pipes, procs):
            p.join(30)
            drain(recv, reported)
            recv.close()
        check = db.connect(ws.db_path)
        try:
            integrity_failures += 0 if db.integrity_ok(check) else 1
        finally:
            check.close()

    conn = db.connect(ws.db_path)
    try:
        missing, rows, last = check_acknowledged(conn, sid, reported)
        lost = len(missing)
        mismatched = sum(1 for k in set(rows) | set(last) if rows.get(k) != last.get(k))
        chain_ok = verify_audit_log(conn).ok
        integrity_failures += 0 if db.integrity_ok(conn) else 1
    finally:
        conn.close()
    return {"autosave_kills": kills, "autosave_lost": lost + mismatched,
            "autosave_acknowledged": len(reported),
            "autosave_integrity_failures": integrity_failures,
            "autosave_chain_broken": 0 if chain_ok else 1}
