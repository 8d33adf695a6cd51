"""Fresh kernels forked from a pre-imported template process (a "zygote").

Starting a Python kernel costs interpreter start-up plus the imports of pandas, matplotlib
and ctpat_audit: seconds of CPU per kernel. The zygote pays that once: it imports everything
(running the pool's warm-up code) and then, on request, ``fork()``s. The child becomes a brand
new IPython kernel (``IPKernelApp``) on the connection file it was given. Each child is a
separate process with copy-on-write memory: whatever a report changes in it (user namespace,
module globals, matplotlib rcParams, environment) dies with it and never reaches the zygote or
the next kernel.

The zygote starts no threads and opens no ZeroMQ context before forking (both are unsafe to
fork); the child does that after the fork. The zygote exits when its parent closes its stdin,
and every kernel watches the zygote (``JPY_PARENT_PID``) and exits when it goes.

:class:`ForkServer` runs in the worker and talks to the zygote over two pipes (JSON lines);
:class:`ForkProvisioner` is a jupyter_client provisioner whose ``launch_kernel`` asks the fork
server instead of spawning ``python -m ipykernel_launcher``.
"""
from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
from typing import Any

from jupyter_client.provisioning.local_provisioner import LocalProvisioner

from ctpat_audit.core.errors import ForkError
from ctpat_audit.reports.execute import KERNEL_ARGUMENTS

__all__ = ["ForkError", "ForkProvisioner", "ForkServer"]


class ForkServer:
    """A zygote process (pre-imported with ``warmup``) that forks fresh kernels on request."""

    def __init__(self, warmup: str, *, timeout: float = 120.0) -> None:
        self._lock = threading.Lock()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "ctpat_audit.batch.kernel_fork"], stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, stderr=None, text=True, bufsize=1,
            env={**os.environ, "MPLBACKEND": "module://matplotlib_inline.backend_inline"})
        reply = self._call({"warmup": warmup})
        if not reply.get("ready"):
            raise ForkError(f"kernel zygote warm-up failed: {reply.get('error')}")

    def _call(self, request: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            if self.proc.poll() is not None or self.proc.stdin is None or self.proc.stdout is None:
                raise ForkError("the kernel zygote is not running")
            self.proc.stdin.write(json.dumps(request) + "\n")
            self.proc.stdin.flush()
            line = self.proc.stdout.readline()
        if not line:
            raise ForkError("the kernel zygote exited")
        result: dict[str, Any] = json.loads(line)
        return result

    def fork_kernel(self, connection_file: str, cwd: str | None,
                    env: dict[str, str] | None) -> int:
        """Fork a kernel listening on ``connection_file``; its process id."""
        reply = self._call({"connection_file": connection_file, "cwd": cwd,
                            "env": dict(env or os.environ)})
        if "pid" not in reply:
            raise ForkError(f"fork failed: {reply.get('error')}")
        return int(reply["pid"])

    def close(self) -> None:
        if self.proc.poll() is None:
            try:
                if self.proc.stdin:
                    self.proc.stdin.close()
                self.proc.wait(timeout=5)
            except (OSError, subprocess.TimeoutExpired):
                self.proc.kill()
                self.proc.wait()


class _ForkedProcess:
    """Popen-like handle of a kernel that is the zygote's child (reaped by the zygote)."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.returncode: int | None = None
        self.stdin = self.stdout = self.stderr = None  # no pipes: output goes to /dev/null

    def poll(self) -> int | None:
        if self.returncode is None:
            try:
                os.kill(self.pid, 0)
            except ProcessLookupError:
                self.returncode = 0
            except PermissionError:
                pass
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        import time

        end = None if timeout is None else time.monotonic() + timeout
        while self.poll() is None:
            if end is not None and time.monotonic() > end:
                raise subprocess.TimeoutExpired(str(self.pid), timeout or 0)
            time.sleep(0.02)
        return self.returncode or 0

    def send_signal(self, signum: int) -> None:
        try:
            os.kill(self.pid, signum)
        except ProcessLookupError:
            pass

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)


class ForkProvisioner(LocalProvisioner):
    """Launches the kernel by forking the zygote (``fork_server`` set before start)."""

    fork_server: ForkServer | None = None

    async def launch_kernel(self, cmd: list[str], **kwargs: Any) -> Any:
        if self.fork_server is None:
            raise ForkError("ForkProvisioner needs a fork_server")
        km = self.parent
        if km is None:
            raise ForkError("ForkProvisioner runs only inside a kernel manager")
        pid = self.fork_server.fork_kernel(km.connection_file, kwargs.get("cwd"),
                                           kwargs.get("env"))
        # jupyter_client annotates `process` as a Popen; it only calls poll, wait,
        # send_signal, kill and terminate on it, which _ForkedProcess has
        self.process = _ForkedProcess(pid)  # type: ignore[assignment]
        self.pid, self.pgid = pid, pid  # the child calls setsid(): its own process group
        return self.connection_info


# --- the zygote (python -m ctpat_audit.batch.kernel_fork) ------------------------------------------

def _child(request: dict[str, Any], zygote_pid: int) -> None:
    """In the forked child: become a fresh IPython kernel on the given connection file."""
    os.setsid()
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    os.environ.clear()
    os.environ.update(request.get("env") or {})
    os.environ["JPY_PARENT_PID"] = str(zygote_pid)
    if request.get("cwd"):
        os.chdir(request["cwd"])
    import random

    random.seed()  # each kernel its own random state, not a copy of the zygote's
    if "numpy" in sys.modules:
        sys.modules["numpy"].random.seed()
    from ipykernel.kernelapp import IPKernelApp

    app = IPKernelApp.instance()
    # the trait's default was read from the environment when the zygote imported ipykernel;
    # set it here so the kernel exits when the zygote (and so the worker) goes away
    app.parent_handle = zygote_pid
    # no command history: a report kernel is used once (and kernels would contend for the
    # shared history database)
    app.initialize(["-f", request["connection_file"], "--HistoryManager.enabled=False",
                    *KERNEL_ARGUMENTS])
    if "matplotlib" in sys.modules and app.shell is not None:
        with contextlib.suppress(Exception):  # a kernel without plotting still runs
            app.shell.enable_matplotlib("inline")
    app.start()


def _zygote() -> None:
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # kernels are reaped automatically
    out = sys.stdout
    first = json.loads(sys.stdin.readline() or "{}")
    try:
        # the pool's own warm-up code (imports), as a kernel would run it
        exec(compile(first.get("warmup", ""), "<kernel warm-up>", "exec"), {})
        # imported once here, used by every child: the kernel application and what its
        # initialize() imports (the debugger pulls in debugpy: 0.6 s of CPU per kernel
        # otherwise). None of these start a thread or a ZeroMQ context on import.
        os.environ.setdefault("PYDEVD_DISABLE_FILE_VALIDATION", "1")
        import ipykernel.comm
        import ipykernel.debugger
        import ipykernel.ipkernel
        import ipykernel.kernelapp
        import ipykernel.zmqshell  # noqa: F401
        if threading.active_count() != 1:
            raise ForkError("the warm-up started a thread; forking it would be unsafe")
        out.write(json.dumps({"ready": True}) + "\n")
    except BaseException as exc:
        out.write(json.dumps({"ready": False, "error": f"{type(exc).__name__}: {exc}"}) + "\n")
        out.flush()
        return
    out.flush()
    me = os.getpid()
    for line in sys.stdin:
        request = json.loads(line)
        try:
            pid = os.fork()
        except OSError as exc:
            out.write(json.dumps({"error": str(exc)}) + "\n")
            out.flush()
            continue
        if pid == 0:
            try:
                _child(request, me)
            finally:
                os._exit(0)
        out.write(json.dumps({"pid": pid}) + "\n")
        out.flush()


if __name__ == "__main__":
    _zygote()
