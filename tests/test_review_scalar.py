"""One partner's triage and review (length-1 arrays, no frame) give what the row-by-row code
gave, at the rules' edges; and each stays cheap enough to run once per partner report.

The oracle is the frozen row-by-row code in :mod:`test_review_columns`.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import itertools

import pandas as pd
import pytest
from test_review_columns import _reference_annual_review, _reference_triage

from ctpat_audit.analysis.review import review_partner, triage
from ctpat_audit.core.vocabulary import COMPANY_OFFICER
from ctpat_audit.criteria.catalogue import load_catalogue

D = dt.date
AS_OF = D(2026, 11, 1)

# every kind of annual review: overdue (also with a late submission, and a 29 February
# anniversary), due, submitted (in the open window and last cycle), not applicable
ANNUALS = [
    _reference_annual_review(D(2020, 6, 30), None, AS_OF),
    _reference_annual_review(D(2019, 10, 31), AS_OF, AS_OF),
    _reference_annual_review(D(2016, 2, 29), None, D(2027, 3, 1)),
    _reference_annual_review(D(2020, 12, 1), None, AS_OF),
    _reference_annual_review(D(2020, 12, 1), D(2026, 10, 1), AS_OF),
    _reference_annual_review(D(2020, 6, 30), D(2026, 5, 1), AS_OF),
    _reference_annual_review(None, None, AS_OF),
    _reference_annual_review(D(2020, 6, 30), None, AS_OF, "applicant"),
]


def test_annual_kinds_cover_every_status():
    assert {a.status for a in ANNUALS} == {"overdue", "due", "submitted", "not_applicable"}


@pytest.mark.parametrize("annual", ANNUALS, ids=lambda a: a.status)
def test_triage_of_one_partner_at_the_edges(annual):
    """Statuses, Must gaps as a count or named (none, one, eight, nine), the blank share on
    both sides of 20% and no applicable criteria, officer or not, outreach on both sides of
    two unanswered."""
    for status, must, (blank, total), officer, (unanswered, attempts) in itertools.product(
            ["certified", "suspended", "removed", "applicant"],
            [0, 1, [], ["1.1"], [f"{k}.1" for k in range(1, 9)], [f"{k}.1" for k in range(1, 10)]],
            [(0, 0), (3, 0), (19, 100), (20, 100), (10, 10)],
            [True, False], [(0, 0), (1, 4), (2, 2), (3, 7)]):
        args = (status, annual, must, blank, total, officer, unanswered, attempts)
        got = triage(*args)
        assert got == _reference_triage(*args), args
        assert type(got[0]) is str and all(type(r) is str for r in got[1])


def _reference_partner_triage(partner, review, as_of):
    """review_partner's risk and reasons as the row-by-row code computed them."""
    annual = _reference_annual_review(partner.profile_anniversary, partner.last_profile_review_date,
                                      as_of, partner.status)
    counts = review.counts()
    return annual, _reference_triage(partner.status, annual, review.must_not_addressed,
                                     counts["blank"], sum(counts.values()),
                                     review.has_company_officer, review.outreach_unanswered,
                                     review.outreach_attempts)


def _edge_partners(ws):
    """Some of the sample's partners as they are, and changed: suspended / applicant, no
    anniversary, 29 February, no officer nor entity types, unanswered outreach."""
    ids = ws.partners()["account_id"].tolist()
    base = [ws.partner(a) for a in ids[:6]]
    p = base[0]
    no_officer = p.contacts[p.contacts["role"] != COMPANY_OFFICER]
    outreach = pd.DataFrame({
        "account_id": [p.account_id] * 3, "contacted_on": pd.to_datetime(["2026-09-01"] * 3),
        "channel": ["email"] * 3, "outcome": ["no_response", "bounced", "responded"],
        "note": ["reminder"] * 3}).astype(p.outreach.dtypes.to_dict())
    return base + [
        dataclasses.replace(base[1], status="suspended"),
        dataclasses.replace(base[2], status="applicant"),
        dataclasses.replace(base[3], profile_anniversary=None),
        dataclasses.replace(base[4], profile_anniversary=D(2016, 2, 29), last_profile_review_date=None),
        dataclasses.replace(base[5], contacts=no_officer.iloc[0:0], entity_types=[]),
        dataclasses.replace(p, contacts=no_officer, outreach=outreach, status="removed",
                            profile_anniversary=D(2019, 10, 31), last_profile_review_date=AS_OF),
    ]


@pytest.mark.parametrize("as_of", [AS_OF, D(2027, 2, 28), D(2028, 2, 29)])
def test_review_partner_triage_is_the_row_by_row_rule(sample_workspace, as_of):
    cat = load_catalogue()
    seen = set()
    for partner in _edge_partners(sample_workspace):
        review = review_partner(partner, cat, as_of)
        annual, (risk, reasons) = _reference_partner_triage(partner, review, as_of)
        assert review.annual == annual, partner.account_id
        assert (review.risk, review.reasons) == (risk, reasons), partner.account_id
        seen.add(review.risk)
    assert {"high", "medium"} <= seen
