"""Validations due and the validation backlog by region, and how validations were done.

Rules (sources in brackets; everything that is ours is marked as ours):

* **Validations due** [6 U.S.C. 965(a): the validation of a Tier 1 (certified) participant
  "shall, to the extent practicable, be completed not later than 1 year after certification";
  6 U.S.C. 969(2): revalidation "not less frequently
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
"""
from __future__ import annotations

import datetime as dt
import unicodedata

import numpy as np
import pandas as pd

#: 6 U.S.C. 965(a): first validation within 1 year of certification, to the extent practicable.
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
LEVELS = ("country", "state", "city")


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
