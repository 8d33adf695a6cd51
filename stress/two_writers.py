"""Recipe 2: two processes answer 1,000 criteria each on one session at the same time.

Reuses ``session_workers.writer`` (each writer answers every criterion at its own facility).
Lost = answers a writer committed that are not rows in the database.
"""
from __future__ import annotations

import multiprocessing as mp
from pathlib import Path

from . import Figures  # noqa: F401  (puts tests/ on sys.path)
from session_helpers import ACCOUNT, FakeClock, make_workspace
from session_workers import MANY, writer

from ctpat_audit import db
from ctpat_audit.audit import verify_audit_log
from ctpat_audit.session import open_session

SITES = ("PLANT-1", "WH-2")
ctx = mp.get_context("spawn")


def run(root: Path, quick: bool = False, seed: int = 0) -> Figures:
    """Quick mode still writes all 2 x 1,000 answers (it takes a few seconds)."""
    ws = make_workspace(Path(root) / "ws")
    with open_session(ws, ACCOUNT, "validation", "in_person", "lead@cbp.example",
                      facilities=list(SITES), criteria=MANY, catalogue_version="test",
                      clock=FakeClock()) as s:
        sid = s.id
    start, results = ctx.Event(), ctx.Queue()
    procs = [ctx.Process(target=writer, args=(str(ws.path), sid, f, start, results))
             for f in SITES]
    for p in procs:
        p.start()
    start.set()
    outcome = [results.get(timeout=300) for _ in procs]
    for p in procs:
        p.join(60)
    errors = sum(n for _, _, _, n in outcome) + sum(1 for p in procs if p.exitcode != 0)
    committed = {f: c for f, c, _, _ in outcome}
    conn = db.connect(ws.db_path)
    try:
        per_site = dict(conn.execute("SELECT facility_id, count(*) FROM answers "
                                     "WHERE session_id = ? GROUP BY facility_id", (sid,)))
        ok = verify_audit_log(conn).ok and db.integrity_ok(conn)
    finally:
        conn.close()
    lost = sum(max(0, committed.get(f, 0) - per_site.get(f, 0)) for f in SITES)
    lost += sum(len(MANY) - committed.get(f, 0) for f in SITES)  # answers never committed
    return {"two_writer_answers": sum(committed.values()), "two_writer_lost": lost,
            "two_writer_errors": errors, "two_writer_chain_broken": 0 if ok else 1}
