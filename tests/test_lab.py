"""`ctpat-audit lab`: JupyterLab and Voila on 127.0.0.1, refused without the token, serving the
user's own copies of the notebooks (the installed ones are never opened or written)."""
from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from ctpat_audit.core.errors import InputError
from ctpat_audit.server.lab import account_parameter, notebooks_dir, parameter, start_lab, start_voila
from ctpat_audit.server.user_notebooks import ORIGIN_FILE, prepare_user_notebooks
from ctpat_audit.workspace.reference import as_workspace


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        return None


def _get(url: str, timeout: float = 60) -> tuple[int, str, str]:
    """(status, Location header, body) without following redirects."""
    opener = urllib.request.build_opener(_NoRedirect)
    try:
        with opener.open(url, timeout=timeout) as r:
            return r.status, "", r.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as e:
        return e.code, e.headers.get("Location") or "", ""


def _other_address() -> str | None:
    """A non-loopback address of this machine, if it has one."""
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.connect(("192.0.2.1", 9))  # no packet is sent for UDP connect
            addr = s.getsockname()[0]
    except OSError:
        return None
    return None if addr.startswith("127.") else addr


@pytest.fixture
def ws(sample_workspace, tmp_path: Path) -> Path:
    dst = tmp_path / "ws"
    shutil.copytree(sample_workspace.path, dst)
    return dst


def _installed_state() -> dict[str, str]:
    """Every file under the installed notebooks folder (bytecode aside) with its SHA-256."""
    root = notebooks_dir()
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file() and "__pycache__" not in p.parts}


def _api(server, method: str, path: str, body: dict | None = None) -> tuple[int, dict]:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(server.base_url + path, data=data, method=method, headers={
        "Authorization": f"token {server.token}", "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            text = r.read().decode()
            return r.status, json.loads(text) if text else {}
    except urllib.error.HTTPError as e:
        return e.code, {}


def _read_until_open(proc: subprocess.Popen) -> list[str]:
    """The CLI's lines up to and including the one with the URL."""
    lines, deadline = [], time.monotonic() + 60
    while not (lines and "Open:" in lines[-1]) and time.monotonic() < deadline:
        line = proc.stdout.readline()  # type: ignore[union-attr]
        assert line or proc.poll() is None, proc.stderr.read()  # type: ignore[union-attr]
        lines.append(line)
    return lines


def _cli_lab(*args: str) -> subprocess.Popen:
    return subprocess.Popen([str(Path(sys.executable).parent / "ctpat-audit"), "lab", *args,
                             "--no-browser"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


def _interrupt(proc: subprocess.Popen) -> None:
    proc.send_signal(2)  # Ctrl-C
    proc.wait(20)


def test_jupyterlab_refuses_requests_without_the_token(ws):
    with start_lab(ws, "0000001") as server:
        assert server.token and len(server.token) >= 32 and server.base_url.startswith(
            "http://127.0.0.1:")
        status, _, _ = _get(server.base_url + "api/status")
        assert status == 403
        status, where, _ = _get(server.base_url + "lab/tree/validation.ipynb")
        assert status == 302 and where.startswith("/login")
        status, where, _ = _get(server.base_url + "api/status?token=wrong")
        assert status == 403
        status, _, body = _get(server.base_url + f"api/contents/validation.ipynb?token="
                               f"{server.token}")
        assert status == 200 and '"parameters"' in body
        status, _, _ = _get(server.url)
        assert status == 200
        other = _other_address()
        if other:
            with pytest.raises(OSError):
                socket.create_connection((other, server.port), timeout=2).close()
    assert server.process.poll() is not None  # stopped with the context


def test_lab_serves_the_users_copy_and_never_writes_the_installed_notebooks(ws):
    before = _installed_state()
    with start_lab(ws, "0000001", user="Ana.Specialist@CBP.example") as server:
        copy_dir = ws / "notebooks" / "ana.specialist@cbp.example"
        assert server.root == copy_dir.resolve()
        shipped = {name for name in before if name.endswith(".ipynb")}
        assert server.notebooks is not None and set(server.notebooks.copied) == shipped
        assert any(str(copy_dir) in line for line in server.notices)
        status, listing = _api(server, "GET", "api/contents")
        assert status == 200
        assert {c["name"] for c in listing["content"]} == shipped  # .origin.json is hidden
        status, model = _api(server, "GET", "api/contents/validation.ipynb")
        assert status == 200
        nb = model["content"]
        nb["cells"].append({"cell_type": "markdown", "metadata": {}, "id": "my-note",
                            "source": "Ana's working note"})
        status, _ = _api(server, "PUT", "api/contents/validation.ipynb",
                         {"type": "notebook", "format": "json", "content": nb})
        assert status == 200
        status, _ = _api(server, "POST", "api/contents/validation.ipynb/checkpoints")
        assert status == 201
    assert "Ana's working note" in (copy_dir / "validation.ipynb").read_text()
    assert (copy_dir / ".ipynb_checkpoints" / "validation-checkpoint.ipynb").is_file()
    assert _installed_state() == before  # same files, same bytes: no checkpoint, no edit
    # the next launch keeps the edited copy as it is and has nothing to say
    again = prepare_user_notebooks(ws, "ana.specialist@cbp.example")
    assert again.notices() == [] and again.folder == copy_dir
    assert "Ana's working note" in (copy_dir / "validation.ipynb").read_text()


def test_lab_saves_notebooks_without_outputs_or_widget_state(ws, tmp_path):
    root = tmp_path / "nbs"
    shutil.copytree(notebooks_dir(), root, ignore=shutil.ignore_patterns("__pycache__"))
    nb = json.loads((root / "validation.ipynb").read_text())
    code = next(c for c in nb["cells"] if c["cell_type"] == "code")
    code["outputs"] = [{"output_type": "stream", "name": "stdout", "text": "ACME secrets"}]
    code["execution_count"] = 3
    nb["metadata"]["widgets"] = {"state": {"x": "partner text"}}
    with start_lab(ws, notebook_dir=root) as server:
        body = json.dumps({"type": "notebook", "format": "json", "content": nb}).encode()
        req = urllib.request.Request(server.base_url + "api/contents/saved.ipynb", data=body,
                                     method="PUT", headers={
                                         "Authorization": f"token {server.token}",
                                         "Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=30) as r:
            assert r.status in (200, 201)
    text = (root / "saved.ipynb").read_text()
    assert "ACME secrets" not in text and "partner text" not in text
    assert '"parameters"' in text  # the notebook itself is kept


def test_voila_serves_self_assessment_without_code_and_only_with_token(ws):
    conn = sqlite3.connect(as_workspace(ws).db_path)
    acc, email = conn.execute("SELECT account_id, email FROM contacts ORDER BY account_id "
                              "LIMIT 1").fetchone()
    conn.close()
    with start_voila(ws, acc, user=email) as server:
        assert server.root == (ws / "notebooks" / email.lower()).resolve()
        assert sorted(p.name for p in server.root.glob("*.ipynb")) == ["self_assessment.ipynb"]
        status, where, _ = _get(server.base_url)
        assert status in (302, 403) and (status == 403 or "/login" in where)
        status, _, body = _get(server.url, timeout=120)
        assert status == 200
        assert "CTPAT self-assessment" in body
        assert "lab.parameter(" not in body and "open_or_resume" not in body  # no code shown
    conn = sqlite3.connect(as_workspace(ws).db_path)
    opened = conn.execute("SELECT opened_by FROM sessions WHERE account_id = ? AND kind = "
                          "'self_assessment'", (acc,)).fetchall()
    conn.close()
    assert opened == [(email,)]


def test_cli_prints_url_with_token_and_stops_on_interrupt(ws):
    # a copy made from an older installed notebook: lab says so in one line and names the option
    user = "old.copy@cbp.example"
    folder = prepare_user_notebooks(ws, user).folder
    older = (folder / "validation.ipynb").read_bytes().replace(b'"parameters"',
                                                                b'"parameters", "v0"', 1)
    (folder / "validation.ipynb").write_bytes(older)
    origin = json.loads((folder / ORIGIN_FILE).read_text())
    origin["validation.ipynb"] = {"sha256": hashlib.sha256(older).hexdigest(), "version": "0.0.1"}
    (folder / ORIGIN_FILE).write_text(json.dumps(origin))
    proc = _cli_lab("-w", str(ws), "--user", user)
    try:
        lines = _read_until_open(proc)
        url = re.search(r"(http://127\.0\.0\.1:\d+/lab/tree/validation\.ipynb\?token=\S+)",
                        lines[-1])
        assert url, lines
        assert _get(url.group(1))[0] == 200
        assert _get(url.group(1).split("?")[0])[0] == 302
    finally:
        _interrupt(proc)
    assert proc.returncode == 0
    newer = [line for line in lines if "--refresh-notebooks" in line]
    assert len(newer) == 1 and "validation.ipynb" in newer[0] and "newer" in newer[0], lines
    assert "portfolio.ipynb" not in newer[0]
    assert (folder / "validation.ipynb").read_bytes() == older  # told, never overwritten


def test_cli_refresh_notebooks_keeps_the_old_copy_as_a_backup(ws):
    user = "ana@cbp.example"
    folder = prepare_user_notebooks(ws, user).folder
    edited = (folder / "validation.ipynb").read_bytes().replace(b'"parameters"',
                                                                 b'"parameters", "mine"', 1)
    (folder / "validation.ipynb").write_bytes(edited)
    installed = (notebooks_dir() / "validation.ipynb").read_bytes()
    proc = _cli_lab("-w", str(ws), "--user", user, "--refresh-notebooks")
    try:
        lines = _read_until_open(proc)
    finally:
        _interrupt(proc)
    assert proc.returncode == 0
    backups = list((folder / "backups").glob("validation-*.ipynb"))
    assert len(backups) == 1 and re.fullmatch(r"validation-\d{8}T\d{6}Z\.ipynb",
                                              backups[0].name)
    assert backups[0].read_bytes() == edited
    assert (folder / "validation.ipynb").read_bytes() == installed
    said = [line for line in lines if "Refreshed validation.ipynb" in line]
    assert len(said) == 1 and str(backups[0]) in said[0], lines
    # the copies that matched the installed ones are left alone, without backups
    assert sorted(p.name.split("-")[0] for p in (folder / "backups").iterdir()) == ["validation"]


def test_parameters_fall_back_on_environment_and_keep_leading_zeros(ws, monkeypatch):
    monkeypatch.delenv("CTPAT_ACCOUNT", raising=False)
    with pytest.raises(InputError, match="parameters cell"):
        parameter("account_id", "", "CTPAT_ACCOUNT")
    monkeypatch.setenv("CTPAT_ACCOUNT", "0012345")
    assert parameter("account_id", "", "CTPAT_ACCOUNT") == "0012345"
    assert parameter("account_id", "777", "CTPAT_ACCOUNT") == "777"
    conn = sqlite3.connect(as_workspace(ws).db_path)
    zero = conn.execute("SELECT account_id FROM partners WHERE account_id LIKE '0%' "
                        "LIMIT 1").fetchone()[0]
    conn.close()
    assert account_parameter(ws, int(zero)) == zero
    with pytest.raises(InputError, match="-r account_id"):
        account_parameter(ws, 99999999999)
    assert os.environ["CTPAT_ACCOUNT"] == "0012345"


def test_gap_table_lists_what_is_not_met_must_first(ws):
    from ctpat_audit.server.lab import gap_table
    from ctpat_audit.ui.checklist import open_or_resume

    conn = sqlite3.connect(as_workspace(ws).db_path)
    acc, email = conn.execute("SELECT account_id, email FROM contacts ORDER BY account_id "
                              "LIMIT 1").fetchone()
    conn.close()
    with open_or_resume(ws, acc, "self_assessment", None, email) as s:
        should = next(c.criterion_id for c in s.criteria if c.level == "Should")
        must = next(c.criterion_id for c in s.criteria if c.level == "Must")
        s.answer(should, status="meets")
        s.answer(must, status="does_not_meet", notes="no written procedure yet")
        gaps = gap_table(s)
        assert should not in set(gaps["criterion_id"])
        assert len(gaps) == len(s.criteria) - 1 and "facility_id" not in gaps
        assert (gaps["level"].iloc[: sum(c.level == "Must" for c in s.criteria)] == "Must").all()
        row = gaps[gaps["criterion_id"] == must].iloc[0]
        assert (row["status"], row["notes"]) == ("does_not_meet", "no written procedure yet")
        assert set(gaps["status"]) == {"unanswered", "does_not_meet"}


class _Sleeper:
    """A real child process standing in for a server: ``stop()`` terminates it."""

    def __init__(self) -> None:
        self.process = subprocess.Popen(["sleep", "60"])
        self.stopped = False

    def stop(self) -> None:
        self.stopped = True
        self.process.terminate()
        self.process.wait(10)


def test_ctrl_c_while_the_url_is_printed_still_stops_the_server(capsys):
    """Ctrl-C pressed as soon as the URL shows, before the command waits on the server: the
    server is stopped and the command ends normally (CI caught ``lab`` exiting 1 here)."""
    import signal

    from ctpat_audit.cli.serving import serve_until_stopped

    def lines():
        yield "Open: http://127.0.0.1:1/"
        os.kill(os.getpid(), signal.SIGINT)  # a real Ctrl-C, delivered here
        time.sleep(5)  # not reached: KeyboardInterrupt is raised at once
        yield "Press Ctrl-C to stop."

    server = _Sleeper()
    started = time.monotonic()
    serve_until_stopped(server, lines())
    assert server.stopped and server.process.returncode == -15
    assert time.monotonic() - started < 5
    out = capsys.readouterr().out
    assert "Open:" in out and "stopping ..." in out and "Press Ctrl-C" not in out


def test_ctrl_c_stops_lab_started_with_sigint_ignored(ws):
    """A background job of a script starts with SIGINT ignored, and Python leaves it so:
    ``lab`` still stops on Ctrl-C (its documented way to stop)."""
    import signal

    proc = subprocess.Popen([str(Path(sys.executable).parent / "ctpat-audit"), "lab", "-w",
                             str(ws), "--user", "bg.job@cbp.example", "--no-browser"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN))
    try:
        lines = _read_until_open(proc)
    finally:
        _interrupt(proc)
    assert proc.returncode == 0 and any("Open:" in line for line in lines)
