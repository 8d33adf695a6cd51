"""The team server's JupyterHub settings: who may sign in, what each person's server opens.

:func:`configure` fills a JupyterHub ``Config`` for a workspace; the shipped
``jupyterhub_config.py`` (beside this module) calls it, and ``ctpat-audit hub`` runs JupyterHub
with that file, so an administrator who runs their own hub gets exactly the same rules.

* **Who signs in.** A password account of ``jupyterhub-nativeauthenticator`` (people sign up at
  ``/hub/signup``; an admin approves each sign-up at ``/hub/authorize``), or the machine's own
  accounts through PAM. Either way the person must then be an *active* row of the workspace's
  ``people`` (:mod:`ctpat_audit.workspace.people`): anyone else gets a plain refusal page at
  sign-in and again before any server starts (:class:`TeamAuthenticator`); admins of the hub are
  the people whose role is ``admin``.
* **One server per person**, started by :func:`prepare_server` (the spawner's pre-spawn hook):
  the person's own copies of the notebooks their role uses, in ``WORKSPACE/notebooks/<e-mail>/``
  (:func:`~ctpat_audit.server.user_notebooks.prepare_user_notebooks`), saved without outputs,
  no terminal. The server's environment names the workspace; JupyterHub adds
  ``JUPYTERHUB_USER``, which is the identity every action of the toolkit takes there.
* **State** in ``WORKSPACE/hub/`` (folder mode 0700): JupyterHub's database (accounts,
  password hashes, tokens) and cookie secret, both created at first start with mode 0600
  (:func:`prepare_state`).

With the native authenticator every server runs under the system account that runs the hub
(there are no per-person system accounts): people are authenticated and named in the record,
but not isolated from each other by the operating system. PAM runs each person's server under
their own system account.
"""
from __future__ import annotations

import os
import secrets
import shutil
import sys
from pathlib import Path
from typing import Any

from jinja2 import ChoiceLoader, FileSystemLoader
from jupyterhub.auth import Authenticator, PAMAuthenticator
from jupyterhub.spawner import LocalProcessSpawner, SimpleLocalProcessSpawner
from nativeauthenticator import NativeAuthenticator
from nativeauthenticator.handlers import TEMPLATE_DIR as NATIVE_TEMPLATES
from nativeauthenticator.handlers import LoginHandler as NativeLoginHandler
from tornado import web
from traitlets import Unicode

from ctpat_audit.core.errors import AccessError, CtpatError, InputError
from ctpat_audit.server.lab_quiet import LAB_QUIET
from ctpat_audit.server.user_notebooks import prepare_user_notebooks
from ctpat_audit.workspace import people
from ctpat_audit.workspace.reference import open_workspace

__all__ = ["AUTHENTICATORS", "CONFIG_FILE", "HUB_FOLDER", "NOTEBOOKS_BY_ROLE",
           "TeamAuthenticator", "TeamLoginHandler", "TeamNativeAuthenticator",
           "TeamPAMAuthenticator",
           "checked_person", "configure", "prepare_server", "prepare_state", "state_files"]

#: The shipped configuration file (``jupyterhub -f`` takes it).
CONFIG_FILE = Path(__file__).with_name("jupyterhub_config.py")
HUB_FOLDER = "hub"  # inside the workspace
#: The notebooks each role's server opens (the first one is shown at start).
NOTEBOOKS_BY_ROLE: dict[str, tuple[str, ...]] = {
    "specialist": ("validation.ipynb",),
    "supervisor": ("portfolio.ipynb", "validation.ipynb"),
    "admin": (),
}
#: Modules folders of Debian's node packages: Debian's configurable-http-proxy finds its
#: libraries there, which a node not built by Debian does not search by itself.
DEBIAN_NODE_PATH = ("/usr/share/nodejs", "/usr/lib/nodejs")
# no terminals (a shell would bypass the notebooks), notebooks saved without outputs
SERVER_ARGS = ("--ServerApp.terminals_enabled=False",
               "--FileContentsManager.pre_save_hook=ctpat_audit.server.lab.strip_outputs_on_save",
               *LAB_QUIET)


def checked_person(workspace: str | Path, hub_user: str) -> people.Person:
    """The active person of ``hub_user``, else ``web.HTTPError(403)`` with a plain message."""
    try:
        return people.team_person(workspace, hub_user)
    except AccessError as exc:
        raise web.HTTPError(403, str(exc)) from exc


class TeamAuthenticator(Authenticator):
    """Lets in only the workspace's active people, and makes its ``admin`` people hub admins.

    Mixed into the password and PAM authenticators below: they say who someone is, this says
    whether that person may use the workspace (checked at sign-in and again before a server
    starts, since ``refresh_pre_spawn`` is on).
    """

    workspace = Unicode(config=True, help="The ctpat-audit workspace folder of this hub.")

    def check_allowed(self, username: str, authentication: Any = None) -> bool:
        checked_person(self.workspace, username)
        return True

    def is_admin(self, handler: Any, authentication: dict[str, Any]) -> bool:
        return checked_person(self.workspace, authentication["name"]).role == "admin"

    async def refresh_user(self, user: Any, handler: Any = None) -> dict[str, Any]:
        person = checked_person(self.workspace, user.name)
        return {"name": user.name, "admin": person.role == "admin"}


class TeamLoginHandler(NativeLoginHandler):
    """The password sign-in page, able to show a refusal at sign-in on itself.

    JupyterHub shows an error raised while signing in (a person not in ``people``) as the
    sign-in form with the message, rendered synchronously; the native authenticator's page
    renders only asynchronously, so this renders it either way.
    """

    _sync = False
    _sync_templates_added = False

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not TeamLoginHandler._sync_templates_added:  # the native pages' templates, last
            env = self.settings["jinja2_env_sync"]
            env.loader = ChoiceLoader([env.loader, FileSystemLoader([NATIVE_TEMPLATES])])
            TeamLoginHandler._sync_templates_added = True

    def render_template(self, name: str, **ns: Any) -> Any:
        if self._sync and name != "error.html":
            ns["sync"] = True
        return super().render_template(name, **ns)

    def _render(self, login_error: str | None = None, username: str | None = None,
                sync: bool = False, **_ns: Any) -> Any:
        self._sync = sync
        try:
            return super()._render(login_error=login_error, username=username)
        finally:
            self._sync = False


class TeamNativeAuthenticator(TeamAuthenticator, NativeAuthenticator):
    """Password accounts: sign-up at ``/hub/signup``, approved by an admin."""

    def get_handlers(self, app: Any) -> list[tuple[str, Any]]:
        return [(path, TeamLoginHandler if handler is NativeLoginHandler else handler)
                for path, handler in super().get_handlers(app)]


class TeamPAMAuthenticator(TeamAuthenticator, PAMAuthenticator):
    """The machine's own accounts (PAM); each person's server runs as them."""


AUTHENTICATORS: dict[str, tuple[type[Authenticator], type[LocalProcessSpawner]]] = {
    "native": (TeamNativeAuthenticator, SimpleLocalProcessSpawner),
    "pam": (TeamPAMAuthenticator, LocalProcessSpawner),
}


def state_files(workspace: str | Path) -> dict[str, Path]:
    """Where the hub keeps its state in the workspace."""
    folder = Path(workspace) / HUB_FOLDER
    return {"folder": folder, "db": folder / "jupyterhub.sqlite",
            "cookie_secret": folder / "jupyterhub_cookie_secret",
            "proxy_pid": folder / "jupyterhub-proxy.pid", "log": folder / "jupyterhub.log",
            "homes": folder / "home"}


def _create_secret_file(path: Path, text: str) -> bool:
    """Write ``text`` to a new file created with mode 0600; False when it exists already."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return False
    with os.fdopen(fd, "w", encoding="ascii") as fh:
        fh.write(text)
    return True


def prepare_state(workspace: str | Path) -> dict[str, Path]:
    """Create ``WORKSPACE/hub/`` (mode 0700), the cookie secret and an empty database file
    (mode 0600) at first start; later starts keep them and tighten modes that were widened."""
    files = state_files(workspace)
    files["folder"].mkdir(mode=0o700, exist_ok=True)
    files["homes"].mkdir(mode=0o700, exist_ok=True)
    os.chmod(files["folder"], 0o700)
    _create_secret_file(files["cookie_secret"], secrets.token_hex(32) + "\n")
    _create_secret_file(files["db"], "")
    for name in ("cookie_secret", "db"):
        os.chmod(files[name], 0o600)
    return files


def _node_path() -> str:
    present = [p for p in DEBIAN_NODE_PATH if Path(p).is_dir()]
    current = [p for p in os.environ.get("NODE_PATH", "").split(os.pathsep) if p]
    return os.pathsep.join(dict.fromkeys(current + present))


def configure(c: Any, workspace: str | Path, authenticator: str = "native") -> None:
    """Set every ctpat-audit rule on the JupyterHub config ``c`` for ``workspace``.

    Settings an administrator may change afterwards (address, port, TLS, password rules) are
    set here to safe defaults: 127.0.0.1, port 8000, passwords of at least 10 characters that
    are not common ones, 5 failed sign-ins before a 10-minute wait.
    """
    if authenticator not in AUTHENTICATORS:
        raise InputError("authenticator", authenticator, " or ".join(AUTHENTICATORS))
    ws = open_workspace(workspace)  # a workspace at the current schema, or a plain error
    files = prepare_state(ws.path)
    auth_class, spawner_class = AUTHENTICATORS[authenticator]
    c.JupyterHub.authenticator_class = auth_class
    c.JupyterHub.spawner_class = spawner_class
    c.TeamAuthenticator.workspace = str(ws.path)
    c.JupyterHub.ip = "127.0.0.1"
    c.JupyterHub.port = 8000
    c.JupyterHub.hub_ip = "127.0.0.1"
    c.JupyterHub.db_url = f"sqlite:///{files['db']}"
    c.JupyterHub.cookie_secret_file = str(files["cookie_secret"])
    c.ConfigurableHTTPProxy.pid_file = str(files["proxy_pid"])
    os.environ["NODE_PATH"] = _node_path()  # the proxy inherits the hub's environment
    # admins: the workspace's active admins (their sign-up needs no approval)
    c.Authenticator.admin_users = {p.hub_user for p in _people(ws.path)
                                   if p.active and p.role == "admin"}
    c.Authenticator.any_allow_config = True  # the people table is the allow list
    c.Authenticator.refresh_pre_spawn = True
    c.Authenticator.auth_refresh_age = 60
    c.NativeAuthenticator.open_signup = False
    c.NativeAuthenticator.minimum_password_length = 10
    c.NativeAuthenticator.check_common_password = True
    c.NativeAuthenticator.allowed_failed_logins = 5
    c.NativeAuthenticator.seconds_before_next_try = 600
    c.Spawner.cmd = [sys.executable, "-m", "jupyterhub.singleuser"]
    args = list(SERVER_ARGS)
    if authenticator == "native" and hasattr(os, "geteuid") and os.geteuid() == 0:
        args.append("--ServerApp.allow_root=True")  # containers run the hub as root
    c.Spawner.args = args
    c.Spawner.environment = {"CTPAT_WORKSPACE": str(ws.path)}
    c.Spawner.pre_spawn_hook = prepare_server
    c.Spawner.default_url = "/lab"
    c.SimpleLocalProcessSpawner.home_dir_template = str(files["homes"] / "{username}")


def _people(workspace: Path) -> list[people.Person]:
    conn = open_workspace(workspace).connect(readonly=True)
    try:
        return people.person_rows(conn)
    finally:
        conn.close()


def prepare_server(spawner: Any) -> None:
    """Pre-spawn hook: refuse anyone not active in ``people`` (403, plain words); otherwise
    copy the notebooks of the person's role into their folder and open the server there."""
    workspace = spawner.authenticator.workspace
    person = checked_person(workspace, spawner.user.name)
    names = NOTEBOOKS_BY_ROLE[person.role]
    try:
        copies = prepare_user_notebooks(workspace, person.email, names)
    except CtpatError as exc:
        raise web.HTTPError(500, f"your notebooks could not be prepared: {exc}") from exc
    if isinstance(spawner, SimpleLocalProcessSpawner):
        Path(spawner.home_dir).mkdir(mode=0o700, parents=True, exist_ok=True)
    elif isinstance(spawner, LocalProcessSpawner) and os.geteuid() == 0:
        _hand_over(copies.folder, spawner.user.name)  # PAM: runs as the person's account
    spawner.notebook_dir = str(copies.folder)
    spawner.default_url = f"/lab/tree/{names[0]}" if names else "/lab"


def _hand_over(folder: Path, system_user: str) -> None:
    """Give the person's system account their notebook folder (PAM servers run as them)."""
    shutil.chown(folder, user=system_user)
    for path in folder.rglob("*"):
        shutil.chown(path, user=system_user)
