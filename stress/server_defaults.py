"""Recipe 8: the servers ``ctpat-audit lab`` starts (JupyterLab, and Voila with ``--voila``)
listen on loopback only, with a strong token, and refuse a request without it.

Each server is started by the real command (``ctpat-audit lab --no-browser``, which calls
``ctpat_audit.server.lab.start_lab``/``start_voila``), and a kernel is started in it (Lab: the
kernels API; Voila: the page, which runs the notebook). Then the listening sockets of the
command's whole process tree (the command, the server, its kernels) are read from the
operating system (psutil, which reads ``/proc/net/tcp``, ``tcp6``, ``udp``, ``udp6`` against
each process's socket inodes): ``server_not_local`` counts listening addresses that are not
loopback (``0.0.0.0`` and ``::`` included), ``server_sockets_read`` the sockets read, and
``server_port_unseen`` a server whose advertised port is not among them (the reading would
then prove nothing). ``server_unrefused`` counts requests without the token, or with a wrong
one, that were not refused; ``server_weak_token`` tokens shorter than 32 characters. The
request helpers are those of ``tests/test_lab.py``.
"""
from __future__ import annotations

import ipaddress
import json
import queue
import re
import signal
import socket
import subprocess
import threading
import time
import urllib.request
from pathlib import Path

import psutil
from session_helpers import ACCOUNT, OFFICER, make_workspace
from test_lab import _cli_lab, _get

from . import Figures

URL = re.compile(r"Open: (http://([^/:]+):(\d+)/(\S*)\?token=(\S+))")


def is_loopback(address: str) -> bool:
    """``127.0.0.0/8``, ``::1`` and IPv4-mapped loopback; a wildcard is not loopback."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    mapped = getattr(ip, "ipv4_mapped", None)
    return (mapped or ip).is_loopback


def listening(pid: int) -> list[tuple[int, str, int]]:
    """(pid, address, port) of every listening socket of ``pid`` and its descendants: TCP in
    LISTEN state and UDP sockets bound without a peer."""
    root = psutil.Process(pid)
    found = []
    for proc in [root, *root.children(recursive=True)]:
        try:
            conns = proc.net_connections(kind="inet")
        except (psutil.NoSuchProcess, psutil.ZombieProcess):
            continue
        for c in conns:
            udp = c.type == socket.SOCK_DGRAM
            if c.laddr and (c.status == psutil.CONN_LISTEN or (udp and not c.raddr)):
                found.append((proc.pid, c.laddr.ip, c.laddr.port))
    return found


def _api(base: str, token: str, path: str, method: str = "GET") -> dict:
    req = urllib.request.Request(base + path, data=b"{}" if method == "POST" else None,
                                 method=method, headers={"Authorization": f"token {token}",
                                                         "Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=60) as r:
        return dict(json.load(r))


PORTS = ("shell_port", "iopub_port", "stdin_port", "control_port", "hb_port")


def _kernel_ports(pid: int) -> set[int]:
    """The ports the connection files of the kernels under ``pid`` name (``-f FILE``)."""
    ports: set[int] = set()
    for child in psutil.Process(pid).children(recursive=True):
        try:
            args = child.cmdline()
        except psutil.NoSuchProcess:
            continue
        if "-f" in args[:-1]:
            info = json.loads(Path(args[args.index("-f") + 1]).read_text())
            ports |= {int(info[k]) for k in PORTS}
    return ports


def _start_kernel(base: str, token: str, pid: int, timeout: float = 120) -> None:
    """Start a kernel in JupyterLab and wait until every port of its connection file
    listens (the server reports a kernel idle only once a client talks to it)."""
    _api(base, token, "api/kernels", "POST")
    deadline = time.monotonic() + timeout
    while True:
        try:
            wanted = _kernel_ports(pid)
        except (OSError, ValueError):  # the connection file is being written
            wanted = set()
        if wanted and wanted <= {at for _, _, at in listening(pid)}:
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"the kernel's ports {sorted(wanted)} did not all listen")
        time.sleep(0.25)


def _url(proc: subprocess.Popen, name: str, timeout: float = 300) -> re.Match[str]:
    """The ``Open: URL`` line the command prints once its server answers (a thread reads, so
    a command that hangs without a word cannot hang the recipe)."""
    lines: queue.Queue[str] = queue.Queue()

    def pump() -> None:
        for line in proc.stdout:  # type: ignore[union-attr]
            lines.put(line)

    threading.Thread(target=pump, daemon=True).start()
    seen: list[str] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            seen.append(lines.get(timeout=1))
        except queue.Empty:
            if proc.poll() is not None and lines.empty():
                break
            continue
        m = URL.search(seen[-1])
        if m:
            return m
    err = proc.stderr.read() if proc.poll() is not None else ""  # type: ignore[union-attr]
    raise RuntimeError(f"ctpat-audit lab ({name}) printed no URL in {timeout:.0f} s: "
                       f"{''.join(seen)[-500:]}{err[-1500:]}")


def _stop(proc: subprocess.Popen) -> None:
    """Ctrl-C, as a person stops the command (it stops its server); anything of its process
    tree still running after that is killed."""
    if proc.poll() is None:
        tree = psutil.Process(proc.pid).children(recursive=True)
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
        for child in tree:
            if child.is_running():
                child.kill()


def check_server(ws: Path, name: str, quick: bool) -> Figures:
    """Start one server with the command, a kernel in it, and read what it exposes."""
    extra, probe = {"lab": ((), "api/status"), "voila": (("--voila", "--user", OFFICER), "")}[name]
    proc = _cli_lab("-w", str(ws), "--account", ACCOUNT, *extra)
    try:
        m = _url(proc, name)
        url, host, port, token = m.group(1), m.group(2), int(m.group(3)), m.group(5)
        base = f"http://{host}:{port}/"
        if name == "lab":
            _start_kernel(base, token, proc.pid)
        elif not quick:
            assert _get(url, timeout=300)[0] == 200  # the page runs the notebook
        found = listening(proc.pid)
        wide = [f"{name} pid {p} {a}:{at}" for p, a, at in found if not is_loopback(a)]
        unrefused = 0
        for bad in (base + probe, base + probe + "?token=wrong"):
            status, where, _ = _get(bad)
            refused = status in (401, 403) or (status == 302 and "/login" in where)
            unrefused += 0 if refused else 1
    finally:
        _stop(proc)
    return {"server_unrefused": unrefused, "server_not_local": len(wide),
            "server_sockets_read": len(found),
            "server_kernel_sockets": sum(1 for p, _, at in found
                                         if at != port and p != proc.pid),
            "server_port_unseen": 0 if any(at == port for _, _, at in found) else 1,
            "server_weak_token": 0 if len(token) >= 32 else 1,
            "server_not_local_examples": wide}


def run(root: Path, quick: bool = False, seed: int = 0) -> Figures:
    """One server after the other (as a person starts them). Quick: Voila's page is not
    opened (no kernel of its own)."""
    ws = make_workspace(Path(root) / "ws")
    figures: dict = {"servers_checked": 0}
    for name in ("lab", "voila"):
        got = check_server(ws.path, name, quick)
        figures["servers_checked"] += 1
        for k, v in got.items():
            figures[k] = figures.get(k, 0 if isinstance(v, int) else []) + v
    figures["server_not_local_examples"] = figures["server_not_local_examples"][:5]
    return figures
