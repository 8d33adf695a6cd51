"""Shared material for the batch tests: a workspace with submitted validations and signer keys,
and an artifact step for the small fixture notebooks of tests/data/batch/.

The artifact step renders real files from the executed fixture notebook: HTML through
nbconvert, a PDF through fpdf2 (a test dependency) and a workbook through openpyxl. It exists
so the batch machinery (kernels, signing, resume, index) is tested apart from the report
module; the real report template is tested end to end where it exists.
People and partners are invented for tests.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from session_helpers import ACCOUNT, CRITERIA
from signing_helpers import KEY_PASS, SPECIALIST, Setup, make_setup

from ctpat_audit.sessions.session import open_session

DATA = Path(__file__).parent / "data" / "batch"
PASS_ENV = "CTPAT_TEST_BATCH_PASS"
#: What the fixture reports import (the real template warms up pandas, matplotlib, ours).
LIGHT_WARMUP = "import sqlite3, IPython.display, ctpat_audit.workspace.reference"


def fixture_artifacts(ws_path: str, session_id: str, notebook: Path, folder: Path,
                      state: dict[str, Any]) -> None:
    import nbformat
    from fpdf import FPDF
    from nbconvert import HTMLExporter
    from openpyxl import Workbook

    state["calls"] = state.get("calls", 0) + 1  # per-worker state survives between reports
    nb = nbformat.read(notebook, as_version=4)
    exporter = HTMLExporter(exclude_input=True)
    body, _ = exporter.from_notebook_node(nb)
    (folder / "report.html").write_text(body, encoding="utf-8")
    pdf = FPDF()
    pdf.set_font("helvetica", size=12)
    pdf.add_page()
    pdf.cell(0, 10, f"Report {session_id}")
    pdf.ln(20)
    pdf.cell(0, 10, "Signatures")
    pdf.output(str(folder / "report.pdf"))
    wb = Workbook()
    wb.active["A1"] = session_id
    wb.save(folder / "report.xlsx")


def make_batch_setup(root: Path, n: int = 3, broken: int = 0) -> tuple[Setup, list[str]]:
    """Workspace + keys; ``n`` submitted virtual validations (``broken`` of them without any
    answer, which the fixture report cannot report on). Returns the session ids in order."""
    setup = make_setup(root)
    ids = []
    for i in range(n):
        with open_session(setup.ws, ACCOUNT, "validation", "virtual", SPECIALIST,
                          criteria=CRITERIA, catalogue_version="test") as s:
            if i >= broken:
                s.answer("1.1", status="meets", method="document_review")
                s.answer("3.1", status="does_not_meet", method="interview")
                if i % 2:
                    s.answer("6.1", status="does_not_meet", method="document_review")
            s.submit(SPECIALIST)
            ids.append(s.id)
    return setup, ids


def batch_kwargs(setup: Setup, out: Path, template: str = "report_min.ipynb",
                 **extra: Any) -> dict[str, Any]:
    """Keyword arguments of run_batch for the fixture template with real signing."""
    import os

    os.environ[PASS_ENV] = KEY_PASS
    kw: dict[str, Any] = {"out": out, "template": DATA / template, "key": setup.p12["sup"],
                          "specialist_keys": setup.root, "passphrase_env": PASS_ENV,
                          "artifacts": "batch_helpers:fixture_artifacts", "progress": False,
                          "kernel_warmup": LIGHT_WARMUP}
    kw.update(extra)
    return kw


#: Installed in every process of a batch worker (the worker, its zygote, each report's
#: child; as ``sitecustomize`` for the processes it starts): opening a workspace database
#: other than read-only and immutable (a snapshot's copy, ``mode=ro&immutable=1``) raises,
#: and the attempt is written to ``CTPAT_TEST_GUARD_LOG``, so a write fails even where the
#: error is caught. Root ignores file modes, so a read-only folder alone would prove nothing.
READ_ONLY_GUARD = """\
import os as _os
import sqlite3 as _sqlite3

if not getattr(_sqlite3.connect, "ctpat_guard", False):
    _real = _sqlite3.connect

    def guarded(database, *args, **kw):
        text = str(database)
        if "ctpat.sqlite" in text and not (kw.get("uri") and "mode=ro" in text
                                           and "immutable=1" in text):
            log = _os.environ.get("CTPAT_TEST_GUARD_LOG")
            if log:
                with open(log, "a") as f:
                    f.write(f"{_os.getpid()} {text}\\n")
            raise PermissionError(f"a batch worker opened {text} for writing")
        return _real(database, *args, **kw)

    guarded.ctpat_guard = True
    _sqlite3.connect = guarded
"""


def read_only_worker_plugin(folder: Path) -> Any:
    """A Dask worker plugin (:class:`WorkspaceReadOnlyInWorkers`); ``folder`` receives the
    guard as ``sitecustomize.py`` and the log of refused opens (``guard.log``)."""
    from distributed.diagnostics.plugin import WorkerPlugin

    folder.mkdir(parents=True, exist_ok=True)
    (folder / "sitecustomize.py").write_text(READ_ONLY_GUARD)

    class WorkspaceReadOnlyInWorkers(WorkerPlugin):
        """In the worker process and every process it starts afterwards (its zygote and the
        report children forked from it), opening any workspace database other than
        read-only and immutable (a snapshot's copy) raises."""

        name = "ctpat-workspace-read-only"

        def setup(self, worker: Any) -> None:
            import os

            os.environ["PYTHONPATH"] = os.pathsep.join(
                [str(folder), *filter(None, [os.environ.get("PYTHONPATH")])])
            os.environ["CTPAT_TEST_GUARD_LOG"] = str(folder / "guard.log")
            install_read_only_guard()

    return WorkspaceReadOnlyInWorkers()


def install_read_only_guard() -> None:
    """In this process, opening a workspace database other than read-only and immutable
    raises, as a batch worker on another machine must never write the workspace's SQLite
    file (nor read it over the network)."""
    exec(compile(READ_ONLY_GUARD, "read_only_guard", "exec"), {})
