"""Cost table loading and the cost-avoided range, computed by hand from a small fixture."""
from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pytest

from ctpat_audit.analysis.costs import cost_avoided, load_costs
from ctpat_audit.analysis.exam_metrics import compare_to_baseline, exam_metrics
from ctpat_audit.core.errors import InputError, IntakeError

AS_OF = dt.date(2025, 3, 1)

COSTS_CSV = """exam_type,item,unit,low,high,source
nii,exam_cost,USD,100,300,test
nii,delay_days,days,2,3,test
tailgate,exam_cost,USD,200,400,test
tailgate,delay_days,days,5,6,test
intensive,exam_cost,USD,"1,000","2,000",test
intensive,delay_days,days,7,30,test
,delay_cost_per_day,USD per day,10,100,assumption: test
"""

BASELINE_CSV = """port_code,port_name,mode,baseline_rate,source
2304,Laredo,truck,0.30,SAMPLE test
0901,Buffalo-Niagara Falls,truck,0.10,SAMPLE test
"""


def frame(spec: list[tuple[str, str, int, list[str]]]) -> pd.DataFrame:
    """(port, date, shipments, exam types of the examined ones)."""
    recs, i = [], 0
    for port, date, n, exams in spec:
        for j in range(n):
            ex = j < len(exams)
            recs.append({"account_id": "A1", "entry_id": f"E{i:04d}", "entry_date": date,
                         "port_code": port, "mode": "truck", "examined": ex,
                         "exam_type": exams[j] if ex else None,
                         "exam_result": "cleared" if ex else None})
            i += 1
    f = pd.DataFrame(recs)
    f["entry_date"] = pd.to_datetime(f["entry_date"])
    return f.astype({"port_code": "str", "exam_type": "str", "exam_result": "str"})


@pytest.fixture
def files(tmp_path: Path) -> tuple[Path, Path]:
    c, b = tmp_path / "costs.csv", tmp_path / "baseline.csv"
    c.write_text(COSTS_CSV, encoding="utf-8")
    b.write_text(BASELINE_CSV, encoding="utf-8")
    return c, b


def test_shipped_costs_are_flexport_or_labelled_assumptions():
    costs = load_costs()
    pe = costs.per_exam.set_index("exam_type")
    figures = ["cost_low", "cost_high", "days_low", "days_high"]
    assert pe.loc["nii", figures].tolist() == [150, 350, 2, 3]
    assert pe.loc["tailgate", figures].tolist() == [150, 350, 5, 6]
    assert pe.loc["intensive", figures].tolist() == [1000, 2500, 7, 30]
    for src in costs.table["source"]:
        assert src.startswith("Flexport") or src.startswith("assumption")
    assert costs.delay_cost_source.startswith("assumption")
    assert set(pe.index) == {"nii", "tailgate", "intensive", "agriculture", "document_review"}


def test_cost_avoided_range_by_hand(files):
    cfile, bfile = files
    from ctpat_audit.analysis.exam_metrics import load_baseline

    # Laredo: 20 shipments, 2 exams (nii, tailgate); Buffalo: 30 shipments, 1 exam (intensive)
    s = frame([("2304", "2024-06-01", 20, ["nii", "tailgate"]),
               ("0901", "2024-08-01", 30, ["intensive"])])
    m = exam_metrics(s, AS_OF)
    cmp = compare_to_baseline(m, load_baseline(bfile))
    # exams avoided: 20 x (0.30 - 0.10) = 4; 30 x (0.10 - 1/30) = 3 - 1 = 2; total 6
    est = cost_avoided(cmp, m, load_costs(cfile))
    assert est.exams_avoided == pytest.approx(6.0)
    # partner's mix: nii 1/3, tailgate 1/3, intensive 1/3 -> 2 avoided exams of each type
    # low  = 2 x (100 + 2 x 10) + 2 x (200 + 5 x 10) + 2 x (1000 + 7 x 10)
    #      = 240 + 500 + 2140 = 2880
    # high = 2 x (300 + 3 x 100) + 2 x (400 + 6 x 100) + 2 x (2000 + 30 x 100)
    #      = 1200 + 2000 + 10000 = 13200
    assert (est.low_usd, est.high_usd) == pytest.approx((2880.0, 13200.0))
    b = est.breakdown.set_index("exam_type")
    assert b.loc["intensive", "delay_days_high"] == pytest.approx(60.0)  # 2 exams x 30 days
    assert est.range_text() == "$2,880 to $13,200"
    text = est.text()
    assert "$2,880 to $13,200" in text and "SAMPLE" in text  # sources printed beside it
    assert "delay cost per day: $10 to $100" in text and "assumption: test" in text
    items = set(est.assumptions["item"])
    assert {"exams avoided", "exam-type mix", "nii exam fee", "intensive delay",
            "delay cost per day"} <= items


def test_given_mix_and_no_exam_fallback(files):
    cfile, bfile = files
    from ctpat_audit.analysis.exam_metrics import load_baseline

    # no exams at all: 10 shipments at Laredo; avoided = 10 x 0.30 = 3, costed as NII
    s = frame([("2304", "2024-06-01", 10, [])])
    m = exam_metrics(s, AS_OF)
    cmp = compare_to_baseline(m, load_baseline(bfile))
    est = cost_avoided(cmp, m, load_costs(cfile))
    # low = 3 x (100 + 2 x 10) = 360; high = 3 x (300 + 3 x 100) = 1800
    assert (est.low_usd, est.high_usd) == pytest.approx((360.0, 1800.0))
    assert "no exams" in est.assumptions.set_index("item").loc["exam-type mix", "source"]
    # a user mix: half tailgate, half intensive: 1.5 each
    # low = 1.5 x 250 + 1.5 x 1070 = 1980; high = 1.5 x 1000 + 1.5 x 5000 = 9000
    est = cost_avoided(cmp, m, load_costs(cfile), exam_mix={"tailgate": 1, "intensive": 1})
    assert (est.low_usd, est.high_usd) == pytest.approx((1980.0, 9000.0))
    with pytest.raises(InputError, match="cost row"):
        cost_avoided(cmp, m, load_costs(cfile), exam_mix={"agriculture": 1})


def test_more_exams_than_baseline_is_an_extra_cost(files):
    cfile, bfile = files
    from ctpat_audit.analysis.exam_metrics import load_baseline

    # Buffalo: 10 shipments, 3 NII exams, baseline 0.10 -> avoided = 1 - 3 = -2
    s = frame([("0901", "2024-06-01", 10, ["nii"] * 3)])
    m = exam_metrics(s, AS_OF)
    est = cost_avoided(compare_to_baseline(m, load_baseline(bfile)), m, load_costs(cfile))
    # -2 x 120 = -240 ; -2 x 600 = -1200 -> range -1200 .. -240 (low <= high)
    assert (est.low_usd, est.high_usd) == pytest.approx((-1200.0, -240.0))
    assert est.range_text() == "none (extra cost of $240 to $1,200)"


def test_bad_cost_file_names_rows(tmp_path):
    p = tmp_path / "costs.csv"
    p.write_text("exam_type,item,unit,low,high,source\n"
                 "nii,exam_cost,USD,300,100,x\n"
                 "xray,exam_cost,USD,1,2,x\n"
                 "nii,fee,USD,1,2,\n", encoding="utf-8")
    with pytest.raises(IntakeError) as err:
        load_costs(p)
    got = {(pr.row, pr.column, pr.code) for pr in err.value.problems}
    assert {(2, "low", "bad_range"), (3, "exam_type", "bad_choice"), (4, "item", "bad_choice"),
            (4, "source", "missing_value")} <= got
