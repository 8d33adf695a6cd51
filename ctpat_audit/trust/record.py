"""Check a workspace's whole record: the chain, its anchors, and the state against its replay.

What ``ctpat-audit audit-verify`` runs. Three checks, each needed for the others to mean
something:

1. the hash chain of the audit log (:func:`~ctpat_audit.workspace.audit.verify_audit_log`):
   no entry edited, removed, inserted or moved without the hashes after it being recomputed;
2. its anchors (:func:`~ctpat_audit.trust.anchoring.anchor_problems`): every head a signer's
   key pinned is still in the log, so a truncated or re-hashed history is found with no
   option to give; and every certificate the CA issued is in the log;
3. the state tables (:func:`~ctpat_audit.workspace.replay.differences`): every row equals
   the replay of the log, field by field.
"""
from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ctpat_audit.trust.anchoring import anchor_problems, unlogged_certificates
from ctpat_audit.workspace import audit
from ctpat_audit.workspace.db import integrity_ok
from ctpat_audit.workspace.reference import as_workspace
from ctpat_audit.workspace.replay import StateDifference, differences

__all__ = ["RecordCheck", "check_record", "verify_record"]


@dataclass
class RecordCheck:
    """The result of :func:`verify_record`; ``ok`` only when nothing was found."""

    chain: audit.AuditVerification
    anchors: list[tuple[int, str]] = field(default_factory=list)
    state: list[StateDifference] = field(default_factory=list)
    anchored: int = 0
    damaged: bool = False

    @property
    def ok(self) -> bool:
        return self.chain.ok and not self.anchors and not self.state and not self.damaged

    def lines(self, limit: int = 50) -> list[str]:
        """The report: a headline, then one line per problem (up to ``limit`` of each kind)."""
        if self.ok:
            return [f"record OK: {self.chain.entries} audit-log entries, head "
                    f"{self.chain.head_hash}; {self.anchored} signed anchor(s) hold; every "
                    "state row equals its replay"]
        out = [f"record BROKEN: {len(self.chain.problems)} chain problem(s), "
               f"{len(self.anchors)} anchor problem(s), {len(self.state)} state "
               "difference(s) from the audit log"]
        if self.damaged:
            out.append("  database: PRAGMA integrity_check failed: the file is damaged")
        out += [f"  chain, seq {p.seq}: {p.code}: {p.detail}" for p in self.chain.problems[:limit]]
        out += [f"  anchor, seq {seq}: {why}" for seq, why in self.anchors[:limit]]
        out += [f"  state: {d}" for d in self.state[:limit]]
        return out


def verify_record(ws: Any, *, trust: str | Path | None = None,
                  expected_head: str | None = None) -> RecordCheck:
    """Check the workspace's record (see module doc). ``trust``: the CA the anchors must
    chain to (default ``WORKSPACE/keys``; give a copy kept elsewhere to guard against a
    replaced one); ``expected_head``: a head hash pinned elsewhere that must be in the log."""
    workspace = as_workspace(ws)
    conn = workspace.connect(readonly=True)
    try:
        return check_record(conn, trust or workspace.path / "keys", expected_head=expected_head)
    finally:
        conn.close()


def check_record(conn: sqlite3.Connection, trust: str | Path, *,
                 expected_head: str | None = None) -> RecordCheck:
    """:func:`verify_record` on an open connection to a workspace database, with the CA
    folder (or copy of ``ca.pem``) ``trust``."""
    damaged = not integrity_ok(conn)
    chain = audit.verify_audit_log(conn, expected_head=expected_head)
    found = anchor_problems(conn, trust) + unlogged_certificates(conn, trust)
    count = conn.execute("SELECT COUNT(*) FROM log_anchors").fetchone()[0]
    state = differences(conn)
    return RecordCheck(chain, found, state, int(count) - len({s for s, _ in found}), damaged)
