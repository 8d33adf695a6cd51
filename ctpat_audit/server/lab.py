"""Jupyter entry points: start JupyterLab or Voila safely, and the notebooks' small helpers.

Servers listen on 127.0.0.1 only and always with a random token (never an empty one). The
token travels in the ``JUPYTER_TOKEN`` environment variable, not on the command line, so it
does not show in the process list. The workspace, partner and user are handed to the notebooks
through ``CTPAT_*`` environment variables that their parameters cells fall back on, so the
notebooks need no rewriting. The servers open the user's own copies of the notebooks in
``WORKSPACE/notebooks/<user>/`` (:mod:`ctpat_audit.server.user_notebooks`), never the installed
ones.

The helpers below the servers (:func:`parameter`, :func:`partner_summary`,
:func:`catalogue_banner`, :func:`gap_table`) keep notebook cells to one call each.
"""
from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from ctpat_audit.core import package_data
from ctpat_audit.core.errors import InputError, LabError, NotFoundError
from ctpat_audit.server.lab_quiet import LAB_QUIET
from ctpat_audit.server.user_notebooks import (
    PartnerNotebooks,
    UserNotebooks,
    prepare_user_notebooks,
    user_folder,
)

__all__ = ["LabServer", "LabError", "start_lab", "start_voila", "strip_outputs_on_save",
           "notebooks_dir", "free_port", "new_token", "parameter", "person_parameter",
           "account_parameter",
           "partner_summary", "catalogue_banner", "gap_table", "sign_step", "partner_notice",
           "validation_links",
           "ENV_WORKSPACE", "ENV_ACCOUNT", "ENV_USER", "ENV_DEBUG"]

ENV_WORKSPACE, ENV_ACCOUNT, ENV_USER = "CTPAT_WORKSPACE", "CTPAT_ACCOUNT", "CTPAT_USER"
VALIDATION_NOTEBOOK, SELF_ASSESSMENT_NOTEBOOK = "validation.ipynb", "self_assessment.ipynb"
HOST = "127.0.0.1"


def notebooks_dir() -> Path:
    """The installed notebooks (read-only originals: servers open the user's copies)."""
    path = package_data.notebooks_dir()
    if not (path / VALIDATION_NOTEBOOK).is_file():
        raise NotFoundError("notebooks folder", str(path),
                            "reinstall ctpat-audit: its notebooks (validation.ipynb) are "
                            "missing")
    return path


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now."""
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def new_token() -> str:
    """A random URL-safe token (256 bits); never empty."""
    return secrets.token_urlsafe(32)


@dataclass
class LabServer:
    """A running JupyterLab or Voila process; ``url`` opens ``path`` with the token.

    ``root`` is the folder the server serves (Lab's root, Voila's notebook folder);
    ``notebooks`` says what was done to the user's copies there (``None`` when the caller
    chose the folder).
    """

    process: subprocess.Popen[bytes]
    port: int
    token: str = field(repr=False)
    path: str
    log_path: Path
    root: Path
    notebooks: UserNotebooks | None = None

    @property
    def notices(self) -> list[str]:
        """Lines for the person who started the server (copies made, refreshed or outdated)."""
        return self.notebooks.notices() if self.notebooks else []

    @property
    def base_url(self) -> str:
        return f"http://{HOST}:{self.port}/"

    @property
    def url(self) -> str:
        return f"{self.base_url}{self.path}?token={self.token}"

    def output(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace") \
            if self.log_path.is_file() else ""

    def wait_ready(self, timeout: float = 60.0, probe: str = "api/status",
                   authenticated: bool = True) -> None:
        """Wait until the server answers ``probe`` (with the token: 200, else any HTTP status);
        LabError if the process dies or the time runs out."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise LabError("server", f"exited with code {self.process.returncode}",
                               self.output())
            try:
                req = urllib.request.Request(self.base_url + probe,
                                             headers={"Authorization": f"token {self.token}"})
                with urllib.request.urlopen(req, timeout=2):
                    return
            except urllib.error.HTTPError:
                if not authenticated:
                    return  # it answers: up (Voila has no cheap authenticated endpoint)
                time.sleep(0.25)
            except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
                time.sleep(0.25)
        raise LabError("server", f"not ready after {timeout:.0f} s", self.output())

    def stop(self, timeout: float = 10.0) -> None:
        """Terminate the server (and its kernels), killing it if it does not stop in time."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout)

    def __enter__(self) -> LabServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _env(workspace: str | Path, account_id: str | None, user: str | None,
         token: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update({"JUPYTER_TOKEN": token, ENV_WORKSPACE: str(Path(workspace).resolve())})
    env.pop("JUPYTER_TOKEN_FILE", None)
    for key, value in ((ENV_ACCOUNT, account_id), (ENV_USER, user)):
        if value:
            env[key] = value
        else:
            env.pop(key, None)
    return env


def _private_log(name: str) -> Path:
    """A log file in a fresh folder only this user can read (server logs may show the URL)."""
    return Path(tempfile.mkdtemp(prefix=f"ctpat-{name}-")) / f"{name}.log"


def _spawn(args: list[str], env: dict[str, str], log_path: Path, port: int, token: str,
           path: str, root: Path, notebooks: UserNotebooks | None) -> LabServer:
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(args, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=root,
                                stdin=subprocess.DEVNULL)
    return LabServer(proc, port, token, path, log_path, root, notebooks)


def _notebook_root(workspace: Path, user: str | None, notebook: str,
                   notebook_dir: str | Path | None, names: list[str] | None,
                   refresh: bool) -> tuple[Path, UserNotebooks | None]:
    """The folder to serve: ``notebook_dir`` as given, else the user's copies (made if
    missing, refreshed only when asked)."""
    if notebook_dir is not None:
        if refresh:
            raise InputError("refresh_notebooks", refresh, "False with notebook_dir= (only "
                             "the user's copies in the workspace are refreshed)")
        root, copies = Path(notebook_dir).resolve(), None
    else:
        copies = prepare_user_notebooks(workspace, user, names, refresh=refresh)
        root = copies.folder.resolve()
    if not (root / notebook).is_file():
        raise NotFoundError("notebook", str(root / notebook))
    return root, copies


def start_lab(workspace: str | Path, account_id: str | None = None, *, user: str | None = None,
              port: int | None = None, notebook_dir: str | Path | None = None,
              notebook: str = VALIDATION_NOTEBOOK, refresh_notebooks: bool = False,
              token: str | None = None, expose_app: bool = False, strip_outputs: bool = True,
              log_path: str | Path | None = None, wait: bool = True,
              timeout: float = 60.0) -> LabServer:
    """Start JupyterLab on 127.0.0.1 with a token, rooted at the user's notebook folder.

    The root is ``WORKSPACE/notebooks/<user>/`` (``user`` ``None``: the login name) holding the
    user's copies of the installed notebooks: missing copies are made, existing ones are kept
    as they are unless ``refresh_notebooks`` (see
    :func:`~ctpat_audit.server.user_notebooks.prepare_user_notebooks`); ``notebook_dir`` serves
    a folder of the caller's choosing instead. ``url`` opens ``notebook`` in Lab.
    ``expose_app`` sets ``LabApp.expose_app_in_browser`` (for browser tests that drive
    ``window.jupyterapp``). ``strip_outputs``: notebooks are saved without outputs and widget
    state (:func:`strip_outputs_on_save`), so partner data never lands in a notebook file; the
    answers live in the workspace and come back when the notebook is run again. The server log
    goes to ``log_path`` (default: a fresh private temporary folder).
    """
    from ctpat_audit.workspace.reference import open_workspace

    ws = open_workspace(workspace)  # fail early, in plain words, on a wrong folder
    root, copies = _notebook_root(ws.path, user, notebook, notebook_dir, None,
                                  refresh_notebooks)
    token = token or new_token()
    if not token:
        raise InputError("token", token, "a non-empty token")
    port = port or free_port()
    args = [sys.executable, "-m", "jupyterlab", "--no-browser", f"--ServerApp.ip={HOST}",
            f"--ServerApp.port={port}", "--ServerApp.port_retries=0",
            f"--ServerApp.root_dir={root}", "--ServerApp.allow_remote_access=False",
            "--ServerApp.terminals_enabled=False",
            *LAB_QUIET]
    if strip_outputs:
        args.append("--FileContentsManager.pre_save_hook="
                    "ctpat_audit.server.lab.strip_outputs_on_save")
    if expose_app:
        args.append("--LabApp.expose_app_in_browser=True")
    if hasattr(os, "geteuid") and os.geteuid() == 0:  # containers and CI run as root
        args.append("--ServerApp.allow_root=True")
    log = Path(log_path) if log_path else _private_log("jupyterlab")
    server = _spawn(args, _env(ws.path, account_id, user, token), log, port, token,
                    f"lab/tree/{notebook}", root, copies)
    if wait:
        try:
            server.wait_ready(timeout)
        except BaseException:
            server.stop()
            raise
    return server


def start_voila(workspace: str | Path, account_id: str | None = None, *,
                user: str | None = None, port: int | None = None,
                notebook_dir: str | Path | None = None,
                notebook: str = SELF_ASSESSMENT_NOTEBOOK, refresh_notebooks: bool = False,
                token: str | None = None, log_path: str | Path | None = None,
                wait: bool = True, timeout: float = 60.0) -> LabServer:
    """Serve the self-assessment notebook with Voila (no code shown) on 127.0.0.1, with a token.

    Voila runs the user's copy of ``notebook`` in ``WORKSPACE/notebooks/<user>/`` (made if
    missing; refreshed only with ``refresh_notebooks``), or the one in ``notebook_dir``.
    """
    from ctpat_audit.workspace.reference import open_workspace

    try:
        import voila  # noqa: F401
    except ImportError as exc:
        raise LabError("voila", "is not installed; install it with "
                       "`uv pip install voila` in this environment") from exc
    ws = open_workspace(workspace)
    root, copies = _notebook_root(ws.path, user, notebook, notebook_dir, [notebook],
                                  refresh_notebooks)
    token, port = token or new_token(), port or free_port()
    # auto_token: the identity provider then takes the token from JUPYTER_TOKEN (our env)
    args = [sys.executable, "-m", "voila", str(root / notebook), "--no-browser",
            f"--Voila.ip={HOST}", f"--Voila.port={port}", "--Voila.port_retries=0",
            "--Voila.auto_token=True", "--VoilaConfiguration.strip_sources=True",
            "--VoilaConfiguration.show_tracebacks=False",
            # the signed report's PDF is linked from the page (and images, Voila's default)
            r"--VoilaConfiguration.file_allowlist=.*\.(png|jpg|gif|svg|pdf)$"]
    log = Path(log_path) if log_path else _private_log("voila")
    env = _env(ws.path, account_id, user, token) | {ENV_FILES_URL: "voila/files/"}
    server = _spawn(args, env, log, port, token, "", root, copies)
    if wait:
        try:
            server.wait_ready(timeout, probe="voila/static/", authenticated=False)
        except BaseException:
            server.stop()
            raise
    return server


def strip_outputs_on_save(model: dict[str, Any], **_kwargs: Any) -> None:
    """Jupyter pre-save hook: drop outputs, execution counts and saved widget state."""
    if model.get("type") != "notebook" or not isinstance(model.get("content"), dict):
        return
    content = model["content"]
    content.get("metadata", {}).pop("widgets", None)
    for cell in content.get("cells", []):
        if cell.get("cell_type") == "code":
            cell["outputs"], cell["execution_count"] = [], None


# --- notebook helpers ----------------------------------------------------------------------

#: Set to 1 in a kernel's environment to see the full traceback of a toolkit error.
ENV_DEBUG = "CTPAT_DEBUG"


def _one_line_error(shell: Any, etype: type[BaseException], value: BaseException, tb: Any,
                    tb_offset: int | None = None) -> Any:
    """IPython's handler of :class:`CtpatError` in a notebook: the error class and its
    message, without the stack of toolkit frames (``CTPAT_DEBUG=1``: the full traceback)."""
    if os.environ.get(ENV_DEBUG, "") not in ("", "0"):
        shell.showtraceback((etype, value, tb), tb_offset=tb_offset)
    else:
        shell._showtraceback(etype, value, shell.InteractiveTB.get_exception_only(etype, value))
    return None


def _show_toolkit_errors_in_one_line() -> None:
    """In a notebook (an IPython kernel), show the toolkit's own errors, a wrong parameter
    above all, as one line naming what was wrong and what was expected. Done when this
    module is imported, which every shipped notebook does in its first code cell."""
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython comes with ipykernel
        return
    shell = get_ipython()
    if shell is not None:
        from ctpat_audit.core.errors import CtpatError

        shell.set_custom_exc((CtpatError,), _one_line_error)


_show_toolkit_errors_in_one_line()


def parameter(name: str, value: Any, env: str | None = None, *, required: bool = True) -> Any:
    """A notebook parameter: its value if set, else the ``CTPAT_*`` variable ``ctpat-audit lab``
    set, else (when required) an error that says how to set it."""
    if value not in (None, ""):
        return value
    fallback = os.environ.get(env or f"CTPAT_{name.upper()}", "")
    if fallback:
        return fallback
    if required:
        raise InputError(f"notebook parameter {name}", value,
                         f"a value: set {name} in the parameters cell at the top, run with "
                         f"`papermill ... -p {name} VALUE`, or start with `ctpat-audit lab "
                         "-w WORKSPACE --account ID`")
    return value


def person_parameter(workspace: str | Path, name: str, value: Any) -> str:
    """Who runs the notebook, from its ``name`` parameter (``specialist``, ``contact``).

    On the team server (``ctpat-audit hub``) it is the signed-in person's e-mail, mapped
    through the workspace's people; ``value`` must then be empty or name that same person
    (:func:`ctpat_audit.workspace.people.acting`). Elsewhere it is ``value``, else
    ``$CTPAT_USER`` (set by ``ctpat-audit lab --user``), else an error saying how to set it.
    """
    from ctpat_audit.workspace import people

    if people.hub_user() is not None:
        return str(people.acting(workspace, value, what=f"the notebook parameter {name}"))
    return str(parameter(name, value, ENV_USER))


def account_parameter(workspace: str | Path, value: Any) -> str:
    """The account id parameter as text, resolving a number back to its account id.

    ``papermill -p account_id 0012345`` passes the *number* 12345 (leading zeros lost);
    a number is accepted when exactly one account of the workspace reads as that number,
    otherwise the error says to pass it as text with ``-r account_id 0012345``.
    """
    value = parameter("account_id", value, ENV_ACCOUNT)
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, bool) or not isinstance(value, int):
        raise InputError("notebook parameter account_id", value, "the account id as text")
    from ctpat_audit.workspace.reference import open_workspace

    ids = open_workspace(workspace).partners()["account_id"].astype(str)
    match = [a for a in ids if a.isdigit() and int(a) == value]
    if len(match) != 1:
        raise InputError("notebook parameter account_id", value,
                         "the account id as text, leading zeros included: papermill -p turns "
                         "0012345 into the number 12345; use `-r account_id 0012345`")
    print(f"account_id {value} read as a number; using account {match[0]}")
    return match[0]


def partner_summary(partner: Any) -> pd.DataFrame:
    """The partner's profile as a two-column table (what, value) for the top of a notebook."""
    rows = [("Account", partner.account_id), ("Legal name", partner.legal_name),
            ("Status", partner.status),
            ("Business entity types", ", ".join(partner.entity_types) or "(none)"),
            ("Certified", partner.certification_date),
            ("Last validation", f"{partner.last_validation_date or '-'} "
                                f"({partner.last_validation_type or '-'})"),
            ("Security profile anniversary", partner.profile_anniversary),
            ("Last profile review", partner.last_profile_review_date),
            ("Facilities", len(partner.facilities)), ("Contacts", len(partner.contacts)),
            ("Company Officers", ", ".join(partner.company_officers["name"].astype(str))
             or "NONE (no one can submit agreements)"),
            ("Shipments on file", len(partner.shipments))]
    return pd.DataFrame({"what": pd.array([r[0] for r in rows], dtype="str"),
                         "value": pd.array(["-" if r[1] is None else str(r[1]) for r in rows],
                                           dtype="str")})


def catalogue_banner(catalogue: Any) -> Any:
    """An HTML banner naming the catalogue; loud when it is a demonstration."""
    import html

    from IPython.display import HTML

    label = html.escape(f"{catalogue.label} (version {catalogue.version})")
    if catalogue.is_demonstration:
        return HTML("<div style='background:#fff3cd;border:2px solid #b8860b;padding:6px'>"
                    f"<b>{label}</b>: criteria text and Must/Should levels are for "
                    "demonstration; import CBP's official tables for real validations.</div>")
    return HTML(f"<div><b>Criteria catalogue:</b> {label}</div>")


def partner_notice(partner: Any) -> Any:
    """A red banner when the partner is suspended or removed from the program (nothing
    otherwise), for the top of a notebook; the checklist's header carries it too."""
    from IPython.display import HTML

    from ctpat_audit.ui.checklist import partner_status_notice

    return HTML(partner_status_notice(partner.account_id, partner.status))


def validation_links(workspace: str | Path, user: str | None = None) -> Any:
    """For a table's account-id column (``plain_table(..., cell_html={"account_id": ...})``):
    each account id becomes a link that opens that partner's validation notebook, the
    user's own copy with the partner set (:class:`~ctpat_audit.server.user_notebooks.
    PartnerNotebooks`, made when its row is shown). ``user``: default the launched user
    (``CTPAT_USER``), else the login name. The link is relative to the notebook's folder, so
    JupyterLab opens it as a notebook beside the one showing the table. Run anywhere but
    in the user's folder (a headless run), the ids stay plain text and nothing is made."""
    import html

    user = user or os.environ.get(ENV_USER) or None
    if Path.cwd().resolve() != user_folder(workspace, user).resolve():
        return lambda account_id: html.escape(str(account_id))
    partners = PartnerNotebooks(workspace, user)

    def link(account_id: Any) -> str:
        text = str(account_id)
        href = Path(os.path.relpath(partners.notebook(text), Path.cwd())).as_posix()
        return (f"<a class='ctpat-open-partner' href='{html.escape(href)}' title='Open the "
                f"validation of partner {html.escape(text)}'>{html.escape(text)}</a>")

    return link


def gap_table(session: Any) -> pd.DataFrame:
    """Units not answered 'meets' or 'not applicable' (the gaps left), Must first."""
    a = session.answers(include_unanswered=True)
    gaps = a[~a["status"].isin(["meets", "not_applicable"])].copy()
    gaps["status"] = gaps["status"].fillna("unanswered").replace("nan", "unanswered")
    gaps["notes"] = gaps["notes"].fillna("")
    gaps = gaps.sort_values(["level", "category"], key=lambda s: s.map({"Must": 0, "Should": 1})
                            if s.name == "level" else s, kind="stable")
    cols = ["criterion_id", "facility_id", "category", "level", "status", "notes"]
    if not session.facilities:
        cols.remove("facility_id")
    return gaps[cols].reset_index(drop=True)


#: Set by :func:`start_voila`: the URL prefix under which Voila serves the notebook's folder.
ENV_FILES_URL = "CTPAT_FILES_URL"


def sign_step(page: Any, *, out_dir: str | Path = "reports", as_of: Any = None,
              key_path: str | Path | None = None) -> Any:
    """The notebooks' "Render report and sign" panel
    (:class:`~ctpat_audit.ui.sign_panel.RenderAndSignPanel`) for a
    :class:`~ctpat_audit.ui.session_page.SessionPage`, rendering with the report pipeline of
    ``ctpat-audit report`` (:func:`~ctpat_audit.reports.pipeline.render_report`) into
    ``out_dir/<account>/<session>/`` (relative to the notebook's folder by default). Under
    Voila (:func:`start_voila`) the PDF link goes through Voila's file handler."""
    from ctpat_audit.reports.pipeline import render_report
    from ctpat_audit.ui.sign_panel import RenderAndSignPanel

    day = as_of.isoformat() if hasattr(as_of, "isoformat") else as_of

    def render(session_id: str) -> Path:
        return render_report(page.workspace, session_id, out_dir, as_of=day)

    return RenderAndSignPanel(page, render, key_path=key_path,
                              link_prefix=os.environ.get(ENV_FILES_URL, ""))
