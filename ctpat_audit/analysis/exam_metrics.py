"""Exam metrics of a partner (and of the portfolio), with honest uncertainty.

CBP's partner dashboard shows shipments over the past year, how many were examined, the exam
types and the exam rate, compared with importers outside CTPAT. A rate over a handful of
shipments misleads, so every rate here travels with its ``shipments`` (n), ``examined`` (k),
a Wilson 95% interval and a ``small_sample`` flag; reports print the interval, not a bare
percentage. Every figure can be traced back to its rows: :attr:`PartnerExamMetrics.rows` holds
the shipments the figures were computed from (GAO-17-84 found CBP's earlier exam dashboard
data unreliable, so traceability matters).

The baseline comparison (:func:`compare_to_baseline`) tests, port by port, whether the
partner is examined significantly MORE often than the baseline (one-sided exact binomial test,
Holm-corrected across ports); those ports are flagged for escalation to the port.
"""
from __future__ import annotations

import datetime as dt
import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ctpat_audit.core import package_data
from ctpat_audit.core import vocabulary as v
from ctpat_audit.core.errors import InputError

#: z for a two-sided 95% interval (scipy.stats.norm.ppf(0.975)).
WILSON_Z = 1.959963984540054

#: A rate over fewer shipments than this is flagged ``small_sample``: below 30 shipments one
#: exam more or less moves the rate by more than 3 percentage points, and the Wilson interval
#: is wider than +/- 10 points for mid-range rates. Reports must show the interval for these.
SMALL_SAMPLE_N = 30

#: Significance level of the escalation test (family-wise, after Holm's correction).
ALPHA = 0.05

RATE_COLUMNS = ["shipments", "examined", "exam_rate", "ci_low", "ci_high", "small_sample"]
REQUIRED_COLUMNS = ("entry_id", "entry_date", "port_code", "mode", "examined")

DATA_DIR = package_data.data_dir()
DEFAULT_BASELINE = DATA_DIR / "baseline_exam_rates.csv"
#: ``port_code`` value of a baseline row that applies to every port of its mode.
ANY_PORT = "*"


# --------------------------------------------------------------------------- rates
def wilson_interval(k: np.ndarray | int, n: np.ndarray | int,
                    z: float = WILSON_Z) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score interval for k successes in n trials (vectorised; NaN where n == 0).

    centre = (p + z^2/2n) / (1 + z^2/n);  half = z/(1 + z^2/n) * sqrt(p(1-p)/n + z^2/4n^2).
    Chosen over the normal (Wald) interval because it stays inside [0, 1] and behaves at k = 0
    and for the small n that a single port of a single partner often has.
    """
    k = np.asarray(k, dtype=float)
    n = np.asarray(n, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        p = k / n
        z2 = z * z
        denom = 1.0 + z2 / n
        centre = (p + z2 / (2 * n)) / denom
        half = (z / denom) * np.sqrt(p * (1 - p) / n + z2 / (4 * n * n))
        low = np.clip(centre - half, 0.0, 1.0)
        high = np.clip(centre + half, 0.0, 1.0)
    low = np.where(n > 0, low, np.nan)
    high = np.where(n > 0, high, np.nan)
    return low, high


def with_rates(frame: pd.DataFrame, small_sample_n: int = SMALL_SAMPLE_N) -> pd.DataFrame:
    """Add exam_rate, ci_low, ci_high, small_sample to a frame with shipments and examined."""
    n = frame["shipments"].to_numpy(dtype=float)
    k = frame["examined"].to_numpy(dtype=float)
    low, high = wilson_interval(k, n)
    out = frame.copy()
    out["shipments"] = out["shipments"].astype("int64")
    out["examined"] = out["examined"].astype("int64")
    with np.errstate(divide="ignore", invalid="ignore"):
        out["exam_rate"] = np.where(n > 0, k / n, np.nan)
    out["ci_low"] = low
    out["ci_high"] = high
    out["small_sample"] = n < small_sample_n
    return out


# --------------------------------------------------------------------------- window
def exam_window(as_of: dt.date, months: int = 12) -> tuple[pd.Timestamp, pd.Timestamp]:
    """The window of ``months`` calendar months before ``as_of``: [start, end).

    Boundary rule: ``start = as_of - months`` (same day of month; clamped to the month's last
    day, so 2024-02-29 minus 12 months is 2023-02-28) is INCLUDED; ``end = as_of`` is EXCLUDED
    (the as-of day may still be receiving entries). For as_of 2025-03-01: 2024-03-01 up to
    and including 2025-02-28.
    """
    if months < 1:
        raise InputError("months", months, "a whole number of months >= 1")
    end = pd.Timestamp(as_of).normalize()
    start = end - pd.DateOffset(months=months)
    return start, end


def check_columns(shipments: pd.DataFrame, needed: Sequence[str]) -> None:
    """Refuse a shipments table that lacks any of the ``needed`` columns."""
    missing = [c for c in needed if c not in shipments.columns]
    if missing:
        raise InputError("shipments table", sorted(shipments.columns),
                         "columns " + ", ".join(needed) + f" (missing: {', '.join(missing)})")


def entry_dates(col: pd.Series) -> pd.Series:
    """Entry dates as datetimes (parsed when they are still text)."""
    return col if pd.api.types.is_datetime64_any_dtype(col) else pd.to_datetime(col)


def _examined(col: pd.Series) -> np.ndarray:
    if col.isna().any():
        bad = int(col.isna().sum())
        raise InputError("shipments.examined", f"{bad} missing value(s)",
                         "true or false on every shipment")
    return col.to_numpy(dtype=bool)


# --------------------------------------------------------------------------- partner
@dataclass(frozen=True)
class PartnerExamMetrics:
    """A partner's exam figures over one window; every rate with n, k and Wilson 95% CI.

    Rate tables have the key column(s) then ``shipments`` (n), ``examined`` (k),
    ``exam_rate`` (k/n), ``ci_low``, ``ci_high`` (Wilson 95%) and ``small_sample``
    (n < :attr:`small_sample_n`).
    """

    as_of: dt.date
    months: int
    window_start: dt.date  # included
    window_end: dt.date  # excluded (== as_of)
    small_sample_n: int
    totals: pd.DataFrame  # one row: RATE_COLUMNS
    by_exam_type: pd.DataFrame  # exam_type, label, RATE_COLUMNS (n = all shipments), share_of_exams
    by_result: pd.DataFrame  # exam_result, label, count, share_of_exams
    by_port: pd.DataFrame  # port_code, RATE_COLUMNS
    by_mode: pd.DataFrame  # mode, RATE_COLUMNS
    by_port_mode: pd.DataFrame  # port_code, mode, RATE_COLUMNS
    by_month: pd.DataFrame  # month ("YYYY-MM"), month_start, partial, RATE_COLUMNS
    rows: pd.DataFrame = field(repr=False)  # the shipments inside the window

    @property
    def shipments(self) -> int:
        return int(self.totals["shipments"].iloc[0])

    @property
    def examined(self) -> int:
        return int(self.totals["examined"].iloc[0])

    @property
    def exam_rate(self) -> float:
        return float(self.totals["exam_rate"].iloc[0])

    @property
    def interval(self) -> tuple[float, float]:
        return float(self.totals["ci_low"].iloc[0]), float(self.totals["ci_high"].iloc[0])

    def window_text(self) -> str:
        last = self.window_end - dt.timedelta(days=1)
        return (f"{self.window_start.isoformat()} to {last.isoformat()} inclusive "
                f"({self.months} months before {self.as_of.isoformat()})")


def _count_by(rows: pd.DataFrame, keys: list[str], examined: np.ndarray,
              small_n: int) -> pd.DataFrame:
    """Shipments and exams per distinct ``keys`` (as text, sorted), with rates: what
    ``groupby(keys, sort=True).sum()`` gives, counted with numpy (a report makes three of
    these for one partner; pandas' groupby cost about 5 ms each)."""
    as_text = [rows[k].astype(str) for k in keys]
    known = np.logical_and.reduce([t.notna().to_numpy() for t in as_text])
    texts = [t.to_numpy(dtype=object)[known] for t in as_text]  # as groupby: a row with a
    examined = examined[known]  # missing key is in no group
    code = np.zeros(len(texts[0]), dtype="int64")
    levels = []
    for t in texts:  # one code per combination, ordered as the sorted key tuples are
        uniq, inv = np.unique(t, return_inverse=True)
        code = code * len(uniq) + inv.reshape(-1)
        levels.append(uniq)
    used, slot = np.unique(code, return_inverse=True)
    parts = {}
    rest = used
    for k, uniq in zip(reversed(keys), reversed(levels)):
        rest, idx = np.divmod(rest, len(uniq))
        parts[k] = uniq[idx]
    out = pd.DataFrame({k: parts[k] for k in keys})  # object arrays: types as groupby's
    out["shipments"] = np.bincount(slot.reshape(-1), minlength=len(used)).astype("int64")
    out["examined"] = np.bincount(slot.reshape(-1), weights=examined.astype("int64"),
                                  minlength=len(used)).astype("int64")
    return with_rates(out, small_n)


def exam_metrics(shipments: pd.DataFrame, as_of: dt.date, months: int = 12,
                 small_sample_n: int = SMALL_SAMPLE_N) -> PartnerExamMetrics:
    """Exam figures of one partner over the ``months`` before ``as_of`` (see :func:`exam_window`).

    ``shipments`` is the SHIPMENTS table of one partner (schemas.SHIPMENTS). Rows outside the
    window are ignored; an empty window gives zero counts and NaN rates, not an error.
    """
    check_columns(shipments, REQUIRED_COLUMNS)
    start, end = exam_window(as_of, months)
    dates = entry_dates(shipments["entry_date"])
    inside = ((dates >= start) & (dates < end)).to_numpy()
    rows = shipments.loc[inside].copy()
    rows["entry_date"] = dates[inside]
    examined = _examined(rows["examined"])
    n, k = len(rows), int(examined.sum())

    totals = with_rates(pd.DataFrame({"shipments": [n], "examined": [k]}), small_sample_n)

    # Exam types: n = all shipments in the window, k = exams of that type.
    types = list(v.EXAM_TYPES)
    etype = rows["exam_type"].astype(object).where(examined, None) if "exam_type" in rows \
        else pd.Series([None] * n, dtype=object)
    counts = pd.Series(etype).value_counts().reindex(types, fill_value=0)
    by_type = with_rates(pd.DataFrame({
        "exam_type": types, "label": [v.EXAM_TYPES[t] for t in types],
        "shipments": n, "examined": counts.to_numpy()}), small_sample_n)
    by_type["share_of_exams"] = by_type["examined"] / k if k else np.nan

    results = list(v.EXAM_RESULTS)
    eres = rows["exam_result"].astype(object).where(examined, None) if "exam_result" in rows \
        else pd.Series([None] * n, dtype=object)
    rcounts = pd.Series(eres).value_counts().reindex(results, fill_value=0)
    by_result = pd.DataFrame({"exam_result": results,
                              "label": [v.EXAM_RESULTS[r] for r in results],
                              "count": rcounts.to_numpy().astype("int64")})
    by_result["share_of_exams"] = by_result["count"] / k if k else np.nan

    # Months: every calendar month the window touches, zeros included, for trend charts.
    month_idx = pd.period_range(start, end - pd.Timedelta(days=1), freq="M")
    per = rows["entry_date"].dt.to_period("M")
    m = pd.DataFrame({"p": per.to_numpy(), "shipments": 1, "examined": examined.astype("int64")})
    m = m.groupby("p")[["shipments", "examined"]].sum().reindex(month_idx, fill_value=0)
    by_month = pd.DataFrame({
        "month": [str(p) for p in month_idx],
        "month_start": month_idx.to_timestamp(),
        "partial": [(p.start_time < start) or (p.end_time >= end) for p in month_idx],
        "shipments": m["shipments"].to_numpy(), "examined": m["examined"].to_numpy()})
    by_month = with_rates(by_month, small_sample_n)

    return PartnerExamMetrics(
        as_of=pd.Timestamp(as_of).date(), months=months,
        window_start=start.date(), window_end=end.date(), small_sample_n=small_sample_n,
        totals=totals, by_exam_type=by_type, by_result=by_result,
        by_port=_count_by(rows, ["port_code"], examined, small_sample_n),
        by_mode=_count_by(rows, ["mode"], examined, small_sample_n),
        by_port_mode=_count_by(rows, ["port_code", "mode"], examined, small_sample_n),
        by_month=by_month, rows=rows)


# --------------------------------------------------------------------------- portfolio
def portfolio_exam_rates(shipments_all: pd.DataFrame, as_of: dt.date | None = None,
                         months: int = 12, by: Sequence[str] = ("port_code",),
                         small_sample_n: int = SMALL_SAMPLE_N) -> pd.DataFrame:
    """Exam rates by port (or by ``by`` columns) across all partners, vectorised.

    Columns: the ``by`` columns, ``partners`` (distinct account_id), then RATE_COLUMNS.
    With ``as_of`` the window rule of :func:`exam_window` applies; without it every row counts.
    Uses factorised codes and ``np.bincount`` (no per-row Python), so millions of rows take
    about a second.
    """
    by = list(by)
    check_columns(shipments_all, ["account_id", "examined", *by]
                   + (["entry_date"] if as_of is not None else []))
    examined = _examined(shipments_all["examined"])
    keep = None
    if as_of is not None:
        start, end = exam_window(as_of, months)
        d = entry_dates(shipments_all["entry_date"]).to_numpy()
        keep = (d >= start.to_datetime64()) & (d < end.to_datetime64())
        examined = examined[keep]

    def codes_of(col: str) -> tuple[np.ndarray, pd.Index]:
        s = shipments_all[col]
        if isinstance(s.dtype, pd.CategoricalDtype):
            c, u = s.cat.codes.to_numpy(), s.cat.categories
        else:
            c, u = pd.factorize(s, sort=False)
        c = c if keep is None else c[keep]
        return c.astype(np.int64), pd.Index(u)

    group = np.zeros(int(examined.size), dtype=np.int64)
    levels: list[pd.Index] = []
    for col in by:
        c, u = codes_of(col)
        group = group * len(u) + c
        levels.append(u)
    size = int(np.prod([len(u) for u in levels])) if levels else 1
    n = np.bincount(group, minlength=size)
    k = np.bincount(group, weights=examined, minlength=size).astype(np.int64)
    acc, acc_u = codes_of("account_id")
    pairs = pd.unique(group * len(acc_u) + acc)
    partners = np.bincount(pairs // max(len(acc_u), 1), minlength=size)

    present = np.flatnonzero(n)
    out = {}
    rem = present.copy()
    for col, u in reversed(list(zip(by, levels))):
        out[col] = np.asarray(u.astype(str))[rem % len(u)]
        rem = rem // len(u)
    frame = pd.DataFrame({col: out[col] for col in by})
    frame["partners"] = partners[present].astype("int64")
    frame["shipments"] = n[present]
    frame["examined"] = k[present]
    frame = with_rates(frame, small_sample_n)
    return frame.sort_values(by, kind="stable").reset_index(drop=True)


# --------------------------------------------------------------------------- baseline
BASELINE_COLUMNS = ("port_code", "port_name", "mode", "baseline_rate", "source")


def read_data_table(path: Path, required: Sequence[str], what: str) -> tuple[pd.DataFrame, int]:
    """Read the first table of a CSV/xlsx file as text (via :mod:`sources`), check its columns.

    Returns the frame and the user-visible row number of its first data row, so problems can
    be reported as file/row/column. Raises IntakeError naming every missing column.
    """
    from ctpat_audit.core.errors import IntakeError, Problem
    from ctpat_audit.intake import sources

    if not Path(path).exists():
        raise InputError(what, str(path), "an existing .csv or .xlsx file")
    tables, problems = sources.read(Path(path))
    if problems:
        raise IntakeError(problems)
    if not tables:
        raise IntakeError([Problem(Path(path).name, None, None, None, None, "empty_file",
                                   f"a {what} table with columns {', '.join(required)}")])
    t = tables[0]
    frame = t.frame.copy()
    frame.columns = [str(c).strip().lower() for c in frame.columns]
    missing = [c for c in required if c not in frame.columns]
    if missing:
        raise IntakeError([Problem(t.file, t.sheet, t.first_row - 1, c, None, "missing_column",
                                   f"a column named {c!r} in the {what} table")
                           for c in missing])
    frame = frame.map(lambda x: x.strip() if isinstance(x, str) else x)
    return frame, t.first_row


def _rate_value(text: object) -> float:
    s = str(text).strip()
    if s.endswith("%"):
        return float(s[:-1]) / 100.0
    return float(s)


def load_baseline(path: str | Path | None = None) -> pd.DataFrame:
    """Non-CTPAT exam rates per port and mode, from CSV or xlsx (first sheet).

    Columns: port_code (4 digits, text, or ``*`` = any port of that mode), port_name, mode,
    baseline_rate (a fraction 0-1, or a percentage written with %, e.g. ``2.5%``), source.
    Default: the shipped SAMPLE file, each of whose rows says SAMPLE in its source column.
    Every bad cell is reported at once (IntakeError with file, row, column).
    """
    if path is None:  # the shipped file: read and checked once per process
        return _shipped_baseline().copy()
    return _read_baseline(Path(path))


@functools.cache
def _shipped_baseline() -> pd.DataFrame:
    """The shipped baseline (package data, never changed by the toolkit): every report uses
    it, so a process that forks reports reads it once (:func:`load_baseline` hands out
    copies)."""
    return _read_baseline(DEFAULT_BASELINE)


def _read_baseline(path: Path) -> pd.DataFrame:
    from ctpat_audit.core.errors import IntakeError, Problem

    frame, first = read_data_table(path, BASELINE_COLUMNS, "baseline")
    problems: list[Problem] = []
    rates: list[float] = []
    codes: list[str] = []
    for i, row in enumerate(frame.itertuples(index=False)):
        line = first + i
        code = str(row.port_code)
        if code.isdigit() and len(code) < 4:
            code = code.zfill(4)  # Excel drops leading zeros: 901 is port 0901
        if not (code == ANY_PORT or (code.isdigit() and len(code) == 4)):
            problems.append(Problem(path.name, None, line, "port_code", code, "bad_port_code",
                                    "a four-digit CBP port code like 2304, or * for any port"))
        if row.mode not in v.MODES:
            problems.append(Problem(path.name, None, line, "mode", str(row.mode), "bad_choice",
                                    "one of: " + ", ".join(v.MODES)))
        try:
            r = _rate_value(row.baseline_rate)
            if not 0.0 <= r <= 1.0:
                raise ValueError
        except ValueError:
            r = np.nan
            problems.append(Problem(path.name, None, line, "baseline_rate",
                                    str(row.baseline_rate), "bad_rate",
                                    "a rate between 0 and 1 (e.g. 0.025) or a percentage (2.5%)"))
        if not str(row.source):
            problems.append(Problem(path.name, None, line, "source", "", "missing_value",
                                    "where the rate comes from, or 'assumption'"))
        codes.append(code)
        rates.append(r)
    out = pd.DataFrame({"port_code": pd.array(codes, dtype="str"),
                        "port_name": frame["port_name"].astype("str"),
                        "mode": frame["mode"].astype("str"),
                        "baseline_rate": np.asarray(rates, dtype=float),
                        "source": frame["source"].astype("str")})
    dup = out.duplicated(["port_code", "mode"], keep="first")
    for pos in np.flatnonzero(dup.to_numpy()):
        problems.append(Problem(path.name, None, first + int(pos), "port_code",
                                f"{codes[pos]}/{out['mode'].iloc[pos]}", "duplicate_key",
                                "one row per port_code and mode"))
    if problems:
        raise IntakeError(problems)
    return out


def describe_test(alpha: float, m: int) -> str:
    """The escalation test in words, for printing beside the comparison."""
    return ("One-sided exact binomial test per port and mode (H0: partner exam rate <= "
            "baseline rate; H1: greater), p = P(X >= k) for X ~ Binomial(n, baseline) "
            "(scipy.special.bdtrc); "
            f"Holm correction across the {m} port/mode row(s) with a baseline; escalate where "
            f"the Holm-adjusted p-value <= {alpha:g}.")


def holm_adjust(p: np.ndarray) -> np.ndarray:
    """Holm step-down adjusted p-values (NaN entries are left out of the family and stay NaN).

    Sorted ascending p_(1..m): adj_(i) = min(1, max_{j<=i} (m - j + 1) * p_(j)).
    """
    p = np.asarray(p, dtype=float)
    out = np.full(p.shape, np.nan)
    idx = np.flatnonzero(~np.isnan(p))
    m = idx.size
    if m == 0:
        return out
    order = idx[np.argsort(p[idx], kind="stable")]
    scaled = (m - np.arange(m)) * p[order]
    out[order] = np.minimum(1.0, np.maximum.accumulate(scaled))
    return out


def match_baseline(table: pd.DataFrame, baseline: pd.DataFrame) -> pd.DataFrame:
    """Join each port/mode row to its baseline rate: the port's own row, else the mode's
    any-port row. Adds ``port_name`` (the port's row's, else ""), ``baseline_rate``,
    ``baseline_source`` and ``baseline_scope`` ("port", "mode (any port)" or "")."""
    exact: dict[tuple[str, str], tuple[Any, float, Any]] = {}
    any_port: dict[str, tuple[float, Any]] = {}
    for port, name, mode, rate, source in zip(
            baseline["port_code"].tolist(), baseline["port_name"].tolist(),
            baseline["mode"].tolist(), baseline["baseline_rate"].tolist(),
            baseline["source"].tolist()):
        if port == ANY_PORT:
            any_port[mode] = (rate, source)
        else:
            exact[(port, mode)] = (name, rate, source)
    names, rates, sources, scopes = [], [], [], []
    for port, mode in zip(table["port_code"].tolist(), table["mode"].tolist()):
        name, rate, source = exact.get((port, mode), ("", math.nan, math.nan))
        scope = "port"
        if rate != rate:  # no rate of the port's own: the mode's any-port rate, if any
            rate, source = any_port.get(mode, (math.nan, source))
            scope = "mode (any port)" if rate == rate else ""
        names.append("" if name is None or name != name else name)
        rates.append(rate)
        sources.append(source)
        scopes.append(scope)
    t = table.reset_index(drop=True)
    t["port_name"] = pd.Series(names, dtype=object)
    t["baseline_rate"] = np.asarray(rates, dtype=float)
    t["baseline_source"] = pd.Series(sources, dtype=baseline["source"].dtype)
    t["baseline_scope"] = pd.array(scopes, dtype="str")
    return t


def above_baseline_test(t: pd.DataFrame, alpha: float = 0.05
                        ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per row (examined k of shipments n, baseline_rate b): one-sided exact binomial p-value
    for "rate > baseline", Holm-adjusted across the rows tested, and the escalation flag."""
    from scipy.special import bdtrc  # imported here; scipy.stats would cost 0.7 s more

    b = t["baseline_rate"].to_numpy(dtype=float)
    k = t["examined"].to_numpy(dtype="int64")
    n = t["shipments"].to_numpy(dtype="int64")
    p = np.full(len(t), np.nan)
    tested = (n > 0) & ~np.isnan(b)
    # P(X >= k) for X ~ Binomial(n, b): the binomial upper tail after k - 1 (Cephes'
    # incomplete beta function); 1 when k = 0. What scipy.stats.binomtest(k, n, b,
    # alternative="greater") computes, to about 1e-12 relative (it uses Boost's).
    kk, nn, bb = k[tested], n[tested], b[tested]
    p[tested] = np.where(kk > 0, np.minimum(1.0, bdtrc(np.maximum(kk - 1, 0), nn, bb)), 1.0)
    p_holm = np.asarray(holm_adjust(p), dtype=float)
    return p, p_holm, (p_holm <= alpha) & ~np.isnan(p)


def compare_to_baseline(metrics: PartnerExamMetrics, baseline: pd.DataFrame,
                        alpha: float = ALPHA) -> pd.DataFrame:
    """The partner's exam rate per port and mode against the non-CTPAT baseline.

    Columns: port_code, port_name, mode, RATE_COLUMNS (partner), baseline_rate,
    baseline_source, baseline_scope ("port", "mode (any port)" or "" when none),
    expected_exams (= shipments x baseline), exams_avoided (= shipments x (baseline - rate),
    negative when the partner is examined more), exams_avoided_low / _high (same, with the
    partner rate at the Wilson bounds), p_value (one-sided exact binomial, H1: rate >
    baseline), p_holm (Holm-adjusted across rows with a baseline), escalate (p_holm <= alpha)
    and test (the test in words; also in ``.attrs["test"]``).
    """
    t = match_baseline(metrics.by_port_mode, baseline)
    n = t["shipments"].to_numpy(dtype=float)
    b = t["baseline_rate"].to_numpy(dtype=float)
    t["expected_exams"] = n * b
    t["exams_avoided"] = n * (b - t["exam_rate"].to_numpy(dtype=float))
    t["exams_avoided_low"] = n * (b - t["ci_high"].to_numpy(dtype=float))
    t["exams_avoided_high"] = n * (b - t["ci_low"].to_numpy(dtype=float))
    t["p_value"], t["p_holm"], t["escalate"] = above_baseline_test(t, alpha)
    p = t["p_value"].to_numpy()
    desc = describe_test(alpha, int((~np.isnan(p)).sum()))
    t["test"] = desc
    cols = ["port_code", "port_name", "mode", *RATE_COLUMNS, "baseline_rate",
            "baseline_source", "baseline_scope", "expected_exams", "exams_avoided",
            "exams_avoided_low", "exams_avoided_high", "p_value", "p_holm", "escalate", "test"]
    out = t[cols].sort_values(["port_code", "mode"], kind="stable").reset_index(drop=True)
    out.attrs["test"] = desc
    out.attrs["alpha"] = alpha
    return out
