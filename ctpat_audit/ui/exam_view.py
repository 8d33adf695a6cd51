"""The exam-history section of a partner's notebook: the window's figures in one line at once,
then the charts (exam rate by port and mode against the non-CTPAT baseline, exams by type, the
monthly trend).

The charts are drawn by :func:`~ctpat_audit.ui.background.show_later`: in a browser they
appear a moment after the rest of the page, so *Run All* reaches the checklist without waiting
for matplotlib and scipy to load; in a run without a browser they are drawn in the cell.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ctpat_audit.analysis.exam_metrics import PartnerExamMetrics, exam_metrics
from ctpat_audit.ui.background import Drawing, show_later

if TYPE_CHECKING:
    from IPython.display import Image
    from matplotlib.figure import Figure

    from ctpat_audit.workspace.reference import Partner

__all__ = ["ExamHistory", "exam_history", "figure_image"]


@dataclass
class ExamHistory:
    """What the section showed: the figures, and the charts' drawing (``charts.wait()``)."""

    metrics: PartnerExamMetrics
    charts: Drawing


def figure_image(fig: Figure) -> Image:
    """A chart as the PNG image a notebook shows (as matplotlib's inline backend prints it)."""
    from IPython.core.pylabtools import print_figure
    from IPython.display import Image

    return Image(data=print_figure(fig, "png"), format="png")


def exam_history(partner: Partner, as_of: dt.date) -> ExamHistory:
    """Print the exam window's figures and show the partner's exam charts (the 12 months to
    ``as_of``)."""
    metrics = exam_metrics(partner.shipments, as_of)
    print(f"{metrics.window_text()}: {metrics.examined} of {metrics.shipments} shipments examined")
    # the comparison has one row per port and mode, like by_port_mode
    wanted = [("Drawing the exam rate by port and mode ...", len(metrics.by_port_mode) > 0),
              ("Drawing the exams by type ...", metrics.examined > 0),
              ("Drawing the exam rate by month ...", len(metrics.by_month) > 0)]

    def outputs() -> Iterator[Image]:
        from ctpat_audit.analysis.exam_metrics import compare_to_baseline, load_baseline
        from ctpat_audit.ui import charts

        if wanted[0][1]:
            yield figure_image(charts.exam_rate_by_port(
                compare_to_baseline(metrics, load_baseline())))
        if wanted[1][1]:
            yield figure_image(charts.exam_types(metrics.by_exam_type))
        if wanted[2][1]:
            yield figure_image(charts.monthly_trend(metrics.by_month))

    drawing = show_later([text for text, shown in wanted if shown], outputs,
                         failed="The exam charts could not be drawn")
    return ExamHistory(metrics, drawing)
