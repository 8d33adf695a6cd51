"""DuckDB over the workspace's bulk Parquet files: one way to open it, with the toolkit's
limits, for the readers that aggregate or filter millions of rows where they are stored (only
the row groups and columns a query needs are read) and for the import's checks across batches.
"""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import duckdb

#: DuckDB's memory; past it, a query that can spills to ``spill`` (the import's sort and
#: checks), and one that cannot fails rather than taking the machine.
MEMORY_LIMIT = "640MB"
THREADS = 2


def connect(spill: Path | None = None) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB connection spilling to ``spill`` (default: a ``ctpat-duckdb``
    folder in the system's temporary folder; DuckDB names its files by process); the caller
    closes it."""
    import tempfile

    import duckdb

    spill = spill if spill is not None else Path(tempfile.gettempdir()) / "ctpat-duckdb"
    spill.mkdir(parents=True, exist_ok=True)
    config: dict[str, str | bool | int | float | list[str]] = {
        "memory_limit": MEMORY_LIMIT, "threads": THREADS, "preserve_insertion_order": False,
        "temp_directory": str(spill)}
    con = duckdb.connect(":memory:", config=config)
    con.execute("SET enable_progress_bar = false")
    return con


def parquet(path: Path) -> str:
    """SQL that reads one Parquet file (the path quoted as an SQL string)."""
    return "read_parquet('" + str(path).replace("'", "''") + "')"
