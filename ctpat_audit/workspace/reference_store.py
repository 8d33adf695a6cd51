"""SQLite writes of the reference tables and the workspace's ``meta`` record.

An import (:func:`ctpat_audit.intake.importer.import_source`) calls these inside one
:func:`ctpat_audit.workspace.db.write` transaction, so a whole source lands or nothing does.
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


def upsert_partners(conn: sqlite3.Connection, rows: Iterable[tuple[Any, ...]]) -> None:
    """Add partners or update them in place (rows in :data:`PARTNERS` column order)."""
    names = PARTNERS.column_names
    updates = ", ".join(f"{c} = excluded.{c}" for c in names[1:])
    conn.executemany(f"INSERT INTO partners ({', '.join(names)}) VALUES "
                     f"({', '.join('?' * len(names))}) "
                     f"ON CONFLICT(account_id) DO UPDATE SET {updates}", rows)


def replace_account_rows(conn: sqlite3.Connection, table: Table, accounts: Iterable[str],
                         rows: Iterable[tuple[Any, ...]]) -> None:
    """Delete ``table``'s rows of ``accounts``, then insert ``rows`` (in the table's
    column order); inside a write transaction."""
    if table is PARTNERS or not table.refers_to_partner or table.bulk:
        raise ValueError(f"{table.name} is not a per-account SQLite table")
    conn.execute("CREATE TEMP TABLE IF NOT EXISTS import_accounts "
                 "(account_id TEXT PRIMARY KEY)")
    conn.execute("DELETE FROM import_accounts")
    conn.executemany("INSERT OR IGNORE INTO import_accounts VALUES (?)",
                     ((a,) for a in accounts))
    conn.execute(f"DELETE FROM {table.name} WHERE account_id IN "
                 "(SELECT account_id FROM import_accounts)")
    names = table.column_names
    conn.executemany(f"INSERT INTO {table.name} ({', '.join(names)}) VALUES "
                     f"({', '.join('?' * len(names))})", rows)
