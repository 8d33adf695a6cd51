"""Which session a notebook page works on: nothing is created silently after a submission."""
from __future__ import annotations

import shutil
from pathlib import Path

import ipywidgets as widgets
import pytest

from ctpat_audit.core.errors import InputError
from ctpat_audit.sessions.session import list_sessions, open_session
from ctpat_audit.ui.checklist import ChecklistWidget, checklist_view
from ctpat_audit.ui.session_page import SessionPage
from ctpat_audit.ui.submit_panel import SubmitPanel
from ctpat_audit.workspace.reference import open_workspace

SPEC = "spec@cbp.example"


@pytest.fixture
def ws(sample_workspace, tmp_path: Path) -> Path:
    dst = tmp_path / "ws"
    shutil.copytree(sample_workspace.path, dst)
    return dst


def _submitted(ws: Path) -> tuple[str, str]:
    acc = str(open_workspace(ws).partners()["account_id"].iloc[0])
    with open_session(ws, acc, "validation", "virtual", SPEC) as s:
        s.answer(s.criteria[0].criterion_id, status="does_not_meet", method="interview")
        s.submit(reason="test")
        return acc, s.id


def _buttons(widget: widgets.Widget) -> list[widgets.Button]:
    if isinstance(widget, widgets.Button):
        return [widget]
    return [b for c in getattr(widget, "children", ()) for b in _buttons(c)]


def test_after_a_submission_nothing_is_created_until_the_user_chooses(ws):
    acc, old = _submitted(ws)
    page = SessionPage(ws, acc, "validation", "virtual", SPEC)
    assert page.session is None and len(list_sessions(ws, account_id=acc)) == 1
    chooser, view, panel = page.chooser(), checklist_view(page), SubmitPanel(page)
    assert old in chooser.children[0].value and "Submitted, read-only" in chooser.children[0].value
    assert "Nothing has been created" in chooser.children[0].value
    assert "Choose above" in view.children[0].value and "Choose above" in panel.children[0].value
    labels = {b.description: b for b in _buttons(chooser)}
    assert list(labels) == ["View the Submitted, read-only validation", "Open a revision of it",
                            "Start a new validation"]
    labels["Open a revision of it"].click()
    rev = page.session
    assert rev.supersedes == old and rev.status == "open"
    assert isinstance(view.children[0], ChecklistWidget) and view.children[0].session is rev
    assert "You opened a revision" in chooser.children[0].value and not _buttons(chooser)
    assert panel.button in panel.children
    assert len(list_sessions(ws, account_id=acc)) == 2


@pytest.mark.parametrize("choice", ["view", "new"])
def test_the_choice_as_a_notebook_parameter(ws, choice):
    acc, old = _submitted(ws)
    page = SessionPage(ws, acc, "validation", "virtual", SPEC, choice=choice)
    if choice == "view":
        assert page.session.id == old and page.read_only
        assert len(list_sessions(ws, account_id=acc)) == 1
        w = ChecklistWidget(page)
        assert all(i.disabled for c in w.cards.values() for i in c.inputs)
    else:
        assert page.session.id != old and page.session.supersedes is None
        assert page.session.status == "open" and len(list_sessions(ws, account_id=acc)) == 2


def test_an_open_session_is_resumed_and_a_first_one_is_opened(ws):
    acc = str(open_workspace(ws).partners()["account_id"].iloc[1])
    first = SessionPage(ws, acc, "validation", "virtual", SPEC)
    assert first.session is not None and first.status == "open"
    again = SessionPage(ws, acc, "validation", "virtual", SPEC)
    assert again.session.id == first.session.id
    assert len(list_sessions(ws, account_id=acc)) == 1


def test_a_partner_cannot_choose_a_revision(ws):
    w = open_workspace(ws)
    for acc in w.partners()["account_id"].astype(str):
        c = w.partner(acc).contacts
        officers = c[c["role"] == "Company Officer"]["email"]
        if len(officers):
            break
    officer = str(officers.iloc[0])
    with open_session(ws, acc, "self_assessment", None, officer) as s:
        s.submit(reason="test")
    page = SessionPage(ws, acc, "self_assessment", None, officer)
    assert [c for _l, c in page.choices()] == ["view", "new"]
    with pytest.raises(InputError):
        SessionPage(ws, acc, "self_assessment", None, officer, choice="revise")
    with pytest.raises(InputError):
        page.choose("revise")
    assert page.session is None
