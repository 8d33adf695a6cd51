"""The validation and self-assessment notebooks, run headless by the plain papermill CLI."""
from __future__ import annotations

import ast
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from ctpat_audit.sessions.session import list_sessions
from ctpat_audit.workspace.reference import as_workspace, open_workspace

REPO = Path(__file__).resolve().parent.parent
NOTEBOOKS = REPO / "notebooks"
PAPERMILL = Path(sys.executable).parent / "papermill"
PARAMETERS = {"validation.ipynb": ["workspace", "account_id", "mode", "specialist",
                                   "session_id", "as_of", "facilities", "after_submit"],
              "self_assessment.ipynb": ["workspace", "account_id", "contact", "as_of",
                                        "after_submit"]}


@pytest.fixture
def ws(sample_workspace, tmp_path: Path) -> Path:
    dst = tmp_path / "ws"
    shutil.copytree(sample_workspace.path, dst)
    return dst


def _run(notebook: str, out: Path, raw: dict[str, str] | None = None,
         **params: str) -> subprocess.CompletedProcess[str]:
    args = [str(PAPERMILL), str(NOTEBOOKS / notebook), str(out), "-k", "python3",
            "--cwd", str(out.parent)]
    for key, value in params.items():
        args += ["-p", key, value]
    for key, value in (raw or {}).items():
        args += ["-r", key, value]
    return subprocess.run(args, capture_output=True, text=True, timeout=180)


def _errors(path: Path) -> list[str]:
    nb = nbformat.read(path, as_version=4)
    return [o.get("ename", "") + ": " + o.get("evalue", "") for c in nb.cells
            if c.cell_type == "code" for o in c.get("outputs", []) if o.output_type == "error"]


def _text(path: Path) -> str:
    nb = nbformat.read(path, as_version=4)
    parts = []
    for c in nb.cells:
        for o in c.get("outputs", []):
            parts.append(o.get("text", ""))
            parts.extend(str(v) for k, v in o.get("data", {}).items() if k.startswith("text/"))
    return "\n".join(parts)


def _widget_text(path: Path) -> str:
    """Every text value of the widgets the run left (their state is saved with the notebook)."""
    nb = nbformat.read(path, as_version=4)
    models = nb.metadata.get("widgets", {}).get("application/vnd.jupyter.widget-state+json",
                                                 {}).get("state", {})
    return "\n".join(str(m["state"].get(k, "")) for m in models.values()
                     for k in ("value", "description"))


@pytest.mark.parametrize("name", sorted(PARAMETERS))
def test_notebook_is_v4_with_a_parameters_cell_of_plain_literals(name):
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    nbformat.validate(nb)
    assert nb.nbformat == 4 and nb.metadata.kernelspec.name == "python3"
    tagged = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1
    tree = ast.parse(tagged[0].source)
    names = [t.id for node in tree.body for t in node.targets]  # type: ignore[attr-defined]
    assert names == PARAMETERS[name]
    assert all(isinstance(node.value, ast.Constant) for node in tree.body)  # type: ignore
    assert all(not c.get("outputs") for c in nb.cells if c.cell_type == "code")
    assert nb.cells[0].cell_type == "markdown"
    assert nb.metadata.title.startswith("CTPAT ")  # the page title in Voila and exports


def test_python3_kernel_resolves_to_this_environment():
    from jupyter_client.kernelspec import KernelSpecManager

    spec = KernelSpecManager().get_kernel_spec("python3")
    exe = spec.argv[0]
    # jupyter_client runs "python" as the launching interpreter (sys.executable)
    assert exe in ("python", "python3", sys.executable) or Path(exe).resolve() == Path(
        sys.executable).resolve()
    assert Path(spec.resource_dir).resolve().is_relative_to(Path(sys.prefix).resolve())


def test_papermill_kernel_runs_this_environments_python(tmp_path):
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(
        "import sys, ctpat_audit\nprint(sys.prefix)")])
    src, out = tmp_path / "probe.ipynb", tmp_path / "probe-out.ipynb"
    nbformat.write(nb, src)
    proc = subprocess.run([str(PAPERMILL), str(src), str(out), "-k", "python3"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    printed = nbformat.read(out, as_version=4).cells[0].outputs[0]["text"].strip()
    assert Path(printed).resolve() == Path(sys.prefix).resolve()


def test_validation_notebook_runs_headless_and_opens_a_session(ws, tmp_path):
    # -p turns "0123456" into a number; the notebook maps it back to the one matching account
    acc = next(str(a) for a in open_workspace(ws).partners()["account_id"] if a.startswith("0"))
    out = tmp_path / "validation-out.ipynb"
    proc = _run("validation.ipynb", out, workspace=str(ws), account_id=acc,
                specialist="spec@cbp.example", mode="virtual", as_of="2026-11-01")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert _errors(out) == []
    text = _text(out)
    assert "DEMONSTRATION catalogue" in text and f"using account {acc}" in text
    for raw in ("NaN", "<NA>", "&lt;NA&gt;", " rows x ", " rows × ", "{'answered'"):
        assert raw not in text, raw  # readable tables: no raw frames, no dicts
    assert "no evidence files yet" in _widget_text(out) and "Suspension risk" in _widget_text(out)
    nb = nbformat.read(out, as_version=4)
    assert any(o.get("data", {}).get("image/png") for c in nb.cells
               for o in c.get("outputs", []))  # the exam charts are drawn
    sessions = list_sessions(ws, account_id=acc)
    assert list(sessions["opened_by"]) == ["spec@cbp.example"]
    assert list(sessions["status"]) == ["open"] and list(sessions["mode"]) == ["virtual"]


def test_self_assessment_notebook_runs_headless_for_a_contact(ws, tmp_path):
    conn = sqlite3.connect(as_workspace(ws).db_path)
    acc, email = conn.execute("SELECT account_id, email FROM contacts ORDER BY account_id "
                              "LIMIT 1").fetchone()
    conn.close()
    out = tmp_path / "sa-out.ipynb"
    proc = _run("self_assessment.ipynb", out, workspace=str(ws), contact=email,
                raw={"account_id": acc})
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert _errors(out) == []
    assert "DEMONSTRATION catalogue" in _text(out)
    sessions = list_sessions(ws, account_id=acc, kind="self_assessment")
    assert list(sessions["opened_by"]) == [email]


def test_missing_parameter_fails_in_plain_words(ws, tmp_path):
    out = tmp_path / "bad.ipynb"
    proc = _run("validation.ipynb", out, workspace=str(ws), specialist="spec@cbp.example")
    assert proc.returncode != 0
    errors = _errors(out)
    assert errors and "account_id" in errors[0] and "parameters cell" in errors[0]


def test_after_a_submission_the_notebook_creates_nothing_unless_a_choice_is_given(ws, tmp_path):
    from ctpat_audit.sessions.session import open_session

    acc = next(str(a) for a in open_workspace(ws).partners()["account_id"] if a.startswith("0"))
    with open_session(ws, acc, "validation", "virtual", "spec@cbp.example") as s:
        s.answer(s.criteria[0].criterion_id, status="does_not_meet", method="interview")
        s.submit(reason="first visit cut short")
        old = s.id
    common = {"workspace": str(ws), "specialist": "spec@cbp.example", "mode": "virtual",
              "as_of": "2026-11-01"}
    out = tmp_path / "choose.ipynb"
    proc = _run("validation.ipynb", out, raw={"account_id": acc}, **common)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert _errors(out) == []
    shown = _widget_text(out)
    assert "Nothing has been created" in shown and old in shown
    assert "Start a new validation" in shown and "Choose above" in shown
    assert list(list_sessions(ws, account_id=acc)["session_id"]) == [old]
    out = tmp_path / "revise.ipynb"
    proc = _run("validation.ipynb", out, raw={"account_id": acc}, after_submit="revise", **common)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert _errors(out) == [] and "You opened a revision" in _widget_text(out)
    sessions = list_sessions(ws, account_id=acc)
    assert list(sessions["status"]) == ["open", "superseded"]
    assert sessions["supersedes"].iloc[0] == old
