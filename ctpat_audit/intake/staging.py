"""The long tables of a source (those the workspace keeps as Parquet: shipments and profile
responses) in bounded memory: staged batch by batch, checked across batches, merged into the
workspace's new bulk file.

Each batch is checked on its own (:func:`ctpat_audit.intake.checks.check_table`) and appended
to ``<folder>/<table>.parquet`` with two more columns, ``_part`` (which file or sheet) and
``_row`` (the row number a user sees there). What needs every row at once runs in DuckDB over
the staged file, spilling to ``<folder>/spill`` past
:data:`ctpat_audit.workspace.bulk_query.MEMORY_LIMIT`:

* a key given twice, in one file or across files;
* an account id that names no partner of the source or the workspace;
* a key that is already another partner's in the workspace (a table whose key does not hold
  the account: a shipment's ``entry_id`` is unique in the whole workspace). The rows of the
  accounts the source covers are about to be replaced, so only the other accounts' rows count.

The new bulk file is the workspace's rows of the accounts the source does not cover plus the
staged rows, sorted by DuckDB and written by pyarrow in row groups of ``row_group_size`` rows,
so a partner's rows are a few row groups that a reader finds by their statistics.
"""
from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from ctpat_audit.core.errors import Problem
from ctpat_audit.intake.checks import UNKNOWN_PARTNER, typed_empty
from ctpat_audit.intake.problem_log import LISTED_PER_KIND, ProblemLog
from ctpat_audit.intake.sources import RawTable
from ctpat_audit.workspace import bulk_query
from ctpat_audit.workspace.tables import Table

if TYPE_CHECKING:
    import duckdb

_EXTRA = [("_part", pa.int32()), ("_row", pa.int64())]


def _arrow_type(kind: str) -> pa.DataType:
    return {"date": pa.timestamp("s"), "bool": pa.bool_(), "int": pa.int64()}.get(
        kind, pa.large_string())


def _covered(staged: StagedTable) -> str:
    """The DuckDB table of the accounts whose rows of this table the source replaces."""
    return f"covered_{staged.spec.name}"


class StagedTable:
    """One long table of a source, staged as Parquet batch by batch."""

    def __init__(self, spec: Table, folder: Path) -> None:
        self.spec = spec
        self.path = folder / f"{spec.name}.parquet"
        self.parts: list[tuple[str, str | None]] = []
        self.rows = 0
        self._schema = pa.schema([(c.name, _arrow_type(c.kind)) for c in spec.columns])
        self._writer: pq.ParquetWriter | None = None

    def add(self, raw: RawTable, frame: pd.DataFrame) -> None:
        """Append one checked batch (``frame``: :func:`check_table`'s typed frame of ``raw``)."""
        where = (raw.file, raw.sheet)
        if not self.parts or self.parts[-1] != where:
            self.parts.append(where)
        table = pa.Table.from_pandas(frame, schema=self._schema, preserve_index=False)
        table = table.append_column("_part", pa.array(
            np.full(len(frame), len(self.parts) - 1, dtype=np.int32)))
        table = table.append_column("_row", pa.array(
            np.arange(raw.first_row, raw.first_row + len(frame), dtype=np.int64)))
        if self._writer is None:
            self._writer = pq.ParquetWriter(self.path, table.schema, compression="lz4")
        self._writer.write_table(table)
        self.rows += len(frame)

    def close(self) -> None:
        if self._writer is None:  # no batch: an empty table of the right columns
            self._writer = pq.ParquetWriter(
                self.path, pa.schema(list(self._schema) + [pa.field(n, t) for n, t in _EXTRA]))
        self._writer.close()

    def frame(self) -> pd.DataFrame:
        """Every staged row as one typed DataFrame (for small sources and tests)."""
        return self._typed(pq.read_table(self.path, columns=list(self.spec.column_names)))

    def sql_rows(self, rows: int = 1 << 16) -> Iterator[tuple[Any, ...]]:
        """The staged rows as SQLite values (dates as YYYY-MM-DD text, booleans as 0/1), in
        the table's column order, read in batches of ``rows``."""
        import pyarrow.compute as pc

        with pq.ParquetFile(self.path) as f:
            for b in f.iter_batches(batch_size=rows, columns=list(self.spec.column_names)):
                cols = []
                for c, values in zip(self.spec.columns, b.columns):
                    if c.kind == "date":
                        values = pc.strftime(values, format="%Y-%m-%d")
                    elif c.kind == "bool":
                        values = values.cast(pa.int8())
                    cols.append(values.to_pylist())
                yield from zip(*cols)

    def accounts(self) -> list[str]:
        """The accounts that have staged rows (those whose rows the source replaces)."""
        import pyarrow.compute as pc

        with pq.ParquetFile(self.path) as f:
            ids = f.read(columns=["account_id"]).column("account_id")
        return [str(a) for a in pc.unique(ids).to_pylist()]

    def _typed(self, table: pa.Table) -> pd.DataFrame:
        return table.to_pandas().astype(typed_empty(self.spec).dtypes.to_dict())


class Stage:
    """The staging folder of one check or import, and the DuckDB that works over it."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=False)
        self.tables: dict[str, StagedTable] = {}
        self._con: duckdb.DuckDBPyConnection | None = None

    def table(self, spec: Table) -> StagedTable:
        if spec.name not in self.tables:
            self.tables[spec.name] = StagedTable(spec, self.folder)
        return self.tables[spec.name]

    def close(self) -> None:
        """Close the staged files and DuckDB, and remove the folder."""
        for t in self.tables.values():
            try:
                t.close()
            except Exception:  # a half-written staging file is removed with the folder
                pass
        if self._con is not None:
            self._con.close()
            self._con = None
        shutil.rmtree(self.folder, ignore_errors=True)

    @property
    def con(self) -> duckdb.DuckDBPyConnection:
        if self._con is None:
            self._con = bulk_query.connect(spill=self.folder / "spill")
        return self._con

    # -- checks across batches -----------------------------------------------------------
    def check(self, staged: StagedTable, known: set[str] | None, old_file: Path | None,
              log: ProblemLog) -> None:
        """Record in ``log`` what only every row at once shows (see the module docstring).
        ``known``: the account ids references may name (None: the source's partners could not
        be read, so references are not checked)."""
        staged.close()
        con = self.con
        src = bulk_query.parquet(staged.path)
        con.execute(f"CREATE OR REPLACE TEMP TABLE {_covered(staged)} AS SELECT DISTINCT "
                    f"account_id FROM {src} WHERE account_id IS NOT NULL")
        if staged.spec.refers_to_partner and known is not None:
            self._unknown_partners(staged, src, known, log)
        self._duplicates(staged, src, old_file, log)

    def _located(self, staged: StagedTable, sql: str, column: str, code: str,
                 expected: Callable[[Any], str], log: ProblemLog) -> None:
        """Rows of ``sql`` (columns _part, kind, _row, shown, n), at most LISTED_PER_KIND per
        part and kind, into ``log``."""
        ranked = (f"SELECT * FROM (SELECT *, row_number() OVER (PARTITION BY _part, kind "
                  f"ORDER BY _row) AS i FROM ({sql})) WHERE i <= {LISTED_PER_KIND} "
                  "ORDER BY _part, kind, _row")
        groups: dict[tuple[int, Any], tuple[list[tuple[int, object]], int]] = {}
        for part, kind, row, shown, n in self.con.execute(
                f"SELECT _part, kind, _row, shown, n FROM ({ranked})").fetchall():
            rows, _ = groups.setdefault((part, kind), ([], int(n)))
            rows.append((int(row), shown))
        for (part, kind), (rows, n) in groups.items():
            file, sheet = staged.parts[part]
            log.located(file, sheet, column, code, expected(kind), rows, n)

    def _unknown_partners(self, staged: StagedTable, src: str, known: set[str],
                          log: ProblemLog) -> None:
        self.con.register("known", pa.table({"account_id": pa.array(sorted(known),
                                                                     pa.large_string())}))
        sql = (f"SELECT _part, 0 AS kind, _row, account_id AS shown, "
               f"count(*) OVER (PARTITION BY _part) AS n FROM {src} s "
               "WHERE account_id IS NOT NULL AND account_id NOT IN (SELECT account_id FROM known)")
        self._located(staged, sql, "account_id", "unknown_partner", lambda _: UNKNOWN_PARTNER,
                      log)
        self.con.unregister("known")

    def _duplicates(self, staged: StagedTable, src: str, old_file: Path | None,
                    log: ProblemLog) -> None:
        spec = staged.spec
        keys = list(spec.key)
        cols = ", ".join(keys)
        name = " + ".join(keys)
        present = " AND ".join(f"{k} IS NOT NULL" for k in keys)
        shown = "concat_ws(' / ', " + ", ".join(f"CAST({k} AS VARCHAR)" for k in keys) + ")"
        others = None
        if old_file is not None and old_file.is_file() and "account_id" not in keys:
            others = (f"SELECT {cols}, account_id FROM {bulk_query.parquet(old_file)} "
                      f"WHERE account_id NOT IN (SELECT account_id FROM {_covered(staged)})")
        union = f"SELECT {cols} FROM {src} WHERE {present}"
        if others:
            union += f" UNION ALL SELECT {cols} FROM ({others})"
        con = self.con
        con.execute(f"CREATE OR REPLACE TEMP TABLE dup AS SELECT {cols} FROM ({union}) "
                    "GROUP BY ALL HAVING count(*) > 1")
        if not con.execute("SELECT count(*) FROM dup").fetchall()[0][0]:
            return
        sql = (f"SELECT _part, kind, _row, shown, count(*) OVER (PARTITION BY _part, kind) AS n "
               f"FROM (SELECT _part, _row, {shown} AS shown, CASE WHEN row_number() OVER w = 1 "
               "THEN NULL WHEN first_value(_part) OVER w = _part THEN 'file' ELSE 'files' END "
               f"AS kind FROM {src} SEMI JOIN dup USING ({cols}) WHERE {present} "
               f"WINDOW w AS (PARTITION BY {cols} ORDER BY _part, _row)) WHERE kind IS NOT NULL")
        self._located(staged, sql, name, "duplicate_key", lambda kind: (
            f"each {name} only once in {spec.name}" if kind == "file"
            else f"each {name} only once across all {spec.name} files"), log)
        if others:
            self._taken(staged, src, others, keys, shown, log)

    def _taken(self, staged: StagedTable, src: str, others: str, keys: list[str], shown: str,
               log: ProblemLog) -> None:
        """Rows whose key is another partner's in the workspace; each problem names both."""
        cols = ", ".join(keys)
        name = " + ".join(keys)
        rows = self.con.execute(
            f"WITH o AS (SELECT {cols}, min(account_id) AS owner FROM ({others}) "
            f"SEMI JOIN dup USING ({cols}) GROUP BY ALL), "
            f"h AS (SELECT _part, _row, {shown} AS shown, s.account_id, o.owner FROM {src} s "
            f"JOIN o USING ({cols})) "
            "SELECT _part, _row, shown, account_id, owner, n FROM (SELECT *, row_number() OVER "
            "(PARTITION BY _part ORDER BY _row) AS i, count(*) OVER (PARTITION BY _part) AS n "
            f"FROM h) WHERE i <= {LISTED_PER_KIND} ORDER BY _part, _row").fetchall()
        counts: dict[int, int] = {}
        for part, row, value, account, owner, n in rows:
            file, sheet = staged.parts[part]
            counts[part] = int(n)
            log.add(Problem(file, sheet, int(row), name, value, "duplicate_key",
                            f"each {name} once in the workspace: {value} is already partner "
                            f"{owner}'s, and this row is partner {account}'s"))
        for part, n in counts.items():
            if n > LISTED_PER_KIND:
                file, sheet = staged.parts[part]
                log.add(Problem(file, sheet, None, name, None, "duplicate_key",
                                f"{n - LISTED_PER_KIND} more rows whose {name} is another "
                                "partner's in the workspace"))

    # -- the new bulk file ---------------------------------------------------------------
    def write_bulk(self, staged: StagedTable, old_file: Path | None, target: Path,
                   schema: pa.Schema, order: list[str], row_group_size: int) -> int:
        """Write ``target``: the old file's rows of the accounts the source does not cover
        and the staged rows, ``schema``'s columns, sorted by ``order``. Returns the rows."""
        cols = ", ".join(schema.names)
        sql = f"SELECT {cols} FROM {bulk_query.parquet(staged.path)}"
        if old_file is not None and old_file.is_file():
            sql += (f" UNION ALL SELECT {cols} FROM {bulk_query.parquet(old_file)} WHERE "
                    f"account_id NOT IN (SELECT account_id FROM {_covered(staged)})")
        reader = self.con.sql(f"{sql} ORDER BY {', '.join(order)}").to_arrow_reader(
            row_group_size)
        written = 0
        pending: list[pa.Table] = []
        held = 0
        with pq.ParquetWriter(target, schema, compression="zstd",
                              write_statistics=True) as writer:
            for batch in reader:
                part = pa.Table.from_batches([batch]).select(schema.names).cast(schema)
                pending.append(part)
                held += part.num_rows
                while held >= row_group_size:  # whole row groups, whatever DuckDB's batches
                    table = pa.concat_tables(pending)
                    writer.write_table(table.slice(0, row_group_size),
                                       row_group_size=row_group_size)
                    rest = table.slice(row_group_size)
                    pending, held = [rest], rest.num_rows
                    written += row_group_size
            if held:
                writer.write_table(pa.concat_tables(pending), row_group_size=row_group_size)
                written += held
        return written
