"""The report's exam charts as inline SVG: vector graphics drawn straight from the figures.

The same three charts as :mod:`ctpat_audit.ui.charts` (exam rate by port against the baseline,
exams by type, shipments and exams per month), with the same print-safe rules: black, white
and greys only, hatching and marker shapes (not colour) to tell series apart, labelled axes
with units, titles. They are written as SVG markup instead of being drawn by matplotlib: a
report's three matplotlib charts cost about 0.4 s of CPU (layout and rasterizing) and their
PNGs another 0.2 s in chromium (decoded and re-compressed into the PDF); as SVG they cost
milliseconds, stay sharp at any print resolution, carry their text as text, and make the PDF
half the size. Every text from the data is escaped; an SVG holds no script and no link.

Each function returns one ``<svg>`` element (``role="img"``, its title as ``aria-label`` and
``<title>``), sized 96 units to the inch and scaling down to the width of its container.
"""
from __future__ import annotations

import html
import itertools
import math
from collections.abc import Iterator, Sequence
from typing import cast

import numpy as np
import pandas as pd

from ctpat_audit.core.errors import InputError
from ctpat_audit.ui.chart_labels import PortRow, port_label, short_type

__all__ = ["exam_rate_by_port", "exam_types", "monthly_trend"]

BAR = "#a6a6a6"  # 0.65 grey, as ui.charts.BAR
BAR_DARK = "#595959"
GRID = "#d9d9d9"
FONT = "DejaVu Sans, Liberation Sans, Arial, sans-serif"
CHAR_W = 0.6  # average advance of a DejaVu Sans character, in ems (for margins only)
_ids = itertools.count(1)


def _esc(text: object) -> str:
    return html.escape(str(text), quote=True)


def _n(x: float) -> str:
    return f"{x:.1f}".rstrip("0").rstrip(".")


def _need(frame: pd.DataFrame, cols: list[str], what: str) -> None:
    missing = [c for c in cols if c not in frame.columns]
    if missing:
        raise InputError(what, sorted(frame.columns), "columns " + ", ".join(cols))


def nice_ticks(top: float, target: int = 5, *, integer: bool = False) -> list[float]:
    """Ticks from 0 to at least ``top``, steps of 1, 2, 2.5 or 5 times a power of ten
    (``integer``: whole steps of 1, 2 or 5 times a power of ten, for counts)."""
    top = top if top > 0 and math.isfinite(top) else 1.0
    raw = top / target
    mag = 10 ** math.floor(math.log10(raw))
    steps = (1, 2, 5, 10) if integer else (1, 2, 2.5, 5, 10)
    step = next(m * mag for m in steps if m * mag >= raw)
    if integer:
        step = max(1, round(step))
    count = math.ceil(top / step - 1e-9)
    return [round(i * step, 10) for i in range(count + 1)]


def _fmt_tick(x: float) -> str:
    return f"{x:g}" if abs(x) < 1e6 else f"{x:.3g}"


def _text_w(text: str, size: float) -> float:
    return len(text) * size * CHAR_W


class _Svg:
    """An SVG document being written: width and height in px (96 to the inch)."""

    def __init__(self, width: float, height: float, title: str) -> None:
        self.w, self.h, self.title = width, height, title
        self.uid = f"ctpat-chart-{next(_ids)}"
        self.parts: list[str] = []
        self._hatched = False

    def add(self, markup: str) -> None:
        self.parts.append(markup)

    def text(self, x: float, y: float, text: str, *, size: float = 11, anchor: str = "middle",
             weight: str = "normal", rotate: float | None = None, fill: str = "#000") -> None:
        turn = f' transform="rotate({_n(rotate)} {_n(x)} {_n(y)})"' if rotate else ""
        self.add(f'<text x="{_n(x)}" y="{_n(y)}" font-size="{_n(size)}" '
                 f'text-anchor="{anchor}" font-weight="{weight}" fill="{fill}"{turn}>'
                 f"{_esc(text)}</text>")

    def line(self, x1: float, y1: float, x2: float, y2: float, *, stroke: str = "#000",
             width: float = 1, dash: str = "") -> None:
        d = f' stroke-dasharray="{dash}"' if dash else ""
        self.add(f'<line x1="{_n(x1)}" y1="{_n(y1)}" x2="{_n(x2)}" y2="{_n(y2)}" '
                 f'stroke="{stroke}" stroke-width="{_n(width)}"{d}/>')

    def rect(self, x: float, y: float, w: float, h: float, *, fill: str = BAR,
             stroke: str = "#000", width: float = 0.8) -> None:
        self.add(f'<rect x="{_n(x)}" y="{_n(y)}" width="{_n(max(w, 0))}" '
                 f'height="{_n(max(h, 0))}" fill="{fill}" stroke="{stroke}" '
                 f'stroke-width="{_n(width)}"/>')

    def hatch(self) -> str:
        """The id of a diagonal hatch pattern over the bar grey (made once per chart)."""
        pid = f"{self.uid}-hatch"
        if not self._hatched:
            self._hatched = True
            self.parts.insert(0, f'<defs><pattern id="{pid}" width="6" height="6" '
                              'patternUnits="userSpaceOnUse" patternTransform="rotate(45)">'
                              f'<rect width="6" height="6" fill="{BAR}"/>'
                              '<line x1="0" y1="0" x2="0" y2="6" stroke="#000" '
                              'stroke-width="1.2"/></pattern></defs>')
        return f"url(#{pid})"

    def marker(self, kind: str, x: float, y: float, size: float, *, fill: str,
               stroke: str = "#000", width: float = 1.2) -> None:
        r = size / 2
        if kind == "circle":
            self.add(f'<circle cx="{_n(x)}" cy="{_n(y)}" r="{_n(r)}" fill="{fill}" '
                     f'stroke="{stroke}" stroke-width="{_n(width)}"/>')
        elif kind == "square":
            self.rect(x - r, y - r, size, size, fill=fill, stroke=stroke, width=width)
        else:  # diamond
            self.add(f'<path d="M{_n(x)} {_n(y - r)}L{_n(x + r)} {_n(y)}L{_n(x)} {_n(y + r)}'
                     f'L{_n(x - r)} {_n(y)}Z" fill="{fill}" stroke="{stroke}" '
                     f'stroke-width="{_n(width)}"/>')

    def legend(self, entries: Sequence[tuple[str, str]], y: float) -> None:
        """One centred row of ``(swatch markup kind, label)`` entries at ``y``."""
        widths = [22 + _text_w(label, 10) + 18 for _, label in entries]
        x = (self.w - sum(widths)) / 2
        for (kind, label), w in zip(entries, widths):
            if kind == "bar":
                self.rect(x, y - 9, 16, 10)
            elif kind == "hatched":
                self.rect(x, y - 9, 16, 10, fill=self.hatch())
            elif kind == "diamond":
                self.marker("diamond", x + 8, y - 4, 9, fill="#fff", width=1.4)
            elif kind == "solid":
                self.line(x, y - 4, x + 16, y - 4, width=1.5)
                self.marker("circle", x + 8, y - 4, 6, fill="#000")
            elif kind == "dashed":
                self.line(x, y - 4, x + 16, y - 4, stroke=BAR_DARK, width=1.5, dash="4 2")
                self.marker("square", x + 8, y - 4, 6, fill=BAR_DARK, stroke=BAR_DARK)
            self.text(x + 22, y, label, size=10, anchor="start")
            x += w

    def markup(self) -> str:
        t = _esc(self.title)
        return (f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" '
                f'aria-label="{t}" viewBox="0 0 {_n(self.w)} {_n(self.h)}" '
                f'width="{_n(self.w)}" height="{_n(self.h)}" font-family="{FONT}">'
                f"<title>{t}</title>{''.join(self.parts)}</svg>")


def _x_axis(svg: _Svg, left: float, right: float, bottom: float, top: float,
            ticks: list[float], label: str) -> None:
    """Vertical grid lines and the x axis with its ticks (values 0..ticks[-1])."""
    span = ticks[-1] or 1.0
    for t in ticks:
        x = left + (right - left) * t / span
        svg.line(x, top, x, bottom, stroke=GRID, width=0.6)
        svg.line(x, bottom, x, bottom + 4)
        svg.text(x, bottom + 16, _fmt_tick(t), size=10)
    svg.line(left, bottom, right, bottom)
    svg.text((left + right) / 2, bottom + 34, label, size=11)


def _y_axis(svg: _Svg, left: float, right: float, bottom: float, top: float,
            ticks: list[float], label: str) -> None:
    """Horizontal grid lines and the y axis with its ticks (values 0..ticks[-1])."""
    span = ticks[-1] or 1.0
    width = max(_text_w(_fmt_tick(t), 10) for t in ticks)
    for t in ticks:
        y = bottom - (bottom - top) * t / span
        svg.line(left, y, right, y, stroke=GRID, width=0.6)
        svg.line(left - 4, y, left, y)
        svg.text(left - 7, y + 3.5, _fmt_tick(t), size=10, anchor="end")
    svg.line(left, top, left, bottom)
    x = left - 14 - width
    svg.text(x, (top + bottom) / 2, label, size=11, rotate=-90)


def exam_rate_by_port(comparison: pd.DataFrame, title: str | None = None) -> str:
    """Horizontal bars: the partner's exam rate per port and mode with Wilson 95% error
    bars, the baseline as a hollow diamond; bars of ports flagged for escalation hatched.

    ``comparison``: :func:`~ctpat_audit.analysis.exam_metrics.compare_to_baseline`'s output
    (a by-port table with port_code, exam_rate, ci_low, ci_high works too: no baselines)."""
    _need(comparison, ["port_code", "exam_rate", "ci_low", "ci_high"], "exam rate table")
    t = comparison.reset_index(drop=True)
    title = title or "Exam rate by port against the non-CTPAT baseline"
    labels = [port_label(r) for r in cast(Iterator[PortRow], t.itertuples(index=False))]
    rate = np.nan_to_num(t["exam_rate"].to_numpy(dtype=float) * 100)
    lo = np.nan_to_num(t["ci_low"].to_numpy(dtype=float) * 100)
    hi = np.nan_to_num(t["ci_high"].to_numpy(dtype=float) * 100)
    base = (t["baseline_rate"].to_numpy(dtype=float) * 100 if "baseline_rate" in t
            else np.full(len(t), np.nan))
    esc = t["escalate"].to_numpy(dtype=bool) if "escalate" in t else np.zeros(len(t), bool)
    row_h = 30.0
    width = 720.0
    label_w = min(max([_text_w(s, 10) for s in labels] + [40]), width * 0.45)
    left, right, top = 40 + label_w, width - 24, 40
    axis_label = "Port of entry (code, mode)"
    bottom = top + max(row_h * max(len(t), 1) + 8, _text_w(axis_label, 11) + 10)
    row_h = (bottom - top - 8) / max(len(t), 1)
    svg = _Svg(width, bottom + 70, title)
    svg.text(width / 2, 22, title, size=14)
    top_value = max([*hi, *rate, *np.nan_to_num(base)]) if len(t) else 1.0
    ticks = nice_ticks(top_value * 1.05)
    span = ticks[-1]
    _x_axis(svg, left, right, bottom, top, ticks, "Exam rate (% of shipments examined)")

    def x_of(value: float) -> float:
        return left + (right - left) * max(value, 0.0) / span

    for i, label in enumerate(labels):
        y = top + 8 + i * row_h
        bar_h = min(row_h - 10, 30)
        mid = y + row_h / 2
        svg.rect(left, mid - bar_h / 2, x_of(rate[i]) - left, bar_h,
                 fill=svg.hatch() if esc[i] else BAR, width=0.8)
        if hi[i] > lo[i]:
            svg.line(x_of(lo[i]), mid, x_of(hi[i]), mid, width=1)
            for end in (lo[i], hi[i]):
                svg.line(x_of(end), mid - 4, x_of(end), mid + 4, width=1)
        if math.isfinite(base[i]):
            svg.marker("diamond", x_of(base[i]), mid, 10, fill="#fff", width=1.4)
        svg.text(left - 6, mid + 3.5, label, size=10, anchor="end")
    svg.line(left, top, left, bottom)
    svg.text(14, (top + bottom) / 2, axis_label, size=11, rotate=-90)
    entries = [("bar", "Partner exam rate, Wilson 95% interval")]
    if np.isfinite(base).any():
        entries.append(("diamond", "Non-CTPAT baseline"))
    if esc.any():
        entries.append(("hatched", "Significantly above baseline: escalate"))
    svg.legend(entries, bottom + 58)
    return svg.markup()


def exam_types(by_exam_type: pd.DataFrame, title: str | None = None) -> str:
    """Bars: number of exams by exam type (``PartnerExamMetrics.by_exam_type``), labelled."""
    _need(by_exam_type, ["exam_type", "examined"], "exam type table")
    t = by_exam_type.reset_index(drop=True)
    title = title or "Exams by type"
    labels = [short_type(c) for c in t["exam_type"]]
    counts = t["examined"].to_numpy(dtype=int)
    width, height = 624.0, 346.0
    left, right, top, bottom = 70.0, width - 20, 44.0, height - 62
    svg = _Svg(width, height, title)
    svg.text(width / 2, 22, title, size=14)
    ticks = nice_ticks(max(1, counts.max(initial=0)) * 1.15, integer=True)
    _y_axis(svg, left, right, bottom, top, ticks, "Exams (count)")
    slot = (right - left) / max(len(t), 1)
    for i, (label, count) in enumerate(zip(labels, counts)):
        x = left + slot * i + slot * 0.1
        h = (bottom - top) * count / ticks[-1]
        svg.rect(x, bottom - h, slot * 0.8, h)
        svg.text(x + slot * 0.4, bottom - h - 4, str(count), size=10)
        svg.line(x + slot * 0.4, bottom, x + slot * 0.4, bottom + 4)
        svg.text(x + slot * 0.4, bottom + 16, label, size=10)
    svg.line(left, bottom, right, bottom)
    svg.text((left + right) / 2, bottom + 40, "Exam type", size=11)
    return svg.markup()


def monthly_trend(by_month: pd.DataFrame, title: str | None = None) -> str:
    """Lines: shipments and exams per month (``PartnerExamMetrics.by_month``): solid with
    circles for shipments, dashed with squares for exams; a month only partly inside the
    window is marked with an asterisk."""
    _need(by_month, ["month", "shipments", "examined"], "monthly table")
    t = by_month.reset_index(drop=True)
    title = title or "Shipments and exams per month"
    partial = t["partial"].to_numpy(dtype=bool) if "partial" in t else np.zeros(len(t), bool)
    labels = [str(m) + ("*" if p else "") for m, p in zip(t["month"], partial)]
    ships = np.nan_to_num(t["shipments"].to_numpy(dtype=float))
    exams = np.nan_to_num(t["examined"].to_numpy(dtype=float))
    width, height = 768.0, 365.0
    left, right, top, bottom = 70.0, width - 20, 44.0, height - 96
    svg = _Svg(width, height, title)
    svg.text(width / 2, 22, title, size=14)
    ticks = nice_ticks(max([*ships, *exams, 1.0]) * 1.05, integer=True)
    _y_axis(svg, left, right, bottom, top, ticks, "Count per month")
    n = max(len(t), 1)
    step = (right - left) / n

    def point(i: int, value: float) -> tuple[float, float]:
        return left + step * (i + 0.5), bottom - (bottom - top) * value / ticks[-1]

    for values, stroke, dash, kind in ((ships, "#000", "", "circle"),
                                       (exams, BAR_DARK, "5 3", "square")):
        pts = [point(i, val) for i, val in enumerate(values)]
        if len(pts) > 1:
            d = " ".join(f"{'M' if i == 0 else 'L'}{_n(x)} {_n(y)}" for i, (x, y) in enumerate(pts))
            dashed = f' stroke-dasharray="{dash}"' if dash else ""
            svg.add(f'<path d="{d}" fill="none" stroke="{stroke}" stroke-width="1.5"{dashed}/>')
        for x, y in pts:
            svg.marker(kind, x, y, 6, fill=stroke, stroke=stroke, width=1)
    for i, label in enumerate(labels):
        x = left + step * (i + 0.5)
        svg.line(x, bottom, x, bottom + 4)
        svg.text(x + 3, bottom + 12, label, size=10, anchor="end", rotate=-45)
    svg.line(left, bottom, right, bottom)
    svg.text((left + right) / 2, bottom + 62, "Month of entry" + (
        " (* = month partly outside the window)" if partial.any() else ""), size=11)
    svg.legend([("solid", "Shipments"), ("dashed", "Exams")], height - 8)
    return svg.markup()

