"""Worker processes of test_concurrency.py (spawned: kept light, no pandas, no pytest).

Each function runs in a child process and talks to the test through a queue or a pipe.
"""
from __future__ import annotations

from ctpat_audit.session import resume_session

#: 1,000 criteria (categories 1-10 x 100) so every answer of a writer is a different row.
MANY = [(f"{c}.{i}", "Must" if i % 3 else "Should") for c in range(1, 11) for i in range(1, 101)]


def writer(ws_path: str, session_id: str, facility_id: str, start, results) -> None:
    """Answer every criterion once at one facility; report (committed, errors)."""
    errors: list[str] = []
    committed = 0
    with resume_session(ws_path, session_id, actor=f"spec-{facility_id}@cbp.example") as s:
        start.wait(60)
        for k, (cid, _) in enumerate(MANY):
            try:
                s.answer(cid, status=("meets", "does_not_meet", "not_verified")[k % 3],
                         notes=f"{facility_id} #{k}", facility_id=facility_id)
                committed += 1
            except Exception as exc:  # noqa: BLE001 - the test counts every failure
                errors.append(f"{cid}: {exc!r}")
    results.put((facility_id, committed, errors[:5], len(errors)))


def answer_until_killed(ws_path: str, session_id: str, worker: int, out) -> None:
    """Answer forever; after each answer() returns (committed), report it on the pipe."""
    with resume_session(ws_path, session_id, actor=f"w{worker}@cbp.example") as s:
        k = 0
        while True:
            cid = MANY[(worker * 97 + k) % len(MANY)][0]
            notes = f"w{worker} #{k}"
            s.answer(cid, status="meets" if k % 2 else "does_not_meet", notes=notes)
            out.send((cid, notes))
            k += 1
