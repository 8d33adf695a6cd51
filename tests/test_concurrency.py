"""Two writers at once lose nothing; a writer killed mid-answer loses nothing it reported.

Real processes (multiprocessing, spawn) on one real workspace file.
"""
from __future__ import annotations

import multiprocessing as mp
import os
import random
import signal

import pytest
from session_helpers import ACCOUNT, make_workspace
from session_workers import (
    MANY,
    SHARED,
    answer_until_killed,
    check_acknowledged,
    check_race,
    drain,
    race_two_writers,
)

from ctpat_audit.sessions.session import open_session, resume_session
from ctpat_audit.workspace import db
from ctpat_audit.workspace.audit import verify_audit_log

N_SAVES = 300  # per writer (stress/two_writers.py runs 1,000 each)

ctx = mp.get_context("spawn")


def test_two_writers_on_the_same_rows_lose_nothing(tmp_path):
    ws, sid, outcome, exitcodes = race_two_writers(tmp_path, N_SAVES, timeout=120)
    assert exitcodes == [0, 0]
    for actor, acknowledged, sample, n_errors in outcome:
        assert n_errors == 0, sample
        assert len(acknowledged) == N_SAVES, actor

    conn = db.connect(ws.db_path)
    try:
        got = check_race(conn, sid, outcome)
        assert got["entries"] == 2 * N_SAVES and got["lost"] == 0, got
        assert got["same_row_switches"] > 0, got  # they did change the same row in turn
        phantom = ("spec-c@cbp.example", [(SHARED[0][0], "never saved")], [], 0)
        assert check_race(conn, sid, [*outcome, phantom])["lost"] == 1
        result = verify_audit_log(conn)
        assert result.ok, str(result)
        assert result.entries == 2 * N_SAVES + 1
        assert db.integrity_ok(conn)
        rows = dict(conn.execute("SELECT criterion_id, notes FROM answers "
                                 "WHERE session_id = ?", (sid,)))
    finally:
        conn.close()
    assert len(rows) == len(SHARED)
    with resume_session(ws.path, sid) as s:
        assert s.progress().answered == len(SHARED)


def test_killed_writers_lose_nothing_they_reported(tmp_path):
    ws = make_workspace(tmp_path / "ws")
    with open_session(ws, ACCOUNT, "validation", "in_person", "lead@cbp.example",
                      criteria=MANY, catalogue_version="test") as s:
        sid = s.id
    rng = random.Random(20250602)
    reported: list[tuple[str, str]] = []
    kills, parallel, rounds = 0, 4, 5
    for _ in range(rounds):
        pipes, procs = [], []
        for w in range(parallel):
            recv, send = ctx.Pipe(duplex=False)
            p = ctx.Process(target=answer_until_killed,
                            args=(str(ws.path), sid, kills + w, send))
            p.start()
            send.close()
            pipes.append(recv)
            procs.append(p)
        for recv, p in zip(pipes, procs):
            target = rng.randint(3, 60)  # kill after a random number of commits
            got = 0
            while got < target:
                assert recv.poll(60), "writer stopped answering"
                reported.append(recv.recv())
                got += 1
            os.kill(p.pid, signal.SIGKILL)
            kills += 1
        for recv, p in zip(pipes, procs):
            p.join(30)
            assert p.exitcode == -signal.SIGKILL
            drain(recv, reported)  # what it reported before dying
        check = db.connect(ws.db_path)
        assert db.integrity_ok(check)
        check.close()
    assert kills == 20

    conn = db.connect(ws.db_path)
    try:
        missing, rows, last = check_acknowledged(conn, sid, reported)
        assert not missing, missing[:5]
        assert rows == last  # every answer row equals the last audit entry written for it
        assert verify_audit_log(conn).ok
    finally:
        conn.close()


@pytest.fixture(autouse=True)
def _no_leftover_children():
    yield
    for child in mp.active_children():  # only processes this test module started
        child.kill()
