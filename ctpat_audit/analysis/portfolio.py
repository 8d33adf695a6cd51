"""The supervisors' portfolio: validations due, backlog by region, validation modes,
suspension candidates and exam rates by port, across every partner of a workspace.

Validations due, the backlog by region and the in-person/virtual share follow the rules in
:mod:`ctpat_audit.analysis.backlog`. Here (ours, marked as ours):

* **Suspension candidates** (ours, from :func:`review.review_portfolio`): certified or
  validated partners whose annual security-profile review is overdue, or whose current profile
  is incomplete (at least ``INCOMPLETE_BLANK_SHARE`` of the applicable criteria blank, the
  threshold the review's triage uses), overdue first, most days overdue first, then by
  suspension risk. Must criteria answered too briefly are shown (``must_not_addressed``) but do
  not by themselves make a candidate: nearly every profile has some.
* **Exam rates by port** across partners (:func:`window_exam_rates`, Wilson 95%
  intervals) per port and mode over the 12 months before ``as_of``, with the non-CTPAT
  baseline beside each row and the same one-sided exact binomial test (Holm-corrected) as the
  partner dashboard.
"""
from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ctpat_audit.analysis.backlog import (
    DUE_WITHIN_DAYS,
    FIRST_VALIDATION_YEARS,
    NO_SITE_VISITS,
    REVALIDATION_YEARS,
    SCHEDULED_STATUSES,
    backlog_by_region,
    validation_modes,
    validations_due,
)
from ctpat_audit.analysis.review import INCOMPLETE_BLANK_SHARE
from ctpat_audit.criteria.catalogue import Catalogue
from ctpat_audit.workspace.reference import Workspace, open_workspace

__all__ = ["DUE_WITHIN_DAYS", "FIRST_VALIDATION_YEARS", "INCOMPLETE_BLANK_SHARE",
           "NO_SITE_VISITS", "REVALIDATION_YEARS", "Portfolio", "backlog_by_region",
           "port_exam_rates", "portfolio", "suspension_candidates", "validation_modes",
           "validations_due", "window_exam_rates"]

RISK_ORDER = {"high": 0, "medium": 1, "low": 2}


@dataclass(frozen=True)
class Portfolio:
    """The portfolio on ``as_of``: one DataFrame per table and the headline ``summary``."""

    as_of: dt.date
    catalogue_version: str
    catalogue_label: str
    demonstration: bool
    due_within_days: int
    validations: pd.DataFrame  # one row per partner: due date, days until/over, backlog flag
    backlog_by_region: pd.DataFrame  # level, region, backlog, overdue, due_soon, partners, ...
    validation_modes: pd.DataFrame  # year, in_person, virtual, total, shares (+ "all" row)
    suspension_candidates: pd.DataFrame  # overdue first; outreach and reasons
    exam_rates: pd.DataFrame  # per port and mode, Wilson CI, baseline, test
    summary: dict[str, Any]
    review: pd.DataFrame = field(repr=False)  # review_portfolio's full table

    @property
    def backlog(self) -> pd.DataFrame:
        """Partners in the backlog (overdue or due within ``due_within_days``), most overdue first."""
        return self.validations[self.validations["in_backlog"]].reset_index(drop=True)

    def tables(self) -> dict[str, pd.DataFrame]:
        """Sheet name -> table, in the order a supervisor reads them."""
        return {"Validations due": self.validations, "Backlog by region": self.backlog_by_region,
                "Validation modes": self.validation_modes,
                "Suspension candidates": self.suspension_candidates,
                "Exam rates by port": self.exam_rates}


def suspension_candidates(review: pd.DataFrame, outreach: pd.DataFrame,
                          incomplete_blank_share: float = INCOMPLETE_BLANK_SHARE) -> pd.DataFrame:
    """Certified/validated partners with an overdue annual review or an incomplete profile.

    ``review`` is :func:`review.review_portfolio`'s table. Incomplete: ``blank / applicable``
    >= ``incomplete_blank_share`` (a partner with no applicable criteria on file counts as
    incomplete). Adds ``last_outreach`` (latest contact date) and ``why``
    (overdue review, incomplete profile, or both). Overdue first (most days overdue first),
    then by risk (high first), Must gaps (most first), account id.
    """
    if review.empty:
        return review.assign(why=pd.Series(dtype="str"), last_outreach=pd.Series(dtype="datetime64[s]"))
    r = review[review["status"].isin(SCHEDULED_STATUSES)]
    overdue = r["review_status"] == "overdue"
    applicable = r["applicable"].astype("float64")
    incomplete = (r["blank"] >= incomplete_blank_share * applicable) | (applicable == 0)
    c = r[overdue | incomplete].copy()
    c["why"] = np.select([overdue[c.index] & incomplete[c.index], overdue[c.index]],
                         ["review overdue; profile incomplete", "review overdue"],
                         "profile incomplete")
    last = pd.to_datetime(outreach["contacted_on"]).groupby(outreach["account_id"]).max() \
        if len(outreach) else pd.Series(dtype="datetime64[s]")
    c["last_outreach"] = c["account_id"].map(last)
    c["days_overdue"] = c["days_overdue"].astype("Float64").round().astype("Int64")
    c["_o"] = np.where(c["review_status"] == "overdue", 0, 1)
    c["_d"] = c["days_overdue"].astype("Float64").fillna(-1)
    c["_r"] = c["risk"].map(RISK_ORDER)
    c = c.sort_values(["_o", "_d", "_r", "must_not_addressed", "account_id"],
                      ascending=[True, False, True, False, True], kind="stable")
    cols = ["account_id", "legal_name", "status", "risk", "why", "review_status", "due",
            "days_overdue", "must_not_addressed", "blank", "applicable", "company_officer",
            "outreach_attempts", "outreach_unanswered", "last_outreach", "reasons"]
    return c[cols].reset_index(drop=True)


# --------------------------------------------------------------------------- exam rates
def port_exam_rates(shipments: pd.DataFrame, as_of: dt.date, baseline: pd.DataFrame,
                    months: int = 12) -> pd.DataFrame:
    """Exam rates per port and mode across partners, with the baseline beside each row.

    Columns: port_code, port_name, mode, partners, shipments, examined, exam_rate, ci_low,
    ci_high (Wilson 95%), small_sample, baseline_rate, baseline_source, baseline_scope,
    exams_avoided (shipments x (baseline - rate)), p_value, p_holm, above_baseline (Holm-adjusted
    one-sided exact binomial p <= exam_metrics.ALPHA); the test in words in ``.attrs["test"]``.
    Sorted by shipments, largest first. (The portfolio computes the same table from the
    workspace's file: :func:`window_exam_rates`.)
    """
    from ctpat_audit.analysis.exam_metrics import portfolio_exam_rates

    return _against_baseline(portfolio_exam_rates(shipments, as_of=as_of, months=months,
                                                  by=("port_code", "mode")), baseline)


def _against_baseline(t: pd.DataFrame, baseline: pd.DataFrame) -> pd.DataFrame:
    from ctpat_audit.analysis.exam_metrics import (
        ALPHA,
        above_baseline_test,
        describe_test,
        match_baseline,
    )

    t = match_baseline(t, baseline)
    n = t["shipments"].to_numpy(dtype=float)
    b = t["baseline_rate"].to_numpy(dtype=float)
    t["exams_avoided"] = n * (b - t["exam_rate"].to_numpy(dtype=float))
    t["p_value"], t["p_holm"], t["above_baseline"] = above_baseline_test(t, ALPHA)
    cols = ["port_code", "port_name", "mode", "partners", "shipments", "examined", "exam_rate",
            "ci_low", "ci_high", "small_sample", "baseline_rate", "baseline_source",
            "baseline_scope", "exams_avoided", "p_value", "p_holm", "above_baseline"]
    out = t[cols].sort_values(["shipments", "port_code", "mode"], ascending=[False, True, True],
                              kind="stable").reset_index(drop=True)
    out.attrs["test"] = describe_test(ALPHA, int(t["p_value"].notna().sum()))
    return out


def window_exam_rates(ws: Workspace, as_of: dt.date, months: int = 12,
                      by: tuple[str, ...] = ("port_code", "mode")) -> pd.DataFrame:
    """:func:`exam_metrics.portfolio_exam_rates` of the workspace's shipments over the window
    of ``months`` before ``as_of``, counted from the files kept beside the shipments
    (:mod:`ctpat_audit.analysis.exam_counts`): neither time nor memory follows the length of
    the history."""
    from ctpat_audit.analysis.exam_counts import window_counts
    from ctpat_audit.analysis.exam_metrics import exam_window, with_rates

    start, end = exam_window(as_of, months)
    return with_rates(window_counts(ws, start.date(), end.date(), by))


# --------------------------------------------------------------------------- the portfolio
def portfolio(ws: Workspace | str | Path, as_of: dt.date, catalogue: Catalogue | None = None, *,
              due_within_days: int = DUE_WITHIN_DAYS,
              first_validation_years: int = FIRST_VALIDATION_YEARS,
              revalidation_years: int = REVALIDATION_YEARS, months: int = 12,
              baseline: pd.DataFrame | str | Path | None = None,
              no_site_visits: tuple[tuple[str, str], ...] = NO_SITE_VISITS,
              incomplete_blank_share: float = INCOMPLETE_BLANK_SHARE,
              timings: dict[str, float] | None = None) -> Portfolio:
    """Every supervisor table of the workspace on ``as_of`` (see the module docstring).

    ``catalogue`` defaults to the workspace's default catalogue; ``baseline`` to the shipped
    sample baseline (:func:`exam_metrics.load_baseline`). ``timings``, when given, receives the
    seconds each step took. On the team server only a supervisor opens it
    (:class:`~ctpat_audit.core.errors.AccessError` for anyone else).
    """
    from ctpat_audit.analysis.exam_metrics import load_baseline
    from ctpat_audit.analysis.review import review_portfolio
    from ctpat_audit.criteria.catalogue import load_catalogue
    from ctpat_audit.workspace.people import require

    ws = ws if isinstance(ws, Workspace) else open_workspace(ws)
    require(ws, "portfolio")  # on the team server: supervisors only
    as_of = pd.Timestamp(as_of).date()
    clock = time.perf_counter()
    times: dict[str, float] = timings if timings is not None else {}

    def lap(name: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        times[name] = round(now - clock, 4)
        clock = now

    cat = catalogue if catalogue is not None else load_catalogue(None, workspace=ws.path)
    base = baseline if isinstance(baseline, pd.DataFrame) else load_baseline(baseline)
    partners = ws.partners()
    facilities = ws.table("facilities")
    outreach = ws.table("outreach")
    lap("load_tables")
    vals = validations_due(partners, facilities, as_of, due_within_days=due_within_days,
                           first_validation_years=first_validation_years,
                           revalidation_years=revalidation_years, no_site_visits=no_site_visits)
    regions = backlog_by_region(vals, facilities, no_site_visits=no_site_visits)
    modes = validation_modes(partners)
    lap("validations")
    review = review_portfolio(ws, cat, as_of, partners=partners, outreach=outreach)
    lap("review_portfolio")
    cands = suspension_candidates(review, outreach, incomplete_blank_share)
    lap("suspension_candidates")
    rates = _against_baseline(window_exam_rates(ws, as_of, months), base)
    lap("exam_rates")
    summary = _summary(as_of, cat, partners, vals, modes, review, cands, rates,
                       due_within_days, months)
    return Portfolio(as_of=as_of, catalogue_version=cat.version, catalogue_label=cat.label,
                     demonstration=cat.is_demonstration, due_within_days=due_within_days,
                     validations=vals, backlog_by_region=regions, validation_modes=modes,
                     suspension_candidates=cands, exam_rates=rates, summary=summary,
                     review=review)


def _summary(as_of: dt.date, cat: Catalogue, partners: pd.DataFrame, vals: pd.DataFrame,
             modes: pd.DataFrame, review: pd.DataFrame, cands: pd.DataFrame,
             rates: pd.DataFrame, due_within_days: int, months: int) -> dict[str, Any]:
    from ctpat_audit.analysis.exam_metrics import wilson_interval

    status = partners["status"].astype("str").value_counts()
    all_row = modes[modes["year"] == "all"].iloc[0]
    n = int(rates["shipments"].sum())
    k = int(rates["examined"].sum())
    lo, hi = wilson_interval(k, n)
    risk = cands["risk"].value_counts() if len(cands) else pd.Series(dtype="int64")
    return {
        "as_of": as_of.isoformat(),
        "catalogue": f"{cat.version}: {cat.label}",
        "demonstration": cat.is_demonstration,
        "partners": len(partners),
        "partners_by_status": {s: int(status.get(s, 0)) for s in
                               ("applicant", "certified", "validated", "suspended", "removed")},
        "validations_scheduled": int(vals["due_date"].notna().sum()),
        "validations_overdue": int(vals["overdue"].sum()),
        "first_validations_overdue": int((vals["overdue"] & (vals["basis"] == "first_validation")).sum()),
        "revalidations_overdue": int((vals["overdue"] & (vals["basis"] == "revalidation")).sum()),
        "validations_due_soon": int(vals["due_soon"].sum()),
        "due_within_days": due_within_days,
        "backlog": int(vals["in_backlog"].sum()),
        "backlog_with_no_site_visit_sites": int((vals["in_backlog"]
                                                 & (vals["no_site_visit_sites"] != "")).sum()),
        "backlog_virtual_only": int((vals["in_backlog"] & vals["virtual_only"]).sum()),
        "reviews_overdue": int(((review["review_status"] == "overdue")
                                & review["status"].isin(SCHEDULED_STATUSES)).sum()) if len(review) else 0,
        "suspension_candidates": len(cands),
        "suspension_candidates_high": int(risk.get("high", 0)),
        "suspension_candidates_medium": int(risk.get("medium", 0)),
        "validations_with_type": int(all_row["total"]),
        "in_person_share": float(all_row["in_person_share"]),
        "virtual_share": float(all_row["virtual_share"]),
        "months": months,
        "shipments": n,
        "examined": k,
        "exam_rate": k / n if n else float("nan"),
        "exam_rate_ci": (float(lo), float(hi)),
        "ports": len(rates),
        "ports_above_baseline": int(rates["above_baseline"].sum()),
    }


# --------------------------------------------------------------------------- bench
