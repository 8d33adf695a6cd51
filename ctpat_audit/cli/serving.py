"""Running a started server in the foreground until Ctrl-C, for ``lab`` and ``hub``."""
from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterable
from typing import Protocol

import click


class _Server(Protocol):
    @property
    def process(self) -> object: ...  # a subprocess.Popen with ``wait()``

    def stop(self) -> None: ...


def serve_until_stopped(server: _Server, lines: Iterable[str],
                        after: Callable[[], object] | None = None) -> None:
    """Print ``lines``, call ``after`` (opening a browser), then wait on the server's process.

    Ctrl-C stops the server and returns normally, at any moment once the server runs: the
    user presses it as soon as the URL is printed, before the "Press Ctrl-C" line or while
    the browser opens, and a server left running behind a command that said it stopped
    would keep the port and the kernels.
    """
    if threading.current_thread() is threading.main_thread():
        # Ctrl-C is how these commands stop, also where this process was started with
        # SIGINT ignored (a background job of a script inherits that, and Python then
        # leaves it ignored): the server would otherwise never stop on it
        signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        for line in lines:
            click.echo(line)
        if after is not None:
            after()
        server.process.wait()  # type: ignore[attr-defined]
    except KeyboardInterrupt:
        click.echo("stopping ...")
    finally:
        server.stop()
