"""Recipe 2: two processes answer 1,000 criteria each on one session at the same time.

Reuses ``session_workers.race_two_writers`` (each writer answers every criterion at its own facility).
Lost = answers a writer committed that are not rows in the database.
"""
from __future__ import annotations

from pathlib import Path

from session_workers import MANY, race_two_writers

from ctpat_audit.workspace import db
from ctpat_audit.workspace.audit import verify_audit_log

from . import Figures

SITES = ("PLANT-1", "WH-2")


def run(root: Path, quick: bool = False, seed: int = 0) -> Figures:
    """Quick mode still writes all 2 x 1,000 answers (it takes a few seconds)."""
    ws, sid, outcome, exitcodes = race_two_writers(root, SITES)
    errors = sum(n for _, _, _, n in outcome) + sum(1 for code in exitcodes if code != 0)
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
