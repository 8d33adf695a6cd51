"""``make bench`` figures for the batch: the naive per-report command loop vs ``run_batch``.

The naive loop does, for each report and each as its own command (fresh interpreter, fresh
kernel, fresh browser): the papermill CLI on the template, the ``jupyter nbconvert`` CLI to
HTML, the report's PDF and Excel step (``python benchmarks/batch_bench.py artifacts``, the
same function the batch calls; it renders its own HTML for the PDF), ``ctpat-audit sign``
twice (specialist, supervisor) and ``ctpat-audit verify``. The batch runs the same sessions
through :func:`ctpat_audit.batch.run.run_batch`. Both in one run, on the same inputs.
"""
from __future__ import annotations

import contextlib
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

__all__ = ["benchmark_batch", "benchmark_floor", "benchmark_report_cold",
           "benchmark_single_report", "naive_report"]


def _bin(name: str) -> str:
    here = Path(sys.executable).parent / name
    return str(here) if here.exists() else name


def _find_key(folder: Path, email: str, passphrase: str) -> Path | None:
    from ctpat_audit.trust.keys import load_signer

    for path in sorted(folder.glob("*.p12")):
        try:
            if load_signer(path, passphrase).identity.email.lower() == email.lower():
                return path
        except Exception:
            continue
    return None


def naive_report(ws: Path, session_id: str, opened_by: str, folder: Path, template: Path,
                 artifacts: str, key: Path, specialist_keys: Path, passphrase_env: str) -> None:
    """One report the naive way: every step its own command (raises on a failed step)."""
    folder.mkdir(parents=True, exist_ok=True)
    nb = folder / "report.ipynb"
    secret = os.environ[passphrase_env]
    spec_key = _find_key(specialist_keys, opened_by, secret)
    steps = [
        [_bin("papermill"), str(template), str(nb), "-p", "workspace", str(ws),
         "-p", "session_id", session_id, "-p", "workbook", str(folder / "report.xlsx"),
         "--no-progress-bar", "--cwd", str(ws)],
        [_bin("jupyter"), "nbconvert", "--to", "html", "--no-input", str(nb)],
        [sys.executable, str(Path(__file__).resolve()), "artifacts", artifacts, str(ws),
         session_id, str(nb), str(folder)],
    ]
    if spec_key is not None:
        steps.append([_bin("ctpat-audit"), "sign", str(folder), "--workspace", str(ws),
                      "--key", str(spec_key), "--passphrase-env", passphrase_env,
                      "--meaning", "validated"])
    steps += [[_bin("ctpat-audit"), "sign", str(folder), "--workspace", str(ws), "--key",
               str(key), "--passphrase-env", passphrase_env, "--meaning", "approved"],
              [_bin("ctpat-audit"), "verify", str(folder), "--trust", str(ws / "keys")]]
    for cmd in steps:
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


class CpuMeter:
    """CPU seconds of this process and of every process started from it while the meter is
    open, reaped or not (chromium's helper processes are not all reaped by their parent, so
    ``getrusage(RUSAGE_CHILDREN)`` misses part of their time).

    Where the cgroup-v1 ``cpuacct`` hierarchy is writable (root on these machines), this
    process moves into a cgroup of its own and the cgroup's ``cpuacct.usage`` counts them all;
    elsewhere it falls back to ``getrusage`` of this process and its waited-for children
    (``method`` says which)."""

    ROOT = Path("/sys/fs/cgroup/cpuacct")

    def __init__(self) -> None:
        self.path: Path | None = self.ROOT / f"ctpat-bench-{os.getpid()}"
        self._remove_stale()
        try:
            self.path.mkdir(exist_ok=True)
            (self.path / "cgroup.procs").write_text(str(os.getpid()))
            self.method = "cgroup cpuacct"
        except OSError:
            self.path, self.method = None, "getrusage (waited-for children only)"

    def read(self) -> float:
        if self.path is not None:
            return int((self.path / "cpuacct.usage").read_text()) / 1e9
        return _own_cpu_s()

    def close(self) -> None:
        if self.path is not None:
            try:
                # this process, and any process started here that still runs (a browser's
                # helper not yet reaped), back to the root group: an empty group can go
                for pid in (self.path / "cgroup.procs").read_text().split():
                    with contextlib.suppress(OSError):
                        (self.ROOT / "cgroup.procs").write_text(pid)
                self.path.rmdir()
            except OSError:
                pass
            self.path = None

    def _remove_stale(self) -> None:
        """Groups earlier meters left behind (their process gone, the group empty)."""
        for group in self.ROOT.glob("ctpat-bench-*"):
            pid = group.name.rsplit("-", 1)[-1]
            if pid.isdigit() and not Path(f"/proc/{pid}").exists():
                with contextlib.suppress(OSError):
                    group.rmdir()  # refused while a process is still in it

    def __enter__(self) -> CpuMeter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _own_cpu_s() -> float:
    """CPU seconds of this process and of every child it has waited for (and theirs: the
    batch's workers wait for their zygotes and browsers, the zygotes for their children)."""
    me = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def _tree_cpu_s() -> float:
    """CPU seconds so far of this process and its live descendants (chromium, the zygote)."""
    import psutil

    total = 0.0
    me = psutil.Process()
    for proc in [me, *me.children(recursive=True)]:
        try:
            t = proc.cpu_times()
        except psutil.Error:
            continue
        total += t.user + t.system
    return total


def _busy_share(seconds: float) -> float:
    """Share of the machine's CPU time that was busy over the next ``seconds``."""
    def sample() -> tuple[int, int]:
        fields = [int(x) for x in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
        idle = fields[3] + fields[4]  # idle + iowait
        return sum(fields) - idle, sum(fields)
    busy0, total0 = sample()
    time.sleep(seconds)
    busy1, total1 = sample()
    return (busy1 - busy0) / max(1, total1 - total0)


def settle(max_wait_s: float = 90.0, busy_below: float = 0.10) -> dict[str, Any]:
    """Before a timed step: write out what earlier steps left in the page cache (``sync``:
    a copied workspace of 160 MB is written back during the next step otherwise, and every
    synced commit and report file waits behind it) and wait, up to ``max_wait_s``, until the
    machine has been idle for a second (busy below ``busy_below`` of the cores: the processes
    of an earlier step ending, chromium closing). Returns what it waited for."""
    t = time.perf_counter()
    os.sync()
    busy = _busy_share(1.0)
    while busy >= busy_below and time.perf_counter() - t < max_wait_s:
        busy = _busy_share(1.0)
    return {"settle_s": round(time.perf_counter() - t, 1), "busy_share": round(busy, 3)}


def _load() -> str:
    """The machine's load averages (1, 5, 15 min): other users of the cores skew wall time."""
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def benchmark_batch(ws: str | Path, n: int = 200, *, naive_n: int = 5, key: str | Path,
                    specialist_keys: str | Path, passphrase_env: str,
                    template: str | Path | None = None, artifacts: str | None = None,
                    workers: int = 2, work: str | Path | None = None) -> dict[str, Any]:
    """Time the naive loop on ``naive_n`` sessions and the batch on ``n`` (the first ``n``
    completed validations of the workspace; the naive ones are among them).

    CPU is counted over every process of the batch (``batch_cpu_s_per_report``: its
    workers, their zygotes and forked report processes, chromium, signing), start-up
    included, with a :class:`CpuMeter`; the naive loop's the same way.
    A batch with a failed report raises RuntimeError: no figure from a failed run."""
    from ctpat_audit.batch.run import DEFAULT_TEMPLATE, run_batch, select_sessions
    from ctpat_audit.batch.worker import BatchSettings

    root = Path(ws).resolve()
    tpl = Path(template or DEFAULT_TEMPLATE).resolve()
    spec = artifacts or BatchSettings.artifacts
    sessions = select_sessions(root)[:n]
    if len(sessions) < max(1, naive_n):
        raise ValueError(f"{root} has {len(sessions)} completed validations; need {n}")
    scratch = Path(work or tempfile.mkdtemp(prefix="ctpat-bench-"))
    scratch.mkdir(parents=True, exist_ok=True)
    naive_out = scratch / "naive"
    shutil.rmtree(naive_out, ignore_errors=True)
    naive_times, naive_cpu = [], []
    meter = CpuMeter()
    settled = {"naive": settle()}
    try:
        for s in sessions[:naive_n]:
            t, c = time.perf_counter(), meter.read()
            naive_report(root, s["session_id"], s["opened_by"],
                         naive_out / s["account_id"] / s["session_id"], tpl, spec, Path(key),
                         Path(specialist_keys), passphrase_env)
            naive_times.append(time.perf_counter() - t)
            naive_cpu.append(meter.read() - c)
        batch_out = scratch / "batch"
        shutil.rmtree(batch_out, ignore_errors=True)
        settled["batch"] = settle()
        load_before = _load()
        t, c = time.perf_counter(), meter.read()
        summary = run_batch(root, out=batch_out, template=tpl, key=key,
                            specialist_keys=specialist_keys, passphrase_env=passphrase_env,
                            workers=workers, artifacts=artifacts,
                            session_ids=[s["session_id"] for s in sessions], force=True,
                            progress=False)
        wall, cpu = time.perf_counter() - t, meter.read() - c
        method = meter.method
    finally:
        meter.close()
    if summary.failed or summary.ran != len(sessions):
        raise RuntimeError(f"the batch did not succeed ({summary.headline()}): no figures; "
                           + " | ".join(summary.failure_lines()[:3]))
    naive_s = statistics.median(naive_times)
    batch_s = wall / summary.ran
    steps: dict[str, float] = {}
    for step in ("execute", "artifacts", "sign", "verify"):
        vals = [r.timings[step] for r in summary.results if step in r.timings]
        if vals:
            steps[f"batch_step_{step}_median_s"] = round(statistics.median(vals), 3)
    return {"naive_s_per_report": round(naive_s, 3), "naive_reports": len(naive_times),
            "naive_cpu_s_per_report": round(statistics.median(naive_cpu), 3),
            "batch_s_per_report": round(batch_s, 3), "batch_reports": summary.ran,
            "batch_failed": summary.failed, "batch_wall_s": round(wall, 1),
            "batch_cpu_s_per_report": round(cpu / summary.ran, 3),
            "batch_speedup_vs_naive": round(naive_s / batch_s, 1),
            # the same ratio in CPU seconds: what the machine's other users do not change
            "batch_cpu_speedup_vs_naive": round(statistics.median(naive_cpu)
                                                / (cpu / summary.ran), 1),
            "batch_1000_min": round(batch_s * 1000 / 60, 2),
            "batch_workers": workers, "batch_engine": "fork", "batch_cpu_method": method,
            "batch_load_before": load_before, "batch_load_after": _load(),
            "batch_settled": settled, **steps}


def benchmark_single_report(ws: str | Path, session_ids: list[str], out: str | Path
                            ) -> dict[str, Any]:
    """``report_single_s``: one complete report (notebook, HTML, PDF, Excel) from a warm
    start, as a specialist's ``Renderer`` does it: the browser open and the zygote warm.
    The first session warms up; the median of the others is reported."""
    from ctpat_audit.reports.pipeline import Renderer

    if len(session_ids) < 2:
        raise ValueError("need at least two sessions: one to warm up, one to time")
    times = []
    with Renderer(ws, out, progress_bar=False) as renderer:
        renderer.render(session_ids[0])
        for sid in session_ids[1:]:
            t = time.perf_counter()
            folder = renderer.render(sid)
            times.append(time.perf_counter() - t)
            missing = [f for f in ("report.html", "report.pdf", "report.xlsx")
                       if not (folder / f).is_file()]
            if missing:
                raise RuntimeError(f"{folder}: no {', '.join(missing)}")
    return {"report_single_s": round(statistics.median(times), 3),
            "report_single_n": len(times)}


def benchmark_report_cold(ws: str | Path, session_ids: list[str], out: str | Path
                          ) -> dict[str, Any]:
    """``report_cold_s``: ``ctpat-audit report`` for one session from a cold shell (a new
    process: interpreter, imports, zygote, browser; the files already in the page cache),
    median over the sessions given; with the CPU of all its processes."""
    walls, cpus = [], []
    settled = settle()
    with CpuMeter() as meter:
        for sid in session_ids:
            shutil.rmtree(Path(out), ignore_errors=True)
            t, c = time.perf_counter(), meter.read()
            subprocess.run([_bin("ctpat-audit"), "report", "-w", str(ws), "--session", sid,
                            "--out", str(out)], check=True, stdout=subprocess.DEVNULL)
            walls.append(time.perf_counter() - t)
            cpus.append(meter.read() - c)
    return {"report_cold_s": round(statistics.median(walls), 3),
            "report_cold_cpu_s": round(statistics.median(cpus), 3),
            "report_cold_n": len(walls), "report_cold_load": _load(),
            "report_cold_settled": settled}


def benchmark_floor(ws: str | Path, report: str | Path, key: str | Path,
                    specialist_keys: str | Path, passphrase_env: str,
                    session_ids: list[str], n: int = 5) -> dict[str, Any]:
    """CPU seconds of each step of a batch report, each measured alone on real reports
    (medians of ``n``), over every process the step uses:

    - ``floor_fork_cpu_s``: a two-cell notebook run by papermill in a child forked from the
      warm zygote (papermill, the fork, the child's run and exit; the fixed cost of the
      fresh process that isolates a report);
    - ``step_notebook_cpu_s``: the report notebook itself in its forked child (loading the
      partner, review, exam statistics, the three charts, the workbook), plus papermill in
      the parent;
    - ``floor_html_cpu_s``: nbconvert export of the rendered report notebook;
    - ``floor_pdf_cpu_s``: chromium printing that report's HTML with a warm browser (its
      processes included);
    - ``floor_sign_verify_cpu_s``: the specialist's signature, the supervisor's
      countersignature and the verification of the result, keys loaded once.

    ``report``: an unsigned rendered report folder (report.ipynb, .html, .pdf, .xlsx);
    ``session_ids``: sessions whose notebooks are executed for ``step_notebook_cpu_s``.
    ``batch_cpu_budget_s``: what 1,000 reports in 10 minutes allow per report on this
    machine's cores."""
    import nbformat
    import papermill as pm

    from ctpat_audit.batch.worker import session_opened_by
    from ctpat_audit.reports.execute import execute_report
    from ctpat_audit.reports.pdf import PdfEngine
    from ctpat_audit.reports.pipeline import export_html, notebook_summary
    from ctpat_audit.reports.zygote import Zygote
    from ctpat_audit.trust.keys import load_signer
    from ctpat_audit.trust.signing import sign_report
    from ctpat_audit.trust.verify import verify_report
    from ctpat_audit.workspace.audit import ChainCheckpoint

    root, src = Path(ws), Path(report)
    scratch = Path(tempfile.mkdtemp(prefix="ctpat-floor-"))
    out: dict[str, Any] = {"floor_load": _load()}
    try:
        nb = nbformat.v4.new_notebook(cells=[
            nbformat.v4.new_code_cell("x = 0", metadata={"tags": ["parameters"]}),
            nbformat.v4.new_code_cell("y = x + 1")])
        nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                     "language": "python"}
        nbformat.write(nb, str(scratch / "tiny.ipynb"))
        with Zygote(workspace=root) as zygote:
            zygote.wait_ready()

            def tiny(i: int) -> None:
                pm.execute_notebook(str(scratch / "tiny.ipynb"), str(scratch / "tiny-out.ipynb"),
                                    engine_name="ctpat-fork", zygote=zygote,
                                    progress_bar=False, parameters={"x": i})
            tiny(0)
            times = []
            for i in range(n):
                c, k = _tree_cpu_s(), zygote.child_cpu_s
                tiny(i + 1)
                times.append(_tree_cpu_s() - c + zygote.child_cpu_s - k)
            out["floor_fork_cpu_s"] = round(statistics.median(times), 3)
            times = []
            for i, sid in enumerate(session_ids):
                c, k = _tree_cpu_s(), zygote.child_cpu_s
                execute_report(root, sid, scratch / f"nb{i}.ipynb", engine_name="ctpat-fork",
                               zygote=zygote, workbook=scratch / f"wb{i}.xlsx",
                               progress_bar=False)
                times.append(_tree_cpu_s() - c + zygote.child_cpu_s - k)
            out["step_notebook_cpu_s"] = round(statistics.median(times), 3)
        executed = nbformat.read(str(src / "report.ipynb"), as_version=4)
        header = notebook_summary(executed)["header"]
        times = []
        for _ in range(n + 1):
            t = time.process_time()
            export_html(executed, scratch / "report.html", header)
            times.append(time.process_time() - t)
        out["floor_html_cpu_s"] = round(statistics.median(times[1:]), 3)
        with PdfEngine() as engine:
            engine.pdf(src / "report.html", scratch / "warm.pdf")
            times = []
            for i in range(n):
                c = _tree_cpu_s()
                engine.pdf(src / "report.html", scratch / f"r{i}.pdf")
                times.append(_tree_cpu_s() - c)
            out["floor_pdf_cpu_s"] = round(statistics.median(times), 3)
        secret = os.environ[passphrase_env]
        supervisor = load_signer(key, secret)
        sid = header["session_id"]
        opened_by = session_opened_by(str(root), sid)
        spec_path = _find_key(Path(specialist_keys), opened_by, secret)
        if spec_path is None:
            raise ValueError(f"no key of {opened_by} in {specialist_keys}")
        specialist = load_signer(spec_path, secret)
        checkpoint = ChainCheckpoint()
        times = []
        for i in range(n + 1):
            folder = scratch / f"s{i}" / sid
            shutil.copytree(src, folder)
            t = time.process_time()
            sign_report(folder, root, specialist, "validated", session_id=sid,
                        checkpoint=checkpoint)
            sign_report(folder, root, supervisor, "approved", session_id=sid,
                        checkpoint=checkpoint, check_prior=False)
            if not verify_report(folder, root / "keys").ok:
                raise RuntimeError(f"{folder}: the signed report does not verify")
            times.append(time.process_time() - t)
        out["floor_sign_verify_cpu_s"] = round(statistics.median(times[1:]), 3)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    out["floor_cpu_s_per_report"] = round(sum(out[k] for k in (
        "floor_fork_cpu_s", "floor_html_cpu_s", "floor_pdf_cpu_s",
        "floor_sign_verify_cpu_s")), 3)
    out["steps_cpu_s_per_report"] = round(out["floor_cpu_s_per_report"]
                                          + out["step_notebook_cpu_s"], 3)
    out["batch_cpu_budget_s"] = round((os.cpu_count() or 1) * 600 / 1000, 3)
    return out


def _artifacts_command(argv: list[str]) -> None:
    from ctpat_audit.batch.worker import resolve_callable

    spec, ws, session_id, nb, folder = argv
    state: dict[str, Any] = {}
    try:
        resolve_callable(spec)(ws, session_id, Path(nb), Path(folder), state)
    finally:
        for value in state.values():
            if callable(getattr(value, "close", None)):
                value.close()


if __name__ == "__main__":
    if len(sys.argv) == 7 and sys.argv[1] == "artifacts":
        _artifacts_command(sys.argv[2:])
    else:
        raise SystemExit("usage: python benchmarks/batch_bench.py artifacts SPEC WS SESSION "
                         "NOTEBOOK FOLDER")
