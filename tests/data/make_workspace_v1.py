"""Regenerate ``tests/data/workspace-v1/``: a small workspace written by release a397334.

The migration tests open a copy of this folder with the current code, so it must be made by
the code that wrote schema version 1 (commit ``a397334``, before the sub-packages), never by
the current code. Run from the repository root::

    .venv/bin/python tests/data/make_workspace_v1.py

The script checks out ``a397334`` into a temporary git worktree, runs itself again with this
interpreter and ``PYTHONPATH`` pointing at that worktree (it checks that ``ctpat_audit`` is
imported from there), writes the workspace into ``tests/data/workspace-v1/`` and removes the
worktree. What the folder holds:

* 5 sample partners (``write_sample``, seed 5, as of 2026-11-01, about 40 shipments each);
* one open virtual validation of the first partner: three answers (one with an evidence
  file) and one best practice;
* one submitted self-assessment of the first partner with a Company Officer: two answers.

Clocks are fixed, so the sessions' timestamps are the same on every run (session ids are
random). The SQLite database is left without ``-wal``/``-shm`` files (every connection is
closed, the last one checkpoints the log).
"""
from __future__ import annotations

import datetime as dt
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

RELEASE = "a397334"
HERE = Path(__file__).resolve().parent
TARGET = HERE / "workspace-v1"
AS_OF = dt.date(2026, 11, 1)
SPECIALIST = "fixture.specialist@cbp.example"


def build(out: Path) -> None:
    """Write the workspace with the release's API (runs under PYTHONPATH=<release worktree>)."""
    import ctpat_audit
    from ctpat_audit.findings import record_best_practice
    from ctpat_audit.intake import import_source
    from ctpat_audit.sample import write_sample
    from ctpat_audit.session import open_session
    from ctpat_audit.workspace import init_workspace

    release = Path(os.environ["CTPAT_RELEASE_TREE"]).resolve()
    if release not in Path(ctpat_audit.__file__).resolve().parents:
        raise SystemExit(f"ctpat_audit comes from {ctpat_audit.__file__}, not from {release}")
    with tempfile.TemporaryDirectory() as tmp:
        source = write_sample(Path(tmp) / "source", partners=5, seed=5, as_of=AS_OF,
                              shipments_per_partner=40)
        ws = init_workspace(out)
        import_source(ws, source, progress=False,
                      clock=lambda: dt.datetime(2026, 10, 1, 8, 0, tzinfo=dt.UTC))
    partners = ws.partners()
    contacts = ws.table("contacts")
    account = str(partners["account_id"].sort_values().iloc[0])
    at = dt.datetime(2026, 10, 5, 9, 0, tzinfo=dt.UTC)
    with open_session(ws, account, "validation", "virtual", SPECIALIST,
                      clock=lambda: at) as s:
        first, second, third = (c.criterion_id for c in s.criteria[:3])
        s.answer(first, status="meets", method="document_review", notes="Policy seen.")
        s.answer(second, status="does_not_meet", method="interview",
                 notes="Staff could not describe the procedure.")
        s.answer(third, status="not_verified", method="live_video")
        s.attach(second, "interview-notes.txt", b"Interview notes (fixture).\n")
        record_best_practice(ws, s.id, "Quarterly unannounced walk-through by senior managers.",
                             actor=SPECIALIST, criterion_id=first, at=at)
    officers = contacts[contacts["role"] == "Company Officer"].sort_values(["account_id",
                                                                             "email"])
    officer_row = officers.iloc[0]
    sa_at = dt.datetime(2026, 9, 20, 14, 0, tzinfo=dt.UTC)
    with open_session(ws, str(officer_row["account_id"]), "self_assessment", None,
                      str(officer_row["email"]), clock=lambda: sa_at) as s:
        first, second = (c.criterion_id for c in s.criteria[:2])
        s.answer(first, status="meets", notes="We do this.")
        s.answer(second, status="does_not_meet", notes="Not yet.")
        s.submit(str(officer_row["email"]))


def main() -> None:
    repo = HERE.parent.parent
    tree = Path(tempfile.mkdtemp(prefix="release-a397-")) / "tree"
    subprocess.run(["git", "-C", str(repo), "worktree", "add", "--detach", str(tree), RELEASE],
                   check=True)
    try:
        shutil.rmtree(TARGET, ignore_errors=True)
        env = {**os.environ, "PYTHONPATH": str(tree), "CTPAT_RELEASE_TREE": str(tree)}
        subprocess.run([sys.executable, __file__, "--build", str(TARGET)], check=True, env=env,
                       cwd=tree)
    finally:
        subprocess.run(["git", "-C", str(repo), "worktree", "remove", "--force", str(tree)],
                       check=True)
        shutil.rmtree(tree.parent, ignore_errors=True)
    left = [p.name for p in TARGET.iterdir() if p.name.endswith(("-wal", "-shm"))]
    if left:
        raise SystemExit(f"the database was not closed cleanly: {left}")
    size = sum(p.stat().st_size for p in TARGET.rglob("*") if p.is_file())
    print(f"wrote {TARGET} ({size:,} bytes)")


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--build":
        build(Path(sys.argv[2]))
    else:
        main()
