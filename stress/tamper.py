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
"""
from __future__ import annotations

import json
import logging
import random
import shutil
import sqlite3
from pathlib import Path

from signing_helpers import make_report, make_setup
from test_audit import _unguard

from ctpat_audit.trust.signing import MANIFEST, MANIFEST_SIG, report_files, sign_report
from ctpat_audit.trust.verify import verify_report
from ctpat_audit.workspace import db
from ctpat_audit.workspace.audit import entry_hash, verify_audit_log

from . import Figures

logging.getLogger("pyhanko").setLevel(logging.CRITICAL)  # damaged PDFs are the point here

REPORT_OPS = ("flip", "flip", "flip", "truncate", "append", "replace_random", "delete", "add",
              "manifest_edit", "transplant")
AUDIT_OPS = ("edit", "edit_rehash", "delete", "reorder", "insert", "truncate")


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
    conn.close()
    shutil.rmtree(work_root, ignore_errors=True)
    return {"tamper_trials": report_trials + audit_trials, "tamper_undetected": len(undetected),
            "tamper_report_trials": report_trials, "tamper_audit_trials": audit_trials,
            "tamper_undetected_examples": undetected[:10]}
