"""SQLite persistence of the log anchors: signed manifests that pin the audit-log head.

Every signature of a report appends a ``sign`` entry to the audit log and writes a manifest,
signed by the signer's key, whose ``provenance.audit_log_head`` is that entry's hash. The same
manifest bytes and signature are kept here, in the same transaction as the ``sign`` entry, so
the workspace can check its own history against heads that only a signer's key could have
pinned (:mod:`ctpat_audit.trust.anchoring` does the checking; this module is only SQL).
"""
from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass

from ctpat_audit.workspace.reference_store import meta_value
from ctpat_audit.workspace.schema import ANCHORED_FROM_KEY


@dataclass(frozen=True)
class Anchor:
    """One signed manifest: the log entry it pins (seq, hash), its session, its bytes."""

    anchor_id: int
    seq: int
    head: str
    session_id: str
    manifest: bytes
    signature: bytes


def insert_anchor(conn: sqlite3.Connection, *, seq: int, head: str, session_id: str,
                  manifest: bytes, signature: bytes) -> int:
    """Keep a signed manifest (inside the write transaction of its ``sign`` entry)."""
    cur = conn.execute("INSERT INTO log_anchors (seq, head, session_id, manifest, signature) "
                       "VALUES (?, ?, ?, ?, ?)", (seq, head, session_id, manifest, signature))
    return int(cur.lastrowid or 0)


def anchor_rows(conn: sqlite3.Connection) -> list[Anchor]:
    """Every anchor, in the order of the entries they pin."""
    rows = conn.execute("SELECT anchor_id, seq, head, session_id, manifest, signature "
                        "FROM log_anchors ORDER BY seq, anchor_id")
    return [Anchor(int(r[0]), int(r[1]), str(r[2]), str(r[3]), bytes(r[4]), bytes(r[5]))
            for r in rows]


def anchored_from(conn: sqlite3.Connection) -> int | None:
    """The first log entry from which every ``sign`` entry has an anchor; None when the
    ``meta`` key is missing or not a number (which the check reports)."""
    value = meta_value(conn, ANCHORED_FROM_KEY)
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def sign_entries(conn: sqlite3.Connection) -> list[tuple[int, str, str]]:
    """(seq, hash, session_id) of every ``sign`` entry of the log."""
    return [(int(r[0]), str(r[1]), str(r[2])) for r in conn.execute(
        "SELECT seq, hash, session_id FROM audit_log WHERE action = 'sign' ORDER BY seq")]


def entry_hashes(conn: sqlite3.Connection, seqs: list[int]) -> dict[int, str]:
    """seq -> hash of the log entries asked for that exist."""
    out: dict[int, str] = {}
    for i in range(0, len(seqs), 500):
        part = seqs[i:i + 500]
        out.update({int(r[0]): str(r[1]) for r in conn.execute(
            f"SELECT seq, hash FROM audit_log WHERE seq IN ({', '.join('?' * len(part))})",
            part)})
    return out


def logged_certificates(conn: sqlite3.Connection) -> set[str]:
    """Fingerprints of the certificates whose issue the log records (``issue_certificate``)."""
    out = set()
    for (value,) in conn.execute("SELECT new_value FROM audit_log "
                                 "WHERE action = 'issue_certificate'"):
        try:
            out.add(str(json.loads(value)["fingerprint"]))
        except (ValueError, KeyError, TypeError):
            continue
    return out
