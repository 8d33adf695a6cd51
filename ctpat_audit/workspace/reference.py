"""A workspace: one folder with everything a team needs.

::

    WORKSPACE/
      ctpat.sqlite     records: partners, entities, facilities, contacts, profile responses,
                       outreach (+ sessions, answers, evidence index, audit log: see workspace.store)
      exams/           shipment and exam history as Parquet, sorted by account
      profile/         each profile answer's state (blank/short/answered), derived at import
      evidence/        evidence files by SHA-256
      keys/            signer certificates (trust store)
      catalogues/      imported criteria catalogues

``open_workspace(path).partner(account_id)`` gives one partner's profile, contacts, responses,
outreach and shipments. Reads of one partner touch only that partner's rows: SQLite by primary
key, Parquet by row-group statistics (the file is sorted by account).
"""
from __future__ import annotations

import datetime as dt
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from ctpat_audit.workspace import bulk_files, db
from ctpat_audit.core.errors import NotFoundError, WorkspaceError
from ctpat_audit.workspace.tables import SHIPMENTS, TABLES, Table

DB_NAME = "ctpat.sqlite"
SUBDIRS = ("exams", "profile", "evidence", "keys", "catalogues")
SCHEMA_VERSION = "1"


def _sql_type(kind: str) -> str:
    return {"int": "INTEGER", "bool": "INTEGER"}.get(kind, "TEXT")


def table_ddl(table: Table) -> str:
    cols = [f"{c.name} {_sql_type(c.kind)}{' NOT NULL' if c.required else ''}"
            for c in table.columns]
    cols.append(f"PRIMARY KEY ({', '.join(table.key)})")
    if table.refers_to_partner:
        cols.append("FOREIGN KEY (account_id) REFERENCES partners(account_id) ON DELETE CASCADE")
    return f"CREATE TABLE IF NOT EXISTS {table.name} (\n  " + ",\n  ".join(cols) + "\n)"


SQL_TABLES = tuple(t for t in TABLES if not t.bulk)


def init_workspace(path: str | Path) -> "Workspace":
    """Create a workspace folder (or complete a partly created one); idempotent."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise WorkspaceError(path, "exists and is not a folder")
    if path.is_dir() and any(path.iterdir()) and not (path / DB_NAME).exists():
        raise WorkspaceError(path, "is a folder with other files in it; "
                             "choose an empty or new folder for a workspace")
    path.mkdir(parents=True, exist_ok=True)
    for sub in SUBDIRS:
        (path / sub).mkdir(exist_ok=True)
    conn = db.connect(path / DB_NAME)
    try:
        with db.write(conn):
            conn.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT)")
            for t in SQL_TABLES:
                conn.execute(table_ddl(t))
            conn.execute("INSERT OR IGNORE INTO meta VALUES ('schema_version', ?)",
                         (SCHEMA_VERSION,))
    finally:
        conn.close()
    return Workspace(path)


def open_workspace(path: str | Path) -> "Workspace":
    """An existing workspace; Parquet files an interrupted import left are removed
    (:func:`ctpat_audit.workspace.bulk_files.tidy`)."""
    path = Path(path)
    if not (path / DB_NAME).is_file():
        raise WorkspaceError(path, "is not a ctpat-audit workspace "
                             f"(no {DB_NAME}); create one with `ctpat-audit init {path}`")
    ws = Workspace(path)
    bulk_files.tidy(ws.path, ws.bulk_paths)
    return ws


@dataclass
class Partner:
    """One CTPAT partner as the toolkit sees it: profile, people, answers, history."""

    account_id: str
    legal_name: str
    status: str
    certification_date: dt.date | None
    last_validation_date: dt.date | None
    last_validation_type: str | None
    profile_anniversary: dt.date
    last_profile_review_date: dt.date | None
    entity_types: list[str]
    facilities: pd.DataFrame
    contacts: pd.DataFrame
    responses: pd.DataFrame
    outreach: pd.DataFrame
    shipments: pd.DataFrame = field(repr=False)

    @property
    def company_officers(self) -> pd.DataFrame:
        return self.contacts[self.contacts["role"] == "Company Officer"]


def _date(value: object) -> dt.date | None:
    return dt.date.fromisoformat(value) if isinstance(value, str) and value else None


def _typed(frame: pd.DataFrame, table: Table) -> pd.DataFrame:
    """SQLite text/integers back to the schema's pandas types."""
    for c in table.columns:
        if c.name not in frame:
            continue
        if c.kind == "date":
            frame[c.name] = pd.to_datetime(frame[c.name], format="%Y-%m-%d").astype("datetime64[s]")
        elif c.kind == "bool":
            frame[c.name] = frame[c.name].astype("boolean")
        elif c.kind == "int":
            frame[c.name] = frame[c.name].astype("Int64")
        else:
            frame[c.name] = frame[c.name].astype("string")
    return frame


class Workspace:
    """An opened workspace folder. Cheap to create; connections are opened per call."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.db_path = self.path / DB_NAME

    def __repr__(self) -> str:
        return f"Workspace({str(self.path)!r})"

    def connect(self, readonly: bool = False) -> sqlite3.Connection:
        return db.connect(self.db_path, readonly=readonly)

    def meta(self) -> dict[str, str]:
        conn = self.connect()
        try:
            return {r["key"]: r["value"] for r in conn.execute("SELECT key, value FROM meta")}
        finally:
            conn.close()

    # -- whole tables -------------------------------------------------------------------
    def table(self, name: str) -> pd.DataFrame:
        """A reference table (partners, entities, facilities, contacts, profile_responses,
        outreach) as a typed DataFrame."""
        spec = next((t for t in SQL_TABLES if t.name == name), None)
        if spec is None:
            raise NotFoundError("table", name, "one of " + ", ".join(t.name for t in SQL_TABLES))
        conn = self.connect()
        try:
            frame = pd.read_sql_query(f"SELECT * FROM {spec.name}", conn)
        finally:
            conn.close()
        return _typed(frame, spec)

    def partners(self) -> pd.DataFrame:
        return self.table("partners")

    def bulk_path(self, kind: str, meta: dict[str, str] | None = None) -> Path | None:
        """The current Parquet file of a bulk table ("shipments", "profile_states")."""
        name = (self.meta() if meta is None else meta).get(f"{kind}_file")
        if not name:
            return None
        # older workspaces recorded shipment files relative to exams/
        return self.path / name if "/" in name else self.path / "exams" / name

    def bulk_paths(self) -> list[Path | None]:
        """The current file of every bulk table (None where there is none); one read."""
        meta = self.meta()
        return [self.bulk_path(kind, meta) for kind in bulk_files.FOLDERS]

    def shipments_path(self) -> Path | None:
        return self.bulk_path("shipments")

    def shipments(self, account_id: str | None = None,
                  columns: list[str] | None = None) -> pd.DataFrame:
        """Shipments of one partner, or of all partners (``account_id=None``)."""
        import pyarrow.parquet as pq

        path = self.shipments_path()
        if path is None:
            return _typed(pd.DataFrame(columns=list(columns or SHIPMENTS.column_names)), SHIPMENTS)
        filters = [("account_id", "==", account_id)] if account_id is not None else None
        table = pq.read_table(path, columns=columns, filters=filters)
        frame = table.to_pandas()
        for c in SHIPMENTS.columns:
            if c.name in frame and c.kind in ("text", "id", "choice"):
                frame[c.name] = frame[c.name].astype("string")
        return frame

    def shipment_batches(self, columns: list[str],
                         batch_rows: int = 1 << 20) -> Iterator[pd.DataFrame]:
        """Some columns of every shipment, in batches of at most ``batch_rows`` rows (memory
        stays bounded however long the history is); nothing when there is no history."""
        import pyarrow.parquet as pq

        path = self.shipments_path()
        if path is None or not path.is_file():
            return
        with pq.ParquetFile(path) as f:
            for batch in f.iter_batches(batch_size=batch_rows, columns=columns):
                yield batch.to_pandas()

    # -- one partner --------------------------------------------------------------------
    def partner(self, account_id: str) -> Partner:
        account_id = str(account_id)
        conn = self.connect()
        try:
            row = conn.execute("SELECT * FROM partners WHERE account_id = ?",
                               (account_id,)).fetchone()
            if row is None:
                raise NotFoundError("partner", account_id,
                                    "check the account id (leading zeros count)")

            def q(name: str) -> pd.DataFrame:
                spec = next(t for t in SQL_TABLES if t.name == name)
                frame = pd.read_sql_query(f"SELECT * FROM {name} WHERE account_id = ?", conn,
                                          params=(account_id,))
                return _typed(frame, spec).drop(columns=["account_id"])

            entity_types = [r[0] for r in conn.execute(
                "SELECT entity_type FROM entities WHERE account_id = ? ORDER BY rowid",
                (account_id,))]
            facilities, contacts = q("facilities"), q("contacts")
            responses, outreach = q("profile_responses"), q("outreach")
        finally:
            conn.close()
        return Partner(
            account_id=account_id,
            legal_name=row["legal_name"],
            status=row["status"],
            certification_date=_date(row["certification_date"]),
            last_validation_date=_date(row["last_validation_date"]),
            last_validation_type=row["last_validation_type"],
            profile_anniversary=_date(row["profile_anniversary"]),  # type: ignore[arg-type]
            last_profile_review_date=_date(row["last_profile_review_date"]),
            entity_types=entity_types,
            facilities=facilities,
            contacts=contacts,
            responses=responses,
            outreach=outreach,
            shipments=self.shipments(account_id).drop(columns=["account_id"]),
        )
