"""The supervisors' portfolio on a small hand-built source; every figure computed by hand here.

as_of is 2026-11-01. The partners sit on the edges of the rules:

=====  =========  ==========================  ==========  =====================================
id     status     certified / last validated  due         why
=====  =========  ==========================  ==========  =====================================
A001   certified  cert 2025-11-01             2026-11-01  1 year to the day: due today, not overdue
A002   certified  cert 2025-10-31             2026-10-31  one day past the 1-year edge: overdue 1
A003   validated  2022-11-01 in_person        2026-11-01  4 years to the day: due today
A004   validated  2022-10-31 virtual          2026-10-31  one day past the 4-year edge: overdue 1
A005   certified  cert 2024-02-29             2025-02-28  leap day + 1 year = 28 Feb: overdue 611
A006   validated  2023-01-30 in_person        2027-01-30  90 days ahead: due soon (edge included)
A007   validated  2023-01-31 in_person        2027-01-31  91 days ahead: not in the backlog
A008   suspended  2020-01-01 virtual          -           not scheduled while suspended
A009   applicant  -                           -           not certified yet
A010   validated  2021-06-15 virtual          2025-06-15  overdue 504; no facility on file
A011   validated  2024-05-05 in_person        2028-05-05  far ahead
=====  =========  ==========================  ==========  =====================================
"""
from __future__ import annotations

import datetime as dt
import math

import pandas as pd
import pytest
from click.testing import CliRunner

from benchmarks.operations import benchmark_portfolio
from ctpat_audit.analysis.exam_metrics import load_baseline
from ctpat_audit.analysis.portfolio import (
    Portfolio,
    portfolio,
    validation_modes,
    validations_due,
)
from ctpat_audit.criteria.catalogue import Catalogue, Criterion
from ctpat_audit.intake.importer import import_source
from ctpat_audit.workspace.reference import init_workspace

AS_OF = dt.date(2026, 11, 1)
D = dt.date

PARTNERS = """account_id,legal_name,status,certification_date,last_validation_date,\
last_validation_type,profile_anniversary,last_profile_review_date
A001,Uno Reynosa SA,certified,2025-11-01,,,2026-06-01,2025-05-01
A002,Dos Laredo Inc,certified,2025-10-31,,,2026-09-01,2026-08-01
A003,Tres Tijuana SA,validated,2020-05-01,2022-11-01,in_person,2026-10-01,2025-09-01
A004,Cuatro Monterrey SA,validated,2019-03-01,2022-10-31,virtual,2026-12-15,2025-12-01
A005,Cinco Mexico SA,certified,2024-02-29,,,2027-02-28,2026-02-01
A006,Seis Laredo Inc,validated,2018-01-01,2023-01-30,in_person,2027-01-01,2026-01-01
A007,Siete Reynosa SA,validated,2018-01-01,2023-01-31,in_person,2027-01-01,2026-01-01
A008,Ocho Matamoros SA,suspended,2015-01-01,2020-01-01,virtual,2026-03-01,2024-02-01
A009,Nueve Applicant Inc,applicant,,,,2027-06-01,
A010,Diez Nowhere Inc,validated,2017-01-01,2021-06-15,virtual,2027-01-01,2026-01-01
A011,Once Chicago Inc,validated,2019-01-01,2024-05-05,in_person,2027-01-01,2026-01-01
"""

FACILITIES = """account_id,facility_id,name,kind,country,state_province,city
A001,F1,Reynosa plant,plant,MX,Tamaulipas,Reynosa
A001,F2,Matamoros plant,plant,MX,Tamaulipas,Matamoros
A002,F1,Nuevo Laredo yard,yard,MX,Tamaulipas,Nuevo Laredo
A002,F2,Laredo office,office,US,TX,Laredo
A003,F1,Tijuana plant,plant,MX,Baja California,Tijuana
A003,F2,Mexicali plant,plant,MX,Baja California,Mexicali
A003,F3,Tijuana warehouse,warehouse,MX,Baja California,Tijuana
A004,F1,Monterrey plant,plant,MX,Nuevo León,Monterrey
A005,F1,Mexico City office,office,MX,Ciudad de México,Mexico City
A005,F2,Shenzhen supplier,plant,CN,Guangdong,Shenzhen
A006,F1,Laredo warehouse,warehouse,US,TX,Laredo
A007,F1,Reynosa plant,plant,MX,Tamaulipas,Reynosa
A008,F1,Matamoros plant,plant,MX,Tamaulipas,Matamoros
A009,F1,Chicago office,office,US,IL,Chicago
A011,F1,Chicago office,office,US,IL,Chicago
"""

OUTREACH = """account_id,contacted_on,channel,outcome,note
A001,2026-07-01,email,no_response,reminder
A001,2026-08-01,phone,no_response,reminder
A001,2026-09-01,letter,responded,reminder
A003,2026-10-15,email,responded,reminder
"""

BASELINE = """port_code,port_name,mode,baseline_rate,source
2304,Laredo,truck,0.28,test value
*,Any rail port,rail,0.03,test value
1001,New York,sea,0.03,test value
"""

ACCOUNTS = [f"A{i:03d}" for i in range(1, 12)]
CRITERIA = [("1.1", 1, "Should"), ("1.2", 1, "Should"), ("6.1", 6, "Must"), ("6.2", 6, "Must")]
ANSWER = "We follow a written procedure reviewed every year by the security team."


def demo_test_catalogue() -> Catalogue:
    crit = tuple(Criterion(id=i, category=c, requirement=f"requirement {i}", observe="o",
                           request="r", must_should={"importer": ms}, source="test",
                           provenance="demonstration") for i, c, ms in CRITERIA)
    return Catalogue(version="test-1", provenance="demonstration",
                     label="TEST catalogue - not CBP's official criteria", criteria=crit)


def _shipments() -> pd.DataFrame:
    rows = []

    def add(acc: str, day: str, port: str, mode: str, examined: bool) -> None:
        rows.append((acc, f"E{len(rows):05d}", day, port, mode, examined,
                     "nii" if examined else "", "cleared" if examined else ""))

    for i in range(10):  # Laredo truck: A002 3 of 10 examined, A006 1 of 10
        add("A002", f"2026-0{1 + i % 9}-10", "2304", "truck", i < 3)
        add("A006", f"2026-0{1 + i % 9}-11", "2304", "truck", i < 1)
    for _ in range(5):  # New York sea: A005 none of 5
        add("A005", "2026-03-03", "1001", "sea", False)
    for i in range(4):  # Buffalo rail (no port row: the any-rail baseline): A004 2 of 4
        add("A004", "2026-04-04", "0901", "rail", i < 2)
    add("A002", "2025-10-31", "2304", "truck", True)  # the day before the window
    add("A002", "2026-11-01", "2304", "truck", True)  # as_of itself: outside the window
    add("A002", "2025-11-01", "2304", "truck", False)  # first day of the window: inside
    return pd.DataFrame(rows, columns=["account_id", "entry_id", "entry_date", "port_code",
                                       "mode", "examined", "exam_type", "exam_result"])


def _responses() -> str:
    lines = ["account_id,profile_year,criterion_id,response_text,implemented"]
    for acc in ACCOUNTS:
        for cid, _, _ in CRITERIA:
            if acc == "A004" and cid.startswith("6."):
                continue  # A004: both Must criteria missing -> 2 of 4 blank (50%): incomplete
            lines.append(f"{acc},2026,{cid},{ANSWER},true")
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="module")
def hand_ws(tmp_path_factory):
    root = tmp_path_factory.mktemp("portfolio")
    src = root / "source"
    src.mkdir()
    (src / "partners.csv").write_text(PARTNERS, encoding="utf-8")
    (src / "facilities.csv").write_text(FACILITIES, encoding="utf-8")
    (src / "outreach.csv").write_text(OUTREACH, encoding="utf-8")
    (src / "entities.csv").write_text(
        "account_id,entity_type\n" + "".join(f"{a},importer\n" for a in ACCOUNTS), encoding="utf-8")
    (src / "contacts.csv").write_text(
        "account_id,name,email,role,is_primary\n"
        + "".join(f"{a},Officer {a},officer.{a.lower()}@example.com,Company Officer,true\n"
                  for a in ACCOUNTS), encoding="utf-8")
    (src / "profile_responses.csv").write_text(_responses(), encoding="utf-8")
    _shipments().to_csv(src / "shipments.csv", index=False)
    (root / "baseline.csv").write_text(BASELINE, encoding="utf-8")
    ws = init_workspace(root / "ws")
    import_source(ws, src, progress=False)
    return ws, root / "baseline.csv"


@pytest.fixture(scope="module")
def port(hand_ws) -> Portfolio:
    ws, baseline = hand_ws
    return portfolio(ws, AS_OF, demo_test_catalogue(), baseline=load_baseline(baseline))


# ------------------------------------------------------------------ validations due
def test_due_dates_at_the_one_and_four_year_edges(port):
    v = port.validations.set_index("account_id")
    expected = {  # account: (basis, due date)
        "A001": ("first_validation", D(2026, 11, 1)), "A002": ("first_validation", D(2026, 10, 31)),
        "A003": ("revalidation", D(2026, 11, 1)), "A004": ("revalidation", D(2026, 10, 31)),
        "A005": ("first_validation", D(2025, 2, 28)), "A006": ("revalidation", D(2027, 1, 30)),
        "A007": ("revalidation", D(2027, 1, 31)), "A010": ("revalidation", D(2025, 6, 15)),
        "A011": ("revalidation", D(2028, 5, 5)),
    }
    for acc, (basis, due) in expected.items():
        assert v.loc[acc, "basis"] == basis, acc
        assert v.loc[acc, "due_date"].date() == due, acc
        assert v.loc[acc, "days_until_due"] == (due - AS_OF).days, acc
    assert v.loc["A005", "days_until_due"] == -611  # 2025-02-28 -> 2026-11-01
    assert v.loc["A010", "days_overdue"] == 504
    assert v.loc["A006", "days_until_due"] == 90 and v.loc["A007", "days_until_due"] == 91
    assert not v.loc["A001", "overdue"] and v.loc["A001", "due_soon"]
    assert v.loc["A002", "overdue"] and v.loc["A002", "days_overdue"] == 1
    assert not v.loc["A003", "overdue"] and v.loc["A004", "overdue"]
    assert v.loc["A006", "in_backlog"] and not v.loc["A007", "in_backlog"]
    for acc in ("A008", "A009"):
        assert v.loc[acc, "basis"] == "not_scheduled" and pd.isna(v.loc[acc, "due_date"])
        assert not v.loc[acc, "in_backlog"]
    # backlog first, most overdue first; then by due date; unscheduled last
    assert port.validations["account_id"].tolist() == [
        "A005", "A010", "A002", "A004", "A001", "A003", "A006", "A007", "A011", "A008", "A009"]


def test_cycle_lengths_are_arguments(hand_ws):
    ws, _ = hand_ws
    v = validations_due(ws.partners(), ws.table("facilities"), AS_OF, revalidation_years=3,
                        first_validation_years=2, due_within_days=30).set_index("account_id")
    assert v.loc["A003", "due_date"].date() == D(2025, 11, 1)
    assert v.loc["A001", "due_date"].date() == D(2027, 11, 1)
    assert v.loc["A006", "overdue"]  # 2023-01-30 + 3 years
    w = validations_due(ws.partners(), ws.table("facilities"), AS_OF,
                        due_within_days=89).set_index("account_id")
    assert not w.loc["A006", "in_backlog"] and w.loc["A001", "in_backlog"]  # 90 days ahead


def test_sites_that_cbp_cannot_visit(port):
    v = port.validations.set_index("account_id")
    assert v.loc["A001", "no_site_visit_sites"] == \
        "MX / Tamaulipas / Reynosa; MX / Tamaulipas / Matamoros"
    assert v.loc["A001", "virtual_only"]
    assert v.loc["A002", "no_site_visit_sites"] == "" and not v.loc["A002", "virtual_only"]
    assert v.loc["A010", "sites"] == "(no facility on file)"


# ------------------------------------------------------------------ backlog by region
def test_backlog_by_region_counts_each_partner_once_per_region(port):
    r = port.backlog_by_region
    got = {(lv, reg): (b, o, s, n) for lv, reg, b, o, s, n in
           r[["level", "region", "backlog", "overdue", "due_soon", "scheduled"]].itertuples(index=False)}
    # backlog: A001 A003 A006 due soon; A002 A004 A005 A010 overdue
    expected = {
        ("country", "MX"): (5, 3, 2, 6),  # A001-A005 (+A007 scheduled, not in backlog)
        ("country", "US"): (2, 1, 1, 3),  # A002, A006 (+A011)
        ("country", "CN"): (1, 1, 0, 1),
        ("country", "(no facility on file)"): (1, 1, 0, 1),
        ("state", "MX / Tamaulipas"): (2, 1, 1, 3),  # A001, A002 (+A007)
        ("state", "MX / Baja California"): (1, 0, 1, 1),
        ("state", "MX / Nuevo León"): (1, 1, 0, 1),
        ("state", "MX / Ciudad de México"): (1, 1, 0, 1),
        ("state", "US / TX"): (2, 1, 1, 2),
        ("state", "CN / Guangdong"): (1, 1, 0, 1),
        ("state", "(no facility on file)"): (1, 1, 0, 1),
        ("city", "MX / Tamaulipas / Reynosa"): (1, 0, 1, 2),
        ("city", "MX / Tamaulipas / Matamoros"): (1, 0, 1, 1),  # A008 is suspended
        ("city", "MX / Tamaulipas / Nuevo Laredo"): (1, 1, 0, 1),
        ("city", "US / TX / Laredo"): (2, 1, 1, 2),
        ("city", "MX / Baja California / Tijuana"): (1, 0, 1, 1),  # two facilities, once
        ("city", "MX / Baja California / Mexicali"): (1, 0, 1, 1),
        ("city", "MX / Nuevo León / Monterrey"): (1, 1, 0, 1),
        ("city", "MX / Ciudad de México / Mexico City"): (1, 1, 0, 1),
        ("city", "CN / Guangdong / Shenzhen"): (1, 1, 0, 1),
        ("city", "(no facility on file)"): (1, 1, 0, 1),
    }
    assert got == expected
    flagged = set(r.loc[r["no_site_visits"], "region"])
    assert flagged == {"MX", "MX / Tamaulipas", "MX / Tamaulipas / Reynosa",
                       "MX / Tamaulipas / Matamoros"}
    city = r[r["level"] == "city"].set_index("region")
    assert "virtual" in city.loc["MX / Tamaulipas / Reynosa", "plan"]
    assert city.loc["MX / Tamaulipas / Nuevo Laredo", "plan"] == ""
    assert city.loc["MX / Tamaulipas / Reynosa", "label"].endswith("[no site visits]")
    # largest backlog first within a level
    assert r[r["level"] == "country"]["region"].tolist()[:2] == ["MX", "US"]


# ------------------------------------------------------------------ in person vs virtual
def test_in_person_share_by_year_of_last_validation(port):
    m = port.validation_modes.set_index("year")
    # 2020 A008 virtual; 2021 A010 virtual; 2022 A003 in person, A004 virtual;
    # 2023 A006, A007 in person; 2024 A011 in person
    assert m[["in_person", "virtual", "total"]].to_dict("index") == {
        "2020": {"in_person": 0, "virtual": 1, "total": 1},
        "2021": {"in_person": 0, "virtual": 1, "total": 1},
        "2022": {"in_person": 1, "virtual": 1, "total": 2},
        "2023": {"in_person": 2, "virtual": 0, "total": 2},
        "2024": {"in_person": 1, "virtual": 0, "total": 1},
        "all": {"in_person": 4, "virtual": 3, "total": 7}}
    assert m.loc["all", "in_person_share"] == pytest.approx(4 / 7)
    assert m.loc["2022", "virtual_share"] == pytest.approx(0.5)
    assert port.summary["in_person_share"] == pytest.approx(4 / 7)


def test_validation_modes_with_none_on_file():
    empty = pd.DataFrame({"last_validation_date": pd.Series([], dtype="datetime64[s]"),
                          "last_validation_type": pd.Series([], dtype="str")})
    m = validation_modes(empty)
    assert m["year"].tolist() == ["all"] and m["total"].tolist() == [0]
    assert math.isnan(m["in_person_share"].iloc[0])


# ------------------------------------------------------------------ suspension candidates
def test_suspension_candidates_overdue_first_with_outreach(port):
    c = port.suspension_candidates
    # A001: anniversary 2026-06-01, last submitted 2025-05-01 -> overdue 153 days
    # A003: anniversary 2026-10-01, last submitted 2025-09-01 -> overdue 31 days
    # A004: window open (anniversary 2026-12-15), 6.1 and 6.2 blank: 2 of 4 -> incomplete
    # A008 is overdue too, but already suspended: not a candidate.
    assert c["account_id"].tolist() == ["A001", "A003", "A004"]
    assert c["days_overdue"].tolist()[:2] == [153, 31] and pd.isna(c["days_overdue"].iloc[2])
    assert c["why"].tolist() == ["review overdue", "review overdue", "profile incomplete"]
    assert c["outreach_attempts"].tolist() == [3, 1, 0]
    assert c["outreach_unanswered"].tolist() == [2, 0, 0]
    assert c["last_outreach"].iloc[0].date() == D(2026, 9, 1)
    assert c["must_not_addressed"].tolist() == [0, 0, 2]
    # triage: overdue with 2 unanswered attempts is high; overdue alone and Must gaps medium
    assert c["risk"].tolist() == ["high", "medium", "medium"]
    assert "overdue by 153 days" in c["reasons"].iloc[0]
    s = port.summary
    assert (s["suspension_candidates"], s["suspension_candidates_high"],
            s["suspension_candidates_medium"], s["reviews_overdue"]) == (3, 1, 2, 2)


# ------------------------------------------------------------------ exam rates by port
def _wilson(k: int, n: int, z: float = 1.959963984540054) -> tuple[float, float]:
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return max(0.0, centre - half), min(1.0, centre + half)


def test_exam_rates_by_port_with_baseline(port):
    r = port.exam_rates.set_index(["port_code", "mode"])
    # window 2025-11-01 .. 2026-10-31: Laredo 20 + the first-day row = 21 shipments, 4 examined
    assert r.index.tolist() == [("2304", "truck"), ("1001", "sea"), ("0901", "rail")]
    expected = {("2304", "truck"): (2, 21, 4, 0.28, "port"), ("1001", "sea"): (1, 5, 0, 0.03, "port"),
                ("0901", "rail"): (1, 4, 2, 0.03, "mode (any port)")}
    for key, (partners, n, k, base, scope) in expected.items():
        row = r.loc[key]
        assert (row["partners"], row["shipments"], row["examined"]) == (partners, n, k)
        assert row["exam_rate"] == pytest.approx(k / n)
        lo, hi = _wilson(k, n)
        assert row["ci_low"] == pytest.approx(lo) and row["ci_high"] == pytest.approx(hi)
        assert row["baseline_rate"] == pytest.approx(base) and row["baseline_scope"] == scope
        assert row["exams_avoided"] == pytest.approx(n * (base - k / n))
    # Buffalo rail: P(X >= 2 | n=4, p=0.03) = 1 - 0.97^4 - 4*0.03*0.97^3; Holm x3 rows
    p_rail = 1 - 0.97 ** 4 - 4 * 0.03 * 0.97 ** 3
    assert r.loc[("0901", "rail"), "p_value"] == pytest.approx(p_rail)
    assert r.loc[("0901", "rail"), "p_holm"] == pytest.approx(3 * p_rail)
    assert r["above_baseline"].tolist() == [False, False, True]
    assert "Holm" in port.exam_rates.attrs["test"]
    s = port.summary
    assert (s["shipments"], s["examined"]) == (30, 6)
    assert s["exam_rate"] == pytest.approx(6 / 30)
    assert s["ports_above_baseline"] == 1


# ------------------------------------------------------------------ summary
def test_summary_headline_counts(port):
    s = port.summary
    assert s["partners"] == 11
    assert s["partners_by_status"] == {"applicant": 1, "certified": 3, "validated": 6,
                                       "suspended": 1, "removed": 0}
    assert (s["validations_scheduled"], s["validations_overdue"], s["validations_due_soon"],
            s["backlog"]) == (9, 4, 3, 7)
    assert (s["first_validations_overdue"], s["revalidations_overdue"]) == (2, 2)
    assert s["backlog_with_no_site_visit_sites"] == 1 and s["backlog_virtual_only"] == 1
    assert s["demonstration"] is True and "TEST catalogue" in s["catalogue"]
    assert port.backlog["account_id"].tolist() == ["A005", "A010", "A002", "A004", "A001",
                                                   "A003", "A006"]


# ------------------------------------------------------------------ CLI and workbook
def test_cli_prints_summary_and_writes_workbook(hand_ws, tmp_path, monkeypatch):
    from openpyxl import load_workbook

    import ctpat_audit.analysis.portfolio as mod
    from ctpat_audit.cli import main

    ws, baseline = hand_ws
    monkeypatch.setattr("ctpat_audit.criteria.catalogue.load_catalogue",
                        lambda version=None, workspace=None: demo_test_catalogue())
    out = tmp_path / "p.xlsx"
    res = CliRunner().invoke(main, ["portfolio", "-w", str(ws.path), "--as-of", "2026-11-01",
                                    "--baseline", str(baseline), "--xlsx", str(out)])
    assert res.exit_code == 0, res.output
    text = res.output
    assert "CTPAT portfolio as of 2026-11-01" in text
    assert "DEMONSTRATION" in text
    assert "overdue                                    4" in text
    assert "MX / Tamaulipas / Reynosa" in text and "plan virtual" in text
    assert "A001" in text and "Suspension candidates" in text
    assert "20.0% (" in text  # 6 of 30 examined
    wb = load_workbook(out)
    assert wb.sheetnames == ["Summary", "Validations due", "Backlog by region", "Validation modes",
                             "Suspension candidates", "Exam rates by port"]
    sheet = wb["Validations due"]
    assert "TEST catalogue" in sheet["A1"].value
    assert sheet.freeze_panes == "A3" and sheet.auto_filter.ref.startswith("A2:")
    header = [c.value for c in sheet[2]]
    assert sheet.cell(row=3, column=1).value == "A005"
    assert sheet.cell(row=3, column=header.index("due_date") + 1).value.date() == D(2025, 2, 28)
    rules = [r for rng in sheet.conditional_formatting for r in rng.rules]
    assert any("=TRUE" in r.formula[0] for r in rules)
    rates = wb["Exam rates by port"]
    rh = [c.value for c in rates[2]]
    assert rates.cell(row=3, column=rh.index("exam_rate") + 1).number_format == "0.0%"
    assert mod.DUE_WITHIN_DAYS == 90


def test_benchmark_reports_seconds_and_memory(hand_ws, monkeypatch):
    ws, _ = hand_ws
    monkeypatch.setattr("ctpat_audit.criteria.catalogue.load_catalogue",
                        lambda version=None, workspace=None: demo_test_catalogue())
    b = benchmark_portfolio(ws.path, AS_OF)
    assert b["partners"] == 11 and b["seconds"] > 0 and b["peak_rss_mib"] > 0
    assert {"review_portfolio", "exam_rates"} <= set(b["steps"])


def test_empty_workspace_gives_zeros_not_errors(tmp_path):
    ws = init_workspace(tmp_path / "empty")
    p = portfolio(ws, AS_OF, demo_test_catalogue())
    s = p.summary
    assert (s["partners"], s["backlog"], s["suspension_candidates"], s["shipments"]) == (0, 0, 0, 0)
    assert p.backlog_by_region.empty and p.exam_rates.empty
    assert math.isnan(s["in_person_share"]) and math.isnan(s["exam_rate"])
