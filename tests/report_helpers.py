"""A writable sample workspace with submitted sample sessions, for the report tests.

The partners, people and answers are generated (invented) sample data.
"""
from __future__ import annotations

import datetime as dt
from pathlib import Path

from ctpat_audit.demo.sample_data import write_sample
from ctpat_audit.demo.sample_sessions import write_sample_sessions
from ctpat_audit.intake.importer import import_source
from ctpat_audit.workspace.reference import init_workspace

AS_OF = dt.date(2026, 11, 1)
HOSTILE = '<script>alert(1)</script><img src=x onerror=alert(2)> =HYPERLINK("http://evil") Ltd'


def sample_workspace_with_sessions(root: Path, validations: int = 2, self_assessments: int = 1,
                                   partners: int = 12):
    src = write_sample(root / "source", partners=partners, seed=5, as_of=AS_OF,
                       shipments_per_partner=60)
    ws = init_workspace(root / "ws")
    import_source(ws, src, progress=False)
    ids = write_sample_sessions(ws, validations, self_assessments, seed=5, as_of=AS_OF)
    return ws, ids


def set_legal_name(ws, account_id: str, name: str) -> None:
    conn = ws.connect()
    try:
        with conn:
            conn.execute("UPDATE partners SET legal_name = ? WHERE account_id = ?",
                         (name, account_id))
    finally:
        conn.close()
