"""The submit step driven from Python: identity from the launch, the gate, the lock, revisions."""
from __future__ import annotations

import ast
import json
import shutil
from pathlib import Path

import ipywidgets as widgets
import pytest

from ctpat_audit.core.errors import SessionRuleError
from ctpat_audit.sessions.session import open_session, resume_session
from ctpat_audit.ui.checklist import ChecklistWidget
from ctpat_audit.ui.session_page import SessionPage
from ctpat_audit.ui.submit_panel import SubmitPanel
from ctpat_audit.workspace.reference import open_workspace

PACKAGE = Path(__file__).resolve().parent.parent / "ctpat_audit"


@pytest.fixture
def ws(sample_workspace, tmp_path: Path) -> Path:
    dst = tmp_path / "ws"
    shutil.copytree(sample_workspace.path, dst)
    return dst


def _all(widget: widgets.Widget) -> list[widgets.Widget]:
    found = [widget]
    for child in getattr(widget, "children", ()):
        found += _all(child)
    return found


def _contacts(ws: Path) -> tuple[str, str, str]:
    """(account, its Company Officer, another contact who is not one)."""
    w = open_workspace(ws)
    for acc in w.partners()["account_id"].astype(str):
        c = w.partner(acc).contacts
        officers = c[c["role"] == "Company Officer"]["email"]
        others = c[~c["email"].isin(officers)]["email"]
        if len(officers) and len(others):
            return acc, str(officers.iloc[0]), str(others.iloc[0])
    pytest.skip("no partner with an officer and another contact")


def _answer_all(session, status="meets", method="document_review") -> None:
    for cid, fid in session.units():
        session.answer(cid, status=status, method=method, facility_id=fid)


def test_a_partner_who_is_not_the_officer_cannot_submit_as_the_officer(ws):
    acc, officer, other = _contacts(ws)
    page = SessionPage(ws, acc, "self_assessment", None, other)
    panel = SubmitPanel(page)
    texts = [w for w in _all(panel) if isinstance(w, widgets.Text | widgets.Textarea)]
    assert all("Submitted by" not in (w.description or "") for w in texts)
    assert not any(isinstance(w, widgets.Text) for w in _all(panel))  # no name to type
    assert other in panel.who.value and "not editable" in panel.who.value
    assert "not a Company Officer" in panel.message.value and panel.button.disabled
    panel.button.click()
    panel.confirm.click()
    assert page.session.status == "open"
    with pytest.raises(SessionRuleError) as e:  # the API refuses the typed officer too
        page.session.submit(officer)
    assert e.value.rule == "actor_mismatch" and page.session.status == "open"
    # the officer's own launch submits (with a reason: nothing is answered yet)
    officer_page = SessionPage(ws, acc, "self_assessment", None, officer)
    assert officer_page.session.id == page.session.id
    o_panel = SubmitPanel(officer_page)
    o_panel.incomplete.value = True
    o_panel.reason.value = "Submitting what we have before the CBP visit"
    o_panel.button.click()
    o_panel.confirm.click()
    info = resume_session(ws, page.session.id).info()
    assert info["status"] == "submitted" and info["submitted_by"] == officer


def test_the_gate_counts_what_is_left_and_incomplete_needs_a_reason(ws):
    acc = str(open_workspace(ws).partners()["account_id"].iloc[0])
    page = SessionPage(ws, acc, "validation", "virtual", "spec@cbp.example")
    s = page.session
    checklist, panel = ChecklistWidget(page), SubmitPanel(page)
    first_cat = s.criteria[0].category
    must = next(c for c in s.criteria if c.level == "Must")
    before = panel.gate.value
    checklist.category = must.category
    checklist.cards[must.criterion_id].status.value = "not_verified"  # a save on the page
    assert panel.gate.value != before and "Must criteria \"Not verified\": 1" in panel.gate.value
    n_cat = sum(c.category == first_cat for c in s.criteria)
    assert f"<td style='text-align:right'>{n_cat}</td>" in panel.gate.value or (
        first_cat == must.category)
    assert panel.button.disabled and panel.incomplete in panel.children
    panel.button.click()
    panel.confirm.click()  # nothing happens without the decision
    assert s.status == "open" and panel.confirm_row not in panel.children
    panel.incomplete.value = True
    assert panel.reason in panel.children and panel.button.disabled  # a reason is needed
    panel.reason.value = "Site closed for audit week; remaining criteria at the next visit"
    assert not panel.button.disabled
    panel.button.click()
    assert panel.confirm_row in panel.children and "unanswered" in panel.confirm_text.value
    panel.confirm.click()
    assert s.status == "submitted"
    entry = json.loads(s.history().iloc[-1]["new_value"])
    assert entry["reason"].startswith("Site closed") and entry["must_not_verified"] == 1
    assert entry["unanswered"] == len(s.units()) - 1
    # the page locks visibly: inputs disabled, "Submitted, read-only" in the header and panel
    assert all(w.disabled for card in checklist.cards.values() for w in card.inputs)
    assert "Submitted, read-only" in checklist.header.value
    assert "Submitted, read-only" in panel.who.value
    card = next(iter(checklist.cards.values()))
    assert "Submitted, read-only" in card.message.value
    buttons = [w for w in _all(checklist.notice) if isinstance(w, widgets.Button)]
    assert [b.description for b in buttons] == ["Open revision"]
    buttons[0].click()  # a specialist revises without code
    new = page.session
    assert new.id != s.id and new.status == "open" and new.supersedes == s.id
    assert checklist.session is new and "Open" in checklist.header.value
    assert not any(c.message.value for c in checklist.cards.values())  # no stale lock text
    assert not any(w.disabled for w in checklist.cards[must.criterion_id].inputs)
    assert checklist.cards[must.criterion_id].status.value == "not_verified"  # copied
    assert panel.button in panel.children


def test_a_complete_validation_submits_without_a_reason(ws):
    acc = str(open_workspace(ws).partners()["account_id"].iloc[0])
    with open_session(ws, acc, "validation", "virtual", "spec@cbp.example") as s:
        _answer_all(s)
        panel = SubmitPanel(s)
        assert "Every criterion has an answer" in panel.gate.value
        assert panel.incomplete not in panel.children and not panel.button.disabled
        panel.button.click()
        assert panel.submit() and s.status == "submitted"
        assert "reason" not in json.loads(s.history().iloc[-1]["new_value"])


def test_a_partner_gets_a_sentence_not_a_revision_button(ws):
    acc, officer, _other = _contacts(ws)
    page = SessionPage(ws, acc, "self_assessment", None, officer)
    checklist = ChecklistWidget(page)
    page.submit(reason="test")
    assert "contact your CBP Supply Chain Security Specialist" in checklist.notice.children[
        0].value
    assert not any(isinstance(w, widgets.Button) for w in _all(checklist.notice))


def _user_strings(path: Path) -> list[str]:
    """String literals of a module that are not docstrings (what code can show a user)."""
    tree = ast.parse(path.read_text())
    docs = {id(n.body[0].value) for n in ast.walk(tree)
            if isinstance(n, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
            and n.body and isinstance(n.body[0], ast.Expr)
            and isinstance(n.body[0].value, ast.Constant)}
    return [n.value for n in ast.walk(tree) if isinstance(n, ast.Constant)
            and isinstance(n.value, str) and id(n) not in docs]


def test_no_user_facing_text_suggests_python():
    """Messages the notebook pages can show (sessions' refusals, widgets' text) name no Python:
    no method calls, no attributes, no keyword arguments."""
    import re

    python = re.compile(r"new_revision\(|\bsession\.\w|\w\(\)|\b(?:[a-z]+_[a-z_]+|method)=")
    modules = [*(PACKAGE / "sessions").glob("*.py"), *(PACKAGE / "ui").glob("*.py")]
    found = [(p.name, s) for p in modules for s in _user_strings(p) if python.search(s)]
    assert found == []
    assert [s for p in PACKAGE.rglob("*.py") for s in _user_strings(p)
            if "new_revision(" in s] == []


def test_the_gap_table_follows_every_save(ws):
    from ctpat_audit.ui.gap_view import GapView

    acc, officer, _other = _contacts(ws)
    page = SessionPage(ws, acc, "self_assessment", None, officer)
    checklist, gaps = ChecklistWidget(page), GapView(page)
    n = len(page.session.units())
    assert f"0/{n} answered; {n} gaps left" in gaps.table.value
    assert "Not answered" in gaps.table.value and "nan" not in gaps.table.value
    card = next(iter(checklist.cards.values()))
    card.status.value = "meets"
    assert f"1/{n} answered; {n - 1} gaps left" in gaps.table.value
    card.status.value = "does_not_meet"
    assert f"{n} gaps left" in gaps.table.value and "Does not meet" in gaps.table.value
