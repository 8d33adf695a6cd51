"""Worker processes of test_concurrency.py (spawned: kept light, no pandas, no pytest).

Each function runs in a child process and talks to the test through a queue or a pipe.
"""
from __future__ import annotations

from ctpat_audit.sessions.session import resume_session

#: 1,000 criteria (categories 1-10 x 100) so every answer of a writer is a different row.
MANY = [(f"{c}.{i}", "Must" if i % 3 else "Should") for c in range(1, 11) for i in range(1, 101)]


def writer(ws_path: str, session_id: str, facility_id: str, start, results) -> None:
    """Answer every criterion once at one facility; report (committed, errors)."""
    errors: list[str] = []
    committed = 0
    with resume_session(ws_path, session_id, actor=f"spec-{facility_id}@cbp.example") as s:
        start.wait(60)
        for k, (cid, _) in enumerate(MANY):
            try:
                s.answer(cid, status=("meets", "does_not_meet", "not_verified")[k % 3],
                         notes=f"{facility_id} #{k}", facility_id=facility_id)
                committed += 1
            except Exception as exc:
                errors.append(f"{cid}: {exc!r}")
    results.put((facility_id, committed, errors[:5], len(errors)))


def answer_until_killed(ws_path: str, session_id: str, worker: int, out) -> None:
    """Answer forever; after each answer() returns (committed), report it on the pipe."""
    with resume_session(ws_path, session_id, actor=f"w{worker}@cbp.example") as s:
        k = 0
        while True:
            cid = MANY[(worker * 97 + k) % len(MANY)][0]
            notes = f"w{worker} #{k}"
            s.answer(cid, status="meets" if k % 2 else "does_not_meet", notes=notes)
            out.send((cid, notes))
            k += 1


def drain(recv, reported: list) -> None:
    """Append what a killed child acknowledged on its pipe before dying (a message cut off
    by the kill is not an acknowledgement)."""
    while True:
        try:
            if not recv.poll(0):
                return
            reported.append(recv.recv())
        except (EOFError, OSError, ValueError):
            return


def check_acknowledged(conn, session_id: str, reported: list):
    """After killed writers: (acknowledged answers missing from the audit log, the answer
    rows {criterion: notes}, the last audit entry per criterion {criterion: notes}); the two
    dicts must be equal."""
    import json

    logged, last = set(), {}
    for t, n in conn.execute("SELECT target, new_value FROM audit_log WHERE session_id = ? "
                             "AND action = 'answer' ORDER BY seq", (session_id,)):
        cid, notes = json.loads(t)["criterion_id"], json.loads(n)["notes"]
        logged.add((cid, notes))
        last[cid] = notes
    rows = dict(conn.execute("SELECT criterion_id, notes FROM answers WHERE session_id = ?",
                             (session_id,)))
    return [r for r in reported if r not in logged], rows, last


def race_two_writers(root, sites=("PLANT-1", "WH-2"), timeout: float = 300):
    """Two spawned :func:`writer` processes answer every criterion of ``MANY`` at once, each
    at its own facility, on one new session in a new workspace under ``root``.

    Returns (workspace, session id, one (facility, committed, error sample, error count) per
    writer, the writers' exit codes). Used by test_concurrency.py and stress/two_writers.py.
    """
    import multiprocessing as mp
    from pathlib import Path

    from session_helpers import ACCOUNT, FakeClock, make_workspace

    from ctpat_audit.sessions.session import open_session

    ctx = mp.get_context("spawn")
    ws = make_workspace(Path(root) / "ws")
    with open_session(ws, ACCOUNT, "validation", "in_person", "lead@cbp.example",
                      facilities=list(sites), criteria=MANY, catalogue_version="test",
                      clock=FakeClock()) as s:
        sid = s.id
    start, results = ctx.Event(), ctx.Queue()
    procs = [ctx.Process(target=writer, args=(str(ws.path), sid, f, start, results))
             for f in sites]
    for p in procs:
        p.start()
    start.set()
    outcome = [results.get(timeout=timeout) for _ in procs]
    for p in procs:
        p.join(60)
    return ws, sid, outcome, [p.exitcode for p in procs]
