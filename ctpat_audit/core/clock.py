"""The one clock: what time it is, and how a moment is written down.

Every function that records a time takes a ``clock`` argument (a :data:`Clock`, default
:func:`utc_now`), so time rules (annual windows, due dates, signing times) are testable. Stored
timestamps are UTC ISO 8601 with microseconds (:func:`timestamp`), so two events in one second
keep their order and every stored time has the same form.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from ctpat_audit.core.errors import InputError

__all__ = ["Clock", "utc_now", "timestamp", "today"]

Clock = Callable[[], dt.datetime]


def utc_now() -> dt.datetime:
    """Now, timezone-aware, in UTC."""
    return dt.datetime.now(dt.UTC)


def timestamp(at: dt.datetime) -> str:
    """``at`` as stored: UTC, ISO 8601, microseconds (``2026-12-02T17:15:31.000123+00:00``)."""
    if at.tzinfo is None:
        raise InputError("clock", at, "a timezone-aware datetime (UTC)")
    return at.astimezone(dt.UTC).isoformat(timespec="microseconds")


def today() -> dt.date:
    """Today's date where the user is: the default "as of" day of reports and portfolio views."""
    return dt.date.today()
