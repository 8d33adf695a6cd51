"""Recipe 2: two processes change the same rows of one session at the same time.

Two spawned writers (``session_workers.race_two_writers``) save 1,000 changes each through
``Session.answer`` to the same 5 criteria at one facility, walking them in the same order,
a turn of whole answers (status and notes), then a turn of the notes alone, so every save
reads a row the other writer may just have changed. Each pauses a random 0-4 ms after a save
(as a person does between two fields); without it the writer holding SQLite's lock keeps
taking it and the log shows 2 switches of writer in 2,000 entries.

Read from the audit log in its order (``session_workers.check_race``):
``two_writer_switches``, consecutive entries by different writers (at least 500 of the
2,000), ``two_writer_same_row_switches`` those on the same row; ``two_writer_lost``, saves a
writer saw return that are not in the log, entries whose old value is not what the row held
(an update over a value it never saw) and rows that differ from the replay of the log;
``two_writer_chain_broken``, the hash chain or the SQLite file fails its check.
"""
from __future__ import annotations

from pathlib import Path

from session_workers import PAUSE_S, check_race, race_two_writers

from ctpat_audit.workspace import db
from ctpat_audit.workspace.audit import verify_audit_log

from . import Figures

N_EACH = 1000


def run(root: Path, quick: bool = False, seed: int = 0) -> Figures:
    """Quick mode is the full run (2 x 1,000 saves take a few seconds)."""
    ws, sid, outcome, exitcodes = race_two_writers(root, N_EACH)
    conn = db.connect(ws.db_path)
    try:
        got = check_race(conn, sid, outcome)
        ok = verify_audit_log(conn).ok and db.integrity_ok(conn)
    finally:
        conn.close()
    errors = got["errors"] + sum(1 for code in exitcodes if code != 0)
    return {"two_writer_answers": got["acknowledged"], "two_writer_entries": got["entries"],
            "two_writer_switches": got["switches"],
            "two_writer_same_row_switches": got["same_row_switches"],
            "two_writer_lost": got["lost"], "two_writer_errors": errors,
            "two_writer_chain_broken": 0 if ok else 1,
            "two_writer_pause_ms": PAUSE_S * 1000,
            "two_writer_error_examples": [e for _, _, sample, _ in outcome for e in sample][:5]}
