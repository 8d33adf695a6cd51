"""`make bench`: measure the toolkit at the sizes docs/performance.md names and write
benchmarks/results.json (one flat JSON object; seconds unless a key says otherwise).

Full size: 10,000 partners / 5,000,000 shipments. `--quick` (make bench QUICK=1) uses 1,000
partners / 100,000 shipments for development; its figures are marked `"size": "quick"`.
The generated source and workspace are kept under benchmarks/work/ (git-ignored) and reused.
Each section measures one capability; a section whose module is not there yet is reported
as skipped, never faked.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import random
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent
WORK = ROOT / "work"
RESULTS = ROOT / "results.json"
BIN = Path(sys.executable).parent
AS_OF = dt.date(2026, 11, 1)


def machine() -> dict:
    mem = 0
    try:
        with open("/proc/meminfo") as f:
            mem = int(f.readline().split()[1]) / 1024 / 1024
    except OSError:
        pass
    return {"cores": os.cpu_count(), "memory_gib": round(mem, 1), "python": platform.python_version(),
            "platform": platform.platform(), "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds")}


def run_child(args: list[str]) -> tuple[float, float]:
    """Run a command; wall seconds and its peak resident memory in GiB."""
    t = time.perf_counter()
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"benchmark step failed: {' '.join(args)}")
    return wall, usage.ru_maxrss / 1024 / 1024  # ru_maxrss is KiB on Linux


def workspace(partners: int, per_partner: float, out: dict) -> Path:
    """The source (generated once) and a freshly imported workspace; records import figures."""
    tag = f"{partners}x{int(per_partner)}"
    src, ws = WORK / f"source-{tag}", WORK / f"ws-{tag}"
    if not (src / "shipments.parquet").exists():
        print(f"generating sample source {tag} (once) ...", flush=True)
        shutil.rmtree(src, ignore_errors=True)
        subprocess.run([str(BIN / "ctpat-audit"), "sample", str(src), "--partners", str(partners),
                        "--seed", "1", "--shipments-per-partner", str(per_partner),
                        "--as-of", AS_OF.isoformat()], check=True)
    shutil.rmtree(ws, ignore_errors=True)
    subprocess.run([str(BIN / "ctpat-audit"), "init", "-w", str(ws)], check=True, stdout=subprocess.DEVNULL)
    wall, peak = run_child([str(BIN / "ctpat-audit"), "import", "-w", str(ws), str(src), "--quiet"])
    import pyarrow.parquet as pq
    n_ship = pq.ParquetFile(src / "shipments.parquet").metadata.num_rows
    out.update({"import_s": round(wall, 2), "import_peak_mem_gib": round(peak, 3),
                "partners": partners, "shipments": n_ship})
    if partners >= 10_000:
        out["import_10k_s"] = out["import_s"]
    print(f"import {partners:,} partners / {n_ship:,} shipments: {wall:.1f} s, "
          f"peak {peak:.2f} GiB", flush=True)
    return ws


def bench_partner_load(ws_path: Path, out: dict, n: int = 60) -> None:
    from ctpat_audit.workspace.reference import open_workspace

    ws = open_workspace(ws_path)
    ids = list(ws.partners()["account_id"])
    rng = random.Random(1)
    sample = rng.sample(ids, min(n, len(ids)))
    ws.partner(sample[0])  # warm imports
    times = []
    for acc in sample:
        t = time.perf_counter()
        p = ws.partner(acc)
        times.append(time.perf_counter() - t)
        assert p.account_id == acc
    out["partner_load_median_s"] = round(statistics.median(times), 4)
    out["partner_load_p90_s"] = round(sorted(times)[int(0.9 * len(times)) - 1], 4)
    print(f"partner load: median {out['partner_load_median_s']} s, "
          f"p90 {out['partner_load_p90_s']} s", flush=True)


def bench_dashboard(ws_path: Path, out: dict) -> None:
    from ctpat_audit.analysis.costs import cost_avoided, load_costs
    from ctpat_audit.analysis.exam_metrics import compare_to_baseline, exam_metrics, load_baseline
    from ctpat_audit.workspace.reference import open_workspace

    ws = open_workspace(ws_path)
    counts = ws.shipments(columns=["account_id"])["account_id"].value_counts()
    acc = counts.index[0]  # the busiest partner
    baseline, costs = load_baseline(), load_costs()
    p = ws.partner(acc)
    compare_to_baseline(exam_metrics(p.shipments, AS_OF), baseline)  # warm scipy import
    times = []
    for _ in range(5):
        t = time.perf_counter()
        p = ws.partner(acc)
        m = exam_metrics(p.shipments, AS_OF)
        cmp = compare_to_baseline(m, baseline)
        cost_avoided(cmp, m, costs)
        times.append(time.perf_counter() - t)
    out["partner_dashboard_s"] = round(statistics.median(times), 4)
    out["partner_dashboard_shipments"] = int(counts.iloc[0])
    print(f"dashboard (busiest partner, {counts.iloc[0]:,} shipments, load included): "
          f"{out['partner_dashboard_s']} s", flush=True)


def optional(name: str, fn: Callable[[], dict], out: dict) -> None:
    """Sections that call a capability's own benchmark function, when that module exists."""
    try:
        figures = fn()
    except (ImportError, AttributeError) as exc:
        out.setdefault("skipped", {})[name] = f"not available: {exc}"
        print(f"{name}: skipped ({exc})", flush=True)
        return
    out.update(figures)
    print(f"{name}: {figures}", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true", help="small sizes for development")
    ap.add_argument("--no-batch", action="store_true",
                    help="skip the batch comparison (about 20 minutes at full size)")
    ap.add_argument("--no-team", action="store_true",
                    help="skip the team load (20 and 50 specialists beside a batch and "
                         "re-imports; about 10 minutes)")
    args = ap.parse_args()
    WORK.mkdir(exist_ok=True)
    partners, per = (1_000, 100.0) if args.quick else (10_000, 500.0)
    out: dict = {"machine": machine(), "size": "quick" if args.quick else "full"}
    ws = workspace(partners, per, out)
    bench_partner_load(ws, out)
    bench_dashboard(ws, out)

    def portfolio() -> dict:
        from operations import benchmark_portfolio
        fig = benchmark_portfolio(ws, AS_OF)
        key = "portfolio_10k_s" if partners >= 10_000 else "portfolio_s"
        steps = {f"portfolio_step_{k}_s": v for k, v in fig.pop("steps", {}).items()}
        return {key: fig.pop("seconds"), **steps,
                **{f"portfolio_{k}": v for k, v in fig.items() if k not in ("partners",)}}

    def autosave() -> dict:
        from operations import benchmark_autosave

        from ctpat_audit.demo.sample_data import write_sample
        from ctpat_audit.intake.importer import import_source
        from ctpat_audit.workspace.reference import init_workspace

        scratch = WORK / "autosave"
        shutil.rmtree(scratch, ignore_errors=True)
        src = write_sample(scratch / "source", partners=5, seed=2, shipments_per_partner=10)
        import_source(init_workspace(scratch / "ws"), src, progress=False)
        fig = benchmark_autosave(scratch / "ws", n=1000)
        return {"autosave_p99_ms": fig["p99_ms"], "autosave_p50_ms": fig["p50_ms"],
                "autosave_max_ms": fig["max_ms"], "autosave_n": fig["n"]}

    def checklist() -> dict:
        from operations import benchmark_checklist
        fig = benchmark_checklist(ws)
        return {("checklist_" + k if not k.startswith("checklist_") else k): v for k, v in fig.items()
                if isinstance(v, (int, float))}

    def batch() -> dict:
        from batch_bench import benchmark_batch

        from ctpat_audit.demo.sample_data import write_sample
        from ctpat_audit.demo.sample_sessions import write_sample_sessions
        from ctpat_audit.intake.importer import import_source
        from ctpat_audit.trust.signing import demo_keys
        from ctpat_audit.workspace.reference import init_workspace

        n = 10 if args.quick else 200
        root = WORK / f"batch-{n}"
        shutil.rmtree(root, ignore_errors=True)
        src = write_sample(root / "source", partners=max(n + 20, 60), seed=3, as_of=AS_OF,
                           shipments_per_partner=120)
        ws_b = init_workspace(root / "ws")
        import_source(ws_b, src, progress=False)
        write_sample_sessions(ws_b, n, 0, 7, AS_OF)
        os.environ.setdefault("CTPAT_BENCH_PASS", "bench-pass-not-secret")
        keys = demo_keys(ws_b, os.environ["CTPAT_BENCH_PASS"])
        from batch_bench import benchmark_floor, benchmark_single_report

        from ctpat_audit.batch.run import select_sessions

        ids = [s["session_id"] for s in select_sessions(ws_b.path)[:6]]
        single = benchmark_single_report(ws_b.path, ids, root / "work" / "single")
        print(f"single report from a warm start: {single}", flush=True)
        folder = next((root / "work" / "single").glob(f"*/{ids[1]}"))
        floor = benchmark_floor(ws_b.path, folder, keys["demo.supervisor@cbp.example"],
                                ws_b.path / "demo-keys", "CTPAT_BENCH_PASS")
        print(f"fixed cost of every report (CPU s): {floor}", flush=True)
        return {**single, **floor, **benchmark_batch(ws_b.path, n, naive_n=2 if args.quick else 5,
                                            key=keys["demo.supervisor@cbp.example"],
                                            specialist_keys=ws_b.path / "demo-keys",
                                            passphrase_env="CTPAT_BENCH_PASS",
                                            work=root / "work")}

    def team() -> dict:
        from team_load import benchmark_team

        if args.quick:  # 20 specialists beside a small batch and re-imports of 1,000 partners
            return benchmark_team((20,), partners=1_000, reports=4, duration=30)
        return benchmark_team((20, 50), partners=1_000, reports=12, duration=60)

    optional("portfolio", portfolio, out)
    optional("autosave", autosave, out)
    optional("checklist", checklist, out)
    if not args.no_team:
        optional("team", team, out)
    if not args.no_batch:
        optional("batch", batch, out)

    previous = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    if previous.get("size") == out["size"]:  # figures this run did not measure stay, marked
        carried = sorted(k for k in previous if k not in out and k not in ("carried_over", "skipped"))
        out.update({k: previous[k] for k in carried})
        out["carried_over"] = sorted(set(carried) | set(previous.get("carried_over", [])) & set(carried))
    if args.quick and previous.get("size") == "full":
        target = ROOT / "results-quick.json"  # never overwrite full-size figures with quick ones
    else:
        target = RESULTS
    target.write_text(json.dumps(out, indent=2, sort_keys=True, default=str) + "\n")
    print(f"wrote {target}")


if __name__ == "__main__":
    main()
