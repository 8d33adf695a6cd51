"""A tiny real workspace for the session/store/audit tests (one partner, three facilities).

Rows go straight into the workspace's reference tables: the tests here are about sessions,
not intake. Partner data are invented for tests.
"""
from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from ctpat_audit.workspace import db
from ctpat_audit.workspace.reference import Workspace, init_workspace

ACCOUNT = "0012345"
OFFICER = "ana.officer@example.com"
USER = "bo.user@example.com"
FACILITIES = ("PLANT-1", "WH-2", "DC-3")
#: (criterion id, level) pairs for sessions opened without a catalogue (labelled "test").
CRITERIA = [("1.1", "Should"), ("3.1", "Must"), ("6.1", "Must"), ("6.2", "Must"),
            ("9.1", "Should"), ("10.1", "Must")]


def make_workspace(path: Path) -> Workspace:
    ws = init_workspace(path)
    conn = db.connect(ws.db_path)
    try:
        with db.write(conn):
            conn.execute("INSERT INTO partners (account_id, legal_name, status, "
                         "profile_anniversary) VALUES (?, 'Test Imports LLC', 'certified', "
                         "'2025-03-01')", (ACCOUNT,))
            conn.execute("INSERT INTO partners (account_id, legal_name, status, "
                         "profile_anniversary) VALUES ('0099999', 'Other Co', 'certified', "
                         "'2025-03-01')")
            conn.execute("INSERT INTO entities VALUES (?, 'importer')", (ACCOUNT,))
            for fid, kind in zip(FACILITIES, ("plant", "warehouse", "distribution_center")):
                conn.execute("INSERT INTO facilities (account_id, facility_id, name, kind, "
                             "country, city) VALUES (?, ?, ?, ?, 'MX', 'Monterrey')",
                             (ACCOUNT, fid, fid.title(), kind))
            conn.executemany(
                "INSERT INTO contacts (account_id, name, email, role, is_primary) "
                "VALUES (?, ?, ?, ?, ?)",
                [(ACCOUNT, "Ana Officer", OFFICER, "Company Officer", 1),
                 (ACCOUNT, "Bo User", USER, "User", 0),
                 ("0099999", "Cy Other", "cy@other.example", "Company Officer", 1)])
    finally:
        conn.close()
    return ws


class FakeClock:
    """A clock that ticks one second per call, from a fixed UTC start."""

    def __init__(self, start: datetime = datetime(2025, 6, 2, 9, 0, tzinfo=UTC)) -> None:
        self.now = start

    def __call__(self) -> datetime:
        self.now += timedelta(seconds=1)
        return self.now
