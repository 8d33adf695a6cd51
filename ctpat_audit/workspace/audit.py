"""The append-only, hash-chained audit log of the workspace.

Every change to a session (an answer, an evidence file, a submission) appends one entry in
the SAME transaction as the change itself, so a change and its audit entry commit or roll back
together. Entry ``n`` carries ``prev_hash`` = the hash of entry ``n-1`` (64 zeros for the first)
and ``hash`` = SHA-256 over a canonical JSON of all its fields including ``prev_hash``. Editing,
deleting, reordering or inserting an entry breaks the chain at that point, which
:func:`verify_audit_log` finds. The chain has no secret: a truncated tail, or a chain
rewritten with every hash recomputed, is consistent with itself. What catches those is a head
pinned where only a key can put it: every signature pins its own entry's hash in a signed
manifest, kept in the workspace as an anchor (:mod:`ctpat_audit.workspace.anchors`, checked
by ``ctpat_audit.trust.anchoring``), and ``expected_head`` takes a head pinned elsewhere. The
state tables are a view of this log (:mod:`ctpat_audit.workspace.replay`).

SQLite triggers (defined with the table in :mod:`ctpat_audit.workspace.schema`) also refuse
UPDATE and DELETE on the table, so the toolkit itself cannot rewrite history by mistake; the
hash chain is what catches anyone who edits the file directly.
"""
from __future__ import annotations

import hashlib
import json
import sqlite3
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pandas is imported only where frames are built, so writers start fast
    import pandas as pd

GENESIS_HASH = "0" * 64

_FIELDS = ("seq", "at", "actor", "action", "session_id", "target", "old_value", "new_value",
           "prev_hash")


def canonical_json(value: Any) -> str:
    """JSON with sorted keys, no spaces, UTF-8 kept: one text per value, so hashes are stable."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False)


def entry_hash(entry: dict[str, Any]) -> str:
    """SHA-256 (hex) of the canonical JSON of an entry's fields, ``prev_hash`` included."""
    body = {k: entry[k] for k in _FIELDS}
    return hashlib.sha256(canonical_json(body).encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class AuditEntry:
    seq: int
    at: str
    actor: str
    action: str
    session_id: str | None
    target: str
    old_value: str
    new_value: str
    prev_hash: str
    hash: str


def head(conn: sqlite3.Connection) -> tuple[int, str]:
    """(seq, hash) of the last entry; (0, GENESIS_HASH) for an empty log."""
    row = conn.execute("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1").fetchone()
    return (0, GENESIS_HASH) if row is None else (int(row[0]), str(row[1]))


def append(conn: sqlite3.Connection, *, at: str, actor: str, action: str,
           session_id: str | None, target: dict[str, Any], old: Any, new: Any) -> AuditEntry:
    """Append one entry. Must run inside the caller's ``BEGIN IMMEDIATE`` transaction.

    The write lock taken by BEGIN IMMEDIATE is what makes reading the head and appending
    after it atomic, across threads and processes.
    """
    if not conn.in_transaction:
        raise RuntimeError("audit.append must run inside a write transaction (db.write)")
    seq, prev = head(conn)
    entry: dict[str, Any] = {
        "seq": seq + 1, "at": at, "actor": actor, "action": action, "session_id": session_id,
        "target": canonical_json(target), "old_value": canonical_json(old),
        "new_value": canonical_json(new), "prev_hash": prev,
    }
    entry["hash"] = entry_hash(entry)
    conn.execute(
        "INSERT INTO audit_log (seq, at, actor, action, session_id, target, old_value, "
        "new_value, prev_hash, hash) VALUES (?,?,?,?,?,?,?,?,?,?)",
        tuple(entry[k] for k in (*_FIELDS, "hash")),
    )
    return AuditEntry(**entry)


@dataclass(frozen=True)
class AuditProblem:
    seq: int
    code: str  # hash_mismatch, broken_link, seq_gap, head_missing, checkpoint_changed, integrity
    detail: str


@dataclass(frozen=True)
class AuditVerification:
    """The result of checking the chain end to end."""

    ok: bool
    entries: int
    head_hash: str  # hash of the last entry as stored (GENESIS_HASH when empty)
    problems: list[AuditProblem] = field(default_factory=list)
    head_seq: int = 0  # seq of the last entry (0 when empty)

    @property
    def first_bad_seq(self) -> int | None:
        return min((p.seq for p in self.problems), default=None)

    def __str__(self) -> str:
        if self.ok:
            return f"audit log OK: {self.entries} entries, head {self.head_hash}"
        first = self.problems[0]
        return (f"audit log BROKEN: {len(self.problems)} problem(s), first at seq {first.seq}: "
                f"{first.detail}")


def verify_audit_log(conn: sqlite3.Connection, *, expected_head: str | None = None,
                     start_after: tuple[int, str] | None = None) -> AuditVerification:
    """Check the whole chain: sequence numbers, links and every entry's hash.

    ``expected_head``: a head hash pinned earlier (in a signed report); the check then also
    fails if no entry carries that hash any more, i.e. the log was truncated or rewritten
    after it was pinned.

    ``start_after``: ``(seq, hash)`` of an entry this process verified earlier (a
    :class:`ChainCheckpoint`); only the entries after it are checked, after making sure that
    entry is still there with the same hash. ``entries`` then counts the checked entries.
    """
    problems: list[AuditProblem] = []
    prev_hash, prev_seq, count, seen_expected = GENESIS_HASH, 0, 0, expected_head is None
    where = ""
    if start_after is not None:
        prev_seq, prev_hash = int(start_after[0]), str(start_after[1])
        row = conn.execute("SELECT hash FROM audit_log WHERE seq = ?", (prev_seq,)).fetchone()
        if prev_seq and (row is None or str(row[0]) != prev_hash):
            problems.append(AuditProblem(prev_seq, "checkpoint_changed",
                                         f"seq {prev_seq}, verified earlier, is gone or has "
                                         "another hash (the log was rewritten)"))
        seen_expected = seen_expected or expected_head == prev_hash
        where = f" WHERE seq > {prev_seq}"
    cur = conn.execute(f"SELECT {', '.join(_FIELDS)}, hash FROM audit_log{where} ORDER BY seq")
    for row in cur:
        entry = dict(zip((*_FIELDS, "hash"), tuple(row)))
        seq = int(entry["seq"])
        count += 1
        if seq != prev_seq + 1:
            problems.append(AuditProblem(seq, "seq_gap",
                                         f"seq {seq} follows {prev_seq}: entries missing"))
        if entry["prev_hash"] != prev_hash:
            problems.append(AuditProblem(seq, "broken_link",
                                         f"seq {seq}: prev_hash does not match the entry before"
                                         " (entry deleted, inserted or moved)"))
        if entry_hash(entry) != entry["hash"]:
            problems.append(AuditProblem(seq, "hash_mismatch",
                                         f"seq {seq}: content does not match its hash (edited)"))
        if entry["hash"] == expected_head:
            seen_expected = True
        prev_hash, prev_seq = str(entry["hash"]), seq
    if not seen_expected:
        problems.append(AuditProblem(prev_seq, "head_missing",
                                     f"pinned head {expected_head} is not in the log "
                                     "(truncated or rewritten after it was pinned)"))
    return AuditVerification(ok=not problems, entries=count, head_hash=prev_hash,
                             problems=problems, head_seq=prev_seq)


class ChainCheckpoint:
    """Verify a workspace's log once in full, then only what was appended since.

    A batch worker signs hundreds of reports; checking the whole chain before each signature
    costs time that grows with the log (quadratic over a batch). One checkpoint per worker
    and workspace: the first :meth:`verify` runs ``PRAGMA integrity_check`` and the full chain
    check, later calls check that the last verified entry is unchanged and verify the new
    ones. Rewrites of entries *before* the checkpoint made while the worker runs are caught by
    the next full check (``ctpat-audit verify``, the next batch), not by this object.
    """

    def __init__(self) -> None:
        self.mark: tuple[int, str] | None = None

    def verify(self, conn: sqlite3.Connection) -> AuditVerification:
        from ctpat_audit.workspace.db import integrity_ok

        if self.mark is None and not integrity_ok(conn):
            return AuditVerification(False, 0, GENESIS_HASH, [AuditProblem(
                0, "integrity", "PRAGMA integrity_check failed: the database file is damaged")])
        result = verify_audit_log(conn, start_after=self.mark)
        self.mark = (result.head_seq, result.head_hash) if result.ok else None
        return result


def audit_entries(conn: sqlite3.Connection, session_id: str | None = None) -> pd.DataFrame:
    """Entries as a DataFrame (all, or one session's), oldest first; values stay JSON text."""
    import pandas as pd

    cols = [*_FIELDS, "hash"]
    sql = f"SELECT {', '.join(cols)} FROM audit_log"
    args: tuple[Any, ...] = ()
    if session_id is not None:
        sql += " WHERE session_id = ?"
        args = (session_id,)
    rows = [tuple(r) for r in conn.execute(sql + " ORDER BY seq", args)]
    frame = pd.DataFrame(rows, columns=cols)
    frame["seq"] = frame["seq"].astype("int64")
    for c in cols[1:]:
        frame[c] = frame[c].astype("str") if c != "session_id" else frame[c].astype("object")
    return frame
