"""Calling synchronous code that runs its own event loop from where a loop may already run."""
from __future__ import annotations

import concurrent.futures
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def run_outside_event_loop(fn: Callable[[], T]) -> T:
    """Run ``fn`` here, or in a worker thread when an asyncio loop runs in this thread.

    pyHanko's synchronous API calls ``asyncio.run`` inside, which fails under Jupyter's loop.
    """
    import asyncio

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return fn()
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(fn).result()
