"""Import a source (a folder of CSV/Excel/Parquet files, or one workbook) into a workspace.

All or nothing: every table is read and checked first, and every problem is collected with its
file, sheet, row and column. If there is any problem, the workspace is not touched at all.

Memory does not grow with the source. The long tables, those the workspace keeps as Parquet
(shipments, profile responses), are read in batches of :data:`BATCH_ROWS` rows; each batch is
checked and staged in a folder of the workspace, and the checks that need every row at once
(a key given twice, an unknown partner, an entry number that is another partner's) run in
DuckDB over the staged rows (:mod:`ctpat_audit.intake.staging`). The other tables are small
(one row or a few per partner) and are read whole.

A clean source is written beside the live tables in short SQLite transactions, so the team's
answers are never held up by an import, and made current in one short transaction
(:class:`~ctpat_audit.workspace.reference_store.StagedImport`); the shipment history and a copy
of the profile responses (what the portfolio reads in bulk) go to new Parquet files first, and
the transaction that records them is what makes them current, so a crash at any point leaves
either the old data or the new, never a mix. The replaced files, and whatever was derived from
them, are removed after the commit; the staging folder is removed whatever happens (and by the
next open of the workspace, if the process was killed). Nothing is judged here: the answer
states, for example, are derived by the analysis that reads them
(:mod:`ctpat_audit.analysis.profile_states`).

Semantics of a repeated import: partners are added or updated (never deleted: sessions refer
to them); for every other table in the source, the rows of the accounts it covers replace that
account's rows; tables absent from the source are left as they are.
"""
from __future__ import annotations

import hashlib
import sys
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from ctpat_audit.core.clock import utc_now
from ctpat_audit.core.errors import IntakeError, Problem
from ctpat_audit.core.files import replacing
from ctpat_audit.core.text import escape_invisible
from ctpat_audit.intake import sources
from ctpat_audit.intake.checks import check_partner_refs, check_table, stored_ints, typed_empty
from ctpat_audit.intake.problem_log import ProblemLog
from ctpat_audit.intake.staging import Stage, StagedTable
from ctpat_audit.workspace import bulk_files, reference_store, shipment_counts
from ctpat_audit.workspace.reference import (
    Workspace,
    as_workspace,
    open_workspace,
    remove_bulk_file,
)
from ctpat_audit.workspace.schema import SQL_TABLES
from ctpat_audit.workspace.tables import PARTNERS, PROFILE_RESPONSES, TABLES, TABLES_BY_NAME, Table

ROW_GROUP_SIZE = 65_536
#: Rows of a long table read, checked and staged at a time.
BATCH_ROWS = 1 << 18
#: The tables read in batches and kept as Parquet (one bulk file each).
STREAMED = tuple(bulk_files.FOLDERS)


@dataclass
class CheckedSource:
    frames: dict[str, pd.DataFrame]  # the tables read whole (and, if asked, the long ones)
    problems: list[Problem]
    files: list[Path] = field(default_factory=list)
    rows: dict[str, int] = field(default_factory=dict)

    def ok(self) -> bool:
        return not self.problems


@dataclass
class ImportSummary:
    rows: dict[str, int]
    source_sha256: str
    shipments_file: str | None


def _source_files(source: Path) -> list[Path]:
    if source.is_dir():
        return sorted(p for p in source.iterdir()
                      if p.is_file() and not p.name.startswith((".", "~$")) and sources.supported(p))
    return [source]


def check_source(source: str | Path, workspace: Workspace | None = None,
                 progress: bool = False, *, bulk_frames: bool = False) -> CheckedSource:
    """Read and check a source without writing anything (the long tables are staged in a
    temporary folder). ``bulk_frames``: also return the long tables as DataFrames (for a
    small source: they are then held in memory whole)."""
    with tempfile.TemporaryDirectory(prefix="ctpat-check-") as tmp:
        stage = Stage(Path(tmp) / "stage")
        try:
            checked = _check(Path(source), workspace, stage, progress)
            if bulk_frames:
                checked.frames.update({n: t.frame() for n, t in stage.tables.items()})
            return checked
        finally:
            stage.close()


def _table_of(raw: sources.RawTable, path: Path, log: ProblemLog) -> Table | None:
    stem = sources.table_name(path.stem)
    if raw.sheet and raw.sole and raw.name not in TABLES_BY_NAME and stem in TABLES_BY_NAME:
        raw.name = stem  # partners.xlsx with its sheet left as "Sheet1"
    if raw.name not in TABLES_BY_NAME:
        log.add(Problem(raw.file, raw.sheet, None, None, raw.name, "unknown_table",
                        "a file or sheet named after a table: " +
                        ", ".join(t.name for t in TABLES)))
        return None
    return TABLES_BY_NAME[raw.name]


def _check(source: Path, ws: Workspace | None, stage: Stage, progress: bool) -> CheckedSource:
    """Read and check ``source``, staging its long tables in ``stage``."""
    log = ProblemLog()
    if not source.exists():
        log.add(Problem(str(source), None, None, None, None, "not_found",
                        "an existing folder or file"))
        return CheckedSource({}, log.problems())
    files = _source_files(source)
    if not files:
        log.add(Problem(str(source), None, None, None, None, "empty_source",
                        "files named after the tables: " +
                        ", ".join(f"{t.name}.csv" for t in TABLES)))
    whole: dict[str, list[tuple[sources.RawTable, pd.DataFrame]]] = {}
    bar = tqdm(desc="reading", unit="row", unit_scale=True, disable=not progress)
    unread: set[str] = set()  # tables (or ANY_TABLE) a file that could not be read may hold
    for path in files:
        seen = _ReadNotes()
        items = seen.noting(sources.read_batches(path, path.name, BATCH_ROWS))
        for raw in _whole_tables_joined(items, log):
            spec = _table_of(raw, path, log)
            if spec is None:
                continue
            if spec.name in STREAMED:
                frame, _ = check_table(spec, raw, log, keys=False)
                stage.table(spec).add(raw, frame)
            else:
                frame, _ = check_table(spec, raw, log)
                whole.setdefault(spec.name, []).append((raw, frame))
            bar.update(len(raw.frame))
        unread |= seen.unread_tables(path)
    bar.close()

    frames: dict[str, pd.DataFrame] = {}
    for name, parts in whole.items():
        frames[name] = pd.concat([f for _, f in parts], ignore_index=True) \
            if len(parts) > 1 else parts[0][1]
        if len(parts) > 1:
            for p in _duplicates_across_parts(TABLES_BY_NAME[name], parts):
                log.add(p)

    known: set[str] = set()
    if "partners" in frames:
        known |= set(frames["partners"]["account_id"].dropna())
    needs_refs = any(TABLES_BY_NAME[n].refers_to_partner for n in [*frames, *stage.tables])
    if needs_refs and ws is not None and ws.db_path.exists():
        conn = ws.connect(readonly=True)
        try:
            known |= reference_store.account_ids(conn)
        finally:
            conn.close()
    refs_known = not _partners_unknown(unread, whole.get("partners", []))
    for name, parts in whole.items():
        spec = TABLES_BY_NAME[name]
        if spec.refers_to_partner and refs_known:
            for raw, frame in parts:
                for p in check_partner_refs(spec, frame, raw, known):
                    log.add(p)
    for name, staged in stage.tables.items():
        old = ws.bulk_path(name) if ws is not None and ws.db_path.exists() else None
        stage.check(staged, known if refs_known else None, old, log)
    rows = {n: len(f) for n, f in frames.items()}
    rows.update({n: t.rows for n, t in stage.tables.items()})
    return CheckedSource(frames, log.problems(), files, rows)


ANY_TABLE = "*"


class _ReadNotes:
    """What reading one file gave: whether any table came out, and the sheets of its
    problems (names only: a streamed table's batches are not kept)."""

    def __init__(self) -> None:
        self.tables = 0
        self.problem_sheets: list[str | None] = []

    def noting(self, items: Iterable[sources.RawTable | Problem]
               ) -> Iterator[sources.RawTable | Problem]:
        for item in items:
            if isinstance(item, Problem):
                self.problem_sheets.append(item.sheet)
            else:
                self.tables += 1
            yield item

    def unread_tables(self, path: Path) -> set[str]:
        """The tables the file's unreadable parts may hold: the table a file or an empty
        sheet is named after, or any table for an unreadable workbook not named after one."""
        if not self.problem_sheets:
            return set()
        if not self.tables:
            stem = sources.table_name(path.stem)
            return {stem if stem in TABLES_BY_NAME else ANY_TABLE}
        return {sources.table_name(s) for s in self.problem_sheets if s}


def _partners_unknown(unread: set[str], partners: list) -> bool:
    """The source's partners cannot be known: their file (or sheet) could not be read, or a
    part of it has rows but no usable account id (the column missing, or stored as numbers).
    Every reference would then be an ``unknown_partner``: the problem already reported is the
    one to fix, so references are not checked."""
    if unread & {"partners", ANY_TABLE}:
        return True
    return any(len(frame) and frame["account_id"].isna().all() for _, frame in partners)


def _whole_tables_joined(items: Iterable[sources.RawTable | Problem],
                         log: ProblemLog) -> Iterator[sources.RawTable]:
    """The batches of the long tables as they come; a short table's batches joined into one
    (its checks see all its rows at once). Problems go to ``log``."""
    pending: list[sources.RawTable] = []

    def joined() -> sources.RawTable:
        first = pending[0]
        if len(pending) > 1:
            first.frame = pd.concat([r.frame for r in pending], ignore_index=True)
            if first.numeric is not None:
                first.numeric = np.vstack([r.numeric for r in pending
                                           if r.numeric is not None])
        pending.clear()
        return first

    for item in items:
        if isinstance(item, Problem):
            log.add(item)
            continue
        if item.name in STREAMED:
            yield item
            continue
        if pending and (pending[0].name, pending[0].sheet) != (item.name, item.sheet):
            yield joined()
        pending.append(item)
    if pending:
        yield joined()


def _duplicates_across_parts(spec: Table, parts: list) -> list[Problem]:
    seen: set[tuple] = set()
    out: list[Problem] = []
    for raw, frame in parts:
        keys = list(map(tuple, frame[list(spec.key)].astype("string").to_numpy()))
        for i, k in enumerate(keys):
            if k in seen and len(out) < 50:
                out.append(Problem(raw.file, raw.sheet, raw.row_number(i), " + ".join(spec.key),
                                   " / ".join(map(str, k)), "duplicate_key",
                                   f"each {' + '.join(spec.key)} only once across all {spec.name} files"))
        seen |= set(keys)
    return out


def _sha256_files(files: Iterable[Path]) -> str:
    h = hashlib.sha256()
    for p in files:
        h.update(p.name.encode() + b"\0")
        with open(p, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
    return h.hexdigest()


def _sql_rows(frame: pd.DataFrame, spec: Table) -> Iterable[tuple]:
    cols = []
    for c in spec.columns:
        s = frame[c.name]
        if c.kind == "date":
            cols.append(s.dt.strftime("%Y-%m-%d").astype(object).where(s.notna(), None).tolist())
        elif c.kind in ("bool", "int"):
            cols.append([None if x is pd.NA else int(x) for x in s.astype(object)])
        else:
            cols.append(s.astype(object).where(s.notna(), None).tolist())
    return zip(*cols)


BULK_SORT = {"shipments": ["account_id", "entry_date", "entry_id"],
             "profile_responses": ["account_id", "profile_year", "criterion_id"]}
BULK_DIR = bulk_files.FOLDERS
#: Bulk files of an earlier release that a new file of a kind makes obsolete (the answer
#: states release a397334 derived at import; they are now derived from the responses file).
RETIRED = {"profile_responses": "profile_states"}


def profile_responses_bulk(responses: pd.DataFrame) -> pd.DataFrame:
    """The profile responses as the portfolio reads them in bulk: keys and answer text, kept
    as a sorted Parquet file beside the SQLite table (one partner is read from SQLite)."""
    return pd.DataFrame({
        "account_id": responses["account_id"].astype("string"),
        "profile_year": stored_ints(PROFILE_RESPONSES.column("profile_year"),
                                    responses["profile_year"]),
        "criterion_id": responses["criterion_id"].astype("string"),
        "response_text": responses["response_text"].astype("string"),
    })


#: A bulk file's columns, as a typed frame of its table becomes one.
BULK_FRAME = {"shipments": lambda frame: frame, "profile_responses": profile_responses_bulk}


def bulk_schema(kind: str):  # -> pa.Schema
    """The Arrow schema of a bulk file (pandas' types kept in its metadata)."""
    import pyarrow as pa

    empty = BULK_FRAME[kind](typed_empty(TABLES_BY_NAME[kind]))
    return pa.Schema.from_pandas(empty, preserve_index=False)


def _write_bulk(ws: Workspace, stage: Stage, staged: StagedTable, stamp: str) -> str:
    """Write a bulk table as a new Parquet file: the source's accounts replace theirs."""
    kind = staged.spec.name
    name = bulk_files.file_name(kind, stamp)
    target = ws.path / BULK_DIR[kind] / name
    with replacing(target) as tmp:
        stage.write_bulk(staged, ws.bulk_path(kind), tmp, bulk_schema(kind), BULK_SORT[kind],
                         ROW_GROUP_SIZE)
    if kind == "shipments":  # the counts a date window reads (removed with the file)
        shipment_counts.write(target, stage.con)
    return f"{BULK_DIR[kind]}/{name}"


def import_source(workspace: str | Path | Workspace, source: str | Path, *,
                  progress: bool = True, clock=None) -> ImportSummary:
    """Check ``source`` and, if clean, import it into ``workspace`` in one transaction.

    Imports into one workspace take turns (:func:`bulk_files.import_lock`, held from the
    check to the removal of the replaced files); files an interrupted import left are
    removed first."""
    ws = open_workspace(as_workspace(workspace).path)
    with bulk_files.import_lock(ws.path):
        bulk_files.remove_leftovers(ws.path, ws.bulk_paths())
        return _import_locked(ws, source, progress=progress, clock=clock)


def _import_locked(ws: Workspace, source: str | Path, *, progress: bool,
                   clock) -> ImportSummary:
    now = (clock or utc_now)()
    stamp = now.strftime("%Y%m%dT%H%M%S%f")
    stage = Stage(bulk_files.staging_folder(ws.path, stamp))
    try:
        checked = _check(Path(source), ws, stage, progress)
        if checked.problems:
            raise IntakeError(checked.problems)
        return _write_checked(ws, source, checked, stage, now, stamp, progress)
    finally:
        stage.close()


def _write_checked(ws: Workspace, source: str | Path, checked: CheckedSource, stage: Stage,
                   now, stamp: str, progress: bool) -> ImportSummary:
    digest = _sha256_files(checked.files)
    frames = checked.frames
    steps = [t for t in SQL_TABLES if t.name in frames or t.name in stage.tables]
    bar = tqdm(total=len(steps) + len(stage.tables), desc="importing", unit="table",
               disable=not progress)
    old_files = {kind: ws.bulk_path(kind) for kind in stage.tables}
    retired = {RETIRED[kind]: ws.bulk_path(RETIRED[kind])
               for kind in stage.tables if kind in RETIRED}
    new_files: dict[str, str] = {}
    try:
        for kind, staged in stage.tables.items():
            new_files[kind] = _write_bulk(ws, stage, staged, stamp)
            bar.update()
    except BaseException:
        for rel in new_files.values():
            remove_bulk_file(ws.path / rel)
        bar.close()
        raise
    conn = ws.connect()
    writes = reference_store.StagedImport(conn)
    try:
        for spec in steps:
            long = stage.tables.get(spec.name)  # a long table, streamed from its staging
            rows = long.sql_rows() if long is not None else _sql_rows(frames[spec.name], spec)
            if spec is PARTNERS:
                writes.upsert_partners(rows)
            else:
                accounts = long.accounts() if long is not None \
                    else frames[spec.name]["account_id"].unique()
                writes.replace_account_rows(spec, accounts, rows)
            bar.update()
        meta = {"last_import_at": now.isoformat(timespec="seconds"),
                "last_import_source": str(Path(source).resolve()),
                "source_sha256": digest}
        meta.update({f"{kind}_file": rel for kind, rel in new_files.items()})
        writes.publish(meta, [f"{kind}_file" for kind in retired])
    except BaseException:
        for rel in new_files.values():
            remove_bulk_file(ws.path / rel)
        try:
            writes.discard()
        except Exception:  # what is left is dropped by the next import or open
            pass
        raise
    finally:
        conn.close()
        bar.close()
    for kind, old in old_files.items():
        if old is not None and old != ws.path / new_files[kind]:
            remove_bulk_file(old)
    for old in retired.values():
        if old is not None:
            remove_bulk_file(old)
    return ImportSummary(dict(checked.rows), digest, new_files.get("shipments"))


def format_problems(problems: list[Problem], limit: int = 200) -> str:
    """A plain fixed-width table of problems, as the CLI prints them."""
    rows = [(escape_invisible(p.file + (f" [{p.sheet}]" if p.sheet else "")),
             "" if p.row is None else str(p.row), p.column or "",
             escape_invisible(p.value or "")[:30], p.code, p.expected) for p in problems[:limit]]
    head = ("file", "row", "column", "value", "problem", "expected")
    widths = [min(40, max(len(h), *(len(r[i]) for r in rows))) if rows else len(h)
              for i, h in enumerate(head[:-1])]
    lines = ["  ".join(h.ljust(w) for h, w in zip(head[:-1], widths)) + "  " + head[-1]]
    for r in rows:
        lines.append("  ".join(c[:w].ljust(w) for c, w in zip(r[:-1], widths)) + "  " + r[-1])
    if len(problems) > limit:
        lines.append(f"... and {len(problems) - limit} more (write them all with --problems FILE.xlsx)")
    return "\n".join(lines)


def print_problems(exc: IntakeError, stream: TextIO = sys.stderr) -> None:
    print(f"error: {exc.summary()}\n", file=stream)
    print(format_problems(exc.problems), file=stream)


def write_problems_xlsx(problems: list[Problem], path: str | Path) -> Path:
    """The problems as a workbook a partner can work through (one row per problem)."""
    from openpyxl import Workbook

    from ctpat_audit.core import xlsx as excel

    wb = Workbook()
    ws = excel.first_sheet(wb)
    ws.title = "problems"
    frame = IntakeError(problems).frame()
    frame["fixed"] = ""
    excel.write_table(ws, frame, widths={"expected": 60, "value": 30}, wrap=["expected"])
    return excel.save(wb, path)
