"""SQLite writes of the reference tables and the workspace's ``meta`` record.

An import (:func:`ctpat_audit.intake.importer.import_source`) first copies each table's new
rows into a temporary table of its connection (:func:`set_aside`, outside any write
transaction: the temporary database is the connection's own, so this takes no lock other
writers wait for, however many rows there are), then moves them in with one ``INSERT ...
SELECT`` per table inside one :func:`ctpat_audit.workspace.db.write` transaction, so a whole
source lands or nothing does, and the workspace's write lock is held only for that copy.
Partners are added or updated, never deleted (sessions refer to them); every other table's
rows of the accounts a source covers replace that account's rows.
"""
from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Mapping
from typing import Any

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


def set_aside(conn: sqlite3.Connection, table: Table, rows: Iterable[tuple[Any, ...]]) -> str:
    """Copy ``rows`` (in ``table``'s column order) into a temporary table of ``conn``, outside
    any transaction; returns its name, for :func:`upsert_partners` and
    :func:`replace_account_rows`."""
    name = f"aside_{table.name}"
    cols = ", ".join(table.column_names)
    conn.execute(f"DROP TABLE IF EXISTS temp.{name}")
    # keyed like the table: moved in in key order, the table's b-trees are appended to
    conn.execute(f"CREATE TEMP TABLE {name} ({cols}, PRIMARY KEY ({', '.join(table.key)})) "
                 "WITHOUT ROWID")
    conn.executemany(f"INSERT INTO temp.{name} ({cols}) VALUES "
                     f"({', '.join('?' * len(table.column_names))})", rows)
    return name


def upsert_partners(conn: sqlite3.Connection, aside: str) -> None:
    """Add partners or update them in place, from the rows :func:`set_aside` put aside."""
    names = PARTNERS.column_names
    updates = ", ".join(f"{c} = excluded.{c}" for c in names[1:])
    cols = ", ".join(names)
    conn.execute(f"INSERT INTO partners ({cols}) SELECT {cols} FROM temp.{aside} WHERE true "
                 f"ON CONFLICT(account_id) DO UPDATE SET {updates}")


def replace_account_rows(conn: sqlite3.Connection, table: Table, aside: str) -> None:
    """Delete ``table``'s rows of the accounts that have rows in ``aside``, then insert those
    (:func:`set_aside`); inside a write transaction."""
    if table is PARTNERS or not table.refers_to_partner or table.bulk:
        raise ValueError(f"{table.name} is not a per-account SQLite table")
    cols = ", ".join(table.column_names)
    conn.execute(f"DELETE FROM {table.name} WHERE account_id IN "
                 f"(SELECT account_id FROM temp.{aside})")
    conn.execute(f"INSERT INTO {table.name} ({cols}) SELECT {cols} FROM temp.{aside}")
