"""Where a report is built and where it is published: ``OUT/<account>/<session>/``.

A report is built in a private scratch folder ``OUT/.tmp/<random>/<session>/``
(:func:`scratch_report`) and renamed into its one final folder (:func:`report_folder`) only
when it is complete (:func:`publish_report`), so a reader never sees half a report and an
interrupted run never leaves one where a finished report belongs. A run that raises keeps
its executed notebook in ``OUT/_failed/<session>/`` (:func:`~ctpat_audit.reports.failure.keep_failed`);
publishing removes it. Account and session ids become folder names only after
:func:`check_safe_id`.
"""
from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from ctpat_audit.core.errors import ReportError
from ctpat_audit.core.files import replace_folder
from ctpat_audit.core.identifiers import SAFE_ID_EXPECTED, id_refusal, is_safe_id
from ctpat_audit.reports.failure import clear_failed, keep_failed

__all__ = ["Scratch", "check_safe_id", "publish_report", "report_folder",
           "scratch_report"]

def check_safe_id(what: str, value: object, session_id: object) -> str:
    """``value`` if it is a safe folder name
    (:data:`ctpat_audit.core.identifiers.SAFE_ID_PATTERN`), else :class:`ReportError` saying
    why."""
    if not is_safe_id(value):
        reason = id_refusal(value) if isinstance(value, str) else SAFE_ID_EXPECTED
        raise ReportError(str(session_id), f"{what} {value!r} is not a safe folder name: "
                          f"expected {reason}")
    assert isinstance(value, str)
    return value


def report_folder(out_dir: str | Path, account_id: str, session_id: str) -> Path:
    """``OUT/<account>/<session>``, refusing ids that are not plain path components."""
    check_safe_id("account id", account_id, session_id)
    check_safe_id("session id", session_id, session_id)
    return Path(out_dir) / account_id / session_id


@dataclass
class Scratch:
    """A report being built: ``folder`` is private to this run, ``notebook`` its executed
    notebook; ``kept`` is where that notebook was kept when the run raised. ``root`` is the
    folder removed at the end, unless the run ``handed_over`` the report to another process
    (a batch's coordinating process records its signatures and publishes it; it then
    removes ``root``)."""

    out: Path
    session_id: str
    folder: Path
    kept: Path | None = None
    handed_over: bool = False

    @property
    def root(self) -> Path:
        return self.folder.parent

    @property
    def notebook(self) -> Path:
        return self.folder / "report.ipynb"


@contextmanager
def scratch_report(out: str | Path, session_id: str) -> Iterator[Scratch]:
    """A fresh ``OUT/.tmp/<random>/<session>/`` folder for one report, removed at the end
    (unless handed over, see :class:`Scratch`).

    If the body raises, the executed notebook (if any) is kept first
    (:func:`~ctpat_audit.reports.failure.keep_failed`; a :class:`ReportError` then names
    it). The folder itself gets the permissions a new folder gets (the umask), so it can be
    published as it is.
    """
    out = Path(out)
    check_safe_id("session id", session_id, session_id)
    (out / ".tmp").mkdir(parents=True, exist_ok=True)
    root = Path(tempfile.mkdtemp(prefix=f"{session_id}-", dir=out / ".tmp"))
    scratch = Scratch(out, session_id, root / session_id)
    try:
        scratch.folder.mkdir()
        try:
            yield scratch
        except Exception as exc:
            scratch.kept = keep_failed(out, session_id, scratch.notebook, exc)
            raise
    finally:
        if not scratch.handed_over:
            shutil.rmtree(root, ignore_errors=True)


def publish_report(folder: Path, out: str | Path, account_id: str, session_id: str) -> Path:
    """Move a finished report folder into ``OUT/<account>/<session>`` (an atomic rename; an
    older report there is replaced) and drop the session's failed notebook; the final path."""
    final = report_folder(out, account_id, session_id)
    replace_folder(folder, final)
    clear_failed(out, session_id)
    return final
