"""Exam metrics, Wilson intervals, baseline comparison, portfolio rates.

Every expected figure is worked out by hand below from the fixture's counts; nothing is copied
from the code's output.
"""
from __future__ import annotations

import datetime as dt
import math
from math import comb
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.stats import binomtest

from ctpat_audit.analysis.exam_metrics import (
    ANY_PORT,
    compare_to_baseline,
    exam_metrics,
    exam_window,
    holm_adjust,
    load_baseline,
    portfolio_exam_rates,
    wilson_interval,
)
from ctpat_audit.core.errors import InputError, IntakeError

AS_OF = dt.date(2025, 3, 1)  # window: 2024-03-01 (included) .. 2025-03-01 (excluded)
Z = 1.959963984540054


def rows(first_id: int, n: int, date: str, port: str, mode: str,
         exams: list[tuple[str, str]], account: str = "A1") -> list[dict]:
    """n shipments on one date at one port; the first len(exams) are examined."""
    out = []
    for i in range(n):
        ex = i < len(exams)
        out.append({"account_id": account, "entry_id": f"{account}-E{first_id + i:03d}",
                    "entry_date": date, "port_code": port, "mode": mode, "examined": ex,
                    "exam_type": exams[i][0] if ex else None,
                    "exam_result": exams[i][1] if ex else None})
    return out


def fixture_rows() -> list[dict]:
    r: list[dict] = []
    r += rows(1, 1, "2024-02-29", "2304", "truck", [("nii", "seal_discrepancy")])  # outside: day before start
    r += rows(2, 1, "2024-03-01", "2304", "truck", [("nii", "seal_discrepancy")])  # inside: start day
    r += rows(3, 1, "2025-02-28", "2304", "truck", [])  # inside: last day
    r += rows(4, 1, "2025-03-01", "2304", "truck", [("tailgate", "narcotics")])  # outside: as_of
    r += rows(10, 8, "2024-07-15", "2304", "truck",
              [("nii", "cleared"), ("tailgate", "cleared"), ("tailgate", "narcotics")])
    r += rows(100, 60, "2024-10-10", "0901", "truck", [("nii", "seal_discrepancy")])
    r += rows(200, 40, "2024-12-05", "2704", "sea",
              [("nii", "cleared")] * 6 + [("tailgate", "cleared"), ("intensive", "cleared")])
    r += rows(300, 5, "2025-01-20", "9999", "air", [])
    return r


def shipments_frame(records: list[dict]) -> pd.DataFrame:
    f = pd.DataFrame(records)
    f["entry_date"] = pd.to_datetime(f["entry_date"])
    for c in ("account_id", "entry_id", "port_code", "mode", "exam_type", "exam_result"):
        f[c] = f[c].astype("str")
    f["examined"] = f["examined"].astype(bool)
    return f


@pytest.fixture
def shipments() -> pd.DataFrame:
    return shipments_frame(fixture_rows())


def wilson_by_hand(k: int, n: int) -> tuple[float, float]:
    p = k / n
    z2 = Z * Z
    centre = (p + z2 / (2 * n)) / (1 + z2 / n)
    half = Z / (1 + z2 / n) * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n))
    return max(0.0, centre - half), min(1.0, centre + half)


@pytest.fixture
def baseline_file(tmp_path: Path) -> Path:
    p = tmp_path / "baseline.csv"
    # 901: Excel dropped the leading zero of port 0901; 20% written as a percentage.
    p.write_text("port_code,port_name,mode,baseline_rate,source\n"
                 "2304,Laredo,truck,0.25,test value\n"
                 "901,Buffalo-Niagara Falls,truck,20%,test value\n"
                 "2704,Los Angeles,sea,0.05,test value\n"
                 "*,Any air port,air,0.02,test fallback\n", encoding="utf-8")
    return p


# ------------------------------------------------------------------ Wilson
def test_wilson_matches_closed_forms_and_scipy():
    # k = 0: lower 0, upper = z^2 / (n + z^2) = 3.8414588 / 13.8414588 = 0.277533 for n = 10
    low, high = wilson_interval(0, 10)
    assert low == 0.0
    assert high == pytest.approx(Z * Z / (10 + Z * Z), abs=1e-12)
    assert high == pytest.approx(0.277533, abs=1e-6)
    # k = n: lower = n / (n + z^2) = 20 / 23.8414588 = 0.838875
    low, high = wilson_interval(20, 20)
    assert low == pytest.approx(20 / (20 + Z * Z), abs=1e-12) and high == 1.0
    # vectorised against scipy's independent implementation
    ks, ns = np.array([0, 1, 4, 13, 8]), np.array([5, 60, 10, 115, 40])
    lo, hi = wilson_interval(ks, ns)
    for k, n, a, b in zip(ks, ns, lo, hi):
        ci = binomtest(int(k), int(n)).proportion_ci(0.95, method="wilson")
        assert (a, b) == pytest.approx((ci.low, ci.high), abs=1e-9)
    # n = 0: no rate, no interval
    lo, hi = wilson_interval(np.array([0]), np.array([0]))
    assert np.isnan(lo[0]) and np.isnan(hi[0])


# ------------------------------------------------------------------ window and totals
def test_window_boundaries():
    start, end = exam_window(AS_OF, 12)
    assert (start, end) == (pd.Timestamp("2024-03-01"), pd.Timestamp("2025-03-01"))
    # 12 months before a leap day clamps to the last day of February
    assert exam_window(dt.date(2024, 2, 29), 12)[0] == pd.Timestamp("2023-02-28")
    assert exam_window(AS_OF, 3)[0] == pd.Timestamp("2024-12-01")
    with pytest.raises(InputError):
        exam_window(AS_OF, 0)


def test_totals_rates_and_window_edges(shipments):
    m = exam_metrics(shipments, AS_OF)
    # in the window: 1 (E002, start day) + 1 (E003, last day) + 8 (Laredo July)
    #   + 60 (Buffalo) + 40 (Los Angeles) + 5 (air) = 115; E001 (day before) and E004 (as_of) out
    assert m.shipments == 115
    ids = set(m.rows["entry_id"])
    assert "A1-E002" in ids and "A1-E003" in ids
    assert "A1-E001" not in ids and "A1-E004" not in ids
    # examined: 1 (E002) + 3 (July) + 1 (Buffalo) + 8 (LA) = 13
    assert m.examined == 13
    assert m.exam_rate == pytest.approx(13 / 115)
    # Wilson by hand: p = 0.1130435, z^2 = 3.8414588, centre = (p + z^2/230) / (1 + z^2/115)
    #   = (0.1130435 + 0.0167020) / 1.0334040 = 0.1255516;
    #   half = 1.959964 / 1.0334040 * sqrt(p(1-p)/115 + z^2/52900)
    #        = 1.8966097 * sqrt(0.00087187 + 0.00007262) = 1.8966097 * 0.0307325 = 0.0582875
    lo, hi = m.interval
    assert lo == pytest.approx(0.1255516 - 0.0582875, abs=2e-6)  # 0.0672641
    assert hi == pytest.approx(0.1255516 + 0.0582875, abs=2e-6)  # 0.1838391
    assert (lo, hi) == pytest.approx(wilson_by_hand(13, 115), abs=1e-12)
    assert not m.totals["small_sample"].iloc[0]
    assert m.window_text().startswith("2024-03-01 to 2025-02-28 inclusive")


def test_by_port_mode_type_and_result(shipments):
    m = exam_metrics(shipments, AS_OF)
    port = m.by_port.set_index("port_code")
    # Laredo: E002 (examined), E003, 8 in July with 3 examined -> n = 10, k = 4
    assert port.loc["2304", ["shipments", "examined"]].tolist() == [10, 4]
    assert port.loc["0901", ["shipments", "examined"]].tolist() == [60, 1]
    assert port.loc["2704", ["shipments", "examined"]].tolist() == [40, 8]
    assert port.loc["9999", ["shipments", "examined"]].tolist() == [5, 0]
    assert port.loc["2304", "exam_rate"] == pytest.approx(0.4)
    assert tuple(port.loc["2304", ["ci_low", "ci_high"]]) == pytest.approx(wilson_by_hand(4, 10))
    # small sample: n < 30 -> Laredo (10) and air (5) yes; Buffalo (60), LA (40) no
    assert port["small_sample"].to_dict() == {"0901": False, "2304": True, "2704": False,
                                              "9999": True}
    mode = m.by_mode.set_index("mode")
    assert mode.loc["truck", ["shipments", "examined"]].tolist() == [70, 5]  # 10 + 60, 4 + 1
    assert mode.loc["sea", "exam_rate"] == pytest.approx(8 / 40)
    types = m.by_exam_type.set_index("exam_type")
    # nii: E002 + 1 July + 1 Buffalo + 6 LA = 9; tailgate: 2 July + 1 LA = 3; intensive 1
    assert types["examined"].to_dict() == {"nii": 9, "tailgate": 3, "intensive": 1,
                                           "agriculture": 0, "document_review": 0}
    assert (types["shipments"] == 115).all()  # a type's rate is per shipment
    assert types.loc["nii", "share_of_exams"] == pytest.approx(9 / 13)
    res = m.by_result.set_index("exam_result")["count"]
    # seal: E002 + Buffalo = 2; narcotics: 1 (July); cleared 13 - 3 = 10
    assert (res["seal_discrepancy"], res["narcotics"], res["cleared"]) == (2, 1, 10)


def test_month_buckets(shipments):
    m = exam_metrics(shipments, AS_OF)
    bm = m.by_month.set_index("month")
    assert list(bm.index) == [f"2024-{i:02d}" for i in range(3, 13)] + ["2025-01", "2025-02"]
    assert not bm["partial"].any()
    assert bm.loc["2024-03", ["shipments", "examined"]].tolist() == [1, 1]
    assert bm.loc["2024-07", ["shipments", "examined"]].tolist() == [8, 3]
    assert bm.loc["2024-10", ["shipments", "examined"]].tolist() == [60, 1]
    assert bm.loc["2024-12", ["shipments", "examined"]].tolist() == [40, 8]
    assert bm.loc["2025-01", ["shipments", "examined"]].tolist() == [5, 0]
    assert bm.loc["2025-02", ["shipments", "examined"]].tolist() == [1, 0]
    assert bm.loc["2024-04", "shipments"] == 0 and np.isnan(bm.loc["2024-04", "exam_rate"])
    # one day later: 2024-03-02 .. 2025-03-01; E002 leaves, E004 (2025-03-01) enters;
    # 13 buckets, the first and last only partly inside the window
    m2 = exam_metrics(shipments, dt.date(2025, 3, 2)).by_month.set_index("month")
    assert len(m2) == 13 and m2.index[0] == "2024-03" and m2.index[-1] == "2025-03"
    assert m2["partial"].tolist() == [True] + [False] * 11 + [True]
    assert m2.loc["2024-03", "shipments"] == 0
    assert m2.loc["2025-03", ["shipments", "examined"]].tolist() == [1, 1]


def test_empty_window_and_bad_input(shipments):
    m = exam_metrics(shipments, dt.date(2020, 1, 1))
    assert m.shipments == 0 and np.isnan(m.exam_rate)
    assert len(m.by_month) == 12 and m.by_port.empty
    with pytest.raises(InputError, match="examined"):
        exam_metrics(shipments.drop(columns="examined"), AS_OF)
    bad = shipments.astype({"examined": "boolean"})
    bad.loc[1, "examined"] = pd.NA  # E002, inside the window
    with pytest.raises(InputError, match="missing"):
        exam_metrics(bad, AS_OF)


# ------------------------------------------------------------------ baseline
def test_load_baseline_file(baseline_file):
    b = load_baseline(baseline_file)
    assert b["port_code"].tolist() == ["2304", "0901", "2704", ANY_PORT]
    assert b["baseline_rate"].tolist() == pytest.approx([0.25, 0.20, 0.05, 0.02])


def test_load_baseline_reports_every_bad_cell(tmp_path):
    p = tmp_path / "bad.csv"
    p.write_text("port_code,port_name,mode,baseline_rate,source\n"
                 "23X4,Laredo,truck,0.25,x\n"
                 "2402,El Paso,boat,1.5,x\n"
                 "2402,El Paso,boat,0.1,\n", encoding="utf-8")
    with pytest.raises(IntakeError) as err:
        load_baseline(p)
    got = {(pr.row, pr.column, pr.code) for pr in err.value.problems}
    assert {(2, "port_code", "bad_port_code"), (3, "mode", "bad_choice"),
            (3, "baseline_rate", "bad_rate"), (4, "source", "missing_value"),
            (4, "port_code", "duplicate_key")} <= got
    p.write_text("port_code,mode,baseline_rate\n2304,truck,0.2\n", encoding="utf-8")
    with pytest.raises(IntakeError) as err:
        load_baseline(p)
    assert {pr.column for pr in err.value.problems} == {"port_name", "source"}


def test_shipped_baseline_is_labelled_sample():
    b = load_baseline()
    assert len(b) > 10 and b["port_code"].str.fullmatch(r"\d{4}|\*").all()
    named = b[b["port_code"] != ANY_PORT]
    assert named["source"].str.contains("SAMPLE").all()
    assert {"2304", "0901", "2704", "2709"} <= set(named["port_code"])
    assert b.set_index(["port_code", "mode"]).loc[("*", "truck"), "baseline_rate"] == 0.252


def test_compare_to_baseline_by_hand(shipments, baseline_file):
    m = exam_metrics(shipments, AS_OF)
    c = compare_to_baseline(m, load_baseline(baseline_file)).set_index("port_code")
    # exams avoided = shipments x (baseline - partner rate)
    #   2304: 10 x (0.25 - 0.4)    = -1.5
    #   0901: 60 x (0.20 - 1/60)   = 12 - 1 = 11
    #   2704: 40 x (0.05 - 0.2)    = 2 - 8 = -6
    #   9999: 5 x (0.02 - 0) (air fallback row) = 0.1
    assert c["exams_avoided"].to_dict() == pytest.approx(
        {"2304": -1.5, "0901": 11.0, "2704": -6.0, "9999": 0.1})
    assert c["expected_exams"].to_dict() == pytest.approx(
        {"2304": 2.5, "0901": 12.0, "2704": 2.0, "9999": 0.1})
    assert c.loc["9999", "baseline_scope"] == "mode (any port)"
    assert c.loc["0901", "baseline_scope"] == "port"
    assert c.loc["0901", "port_name"] == "Buffalo-Niagara Falls"
    # exams avoided at the Wilson bounds: 10 x (0.25 - ci_high) .. 10 x (0.25 - ci_low)
    lo, hi = wilson_by_hand(4, 10)
    assert c.loc["2304", "exams_avoided_low"] == pytest.approx(10 * (0.25 - hi))
    assert c.loc["2304", "exams_avoided_high"] == pytest.approx(10 * (0.25 - lo))
    # one-sided exact binomial p-values, P(X >= k | n, baseline):
    p_l = 1 - sum(comb(10, i) * 0.25**i * 0.75**(10 - i) for i in range(4))  # 0.2241249
    p_b = 1 - 0.8**60  # P(X >= 1) = 1 - P(X = 0)
    p_a = 1 - sum(comb(40, i) * 0.05**i * 0.95**(40 - i) for i in range(8))  # 0.0007115
    p_air = 1.0  # P(X >= 0)
    assert p_l == pytest.approx(0.2241249, abs=1e-7) and p_a == pytest.approx(0.0007115, abs=1e-7)
    assert c["p_value"].to_dict() == pytest.approx(
        {"2304": p_l, "0901": p_b, "2704": p_a, "9999": p_air}, rel=1e-9)
    # Holm over m = 4: sorted p_a < p_l < p_b < p_air
    #   adj_a = 4 p_a = 0.002846; adj_l = max(adj_a, 3 p_l) = 0.672375;
    #   adj_b = min(1, max(adj_l, 2 p_b)) = 1; adj_air = min(1, max(1, 1 x 1)) = 1
    assert c["p_holm"].to_dict() == pytest.approx(
        {"2704": 4 * p_a, "2304": 3 * p_l, "0901": 1.0, "9999": 1.0}, rel=1e-9)
    # escalate where adjusted p <= 0.05: Los Angeles only
    assert c.index[c["escalate"]].tolist() == ["2704"]
    text = c["test"].iloc[0]
    assert "binomial" in text and "Holm" in text and "4 port/mode" in text
    assert text in compare_to_baseline(m, load_baseline(baseline_file)).attrs["test"]


def test_rows_without_baseline_are_not_tested(shipments, baseline_file):
    m = exam_metrics(shipments, AS_OF)
    base = load_baseline(baseline_file)
    c = compare_to_baseline(m, base[base["port_code"] != ANY_PORT]).set_index("port_code")
    assert np.isnan(c.loc["9999", "baseline_rate"]) and c.loc["9999", "baseline_scope"] == ""
    assert np.isnan(c.loc["9999", "p_value"]) and not c.loc["9999", "escalate"]
    # Holm family is now m = 3: adj_a = 3 p_a
    p_a = 1 - sum(comb(40, i) * 0.05**i * 0.95**(40 - i) for i in range(8))
    assert c.loc["2704", "p_holm"] == pytest.approx(3 * p_a, rel=1e-9)


def test_holm_adjust_by_hand():
    # m = 3 (NaN left out); sorted 0.01, 0.03, 0.04:
    #   0.01 x 3 = 0.03; max(0.03, 0.03 x 2 = 0.06) = 0.06; max(0.06, 0.04 x 1) = 0.06
    got = holm_adjust(np.array([0.01, 0.04, 0.03, np.nan]))
    assert got[:3] == pytest.approx([0.03, 0.06, 0.06]) and np.isnan(got[3])


# ------------------------------------------------------------------ portfolio
def test_portfolio_rates_by_hand(shipments):
    other = shipments_frame(rows(1, 4, "2024-05-05", "2304", "truck", [("nii", "cleared")],
                                 account="B2"))
    both = pd.concat([shipments, other], ignore_index=True)
    p = portfolio_exam_rates(both, as_of=AS_OF).set_index("port_code")
    # Laredo: A1 10 shipments / 4 exams + B2 4 / 1 -> 14 / 5, two partners
    assert p.loc["2304", ["partners", "shipments", "examined"]].tolist() == [2, 14, 5]
    assert p.loc["2304", "exam_rate"] == pytest.approx(5 / 14)
    assert tuple(p.loc["2304", ["ci_low", "ci_high"]]) == pytest.approx(wilson_by_hand(5, 14))
    assert p.loc["0901", ["partners", "shipments", "examined"]].tolist() == [1, 60, 1]
    # without as_of every row counts: Laredo gains E001 and E004 (both examined) -> 16 / 7
    all_rows = portfolio_exam_rates(both).set_index("port_code")
    assert all_rows.loc["2304", ["shipments", "examined"]].tolist() == [16, 7]
    by_mode = portfolio_exam_rates(both, as_of=AS_OF, by=("port_code", "mode"))
    assert by_mode[["port_code", "mode"]].values.tolist() == [
        ["0901", "truck"], ["2304", "truck"], ["2704", "sea"], ["9999", "air"]]
    # categorical input gives the same answer
    cat = both.astype({"port_code": "category", "account_id": "category"})
    pd.testing.assert_frame_equal(portfolio_exam_rates(cat, as_of=AS_OF),
                                  portfolio_exam_rates(both, as_of=AS_OF))


def _big(n: int, partners: int, seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    ports = np.array(["2304", "2402", "0901", "3801", "2704", "2709", "1001", "5301"])
    return pd.DataFrame({
        "account_id": pd.Categorical.from_codes(rng.integers(0, partners, n),
                                                [f"P{i:05d}" for i in range(partners)]),
        "entry_date": pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 730, n), "D"),
        "port_code": pd.Categorical.from_codes(rng.integers(0, len(ports), n), ports),
        "examined": rng.random(n) < 0.05,
    })


def test_partner_and_portfolio_figures_at_volume():
    # speed targets live in `make bench` (partner_dashboard_s, portfolio_10k_s), not here
    one = _big(5_000, 1)
    one["entry_id"] = [f"E{i}" for i in range(len(one))]
    one["mode"] = "truck"
    one["exam_type"] = np.where(one["examined"], "nii", None)
    one["exam_result"] = np.where(one["examined"], "cleared", None)
    m = exam_metrics(one, AS_OF)
    assert m.shipments > 0
    big = _big(1_000_000, 2_000)
    p = portfolio_exam_rates(big, as_of=AS_OF)
    assert p["shipments"].sum() == int(((big["entry_date"] >= "2024-03-01")
                                        & (big["entry_date"] < "2025-03-01")).sum())


def test_on_the_sample_workspace(sample_workspace):
    """The real workspace frame (string dtypes, pd.NA) goes through every function."""
    from sample_helpers import AS_OF as SAMPLE_AS_OF

    from ctpat_audit.analysis.costs import cost_avoided, load_costs
    from ctpat_audit.analysis.exam_flags import flagged_criteria
    from ctpat_audit.workspace.reference import open_workspace

    ws = open_workspace(sample_workspace.path if hasattr(sample_workspace, "path")
                        else sample_workspace)
    everything = ws.shipments()
    acc = str(everything["account_id"].iloc[0])
    one = ws.shipments(acc)
    m = exam_metrics(one, SAMPLE_AS_OF)
    start, end = exam_window(SAMPLE_AS_OF)
    inside = one[(one["entry_date"] >= start) & (one["entry_date"] < end)]
    assert m.shipments == len(inside) and m.examined == int(inside["examined"].sum())
    assert m.by_port["shipments"].sum() == m.shipments
    assert m.by_exam_type["examined"].sum() == m.examined
    c = compare_to_baseline(m, load_baseline())
    assert c["shipments"].sum() == m.shipments
    est = cost_avoided(c, m, load_costs())
    assert est.low_usd <= est.high_usd
    flagged_criteria(one, as_of=SAMPLE_AS_OF)
    p = portfolio_exam_rates(everything, as_of=SAMPLE_AS_OF)
    assert p["partners"].max() <= everything["account_id"].nunique()


def test_above_baseline_p_values_are_scipys_binomtest_row_by_row():
    """The one-sided exact test over every row at once gives binomtest's p-values (Cephes'
    binomial tail against Boost's: equal to 1e-9 relative)."""
    from ctpat_audit.analysis.exam_metrics import above_baseline_test

    rng = np.random.default_rng(11)
    n = rng.integers(0, 3000, 400)
    n[:5] = [0, 1, 2, 5, 10]
    k = np.array([rng.integers(0, m + 1) for m in n])
    b = rng.uniform(0.0005, 0.6, 400)
    b[::7] = np.nan  # rows without a baseline are not tested
    t = pd.DataFrame({"examined": k, "shipments": n, "baseline_rate": b})
    p, p_holm, escalate = above_baseline_test(t)
    want = np.array([binomtest(int(kk), int(nn), float(bb), alternative="greater").pvalue
                     if nn > 0 and not np.isnan(bb) else np.nan
                     for kk, nn, bb in zip(k, n, b)])
    np.testing.assert_allclose(p, want, rtol=1e-9, atol=0)
    assert (p[(k == 0) & (n > 0) & ~np.isnan(b)] == 1.0).all()
    assert np.array_equal(escalate, (np.asarray(p_holm) <= 0.05) & ~np.isnan(p))
    assert np.isnan(p[::7]).all() and escalate.dtype == bool and escalate.any()


def _count_by_groupby(rows, keys, examined, small_n):
    """The pandas groupby _count_by replaced (kept as the oracle)."""
    from ctpat_audit.analysis.exam_metrics import with_rates

    g = pd.DataFrame({k: rows[k].astype(str).to_numpy() for k in keys})
    g["shipments"] = 1
    g["examined"] = examined.astype("int64")
    out = g.groupby(keys, sort=True, as_index=False)[["shipments", "examined"]].sum()
    return with_rates(out, small_n)


@pytest.mark.parametrize("n", [0, 1, 7, 500])
def test_counts_by_port_and_mode_are_the_groupby_tables(n):
    from ctpat_audit.analysis.exam_metrics import _count_by

    rng = np.random.default_rng(n)
    rows = pd.DataFrame({
        "port_code": pd.array(rng.choice(["2704", "0901", "3004", "2304", "5301"], n),
                              dtype="string"),
        "mode": pd.array(rng.choice(["sea", "air", "truck", "rail"], n), dtype="string")})
    if n > 3:
        rows.loc[3, "mode"] = pd.NA  # a missing value is a group of its own, as text
    examined = rng.random(n) < 0.2
    for keys in (["port_code"], ["mode"], ["port_code", "mode"]):
        pd.testing.assert_frame_equal(_count_by(rows, keys, examined, 30),
                                      _count_by_groupby(rows, keys, examined, 30))


def _match_baseline_by_merges(table, baseline):
    """The pandas-merge match_baseline replaced (kept as the oracle)."""
    from ctpat_audit.analysis.exam_metrics import ANY_PORT

    exact = baseline[baseline["port_code"] != ANY_PORT]
    anyp = baseline[baseline["port_code"] == ANY_PORT].drop(columns="port_code")
    t = table.merge(exact, on=["port_code", "mode"], how="left")
    t["baseline_scope"] = np.where(t["baseline_rate"].notna(), "port", "")
    fb = t.drop(columns=["port_name", "baseline_rate", "source"]).merge(
        anyp.rename(columns={"port_name": "_n", "baseline_rate": "_r", "source": "_s"}),
        on="mode", how="left")
    use = t["baseline_rate"].isna().to_numpy() & fb["_r"].notna().to_numpy()
    t.loc[use, "baseline_rate"] = fb.loc[use, "_r"].to_numpy()
    t.loc[use, "source"] = fb.loc[use, "_s"].to_numpy()
    t.loc[use, "baseline_scope"] = "mode (any port)"
    t["port_name"] = t["port_name"].astype(object).where(t["port_name"].notna(), "")
    return t.rename(columns={"source": "baseline_source"})


def test_baseline_matching_is_the_merge_rule_on_random_tables():
    from ctpat_audit.analysis.exam_metrics import (
        ANY_PORT,
        _count_by,
        load_baseline,
        match_baseline,
    )

    shipped = load_baseline()
    rng = np.random.default_rng(4)
    ports = ["2704", "0901", "3004", "2304", "5301", "9999"]
    modes = ["sea", "air", "truck", "rail"]
    for trial in range(30):
        n = int(rng.integers(0, 60))
        rows = pd.DataFrame({"port_code": pd.array(rng.choice(ports, n), dtype="string"),
                             "mode": pd.array(rng.choice(modes, n), dtype="string")})
        table = _count_by(rows, ["port_code", "mode"], rng.random(n) < 0.3, 30)
        keep = rng.random(6) < 0.7
        own = pd.DataFrame({
            "port_code": pd.array([p for p, k in zip(ports, keep) if k], dtype="str"),
            "port_name": pd.array([f"Port {p}" if i % 3 else None
                                   for i, (p, k) in enumerate(zip(ports, keep)) if k],
                                  dtype="str"),
            "mode": pd.array(rng.choice(modes, int(keep.sum())), dtype="str"),
            "baseline_rate": rng.uniform(0.01, 0.2, int(keep.sum())),
            "source": pd.array([f"source {trial}"] * int(keep.sum()), dtype="str")})
        any_rows = shipped[shipped["port_code"] == ANY_PORT]
        if trial % 2:
            any_rows = any_rows.iloc[:1]  # some modes without an any-port rate
        baseline = pd.concat([own, any_rows], ignore_index=True)
        pd.testing.assert_frame_equal(match_baseline(table, baseline),
                                      _match_baseline_by_merges(table, baseline))
    real = _count_by(pd.DataFrame({"port_code": pd.array(["2704", "0901", "9999"],
                                                        dtype="string"),
                                   "mode": pd.array(["sea", "air", "sea"], dtype="string")}),
                     ["port_code", "mode"], np.array([True, False, False]), 30)
    pd.testing.assert_frame_equal(match_baseline(real, shipped),
                                  _match_baseline_by_merges(real, shipped))
