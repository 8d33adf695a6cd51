"""Charts of the exam dashboard and the portfolio, readable in print.

Each function returns a :class:`matplotlib.figure.Figure` built without pyplot (no global
figure registry, no global rcParams change: styles apply inside ``matplotlib.rc_context``),
drawn on the Agg canvas, so it works headless, in papermill and in reports; in a notebook the
returned figure displays itself. Print-safe: black, white and greys only, with hatching and
marker shapes (not colour) to tell series apart; labelled axes with units; titles.
"""
from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, cast

import matplotlib
import numpy as np
import pandas as pd
from matplotlib.artist import Artist
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.container import Container
from matplotlib.figure import Figure

from ctpat_audit.core.errors import InputError
from ctpat_audit.ui.chart_labels import PortRow, port_label, short_type

if TYPE_CHECKING:
    from matplotlib.typing import RcKeyType

#: Applied only inside the chart functions (rc_context), never globally.
PRINT_STYLE: dict[RcKeyType, object] = {
    "font.size": 10,
    "axes.titlesize": 12,
    "axes.labelsize": 10,
    "axes.edgecolor": "black",
    "axes.grid": True,
    "grid.color": "0.85",
    "grid.linestyle": "-",
    "grid.linewidth": 0.6,
    "axes.axisbelow": True,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "legend.frameon": False,
    "savefig.dpi": 150,
    "savefig.bbox": "tight",
}
BAR = "0.65"  # mid grey: prints on any printer and leaves black text and error bars readable
BAR_DARK = "0.35"


def _figure(width: float, height: float) -> Figure:
    fig = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _need(frame: pd.DataFrame, cols: list[str], what: str) -> None:
    missing = [c for c in cols if c not in frame.columns]
    if missing:
        raise InputError(what, sorted(frame.columns), "columns " + ", ".join(cols))


def exam_rate_by_port(comparison: pd.DataFrame, title: str | None = None) -> Figure:
    """Horizontal bars: the partner's exam rate per port and mode, Wilson 95% error bars, and
    the baseline as a hollow diamond. Bars of ports flagged for escalation are hatched.

    ``comparison`` is :func:`exam_metrics.compare_to_baseline`'s output (a by-port rate table with
    port_code, exam_rate, ci_low, ci_high also works; it then has no baseline markers).
    """
    _need(comparison, ["port_code", "exam_rate", "ci_low", "ci_high"], "exam rate table")
    t = comparison.reset_index(drop=True)
    labels = [port_label(r) for r in cast(Iterator[PortRow], t.itertuples(index=False))]
    rate = t["exam_rate"].to_numpy(dtype=float) * 100
    err = np.vstack([rate - t["ci_low"].to_numpy(dtype=float) * 100,
                     t["ci_high"].to_numpy(dtype=float) * 100 - rate])
    err = np.nan_to_num(np.clip(err, 0, None))
    y = np.arange(len(t))[::-1]  # first row on top
    with matplotlib.rc_context(PRINT_STYLE):
        fig = _figure(7.5, max(2.5, 0.45 * len(t) + 1.5))
        ax = fig.add_subplot()
        esc = t["escalate"].to_numpy(dtype=bool) if "escalate" in t else np.zeros(len(t), bool)
        bars = ax.barh(y, np.nan_to_num(rate), color=BAR, edgecolor="black", linewidth=0.6,
                       label="Partner exam rate, Wilson 95% interval", xerr=err,
                       error_kw={"ecolor": "black", "capsize": 3, "linewidth": 1})
        for bar, flagged in zip(bars, esc):
            if flagged:
                bar.set_hatch("///")
        handles: list[Artist | Container] = [bars]
        if "baseline_rate" in t and t["baseline_rate"].notna().any():
            handles.append(ax.plot(t["baseline_rate"].to_numpy(dtype=float) * 100, y,
                                   linestyle="none", marker="D", markersize=7,
                                   markerfacecolor="white", markeredgecolor="black",
                                   markeredgewidth=1.4, label="Non-CTPAT baseline")[0])
        if esc.any():
            from matplotlib.patches import Patch

            handles.append(Patch(facecolor=BAR, edgecolor="black", hatch="///",
                                 label="Significantly above baseline: escalate"))
        ax.set_yticks(y, labels)
        ax.set_xlabel("Exam rate (% of shipments examined)")
        ax.set_ylabel("Port of entry (code, mode)")
        ax.set_xlim(left=0)
        ax.set_title(title or "Exam rate by port against the non-CTPAT baseline")
        fig.legend(handles=handles, loc="outside lower center", ncol=min(len(handles), 2),
                   fontsize=8)
    return fig


def exam_types(by_exam_type: pd.DataFrame, title: str | None = None) -> Figure:
    """Bars: number of exams by exam type (``PartnerExamMetrics.by_exam_type``), labelled."""
    _need(by_exam_type, ["exam_type", "examined"], "exam type table")
    t = by_exam_type.reset_index(drop=True)
    labels = [short_type(c) for c in t["exam_type"]]
    counts = t["examined"].to_numpy(dtype=int)
    with matplotlib.rc_context(PRINT_STYLE):
        fig = _figure(6.5, 3.6)
        ax = fig.add_subplot()
        bars = ax.bar(labels, counts, color=BAR, edgecolor="black", linewidth=0.6)
        ax.bar_label(bars, labels=[str(c) for c in counts], padding=2, fontsize=9)
        ax.set_xlabel("Exam type")
        ax.set_ylabel("Exams (count)")
        ax.set_ylim(0, max(1, counts.max(initial=0)) * 1.15)
        ax.set_title(title or "Exams by type")
        ax.grid(axis="x", visible=False)
        ax.tick_params(axis="x", labelsize=9)
    return fig


def monthly_trend(by_month: pd.DataFrame, title: str | None = None) -> Figure:
    """Lines: shipments and exams per month (``PartnerExamMetrics.by_month``).

    Solid line with circles for shipments, dashed with squares for exams, so the two read
    apart in grey-scale; months only partly inside the window are marked with an asterisk.
    """
    _need(by_month, ["month", "shipments", "examined"], "monthly table")
    t = by_month.reset_index(drop=True)
    x = np.arange(len(t))
    partial = t["partial"].to_numpy(dtype=bool) if "partial" in t else np.zeros(len(t), bool)
    labels = [m + ("*" if p else "") for m, p in zip(t["month"], partial)]
    with matplotlib.rc_context(PRINT_STYLE):
        fig = _figure(8.0, 3.8)
        ax = fig.add_subplot()
        ax.plot(x, t["shipments"], color="black", linestyle="-", marker="o", markersize=4,
                label="Shipments")
        ax.plot(x, t["examined"], color=BAR_DARK, linestyle="--", marker="s", markersize=4,
                label="Exams")
        ax.set_xticks(x, labels, rotation=45, ha="right")
        ax.set_xlabel("Month of entry" + (" (* = month partly outside the window)"
                                          if partial.any() else ""))
        ax.set_ylabel("Count per month")
        ax.set_ylim(bottom=0)
        ax.set_title(title or "Shipments and exams per month")
        fig.legend(loc="outside right upper")
    return fig


def backlog_by_region(frame: pd.DataFrame, region: str = "region", count: str = "backlog",
                      title: str | None = None, top: int = 25) -> Figure:
    """Horizontal bars: validations in the backlog per region (largest first, ``top`` shown).

    ``frame`` has one row per region: a label column (``region``, e.g. "MX / Tamaulipas /
    Reynosa") and a count column (``count``). Rows with the same label are added up.
    """
    _need(frame, [region, count], "backlog table")
    t = (frame.groupby(region, sort=False)[count].sum().sort_values(ascending=False)
         .head(top))
    y = np.arange(len(t))[::-1]
    with matplotlib.rc_context(PRINT_STYLE):
        fig = _figure(7.0, max(2.5, 0.35 * len(t) + 1.5))
        ax = fig.add_subplot()
        bars = ax.barh(y, t.to_numpy(), color=BAR, edgecolor="black", linewidth=0.6)
        ax.bar_label(bars, labels=[f"{int(c)}" for c in t.to_numpy()], padding=2, fontsize=9)
        ax.set_yticks(y, [str(i) for i in t.index])
        ax.set_xlabel("Validations due or overdue (count)")
        ax.set_ylabel("Region")
        ax.set_xlim(0, max(1, float(t.max()) if len(t) else 1) * 1.15)
        ax.set_title(title or "Validation backlog by region")
    return fig
