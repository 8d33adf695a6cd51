"""One set of labels and one clock for every screen and file."""
from __future__ import annotations

import datetime as dt

import pytest
from openpyxl import load_workbook

from ctpat_audit.core import vocabulary as v
from ctpat_audit.core.clock import timestamp
from ctpat_audit.core.errors import InputError
from ctpat_audit.reports.sections import STATUS_TEXT
from ctpat_audit.ui.checklist import METHOD_LABELS, STATUS_LABELS


def test_checklist_questionnaire_and_report_show_the_same_answer_labels(tmp_path):
    from ctpat_audit.sessions.questionnaire import STATUS_LABELS as QUESTIONNAIRE_LABELS

    assert STATUS_LABELS == QUESTIONNAIRE_LABELS == v.ANSWER_STATUS_LABELS
    assert {k: STATUS_TEXT[k] for k in v.ANSWER_STATUSES} == v.ANSWER_STATUS_LABELS
    assert STATUS_TEXT[""] == v.NOT_ANSWERED
    assert METHOD_LABELS == v.OBSERVATION_METHOD_LABELS
    assert v.ANSWER_STATUS_LABELS["not_applicable"] == "Not applicable"


def test_the_questionnaire_dropdown_offers_exactly_those_labels(tmp_path):
    from session_helpers import ACCOUNT, make_workspace

    from ctpat_audit.sessions.questionnaire import export_questionnaire

    ws = make_workspace(tmp_path)
    out = export_questionnaire(ws, ACCOUNT, tmp_path / "q.xlsx")
    sheet = load_workbook(out).worksheets[0]
    lists = [d.formula1 for d in sheet.data_validations.dataValidation]
    assert '"' + ",".join(v.ANSWER_STATUS_LABELS.values()) + '"' in lists


def test_timestamps_are_utc_with_microseconds():
    at = dt.datetime(2026, 12, 2, 12, 0, 1, tzinfo=dt.timezone(dt.timedelta(hours=-5)))
    assert timestamp(at) == "2026-12-02T17:00:01.000000+00:00"
    with pytest.raises(InputError):
        timestamp(dt.datetime(2026, 12, 2))
