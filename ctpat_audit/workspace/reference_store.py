"""SQLite writes of the reference tables and the workspace's ``meta`` record.

An import (:func:`ctpat_audit.intake.importer.import_source`) writes through
:class:`StagedImport`: the whole source lands or nothing does, and readers see the workspace
before it or after it, never between, while the bulk of the writing is done in short
transactions that let the team's answers through. The rows come from the import's own
staging (pandas frames for the small tables, the DuckDB-checked Parquet staging of the long
ones, :mod:`ctpat_audit.intake.staging`), streamed in without holding them all in memory.
Partners are added or updated, never deleted (sessions refer to them); every other table's
rows of the accounts a source covers replace that account's rows.
"""
from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Mapping
from dataclasses import replace
from typing import Any

from ctpat_audit.workspace import db
from ctpat_audit.workspace.schema import table_ddl
from ctpat_audit.workspace.tables import PARTNERS, Table


def read_meta(conn: sqlite3.Connection) -> dict[str, str]:
    """Every ``meta`` key and value (schema version, last import, bulk files)."""
    return {str(r[0]): str(r[1]) for r in conn.execute("SELECT key, value FROM meta")}


def meta_value(conn: sqlite3.Connection, key: str) -> str | None:
    row = conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
    return None if row is None else str(row[0])


def write_meta(conn: sqlite3.Connection, items: Mapping[str, str]) -> None:
    """Set ``meta`` keys (inside a write transaction)."""
    conn.executemany("INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE "
                     "SET value = excluded.value", list(items.items()))


def delete_meta(conn: sqlite3.Connection, keys: Iterable[str]) -> None:
    """Remove ``meta`` keys (inside a write transaction)."""
    conn.executemany("DELETE FROM meta WHERE key = ?", [(k,) for k in keys])


def account_ids(conn: sqlite3.Connection) -> set[str]:
    """Every partner's account id."""
    return {str(r[0]) for r in conn.execute("SELECT account_id FROM partners")}


# --- an import's writes: staged beside the live tables, published in one short transaction ----

STAGED_SUFFIX, RETIRED_SUFFIX = "__import", "__retired"


def leftover_stages(conn: sqlite3.Connection) -> list[str]:
    """Tables an import staged or retired and did not drop (it was interrupted)."""
    return [str(r[0]) for r in conn.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND (name LIKE ? ESCAPE '!' OR "
        "name LIKE ? ESCAPE '!') ORDER BY name",
        (f"%{STAGED_SUFFIX.replace('_', '!_')}", f"%{RETIRED_SUFFIX.replace('_', '!_')}"))]


def drop_tables(conn: sqlite3.Connection, names: Iterable[str],
                pace: db.ShortTransactions | None = None) -> None:
    """Drop tables nobody reads (staged, retired) without holding the write lock for long:
    their rows are deleted a short transaction at a time, then the empty table is dropped.
    (A DROP TABLE frees every page in one transaction: half a second for 300,000 rows.)"""
    own = pace is None
    pace = pace or db.ShortTransactions(conn, durable=False)
    try:
        for name in names:
            def delete(n: int, name: str = name) -> int:
                cur = conn.execute(f'DELETE FROM "{name}" WHERE rowid IN '
                                   f'(SELECT rowid FROM "{name}" LIMIT ?)', (n,))
                return int(cur.rowcount)

            while pace.run(delete, f"delete {name}"):
                pass
            pace.execute(f'DROP TABLE IF EXISTS "{name}"')
    finally:
        if own:
            pace.close()


class StagedImport:
    """The SQLite writes of one import: staged in short transactions, published in one.

    Nobody waits for an import's bulk, and nobody sees half of it. Each table the source
    has is built as ``<table>__import`` beside the live one (the rows of the accounts the
    source does not cover copied over, then the source's rows), in transactions of a few
    milliseconds with a pause after each (:class:`~ctpat_audit.workspace.db.ShortTransactions`),
    so writers of answers get the lock in between. :meth:`publish` is then the only
    transaction readers can tell apart: it adds or updates the partners whose rows changed,
    swaps every staged table for its live one by renaming both (no rows move) and writes
    ``meta``; the replaced tables are then dropped piece by piece. Until :meth:`publish`
    commits, the workspace reads exactly as before; :meth:`discard` (or, after a crash, the
    next import or the next open of the workspace: :func:`leftover_stages`) drops what was
    staged. The caller holds the import lock (``bulk_files.import_lock``) from the start to
    the end, since the staged tables have fixed names.

    Partner rows are checked against the source's partners and the workspace's by intake
    before anything is staged; the staged tables are filled with foreign keys off (a new
    partner's rows are staged before the partner is added, in :meth:`publish`).
    """

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        self.pace = db.ShortTransactions(conn, durable=False)
        self.partners: list[tuple[Any, ...]] = []
        self.staged: list[Table] = []
        conn.execute("PRAGMA foreign_keys=OFF")
        drop_tables(conn, leftover_stages(conn), self.pace)

    def upsert_partners(self, rows: Iterable[tuple[Any, ...]]) -> None:
        """Partners to add or update at :meth:`publish` (rows in :data:`PARTNERS` column
        order); only those that differ from the stored row are kept."""
        names = PARTNERS.column_names
        stored = {t[0]: t for t in map(tuple, self.conn.execute(
            f"SELECT {', '.join(names)} FROM partners"))}
        self.partners = [tuple(r) for r in rows if stored.get(r[0]) != tuple(r)]

    def replace_account_rows(self, table: Table, accounts: Iterable[str],
                             rows: Iterable[tuple[Any, ...]]) -> None:
        """Stage ``table`` as it will be: its rows of other accounts than ``accounts``, then
        ``rows`` (in the table's column order) for those accounts."""
        if table is PARTNERS or not table.refers_to_partner or table.bulk:
            raise ValueError(f"{table.name} is not a per-account SQLite table")
        conn, name = self.conn, table.name
        staged = f"{name}{STAGED_SUFFIX}"
        cols = ", ".join(table.column_names)
        self.pace.execute(table_ddl(replace(table, name=staged)))
        self.staged.append(table)
        conn.execute("CREATE TEMP TABLE IF NOT EXISTS import_accounts "
                     "(account_id TEXT PRIMARY KEY)")
        conn.execute("DELETE FROM temp.import_accounts")
        conn.executemany("INSERT OR IGNORE INTO temp.import_accounts VALUES (?)",
                         ((a,) for a in accounts))
        last = int(conn.execute(f"SELECT coalesce(max(rowid), 0) FROM {name}").fetchone()[0])
        done = [0]

        def copy(n: int) -> int:  # rowid order: an account's rows keep their order
            lo, hi = done[0], min(done[0] + n, last)
            conn.execute(f"INSERT INTO {staged} ({cols}) SELECT {cols} FROM {name} "
                         "WHERE rowid > ? AND rowid <= ? AND account_id NOT IN "
                         "(SELECT account_id FROM temp.import_accounts) ORDER BY rowid",
                         (lo, hi))
            done[0] = hi
            return hi - lo

        while done[0] < last:
            self.pace.run(copy, f"copy {name}")
        insert = f"INSERT INTO {staged} ({cols}) VALUES ({', '.join('?' * len(table.columns))})"
        self.pace.feed(rows, lambda piece: conn.executemany(insert, piece), f"insert {name}")

    def publish(self, meta: Mapping[str, str], drop_meta: Iterable[str] = ()) -> None:
        """Make the import current in one durable transaction (see the class doc), then
        drop the replaced tables a piece at a time."""
        conn = self.conn
        self.pace.close()  # this commit syncs the log, and with it every staged piece
        names = PARTNERS.column_names
        updates = ", ".join(f"{c} = excluded.{c}" for c in names[1:])
        with db.write(conn):
            conn.executemany(f"INSERT INTO partners ({', '.join(names)}) VALUES "
                             f"({', '.join('?' * len(names))}) "
                             f"ON CONFLICT(account_id) DO UPDATE SET {updates}", self.partners)
            for table in self.staged:
                conn.execute(f"ALTER TABLE {table.name} RENAME TO {table.name}{RETIRED_SUFFIX}")
                conn.execute(f"ALTER TABLE {table.name}{STAGED_SUFFIX} RENAME TO {table.name}")
            write_meta(conn, meta)
            delete_meta(conn, drop_meta)
        self.pace = db.ShortTransactions(conn, durable=False)
        drop_tables(conn, [f"{t.name}{RETIRED_SUFFIX}" for t in self.staged], self.pace)
        self.staged = []
        self.close()

    def discard(self) -> None:
        """Drop what was staged (an import that stopped before :meth:`publish`)."""
        try:
            drop_tables(self.conn, [f"{t.name}{STAGED_SUFFIX}" for t in self.staged],
                        None if self.pace.closed else self.pace)
        finally:
            self.staged = []
            self.close()

    def close(self) -> None:
        self.pace.close()
        if not self.conn.in_transaction:
            self.conn.execute("PRAGMA foreign_keys=ON")
