"""Worker processes of test_concurrency.py (spawned: kept light, no pandas, no pytest).

Each function runs in a child process and talks to the test through a queue or a pipe.
"""
from __future__ import annotations

from ctpat_audit.sessions.session import resume_session

#: 1,000 criteria (categories 1-10 x 100) so every answer of a writer is a different row.
MANY = [(f"{c}.{i}", "Must" if i % 3 else "Should") for c in range(1, 11) for i in range(1, 101)]


#: the rows both writers of :func:`race_two_writers` change: 5 criteria at one facility
SHARED = MANY[:5]
SHARED_FACILITY = "PLANT-1"
#: a writer pauses a random 0 to PAUSE_S seconds after each save, as a person does between
#: two fields (if far quicker). Without it, SQLite's busy wait (it backs off 1, 2, 5, 10 ...
#: ms) lets the writer holding the lock take it again and again: the other waits out the
#: whole run (2 switches of writer in 2,000 log entries).
PAUSE_S = 0.004


def writer(ws_path: str, session_id: str, actor: str, n: int, seed: int, start,
           results) -> None:
    """Save ``n`` changes to the :data:`SHARED` rows, turn after turn in their order, a
    turn of whole answers (status and notes) then one of the notes alone; report every save
    that returned."""
    import random
    import time

    rng = random.Random(seed)
    acknowledged: list[tuple[str, str]] = []
    errors: list[str] = []
    n_errors = 0
    with resume_session(ws_path, session_id, actor=actor) as s:
        start.wait(60)
        for k in range(n):
            turn = k // len(SHARED)  # every row once per turn
            cid, notes = SHARED[k % len(SHARED)][0], f"{actor} #{k}"
            fields = {"notes": notes} if turn % 2 else \
                {"status": ("meets", "does_not_meet", "not_verified")[turn % 3], "notes": notes}
            try:
                s.answer(cid, facility_id=SHARED_FACILITY, **fields)
                acknowledged.append((cid, notes))
            except Exception as exc:
                n_errors += 1
                errors.append(f"{cid}: {exc!r}")
            time.sleep(rng.uniform(0, PAUSE_S))
    results.put((actor, acknowledged, errors[:5], n_errors))


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


def race_two_writers(root, n: int = 1000, timeout: float = 300):
    """Two spawned :func:`writer` processes save ``n`` changes each to the same rows of one
    new session in a new workspace under ``root``, at the same time.

    Returns (workspace, session id, one (actor, acknowledged saves, error sample, error
    count) per writer, the writers' exit codes). Used by test_concurrency.py and
    stress/two_writers.py; :func:`check_race` reads the outcome against the log.
    """
    import multiprocessing as mp
    from pathlib import Path

    from session_helpers import ACCOUNT, make_workspace

    from ctpat_audit.sessions.session import open_session

    ctx = mp.get_context("spawn")
    ws = make_workspace(Path(root) / "ws")
    with open_session(ws, ACCOUNT, "validation", "in_person", "lead@cbp.example",
                      facilities=[SHARED_FACILITY], criteria=SHARED,
                      catalogue_version="test") as s:
        sid = s.id
    start, results = ctx.Event(), ctx.Queue()
    procs = [ctx.Process(target=writer, args=(str(ws.path), sid, actor, n, seed, start,
                                              results))
             for seed, actor in enumerate(("spec-a@cbp.example", "spec-b@cbp.example"))]
    for p in procs:
        p.start()
    start.set()
    outcome = [results.get(timeout=timeout) for _ in procs]
    for p in procs:
        p.join(60)
    return ws, sid, outcome, [p.exitcode for p in procs]


def check_race(conn, session_id: str, outcome) -> dict[str, int]:
    """What the log shows of a :func:`race_two_writers` run:

    ``switches``: consecutive answer entries by different writers, and ``same_row_switches``
    of them on the same row; ``lost``: saves a writer saw return that are not in the log as
    that writer's, plus entries whose old value is not the new value of the row's entry before
    (a change made over a value it never saw), plus rows that differ from the log's replay.
    """
    import json
    from itertools import pairwise

    from ctpat_audit.workspace.replay import differences

    entries = [(actor, json.loads(target)["criterion_id"], json.loads(old) if old else None,
                json.loads(new))
               for actor, target, old, new in conn.execute(
                   "SELECT actor, target, old_value, new_value FROM audit_log WHERE "
                   "session_id = ? AND action = 'answer' ORDER BY seq", (session_id,))]
    pairs = list(pairwise(entries))
    switches = sum(1 for a, b in pairs if a[0] != b[0])
    same_row = sum(1 for a, b in pairs if a[0] != b[0] and a[1] == b[1])
    logged = {(actor, cid, new["notes"]) for actor, cid, _, new in entries}
    missing = sum(1 for actor, acked, _, _ in outcome for cid, notes in acked
                  if (actor, cid, notes) not in logged)
    last: dict[str, dict | None] = {}
    overwritten = 0
    for _, cid, old, new in entries:
        overwritten += 0 if old == last.get(cid) else 1
        last[cid] = new
    return {"entries": len(entries), "switches": switches, "same_row_switches": same_row,
            "lost": missing + overwritten + len(differences(conn, [session_id])),
            "acknowledged": sum(len(acked) for _, acked, _, _ in outcome),
            "errors": sum(n for _, _, _, n in outcome)}
