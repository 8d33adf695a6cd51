"""Charts: built from real metrics, saved as PNG to the run's artifacts folder (outside the
checkout; printed at the end of the run), contents checked."""
from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

from ctpat_audit.analysis.exam_metrics import compare_to_baseline, exam_metrics
from ctpat_audit.ui import charts

AS_OF = dt.date(2025, 3, 1)


@pytest.fixture(scope="module")
def metrics():
    # Laredo truck 20 shipments / 10 exams (well above a 10% baseline), Buffalo 30 / 1,
    # Los Angeles sea 10 / 0; exams: 6 nii, 4 tailgate, 1 intensive
    recs = []
    spec = [("2304", "truck", "2024-05-10", 20, ["nii"] * 6 + ["tailgate"] * 4),
            ("0901", "truck", "2024-09-10", 30, ["intensive"]),
            ("2704", "sea", "2025-01-10", 10, [])]
    i = 0
    for port, mode, date, n, exams in spec:
        for j in range(n):
            ex = j < len(exams)
            recs.append({"account_id": "A1", "entry_id": f"E{i}", "entry_date": date,
                         "port_code": port, "mode": mode, "examined": ex,
                         "exam_type": exams[j] if ex else None,
                         "exam_result": "cleared" if ex else None})
            i += 1
    s = pd.DataFrame(recs)
    s["entry_date"] = pd.to_datetime(s["entry_date"])
    return exam_metrics(s, AS_OF)


@pytest.fixture(scope="module")
def comparison(metrics):
    base = pd.DataFrame({"port_code": ["2304", "0901", "2704"],
                         "port_name": ["Laredo", "Buffalo-Niagara Falls", "Los Angeles"],
                         "mode": ["truck", "truck", "sea"], "baseline_rate": [0.10, 0.10, 0.03],
                         "source": ["test"] * 3})
    return compare_to_baseline(metrics, base)


@pytest.fixture
def save(artifacts_dir: Path) -> Callable[[Figure, str], Path]:
    """Save a figure as ``name`` in the artifacts folder and check it is a real image."""
    def save_figure(fig: Figure, name: str) -> Path:
        path = artifacts_dir / name
        fig.savefig(path)
        assert path.stat().st_size > 5_000  # a real image, not an empty canvas
        return path
    return save_figure


def test_exam_rate_by_port(comparison, save):
    rc_before = dict(matplotlib.rcParams)
    fig = charts.exam_rate_by_port(comparison)
    assert dict(matplotlib.rcParams) == rc_before  # no global style change
    ax = fig.axes[0]
    from matplotlib.container import BarContainer

    bars = next(c for c in ax.containers if isinstance(c, BarContainer))
    assert len(bars) == 3
    # bar lengths are the exam rates in %: Laredo 10/20 = 50, Buffalo 1/30 = 3.33, LA 0
    widths = sorted(round(b.get_width(), 2) for b in bars)
    assert widths == [0.0, 3.33, 50.0]
    # Laredo: P(X >= 10 | 20, 0.10) is tiny -> escalated -> its bar alone is hatched
    assert [b.get_hatch() for b in bars].count("///") == 1
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert labels[0].startswith("0901 Buffalo-Niagara Falls (truck)")  # first row on top
    assert labels[1].startswith("2304 Laredo (truck)") and labels[1].endswith("n=20")
    assert "Exam rate (%" in ax.get_xlabel() and ax.get_ylabel().startswith("Port")
    assert ax.get_title()
    baseline = [ln for ln in ax.lines if ln.get_marker() == "D"]
    assert len(baseline) == 1 and sorted(baseline[0].get_xdata()) == pytest.approx([3, 10, 10])
    save(fig, "exam_rate_by_port.png")


def test_exam_types(metrics, save):
    fig = charts.exam_types(metrics.by_exam_type)
    ax = fig.axes[0]
    assert len(ax.patches) == 5  # one bar per exam type, zeros included
    assert [round(p.get_height()) for p in ax.patches] == [6, 4, 1, 0, 0]
    assert ax.get_ylabel() == "Exams (count)" and ax.get_xlabel() == "Exam type"
    save(fig, "exam_types.png")


def test_monthly_trend(metrics, save):
    fig = charts.monthly_trend(metrics.by_month)
    ax = fig.axes[0]
    assert len(ax.lines) == 2
    shipments, exams = ax.lines
    assert shipments.get_linestyle() != exams.get_linestyle()  # apart in grey-scale
    assert len(shipments.get_xdata()) == 12
    # May 2024 (index 2): 20 shipments, 10 exams
    assert shipments.get_ydata()[2] == 20 and exams.get_ydata()[2] == 10
    assert ax.get_xticklabels()[0].get_text() == "2024-03"
    save(fig, "monthly_trend.png")


def test_backlog_by_region(save):
    frame = pd.DataFrame({"region": ["MX / Tamaulipas / Reynosa", "US / TX / Laredo",
                                     "MX / Nuevo Leon / Monterrey", "US / TX / Laredo"],
                          "backlog": [12, 5, 9, 2]})
    fig = charts.backlog_by_region(frame)
    ax = fig.axes[0]
    assert len(ax.patches) == 3  # Laredo's two rows added up
    top = ax.get_yticklabels()[0].get_text()
    assert top == "MX / Tamaulipas / Reynosa"
    assert sorted(p.get_width() for p in ax.patches) == [7, 9, 12]
    save(fig, "backlog_by_region.png")
    with pytest.raises(Exception, match="backlog"):
        charts.backlog_by_region(frame.rename(columns={"backlog": "n"}))


def test_charts_only_greys(comparison, metrics):
    for fig in (charts.exam_rate_by_port(comparison), charts.exam_types(metrics.by_exam_type),
                charts.monthly_trend(metrics.by_month)):
        for ax in fig.axes:
            for p in ax.patches:
                r, g, b, _ = p.get_facecolor()
                assert np.isclose(r, g) and np.isclose(g, b)


# --- the report's SVG charts (ctpat_audit.ui.print_charts) ---------------------------------

def _svg(markup: str):
    import xml.etree.ElementTree as ET

    return ET.fromstring(markup)  # well-formed XML, or this raises


def _colours(root) -> set[str]:
    return {v for el in root.iter() for k, v in el.attrib.items()
            if k in ("fill", "stroke") and v.startswith("#")}


def test_svg_charts_are_greys_with_titles_labels_and_no_links(comparison, metrics,
                                                              artifacts_dir: Path):
    from ctpat_audit.ui import print_charts

    svgs = {"port": print_charts.exam_rate_by_port(comparison, "Exam rate by port and mode"),
            "types": print_charts.exam_types(metrics.by_exam_type),
            "months": print_charts.monthly_trend(metrics.by_month)}
    (artifacts_dir / "print_charts.html").write_text(
        "<html><body>" + "".join(svgs.values()) + "</body></html>", encoding="utf-8")
    ns = "{http://www.w3.org/2000/svg}"
    for name, markup in svgs.items():
        root = _svg(markup)
        assert root.get("role") == "img" and root.find(f"{ns}title").text == root.get("aria-label")
        for colour in _colours(root):  # black, white and greys only
            r, g, b = (colour[1:3], colour[3:5], colour[5:7]) if len(colour) == 7 else (
                colour[1], colour[2], colour[3])
            assert r == g == b, (name, colour)
        assert "href" not in markup and "<script" not in markup
    port = _svg(svgs["port"])
    texts = [t.text for t in port.iter(f"{ns}text")]
    assert "Exam rate by port and mode" in texts and "Port of entry (code, mode)" in texts
    assert any(t.startswith("2304 Laredo (truck)") for t in texts)
    escalated = comparison["escalate"].sum()
    assert escalated >= 1  # Laredo: 10 of 20 against a 10% baseline
    hatched = [r for r in port.iter(f"{ns}rect") if r.get("fill", "").startswith("url(#")]
    assert len(hatched) == escalated + 1  # the flagged bars and the legend's swatch
    assert "Significantly above baseline: escalate" in texts
    types = [t.text for t in _svg(svgs["types"]).iter(f"{ns}text")]
    assert {"NII / X-ray", "Tailgate", "6", "4", "Exams (count)"} <= set(types)
    assert not any("." in t for t in types if t.replace(".", "").isdigit())  # whole counts


def test_svg_charts_escape_text_from_the_data(comparison):
    from ctpat_audit.ui import print_charts

    hostile = comparison.copy()
    hostile["port_name"] = ['<script>alert(1)</script> & "Co"', "Buffalo", "LA"]
    markup = print_charts.exam_rate_by_port(hostile, 'Title <b>"x"</b>')
    root = _svg(markup)
    assert "<script>" not in markup and "<b>" not in markup
    assert any("<script>alert(1)</script>" in (t.text or "") for t in root.iter())
    assert root.get("aria-label") == 'Title <b>"x"</b>'
    with pytest.raises(Exception, match="exam rate table"):
        print_charts.exam_rate_by_port(hostile.drop(columns=["ci_low"]))
