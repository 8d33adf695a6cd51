"""Data-scale benchmarks for ``make bench``: generate a sample source, import it, load
partners and compute the portfolio, at the sizes docs/performance.md names.

Memory figures are the child process's peak resident set (``os.wait4``'s ``ru_maxrss``), not a
Python-level count: they include DuckDB's and Arrow's own allocations. While an import runs, a
writer in this process commits a one-row transaction every 50 ms to the same workspace, as an
answer being saved would; the longest it waited is ``*_writer_wait_max_ms``.
"""
from __future__ import annotations

import datetime as dt
import os
import random
import shutil
import sqlite3
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent
WORK = ROOT / "work"
BIN = Path(sys.executable).parent
AS_OF = dt.date(2026, 11, 1)


def run_child(args: list[str]) -> dict[str, float]:
    """Run a command: wall seconds, CPU seconds (user + system) and peak resident GiB."""
    t = time.perf_counter()
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"benchmark step failed: {' '.join(args)}")
    return {"s": round(wall, 2), "cpu_s": round(usage.ru_utime + usage.ru_stime, 1),
            "peak_gib": round(usage.ru_maxrss / 1024 / 1024, 3)}  # ru_maxrss is KiB on Linux


def source(partners: int, shipments: int) -> tuple[Path, dict[str, float] | None]:
    """The sample source of that size, generated once and kept (its figures the time it is
    generated, else None)."""
    src = WORK / f"source-{partners}-{shipments}"
    if (src / "outreach.xlsx").exists():  # written last
        return src, None
    print(f"generating sample source {partners:,} partners / {shipments:,} shipments (once) ...",
          flush=True)
    shutil.rmtree(src, ignore_errors=True)
    fig = run_child([str(BIN / "ctpat-audit"), "sample", str(src), "--partners", str(partners),
                     "--seed", "1", "--shipments-per-partner", repr(shipments / partners),
                     "--as-of", AS_OF.isoformat()])
    print(f"  generated in {fig['s']} s, peak {fig['peak_gib']} GiB", flush=True)
    return src, fig


def _probe(db: Path, stop: threading.Event, waits: list[float]) -> None:
    conn = sqlite3.connect(db, isolation_level=None, timeout=3600)
    try:
        while not stop.wait(0.05):
            t = time.perf_counter()
            conn.execute("BEGIN IMMEDIATE")
            conn.execute("INSERT INTO meta (key, value) VALUES ('bench_writer_probe', ?) "
                         "ON CONFLICT(key) DO UPDATE SET value = excluded.value", (str(t),))
            conn.execute("COMMIT")
            waits.append(time.perf_counter() - t)
        conn.execute("DELETE FROM meta WHERE key = 'bench_writer_probe'")
    finally:
        conn.close()


def imported(src: Path, name: str) -> tuple[Path, dict[str, float]]:
    """A fresh workspace with ``src`` imported; the import's figures."""
    ws = WORK / f"ws-{name}"
    shutil.rmtree(ws, ignore_errors=True)
    subprocess.run([str(BIN / "ctpat-audit"), "init", "-w", str(ws)], check=True,
                   stdout=subprocess.DEVNULL)
    stop, waits = threading.Event(), []
    probe = threading.Thread(target=_probe, args=(ws / "ctpat.sqlite", stop, waits))
    probe.start()
    try:
        fig = run_child([str(BIN / "ctpat-audit"), "import", "-w", str(ws), str(src), "--quiet"])
    finally:
        stop.set()
        probe.join()
    fig["writer_wait_max_ms"] = round(1000 * max(waits, default=0.0), 1)
    fig["writer_commits"] = len(waits)
    return ws, fig


def partner_loads(ws_path: Path, n: int = 60) -> dict[str, float]:
    """Median and 90th percentile seconds of loading one partner (profile, contacts,
    responses, shipments), over ``n`` partners drawn at random."""
    from ctpat_audit.workspace.reference import open_workspace

    ws = open_workspace(ws_path)
    ids = list(ws.partners()["account_id"])
    sample = random.Random(1).sample(ids, min(n, len(ids)))
    ws.partner(sample[0])  # warm imports
    times = []
    for acc in sample:
        t = time.perf_counter()
        p = ws.partner(acc)
        times.append(time.perf_counter() - t)
        assert p.account_id == acc
    return {"median_s": round(statistics.median(times), 4),
            "p90_s": round(sorted(times)[int(0.9 * len(times)) - 1], 4)}


def busiest_partner(ws_path: Path) -> tuple[str, int]:
    """The partner with the most shipments, counted by DuckDB in the file."""
    from ctpat_audit.workspace import bulk_query
    from ctpat_audit.workspace.reference import open_workspace

    path = open_workspace(ws_path).shipments_path()
    assert path is not None
    con = bulk_query.connect()
    try:
        acc, n = con.execute(f"SELECT account_id, count(*) AS n FROM {bulk_query.parquet(path)} "
                             "GROUP BY ALL ORDER BY n DESC, account_id LIMIT 1").fetchall()[0]
    finally:
        con.close()
    return str(acc), int(n)


def refused(src: Path, ws: Path, name: str) -> dict[str, object]:
    """Import, over ``ws``, the source ``src`` plus one small bad shipments file (an entry
    number that ``src`` already has, a mode that does not exist, an unknown partner): the
    import must refuse it with those problems located and change nothing. Its figures."""
    import pyarrow.parquet as pq

    bad = WORK / f"source-{name}-bad"
    shutil.rmtree(bad, ignore_errors=True)
    bad.mkdir()
    for f in src.iterdir():
        (bad / f.name).symlink_to(f.resolve())
    first = pq.ParquetFile(src / "shipments.parquet").read_row_group(0).slice(0, 1).to_pylist()[0]
    acc, entry = first["account_id"], first["entry_id"]
    (bad / "shipments-late.csv").write_text(
        "account_id,entry_id,entry_date,port_code,mode,examined,exam_type,exam_result\n"
        f"{acc},{entry},2026-10-01,2304,truck,false,,\n"
        f"{acc},LATE-0000001,2026-10-01,2304,boat,false,,\n"
        "9999999,LATE-0000002,2026-10-01,2304,truck,false,,\n")
    before = sorted((p.relative_to(ws), p.stat().st_size) for p in ws.rglob("*") if p.is_file())
    t = time.perf_counter()
    proc = subprocess.Popen([str(BIN / "ctpat-audit"), "import", "-w", str(ws), str(bad),
                             "--quiet"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    _, status, usage = os.wait4(proc.pid, 0)
    assert proc.stdout is not None
    output = proc.stdout.read().decode()
    after = sorted((p.relative_to(ws), p.stat().st_size) for p in ws.rglob("*") if p.is_file())
    located = [line for line in output.splitlines() if line.startswith("shipments")]
    ok = (os.waitstatus_to_exitcode(status) == 3 and before == after
          and {"duplicate_key", "unknown_value", "unknown_partner"}
          <= {w for line in located for w in line.split()})
    if not ok:
        raise SystemExit(f"the bad source was not refused as it should be:\n{output[-3000:]}")
    shutil.rmtree(bad)
    return {"s": round(time.perf_counter() - t, 2), "peak_gib":
            round(usage.ru_maxrss / 1024 / 1024, 3), "problems_listed": len(located),
            "output": output}


def national(partners: int, shipments: int, key: str, out: dict) -> Path:
    """Generate, import, load partners and compute the portfolio at one size; figures under
    ``{what}_{key}_...`` keys."""
    from operations import benchmark_portfolio

    src, gen = source(partners, shipments)
    if gen is not None:
        out.update({f"sample_{key}_s": gen["s"], f"sample_{key}_peak_gib": gen["peak_gib"]})
    ws, imp = imported(src, key)
    out.update({f"import_{key}_s": imp["s"], f"import_{key}_peak_gib": imp["peak_gib"],
                f"import_{key}_cpu_s": imp["cpu_s"],
                f"import_{key}_writer_wait_max_ms": imp["writer_wait_max_ms"],
                f"import_{key}_writer_commits": imp["writer_commits"]})
    print(f"import {partners:,} partners / {shipments:,} shipments: {imp}", flush=True)
    loads = partner_loads(ws)
    out.update({f"partner_load_{key}_s": loads["median_s"],
                f"partner_load_{key}_p90_s": loads["p90_s"]})
    print(f"partner load: {loads}", flush=True)
    fig = benchmark_portfolio(ws, AS_OF)
    out.update({f"portfolio_{key}_s": fig["seconds"], f"portfolio_{key}_cpu_s": fig["cpu_seconds"],
                f"portfolio_{key}_peak_rss_mib": fig["peak_rss_mib"],
                **{f"portfolio_{key}_step_{k}_s": v for k, v in fig["steps"].items()}})
    print(f"portfolio: {fig['seconds']} s, steps {fig['steps']}", flush=True)
    bad = refused(src, ws, key)
    out.update({f"import_{key}_refused_s": bad["s"], f"import_{key}_refused_peak_gib":
                bad["peak_gib"], f"import_{key}_refused_problems": bad["problems_listed"]})
    print(f"bad source refused, nothing written: {bad['s']} s, peak {bad['peak_gib']} GiB\n"
          f"{bad['output']}", flush=True)
    return ws
