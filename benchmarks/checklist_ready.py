"""`make bench` key ``checklist_ready_s``: Run All in a new kernel to the first usable checklist
card, in a real browser, on the demo workspace.

What is measured, per run (median of ``runs`` runs, after one warm-up run that also opens the
page and creates the validation session):

1. the kernel is restarted (a new kernel process: no module of the last run is loaded; the
   first cell's execution count is checked to be 1), and the clock waits until it is idle
   (``checklist_ready_kernel_start_s``, the old kernel's shutdown included);
2. the clock starts and *Run > Run All Cells* is triggered;
3. ``checklist_ready_visible_s``: the first checklist card's status dropdown is visible and
   enabled;
4. ``checklist_ready_s``: a status is chosen in that dropdown the moment it is usable, and the
   card says "Saved" (the kernel received the change and wrote it): the card is usable.

Then the run is waited out (every cell executed, no error output: otherwise the benchmark stops
and says so, and no figure is recorded), and the sections drawn after the page is usable
(``checklist_ready_charts_drawn_s``, from Run All). The answer stays (the next run chooses
another). Supporting figures: ``..._kernel_cpu_s``, CPU seconds of the kernel process from Run
All to the usable card (other work on the machine stretches wall time, hardly this);
``..._cells_s``, each cell's kernel time (JupyterLab's ``recordTiming``, set in a private
settings folder); ``..._queue_s``, Run All to the first cell starting in the kernel;
``..._first_cell_to_card_s``; ``..._render_s``, the checklist cell's end in the kernel to the
card visible (the browser's share); ``..._loadavg``, the machine's load when the runs ended.

The workspace is built as ``make demo`` builds it (the same commands: sample 200 partners, seed
7, as of 2026-11-01; init; import; sample-sessions 8 validations and 3 self-assessments). Each
benchmark works on a fresh copy of it. The partner is the one with the most applicable
criteria among those with no session (so the warm-up run opens a new validation and the
measured runs resume it); JupyterLab is started by
:func:`ctpat_audit.server.lab.start_lab`, as ``ctpat-audit lab`` starts it, on the validation
notebook with its parameters injected by papermill.

Run alone: ``.venv/bin/python benchmarks/checklist_ready.py [--runs 5]`` (prints JSON).
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent
BIN = Path(sys.executable).parent
AS_OF = "2026-11-01"
SPECIALIST = "bench.specialist@cbp.example"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
TIMEOUT_MS = 90_000
CARD_SELECT = ".ctpat-card .ctpat-status select"

# JupyterLab (started with expose_app) in the page: the open notebook and its kernel
_PANEL = "window.jupyterapp.shell.currentWidget"
_KERNEL_IDLE = f"""() => {{
  const w = window.jupyterapp && {_PANEL};
  const k = w && w.sessionContext && w.sessionContext.session && w.sessionContext.session.kernel;
  return !!k && k.status === 'idle';
}}"""
_RESTART = f"async () => {{ await {_PANEL}.sessionContext.session.kernel.restart(); }}"
_RUN_ALL = """() => {
  const app = window.jupyterapp;
  window.__ctpatRunAll = app.commands.execute('notebook:run-all-cells');
}"""
_CLEAR = "() => window.jupyterapp.commands.execute('notebook:clear-all-cell-outputs')"
_RUN_DONE = "async () => { return await window.__ctpatRunAll; }"
_CELLS = f"""() => {{
  const m = {_PANEL}.content.model;
  const out = [];
  for (let i = 0; i < m.cells.length; i++) {{
    const c = m.cells.get(i);
    if (c.type !== 'code') continue;
    const outputs = c.outputs.toJSON();
    out.push({{index: i, source: c.sharedModel.getSource().split('\\n')[0],
              count: c.executionCount, timing: c.getMetadata('execution') || null,
              errors: outputs.filter(o => o.output_type === 'error')
                             .map(o => o.ename + ': ' + o.evalue),
              images: outputs.filter(o => o.data && o.data['image/png']).length}});
  }}
  return out;
}}"""


def demo_workspace(root: Path) -> Path:
    """The workspace ``make demo`` builds (same commands and arguments), made once in ``root``."""
    ws, src = root / "workspace", root / "source"
    if (ws / ".demo-complete").is_file():
        return ws
    shutil.rmtree(root, ignore_errors=True)
    cli = str(BIN / "ctpat-audit")
    for args in (["sample", str(src), "--partners", "200", "--seed", "7", "--as-of", AS_OF],
                 ["init", "-w", str(ws)],
                 ["import", "-w", str(ws), str(src), "--quiet"],
                 ["sample-sessions", "-w", str(ws), "--validations", "8",
                  "--self-assessments", "3", "--seed", "7", "--as-of", AS_OF]):
        subprocess.run([cli, *args], check=True, stdout=subprocess.DEVNULL)
    (ws / ".demo-complete").write_text("built by benchmarks/checklist_ready.py\n")
    return ws


def pick_partner(ws: Path) -> tuple[str, int]:
    """The partner with the most applicable criteria among those with no session (ties: the
    one with more shipments, then the lower account id), and that number of criteria."""
    from ctpat_audit.criteria.catalogue import load_catalogue
    from ctpat_audit.sessions.session import list_sessions
    from ctpat_audit.workspace.reference import open_workspace

    w, cat = open_workspace(ws), load_catalogue(workspace=ws)
    busy = set(list_sessions(ws)["account_id"].astype(str))
    types = w.table("entities").groupby("account_id")["entity_type"].apply(list)
    shipments = w.shipments(columns=["account_id"])["account_id"].astype(str).value_counts()
    best: tuple[int, int, str] | None = None
    for account, kinds in types.items():
        a = str(account)
        if a in busy:
            continue
        key = (len(cat.applicable(sorted(map(str, kinds)))), int(shipments.get(a, 0)), a)
        if best is None or key[:2] > best[:2] or (key[:2] == best[:2] and a < best[2]):
            best = key
    if best is None:
        raise RuntimeError(f"{ws}: no partner without a session to open a validation for")
    return best[2], best[0]


def validation_notebook(folder: Path, ws: Path, account: str) -> Path:
    """The installed validation notebook with its parameters injected by papermill."""
    import nbformat
    from papermill.iorw import load_notebook_node
    from papermill.parameterize import parameterize_notebook

    from ctpat_audit.server.lab import VALIDATION_NOTEBOOK, notebooks_dir

    nb = parameterize_notebook(load_notebook_node(str(notebooks_dir() / VALIDATION_NOTEBOOK)),
                               {"workspace": str(ws), "account_id": account, "mode": "virtual",
                                "specialist": SPECIALIST, "as_of": AS_OF})
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    path = folder / VALIDATION_NOTEBOOK
    nbformat.write(nb, path)
    return path


@contextmanager
def lab_settings(folder: Path) -> Iterator[None]:
    """Private JupyterLab settings for the server started inside: cell timing recorded (per-cell
    kernel times), no news or update prompts; the user's own settings are not read or written."""
    settings = folder / "settings" / "@jupyterlab"
    for plugin, values in ((("notebook-extension", "tracker"), {"recordTiming": True}),
                           (("apputils-extension", "notification"),
                            {"fetchNews": "false", "checkForUpdates": False})):
        path = settings / plugin[0] / f"{plugin[1]}.jupyterlab-settings"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(values))
    saved = {k: os.environ.get(k) for k in ("JUPYTERLAB_SETTINGS_DIR", "JUPYTERLAB_WORKSPACES_DIR")}
    os.environ["JUPYTERLAB_SETTINGS_DIR"] = str(folder / "settings")
    os.environ["JUPYTERLAB_WORKSPACES_DIR"] = str(folder / "workspaces")
    try:
        yield
    finally:
        for k, value in saved.items():
            if value is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = value


def _stamp(value: str) -> float:
    return dt.datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


def _cell_seconds(cell: dict[str, Any]) -> tuple[float, float] | None:
    """(kernel start, kernel end) of a cell as epoch seconds, from recordTiming."""
    t = cell.get("timing") or {}
    start = t.get("shell.execute_reply.started") or t.get("iopub.execute_input")
    end = t.get("shell.execute_reply")
    return (_stamp(start), _stamp(end)) if start and end else None


def kernel_cpu_seconds(server_pid: int) -> float:
    """CPU seconds (user + system) used so far by the server's kernel process (its newest
    child running ipykernel): load on the machine stretches wall time, not this."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            cmdline = (stat.parent / "cmdline").read_bytes()
        except OSError:
            continue
        if int(fields[1]) == server_pid and b"ipykernel" in cmdline and fields[0] != "Z":
            found.append((int(fields[19]), (int(fields[11]) + int(fields[12]))
                          / os.sysconf("SC_CLK_TCK")))
    if not found:
        raise RuntimeError(f"no kernel process of server {server_pid}")
    return max(found)[1]


def one_run(page: Any, server_pid: int, restart: bool = True) -> dict[str, Any]:
    """One measured run (see the module docstring); raises RuntimeError when it fails."""
    if restart:
        t = time.perf_counter()
        page.evaluate(_RESTART)
        page.wait_for_function(_KERNEL_IDLE, timeout=TIMEOUT_MS, polling=10)
        kernel_start = time.perf_counter() - t
    else:
        page.wait_for_function(_KERNEL_IDLE, timeout=TIMEOUT_MS, polling=10)
        kernel_start = float("nan")
    cpu0 = kernel_cpu_seconds(server_pid)
    select = page.locator(CARD_SELECT).first
    wall0, t0 = time.time(), time.perf_counter()
    page.evaluate(_RUN_ALL)
    select.wait_for(state="visible", timeout=TIMEOUT_MS)
    page.wait_for_function(f"() => {{ const s = document.querySelector('{CARD_SELECT}');"
                           " return !!s && !s.disabled; }", timeout=TIMEOUT_MS, polling=10)
    visible = time.perf_counter() - t0
    before = select.evaluate("s => s.value")
    options = select.evaluate("s => Array.from(s.options).map(o => o.value)")
    choice = next(o for o in options if o != before)
    card = page.locator(".ctpat-card").first
    select.select_option(value=choice)
    card.locator(".ctpat-message").get_by_text("Saved").wait_for(timeout=TIMEOUT_MS)
    ready = time.perf_counter() - t0
    cpu = kernel_cpu_seconds(server_pid) - cpu0
    if not page.evaluate(_RUN_DONE):
        raise RuntimeError("Run All did not finish: a cell failed or the run was stopped")
    run_all = time.perf_counter() - t0
    # sections drawn after the page is usable (placeholders replaced in place)
    page.wait_for_function("() => !document.querySelector('.ctpat-later')", timeout=TIMEOUT_MS,
                           polling=50)
    drawn = time.perf_counter() - t0
    cells = page.evaluate(_CELLS)
    problems = [f"cell {c['index']} ({c['source']!r}): {'; '.join(c['errors'])}"
                for c in cells if c["errors"]]
    problems += [f"cell {c['index']} ({c['source']!r}) did not run" for c in cells
                 if c["count"] is None]
    if restart and cells and cells[0]["count"] != 1:
        problems.append(f"the kernel was not new: first cell ran as [{cells[0]['count']}]")
    if problems:
        raise RuntimeError("checklist_ready run failed: " + " | ".join(problems))
    spans = {c["index"]: _cell_seconds(c) for c in cells}
    first = min((s[0] for s in spans.values() if s), default=float("nan"))
    built = next((s[1] for c in cells if "checklist_view" in c["source"]
                  and (s := spans[c["index"]])), float("nan"))
    return {"ready": ready, "visible": visible, "run_all": run_all, "kernel_start": kernel_start,
            "kernel_cpu": cpu, "drawn": drawn,
            "queue": first - wall0, "first_cell_to_card": wall0 + visible - first,
            "cells": {f"{c['index']}: {c['source'][:60]}": round(s[1] - s[0], 3)
                      for c in cells if (s := spans[c["index"]])},
            "render": wall0 + visible - built,
            "images": sum(c["images"] for c in cells)}


def benchmark_checklist_ready(work: Path, runs: int = 5) -> dict[str, Any]:
    """Figures for results.json (see the module docstring); RuntimeError when a run fails."""
    if not CHROMIUM.is_file():
        raise ImportError(f"{CHROMIUM} is not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    from ctpat_audit.server.lab import start_lab

    work = work.resolve()
    work.mkdir(parents=True, exist_ok=True)
    demo = demo_workspace(work / "demo")
    folder = Path(tempfile.mkdtemp(prefix="lab-", dir=work))
    try:
        ws = folder / "workspace"  # a copy: every benchmark starts from the same workspace
        shutil.copytree(demo, ws)
        account, criteria = pick_partner(ws)
        validation_notebook(folder / "notebooks", ws, account)
        results: list[dict[str, Any]] = []
        with lab_settings(folder), start_lab(ws, account, user=SPECIALIST,
                                             notebook_dir=folder / "notebooks",
                                             expose_app=True) as server, \
                sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True,
                                         args=CHROMIUM_ARGS)
            try:
                page = browser.new_page(viewport={"width": 1400, "height": 1000})
                page.goto(server.url, wait_until="domcontentloaded", timeout=TIMEOUT_MS)
                # the page's first kernel; this run opens the validation session
                warm = one_run(page, server.process.pid, restart=False)
                print(f"checklist_ready warm-up (page open, new session): "
                      f"{warm['ready']:.2f} s", flush=True)
                for n in range(runs):
                    r = one_run(page, server.process.pid)
                    results.append(r)
                    print(f"checklist_ready run {n + 1}/{runs}: ready {r['ready']:.2f} s "
                          f"(visible {r['visible']:.2f}, kernel start {r['kernel_start']:.2f}, "
                          f"kernel CPU {r['kernel_cpu']:.2f}, whole run {r['run_all']:.2f}, "
                          f"charts drawn {r['drawn']:.2f})", flush=True)
            finally:
                browser.close()
    finally:
        shutil.rmtree(folder, ignore_errors=True)

    load = os.getloadavg()  # other work on the machine stretches every wall-clock figure

    def med(key: str) -> float:
        return round(statistics.median(r[key] for r in results), 3)

    cells = {k: round(statistics.median(r["cells"].get(k, 0.0) for r in results), 3)
             for k in results[0]["cells"]}
    return {"checklist_ready_s": med("ready"), "checklist_ready_visible_s": med("visible"),
            "checklist_ready_min_s": round(min(r["ready"] for r in results), 3),
            "checklist_ready_max_s": round(max(r["ready"] for r in results), 3),
            "checklist_ready_kernel_cpu_s": med("kernel_cpu"),
            "checklist_ready_kernel_start_s": med("kernel_start"),
            "checklist_ready_charts_drawn_s": med("drawn"),
            "checklist_ready_queue_s": med("queue"),
            "checklist_ready_first_cell_to_card_s": med("first_cell_to_card"),
            "checklist_ready_render_s": med("render"),
            "checklist_ready_run_all_s": med("run_all"),
            "checklist_ready_first_run_s": round(warm["ready"], 3),
            "checklist_ready_cells_s": cells, "checklist_ready_runs": len(results),
            "checklist_ready_account": account, "checklist_ready_criteria": criteria,
            "checklist_ready_workspace": "make demo workspace (200 partners, seed 7)",
            "checklist_ready_exam_charts": results[-1]["images"],
            "checklist_ready_loadavg": [round(x, 2) for x in load],
            "checklist_ready_date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds")}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=5, help="measured runs (median)")
    ap.add_argument("--work", type=Path, default=ROOT / "work" / "checklist-ready",
                    help="folder for the demo workspace and the server's files")
    args = ap.parse_args()
    print(json.dumps(benchmark_checklist_ready(args.work, args.runs), indent=2))


if __name__ == "__main__":
    main()
