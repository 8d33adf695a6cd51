"""Import a source (a folder of CSV/Excel/Parquet files, or one workbook) into a workspace.

All or nothing: every table is read and checked first, and every problem is collected with its
file, sheet, row and column. If there is any problem, the workspace is not touched at all.
A clean source is staged beside the live tables in short SQLite transactions, so the team's
answers are never held up by an import, and made current in one short transaction
(:class:`~ctpat_audit.workspace.reference_store.StagedImport`); the shipment history and a copy
of the profile responses (what the portfolio reads in bulk) go to new Parquet files first, and
the transaction that records them is what makes them current, so a crash at any point leaves
either the old data or the new, never a mix. The replaced files, and whatever was derived from them,
are removed after the commit. Nothing is judged here: the answer states, for example, are
derived by the analysis that reads them (:mod:`ctpat_audit.analysis.profile_states`).

Semantics of a repeated import: partners are added or updated (never deleted: sessions refer
to them); for every other table in the source, the rows of the accounts it covers replace that
account's rows; tables absent from the source are left as they are.
"""
from __future__ import annotations

import hashlib
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

import pandas as pd
from tqdm.auto import tqdm

from ctpat_audit.core.clock import utc_now
from ctpat_audit.core.errors import IntakeError, Problem
from ctpat_audit.core.files import replacing
from ctpat_audit.core.text import escape_invisible
from ctpat_audit.intake import sources
from ctpat_audit.intake.checks import check_keys_in_workspace, check_partner_refs, check_table, stored_ints
from ctpat_audit.workspace import bulk_files, reference_store
from ctpat_audit.workspace.reference import (
    Workspace,
    as_workspace,
    open_workspace,
    remove_bulk_file,
)
from ctpat_audit.workspace.schema import SQL_TABLES
from ctpat_audit.workspace.tables import PARTNERS, PROFILE_RESPONSES, SHIPMENTS, TABLES, TABLES_BY_NAME, Table

ROW_GROUP_SIZE = 65_536


@dataclass
class CheckedSource:
    frames: dict[str, pd.DataFrame]
    problems: list[Problem]
    files: list[Path] = field(default_factory=list)

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
                 progress: bool = False) -> CheckedSource:
    """Read and check a source without writing anything."""
    source = Path(source)
    if not source.exists():
        return CheckedSource({}, [Problem(str(source), None, None, None, None, "not_found",
                                          "an existing folder or file")])
    files = _source_files(source)
    problems: list[Problem] = []
    if not files:
        problems.append(Problem(str(source), None, None, None, None, "empty_source",
                                "files named after the tables: " +
                                ", ".join(f"{t.name}.csv" for t in TABLES)))
    raws: dict[str, list[sources.RawTable]] = {}
    for path in tqdm(files, desc="reading", unit="file", disable=not progress):
        tables, probs = sources.read(path, display=path.name)
        problems += probs
        for raw in tables:
            stem = sources.table_name(path.stem)
            if raw.sheet and raw.name not in TABLES_BY_NAME and stem in TABLES_BY_NAME \
                    and len(tables) == 1:
                raw.name = stem  # partners.xlsx with its sheet left as "Sheet1"
            if raw.name not in TABLES_BY_NAME:
                problems.append(Problem(raw.file, raw.sheet, None, None, raw.name, "unknown_table",
                                        "a file or sheet named after a table: " +
                                        ", ".join(t.name for t in TABLES)))
                continue
            raws.setdefault(raw.name, []).append(raw)

    frames: dict[str, pd.DataFrame] = {}
    checked: dict[str, list[tuple[sources.RawTable, pd.DataFrame]]] = {}
    for name, parts in raws.items():
        spec = TABLES_BY_NAME[name]
        for raw in parts:
            frame, probs = check_table(spec, raw)
            problems += probs
            checked.setdefault(name, []).append((raw, frame))
        frames[name] = pd.concat([f for _, f in checked[name]], ignore_index=True) \
            if len(parts) > 1 else checked[name][0][1]
        if len(parts) > 1:
            problems += _duplicates_across_parts(spec, checked[name])

    known: set[str] = set()
    if "partners" in frames:
        known |= set(frames["partners"]["account_id"].dropna())
    needs_refs = any(TABLES_BY_NAME[n].refers_to_partner for n in frames)
    if needs_refs and workspace is not None and workspace.db_path.exists():
        conn = workspace.connect(readonly=True)
        try:
            known |= reference_store.account_ids(conn)
        finally:
            conn.close()
    for name, checked_parts in checked.items():
        spec = TABLES_BY_NAME[name]
        if spec.refers_to_partner:
            for raw, frame in checked_parts:
                problems += check_partner_refs(spec, frame, raw, known)
    if "shipments" in checked and workspace is not None and workspace.db_path.exists():
        problems += check_keys_in_workspace(SHIPMENTS, checked["shipments"],
                                            workspace.shipment_batches(["account_id", "entry_id"]))
    return CheckedSource(frames, problems, files)


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


def _write_bulk(ws: Workspace, kind: str, new: pd.DataFrame, stamp: str) -> str:
    """Write a bulk table as a new Parquet file: the source's accounts replace theirs."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    old_path = ws.bulk_path(kind)
    if old_path is not None and old_path.exists():
        old = pq.read_table(old_path).to_pandas()
        keep = ~old["account_id"].isin(set(new["account_id"]))
        new = pd.concat([old[keep], new], ignore_index=True)
    new = new.sort_values(BULK_SORT[kind], kind="stable")
    table = pa.Table.from_pandas(new, preserve_index=False)
    name = bulk_files.file_name(kind, stamp)
    with replacing(ws.path / BULK_DIR[kind] / name) as tmp:
        pq.write_table(table, tmp, row_group_size=ROW_GROUP_SIZE, compression="zstd",
                       write_statistics=True)
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
    checked = check_source(source, ws, progress=progress)
    if checked.problems:
        raise IntakeError(checked.problems)
    now = (clock or utc_now)()
    stamp = now.strftime("%Y%m%dT%H%M%S%f")
    digest = _sha256_files(checked.files)
    frames = checked.frames
    bulk = {}
    if "shipments" in frames:
        bulk["shipments"] = frames["shipments"]
    if "profile_responses" in frames:
        bulk["profile_responses"] = profile_responses_bulk(frames["profile_responses"])
    steps = [t for t in SQL_TABLES if t.name in frames]
    bar = tqdm(total=len(steps) + len(bulk), desc="importing", unit="table", disable=not progress)
    old_files = {kind: ws.bulk_path(kind) for kind in bulk}
    retired = {RETIRED[kind]: ws.bulk_path(RETIRED[kind]) for kind in bulk if kind in RETIRED}
    new_files: dict[str, str] = {}
    try:
        for kind, frame in bulk.items():
            new_files[kind] = _write_bulk(ws, kind, frame, stamp)
            bar.update()
    except BaseException:
        for rel in new_files.values():
            (ws.path / rel).unlink(missing_ok=True)
        bar.close()
        raise
    conn = ws.connect()
    stage = reference_store.StagedImport(conn)
    try:
        for spec in steps:
            frame = frames[spec.name]
            if spec is PARTNERS:
                stage.upsert_partners(_sql_rows(frame, spec))
            else:
                stage.replace_account_rows(spec, frame["account_id"].unique(),
                                           _sql_rows(frame, spec))
            bar.update()
        meta = {"last_import_at": now.isoformat(timespec="seconds"),
                "last_import_source": str(Path(source).resolve()),
                "source_sha256": digest}
        meta.update({f"{kind}_file": rel for kind, rel in new_files.items()})
        stage.publish(meta, [f"{kind}_file" for kind in retired])
    except BaseException:
        for rel in new_files.values():
            (ws.path / rel).unlink(missing_ok=True)
        try:
            stage.discard()
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
    return ImportSummary({k: len(v) for k, v in frames.items()}, digest, new_files.get("shipments"))


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
