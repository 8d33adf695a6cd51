"""``ctpat-audit hub``: JupyterHub for a team on this machine, in front of one workspace.

:func:`start_hub` runs ``jupyterhub`` with the shipped configuration
(:data:`~ctpat_audit.server.hub_config.CONFIG_FILE`, rules in
:mod:`ctpat_audit.server.hub_config`), its working folder and state in ``WORKSPACE/hub/``,
and waits until it answers. It listens on 127.0.0.1 unless another address is given; the
hub's internal ports (its own API and the proxy's) are chosen free at start.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from ctpat_audit.core.errors import LabError
from ctpat_audit.server.hub_config import AUTHENTICATORS, CONFIG_FILE, prepare_state
from ctpat_audit.server.lab import free_port
from ctpat_audit.workspace import people
from ctpat_audit.workspace.reference import open_workspace

__all__ = ["HubServer", "start_hub", "PROXY_COMMAND", "first_admin_steps"]

PROXY_COMMAND = "configurable-http-proxy"
DEFAULT_PORT = 8000


@dataclass
class HubServer:
    """A running JupyterHub; ``url`` is its address for people (``/hub/``)."""

    process: subprocess.Popen[bytes]
    ip: str
    port: int
    log_path: Path
    workspace: Path
    authenticator: str

    @property
    def base_url(self) -> str:
        host = f"[{self.ip}]" if ":" in self.ip else self.ip
        return f"http://{host}:{self.port}/"

    @property
    def url(self) -> str:
        return self.base_url + "hub/"

    def output(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace") \
            if self.log_path.is_file() else ""

    def wait_ready(self, timeout: float = 60.0) -> None:
        """Wait until the hub answers ``/hub/api`` through its proxy; LabError if it exits
        or the time runs out."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise LabError("jupyterhub", f"exited with code {self.process.returncode}",
                               self.output())
            try:
                with urllib.request.urlopen(self.base_url + "hub/api", timeout=2) as r:
                    if "version" in json.loads(r.read()):
                        return
            except (urllib.error.URLError, ConnectionError, TimeoutError, OSError,
                    ValueError):
                pass
            time.sleep(0.3)
        raise LabError("jupyterhub", f"not ready after {timeout:.0f} s", self.output())

    def stop(self, timeout: float = 20.0) -> None:
        """Stop the hub; it stops the proxy and every person's server with it."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout)

    def __enter__(self) -> HubServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def first_admin_steps(workspace: str | Path, url: str, authenticator: str) -> list[str]:
    """What the person who started the hub should do next, one line each."""
    conn = open_workspace(workspace).connect(readonly=True)
    try:
        everyone = people.person_rows(conn)
    finally:
        conn.close()
    admins = [p for p in everyone if p.active and p.role == "admin"]
    ws = Path(workspace)
    if not admins:
        return ["No admin yet. Add the first one (then restart the hub):",
                f"  ctpat-audit people add -w {ws} --hub-user NAME --name \"Full Name\" "
                "--email you@cbp.example --role admin"]
    names = ", ".join(p.hub_user for p in admins)
    if authenticator == "native":
        lines = [f"Admins: {names}. An admin who has no password yet signs up first, now, at "
                 f"{url}signup with that user name (an admin's sign-up needs no approval).",
                 f"Everyone else signs up at {url}signup; an admin approves them at "
                 f"{url}authorize."]
    else:
        lines = [f"Admins: {names}. People sign in with their system account's password."]
    lines.append(f"Only active people of the workspace get a server: ctpat-audit people add "
                 f"-w {ws} ... (ctpat-audit people list shows them; {len(everyone)} now).")
    return lines


def start_hub(workspace: str | Path, *, ip: str = "127.0.0.1", port: int | None = None,
              authenticator: str = "native", wait: bool = True,
              timeout: float = 90.0) -> HubServer:
    """Start JupyterHub for ``workspace`` (see the module docstring); the log goes to
    ``WORKSPACE/hub/jupyterhub.log`` (mode 0600). ``port`` defaults to 8000."""
    ws = open_workspace(workspace)
    if authenticator not in AUTHENTICATORS:
        raise LabError("jupyterhub", f"unknown authenticator {authenticator!r}: "
                       + " or ".join(AUTHENTICATORS))
    if shutil.which(PROXY_COMMAND) is None:
        raise LabError("jupyterhub", f"{PROXY_COMMAND} is not installed; install Debian's "
                       "package: apt-get install node-configurable-http-proxy (make install "
                       "does)")
    files = prepare_state(ws.path)
    port = port or DEFAULT_PORT
    args = [sys.executable, "-m", "jupyterhub", "-f", str(CONFIG_FILE),
            f"--JupyterHub.ip={ip}", f"--JupyterHub.port={port}",
            f"--JupyterHub.hub_port={free_port()}",
            f"--ConfigurableHTTPProxy.api_url=http://127.0.0.1:{free_port()}"]
    env = dict(os.environ, CTPAT_WORKSPACE=str(ws.path), CTPAT_HUB_AUTHENTICATOR=authenticator)
    env.pop(people.HUB_USER_ENV, None)  # the hub itself acts for nobody
    log = files["log"]
    fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    os.chmod(log, 0o600)
    with os.fdopen(fd, "ab") as out:
        proc = subprocess.Popen(args, env=env, cwd=files["folder"], stdout=out,
                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    hub = HubServer(proc, ip, port, log, ws.path, authenticator)
    if wait:
        try:
            hub.wait_ready(timeout)
        except BaseException:
            hub.stop()
            raise
    return hub
