"""The supervisors' portfolio: validations due, backlog by region, validation modes,
suspension candidates and exam rates by port, across every partner of a workspace.

Rules (sources in brackets; everything that is ours is marked as ours):

* **Validations due** [6 U.S.C. 964-965 as summarised in shared/domain/README.md: a first
  validation within 1 year of certification; 6 U.S.C. 969(2): revalidation "not less frequently
  than once during each 4-year period following the initial validation"]. A partner certified
  but never validated is due ``certification_date + FIRST_VALIDATION_YEARS``; a validated one
  ``last_validation_date + REVALIDATION_YEARS``. Years are calendar years (29 February + 1 year
  is 28 February). The due date itself is not overdue; the day after is. Only partners whose
  status is ``certified`` or ``validated`` are scheduled (ours: an applicant is not yet
  certified; a suspended or removed partner is not validated until reinstated).
* **Backlog** (ours): a scheduled partner whose validation is overdue or due within
  ``due_within_days`` (default 90) days of ``as_of``.
* **Backlog by region** (ours): a partner counts once per region at each level (country,
  state/province, city) in which it has at least one facility; a partner with sites in
  Tijuana and Mexicali counts once for MX, once for MX / Baja California, and once in each
  city. The levels therefore do not add up to the number of partners. A partner without
  facilities on file is counted under "(no facility on file)".
* **Regions not reachable for site visits** [domain notes: CBP named Matamoros and Reynosa in
  Mexico]: flagged so the supervisor plans virtual validations there. Configurable
  (:data:`NO_SITE_VISITS`).
* **In-person vs virtual** share of validations: the last validation's type of every partner
  with one on file, by the year of that validation.
* **Suspension candidates** (ours, from :func:`review.review_portfolio`): certified or
  validated partners whose annual security-profile review is overdue, or whose current profile
  is incomplete (at least ``INCOMPLETE_BLANK_SHARE`` of the applicable criteria blank, the
  threshold the review's triage uses), overdue first, most days overdue first, then by
  suspension risk. Must criteria answered too briefly are shown (``must_not_addressed``) but do
  not by themselves make a candidate: nearly every profile has some.
* **Exam rates by port** across partners (:func:`metrics.portfolio_exam_rates`, Wilson 95%
  intervals) per port and mode over the 12 months before ``as_of``, with the non-CTPAT
  baseline beside each row and the same one-sided exact binomial test (Holm-corrected) as the
  partner dashboard.
"""
from __future__ import annotations

import datetime as dt
import time
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .catalogue import Catalogue
from .workspace import Workspace, open_workspace

#: 6 U.S.C. 964-965: first validation within 1 year of certification (domain notes).
FIRST_VALIDATION_YEARS = 1
#: 6 U.S.C. 969(2): revalidation at least once in each 4-year period after the initial one.
REVALIDATION_YEARS = 4
#: Our planning horizon: a validation due within this many days is in the backlog.
DUE_WITHIN_DAYS = 90
#: Partner statuses whose validations are scheduled (ours; see the module docstring).
SCHEDULED_STATUSES = ("certified", "validated")
#: Cities CBP named as not reachable for site visits (domain notes), as (country, city);
#: matched without regard to case or accents. Replace when CBP's guidance changes.
NO_SITE_VISITS: tuple[tuple[str, str], ...] = (("MX", "Matamoros"), ("MX", "Reynosa"))
NO_FACILITY = "(no facility on file)"
NO_STATE = "(no state)"
#: Ours, as in review.triage: a profile with this share of its criteria blank is incomplete.
INCOMPLETE_BLANK_SHARE = 0.2
RISK_ORDER = {"high": 0, "medium": 1, "low": 2}
LEVELS = ("country", "state", "city")


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


# --------------------------------------------------------------------------- helpers
def _fold(text: object) -> str:
    """Case- and accent-insensitive form of a place name (``Ciudad Juárez`` == ``ciudad juarez``)."""
    s = unicodedata.normalize("NFKD", str(text or ""))
    return "".join(ch for ch in s if not unicodedata.combining(ch)).casefold().strip()


def _no_visit_keys(no_site_visits: tuple[tuple[str, str], ...]) -> set[tuple[str, str]]:
    return {(_fold(c), _fold(city)) for c, city in no_site_visits}


def _add_years(dates: pd.Series, years: int) -> pd.Series:
    """Calendar years later; 29 February lands on 28 February in a common year."""
    return dates + pd.DateOffset(years=years)


# --------------------------------------------------------------------------- validations
def validations_due(partners: pd.DataFrame, facilities: pd.DataFrame, as_of: dt.date, *,
                    due_within_days: int = DUE_WITHIN_DAYS,
                    first_validation_years: int = FIRST_VALIDATION_YEARS,
                    revalidation_years: int = REVALIDATION_YEARS,
                    no_site_visits: tuple[tuple[str, str], ...] = NO_SITE_VISITS) -> pd.DataFrame:
    """One row per partner: which validation is due, when, and whether it is in the backlog.

    Columns: account_id, legal_name, status, certification_date, last_validation_date,
    last_validation_type, basis (first_validation | revalidation | not_scheduled |
    no_certification_date), due_date, days_until_due (negative when overdue), days_overdue,
    overdue, due_soon (due within ``due_within_days``, not overdue), in_backlog, countries,
    sites ("MX / Tamaulipas / Reynosa; ..."), no_site_visit_sites (the partner's sites CBP
    cannot visit), virtual_only (every site on file is such a site). Backlog first (most
    overdue first), then by due date; unscheduled partners last.
    """
    day = pd.Timestamp(as_of).normalize()
    p = partners[["account_id", "legal_name", "status", "certification_date",
                  "last_validation_date", "last_validation_type"]].copy()
    cert = pd.to_datetime(p["certification_date"])
    last = pd.to_datetime(p["last_validation_date"])
    scheduled = p["status"].isin(SCHEDULED_STATUSES).to_numpy(dtype=bool)
    has_last = last.notna().to_numpy()
    has_cert = cert.notna().to_numpy()
    due = pd.Series(pd.NaT, index=p.index, dtype="datetime64[s]")
    due[has_last] = _add_years(last[has_last], revalidation_years)
    first = ~has_last & has_cert
    due[first] = _add_years(cert[first], first_validation_years)
    due[~scheduled] = pd.NaT
    p["basis"] = np.select(
        [~scheduled, has_last, has_cert],
        ["not_scheduled", "revalidation", "first_validation"], "no_certification_date")
    p["due_date"] = due
    days = (due - day).dt.days
    p["days_until_due"] = days.astype("Int64")
    p["days_overdue"] = (-days).where(days < 0).astype("Int64")
    p["overdue"] = (days < 0).fillna(False).astype(bool)
    p["due_soon"] = ((days >= 0) & (days <= due_within_days)).fillna(False).astype(bool)
    p["in_backlog"] = p["overdue"] | p["due_soon"]

    f = _facility_regions(facilities, no_site_visits)
    # one pass in plain Python over the facilities (tens of thousands of rows): ordered,
    # de-duplicated lists per partner, far cheaper than a Python aggregate per group
    sites: dict[str, dict[str, None]] = {}
    countries: dict[str, dict[str, None]] = {}
    blocked: dict[str, dict[str, None]] = {}
    for acc, country, label, nv in zip(f["account_id"].tolist(), f["country"].tolist(),
                                       f["city_label"].tolist(), f["no_visit"].tolist()):
        sites.setdefault(acc, {})[label] = None
        countries.setdefault(acc, {})[country] = None
        if nv:
            blocked.setdefault(acc, {})[label] = None
    accounts = p["account_id"].tolist()
    p["countries"] = pd.array([", ".join(countries.get(a, ())) for a in accounts], dtype="str")
    p["sites"] = pd.array(["; ".join(sites[a]) if a in sites else NO_FACILITY for a in accounts],
                          dtype="str")
    p["no_site_visit_sites"] = pd.array(["; ".join(blocked.get(a, ())) for a in accounts], dtype="str")
    p["virtual_only"] = [a in sites and len(blocked.get(a, ())) == len(sites[a]) for a in accounts]

    p["_b"] = np.where(p["in_backlog"], 0, np.where(p["due_date"].notna(), 1, 2))
    p = p.sort_values(["_b", "due_date", "account_id"], kind="stable", na_position="last")
    return p.drop(columns="_b").reset_index(drop=True)


def _facility_regions(facilities: pd.DataFrame,
                      no_site_visits: tuple[tuple[str, str], ...] = NO_SITE_VISITS) -> pd.DataFrame:
    """Facilities with country / state / city labels at each region level and ``no_visit``
    (the city is one CBP cannot visit)."""
    f = facilities[["account_id", "country", "state_province", "city"]].copy()
    f["country"] = f["country"].fillna("").astype("str").str.strip().str.upper()
    f["state_province"] = f["state_province"].fillna("").astype("str").str.strip()
    f["city"] = f["city"].fillna("").astype("str").str.strip()
    state = f["state_province"].where(f["state_province"] != "", NO_STATE)
    f["country_label"] = f["country"]
    f["state_label"] = f["country"] + " / " + state
    f["city_label"] = f["state_label"] + " / " + f["city"]
    keys = _no_visit_keys(no_site_visits)
    pair = f["country"] + "\x1f" + f["city"]
    folded = {u: tuple(_fold(x) for x in u.split("\x1f")) in keys for u in pair.unique()}
    f["no_visit"] = pair.map(folded).astype(bool)
    return f


def backlog_by_region(validations: pd.DataFrame, facilities: pd.DataFrame, *,
                      no_site_visits: tuple[tuple[str, str], ...] = NO_SITE_VISITS) -> pd.DataFrame:
    """Backlog partners per region at each level; a partner counts once per region and level.

    Columns: level (country | state | city), region (label "MX / Tamaulipas / Reynosa"),
    country, state_province, city, backlog (partners), overdue, due_soon, scheduled (all
    scheduled partners with a site there, for scale), no_site_visits (city CBP named as not
    reachable; for a country or state: it contains such a city with backlog), plan (what to
    do), label (region plus a "no site visits" marker, for charts). Sorted by level, then
    backlog (largest first).
    """
    v = validations.loc[validations["due_date"].notna(),
                        ["account_id", "overdue", "due_soon", "in_backlog"]]
    f = _facility_regions(facilities, no_site_visits)
    missing = v.loc[~v["account_id"].isin(set(f["account_id"])), "account_id"]
    if len(missing):
        f = pd.concat([f, pd.DataFrame({
            "account_id": missing.to_numpy(), "country": NO_FACILITY, "state_province": "",
            "city": "", "country_label": NO_FACILITY, "state_label": NO_FACILITY,
            "city_label": NO_FACILITY, "no_visit": False})], ignore_index=True)
    m = f.merge(v, on="account_id", how="inner")
    out = []
    for level in LEVELS:
        key = f"{level}_label"
        one = m.drop_duplicates(["account_id", key])
        grp = one.groupby(key, sort=False)
        t = pd.DataFrame({
            "backlog": grp["in_backlog"].sum(), "overdue": grp["overdue"].sum(),
            "due_soon": grp["due_soon"].sum(), "scheduled": grp.size()})
        first = one.drop_duplicates(key).set_index(key)
        t["country"] = first["country"]
        t["state_province"] = first["state_province"] if level != "country" else ""
        t["city"] = first["city"] if level == "city" else ""
        if level == "city":
            t["no_site_visits"] = first["no_visit"]
        else:
            nv = m[m["no_visit"] & m["in_backlog"]].drop_duplicates(["account_id", key])
            t["no_site_visits"] = t.index.isin(set(nv[key]))
        t["level"] = level
        out.append(t.rename_axis("region").reset_index())
    r = pd.concat(out, ignore_index=True)
    r = r[r["backlog"] > 0].copy()
    for c in ("backlog", "overdue", "due_soon", "scheduled"):
        r[c] = r[c].astype("int64")
    r["no_site_visits"] = r["no_site_visits"].astype(bool)
    r["plan"] = np.where(
        r["no_site_visits"] & (r["level"] == "city"),
        "CBP: no site visits here; plan virtual validations",
        np.where(r["no_site_visits"], "has cities with no site visits (see city rows)", ""))
    r["label"] = r["region"] + np.where(r["no_site_visits"] & (r["level"] == "city"),
                                        "  [no site visits]", "")
    r["_l"] = r["level"].map({lv: i for i, lv in enumerate(LEVELS)})
    r = r.sort_values(["_l", "backlog", "region"], ascending=[True, False, True], kind="stable")
    cols = ["level", "region", "country", "state_province", "city", "backlog", "overdue",
            "due_soon", "scheduled", "no_site_visits", "plan", "label"]
    return r[cols].reset_index(drop=True)


def validation_modes(partners: pd.DataFrame) -> pd.DataFrame:
    """In-person and virtual share of the last validation of each partner, by year, plus "all".

    Columns: year (text; "all" last), in_person, virtual, total, in_person_share, virtual_share.
    """
    p = partners[partners["last_validation_date"].notna()
                 & partners["last_validation_type"].notna()]
    years = pd.to_datetime(p["last_validation_date"]).dt.year.astype("int64").astype("str")
    t = pd.crosstab(years, p["last_validation_type"].astype("str")) if len(p) else pd.DataFrame()
    t = t.reindex(columns=["in_person", "virtual"], fill_value=0)
    t.loc["all"] = t.sum()
    t = t.rename_axis("year").rename_axis(None, axis=1).reset_index()
    t["year"] = t["year"].astype("str")
    t["in_person"] = t["in_person"].astype("int64")
    t["virtual"] = t["virtual"].astype("int64")
    t["total"] = t["in_person"] + t["virtual"]
    with np.errstate(divide="ignore", invalid="ignore"):
        t["in_person_share"] = np.where(t["total"] > 0, t["in_person"] / t["total"], np.nan)
        t["virtual_share"] = np.where(t["total"] > 0, t["virtual"] / t["total"], np.nan)
    return t


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
    one-sided exact binomial p <= metrics.ALPHA); the test in words in ``.attrs["test"]``.
    Sorted by shipments, largest first.
    """
    from scipy.stats import binomtest

    from .metrics import (
        ALPHA,
        _match_baseline,
        describe_test,
        holm_adjust,
        portfolio_exam_rates,
    )

    t = portfolio_exam_rates(shipments, as_of=as_of, months=months, by=("port_code", "mode"))
    t = _match_baseline(t, baseline)
    n = t["shipments"].to_numpy(dtype=float)
    b = t["baseline_rate"].to_numpy(dtype=float)
    t["exams_avoided"] = n * (b - t["exam_rate"].to_numpy(dtype=float))
    p = np.full(len(t), np.nan)
    for i, (k, nn, bb) in enumerate(zip(t["examined"], t["shipments"], b)):
        if nn > 0 and not np.isnan(bb):
            p[i] = binomtest(int(k), int(nn), float(bb), alternative="greater").pvalue
    t["p_value"] = p
    t["p_holm"] = holm_adjust(p)
    t["above_baseline"] = (t["p_holm"] <= ALPHA).to_numpy() & ~np.isnan(p)
    cols = ["port_code", "port_name", "mode", "partners", "shipments", "examined", "exam_rate",
            "ci_low", "ci_high", "small_sample", "baseline_rate", "baseline_source",
            "baseline_scope", "exams_avoided", "p_value", "p_holm", "above_baseline"]
    out = t[cols].sort_values(["shipments", "port_code", "mode"], ascending=[False, True, True],
                              kind="stable").reset_index(drop=True)
    out.attrs["test"] = describe_test(ALPHA, int((~np.isnan(p)).sum()))
    return out


def window_shipments(ws: Workspace, as_of: dt.date, months: int = 12) -> pd.DataFrame:
    """Only the columns and rows (the window) the portfolio needs, read straight from Parquet.

    Text columns come back as categoricals (Arrow dictionaries), which keeps 5 million rows to
    a few hundred MB and lets :func:`metrics.portfolio_exam_rates` skip factorising.
    """
    import pyarrow.parquet as pq

    from .metrics import exam_window

    cols = ["account_id", "entry_date", "port_code", "mode", "examined"]
    path = ws.shipments_path()
    if path is None:
        return pd.DataFrame({c: pd.Series(dtype="bool" if c == "examined" else
                                          "datetime64[ms]" if c == "entry_date" else "str")
                             for c in cols})
    start, end = exam_window(as_of, months)
    table = pq.read_table(path, columns=cols, read_dictionary=["account_id", "port_code", "mode"],
                          filters=[("entry_date", ">=", start.to_pydatetime()),
                                   ("entry_date", "<", end.to_pydatetime())])
    return table.to_pandas()


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
    sample baseline (:func:`metrics.load_baseline`). ``timings``, when given, receives the
    seconds each step took.
    """
    from .catalogue import load_catalogue
    from .metrics import load_baseline
    from .review import review_portfolio

    ws = ws if isinstance(ws, Workspace) else open_workspace(ws)
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
    review = review_portfolio(ws, cat, as_of)
    lap("review_portfolio")
    cands = suspension_candidates(review, outreach, incomplete_blank_share)
    lap("suspension_candidates")
    ships = window_shipments(ws, as_of, months)
    lap("read_shipments")
    rates = port_exam_rates(ships, as_of, base, months)
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
    from .metrics import wilson_interval

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
def benchmark_portfolio(ws_path: str | Path, as_of: dt.date) -> dict[str, Any]:
    """Seconds for one whole :func:`portfolio` call (and per step) and its peak memory.

    ``seconds_without_review`` leaves out :func:`review.review_portfolio`, which dominates at
    10,000 partners. Peak memory: the process's peak resident set size (``resource.getrusage``, which includes
    the interpreter and libraries) and the Python-allocated peak during the call
    (``tracemalloc``; covers pandas/numpy buffers allocated through Python's allocator, not
    Arrow's own pool).
    """
    import resource
    import tracemalloc

    from .catalogue import load_catalogue

    ws = open_workspace(ws_path)
    cat = load_catalogue(None, workspace=ws.path)
    steps: dict[str, float] = {}
    t0 = time.perf_counter()
    result = portfolio(ws, as_of, cat, timings=steps)
    seconds = time.perf_counter() - t0
    tracemalloc.start()
    portfolio(ws, as_of, cat)
    _, traced_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return {"seconds": round(seconds, 3), "steps": steps,
            "seconds_without_review": round(seconds - steps.get("review_portfolio", 0.0), 3),
            "partners": result.summary["partners"], "shipments_in_window": result.summary["shipments"],
            "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
            "tracemalloc_peak_mib": round(traced_peak / 2**20, 1)}
