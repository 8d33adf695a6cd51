"""notebooks/portfolio.ipynb, run headless by the plain papermill CLI on the sample workspace."""
from __future__ import annotations

import ast
import datetime as dt
import subprocess
import sys
from pathlib import Path

import nbformat

from ctpat_audit.analysis.portfolio import portfolio

REPO = Path(__file__).resolve().parent.parent
NOTEBOOK = REPO / "notebooks" / "portfolio.ipynb"
PAPERMILL = Path(sys.executable).parent / "papermill"
AS_OF = "2026-11-01"


def test_notebook_has_plain_parameters_and_no_outputs():
    nb = nbformat.read(NOTEBOOK, as_version=4)
    nbformat.validate(nb)
    assert nb.metadata.kernelspec.name == "python3"
    tagged = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1
    tree = ast.parse(tagged[0].source)
    assert [t.id for node in tree.body for t in node.targets] == ["workspace", "as_of", "xlsx"]  # type: ignore[attr-defined]
    assert all(isinstance(node.value, ast.Constant) for node in tree.body)  # type: ignore[attr-defined]
    assert all(not c.get("outputs") for c in nb.cells if c.cell_type == "code")
    # every code cell follows a markdown explanation (thin notebook, explained steps)
    kinds = [c.cell_type for c in nb.cells]
    assert kinds[0] == "markdown" and kinds.count("markdown") >= 8
    assert all(len(c.source.splitlines()) <= 16 for c in nb.cells if c.cell_type == "code")


def test_python3_kernel_is_this_environment():
    from jupyter_client.kernelspec import KernelSpecManager

    spec = KernelSpecManager().get_kernel_spec("python3")
    assert Path(spec.resource_dir).resolve().is_relative_to(Path(sys.prefix).resolve())


def test_papermill_cli_runs_it_and_shows_the_figures(sample_workspace, tmp_path):
    out = tmp_path / "portfolio-out.ipynb"
    xlsx = tmp_path / "portfolio.xlsx"
    proc = subprocess.run(
        [str(PAPERMILL), str(NOTEBOOK), str(out), "-p", "workspace", str(sample_workspace.path),
         "-p", "as_of", AS_OF, "-p", "xlsx", str(xlsx), "-k", "python3", "--cwd", str(tmp_path)],
        capture_output=True, text=True, timeout=180, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    nb = nbformat.read(out, as_version=4)
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]
    assert not [o for o in outputs if o.output_type == "error"]
    text = "\n".join([o.get("text", "") for o in outputs]
                     + [str(v) for o in outputs for k, v in o.get("data", {}).items()
                        if k.startswith("text/")])
    p = portfolio(sample_workspace, dt.date.fromisoformat(AS_OF))
    s = p.summary
    assert "DEMONSTRATION" in text
    assert f"<td>{s['backlog']:,}</td>" in text
    assert f"{s['validations_overdue']:,} ({s['first_validations_overdue']:,} first validations" in text
    assert f"{s['shipments']:,}" in text
    if len(p.suspension_candidates):
        assert p.suspension_candidates["account_id"].iloc[0] in text
    assert p.backlog["account_id"].iloc[0] in text
    assert "Holm" in text  # the exam-rate test is printed under the table
    html = [str(o["data"]["text/html"]) for o in outputs if "text/html" in o.get("data", {})]
    assert all("NaN" not in h and "&lt;NA&gt;" not in h and "rows ×" not in h for h in html)
    if s["validations_overdue"]:
        assert "background:#fde2e2" in text  # overdue backlog rows are red
    assert nb.metadata.title == "CTPAT portfolio"
    assert sum("image/png" in o.get("data", {}) for o in outputs) == 2  # both charts
    assert xlsx.exists()
