"""Run notebook cells in an IPython shell and capture their outputs as a Jupyter kernel would.

A forked report process (:mod:`ctpat_audit.reports.zygote`) executes the report notebook here
instead of in a kernel: no ZeroMQ, no kernel protocol, no second interpreter. What a kernel
would send to the notebook client becomes nbformat outputs, in the order a kernel sends them:

* ``print`` and writes to ``sys.stdout``/``sys.stderr``: ``stream`` outputs, consecutive writes
  to the same stream joined into one (a kernel flushes its buffer the same way);
* ``display(...)`` and ``IPython.display`` objects: ``display_data`` (``display_id`` updates
  and ``clear_output`` included); a cell's last expression: ``execute_result`` with the cell's
  execution count;
* an exception: an ``error`` output (``ename``, ``evalue``, the IPython traceback), and the
  run stops there, as papermill stops a kernel run.

Matplotlib's inline backend works as in a kernel (``MPLBACKEND`` names it; figures are shown
at the end of a cell). :class:`CellRunner` is created once in the warm parent, before any fork:
the shell's set-up is shared and every forked child gets an untouched copy.
"""
from __future__ import annotations

import io
import sys
from collections.abc import Callable
from typing import Any

from IPython.core.displayhook import DisplayHook
from IPython.core.displaypub import DisplayPublisher
from IPython.core.interactiveshell import InteractiveShell

__all__ = ["INLINE_BACKEND", "CellRunner", "language_info"]

INLINE_BACKEND = "module://matplotlib_inline.backend_inline"
Output = dict[str, Any]


def language_info() -> dict[str, Any]:
    """The notebook's ``language_info``, as ipykernel reports it for this interpreter."""
    return {"name": "python", "version": sys.version.split()[0], "mimetype": "text/x-python",
            "codemirror_mode": {"name": "ipython", "version": sys.version_info[0]},
            "pygments_lexer": "ipython3", "nbconvert_exporter": "python",
            "file_extension": ".py"}


class _Outputs:
    """The outputs of every cell run so far; ``current`` is the running cell's."""

    def __init__(self) -> None:
        self.cells: dict[int, list[Output]] = {}
        self.current: list[Output] = []
        self.index = -1
        self.clear_pending = False
        self.display_ids: dict[str, list[tuple[int, int]]] = {}  # id -> (cell, output index)
        self.touched: set[int] = set()  # earlier cells whose outputs a display update changed

    def start(self, index: int) -> None:
        self.index, self.current, self.clear_pending = index, [], False
        self.cells[index] = self.current

    def add(self, out: Output, display_id: str | None = None) -> None:
        if self.clear_pending:
            self._clear()
        if out["output_type"] == "stream" and self.current and \
                self.current[-1]["output_type"] == "stream" and \
                self.current[-1]["name"] == out["name"]:
            self.current[-1]["text"] += out["text"]
            return
        if display_id:
            self.display_ids.setdefault(display_id, []).append((self.index, len(self.current)))
        self.current.append(out)

    def update(self, display_id: str, data: dict[str, Any], metadata: dict[str, Any]) -> None:
        for cell, pos in self.display_ids.get(display_id, []):
            outs = self.cells.get(cell, [])
            if pos < len(outs):
                outs[pos]["data"], outs[pos]["metadata"] = data, metadata
                if cell != self.index:
                    self.touched.add(cell)

    def clear(self, wait: bool) -> None:
        if wait:
            self.clear_pending = True
        else:
            self._clear()

    def _clear(self) -> None:
        self.current.clear()
        self.clear_pending = False
        for key, places in list(self.display_ids.items()):
            self.display_ids[key] = [p for p in places if p[0] != self.index]


class _Stream(io.TextIOBase):
    """``sys.stdout``/``sys.stderr`` of a run: every write becomes a stream output."""

    def __init__(self, name: str, outputs: _Outputs) -> None:
        self.name_, self.outputs = name, outputs

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return "utf-8"

    def writable(self) -> bool:
        return True

    def isatty(self) -> bool:
        return False

    def write(self, text: str) -> int:
        if not isinstance(text, str):
            raise TypeError(f"write() argument must be str, not {type(text).__name__}")
        if text:
            self.outputs.add({"output_type": "stream", "name": self.name_, "text": text})
        return len(text)


class _Publisher(DisplayPublisher):
    """``display()``: display_data outputs (ipykernel's ZMQDisplayPublisher, without ZMQ)."""

    outputs: _Outputs | None = None

    def publish(self, data: dict[str, Any], metadata: dict[str, Any] | None = None,
                source: Any = None, *, transient: dict[str, Any] | None = None,
                update: bool = False, **kwargs: Any) -> None:
        assert self.outputs is not None
        display_id = (transient or {}).get("display_id")
        if update and display_id:
            self.outputs.update(display_id, data, metadata or {})
            return
        self.outputs.add({"output_type": "display_data", "data": data,
                          "metadata": metadata or {}}, display_id)

    def clear_output(self, wait: bool = False) -> None:
        assert self.outputs is not None
        self.outputs.clear(wait)


class _DisplayHook(DisplayHook):
    """A cell's last expression: an execute_result output (ipykernel's ZMQShellDisplayHook)."""

    outputs: _Outputs | None = None
    _pending: Output | None = None

    def start_displayhook(self) -> None:
        self._pending = {"output_type": "execute_result", "execution_count": self.prompt_count,
                         "data": {}, "metadata": {}}

    def write_output_prompt(self) -> None:
        pass

    def write_format_data(self, format_dict: dict[str, Any],
                          md_dict: dict[str, Any] | None = None) -> None:
        if self._pending is not None:
            self._pending["data"], self._pending["metadata"] = format_dict, md_dict or {}

    def finish_displayhook(self) -> None:
        if self._pending is not None and self.outputs is not None:
            self.outputs.add(self._pending)
        self._pending = None


class _ReportShell(InteractiveShell):
    """An InteractiveShell whose tracebacks become error outputs (ipykernel's shell does the
    same over ZeroMQ)."""

    outputs: _Outputs | None = None

    def _showtraceback(self, etype: Any, evalue: Any, stb: list[str]) -> None:
        assert self.outputs is not None
        self.outputs.add({"output_type": "error", "ename": str(etype.__name__),
                          "evalue": str(evalue), "traceback": list(stb)})

    def enable_gui(self, gui: Any = None) -> None:  # no event loop to integrate with
        pass


class CellRunner:
    """One IPython shell (no command history) that runs a notebook's code cells."""

    def __init__(self) -> None:
        from traitlets.config import Config

        cfg = Config()
        cfg.HistoryManager.enabled = False  # used once; and kernels share no history file
        self.outputs = _Outputs()
        self.shell = _ReportShell.instance(config=cfg, display_pub_class=_Publisher,
                                           displayhook_class=_DisplayHook)
        self.shell.outputs = self.outputs
        pub, hook = self.shell.display_pub, self.shell.displayhook
        assert isinstance(pub, _Publisher) and isinstance(hook, _DisplayHook)
        pub.outputs = hook.outputs = self.outputs

    def run(self, cells: list[tuple[int, str]],
            cell_started: Callable[[int], None],
            cell_done: Callable[[int, int | None, list[Output], bool], None],
            outputs_changed: Callable[[int, list[Output]], None]) -> None:
        """Run ``(index, source)`` cells in order, stopping after the first that fails.

        ``cell_done(index, execution_count, outputs, failed)`` after each cell;
        ``outputs_changed(index, outputs)`` when a display update changed an earlier cell.
        """
        out, err = sys.stdout, sys.stderr
        sys.stdout, sys.stderr = _Stream("stdout", self.outputs), _Stream("stderr", self.outputs)
        try:
            for index, source in cells:
                cell_started(index)
                self.outputs.start(index)
                result = self.shell.run_cell(source, store_history=True)
                failed = not result.success
                if failed and not any(o["output_type"] == "error" for o in self.outputs.current):
                    # an error IPython reported without a traceback output (e.g. while
                    # formatting the result): still an error output, as a kernel replies
                    exc = result.error_in_exec or result.error_before_exec
                    self.outputs.add({"output_type": "error",
                                      "ename": type(exc).__name__ if exc else "Error",
                                      "evalue": str(exc or ""), "traceback": []})
                for cell in sorted(self.outputs.touched):
                    outputs_changed(cell, self.outputs.cells[cell])
                self.outputs.touched.clear()
                cell_done(index, result.execution_count, self.outputs.current, failed)
                if failed:
                    break
        finally:
            sys.stdout, sys.stderr = out, err
