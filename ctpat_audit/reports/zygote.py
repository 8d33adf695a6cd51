"""A warm parent process that forks one fresh child per report notebook run.

Isolation between reports needs a fresh process per report, not a fresh interpreter and kernel:
the zygote (``python -m ctpat_audit.reports.zygote``) imports everything a report needs and
loads what every report shares (the warm-up code, :data:`REPORT_WARMUP`: pandas, the report
modules, the criteria catalogues, the baseline and cost tables), creates one IPython shell
(:class:`~ctpat_audit.reports.cell_runner.CellRunner`) and then, per run, ``fork()``s. The child
runs the notebook's cells in that shell and streams each cell's outputs back; then it exits.
Whatever a report changes (its namespace, module globals, matplotlib settings, environment
variables, ``sys.modules``) dies with its child: the zygote itself never runs report code, so
the next child starts from the same untouched state.

The zygote starts no thread before forking (checked after the warm-up) and holds no open
database connection. It exits when its parent closes the control socket (or dies), killing
and reaping any child still running; it reaps every child (``waitpid``), so their CPU time is
counted in the parent's ``RUSAGE_CHILDREN`` like any subprocess.

Protocol: the parent (:class:`Zygote`) and the zygote share a Unix socket pair. Per run the
parent makes a new socket pair and passes one end to the zygote with the request
(``SCM_RIGHTS``); the zygote forks, answers the child's process id, and the child talks to
the parent directly on that socket (JSON lines): the run request in, then ``start`` /
``done`` (outputs) / ``changed`` / ``end`` events out. A child that dies leaves the socket
closed (:class:`ChildDied`); a cell that runs too long is killed (:class:`CellTimeout`).
"""
from __future__ import annotations

import contextlib
import json
import os
import select
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ctpat_audit.core.errors import ForkError

__all__ = ["REPORT_WARMUP", "CellTimeout", "ChildDied", "ForkError", "Zygote"]

#: Run in the zygote before any fork, with ``workspace`` (the workspace folder or None) in
#: its namespace: the imports of the report notebook and the data every report shares. No
#: partner data: whatever is loaded here is shared by every child.
REPORT_WARMUP = """\
from ctpat_audit.reports.sections import preload
preload(workspace)
"""


class ChildDied(ForkError):
    """The forked report process ended before its run was complete."""


class CellTimeout(ForkError):
    """A cell ran longer than the run's time limit (its process was killed)."""


def _json_default(value: Any) -> Any:
    """What the kernel's json_clean does for the values rich outputs hold."""
    import base64
    import datetime as dt

    if isinstance(value, (bytes, bytearray, memoryview)):
        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    if hasattr(value, "item"):  # numpy scalars
        return value.item()
    return str(value)


def _line(obj: Any) -> bytes:
    return (json.dumps(obj, default=_json_default) + "\n").encode()


class Zygote:
    """A running zygote (started at once, warming up in the background).

    ``warmup``: the code run before forking (default :data:`REPORT_WARMUP`); ``workspace``:
    the folder the warm-up may preload from. :meth:`run` forks a child per notebook run; it
    is safe to call from several threads (runs are started one at a time and then proceed
    in parallel). Close it (or use ``with``) to stop the zygote.
    """

    def __init__(self, warmup: str = REPORT_WARMUP, *, workspace: str | Path | None = None,
                 ready_timeout: float = 120.0) -> None:
        self.ready_timeout = ready_timeout
        self._ctrl, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        config = json.dumps({"warmup": warmup,
                             "workspace": str(workspace) if workspace else None})
        env = dict(os.environ)
        env.setdefault("MPLBACKEND", "module://matplotlib_inline.backend_inline")
        try:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "ctpat_audit.reports.zygote", str(theirs.fileno())],
                pass_fds=[theirs.fileno()], stdin=subprocess.PIPE, env=env)
            assert self.proc.stdin is not None
            self.proc.stdin.write(config.encode())  # the warm-up, read once at start
            self.proc.stdin.close()
        finally:
            theirs.close()
        self._lock = threading.Lock()
        self._buffer = b""
        self._ready: bool | None = None
        self._error = ""
        self.runs = 0  # children forked so far
        self.child_cpu_s = 0.0  # CPU seconds of the children that completed their run

    # --- control channel -------------------------------------------------------------------
    def _read_line(self, timeout: float | None) -> dict[str, Any]:
        end = None if timeout is None else time.monotonic() + timeout
        while b"\n" not in self._buffer:
            left = None if end is None else max(0.0, end - time.monotonic())
            ready, _, _ = select.select([self._ctrl], [], [], left)
            if not ready:
                raise ForkError("the report zygote did not answer in time")
            chunk = self._ctrl.recv(65536)
            if not chunk:
                raise ForkError("the report zygote exited" + self._exit_note())
            self._buffer += chunk
        line, self._buffer = self._buffer.split(b"\n", 1)
        reply: dict[str, Any] = json.loads(line)
        return reply

    def _exit_note(self) -> str:
        code = self.proc.poll()
        return f" (exit code {code})" if code is not None else ""

    def wait_ready(self, timeout: float | None = None) -> None:
        """Block until the warm-up is done; :class:`ForkError` if it failed."""
        with self._lock:
            self._wait_ready_locked(timeout)

    def _wait_ready_locked(self, timeout: float | None) -> None:
        if self._ready is None:
            try:
                reply = self._read_line(self.ready_timeout if timeout is None else timeout)
            except ForkError as exc:
                self._ready, self._error = False, str(exc)
            else:
                self._ready = bool(reply.get("ready"))
                self._error = str(reply.get("error", ""))
        if not self._ready:
            raise ForkError(f"the report zygote's warm-up failed: {self._error}")

    def _fork(self) -> tuple[int, socket.socket]:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            with self._lock:
                self._wait_ready_locked(None)
                try:
                    socket.send_fds(self._ctrl, [b"F"], [theirs.fileno()])
                except OSError as exc:
                    raise ForkError(f"the report zygote is gone ({exc})") from None
                reply = self._read_line(60.0)
        except BaseException:
            ours.close()
            raise
        finally:
            theirs.close()
        if "pid" not in reply:
            ours.close()
            raise ForkError(f"fork failed: {reply.get('error')}")
        self.runs += 1
        return int(reply["pid"]), ours

    # --- runs --------------------------------------------------------------------------------
    def run(self, cells: list[tuple[int, str]], *, cwd: str | None = None,
            env: dict[str, str] | None = None, cell_timeout: float | None = None
            ) -> Iterator[dict[str, Any]]:
        """Run ``(index, source)`` code cells in a new child; yields its events in order:
        ``{"start": i}``, ``{"done": i, "count": n, "outputs": [...], "failed": bool}``,
        ``{"changed": i, "outputs": [...]}`` and finally ``{"end": True, "language_info":
        {...}}`` (after the first failed cell, nothing more runs).

        ``cwd`` and ``env`` (default: this process's) are the child's. A cell still running
        after ``cell_timeout`` seconds is killed (:class:`CellTimeout`); a child that ends
        early raises :class:`ChildDied`.
        """
        pid, sock = self._fork()
        reader = sock.makefile("rb")
        try:
            sock.sendall(_line({"cells": cells, "cwd": cwd or os.getcwd(),
                                "env": dict(os.environ if env is None else env)}))
            while True:
                sock.settimeout(cell_timeout)
                try:
                    raw = reader.readline()
                except TimeoutError:
                    _kill(pid)
                    raise CellTimeout(f"a cell ran longer than {cell_timeout:g} s") from None
                except OSError as exc:
                    raise ChildDied(f"the report process failed ({exc})") from None
                if not raw:
                    raise ChildDied("the report process ended unexpectedly (killed, or it "
                                    "exited from within a cell)")
                event: dict[str, Any] = json.loads(raw)
                if event.get("end"):
                    self.child_cpu_s += float(event.get("cpu_s") or 0.0)
                yield event
                if event.get("end"):
                    return
        finally:
            reader.close()
            sock.close()
            _kill(pid)  # a child still running (the caller stopped reading) is not needed

    def close(self) -> None:
        """Stop the zygote (and any child still running)."""
        with contextlib.suppress(OSError):
            self._ctrl.close()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def __enter__(self) -> Zygote:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _kill(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.kill(pid, signal.SIGKILL)


# --- the zygote process (python -m ctpat_audit.reports.zygote FD) ---------------------------

def _send(sock: socket.socket, obj: Any) -> None:
    sock.sendall(_line(obj))


def _child(ctrl: socket.socket, fd: int, runner: Any) -> None:
    """In the forked child: read the run request, run the cells, report each one."""
    ctrl.close()
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    null = os.open(os.devnull, os.O_RDWR)
    for std in (0, 1):  # stray writes to the descriptors are not report output
        os.dup2(null, std)
    os.close(null)
    sock = socket.socket(fileno=fd)
    request = json.loads(sock.makefile("rb").readline() or b"{}")
    os.environ.clear()
    os.environ.update(request.get("env") or {})
    os.environ.setdefault("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    os.chdir(request.get("cwd") or ".")
    import random

    random.seed()  # each report its own random state, not a copy of the zygote's
    if "numpy" in sys.modules:
        sys.modules["numpy"].random.seed()
    from ctpat_audit.reports.cell_runner import language_info

    runner.run([(int(i), str(src)) for i, src in request.get("cells", [])],
               cell_started=lambda i: _send(sock, {"start": i}),
               cell_done=lambda i, n, outs, failed: _send(
                   sock, {"done": i, "count": n, "outputs": outs, "failed": failed}),
               outputs_changed=lambda i, outs: _send(sock, {"changed": i, "outputs": outs}))
    import resource

    use = resource.getrusage(resource.RUSAGE_SELF)
    _send(sock, {"end": True, "language_info": language_info(),
                 "cpu_s": round(use.ru_utime + use.ru_stime, 4)})
    sys.stdout.flush()
    sock.close()


def _reap(children: set[int]) -> None:
    while children:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            children.clear()
            return
        if pid == 0:
            return
        children.discard(pid)


def _serve(ctrl: socket.socket, runner: Any) -> None:
    children: set[int] = set()
    try:
        while True:
            ready, _, _ = select.select([ctrl], [], [], 1.0)
            _reap(children)
            if not ready:
                continue
            try:
                msg, fds, _, _ = socket.recv_fds(ctrl, 16, 4)
            except OSError:
                return
            if not msg:
                return  # the parent closed the socket or died
            for fd in fds:
                try:
                    pid = os.fork()
                except OSError as exc:
                    os.close(fd)
                    _send(ctrl, {"error": str(exc)})
                    continue
                if pid == 0:
                    code = 0
                    try:
                        _child(ctrl, fd, runner)
                    except BaseException:
                        code = 1
                    finally:
                        os._exit(code)
                os.close(fd)
                children.add(pid)
                _send(ctrl, {"pid": pid})
    finally:
        for pid in children:
            _kill(pid)
        for pid in list(children):
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, 0)


def main(argv: list[str]) -> None:
    ctrl = socket.socket(fileno=int(argv[0]))
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides when runs stop
    config = json.loads(sys.stdin.read() or "{}")
    try:
        os.environ.setdefault("PYDEVD_DISABLE_FILE_VALIDATION", "1")
        from ctpat_audit.reports.cell_runner import CellRunner

        exec(compile(config.get("warmup") or "", "<zygote warm-up>", "exec"),
             {"workspace": config.get("workspace")})
        runner = CellRunner()
        if threading.active_count() != 1:
            raise ForkError("the warm-up started a thread; forking it would be unsafe")
    except BaseException as exc:
        _send(ctrl, {"ready": False, "error": f"{type(exc).__name__}: {exc}"})
        return
    _send(ctrl, {"ready": True})
    _serve(ctrl, runner)


if __name__ == "__main__":
    main(sys.argv[1:])
    # Its children are reaped and it holds nothing to save: no interpreter teardown (freeing
    # every module pandas, scipy and IPython loaded took about 0.5 s, which the parent's
    # close() waited for at the end of every command)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)
