"""The sample generator: deterministic, realistic in shape, imports cleanly."""
from __future__ import annotations

import datetime as dt

import pandas as pd
from sample_helpers import few_criteria

from ctpat_audit.demo.sample_data import SampleSpec, build_sample, write_sample
from ctpat_audit.intake.importer import check_source

SPEC = SampleSpec(partners=120, seed=5, as_of=dt.date(2026, 11, 1), shipments_per_partner=60)


def test_same_seed_same_data_other_seed_other_data():
    a = build_sample(SPEC, criteria_for=few_criteria)
    b = build_sample(SPEC, criteria_for=few_criteria)
    c = build_sample(SampleSpec(partners=120, seed=6, as_of=SPEC.as_of, shipments_per_partner=60),
                     criteria_for=few_criteria)
    for name in a:
        pd.testing.assert_frame_equal(a[name], b[name])
    assert not a["partners"].equals(c["partners"])


def test_sample_has_the_mix_the_field_has():
    f = build_sample(SPEC, criteria_for=few_criteria)
    cities = set(f["facilities"]["city"])
    assert {"Nuevo Laredo", "Monterrey", "Mexico City", "Tijuana", "Matamoros", "Reynosa"} & cities
    assert {"US", "MX"} <= set(f["facilities"]["country"])
    ents = f["entities"].groupby("account_id").size()
    assert (ents > 1).any(), "some expanded profile models"
    officers = f["contacts"][f["contacts"]["role"] == "Company Officer"]["account_id"].nunique()
    assert 0.7 * SPEC.partners < officers < SPEC.partners, "most but not all have a Company Officer"
    assert f["partners"]["account_id"].str.startswith("0").any()
    ship = f["shipments"]
    assert ship["entry_date"].min() >= pd.Timestamp("2024-11-01")
    assert ship["port_code"].str.fullmatch(r"\d{4}").all()
    rates = ship.groupby("port_code")["examined"].mean()
    assert rates.max() > 1.5 * rates[rates > 0].min(), "exam rates differ by port"
    r = f["profile_responses"]
    cur = r[r["profile_year"] == 2026]
    assert (cur["response_text"] == "").any() and (cur["response_text"].str.len().between(1, 10)).any()


def test_written_sample_imports_cleanly(tmp_path):
    out = write_sample(tmp_path / "s", partners=25, seed=9, criteria_for=few_criteria)
    assert {p.name for p in out.iterdir()} == {
        "partners.csv", "entities.csv", "facilities.csv", "contacts.csv",
        "profile_responses.parquet", "shipments.parquet", "outreach.xlsx"}
    assert check_source(out).problems == []


def test_every_partner_overdue_for_its_annual_review_has_outreach():
    from ctpat_audit.analysis.review import annual_review

    f = build_sample(SPEC, criteria_for=few_criteria)
    contacted = set(f["outreach"]["account_id"])
    overdue = [p.account_id for p in f["partners"].itertuples()
               if annual_review(p.profile_anniversary, p.last_profile_review_date, SPEC.as_of,
                                p.status).overdue]
    assert overdue, "the sample has overdue partners"
    assert all(acc in contacted for acc in overdue)
