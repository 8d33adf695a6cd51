"""Shipments and exams of the whole workspace in a date window, per port and mode, counted
from the two small files kept beside the shipments file
(:mod:`ctpat_audit.workspace.shipment_counts`: per partner, port, mode and month, and per
day, sorted by date).

The shipments file is sorted by partner, so a 12-month window is spread over every row group
of it: counted there, it means reading half the history (tens of millions of rows at national
scale). Here a window takes the months wholly inside it from the monthly file and the days of
its partial months at either end from the daily one (DuckDB skips the row groups of other
days): a few hundred thousand rows instead of millions, with the same counts, partners
included. The files of a workspace imported by an older release are written at its first
count; a workspace that cannot be written (a read-only copy) is counted from the shipments.
"""
from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from ctpat_audit.workspace import bulk_query, shipment_counts

if TYPE_CHECKING:
    import duckdb

    from ctpat_audit.workspace.reference import Workspace

GROUPS = shipment_counts.GROUPS


def window_counts(ws: Workspace, start: dt.date, end: dt.date,
                  by: tuple[str, ...] = GROUPS) -> pd.DataFrame:
    """The ``by`` columns (of port_code, mode), ``partners`` (distinct accounts),
    ``shipments`` and ``examined`` of the entries from ``start`` (included) to ``end``
    (excluded), sorted by ``by``; None of the columns when the workspace has no shipments."""
    if not set(by) <= set(GROUPS):
        raise ValueError(f"exam counts are kept by {', '.join(GROUPS)} only")
    cols = ", ".join(by)
    path = ws.shipments_path()
    if path is None or not path.is_file():
        return pd.DataFrame({**{c: pd.Series(dtype="str") for c in by},
                             **{c: pd.Series(dtype="int64")
                                for c in ("partners", "shipments", "examined")}})
    con = bulk_query.connect()
    try:
        rows = _rows(con, path, start, end)
        frame = con.execute(
            f"SELECT {cols}, count(DISTINCT account_id) AS partners, sum(n) AS shipments, "
            f"sum(k) AS examined FROM ({rows}) GROUP BY ALL ORDER BY {cols}").df()
    finally:
        con.close()
    for c in by:
        frame[c] = frame[c].astype("str")
    for c in ("partners", "shipments", "examined"):
        frame[c] = frame[c].astype("int64")
    return frame


def _rows(con: duckdb.DuckDBPyConnection, path: Path, start: dt.date, end: dt.date) -> str:
    """SQL of (port_code, mode, account_id, n, k) rows that add up to the window."""
    kept = {name: shipment_counts.kept(con, path, name) for name in shipment_counts.PERIODS}
    days_file, months_file = kept["exam-days"], kept["exam-months"]
    if days_file is None or months_file is None:  # not writable: count the shipments
        return (f"SELECT {', '.join(GROUPS)}, account_id, 1 AS n, CAST(examined AS INT) AS k "
                f"FROM {bulk_query.parquet(path)} WHERE entry_date >= '{start}' "
                f"AND entry_date < '{end}'")
    months, days = bulk_query.parquet(months_file), bulk_query.parquet(days_file)
    first = start if start.day == 1 else (pd.Timestamp(start) + pd.offsets.MonthBegin()).date()
    last = end.replace(day=1)
    cols = f"{', '.join(GROUPS)}, account_id, n, k"
    if first >= last:  # no whole month inside
        return f"SELECT {cols} FROM {days} WHERE period >= '{start}' AND period < '{end}'"
    return (f"SELECT {cols} FROM {months} WHERE period >= '{first}' AND period < '{last}' "
            f"UNION ALL SELECT {cols} FROM {days} WHERE period >= '{start}' "
            f"AND period < '{first}' "
            f"UNION ALL SELECT {cols} FROM {days} WHERE period >= '{last}' AND period < '{end}'")
