"""Recipe 7: the CSV, Excel and Parquet loaders under fuzzing, bombs, and leading zeros.

Fuzzing: Hypothesis generates partner tables (hostile cell text, numbers, dates, empty cells,
odd headers) written in each format, then optionally damages the file's bytes (flips,
truncation, inserted garbage). ``intake.check_source`` must return located problems (every
problem names its file) or clean frames; any other exception is a crash. Each format runs in
its own child process for a fixed time (120 s; quick 1.5 s) under ``RLIMIT_AS``: 512 MiB more
than the address space the child holds after importing pandas/pyarrow/openpyxl (their thread
pools and allocators reserve several hundred MiB of address space up front).

Bombs: an .xlsx whose sheet inflates to 600 MiB (zip bomb) and one whose sheet XML declares
nested entities (billion laughs) must be refused in under 2 s.
Leading zeros: account ids like ``0012345`` written to CSV, .xlsx and Parquet and read back,
1,000 round trips, must come back exactly.
Full import: every table, in each format, through ``intake.import_source`` with integer
columns, numeric workbook ids and hostile text (:mod:`stress.fuzz_import`; the same time per
format as the loaders): ``fuzz_import_violations`` counts what an import let in or changed
that it must not, crashes join ``fuzz_crashes``.
"""
from __future__ import annotations

import io
import multiprocessing as mp
import random
import time
import zipfile
from pathlib import Path

from . import Figures
from .fuzz_import import fuzz_imports

MEMORY_LIMIT = 512 * 2**20
HEADER = ["account_id", "legal_name", "status", "certification_date", "profile_anniversary"]
ctx = mp.get_context("spawn")


def write_table_file(fmt: str, path: Path, header: list[str],
                     rows: list[list[object]]) -> None:
    import pandas as pd

    if fmt == "csv":
        buf = io.StringIO()
        import csv
        w = csv.writer(buf)
        w.writerow(header)
        w.writerows(rows)
        path.write_text(buf.getvalue(), encoding="utf-8", errors="surrogatepass")
    elif fmt == "xlsx":
        from openpyxl import Workbook
        wb = Workbook()
        ws = wb.active
        ws.title = path.stem  # the table the file is named after
        ws.append(header)
        for r in rows:
            ws.append(r)
        wb.save(path)
    else:
        cols = {h: _parquet_column([r[j] if j < len(r) else None for r in rows])
                for j, h in enumerate(header)}
        pd.DataFrame(cols).to_parquet(path)


def _parquet_column(values: list[object]) -> list[object]:
    """A Parquet column holds one type: values of one type stay as they are (integers past
    64 bits, which Parquet cannot hold, become text), integers mixed with floats become
    floats, and any other mix becomes text, as a spreadsheet saving it would write it."""
    present = [v for v in values if v is not None]
    kinds = {type(v) for v in present}
    if kinds == {int} and any(not -2**63 <= v < 2**63 for v in present):
        kinds = {int, str}
    if kinds == {int, float}:
        return [None if v is None else float(v) for v in values]
    if len(kinds) > 1:
        return [None if v is None else str(v) for v in values]
    return values


def _damage(data: bytes, rng: random.Random) -> bytes:
    data = bytearray(data)
    for _ in range(rng.randint(1, 8)):
        op = rng.random()
        if not data:
            break
        pos = rng.randrange(len(data))
        if op < 0.5:
            data[pos] ^= 1 << rng.randrange(8)
        elif op < 0.7:
            del data[pos:]
        else:
            data[pos:pos] = rng.randbytes(rng.randint(1, 32))
    return bytes(data)


def _address_space() -> int:
    """This process's virtual size now (bytes; Linux /proc)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmSize:"):
            return int(line.split()[1]) * 1024
    return 0


def _fuzz_child(fmt: str, seconds: float, workdir: str, results) -> None:
    """Runs in a child: limit memory, then Hypothesis batches until the time is used up."""
    import resource

    import pyarrow as pa
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    from ctpat_audit.intake.importer import check_source

    # Arrow's thread pools reserve address space per thread; start them small and warm
    # (one write and read) before the limit, so the limit measures the loaders, not thread
    # stacks.
    pa.set_cpu_count(1)
    pa.set_io_thread_count(1)
    warm = Path(workdir) / "warm.parquet"
    write_table_file("parquet", warm, HEADER,
                     [["0012345", "A", "certified", "2024-01-02", "2024-03-01"]])
    check_source(warm)
    warm.unlink()
    limit = _address_space() + MEMORY_LIMIT
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    cell = st.one_of(st.none(), st.text(max_size=40), st.integers(-10**20, 10**20),
                     st.floats(allow_nan=True), st.booleans(),
                     st.sampled_from(["0012345", "=1+1", "2025-02-30", "certified", "", " ",
                                      "\x00", "1e9999", "NaN", "null", "ÿ", "\ufeff"]))
    row = st.lists(cell, min_size=0, max_size=7)
    header = st.one_of(st.just(HEADER), st.lists(st.sampled_from(
        HEADER + ["", " account_id", "Account ID", "x", "account_id"]), max_size=7))
    crashes: list[str] = []
    cases = 0
    path = Path(workdir) / f"partners.{fmt}"

    @settings(max_examples=25, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(header=header, rows=st.lists(row, max_size=20), damage=st.integers(0, 2**32),
           damaged=st.booleans())
    def one(header, rows, damage, damaged):
        nonlocal cases
        if fmt != "csv":
            rows = [[c if not isinstance(c, str) else c.replace("\x00", "") for c in r]
                    for r in rows]
        try:
            write_table_file(fmt, path, header, rows)
        except Exception:
            return
        if damaged:
            path.write_bytes(_damage(path.read_bytes(), random.Random(damage)))
        cases += 1
        try:
            checked = check_source(path)
            unlocated = [p for p in checked.problems if not p.file]
            if unlocated:
                crashes.append(f"problem without a file: {unlocated[0]}")
        except Exception as exc:
            import traceback
            tb = traceback.extract_tb(exc.__traceback__)[-1]
            crashes.append(f"{type(exc).__name__}: {exc} at {Path(tb.filename).name}:"
                           f"{tb.lineno}; {path.name} {path.read_bytes()[:120]!r}"[:400])

    start = time.monotonic()
    while time.monotonic() - start < seconds:
        one()
    results.put((fmt, cases, round(time.monotonic() - start, 1), crashes))


def fuzz(fmt: str, seconds: float, workdir: Path) -> tuple[int, float, list[str]]:
    workdir.mkdir(parents=True, exist_ok=True)
    results = ctx.Queue()
    p = ctx.Process(target=_fuzz_child, args=(fmt, seconds, str(workdir), results))
    p.start()
    try:
        _, cases, used, crashes = results.get(timeout=seconds + 180)
    except Exception:
        p.kill()
        return 0, seconds, [f"{fmt} fuzz child died with exit code {p.exitcode}"]
    p.join(30)
    return cases, used, crashes


def zip_bomb(path: Path, inflated: int = 600 << 20, level: int = 1) -> Path:
    """A workbook whose sheet XML inflates to ``inflated`` bytes (written in streamed chunks)."""
    from openpyxl import Workbook

    wb = Workbook()
    wb.active.append(HEADER)
    buf = io.BytesIO()
    wb.save(buf)
    src = zipfile.ZipFile(io.BytesIO(buf.getvalue()))
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=level) as z:
        for info in src.infolist():
            if info.filename != "xl/worksheets/sheet1.xml":
                z.writestr(info, src.read(info))
                continue
            row = b'<row><c t="inlineStr"><is><t>0012345</t></is></c></row>'
            with z.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as fh:
                fh.write(b'<?xml version="1.0"?><worksheet xmlns="http://schemas.openxmlformats'
                         b'.org/spreadsheetml/2006/main"><sheetData>')
                chunk = row * (1 << 14)
                for _ in range(inflated // len(chunk)):
                    fh.write(chunk)
                fh.write(b"</sheetData></worksheet>")
    return path


def entity_bomb(path: Path) -> Path:
    """A workbook whose sheet XML is a billion-laughs document."""
    from openpyxl import Workbook

    wb = Workbook()
    wb.active.append(HEADER)
    buf = io.BytesIO()
    wb.save(buf)
    src = zipfile.ZipFile(io.BytesIO(buf.getvalue()))
    ents = "".join(f'<!ENTITY l{i} "{f"&l{i - 1};" * 10}">' for i in range(1, 10))
    sheet = (f'<?xml version="1.0"?><!DOCTYPE worksheet [<!ENTITY l0 "lol">{ents}]>'
             '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
             '<sheetData><row r="1"><c r="A1" t="inlineStr"><is><t>&l9;</t></is></c></row>'
             '</sheetData></worksheet>')
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for info in src.infolist():
            data = sheet.encode() if info.filename == "xl/worksheets/sheet1.xml" \
                else src.read(info)
            z.writestr(info, data)
    return path


def bombs(root: Path, quick: bool = False) -> dict[str, float]:
    from ctpat_audit.intake.importer import check_source

    out = {}
    for name, make in (("zip", zip_bomb), ("entity", entity_bomb)):
        (root / f"{name}-bomb").mkdir(parents=True, exist_ok=True)
        small = {"inflated": 64 << 20, "level": 9} if quick and make is zip_bomb else {}
        path = make(root / f"{name}-bomb" / "partners.xlsx", **small)
        t = time.monotonic()
        try:
            checked = check_source(path)
            refused = any(p.code == "unreadable_workbook" for p in checked.problems)
        except Exception:
            refused = False
        out[f"bomb_{name}_seconds"] = round(time.monotonic() - t, 3)
        out[f"bomb_{name}_refused"] = int(refused)
    return out


def leading_zeros(root: Path, rounds: int, seed: int) -> int:
    """Round trips of ids with leading zeros through every format; returns ids changed."""
    import pandas as pd

    from ctpat_audit.intake.importer import check_source

    rng = random.Random(seed)
    changed = 0
    ids = [f"{rng.randrange(10**6):07d}" for _ in range(5)] + ["0000001", "00"]
    for k in range(rounds):
        fmt = ("csv", "xlsx", "parquet")[k % 3]
        folder = root / "zeros" / str(k % 3)
        folder.mkdir(parents=True, exist_ok=True)
        rows = [[i, f"Partner {i}", "certified", "2024-01-02", "2024-03-01"] for i in ids]
        write_table_file(fmt, folder / f"partners.{fmt}", HEADER, rows)
        checked = check_source(folder / f"partners.{fmt}")
        got = list(checked.frames["partners"]["account_id"]) if "partners" in checked.frames \
            else []
        changed += sum(1 for a, b in zip(ids, got) if a != b) + abs(len(ids) - len(got))
        ids = [str(x) for x in got] or ids  # the next round writes what was read
        assert all(isinstance(x, str) for x in ids) or pd is None
    return changed


def run(root: Path, quick: bool = False, seed: int = 3) -> Figures:
    seconds = 1.5 if quick else 120
    root = Path(root)
    figures: dict = {}
    crashes: list[str] = []
    total = 0.0
    for fmt in ("csv", "xlsx", "parquet"):
        cases, used, found = fuzz(fmt, seconds, root / fmt)
        figures[f"fuzz_{fmt}_cases"] = cases
        total += used
        crashes += [f"{fmt}: {c}" for c in found]
    imports = {"cases": 0, "imported": 0, "refused": 0, "unwritable": 0, "tables_both_ways": 0}
    found: list[str] = []
    for fmt in ("csv", "xlsx", "parquet"):
        t = time.monotonic()
        counts, escaped, bad = fuzz_imports(fmt, seconds, root / f"import-{fmt}")
        total += time.monotonic() - t
        for k, n in counts.items():
            imports[k] = imports.get(k, 0) + n
        crashes += [f"import {fmt}: {c}" for c in escaped]
        found += bad
    figures.update({"fuzz_import_cases": imports["cases"],
                    "fuzz_import_imported": imports["imported"],
                    "fuzz_import_refused": imports["refused"],
                    "fuzz_import_unwritable": imports["unwritable"],
                    "fuzz_import_tables_both_ways": imports["tables_both_ways"],
                    "fuzz_import_violations": len(found), "fuzz_import_examples": found[:5]})
    figures.update({"fuzz_seconds": round(total, 1), "fuzz_crashes": len(crashes),
                    "fuzz_examples": crashes[:5]})
    figures.update(bombs(root, quick))
    figures["leading_zero_changed"] = leading_zeros(root, 30 if quick else 1000, seed)
    return figures
