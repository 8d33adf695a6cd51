"""Benchmarks of single package operations for ``make bench``: autosave latency, checklist
build, whole-portfolio figures. Each runs against a scratch workspace it may write into.
"""
from __future__ import annotations

import datetime as dt
import time
from pathlib import Path
from typing import Any

from ctpat_audit.analysis.portfolio import portfolio
from ctpat_audit.core.errors import NotFoundError
from ctpat_audit.core.vocabulary import ANSWER_STATUSES
from ctpat_audit.sessions.session import open_session
from ctpat_audit.ui.checklist import ChecklistWidget
from ctpat_audit.workspace.reference import open_workspace


def benchmark_autosave(ws_path: str | Path, n: int = 500,
                       account_id: str | None = None) -> dict[str, float | int | str]:
    """Time ``n`` single-answer saves (each its own durable transaction); latency percentiles.

    Opens a virtual validation on the first partner (or ``account_id``) with a synthetic
    criteria list labelled ``benchmark`` (12 categories x 15 criteria, all Should), so it
    needs no catalogue; run it on a scratch workspace: the session stays in the workspace.
    """
    root = Path(ws_path)
    acct = account_id or str(open_workspace(root).table("partners")["account_id"].min())
    crits = [(f"{c}.{i}", "Should") for c in range(1, 13) for i in range(1, 16)]
    statuses = ANSWER_STATUSES
    with open_session(root, acct, "validation", "virtual", "benchmark", criteria=crits,
                      catalogue_version="benchmark") as session:
        times: list[float] = []
        for k in range(n):
            cid = crits[k % len(crits)][0]
            t0 = time.perf_counter()
            session.answer(cid, status=statuses[k % len(statuses)], notes=f"note {k}")
            times.append((time.perf_counter() - t0) * 1000)
        sid = session.id
    ordered = sorted(times)

    def pct(p: float) -> float:
        return round(ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))], 3)

    return {"n": n, "mean_ms": round(sum(times) / n, 3), "p50_ms": pct(50), "p95_ms": pct(95),
            "p99_ms": pct(99), "max_ms": round(ordered[-1], 3), "session_id": sid}


def benchmark_checklist(ws_path: str | Path, min_criteria: int = 150) -> dict[str, Any]:
    """Time building the checklist (context + first page) and switching every page.

    Uses the partner with the most applicable criteria in the default catalogue (at least
    ``min_criteria``; e.g. an importer that is also a sea carrier) and opens a virtual
    validation for it: run on a scratch workspace (the session stays in the workspace).
    """
    from ctpat_audit.criteria.catalogue import load_catalogue
    from ctpat_audit.workspace.reference import open_workspace

    ws, cat = open_workspace(ws_path), load_catalogue(workspace=ws_path)
    entities = ws.table("entities").groupby("account_id")["entity_type"].apply(list)
    by_types: dict[tuple[str, ...], int] = {}  # 10,000 partners share a few type mixes
    counts: dict[str, int] = {}
    for a, types in entities.items():
        key = tuple(sorted(map(str, types)))
        if key not in by_types:
            by_types[key] = len(cat.applicable(list(key)))
        counts[str(a)] = by_types[key]
    account = max(counts, key=lambda a: counts[a]) if counts else None
    if account is None or counts[account] < min_criteria:
        raise NotFoundError("partner with enough criteria", min_criteria,
                            "a workspace with a partner of two entity types (sample data)")
    with open_session(ws_path, account, "validation", "virtual", "benchmark") as session:
        t0 = time.perf_counter()
        widget = ChecklistWidget(session)
        render = time.perf_counter() - t0
        pages = []
        for _label, cat_no in widget.page_choice.options:
            t1 = time.perf_counter()
            widget.category = cat_no
            pages.append(time.perf_counter() - t1)
        t2 = time.perf_counter()
        widget.cards[next(iter(widget.cards))].status.value = "not_verified"
        save = time.perf_counter() - t2
        return {"account_id": account, "criteria": len(session.criteria),
                "checklist_render_s": round(render, 4),
                "checklist_page_switch_max_s": round(max(pages), 4),
                "checklist_widget_save_s": round(save, 4), "session_id": session.id}


def benchmark_portfolio(ws_path: str | Path, as_of: dt.date) -> dict[str, Any]:
    """Seconds for one whole :func:`portfolio` call (and per step; the median of three
    calls) and its peak memory.

    ``cpu_seconds``: CPU time of this process (every thread) in that call, which other work on
    the machine does not inflate. ``seconds_without_review`` leaves out
    :func:`review.review_portfolio`, which dominates at 10,000 partners. Peak memory: the
    process's peak resident set size (``resource.getrusage``, which includes the interpreter
    and libraries) and the Python-allocated peak during the call
    (``tracemalloc``; covers pandas/numpy buffers allocated through Python's allocator, not
    Arrow's own pool).
    """
    import resource
    import tracemalloc

    from ctpat_audit.criteria.catalogue import load_catalogue

    ws = open_workspace(ws_path)
    cat = load_catalogue(None, workspace=ws.path)
    runs: list[tuple[float, dict[str, float], float]] = []
    for _ in range(3):  # the median of three calls (the first also reads the files cold)
        steps: dict[str, float] = {}
        t0, c0 = time.perf_counter(), time.process_time()
        result = portfolio(ws, as_of, cat, timings=steps)
        runs.append((time.perf_counter() - t0, steps, time.process_time() - c0))
    seconds, steps, cpu = sorted(runs, key=lambda r: r[0])[1]
    tracemalloc.start()
    portfolio(ws, as_of, cat)
    _, traced_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return {"seconds": round(seconds, 3), "steps": steps, "cpu_seconds": round(cpu, 3),
            "seconds_without_review": round(seconds - steps.get("review_portfolio", 0.0), 3),
            "partners": result.summary["partners"], "shipments_in_window": result.summary["shipments"],
            "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
            "tracemalloc_peak_mib": round(traced_peak / 2**20, 1)}
