"""Part of recipe 7 (``fuzz_loaders``): every table through the full import.

Hypothesis picks a table and writes rows of valid values for its declared columns (each key
once, the rules tying columns together kept: :func:`valid_rows`) in one format (CSV, .xlsx
named and sheeted after the table, Parquet), then makes up to two cells hostile, drawn per
column kind: ids (look-alikes, paths, invisible characters, and numbers, which a workbook
stores as number cells), integers (in and far out of the declared range, past 64 bits,
``inf``, ``NaN``, text), dates, booleans, choices, criterion ids (also as numbers) and text
(noncharacters, bidi controls, formulas). A workbook cannot hold ``inf`` or ``NaN`` as numbers
(openpyxl writes an empty cell) and Parquet one type per column (a mix is written as text,
integers with floats as floats); cells no format can hold (control characters in a workbook)
are counted in ``fuzz_import_unwritable``, not tried. A valid partners table comes with it, and
the source is imported with ``intake.import_source`` into a copy of a workspace that already
holds two partners and their shipments (so an ``entry_id`` can collide with another
partner's).

Each case ends one of two ways. Refused: an ``IntakeError`` whose every problem names its
file, and the workspace byte for byte as it was; a file with no hostile cell must not be
refused. Imported: every stored id has the one safe shape, every integer is inside its
column's range, no text holds an unsafe character, every ``entry_id`` is unique, and no id or
criterion id was taken from a workbook's number cell. Anything else is a crash (another
exception) or a violation (``fuzz_import_violations``). ``fuzz_import_tables_both_ways``
counts the (table, format) pairs seen both imported and refused (a full run: all 21).
"""
from __future__ import annotations

import datetime as dt
import hashlib
import multiprocessing as mp
import queue
import shutil
import time
from pathlib import Path

ctx = mp.get_context("spawn")
BASE_PARTNERS = ["0012345", "0000001"]
BASE_ENTRIES = ["E1", "E2"]  # their shipments' entry ids
HOSTILE_IDS = ["../x", "a/b", "..", "\uff10012345", "0012345\u200b", " 0012345", "0012345\n",
               "\u0430bc", "A" * 70, "0012345\u00a0", "=1+1"]
HOSTILE_TEXT = ["Acme\uffff", "Acme \u202eLtd", "\ufdd0", "\U0010fffe x", "=1+1", "ok",
                "\u2066isolate", "\x00nul", "tab\tok", "東京"]


def valid_values(column, table: str = ""):
    """Values a partner's file would hold for a declared column of ``table``."""
    from hypothesis import strategies as st

    kind, name = column.kind, column.name
    if name == "account_id" and table == "partners":  # known partners, or new ones
        return st.one_of(st.sampled_from(BASE_PARTNERS), st.from_regex(r"[0-9]{7}",
                                                                       fullmatch=True))
    if name == "account_id":
        return st.sampled_from(BASE_PARTNERS)
    if name == "port_code":
        return st.sampled_from(["2304", "0901"])
    if name == "email":
        return st.from_regex(r"[a-z]{1,8}@[a-z]{1,8}\.example", fullmatch=True)
    if name == "country":
        return st.sampled_from(["US", "MX", "CA"])
    if kind == "id":  # never E1 or E2: the workspace's entries (a collision is hostile)
        return st.from_regex(r"[A-Z][0-9]{1,6}", fullmatch=True).filter(
            lambda x: x not in BASE_ENTRIES)
    if kind == "int":
        return st.integers(column.minimum, column.maximum)
    if kind == "date":
        return st.dates(dt.date(1990, 1, 1), dt.date(2100, 1, 1)).map(str)
    if kind == "bool":
        return st.booleans()
    if kind == "choice":
        return st.sampled_from(column.choices)
    if kind == "criterion_id":
        return st.sampled_from(["1.1", "6.1", "9.10", "11.5"])
    return st.from_regex(r"[A-Za-z][A-Za-z .'-]{0,19}", fullmatch=True)


def hostile_values(column):
    """What a hostile sender puts in a column (numbers where a workbook could hold them)."""
    from hypothesis import strategies as st

    from ctpat_audit.core import vocabulary as v

    kind = column.kind
    if kind == "id":
        return st.one_of(st.sampled_from(HOSTILE_IDS), st.integers(0, 10**8),
                         st.text(max_size=10))
    if kind == "int":
        return st.one_of(st.integers(1985, 2105), st.integers(-10**20, 10**20),
                         st.floats(allow_nan=True, allow_infinity=True),
                         st.sampled_from(["2025.0", "inf", "NaN", "1e3", "+2025", ""]),
                         st.text(max_size=6))
    if kind == "date":
        return st.one_of(st.dates(dt.date(1, 1, 1), dt.date(9999, 1, 1)).map(str),
                         st.sampled_from(["2025-02-30", "01/02/2025", "", "2025-01-02 10:00"]),
                         st.datetimes(dt.datetime(1990, 1, 1), dt.datetime(2100, 1, 1)))
    if kind == "bool":
        return st.sampled_from(["true", "no", "maybe", "", "1", "2"])
    if kind == "choice":
        labels = {**v.ENTITY_TYPES, **v.EXAM_TYPES, **v.EXAM_RESULTS}
        return st.one_of(st.sampled_from([labels.get(c, c) for c in column.choices]),
                         st.text(max_size=8))
    if kind == "criterion_id":
        return st.one_of(st.sampled_from(["13.1", "", "6.01"]), st.floats(0, 20))
    return st.one_of(st.sampled_from(HOSTILE_TEXT), st.text(max_size=20))


def valid_rows(table, rows: list[list[object]]) -> list[list[object]]:
    """The rows a correct file would hold: each key once (the first row with it kept), and
    the rules that tie columns together kept (exam fields exactly when examined)."""
    at = {name: j for j, name in enumerate(table.column_names)}
    seen: set[tuple] = set()
    out = []
    for row in rows:
        key = tuple(row[at[k]] for k in table.key)
        if key in seen:
            continue
        seen.add(key)
        if table.name == "shipments" and not row[at["examined"]]:
            row[at["exam_type"]] = row[at["exam_result"]] = ""
        out.append(row)
    return out


def _numbers_in_id_cells(table, header: list[str], rows: list[list[object]]) -> bool:
    kinds = {c.name: c.kind for c in table.columns}
    return any(kinds.get(h) in ("id", "criterion_id") and isinstance(r[j], (int, float))
               and not isinstance(r[j], bool)
               for r in rows for j, h in enumerate(header) if j < len(r))


def _tree(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def violations(ws, table) -> list[str]:
    """What an imported workspace must never hold (see the module docstring)."""
    from ctpat_audit.core.identifiers import SAFE_ID
    from ctpat_audit.core.text import UNSAFE
    from ctpat_audit.workspace.tables import TABLES

    found = []
    for spec in TABLES:
        frame = ws.shipments() if spec.bulk else ws.table(spec.name)
        for c in spec.columns:
            values = frame[c.name].dropna()
            if c.kind == "id":
                found += [f"{spec.name}.{c.name} {x!r}" for x in values
                          if not SAFE_ID.fullmatch(str(x))]
            elif c.kind == "int":
                found += [f"{spec.name}.{c.name} {x!r}" for x in values
                          if not c.minimum <= int(x) <= c.maximum]
            elif c.kind == "text":
                found += [f"{spec.name}.{c.name} {x!r}" for x in values if UNSAFE.search(str(x))]
    if not ws.shipments()["entry_id"].is_unique:
        found.append("duplicate entry_id in the workspace")
    return found


def _base_workspace(root: Path) -> Path:
    """Two partners with shipments (entry ids E1, E2), imported the ordinary way."""
    import pandas as pd

    from ctpat_audit.intake.importer import import_source
    from ctpat_audit.workspace.reference import init_workspace

    src = root / "base-source"
    src.mkdir(parents=True)
    pd.DataFrame({"account_id": BASE_PARTNERS, "legal_name": ["Acme", "Beta"],
                  "status": ["certified"] * 2,
                  "profile_anniversary": ["2026-01-15"] * 2}).to_csv(src / "partners.csv",
                                                                    index=False)
    pd.DataFrame({"account_id": BASE_PARTNERS, "entry_id": BASE_ENTRIES,
                  "entry_date": ["2025-01-02"] * 2, "port_code": ["2304"] * 2,
                  "mode": ["truck"] * 2, "examined": ["false"] * 2, "exam_type": [""] * 2,
                  "exam_result": [""] * 2}).to_csv(src / "shipments.csv", index=False)
    ws = init_workspace(root / "base-ws")
    import_source(ws, src, progress=False)
    return ws.path


def _import_child(fmt: str, seconds: float, workdir: str, results) -> None:
    """Runs in a child: Hypothesis cases until the time is used up."""
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    from ctpat_audit.core.errors import IntakeError
    from ctpat_audit.intake.importer import import_source
    from ctpat_audit.workspace.reference import open_workspace
    from ctpat_audit.workspace.tables import TABLES
    from stress.fuzz_loaders import write_table_file

    root = Path(workdir)
    base = _base_workspace(root)
    crashes: list[str] = []
    bad: list[str] = []
    counts = {"cases": 0, "imported": 0, "refused": 0, "unwritable": 0}
    outcomes: set[tuple[str, str]] = set()  # (table, "imported" or "refused")

    @st.composite
    def case(draw):
        """Rows of valid values for one table, then up to two cells made hostile."""
        table = draw(st.sampled_from(TABLES))
        header = list(table.column_names)
        row = st.tuples(*(valid_values(c, table.name) for c in table.columns)).map(list)
        rows = valid_rows(table, draw(st.lists(row, min_size=1, max_size=6)))
        hostile = draw(st.integers(0, 2))
        for _ in range(hostile):
            i = draw(st.integers(0, len(rows) - 1))
            j = draw(st.integers(0, len(header) - 1))
            rows[i][j] = draw(hostile_values(table.columns[j]))
        return table, header, rows, hostile

    @settings(max_examples=10, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(case())
    def one(drawn):
        table, header, rows, hostile = drawn
        k = counts["cases"]
        src, ws_path = root / f"src{k}", root / f"ws{k}"
        src.mkdir()
        shutil.copytree(base, ws_path)
        try:
            try:
                write_table_file(fmt, src / f"{table.name}.{fmt}", header, rows)
            except Exception:
                counts["unwritable"] += 1  # a value the format cannot hold
                return
            if table.name != "partners":
                shutil.copy(base.parent / "base-source" / "partners.csv", src / "partners.csv")
            counts["cases"] += 1
            before = _tree(ws_path)
            try:
                import_source(ws_path, src, progress=False)
            except IntakeError as exc:
                counts["refused"] += 1
                outcomes.add((table.name, "refused"))
                if [p for p in exc.problems if not p.file]:
                    bad.append(f"{table.name}: a problem without a file")
                if _tree(ws_path) != before:
                    bad.append(f"{table.name}: a refused import changed the workspace")
                if not hostile:
                    codes = sorted({f"{p.column}: {p.code}" for p in exc.problems})
                    bad.append(f"{table.name} {fmt}: a valid file was refused: {codes}"[:300])
                return
            except Exception as exc:
                crashes.append(f"{table.name} {fmt}: {type(exc).__name__}: {exc}"[:300])
                return
            counts["imported"] += 1
            outcomes.add((table.name, "imported"))
            found = violations(open_workspace(ws_path), table)
            if fmt == "xlsx" and _numbers_in_id_cells(table, header, rows):
                found.append("an id or criterion id taken from a number cell")
            bad.extend(f"{table.name} {fmt}: {f}"[:300] for f in found)
        finally:
            shutil.rmtree(src, ignore_errors=True)
            shutil.rmtree(ws_path, ignore_errors=True)

    start = time.monotonic()
    while time.monotonic() - start < seconds:
        one()
    counts["tables_both_ways"] = sum(1 for t in TABLES if {(t.name, "imported"),
                                                           (t.name, "refused")} <= outcomes)
    results.put((fmt, counts, crashes, bad))


def fuzz_imports(fmt: str, seconds: float, workdir: Path) -> tuple[dict, list[str], list[str]]:
    """One format's full-import fuzzing in a child process: (counts, crashes, violations)."""
    workdir.mkdir(parents=True, exist_ok=True)
    results = ctx.Queue()
    p = ctx.Process(target=_import_child, args=(fmt, seconds, str(workdir), results))
    p.start()
    deadline = time.monotonic() + seconds + 300
    while True:
        try:
            _, counts, crashes, bad = results.get(timeout=1)
            break
        except queue.Empty:
            if p.is_alive() and time.monotonic() < deadline:
                continue
            p.kill()  # died (a crash) or hung
            p.join(30)
            ended = f"{fmt} import fuzz child ended with exit code {p.exitcode}, no result"
            return {"cases": 0}, [ended], []
    p.join(30)
    return counts, crashes, bad
