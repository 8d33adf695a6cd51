"""Recipe 3: random mutations of signed reports and of the audit log; every one is detected.

Reports: two small signed reports A and B built like ``tests/signing_helpers.py`` does (a real
fpdf2 PDF signed by the specialist, A also countersigned by a supervisor). Each trial copies A,
applies one mutation (bit flip in any artifact, the manifest or its signature; truncation;
appended bytes; a file replaced by random bytes or deleted; a file added; a manifest field
edited; files transplanted from B) and runs ``verify_report``. A trial whose mutation leaves
every byte unchanged is redrawn, so each counted trial is a real change.

Audit log: an in-memory copy of the workspace database, the append-only triggers dropped (what
someone editing the file would do first), then one of edit / edit with recomputed hash /
delete / reorder / insert (before the head: an entry appended after it is indistinguishable from
a legitimate write, the chain has no secret) / truncate the tail; detected when
``verify_audit_log`` with the head pinned at signing time (``expected_head``) fails.

State tables: a copy of a workspace with signed, revised and open sessions (answers, notes,
methods, evidence, best practices); one random edit of a state table (a field of a row set to
another value, a row deleted, a row inserted) is detected when the record check that
``audit-verify`` runs with no option (:func:`ctpat_audit.trust.record.check_record`: the file,
the chain, its anchors, the certificates issued, and every state row against the replay of the
log) fails. ``record_edits_by_kind`` counts the edits tried per operation and table.

Chain rewrites: the same workspace, whose log is anchored by the signed manifests; the tail
cut at a random point, or an entry up to the last signature edited, deleted or inserted and
every hash after it recomputed (the state tables edited to match when the entry is an
answer); detected when the same record check fails (no pinned head given).
"""
from __future__ import annotations

import json
import logging
import random
import shutil
import sqlite3
from collections import Counter
from pathlib import Path

from signing_helpers import make_report, make_setup
from test_audit import _unguard

from ctpat_audit.sessions.session import resume_session
from ctpat_audit.trust.record import check_record
from ctpat_audit.trust.signing import MANIFEST, MANIFEST_SIG, report_files, sign_report
from ctpat_audit.trust.verify import verify_report
from ctpat_audit.workspace import db
from ctpat_audit.workspace.audit import GENESIS_HASH, entry_hash, verify_audit_log

from . import Figures

logging.getLogger("pyhanko").setLevel(logging.CRITICAL)  # damaged PDFs are the point here

REPORT_OPS = ("flip", "flip", "flip", "truncate", "append", "replace_random", "delete", "add",
              "manifest_edit", "transplant")
AUDIT_OPS = ("edit", "edit_rehash", "delete", "reorder", "insert", "truncate")
STATE_TABLES = ("answers", "answers", "answers", "evidence", "best_practices", "sessions",
                "session_criteria")
STATE_OPS = ("update", "update", "update", "delete", "insert")
#: edits counted on their own in ``record_edits_by_kind`` (the others per operation and table)
NAMED_EDITS = ("update:answers.status", "update:answers.notes", "update:answers.method",
               "update:sessions.status")
CHAIN_OPS = ("truncate", "edit_rehash", "delete_rehash", "insert_rehash", "answer_rehash")


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file()}


def _leaves(value, path=()):
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _leaves(v, (*path, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _leaves(v, (*path, i))
    else:
        yield path, value


def _edit_manifest(data: bytes, rng: random.Random) -> bytes:
    manifest = json.loads(data)
    path, old = rng.choice(list(_leaves(manifest)))
    target = manifest
    for k in path[:-1]:
        target = target[k]
    choices = [None, "", 0, 1, "x", "specialist", "approved", "0" * 64, "../../etc/passwd"]
    if isinstance(old, str) and old:
        i = rng.randrange(len(old))
        choices.append(old[:i] + chr((ord(old[i]) + 1) % 0x7F or 0x41) + old[i + 1:])
    if isinstance(old, int) and not isinstance(old, bool):
        choices.append(old + 1)
    target[path[-1]] = rng.choice(choices)
    return json.dumps(manifest, sort_keys=True, separators=(",", ":")).encode()


def _mutate_report(work: Path, other: Path, rng: random.Random) -> str:
    op = rng.choice(REPORT_OPS)
    names = report_files(work) + [MANIFEST, MANIFEST_SIG]
    name = rng.choice(names)
    path = work / name
    if op == "flip":
        data = bytearray(path.read_bytes())
        if data:
            data[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
        path.write_bytes(bytes(data))
    elif op == "truncate":
        data = path.read_bytes()
        path.write_bytes(data[:rng.randrange(len(data))] if data else b"")
    elif op == "append":
        with path.open("ab") as fh:
            fh.write(rng.randbytes(rng.randint(1, 64)))
    elif op == "replace_random":
        path.write_bytes(rng.randbytes(max(1, path.stat().st_size)))
    elif op == "delete":
        path.unlink()
    elif op == "add":
        where = rng.choice(["", "evidence/"])
        (work / where).mkdir(exist_ok=True)
        (work / f"{where}planted-{rng.randrange(10**6)}.txt").write_bytes(rng.randbytes(16))
    elif op == "manifest_edit":
        name = MANIFEST
        (work / MANIFEST).write_bytes(_edit_manifest((work / MANIFEST).read_bytes(), rng))
    else:  # transplant a subset of the signed files from the other report
        pool = ["report.pdf", MANIFEST, MANIFEST_SIG, "report.html", "report.xlsx"]
        picked = rng.sample(pool, rng.randint(1, len(pool)))
        for n in picked:
            shutil.copy2(other / n, work / n)
        name = "+".join(picked)
    return f"{op}:{name}"


def _audit_copy(src: sqlite3.Connection) -> sqlite3.Connection:
    mem = sqlite3.connect(":memory:")
    src.backup(mem)
    mem.row_factory = sqlite3.Row
    _unguard(mem)
    return mem


def _mutate_audit(conn: sqlite3.Connection, rng: random.Random) -> str:
    rows = [dict(r) for r in conn.execute("SELECT * FROM audit_log ORDER BY seq")]
    op = rng.choice(AUDIT_OPS)
    row = rng.choice(rows)
    cols = [c for c in rows[0] if c not in ("seq", "hash", "prev_hash")]
    if op in ("edit", "edit_rehash"):
        col = rng.choice(cols)
        new = dict(row)
        new[col] = (str(row[col]) if row[col] is not None else "") + rng.choice(["x", " ", "0"])
        sets = {col: new[col]}
        if op == "edit_rehash":
            sets["hash"] = entry_hash(new)
        conn.execute(f"UPDATE audit_log SET {', '.join(c + ' = ?' for c in sets)} "
                     "WHERE seq = ?", (*sets.values(), row["seq"]))
    elif op == "delete":
        conn.execute("DELETE FROM audit_log WHERE seq = ?", (row["seq"],))
    elif op == "reorder":
        a, b = rng.sample(rows, 2)
        movable = [c for c in rows[0] if c != "seq"]
        for src, dst in ((b, a["seq"]), (a, b["seq"])):
            conn.execute(f"UPDATE audit_log SET {', '.join(c + ' = ?' for c in movable)} "
                         "WHERE seq = ?", (*[src[c] for c in movable], dst))
    elif op == "insert":  # inside the log: an entry after the head is an ordinary append
        row = rng.choice(rows[:-1])
        at = row["seq"]
        conn.execute("UPDATE audit_log SET seq = -seq WHERE seq > ?", (at,))
        conn.execute("UPDATE audit_log SET seq = 1 - seq WHERE seq < 0")
        fake = {**row, "seq": at + 1, "actor": "intruder@example.com", "prev_hash": row["hash"]}
        fake["hash"] = entry_hash(fake)
        conn.execute(f"INSERT INTO audit_log ({', '.join(fake)}) VALUES "
                     f"({', '.join('?' for _ in fake)})", tuple(fake.values()))
    else:  # truncate the tail: a clean prefix, caught only against the pinned head
        k = rng.randint(1, min(5, len(rows)))
        conn.execute("DELETE FROM audit_log WHERE seq > ?", (rows[-1]["seq"] - k,))
    return op


def _table(conn: sqlite3.Connection, name: str) -> list[tuple]:
    return [tuple(r) for r in conn.execute(f"SELECT * FROM {name} ORDER BY rowid")]


def _mutate_state(conn: sqlite3.Connection, rng: random.Random) -> str:
    """One edit of a state table, as a person with sqlite3 would make it."""
    table = rng.choice(STATE_TABLES)
    rows = [dict(r) for r in conn.execute(f"SELECT rowid AS _rowid, * FROM {table}")]
    row = rng.choice(rows)
    cols = [c for c in row if c != "_rowid"]
    op = rng.choice(STATE_OPS)
    if op == "delete":
        conn.execute(f"DELETE FROM {table} WHERE rowid = ?", (row["_rowid"],))
        return f"{op}:{table}"
    col = rng.choice(cols)
    seen = sorted({r[col] for r in rows if r[col] is not None}, key=str)
    choices = [None, "", "meets", "x", 0, 1, *seen]
    if isinstance(row[col], int):
        choices.append(row[col] + 1)
    if isinstance(row[col], str) and row[col]:
        i = rng.randrange(len(row[col]))
        choices.append(row[col][:i] + chr((ord(row[col][i]) + 1) % 0x7F or 0x41) + row[col][i + 1:])
    value = rng.choice(choices)
    if op == "update":
        conn.execute(f"UPDATE {table} SET {col} = ? WHERE rowid = ?", (value, row["_rowid"]))
    else:  # a new row: a copy of one with one field changed (keys clash otherwise)
        new = {c: row[c] for c in cols if c not in ("evidence_id", "practice_id")}
        if col in new:
            new[col] = value
        conn.execute(f"INSERT INTO {table} ({', '.join(new)}) VALUES "
                     f"({', '.join('?' * len(new))})", tuple(new.values()))
    return f"{op}:{table}.{col}"


def _rehash(conn: sqlite3.Connection) -> None:
    prev = GENESIS_HASH
    for r in [dict(x) for x in conn.execute("SELECT * FROM audit_log ORDER BY seq")]:
        r["prev_hash"] = prev
        r["hash"] = entry_hash(r)
        conn.execute("UPDATE audit_log SET prev_hash = ?, hash = ? WHERE seq = ?",
                     (r["prev_hash"], r["hash"], r["seq"]))
        prev = r["hash"]


def _rewrite_chain(conn: sqlite3.Connection, rng: random.Random) -> str:
    """A truncated tail, or an entry up to the last signature changed and the chain re-hashed."""
    rows = [dict(r) for r in conn.execute("SELECT * FROM audit_log ORDER BY seq")]
    last_sign = max(r["seq"] for r in rows if r["action"] == "sign")
    op = rng.choice(CHAIN_OPS)
    if op == "truncate":
        cut = rng.randint(1, rows[-1]["seq"])
        conn.execute("DELETE FROM audit_log WHERE seq >= ?", (cut,))
        return f"{op}:{cut}"
    row = rng.choice([r for r in rows if r["seq"] <= last_sign])
    if op == "edit_rehash":
        col = rng.choice(["at", "actor", "action", "target", "old_value", "new_value"])
        conn.execute(f"UPDATE audit_log SET {col} = {col} || ? WHERE seq = ?",
                     (rng.choice(["x", " ", "0"]), row["seq"]))
    elif op == "delete_rehash":
        conn.execute("DELETE FROM audit_log WHERE seq = ?", (row["seq"],))
        conn.execute("UPDATE audit_log SET seq = seq - 1 WHERE seq > ?", (row["seq"],))
    elif op == "insert_rehash":
        conn.execute("UPDATE audit_log SET seq = -seq - 1 WHERE seq >= ?", (row["seq"],))
        conn.execute("UPDATE audit_log SET seq = -seq WHERE seq < 0")
        fake = {**row, "actor": "intruder@example.com"}
        conn.execute(f"INSERT INTO audit_log ({', '.join(fake)}) VALUES "
                     f"({', '.join('?' * len(fake))})", tuple(fake.values()))
    else:  # an answer before the signatures turned around, in the log and in the table alike
        answers = [r for r in rows if r["action"] == "answer" and r["seq"] < last_sign]
        row = rng.choice(answers)
        new = json.loads(row["new_value"])
        flipped = "meets" if new.get("status") != "meets" else "does_not_meet"
        new["status"] = flipped
        target = json.loads(row["target"])
        conn.execute("UPDATE audit_log SET new_value = ? WHERE seq = ?",
                     (json.dumps(new, sort_keys=True, separators=(",", ":")), row["seq"]))
        conn.execute("UPDATE answers SET status = ? WHERE session_id = ? AND criterion_id = ? "
                     "AND facility_id = ?", (flipped, row["session_id"],
                                             target["criterion_id"], target["facility_id"]))
    _rehash(conn)
    return op


def _record_ok(conn: sqlite3.Connection, trust: Path) -> bool:
    """What ``audit-verify`` checks, with no option (:func:`check_record`): the file, the
    chain, its anchors, the certificates issued, the state against the replay."""
    return check_record(conn, trust).ok


def _record_workspace(setup, a: Path) -> None:
    """Beyond the signed reports: a revision of report A's session with its own answers,
    evidence and a best practice, a session answered and signed, and an open session
    answered after every signature."""
    with resume_session(setup.ws, a.name) as s:
        rev = s.new_revision("sam.spec@cbp.example")
        rev.answer("6.1", status="does_not_meet", notes="seal not verified", method="interview")
        rev.attach("6.1", "seal.jpg", b"\xff\xd8 seal photo")
        rev.record_best_practice("Two-person seal check", criterion_id="6.1")
        rev.close()
    for sign in (True, False):
        folder = make_report(setup, evidence=False)
        with resume_session(setup.ws, folder.name) as s:
            for cid in ("1.1", "3.1", "9.1"):
                s.answer(cid, status="does_not_meet", notes=f"open item {cid}",
                         method="document_review")
        if sign:
            sign_report(folder, setup.ws, setup.signer("spec"))


def _state_and_chain(conn: sqlite3.Connection, trust: Path, rng: random.Random,
                     state_wanted: int, chain_wanted: int) -> Figures:
    assert _record_ok(conn, trust)
    undetected: list[str] = []
    state_tried = chain_tried = chain_missed = 0
    snapshot = {t: _table(conn, t) for t in set(STATE_TABLES)}
    edits: Counter[str] = Counter()
    while state_tried < state_wanted:
        mem = _audit_copy(conn)
        try:
            what = _mutate_state(mem, rng)
        except sqlite3.IntegrityError:
            mem.close()
            continue  # refused by a constraint: no change made
        if any(_table(mem, t) != rows for t, rows in snapshot.items()):
            state_tried += 1
            edits[what if what in NAMED_EDITS else what.split(".")[0]] += 1
            if _record_ok(mem, trust):
                undetected.append(f"state:{what}")
        mem.close()
    state_missed = len(undetected)
    log = [tuple(r) for r in conn.execute("SELECT * FROM audit_log ORDER BY seq")]
    while chain_tried < chain_wanted:
        mem = _audit_copy(conn)
        try:
            what = _rewrite_chain(mem, rng)
        except sqlite3.IntegrityError:
            mem.close()
            continue
        if [tuple(r) for r in mem.execute("SELECT * FROM audit_log ORDER BY seq")] != log:
            chain_tried += 1
            edits[f"chain {what.split(':')[0]}"] += 1
            if _record_ok(mem, trust):
                chain_missed += 1
                undetected.append(f"chain:{what}")
        mem.close()
    return {"state_edits_tried": state_tried, "state_edits_undetected": state_missed,
            "chain_rewrites_tried": chain_tried, "chain_rewrites_undetected": chain_missed,
            "record_edits_by_kind": dict(sorted(edits.items())),
            "record_undetected_examples": undetected[:10]}


def run(root: Path, quick: bool = False, seed: int = 7) -> Figures:
    trials_wanted = 20 if quick else 1000
    rng = random.Random(seed)
    root = Path(root)
    setup = make_setup(root / "setup")
    trust = setup.ws.path / "keys"
    a, b = make_report(setup), make_report(setup)
    sign_report(a, setup.ws, setup.signer("spec"))
    sign_report(a, setup.ws, setup.signer("sup"))
    sign_report(b, setup.ws, setup.signer("spec"))
    assert verify_report(a, trust).ok and verify_report(b, trust).ok
    conn = db.connect(setup.ws.db_path)
    pinned = verify_audit_log(conn).head_hash
    original = _snapshot(a)
    undetected: list[str] = []
    report_trials = audit_trials = 0
    n_reports = trials_wanted * 7 // 10
    work_root = root / "work"
    while report_trials < n_reports:
        work = work_root / a.parent.name / a.name
        shutil.rmtree(work_root, ignore_errors=True)
        shutil.copytree(a, work)
        what = _mutate_report(work, b, rng)
        if _snapshot(work) == original:
            continue  # no byte changed (e.g. a transplanted file identical in A and B)
        report_trials += 1
        if verify_report(work, trust).ok:
            undetected.append(what)
    while audit_trials < trials_wanted - n_reports:
        mem = _audit_copy(conn)
        before = [tuple(r) for r in mem.execute("SELECT * FROM audit_log ORDER BY seq")]
        what = _mutate_audit(mem, rng)
        after = [tuple(r) for r in mem.execute("SELECT * FROM audit_log ORDER BY seq")]
        if before != after:
            audit_trials += 1
            if verify_audit_log(mem, expected_head=pinned).ok:
                undetected.append(f"audit:{what}")
        mem.close()
    _record_workspace(setup, a)
    record = _state_and_chain(conn, trust, rng, 60 if quick else 1000, 20 if quick else 100)
    conn.close()
    shutil.rmtree(work_root, ignore_errors=True)
    return {"tamper_trials": report_trials + audit_trials, "tamper_undetected": len(undetected),
            "tamper_report_trials": report_trials, "tamper_audit_trials": audit_trials,
            "tamper_undetected_examples": undetected[:10], **record}
