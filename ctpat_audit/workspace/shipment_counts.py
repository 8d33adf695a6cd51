"""Shipments and exams per partner, port, mode and day, and per month, kept beside the
shipments file (:func:`ctpat_audit.workspace.reference.derived_file`: removed with it).

The shipments file is sorted by partner, so a date window is spread over every row group of
it. These two small files are sorted by date: a reader of a window takes whole months from the
first and the days of its partial months from the second
(:mod:`ctpat_audit.analysis.exam_counts`). The import writes them with the shipments file;
:func:`kept` writes them for a file an older release imported. Only counting happens here.
"""
from __future__ import annotations

import errno
from pathlib import Path
from typing import TYPE_CHECKING

from ctpat_audit.core.files import replacing
from ctpat_audit.workspace import bulk_query
from ctpat_audit.workspace.reference import derived_file

if TYPE_CHECKING:
    import duckdb

GROUPS = ("port_code", "mode")
#: derived file -> (what it is counted from, the period of a row); the months are added up
#: from the days, which are counted from the shipments (one pass over the history)
PERIODS = {"exam-days": (None, "CAST(entry_date AS DATE)"),
            "exam-months": ("exam-days", "CAST(date_trunc('month', period) AS DATE)")}


def write(source: Path, con: duckdb.DuckDBPyConnection) -> None:
    """Write both files for the shipments file ``source`` (which the caller has just written),
    with the caller's DuckDB (one memory limit for the whole import)."""
    for name in PERIODS:
        kept(con, source, name)


def kept(con: duckdb.DuckDBPyConnection, source: Path, name: str) -> Path | None:
    """The derived file ``name`` of the shipments file, written if missing; None where the
    workspace cannot be written."""
    kept = derived_file(source, name)
    if kept.exists():
        return kept
    base, period = PERIODS[name]
    if base is None:
        counted = (f"SELECT {period} AS period, {', '.join(GROUPS)}, account_id, count(*) AS n, "
                   f"count_if(examined) AS k FROM {bulk_query.parquet(source)}")
    else:
        counted = (f"SELECT {period} AS period, {', '.join(GROUPS)}, account_id, sum(n) AS n, "
                   f"sum(k) AS k FROM {bulk_query.parquet(derived_file(source, base))}")
    try:
        with replacing(kept) as tmp:
            con.execute(f"COPY ({counted} GROUP BY ALL ORDER BY period) TO "
                        f"'{str(tmp).replace(chr(39), chr(39) * 2)}' "
                        "(FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE 65536)")
    except OSError as exc:
        if exc.errno not in (errno.EACCES, errno.EPERM, errno.EROFS):
            raise
        return None
    if not source.exists():  # an import replaced (and removed) it meanwhile
        kept.unlink(missing_ok=True)
        return None
    return kept
