"""SQLite persistence of Best Practices: practices beyond the criteria seen in a session.

Only SQL lives here; who may record one and when (an open session only) is decided by
:meth:`ctpat_audit.sessions.session.Session.record_best_practice`, which calls
:func:`insert_best_practice` inside its write transaction together with the audit entry.
"""
from __future__ import annotations

import sqlite3
from typing import Any

#: Columns of a best practice as the session and the report read them, oldest first.
BEST_PRACTICE_COLUMNS = ("practice_id", "session_id", "criterion_id", "text", "recorded_by",
                         "recorded_at")


def insert_best_practice(conn: sqlite3.Connection, row: dict[str, Any]) -> int:
    """Add a best practice (inside a write transaction); returns its practice_id."""
    cols = BEST_PRACTICE_COLUMNS[1:]
    cur = conn.execute(f"INSERT INTO best_practices ({', '.join(cols)}) VALUES "
                       f"({', '.join('?' * len(cols))})", tuple(row[c] for c in cols))
    return int(cur.lastrowid or 0)


def best_practice_rows(conn: sqlite3.Connection, session_id: str) -> list[dict[str, Any]]:
    """A session's best practices, in the order they were recorded."""
    rows = conn.execute(f"SELECT {', '.join(BEST_PRACTICE_COLUMNS)} FROM best_practices "
                        "WHERE session_id = ? ORDER BY practice_id", (session_id,))
    return [dict(zip(BEST_PRACTICE_COLUMNS, tuple(r))) for r in rows]
