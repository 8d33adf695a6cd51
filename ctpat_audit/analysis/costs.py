"""Cost avoided: what the exams a partner did not get would have cost, as a range.

Inputs are ranges (an X-ray exam costs $150-350 and 2-3 days), so the estimate is a range,
and it is always printed with the inputs and their sources beside it: a figure without its
assumptions is not shown. The shipped cost table (data/exam_costs.csv) takes exam fees and
durations from Flexport's public guide "Types of Customs Exams"; every other value is marked
"assumption" in its source column. Replace it with ``load_costs(your_file)``.

Cost table format (CSV or xlsx, one row per input, long format so every value has a source):
``exam_type`` (an exam type code; empty for the per-day row), ``item`` (``exam_cost``,
``delay_days`` or ``delay_cost_per_day``), ``unit`` (free text), ``low``, ``high`` (numbers,
low <= high), ``source`` (where the value comes from, or text starting with "assumption").
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ctpat_audit.analysis.exam_metrics import DATA_DIR, PartnerExamMetrics, read_data_table
from ctpat_audit.core import vocabulary as v
from ctpat_audit.core.errors import InputError, IntakeError, Problem

DEFAULT_COSTS = DATA_DIR / "exam_costs.csv"
COST_COLUMNS = ("exam_type", "item", "unit", "low", "high", "source")
ITEMS = ("exam_cost", "delay_days", "delay_cost_per_day")


@dataclass(frozen=True)
class ExamCosts:
    """The cost inputs: per exam type a fee and a delay (low/high), plus a cost per day."""

    per_exam: pd.DataFrame  # exam_type, cost_low, cost_high, cost_source, days_low, days_high, days_source
    delay_cost_per_day: tuple[float, float]
    delay_cost_source: str
    table: pd.DataFrame  # the table as loaded (COST_COLUMNS), for printing beside estimates


def load_costs(path: str | Path | None = None) -> ExamCosts:
    """Read the cost table (default: the shipped one). Every bad cell is reported at once."""
    path = Path(path) if path is not None else DEFAULT_COSTS
    frame, first = read_data_table(path, COST_COLUMNS, "exam cost")
    problems: list[Problem] = []
    lows, highs = [], []
    for i, row in enumerate(frame.itertuples(index=False)):
        line = first + i

        def bad(col: str, value: object, code: str, expected: str, line: int = line) -> None:
            problems.append(Problem(path.name, None, line, col, str(value), code, expected))

        if row.item not in ITEMS:
            bad("item", row.item, "bad_choice", "one of: " + ", ".join(ITEMS))
        elif row.item != "delay_cost_per_day" and row.exam_type not in v.EXAM_TYPES:
            bad("exam_type", row.exam_type, "bad_choice", "one of: " + ", ".join(v.EXAM_TYPES))
        try:
            lo, hi = float(str(row.low).replace(",", "")), float(str(row.high).replace(",", ""))
            if lo < 0 or hi < lo:
                raise ValueError
        except ValueError:
            lo = hi = np.nan
            bad("low", f"{row.low}-{row.high}", "bad_range",
                "two numbers >= 0 with low <= high (e.g. 150 and 350)")
        if not str(row.source).strip():
            bad("source", "", "missing_value", "where the value comes from, or 'assumption'")
        lows.append(lo)
        highs.append(hi)
    table = pd.DataFrame({c: frame[c].astype("str") for c in COST_COLUMNS})
    table["low"], table["high"] = lows, highs
    key = table["exam_type"] + "/" + table["item"]
    for pos in np.flatnonzero(key.duplicated().to_numpy()):
        problems.append(Problem(path.name, None, first + int(pos), "item", key.iloc[pos],
                                "duplicate_key", "one row per exam_type and item"))
    per_day = table[table["item"] == "delay_cost_per_day"]
    if len(per_day) != 1 and not problems:
        problems.append(Problem(path.name, None, None, "item", str(len(per_day)),
                                "missing_row", "exactly one delay_cost_per_day row"))
    if problems:
        raise IntakeError(problems)

    fee = table[table["item"] == "exam_cost"].set_index("exam_type")
    days = table[table["item"] == "delay_days"].set_index("exam_type")
    types = [t for t in v.EXAM_TYPES if t in fee.index or t in days.index]
    per_exam = pd.DataFrame({
        "exam_type": types,
        "cost_low": fee["low"].reindex(types).to_numpy(),
        "cost_high": fee["high"].reindex(types).to_numpy(),
        "cost_source": fee["source"].reindex(types).fillna("").to_numpy(),
        "days_low": days["low"].reindex(types).to_numpy(),
        "days_high": days["high"].reindex(types).to_numpy(),
        "days_source": days["source"].reindex(types).fillna("").to_numpy(),
    })
    delay = per_day.iloc[0]
    return ExamCosts(per_exam, (float(delay["low"]), float(delay["high"])), str(delay["source"]),
                     table)


@dataclass(frozen=True)
class CostEstimate:
    """Cost avoided as a low-high range, with the assumptions that produced it."""

    exams_avoided: float  # net, over the port/mode rows that have a baseline
    low_usd: float
    high_usd: float
    breakdown: pd.DataFrame  # per exam type: share, exams_avoided, exam_cost_*, delay_*, total_*
    assumptions: pd.DataFrame  # item, value, source

    def range_text(self) -> str:
        """"$1,200 to $3,400"; a negative estimate (more exams than the baseline) reads as
        an extra cost rather than a negative saving."""
        if self.high_usd < 0:
            return f"none (extra cost of ${-self.high_usd:,.0f} to ${-self.low_usd:,.0f})"
        return f"${self.low_usd:,.0f} to ${self.high_usd:,.0f}"

    def text(self) -> str:
        """The estimate and every assumption beside it, as plain text for notebooks/reports."""
        lines = [f"Estimated cost avoided: {self.range_text()} "
                 f"(net exams avoided: {self.exams_avoided:,.1f})", "Assumptions:"]
        for r in self.assumptions.itertuples(index=False):
            lines.append(f"  - {r.item}: {r.value} [source: {r.source}]")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.text()


def _mix(metrics: PartnerExamMetrics, costs: ExamCosts,
         exam_mix: Mapping[str, float] | None) -> tuple[pd.Series, str]:
    if exam_mix is not None:
        mix = pd.Series(dict(exam_mix), dtype=float)
        source = "given by the user (exam_mix)"
    elif metrics.examined > 0:
        mix = metrics.by_exam_type.set_index("exam_type")["examined"].astype(float)
        mix = mix[mix > 0]
        source = ("assumption: avoided exams would have had the same type mix as the "
                  f"partner's {metrics.examined} exams in the window")
    else:
        mix = pd.Series({"nii": 1.0})
        source = ("assumption: the partner had no exams in the window, so every avoided exam "
                  "is costed as an X-ray/NII exam (the least costly common exam)")
    unknown = [t for t in mix.index if t not in set(costs.per_exam["exam_type"])]
    if unknown:
        raise InputError("exam types without a cost row", unknown,
                         "a cost and a delay row in the cost table for each exam type used")
    if mix.sum() <= 0:
        raise InputError("exam_mix", dict(mix), "shares that add up to more than 0")
    return mix / mix.sum(), source


def cost_avoided(comparison: pd.DataFrame, metrics: PartnerExamMetrics, costs: ExamCosts,
                 exam_mix: Mapping[str, float] | None = None) -> CostEstimate:
    """Cost avoided = exams avoided x (exam fee + delay days x cost per day), as a range.

    ``comparison`` is :func:`exam_metrics.compare_to_baseline`'s output; exams avoided is the net
    sum of its ``exams_avoided`` over rows with a baseline (rows where the partner is examined
    more count negative). Avoided exams are split by ``exam_mix`` (default: the partner's own
    exam-type mix). Per exam type t with e_t avoided exams:
    low = e_t x (fee_low + days_low x per_day_low); high = e_t x (fee_high + days_high x
    per_day_high). With a negative total the range is an extra cost and low/high swap so that
    low <= high.
    """
    has_base = comparison["baseline_rate"].notna()
    e_total = float(comparison.loc[has_base, "exams_avoided"].sum())
    mix, mix_source = _mix(metrics, costs, exam_mix)
    pe = costs.per_exam.set_index("exam_type").loc[mix.index]
    d_lo, d_hi = costs.delay_cost_per_day
    b = pd.DataFrame({"exam_type": mix.index, "share": mix.to_numpy()})
    b["exams_avoided"] = e_total * b["share"]
    b["exam_cost_low"] = b["exams_avoided"] * pe["cost_low"].to_numpy()
    b["exam_cost_high"] = b["exams_avoided"] * pe["cost_high"].to_numpy()
    b["delay_days_low"] = b["exams_avoided"] * pe["days_low"].to_numpy()
    b["delay_days_high"] = b["exams_avoided"] * pe["days_high"].to_numpy()
    b["delay_cost_low"] = b["delay_days_low"] * d_lo
    b["delay_cost_high"] = b["delay_days_high"] * d_hi
    b["total_low"] = b["exam_cost_low"] + b["delay_cost_low"]
    b["total_high"] = b["exam_cost_high"] + b["delay_cost_high"]
    lo, hi = float(b["total_low"].sum()), float(b["total_high"].sum())
    lo, hi = min(lo, hi), max(lo, hi)

    sources = sorted(set(comparison.loc[has_base, "baseline_source"].astype(str)))
    sample = any("SAMPLE" in s for s in sources)
    no_base = int(comparison.loc[~has_base, "shipments"].sum())
    rows = [
        ("exams avoided", f"{e_total:,.2f} = sum of shipments x (baseline rate - partner rate) "
         f"over {int(has_base.sum())} port/mode row(s)",
         ("baseline table (contains SAMPLE values, not CBP data)" if sample
          else "baseline table: " + "; ".join(sources)[:300])),
        ("shipments without a baseline", f"{no_base:,} (left out of exams avoided)",
         "baseline table has no row for their port and mode"),
        ("exam-type mix", ", ".join(f"{t} {s:.0%}" for t, s in mix.items()), mix_source),
    ]
    for t, r in pe.iterrows():
        rows.append((f"{t} exam fee", f"${r['cost_low']:,.0f} to ${r['cost_high']:,.0f} per exam",
                     r["cost_source"]))
        rows.append((f"{t} delay", f"{r['days_low']:g} to {r['days_high']:g} days per exam",
                     r["days_source"]))
    rows.append(("delay cost per day", f"${d_lo:,.0f} to ${d_hi:,.0f} per shipment per day",
                 costs.delay_cost_source))
    assumptions = pd.DataFrame(rows, columns=["item", "value", "source"])
    return CostEstimate(e_total, lo, hi, b, assumptions)
