"""A workspace: one folder with everything a team needs.

::

    WORKSPACE/
      ctpat.sqlite     records: partners, entities, facilities, contacts, profile responses,
                       outreach, sessions, answers, evidence index, best practices, audit log
                       (every table, index and trigger: schema.py)
      exams/           shipment and exam history as Parquet, sorted by account, and the exam
                       counts per day and month derived from it (shipment_counts.py)
      profile/         the profile responses as Parquet, sorted by account (portfolio reads)
      evidence/        evidence files by SHA-256
      keys/            signer certificates (trust store)
      catalogues/      imported criteria catalogues

The database's file name is spelled once, here (:data:`DB_NAME`); everything else asks a
:class:`Workspace` for :attr:`Workspace.db_path` or a connection (:meth:`Workspace.connect`),
and turns what it was given (a Workspace or a folder path) into one with
:func:`as_workspace`. Every connection the toolkit opens checks the schema version and
migrates an older workspace (:func:`ctpat_audit.workspace.schema.ensure_current`).

``open_workspace(path).partner(account_id)`` gives one partner's profile, contacts, responses,
outreach and shipments. Reads of one partner touch only that partner's rows: SQLite by primary
key, Parquet by row-group statistics (the file is sorted by account).
"""
from __future__ import annotations

import datetime as dt
import functools
import glob
import os
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from ctpat_audit.core.errors import InputError, NotFoundError, WorkspaceError
from ctpat_audit.workspace import db, reference_store, schema
from ctpat_audit.workspace.schema import SQL_TABLES
from ctpat_audit.workspace.tables import SHIPMENTS, Table

if TYPE_CHECKING:  # pandas is imported where frames are built, so session writers start fast
    import pandas as pd
from ctpat_audit.workspace import bulk_files

DB_NAME = "ctpat.sqlite"
#: The file that makes a folder a read-only snapshot of a workspace (``workspace.snapshot``)
SNAPSHOT_MARKER = "snapshot.json"
CATALOGUES_DIR = "catalogues"  # imported criteria catalogues, <version>.json
SUBDIRS = ("exams", "profile", "evidence", "keys", CATALOGUES_DIR)


def init_workspace(path: str | Path) -> Workspace:
    """Create a workspace folder (or complete a partly created one); idempotent.

    An existing workspace of an older schema version is migrated; a newer one is refused.
    """
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
        if schema.read_version(conn) is None:
            schema.create(conn)
        schema.ensure_current(conn, path)
    finally:
        conn.close()
    return Workspace(path)


def open_workspace(path: str | Path) -> Workspace:
    """An existing workspace, its schema checked (and an older one migrated); the tables and
    Parquet files an interrupted import left are removed
    (:func:`ctpat_audit.workspace.reference_store.leftover_stages`,
    :func:`ctpat_audit.workspace.bulk_files.tidy`), except in a read-only snapshot."""
    ws = Workspace(Path(path))
    conn = ws.connect()
    if ws.is_snapshot:  # read-only: nothing to tidy, nothing may be written
        conn.close()
        return ws
    try:
        stages = reference_store.leftover_stages(conn)
        if stages:  # the SQLite side of an import that did not finish
            _drop_stages(ws, conn, stages)
    finally:
        conn.close()
    bulk_files.tidy(ws.path, ws.bulk_paths)
    return ws


def _drop_stages(ws: Workspace, conn: sqlite3.Connection, names: list[str]) -> None:
    """Drop an interrupted import's staged or retired tables, if no import is running now
    (this does not wait for one) and the database can be written."""
    try:
        with bulk_files.import_lock(ws.path, wait=False) as held:
            if held:
                reference_store.drop_tables(conn, names)
    except (OSError, sqlite3.OperationalError):  # a read-only copy: leave it as it is
        pass


def as_workspace(ws: object) -> Workspace:
    """A :class:`Workspace` for a Workspace (returned as it is) or a workspace folder path
    (``str`` or path-like); anything else is an InputError.

    Cheap: nothing is opened; the first :meth:`Workspace.connect` checks that the folder is a
    workspace and that its schema is current.
    """
    if isinstance(ws, Workspace):
        return ws
    if isinstance(ws, (str, os.PathLike)):
        return Workspace(Path(ws))
    raise InputError("workspace", ws, "a Workspace or the path of a workspace folder")


def account_row_groups(path: Path, account_id: str) -> list[int]:
    """The row groups of a bulk file (sorted by account) that can hold ``account_id``, by
    their statistics; the statistics of a file are read once (:func:`_account_ranges`)."""
    st = path.stat()
    lows, highs = _account_ranges(str(path), st.st_mtime_ns, st.st_size)
    return [i for i, (lo, hi) in enumerate(zip(lows, highs))
            if (lo is None or lo <= account_id) and (hi is None or account_id <= hi)]


@functools.lru_cache(maxsize=16)
def _account_ranges(path: str, mtime_ns: int, size: int) -> tuple[list[str | None],
                                                                   list[str | None]]:
    """Smallest and largest account id of each row group (None where not recorded)."""
    import pyarrow.parquet as pq

    meta = pq.ParquetFile(path).metadata
    col = meta.schema.to_arrow_schema().get_field_index("account_id")
    lows: list[str | None] = []
    highs: list[str | None] = []
    for i in range(meta.num_row_groups):
        stats = meta.row_group(i).column(col).statistics if col >= 0 else None
        if stats is not None and stats.has_min_max:
            lows.append(str(stats.min))
            highs.append(str(stats.max))
        else:
            lows.append(None)
            highs.append(None)
    return lows, highs


def derived_file(bulk_file: Path, name: str) -> Path:
    """Where a file derived from a bulk file is kept: next to it, named
    ``<bulk file stem>.<name>.parquet``, so it belongs to that file alone and is removed with
    it (:func:`remove_bulk_file`)."""
    return bulk_file.with_name(f"{bulk_file.stem}.{name}.parquet")


def remove_bulk_file(path: Path) -> None:
    """Remove a bulk file that an import replaced, and the files derived from it."""
    for derived in path.parent.glob(glob.escape(path.stem) + ".*.parquet"):
        derived.unlink(missing_ok=True)
    path.unlink(missing_ok=True)


@dataclass
class Partner:
    """One CTPAT partner as the toolkit sees it: profile, people, answers, history."""

    account_id: str
    legal_name: str
    status: str
    certification_date: dt.date | None
    last_validation_date: dt.date | None
    last_validation_type: str | None
    profile_anniversary: dt.date | None  # required on import; None only if the row lacks it
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
    import pandas as pd

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
    """A workspace folder. Cheap to create; connections are opened per call."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.db_path = self.path / DB_NAME

    def __repr__(self) -> str:
        return f"Workspace({str(self.path)!r})"

    @property
    def is_snapshot(self) -> bool:
        """A read-only snapshot (``workspace.snapshot``): every connection is read-only."""
        return (self.path / SNAPSHOT_MARKER).is_file()

    def connect(self, readonly: bool = False) -> sqlite3.Connection:
        """A connection with the toolkit's pragmas (see :mod:`~ctpat_audit.workspace.db`),
        after checking the schema version (an older workspace is migrated first, also for a
        read-only connection); the caller closes it. In a snapshot every connection is
        read-only and any write raises."""
        if not self.db_path.is_file():
            raise WorkspaceError(self.path, "is not a ctpat-audit workspace "
                                 f"(no {DB_NAME}); create one with "
                                 f"`ctpat-audit init -w {self.path}` and import partners")
        conn = db.connect(self.db_path, readonly=readonly, immutable=self.is_snapshot)
        try:
            schema.ensure_current(conn, self.path)
        except BaseException:
            conn.close()
            raise
        return conn

    def meta(self) -> dict[str, str]:
        conn = self.connect(readonly=True)
        try:
            return reference_store.read_meta(conn)
        finally:
            conn.close()

    # -- whole tables -------------------------------------------------------------------
    def table(self, name: str) -> pd.DataFrame:
        """A reference table (partners, entities, facilities, contacts, profile_responses,
        outreach) as a typed DataFrame."""
        import pandas as pd

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

    def accounts_with_contact(self, role: str) -> set[str]:
        """Account ids with at least one contact in ``role``: one query, where reading the
        contacts table for it took ten times as long (36,000 contacts)."""
        conn = self.connect()
        try:
            rows = conn.execute("SELECT DISTINCT account_id FROM contacts WHERE role = ?", (role,))
            return {str(r[0]) for r in rows}
        finally:
            conn.close()

    def bulk_path(self, kind: str, meta: dict[str, str] | None = None) -> Path | None:
        """The current Parquet file of a bulk table ("shipments", "profile_responses")."""
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
        import pandas as pd
        import pyarrow.parquet as pq

        path = self.shipments_path()
        if path is None:
            return _typed(pd.DataFrame(columns=list(columns or SHIPMENTS.column_names)), SHIPMENTS)
        if account_id is None:
            table = pq.read_table(path, columns=columns)
        else:
            with pq.ParquetFile(path) as f:
                groups = account_row_groups(path, account_id)
                table = f.read_row_groups(groups, columns=columns)
            if "account_id" in table.column_names:
                import pyarrow.compute as pc

                table = table.filter(pc.equal(table["account_id"], account_id))
        frame: pd.DataFrame = table.to_pandas()
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
        import pandas as pd

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
            profile_anniversary=_date(row["profile_anniversary"]),
            last_profile_review_date=_date(row["last_profile_review_date"]),
            entity_types=entity_types,
            facilities=facilities,
            contacts=contacts,
            responses=responses,
            outreach=outreach,
            shipments=self.shipments(account_id).drop(columns=["account_id"]),
        )
