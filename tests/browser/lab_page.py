"""What the JupyterLab browser tests share: the notebook they open and how they wait for it."""
from __future__ import annotations

import re
import sqlite3
from pathlib import Path

import nbformat
from papermill.iorw import load_notebook_node
from papermill.parameterize import parameterize_notebook

from ctpat_audit.server.lab import notebooks_dir
from ctpat_audit.workspace.reference import as_workspace

#: True once the open notebook's kernel is idle (JupyterLab started with ``expose_app``).
KERNEL_IDLE = """() => {
  const w = window.jupyterapp && window.jupyterapp.shell.currentWidget;
  const k = w && w.sessionContext && w.sessionContext.session
            && w.sessionContext.session.kernel;
  return !!k && k.status === 'idle';
}"""


def first_account(ws: Path) -> str:
    """The workspace's first partner by account id."""
    conn = sqlite3.connect(as_workspace(ws).db_path)
    try:
        return str(conn.execute("SELECT account_id FROM partners ORDER BY account_id")
                   .fetchone()[0])
    finally:
        conn.close()


def validation_notebook(root: Path, ws: Path, account_id: str, specialist: str) -> Path:
    """The validation notebook with parameters injected by papermill (not executed)."""
    nb = parameterize_notebook(load_notebook_node(str(notebooks_dir() / "validation.ipynb")),
                               {"workspace": str(ws), "account_id": account_id,
                                "mode": "virtual", "specialist": specialist,
                                "as_of": "2026-11-01"})
    root.mkdir(parents=True, exist_ok=True)
    path = root / "validation.ipynb"
    nbformat.write(nb, path)
    return path


#: True once a cell of the *current* notebook shows "[*]" or "[n]": Run All has started there.
_RUN_STARTED = """() => {
  const w = window.jupyterapp && window.jupyterapp.shell.currentWidget;
  return !!w && [...w.node.querySelectorAll('.jp-InputPrompt')]
    .some(p => /\\[(\\*|\\d+)\\]/.test(p.textContent));
}"""


def accept_kernel_choice(page) -> None:  # type: ignore[no-untyped-def]
    """Click "Select" on JupyterLab's "Select Kernel" dialog if it is showing, as a person would.

    Lab asks when a notebook opens before its list of kernels has loaded (a race in Lab when
    several notebook tabs are restored at once); the offered kernel is the notebook's own.
    """
    dialog = page.locator(".jp-Dialog", has_text="Select Kernel")
    if dialog.count():
        dialog.get_by_role("button", name="Select").click()
        dialog.wait_for(state="detached", timeout=15_000)


def run_all(page) -> None:  # type: ignore[no-untyped-def]
    """Run All Cells in the current notebook, and make sure it started.

    Lab can report the kernel idle a moment before the notebook takes requests, and can ask
    "Select Kernel" when it restores a notebook before its kernel list has loaded; a command
    sent then does nothing. So: accept Lab's kernel choice if asked (the offered kernel is the
    notebook's own), clear the outputs (so a prompt number can only come from this run), run,
    and run again if no cell has started within 20 s.
    """
    for _attempt in range(3):
        accept_kernel_choice(page)
        page.wait_for_function(KERNEL_IDLE, timeout=60_000)
        page.evaluate("() => window.jupyterapp.commands.execute("
                      "'notebook:clear-all-cell-outputs')")
        page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")
        try:
            page.wait_for_function(_RUN_STARTED, timeout=20_000)
            return
        except Exception:
            continue
    raise AssertionError("Run All Cells did not start the notebook")


def wait_for_output(page, locator, timeout: float = 120_000) -> None:  # type: ignore[no-untyped-def]
    """Wait until ``locator`` shows; if a cell of the open notebook shows an error first, fail
    at once with its text rather than after the timeout."""
    error = page.locator(".jp-NotebookPanel:visible .jp-OutputArea-output"
                         "[data-mime-type='application/vnd.jupyter.stderr']",
                         has_text=re.compile("Error|Traceback"))
    locator.first.or_(error.first).first.wait_for(timeout=timeout)
    if error.count() and not locator.first.is_visible():
        raise AssertionError("the notebook failed:\n" + error.first.inner_text()[-3000:])
    locator.first.wait_for(timeout=timeout)
