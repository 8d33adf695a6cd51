"""`make bench`: measure the toolkit at the sizes docs/performance.md names and write
benchmarks/results.json (one flat JSON object; seconds unless a key says otherwise).

Full size: 10,000 partners / 5,000,000 shipments, and national scale: 12,000 partners /
40,000,000 shipments (generation, import, partner load, portfolio: `*_40m_*` keys; about half
an hour, most of it the generation the first time and the import). `--quick` (make bench
QUICK=1) uses 1,000 partners / 100,000 shipments and 1,200 / 400,000 for development; its
figures are marked `"size": "quick"`. `--scale-only` measures the data-scale figures alone.
The generated source and workspace are kept under benchmarks/work/ (git-ignored) and reused.
Each section measures one capability; a section whose module is not there yet is reported
as skipped, never faked.
"""
from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import os
import platform
import shutil
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import scale

ROOT = Path(__file__).resolve().parent
WORK = ROOT / "work"
RESULTS = ROOT / "results.json"
BIN = Path(sys.executable).parent
AS_OF = dt.date(2026, 11, 1)
#: The sections, in order: "import" is the 10k/5M import with partner loads and dashboard,
#: "national" the 12k/40M one; the others are measured on their own workspaces or the 10k one.
SECTIONS = ("import", "portfolio", "national", "autosave", "checklist", "checklist_ready", "team",
            "batch")
#: Keys of earlier runs that no longer measure anything (never carried over): the portfolio
#: no longer reads the window's shipments, it reads the exam counts kept beside them; the
#: batch forks report processes, it keeps no pool of kernels; and the note on a loaded
#: machine described the run that wrote it, not the next one.
RETIRED_KEYS = ("portfolio_step_read_shipments_s", "batch_kernels_per_worker",
                "floor_kernel_cpu_s", "load_note")


def machine() -> dict:
    mem = 0
    try:
        with open("/proc/meminfo") as f:
            mem = int(f.readline().split()[1]) / 1024 / 1024
    except OSError:
        pass
    return {"cores": os.cpu_count(), "memory_gib": round(mem, 1), "python": platform.python_version(),
            "platform": platform.platform(), "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds")}


def bench_dashboard(ws_path: Path, out: dict) -> None:
    from ctpat_audit.analysis.costs import cost_avoided, load_costs
    from ctpat_audit.analysis.exam_metrics import compare_to_baseline, exam_metrics, load_baseline
    from ctpat_audit.workspace.reference import open_workspace

    ws = open_workspace(ws_path)
    acc, busiest = scale.busiest_partner(ws_path)
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
    out["partner_dashboard_shipments"] = busiest
    print(f"dashboard (busiest partner, {busiest:,} shipments, load included): "
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


def kept_workspace(root: Path, build: Callable[[Path], None], params: dict) -> Path:
    """A fresh copy (ROOT/ws) of a workspace built once by ``build`` and kept
    (ROOT/pristine): a batch signs and locks its sessions, so every run starts from the
    same unsigned copy, while building 1,000 validations takes several minutes (every
    sample answer is a synced, audit-logged write). Built again when ``params``, the
    sample generators or the workspace schema changed."""
    from ctpat_audit.demo import sample_data, sample_sessions
    from ctpat_audit.workspace.schema import SCHEMA_VERSION

    stamp = {**params, "schema": SCHEMA_VERSION, "generators": hashlib.sha256(
        b"".join(Path(m.__file__).read_bytes() for m in (sample_data, sample_sessions))
    ).hexdigest()}
    pristine, stamp_file = root / "pristine", root / "pristine.json"
    if not (stamp_file.is_file() and json.loads(stamp_file.read_text()) == stamp):
        shutil.rmtree(root, ignore_errors=True)
        build(root / "building")
        (root / "building" / "ws").rename(pristine)
        shutil.rmtree(root / "building")
        stamp_file.write_text(json.dumps(stamp, indent=2) + "\n")
    shutil.rmtree(root / "ws", ignore_errors=True)
    shutil.copytree(pristine, root / "ws", symlinks=True)
    return root / "ws"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true", help="small sizes for development")
    ap.add_argument("--no-batch", action="store_true",
                    help="skip the batch comparison (about 20 minutes at full size)")
    ap.add_argument("--no-team", action="store_true",
                    help="skip the team load (20 and 50 specialists beside a batch and "
                         "re-imports; about 10 minutes)")
    ap.add_argument("--only", action="append", choices=SECTIONS, metavar="SECTION",
                    help="measure only this section (repeatable; one of "
                         f"{', '.join(SECTIONS)}); the other figures are carried over")
    ap.add_argument("--scale-only", action="store_true",
                    help="the same as --only import --only portfolio --only national: the "
                         "data-scale figures (10,000 / 5 million and 12,000 / 40 million)")
    ap.add_argument("--batch-only", action="store_true",
                    help="the same as --only batch: the report and batch figures (their own "
                         "workspace)")
    ap.add_argument("--batch-reports", type=int, default=None,
                    help="reports in the batch run (default 1000; 10 with --quick)")
    args = ap.parse_args()
    WORK.mkdir(exist_ok=True)
    partners, shipments = (1_000, 100_000) if args.quick else (10_000, 5_000_000)
    out: dict = {"machine": machine(), "size": "quick" if args.quick else "full"}
    only = set(args.only or ()) | ({"batch"} if args.batch_only else set()) \
        | ({"import", "portfolio", "national"} if args.scale_only else set())
    if not only or only & {"import", "portfolio", "checklist"}:  # on the 10k/5M workspace
        src, _ = scale.source(partners, shipments)
        ws, imp = scale.imported(src, f"{partners}-{shipments}")
    if not only or "import" in only:
        out.update({"import_s": imp["s"], "import_peak_mem_gib": imp["peak_gib"],
                    "import_cpu_s": imp["cpu_s"],
                    "import_writer_wait_max_ms": imp["writer_wait_max_ms"],
                    "partners": partners, "shipments": shipments})
        if not args.quick:
            out["import_10k_s"] = imp["s"]
        print(f"import {partners:,} partners / {shipments:,} shipments: {imp}", flush=True)
        loads = scale.partner_loads(ws)
        out.update({"partner_load_median_s": loads["median_s"],
                    "partner_load_p90_s": loads["p90_s"]})
        print(f"partner load: {loads}", flush=True)
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
        from ctpat_audit.workspace.reference import init_workspace, open_workspace

        n = args.batch_reports or (10 if args.quick else 1000)
        os.environ.setdefault("CTPAT_BENCH_PASS", "bench-pass-not-secret")
        secret = os.environ["CTPAT_BENCH_PASS"]

        def build(folder: Path) -> None:
            src = write_sample(folder / "source", partners=max(n + 20, 60), seed=3,
                               as_of=AS_OF, shipments_per_partner=120)
            ws_new = init_workspace(folder / "ws")
            import_source(ws_new, src, progress=False)
            write_sample_sessions(ws_new, n, 0, 7, AS_OF)
            demo_keys(ws_new, secret)

        root = WORK / f"batch-{n}"
        ws_b = open_workspace(kept_workspace(root, build, {
            "validations": n, "partners": max(n + 20, 60), "seed": 3, "as_of": str(AS_OF),
            "shipments_per_partner": 120,
            "passphrase_sha256": hashlib.sha256(secret.encode()).hexdigest()}))
        keys = demo_keys(ws_b, secret)
        from batch_bench import benchmark_floor, benchmark_report_cold, benchmark_single_report

        from ctpat_audit.batch.run import select_sessions

        ids = [s["session_id"] for s in select_sessions(ws_b.path)[:6]]
        cold = benchmark_report_cold(ws_b.path, ids[:3], root / "work" / "cold")
        print(f"one report from a cold shell: {cold}", flush=True)
        single = benchmark_single_report(ws_b.path, ids, root / "work" / "single")
        print(f"single report from a warm start: {single}", flush=True)
        folder = next((root / "work" / "single").glob(f"*/{ids[1]}"))
        floor = benchmark_floor(ws_b.path, folder, keys["demo.supervisor@cbp.example"],
                                ws_b.path / "demo-keys", "CTPAT_BENCH_PASS", ids[1:6])
        print(f"CPU of each step of a report: {floor}", flush=True)
        try:
            batch = benchmark_batch(ws_b.path, n, naive_n=2 if args.quick else 5,
                                    key=keys["demo.supervisor@cbp.example"],
                                    specialist_keys=ws_b.path / "demo-keys",
                                    passphrase_env="CTPAT_BENCH_PASS", work=root / "work")
        except RuntimeError as exc:  # a failed run gives no figure, and says so
            print(f"batch: FAILED, no figures: {exc}", flush=True)
            batch = {"batch_error": str(exc)}
        return {**cold, **single, **floor, **batch, "batch_workspace":
                f"{root.name}: {max(n + 20, 60)} partners x 120 shipments, {n} validations"}


    def team() -> dict:
        from team_load import benchmark_team

        try:
            if args.quick:  # 20 specialists beside a small batch and re-imports
                return benchmark_team((20,), partners=1_000, reports=4, duration=30)
            return benchmark_team((20, 50), partners=1_000, reports=12, duration=60)
        except RuntimeError as exc:  # a run that did not do what it says gives no figure
            print(f"team: FAILED, no figures: {exc}", flush=True)
            return {"team_error": str(exc)}

    def national() -> dict:
        # national scale: 12,000 partners and two years of entries at 20 million a year (an
        # assumption: see docs/performance.md); --quick keeps the same shape, 100 times smaller
        figures: dict = {}
        scale.national(*((1_200, 400_000) if args.quick else (12_000, 40_000_000)),
                       "40m" if not args.quick else "400k", figures)
        return figures

    def checklist_ready() -> dict:
        from checklist_ready import benchmark_checklist_ready
        return benchmark_checklist_ready(WORK / "checklist-ready")

    sections = {"portfolio": portfolio, "national": national, "autosave": autosave,
                "checklist": checklist, "checklist_ready": checklist_ready, "team": team, "batch": batch}
    for name in SECTIONS:
        if name in sections and (not only or name in only) \
                and not (name == "batch" and args.no_batch) \
                and not (name == "team" and args.no_team):
            optional(name, sections[name], out)

    previous = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    if previous.get("size") == out["size"]:  # figures this run did not measure stay, marked
        carried = sorted(k for k in previous if k not in out
                         and k not in ("carried_over", "skipped", *RETIRED_KEYS))
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
