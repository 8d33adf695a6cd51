"""What the JupyterLab browser tests share: the notebook they open and how they wait for it."""
from __future__ import annotations

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
