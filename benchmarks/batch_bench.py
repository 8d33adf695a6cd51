"""``make bench`` figures for the batch: the naive per-report command loop vs ``run_batch``.

The naive loop does, for each report and each as its own command (fresh interpreter, fresh
kernel, fresh browser): the papermill CLI on the template, the ``jupyter nbconvert`` CLI to
HTML, the report's PDF and Excel step (``python benchmarks/batch_bench.py artifacts``, the
same function the batch calls; it renders its own HTML for the PDF), ``ctpat-audit sign``
twice (specialist, supervisor) and ``ctpat-audit verify``. The batch runs the same sessions
through :func:`ctpat_audit.batch.run.run_batch`. Both in one run, on the same inputs.
"""
from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

__all__ = ["benchmark_batch", "benchmark_floor", "benchmark_single_report", "naive_report"]


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


def benchmark_batch(ws: str | Path, n: int = 200, *, naive_n: int = 5, key: str | Path,
                    specialist_keys: str | Path, passphrase_env: str,
                    template: str | Path | None = None, artifacts: str | None = None,
                    workers: int = 2, kernel_pool: int = 2,
                    work: str | Path | None = None) -> dict[str, Any]:
    """Time the naive loop on ``naive_n`` sessions and the batch on ``n`` (the first ``n``
    completed validations of the workspace; the naive ones are among them)."""
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
    naive_times = []
    for s in sessions[:naive_n]:
        t = time.perf_counter()
        naive_report(root, s["session_id"], s["opened_by"],
                     naive_out / s["account_id"] / s["session_id"], tpl, spec, Path(key),
                     Path(specialist_keys), passphrase_env)
        naive_times.append(time.perf_counter() - t)
    batch_out = scratch / "batch"
    shutil.rmtree(batch_out, ignore_errors=True)
    t = time.perf_counter()
    summary = run_batch(root, out=batch_out, template=tpl, key=key,
                        specialist_keys=specialist_keys, passphrase_env=passphrase_env,
                        workers=workers, kernel_pool=kernel_pool, artifacts=artifacts,
                        session_ids=[s["session_id"] for s in sessions], force=True,
                        progress=False)
    wall = time.perf_counter() - t
    naive_s = statistics.median(naive_times)
    batch_s = wall / max(1, summary.ran)
    steps: dict[str, float] = {}
    for step in ("execute", "artifacts", "sign", "verify"):
        vals = [r.timings[step] for r in summary.results if step in r.timings]
        if vals:
            steps[f"batch_step_{step}_median_s"] = round(statistics.median(vals), 3)
    return {"naive_s_per_report": round(naive_s, 3), "naive_reports": len(naive_times),
            "batch_s_per_report": round(batch_s, 3), "batch_reports": summary.ran,
            "batch_failed": summary.failed, "batch_wall_s": round(wall, 1),
            "batch_speedup_vs_naive": round(naive_s / batch_s, 1),
            "batch_1000_min": round(batch_s * 1000 / 60, 2),
            "batch_workers": workers, "batch_kernels_per_worker": kernel_pool, **steps}


def benchmark_single_report(ws: str | Path, session_ids: list[str], out: str | Path
                            ) -> dict[str, Any]:
    """``report_single_s``: one complete report (notebook, HTML, PDF, Excel) from a warm
    start, as a specialist's ``Renderer`` does it: the browser already open and a warm kernel
    waiting. The first session warms up; the median of the others is reported."""
    from ctpat_audit.batch.kernel_pool import KernelPool
    from ctpat_audit.reports.pipeline import Renderer

    if len(session_ids) < 2:
        raise ValueError("need at least two sessions: one to warm up, one to time")
    pool = KernelPool(1, cwd=str(ws))
    times = []
    try:
        with Renderer(ws, out, engine_name="ctpat-warm", kernel_pool=pool,
                      progress_bar=False) as renderer:
            renderer.render(session_ids[0])
            for sid in session_ids[1:]:
                time.sleep(1.0)  # the next warm kernel is ready, as between two reports
                t = time.perf_counter()
                folder = renderer.render(sid)
                times.append(time.perf_counter() - t)
                missing = [f for f in ("report.html", "report.pdf", "report.xlsx")
                           if not (folder / f).is_file()]
                if missing:
                    raise RuntimeError(f"{folder}: no {', '.join(missing)}")
    finally:
        pool.close()
    return {"report_single_s": round(statistics.median(times), 3),
            "report_single_n": len(times)}


def _machine_cpu_s() -> float:
    """Busy CPU seconds of the whole machine so far (kernels and chromium are other processes)."""
    with open("/proc/stat") as f:
        fields = [int(x) for x in f.readline().split()[1:]]
    user, nice, system, _idle, _iowait, irq, softirq = fields[:7]
    return (user + nice + system + irq + softirq) / os.sysconf("SC_CLK_TCK")


def benchmark_floor(ws: str | Path, report: str | Path, key: str | Path,
                    specialist_keys: str | Path, passphrase_env: str, n: int = 5
                    ) -> dict[str, Any]:
    """CPU seconds of the steps every batch report goes through whatever the notebook
    computes, each measured alone on a quiet machine on one real report (means or medians of
    ``n``); the kernel's own report work (loading the data, review, statistics, charts,
    workbook) is not included.

    - ``floor_kernel_cpu_s``: a two-cell notebook run by papermill in a fresh kernel forked from
      the warm zygote (kernel start, execution, shutdown; machine-wide CPU);
    - ``floor_html_cpu_s``: nbconvert export of the rendered report notebook;
    - ``floor_pdf_cpu_s``: chromium printing that report's HTML with a warm browser
      (machine-wide: chromium runs in its own processes);
    - ``floor_sign_verify_cpu_s``: the specialist's signature, the supervisor's
      countersignature and the verification of the result.

    ``report``: an unsigned rendered report folder (report.ipynb, .html, .pdf, .xlsx).
    ``batch_cpu_budget_s``: what 1,000 reports in 10 minutes allow per report on this
    machine's cores."""
    import nbformat
    import papermill as pm

    from ctpat_audit.batch.kernel_pool import KernelPool
    from ctpat_audit.batch.worker import session_opened_by
    from ctpat_audit.reports.pdf import PdfEngine
    from ctpat_audit.reports.pipeline import export_html, notebook_summary
    from ctpat_audit.trust.keys import load_signer
    from ctpat_audit.trust.signing import sign_report
    from ctpat_audit.trust.verify import verify_report
    from ctpat_audit.workspace.audit import ChainCheckpoint

    root, src = Path(ws), Path(report)
    scratch = Path(tempfile.mkdtemp(prefix="ctpat-floor-"))
    out: dict[str, Any] = {}
    try:
        nb = nbformat.v4.new_notebook(cells=[
            nbformat.v4.new_code_cell("x = 0", metadata={"tags": ["parameters"]}),
            nbformat.v4.new_code_cell("y = x + 1")])
        nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                     "language": "python"}
        nbformat.write(nb, str(scratch / "tiny.ipynb"))
        pool = KernelPool(1, cwd=str(root))
        try:
            def tiny(i: int) -> None:
                pm.execute_notebook(str(scratch / "tiny.ipynb"), str(scratch / "tiny-out.ipynb"),
                                    engine_name="ctpat-warm", kernel_pool=pool,
                                    progress_bar=False, parameters={"x": i})
            tiny(0)
            time.sleep(2.0)  # the next kernel is forked and idle
            c0 = _machine_cpu_s()
            for i in range(n):
                tiny(i + 1)
            time.sleep(2.0)  # the pool has forked the replacement kernel (part of the cost)
            out["floor_kernel_cpu_s"] = round((_machine_cpu_s() - c0) / n, 3)
        finally:
            pool.close()
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
            c0 = _machine_cpu_s()
            for i in range(n):
                engine.pdf(src / "report.html", scratch / f"r{i}.pdf")
            out["floor_pdf_cpu_s"] = round((_machine_cpu_s() - c0) / n, 3)
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
        "floor_kernel_cpu_s", "floor_html_cpu_s", "floor_pdf_cpu_s",
        "floor_sign_verify_cpu_s")), 3)
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
