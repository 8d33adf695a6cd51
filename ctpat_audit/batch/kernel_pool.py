"""Warm-kernel notebook execution: a pool of pre-started kernels and a papermill engine.

Starting a Jupyter kernel and importing pandas, matplotlib and ctpat_audit costs seconds per
report; the report itself costs far less. :class:`KernelPool` keeps ``size`` kernels started
*ahead of time* in background threads, each already past a warm-up cell (the imports), so a
report gets a ready kernel at once.

Isolation comes first: every kernel is handed out **once** and shut down after its report.
Nothing a report does (its user namespace, globals of imported modules, matplotlib rcParams,
environment variables) can reach the next report, because the next report runs in another
process that was started before the first report's data existed.

:class:`WarmKernelEngine` is a papermill engine (registered as ``ctpat-warm`` through the
``papermill.engine`` entry point) that executes a notebook on a pooled kernel::

    papermill.execute_notebook(src, dst, parameters=..., engine_name="ctpat-warm",
                               kernel_pool=pool)

Without ``kernel_pool`` it uses a process-wide pool (:func:`default_pool`).
"""
from __future__ import annotations

import asyncio
import atexit
import contextlib
import logging
import os
import queue
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Self

from ctpat_audit.core.errors import CtpatError, KernelStartError
from ctpat_audit.reports.execute import KERNEL_ARGUMENTS

__all__ = ["WARMUP_CODE", "KernelPool", "KernelStartError", "WarmKernelEngine", "default_pool"]

log = logging.getLogger(__name__)

#: Run before a kernel is handed out (in the zygote, before forking): the imports every
#: report notebook needs, the built-in catalogue and matplotlib's fonts. No partner data:
#: whatever is loaded here is shared by every kernel.
WARMUP_CODE = """\
import io
import pandas, numpy, matplotlib
matplotlib.use("module://matplotlib_inline.backend_inline")
import matplotlib.pyplot as _plt
import scipy.stats
import ctpat_audit, ctpat_audit.workspace.reference
import ctpat_audit.sessions.session, ctpat_audit.analysis.exam_metrics
try:
    import ctpat_audit.reports.sections, ctpat_audit.sessions.findings, ctpat_audit.ui.charts
    import ctpat_audit.analysis.review, ctpat_audit.criteria.catalogue
    ctpat_audit.criteria.catalogue.load_catalogue()  # the built-in catalogue, parsed once
except ImportError:
    pass
# Fonts and the Agg renderer load on the first drawing: draw once, with no data.
_fig = _plt.figure(figsize=(1, 1)); _fig.text(0.5, 0.5, "warm-up"); _fig.savefig(io.BytesIO())
_plt.close(_fig)
del _fig, _plt
"""


@dataclass
class _Warm:
    km: Any  # jupyter_client AsyncKernelManager with a running kernel
    started_s: float  # seconds the start and warm-up took (reported by stats)


@dataclass
class PoolStats:
    """Counters of one pool: kernels started and handed out, time a caller waited."""

    started: int = 0
    handed_out: int = 0
    wait_s: float = 0.0
    start_s: list[float] = field(default_factory=list)


def _run(coro: Any) -> Any:
    """Run a coroutine on a private event loop (we are in a plain thread)."""
    loop = asyncio.new_event_loop()
    try:
        return loop.run_until_complete(coro)
    finally:
        loop.close()


class KernelPool:
    """``size`` warm kernels kept ready; :meth:`acquire` hands one out for a single use.

    ``fork=True`` (default): kernels are forked from a pre-imported zygote process
    (:mod:`ctpat_audit.batch.kernel_fork`), so a new kernel costs a fork and the kernel's own
    set-up, not an interpreter start and the imports; ``fork=False`` starts each kernel as
    its own ``python -m ipykernel_launcher`` and runs the warm-up in it.

    ``warmup``: code run in each kernel before it is handed out; ``cwd``: the kernels'
    working folder; ``env``: extra environment variables for the kernels. Replacements are
    started as soon as a kernel is handed out, so a steady stream of reports never waits for
    start-up when the pool is at least as large as the number of concurrent reports.
    """

    def __init__(self, size: int = 1, *, kernel_name: str = "python3", warmup: str = WARMUP_CODE,
                 cwd: str | Path | None = None, env: dict[str, str] | None = None,
                 start_timeout: float = 60.0, fork: bool = True) -> None:
        if size < 1:
            raise ValueError("a kernel pool holds at least one kernel")
        self.size, self.kernel_name, self.warmup = size, kernel_name, warmup
        self.cwd = str(cwd) if cwd else None
        self.env = dict(env or {})
        self.start_timeout = start_timeout
        self.fork = fork
        self._zygote: Any = None
        self._zygote_lock = threading.Lock()
        self.stats = PoolStats()
        self._ready: queue.Queue[_Warm | BaseException] = queue.Queue()
        self._lock = threading.Lock()
        self._closed = False
        self._threads: list[threading.Thread] = []
        for _ in range(size):
            self._spawn()

    # --- life cycle ----------------------------------------------------------------------
    def _spawn(self) -> None:
        with self._lock:
            if self._closed:
                return
            thread = threading.Thread(target=self._start_one, daemon=True,
                                      name="ctpat-kernel-start")
            self._threads = [t for t in self._threads if t.is_alive()] + [thread]
        thread.start()

    def _start_one(self) -> None:
        t0 = time.perf_counter()
        try:
            km = self._start_kernel()
        except BaseException as exc:
            self._ready.put(exc)
            return
        with self._lock:
            closed = self._closed
            if not closed:
                self.stats.started += 1
                self.stats.start_s.append(time.perf_counter() - t0)
        if closed:
            _shutdown(km)
            return
        self._ready.put(_Warm(km, time.perf_counter() - t0))

    def _start_kernel(self) -> Any:
        from jupyter_client.manager import AsyncKernelManager

        km = AsyncKernelManager(kernel_name=self.kernel_name)
        env = {**os.environ, **self.env, "PYDEVD_DISABLE_FILE_VALIDATION": "1"}
        warmup = self.warmup
        if self.fork:
            import uuid

            from ctpat_audit.batch.kernel_fork import ForkProvisioner

            km.kernel_id = str(uuid.uuid4())
            prov = ForkProvisioner(kernel_id=km.kernel_id, kernel_spec=km.kernel_spec,
                                   parent=km)
            prov.fork_server = self._fork_server()
            km.provisioner = prov
            warmup = ""  # the zygote imported it all before forking

        async def start_and_warm() -> None:
            await km.start_kernel(cwd=self.cwd, env=env, extra_arguments=list(KERNEL_ARGUMENTS))
            kc = km.client()
            kc.start_channels()
            try:
                await kc.wait_for_ready(timeout=self.start_timeout)
                if warmup.strip():
                    reply = await kc.execute_interactive(
                        warmup, store_history=False, timeout=self.start_timeout,
                        output_hook=lambda msg: None)
                    content = reply["content"]
                    if content.get("status") != "ok":
                        raise KernelStartError(
                            self.kernel_name, "warm-up cell failed: "
                            f"{content.get('ename')}: {content.get('evalue')}")
            finally:
                kc.stop_channels()

        try:
            _run(start_and_warm())
        except BaseException:
            _shutdown(km)
            raise
        return km

    def _fork_server(self) -> Any:
        """The zygote this pool forks kernels from (started, and warmed up, on first use)."""
        from ctpat_audit.batch.kernel_fork import ForkServer

        with self._zygote_lock:
            if self._zygote is None:
                self._zygote = ForkServer(self.warmup, timeout=self.start_timeout)
            return self._zygote

    def acquire(self, timeout: float | None = None) -> Any:
        """A started, warmed kernel manager for one use (a replacement starts at once).

        Give it back with :meth:`release`, which shuts the kernel down.
        """
        if self._closed:
            raise KernelStartError(self.kernel_name, "the pool is closed")
        t0 = time.perf_counter()
        try:
            got = self._ready.get(timeout=timeout or self.start_timeout * 2)
        except queue.Empty:
            raise KernelStartError(self.kernel_name, "no kernel became ready in time") from None
        self._spawn()  # keep ``size`` kernels warming while this one works
        if isinstance(got, BaseException):
            if isinstance(got, CtpatError):
                raise got
            raise KernelStartError(self.kernel_name, f"start failed: {got}") from got
        with self._lock:
            self.stats.handed_out += 1
            self.stats.wait_s += time.perf_counter() - t0
        return got.km

    def release(self, km: Any) -> None:
        """Shut a used kernel down (never reused: that is the isolation guarantee)."""
        threading.Thread(target=_shutdown, args=(km,), daemon=True,
                         name="ctpat-kernel-stop").start()

    def close(self) -> None:
        """Stop starting kernels and shut down the warm ones."""
        with self._lock:
            self._closed = True
            threads = list(self._threads)
        for t in threads:
            t.join(timeout=self.start_timeout)
        while True:
            try:
                got = self._ready.get_nowait()
            except queue.Empty:
                break
            if isinstance(got, _Warm):
                _shutdown(got.km)
        with self._zygote_lock:
            if self._zygote is not None:
                self._zygote.close()
                self._zygote = None

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _shutdown(km: Any) -> None:
    """Kill a kernel now; if no event loop can run (interpreter exit), signal its process."""
    try:
        loop = asyncio.new_event_loop()
    except Exception:
        loop = None
    if loop is not None:
        coro = km.shutdown_kernel(now=True)
        try:
            loop.run_until_complete(coro)
            return
        except Exception as exc:
            log.debug("kernel shutdown: %s", exc)
            coro.close()
        finally:
            loop.close()
    pid = getattr(getattr(km, "provisioner", None), "pid", None)
    if pid:
        with contextlib.suppress(OSError):
            os.kill(int(pid), 9)


_DEFAULT: KernelPool | None = None
_DEFAULT_LOCK = threading.Lock()


def default_pool(size: int | None = None) -> KernelPool:
    """The process-wide pool (created on first use; size from ``CTPAT_KERNEL_POOL``, else 1)."""
    global _DEFAULT
    with _DEFAULT_LOCK:
        if _DEFAULT is None:
            _DEFAULT = KernelPool(size or int(os.environ.get("CTPAT_KERNEL_POOL", "1")))
            atexit.register(_DEFAULT.close)
        return _DEFAULT


class WarmKernelEngine:
    """papermill engine ``ctpat-warm``: executes on a kernel from a :class:`KernelPool`.

    Extra keyword of ``papermill.execute_notebook``: ``kernel_pool`` (default
    :func:`default_pool`). The kernel name of the pool wins over the notebook's.

    This class only delegates to a subclass of papermill's ``NBClientEngine`` built on first
    use: papermill loads its entry points while it is itself being imported, so this module
    must not import papermill at import time.
    """

    @classmethod
    def execute_notebook(cls, nb: Any, kernel_name: str, **kwargs: Any) -> Any:
        return _engine().execute_notebook(nb, kernel_name, **kwargs)

    @classmethod
    def nb_kernel_name(cls, nb: Any, name: str | None = None) -> str:
        return str(_engine().nb_kernel_name(nb, name))

    @classmethod
    def nb_language(cls, nb: Any, language: str | None = None) -> str:
        return str(_engine().nb_language(nb, language))


_ENGINE: type[Any] | None = None  # a subclass of papermill's (untyped) NBClientEngine


def _engine() -> type[Any]:
    global _ENGINE
    if _ENGINE is None:
        from papermill.engines import NBClientEngine

        class _PooledEngine(NBClientEngine):
            @classmethod
            def execute_managed_notebook(cls, nb_man: Any, kernel_name: str,
                                         **kwargs: Any) -> Any:
                return _execute_managed(cls, nb_man, kernel_name, **kwargs)

        _ENGINE = _PooledEngine
    return _ENGINE


def _execute_managed(cls: type, nb_man: Any, kernel_name: str, log_output: bool = False,
                     stdout_file: Any = None, stderr_file: Any = None, start_timeout: int = 60,
                     execution_timeout: Any = None, **kwargs: Any) -> Any:
    """Run the managed notebook on a pooled kernel, then shut that kernel down."""
    from papermill.clientwrap import PapermillNotebookClient

    pool: KernelPool = kwargs.pop("kernel_pool", None) or default_pool()
    kwargs.pop("input_path", None)
    kwargs.pop("startup_timeout", None)
    timeout = execution_timeout or kwargs.pop("timeout", None)
    km = pool.acquire(timeout=max(float(start_timeout), 1.0) * 2)
    try:
        client = PapermillNotebookClient(
            nb_man, km=km, timeout=timeout, startup_timeout=start_timeout,
            kernel_name=pool.kernel_name, log=logging.getLogger("papermill"),
            log_output=log_output, stdout_file=stdout_file, stderr_file=stderr_file, **kwargs)
        # papermill writes the whole notebook before and after every cell (progress for a
        # reader of the output file); a pooled run writes it at the start and the end only
        nb_man.save = lambda **_kw: None
        try:
            return client.execute()
        finally:
            del nb_man.save  # notebook_complete() saves the final state (also on errors)
            if client.kc is not None:
                client.kc.stop_channels()
    finally:
        pool.release(km)
