"""``make bench`` figures for a team on one workspace: N specialists answering at once, beside a
supervisor's batch and a re-import of the source.

Every specialist is its own process with its own session (a virtual validation of a partner of
its own): one answer a second, a note with every fifth, each ``Session.answer`` timed from the
call to its return (the durable commit included). While they answer, the supervisor's batch
runs on the same workspace (``ctpat-audit batch``, local workers, specialist and supervisor
signatures) and the source is imported again, one import after another, until the batch has
finished and the minimum duration has passed (``ctpat-audit import``). Afterwards every answer
a specialist was told was saved is looked for in the audit log and in the answers table
(``team_lost``: acknowledged answers missing or different), ``ctpat-audit audit-verify`` checks
the whole record (``team_chain_ok``) and every published report is verified against the
workspace (``ctpat-audit verify REPORT --workspace``).

Run alone::

    .venv/bin/python benchmarks/team_load.py --writers 20 50          # prints JSON
    .venv/bin/python benchmarks/team_load.py --writers 50 --duration 120 --partners 2000

The figures are load-sensitive (50 writer processes, a batch and an import on the machine's
cores): each run records the load average before and during it.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import multiprocessing as mp
import os
import random
import shutil
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent
WORK = ROOT / "work"
BIN = Path(sys.executable).parent
AS_OF = dt.date(2026, 11, 1)
PASS_ENV = "CTPAT_TEAM_BENCH_PASS"
METHOD = "document_review"

__all__ = ["benchmark_team", "main"]


# --- set-up ------------------------------------------------------------------------------

def _cli(*args: str, check: bool = True) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([str(BIN / "ctpat-audit"), *args], check=check, capture_output=True)


def prepare(root: Path, partners: int, per_partner: float, reports: int) -> dict[str, Path]:
    """A source (generated once per size) and a new workspace with ``reports`` submitted
    validations for the batch and demonstration keys; returns the paths."""
    from ctpat_audit.demo.sample_sessions import write_sample_sessions
    from ctpat_audit.intake.importer import import_source
    from ctpat_audit.trust.signing import demo_keys
    from ctpat_audit.workspace.reference import init_workspace

    src = WORK / f"team-source-{partners}x{int(per_partner)}"
    if not (src / "partners.csv").exists():
        shutil.rmtree(src, ignore_errors=True)
        _cli("sample", str(src), "--partners", str(partners), "--seed", "11",
             "--shipments-per-partner", str(per_partner), "--as-of", AS_OF.isoformat())
    shutil.rmtree(root, ignore_errors=True)
    ws = init_workspace(root / "ws")
    import_source(ws, src, progress=False)
    write_sample_sessions(ws, reports, 0, 5, AS_OF)
    os.environ.setdefault(PASS_ENV, "team-bench-pass-not-secret")
    keys = demo_keys(ws, os.environ[PASS_ENV])
    return {"source": src, "ws": ws.path, "out": root / "reports",
            "key": keys["demo.supervisor@cbp.example"], "keys": ws.path / "demo-keys"}


def open_writer_sessions(ws: Path, n: int) -> list[tuple[str, str]]:
    """One open virtual validation per specialist, each on a partner no other session has;
    (session id, specialist e-mail)."""
    from ctpat_audit.sessions.session import list_sessions, open_session
    from ctpat_audit.workspace.reference import open_workspace

    taken = set(list_sessions(ws)["account_id"].astype(str))
    accounts = [a for a in sorted(open_workspace(ws).partners()["account_id"].astype(str))
                if a not in taken][:n]
    if len(accounts) < n:
        raise RuntimeError(f"{ws}: {len(accounts)} partners without a session; need {n}")
    out = []
    for i, acct in enumerate(accounts):
        email = f"specialist{i:02d}@cbp.example"
        with open_session(ws, acct, "validation", "virtual", email) as s:
            out.append((s.id, email))
    return out


# --- one specialist ------------------------------------------------------------------------

def writer(ws: str, session_id: str, email: str, seed: int, start: Any, stop: Any,
           ready: Any, out_file: str) -> None:
    """One specialist's process: an answer a second (a note with every fifth) until ``stop``;
    writes {latencies_ms, at, acknowledged, errors} to ``out_file``."""
    from ctpat_audit.core.vocabulary import ANSWER_STATUSES
    from ctpat_audit.sessions.session import resume_session

    rng = random.Random(seed)
    session = resume_session(ws, session_id, actor=email)
    criteria = [c.criterion_id for c in session.criteria]
    lat: list[float] = []
    stamps: list[float] = []
    acked: list[dict[str, Any]] = []
    errors: list[str] = []
    ready.release()
    while start.value == 0.0:
        time.sleep(0.01)
    t0 = start.value + rng.random()  # each specialist at its own phase of the second
    k = 0
    while not stop.is_set():
        due = t0 + k
        wait = due - time.time()
        if wait > 0:
            time.sleep(wait)
        cid = criteria[k % len(criteria)]
        status = ANSWER_STATUSES[(k // len(criteria) + seed) % len(ANSWER_STATUSES)]
        kw: dict[str, Any] = {"status": status, "method": METHOD}
        if k % 5 == 4:
            kw["notes"] = (f"Note {k} by {email}: seal verification log reviewed for the "
                           "last quarter; the guard confirmed the ISO 17712 seal numbers.")
        t = time.perf_counter()
        try:
            row = session.answer(cid, **kw)
        except Exception as exc:  # recorded: a failed answer is a finding of the benchmark
            errors.append(f"{type(exc).__name__}: {exc}")
        else:
            lat.append((time.perf_counter() - t) * 1000)
            stamps.append(time.time())
            acked.append({f: row[f] for f in ("criterion_id", "facility_id", "status", "method",
                                              "notes", "evidence_requested",
                                              "evidence_received")})
        k += 1
    session.close()
    Path(out_file).write_text(json.dumps({"session_id": session_id, "latencies_ms": lat,
                                          "at": stamps, "acknowledged": acked,
                                          "errors": errors}))


# --- the run -------------------------------------------------------------------------------

def _import_loop(ws: Path, src: Path, stop: threading.Event, log: list[dict[str, Any]]) -> None:
    while not stop.is_set():
        t0 = time.time()
        done = _cli("import", "-w", str(ws), str(src), "--quiet", check=False)
        log.append({"start": t0, "end": time.time(), "rc": done.returncode,
                    "stderr": done.stderr.decode(errors="replace")[-2000:]})


def _load_sampler(stop: threading.Event, samples: list[float]) -> None:
    while not stop.wait(2.0):
        samples.append(os.getloadavg()[0])


def run_team(paths: dict[str, Path], sessions: list[tuple[str, str]], *, duration: float,
             batch_workers: int, work: Path) -> dict[str, Any]:
    """One specialist per session (:func:`open_writer_sessions`) beside a batch and repeated
    imports; the figures of this one run."""
    ws, src = paths["ws"], paths["source"]
    n = len(sessions)
    work.mkdir(parents=True, exist_ok=True)
    ctx = mp.get_context("fork")  # the parent holds no connection; each child opens its own
    start, stop, ready = ctx.Value("d", 0.0), ctx.Event(), ctx.Semaphore(0)
    procs = []
    for i, (sid, email) in enumerate(sessions):
        p = ctx.Process(target=writer, args=(str(ws), sid, email, i, start, stop, ready,
                                             str(work / f"writer-{i}.json")))
        p.start()
        procs.append(p)
    for _ in procs:
        if not ready.acquire(timeout=120):
            raise RuntimeError("a specialist process did not start")
    load_before = os.getloadavg()[0]
    halt = threading.Event()
    imports: list[dict[str, Any]] = []
    loads: list[float] = []
    sampler = threading.Thread(target=_load_sampler, args=(halt, loads), daemon=True)
    sampler.start()
    start.value = time.time() + 1.0
    time.sleep(3.0)  # the specialists are answering before the batch and the import begin
    importer = threading.Thread(target=_import_loop, args=(ws, src, halt, imports))
    importer.start()
    out = paths["out"]
    shutil.rmtree(out, ignore_errors=True)
    env = {**os.environ}
    t_batch = time.time()
    batch = subprocess.run(
        [str(BIN / "ctpat-audit"), "batch", "-w", str(ws), "--out", str(out), "--workers",
         str(batch_workers), "--key", str(paths["key"]), "--specialist-keys",
         str(paths["keys"]), "--passphrase-env", PASS_ENV, "--no-progress", "--force"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, check=False)
    batch_s = time.time() - t_batch
    remaining = start.value + duration - time.time()
    if remaining > 0:
        time.sleep(remaining)
    halt.set()
    importer.join()
    stop.set()
    for p in procs:
        p.join(60)
    sampler.join()
    results = [json.loads((work / f"writer-{i}.json").read_text()) for i in range(n)]
    return _figures(paths, n, results, imports, batch, batch_s, load_before, loads)


def _figures(paths: dict[str, Path], n: int, results: list[dict[str, Any]],
             imports: list[dict[str, Any]], batch: subprocess.CompletedProcess[bytes],
             batch_s: float, load_before: float, loads: list[float]) -> dict[str, Any]:
    from ctpat_audit.batch.run import BatchManifest

    lat = sorted(x for r in results for x in r["latencies_ms"])
    errors = [e for r in results for e in r["errors"]]
    if not lat:
        raise RuntimeError("no answer was saved: " + "; ".join(errors[:3]))
    windows = [(i["start"], i["end"]) for i in imports]
    during = sorted(x for r in results for x, at in zip(r["latencies_ms"], r["at"])
                    if any(a <= at <= b for a, b in windows))
    failed_imports = [i for i in imports if i["rc"] != 0]
    lost, checked = _lost(paths["ws"], results)
    chain = _cli("audit-verify", "-w", str(paths["ws"]), check=False)
    runs = BatchManifest(paths["out"]).runs()
    ok_reports = [r for r in runs.values() if r.get("status") == "ok"]
    verified = sum(_cli("verify", str(paths["out"] / r["folder"]), "--trust",
                        str(paths["ws"] / "keys"), "-w", str(paths["ws"]),
                        check=False).returncode == 0 for r in ok_reports)

    def pct(values: list[float], p: float) -> float:
        return round(values[min(len(values) - 1, round(p / 100 * (len(values) - 1)))], 2)

    def step_median(step: str) -> float | None:
        vals = [r["timings"][step] for r in ok_reports if step in (r.get("timings") or {})]
        return round(statistics.median(vals), 3) if vals else None

    fig: dict[str, Any] = {
        "writers": n, "answers": len(lat), "answer_p50_ms": pct(lat, 50),
        "answer_p99_ms": pct(lat, 99), "answer_max_ms": round(lat[-1], 2),
        "answer_errors": len(errors), "lost": lost, "answers_checked": checked,
        "chain_ok": chain.returncode == 0,
        "answers_during_import": len(during),
        "answer_p99_during_import_ms": pct(during, 99) if during else None,
        "imports": len(imports), "imports_failed": len(failed_imports),
        "import_median_s": round(statistics.median(b - a for a, b in windows), 2)
        if windows else None,
        "batch_rc": batch.returncode, "batch_s": round(batch_s, 1),
        "batch_reports_ok": len(ok_reports), "batch_reports": len(runs),
        "reports_verified": verified,
        "batch_record_median_s": step_median("record"),  # the coordinator's part of a report
        "batch_verify_median_s": step_median("verify"),
        "load_before": round(load_before, 2),
        "load_during_mean": round(statistics.mean(loads), 2) if loads else None,
        "load_during_max": round(max(loads), 2) if loads else None,
    }
    if errors:
        fig["answer_error_sample"] = errors[:3]
    if failed_imports:
        fig["import_error_sample"] = failed_imports[0]["stderr"][-500:]
    if batch.returncode != 0 or len(ok_reports) != len(runs):
        fig["batch_output_tail"] = batch.stdout.decode(errors="replace")[-1500:]
    if chain.returncode != 0:
        fig["chain_output"] = chain.stdout.decode(errors="replace")[-1500:]
    failed = [what for what, bad in (
        ("answers failed", errors), ("an import failed", failed_imports),
        ("the batch failed", batch.returncode != 0 or len(ok_reports) != len(runs)),
        ("a report does not verify", verified != len(ok_reports))) if bad]
    if failed:  # a figure counts only from a run that did what it says
        raise RuntimeError(f"team benchmark with {n} writers: {', '.join(failed)}; no figures. "
                         + json.dumps(fig, default=str))
    return fig


def _lost(ws: Path, results: list[dict[str, Any]]) -> tuple[int, int]:
    """Acknowledged answers that the log or the answers table does not hold as acknowledged:
    each one must be an ``answer`` entry of its session, in order, and the table must hold
    the last one given to each criterion. (lost, answers checked)."""
    from ctpat_audit.workspace import db, store
    from ctpat_audit.workspace.store import ANSWER_FIELDS

    conn = db.connect(ws / "ctpat.sqlite", readonly=True)
    lost = checked = 0
    try:
        for r in results:
            sid = r["session_id"]
            logged = []
            for target, new in conn.execute(
                    "SELECT target, new_value FROM audit_log WHERE session_id = ? AND "
                    "action = 'answer' ORDER BY seq", (sid,)):
                t, v = json.loads(target), json.loads(new)
                logged.append({"criterion_id": t["criterion_id"],
                               "facility_id": t["facility_id"],
                               **{f: v.get(f) for f in ANSWER_FIELDS}})
            acked = r["acknowledged"]
            checked += len(acked)
            i = 0
            for a in acked:  # each acknowledged answer, in order, among the logged ones
                while i < len(logged) and logged[i] != a:
                    i += 1
                if i == len(logged):
                    lost += 1
                else:
                    i += 1
            last = {(a["criterion_id"], a["facility_id"]): a for a in acked}
            for (cid, fid), a in last.items():
                row = store.get_answer(conn, sid, cid, fid)
                stored = None if row is None else {f: row[f] for f in ANSWER_FIELDS}
                if stored != {f: a[f] for f in ANSWER_FIELDS}:
                    lost += 1
    finally:
        conn.close()
    return lost, checked


def benchmark_team(writers: list[int] | tuple[int, ...] = (20, 50), *, partners: int = 1000,
                   per_partner: float = 100.0, reports: int = 12, duration: float = 60.0,
                   batch_workers: int = 2, root: Path | None = None) -> dict[str, Any]:
    """The team figures for each number of writers (a fresh workspace each); the bench keys
    ``team_*`` are those of the largest N, and ``team_<N>_*`` every N's."""
    base = root or WORK / "team"
    out: dict[str, Any] = {}
    for n in writers:
        os.environ.setdefault(PASS_ENV, "team-bench-pass-not-secret")
        # made in a process of its own: the process that forks the specialists holds no
        # connection, no session and no garbage of one that a collection could close
        with mp.get_context("spawn").Pool(1) as pool:
            paths = pool.apply(prepare, (base / f"n{n}", partners, per_partner, reports))
            sessions = pool.apply(open_writer_sessions, (paths["ws"], n))
        from batch_bench import settle  # the prepared workspace written out first

        settled = settle()
        fig = run_team(paths, sessions, duration=duration, batch_workers=batch_workers,
                       work=base / f"n{n}" / "writers")
        fig["settled"] = settled
        out.update({f"team_{n}_{k}": v for k, v in fig.items()})
        print(f"team N={n}: {json.dumps(fig)}", flush=True)
    top = max(writers)
    out.update({f"team_{k}": v for k, v in
                ((k[len(f"team_{top}_"):], v) for k, v in list(out.items())
                 if k.startswith(f"team_{top}_"))})
    out["team_workspace"] = (f"{partners} partners x {int(per_partner)} shipments, "
                             f"{reports} reports in the batch, re-import of the same source")
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--writers", type=int, nargs="+", default=[20, 50])
    ap.add_argument("--partners", type=int, default=1000)
    ap.add_argument("--shipments-per-partner", type=float, default=100.0)
    ap.add_argument("--reports", type=int, default=12, help="reports in the batch")
    ap.add_argument("--duration", type=float, default=60.0,
                    help="minimum seconds of answering (longer if the batch takes longer)")
    ap.add_argument("--batch-workers", type=int, default=2)
    ap.add_argument("--out", type=Path, help="also write the figures to this JSON file")
    args = ap.parse_args()
    WORK.mkdir(exist_ok=True)
    fig = benchmark_team(args.writers, partners=args.partners,
                         per_partner=args.shipments_per_partner, reports=args.reports,
                         duration=args.duration, batch_workers=args.batch_workers)
    fig["machine"] = {"cores": os.cpu_count(), "load": os.getloadavg(),
                      "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds")}
    text = json.dumps(fig, indent=2, sort_keys=True, default=str)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")


if __name__ == "__main__":
    main()
