"""Recipe 6: hostile ids as account, session and file names, and papermill parameters.

10,000 generated ids (``..``, slashes and backslashes, NUL, percent-encoding, Unicode
lookalikes of ``.`` and ``/``, reserved device names, very long names) go into:
``open_session`` (account id), ``resume_session`` / ``validate_session_id`` (session id),
``Session.attach`` (evidence file name), ``evidence.evidence_path`` (digest) and
``reports.publish.report_folder`` (account and session as folder names; a file is then written where it
points). Each must be refused with a ``CtpatError`` or contained: ``escaped_paths`` counts files
that appeared anywhere under the temporary root outside the workspace and the output folder
(the whole tree is snapshotted before and after, with the working directory inside it).

Papermill: the toolkit passes only fixed identifier parameter names (``workspace``,
``session_id``, ``as_of``, ``due_days``); hostile *values* must become exactly one literal
assignment in the injected cell (checked with ``ast`` on papermill's own translator), and
hostile *names* are counted when papermill would emit code other than one assignment
(``papermill_unsafe_names``: papermill does not check names, so callers must not pass them).
"""
from __future__ import annotations

import ast
import os
import random
from collections.abc import Callable
from pathlib import Path

from session_helpers import ACCOUNT, CRITERIA, make_workspace

from ctpat_audit.core.errors import CtpatError
from ctpat_audit.sessions.session import Session, open_session, resume_session, validate_session_id
from ctpat_audit.workspace.evidence import evidence_path
from ctpat_audit.workspace.reference import Workspace

from . import Figures

PIECES = ["..", "../", "..\\", "/", "\\", "\x00", "%2e%2e%2f", "%2F", "%00", "..%c0%af",
          "\uff0e\uff0e\uff0f", "\u2215", "\u2044", "\uff0f", "\u2024\u2024", "\u0430",
          "\u202e", "\u200b", "~", "$HOME", "C:\\", "/etc/passwd", " ", "\n", "\t", "CON", "NUL",
          "aux.txt", ".", "...", "V-", "S-", "AAAAAAAAAA", "0012345", "\ufeff", "*", "?", ":",
          "|", "<", ">", "\"", "'", ";", "`", "x", "report.pdf", ".git/", "evidence/"]


def hostile_ids(n: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    out = []
    for k in range(n):
        s = "".join(rng.choice(PIECES) for _ in range(rng.randint(1, 6)))
        if k % 50 == 0:
            s = s + "A" * rng.randint(250, 5000)
        out.append(s)
    return out


def _tree(root: Path) -> set[str]:
    found = set()
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            found.add(os.path.join(dirpath, name))
    return found


def _papermill_assignments(params: dict) -> list[ast.stmt] | None:
    from papermill.translators import PythonTranslator

    code = PythonTranslator.codify(params)
    try:
        return [s for s in ast.parse(code).body]
    except SyntaxError:
        return None


def _checks(ws: Workspace, sess: Session, out: Path, sid: str, k: int,
            h: str) -> list[Callable[[], object]]:
    """Every place the hostile id ``h`` (the ``k``-th) goes, as calls to try one by one."""
    from ctpat_audit.reports.pipeline import report_folder

    return [lambda: validate_session_id(h), lambda: resume_session(ws, h).close(),
            lambda: open_session(ws, h, "validation", "virtual", "spec@cbp.example",
                                 criteria=CRITERIA, catalogue_version="test").close(),
            lambda: evidence_path(ws.path, h),
            lambda: sess.attach("1.1", h, f"evidence {k}".encode()),
            lambda: report_folder(out, h, sid), lambda: report_folder(out, ACCOUNT, h)]


def run(root: Path, quick: bool = False, seed: int = 5) -> Figures:
    n = 300 if quick else 10_000
    root = Path(root).resolve()
    ws = make_workspace(root / "ws")
    out = root / "out"
    cwd = root / "cwd"
    out.mkdir()
    cwd.mkdir()
    ids = hostile_ids(n, seed)
    crashes: list[str] = []
    refused = contained = 0
    before = _tree(root)
    old_cwd = os.getcwd()
    os.chdir(cwd)
    try:
        with open_session(ws, ACCOUNT, "validation", "virtual", "spec@cbp.example",
                          criteria=CRITERIA, catalogue_version="test") as sess:
            sid = sess.id
            for k, h in enumerate(ids):
                for i, check in enumerate(_checks(ws, sess, out, sid, k, h)):
                    try:
                        got = check()
                    except CtpatError:
                        refused += 1
                        continue
                    except Exception as exc:
                        crashes.append(f"check {i} {h[:40]!r}: {exc!r}"[:200])
                        continue
                    contained += 1
                    if isinstance(got, Path):  # a folder the toolkit would write into
                        got.mkdir(parents=True, exist_ok=True)
                        (got / "report.pdf").write_bytes(b"%PDF stand-in")
    finally:
        os.chdir(old_cwd)
    after = _tree(root)
    inside = (str(out) + os.sep, str(ws.path) + os.sep)
    escaped = sorted(p for p in after - before if not p.startswith(inside))
    # papermill: hostile values stay literals; count names papermill would turn into code
    bad_values = unsafe_names = 0
    for h in ids[: 200 if quick else 2000]:
        body = _papermill_assignments({"session_id": h})
        if not (body and len(body) == 1 and isinstance(body[0], ast.Assign)
                and ast.literal_eval(body[0].value) == h):
            bad_values += 1
        body = _papermill_assignments({h: 1})
        if not (h.isidentifier() and body and len(body) == 1):
            unsafe_names += 1
    return {"hostile_ids": n, "escaped_paths": len(escaped), "hostile_id_crashes": len(crashes),
            "hostile_id_refused": refused, "hostile_id_contained": contained,
            "papermill_value_injections": bad_values, "papermill_unsafe_names": unsafe_names,
            "hostile_id_examples": (escaped + crashes)[:10]}
