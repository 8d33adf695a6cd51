"""The checklist widget driven from Python: every click lands in the workspace's SQLite."""
from __future__ import annotations

import datetime as dt
import hashlib
import shutil
import sqlite3
from pathlib import Path

import pytest

from benchmarks.operations import benchmark_checklist
from ctpat_audit.sessions.session import open_session
from ctpat_audit.ui.checklist import ChecklistWidget, build_context, open_or_resume
from ctpat_audit.workspace.reference import as_workspace, open_workspace


@pytest.fixture
def ws(sample_workspace, tmp_path: Path) -> Path:
    dst = tmp_path / "ws"
    shutil.copytree(sample_workspace.path, dst)
    return dst


WHEN = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)


def _partner(ws: Path, *, types: int = 1, flagged: bool = False, facilities: int = 1) -> str:
    """A sample partner with at least this many entity types / facilities (and exam flags)."""
    from ctpat_audit.analysis.exam_flags import flagged_criteria

    w = open_workspace(ws)
    for acc in w.partners()["account_id"]:
        p = w.partner(str(acc))
        crit_flags = flagged_criteria(p.shipments)["criterion_id"].dropna()
        if (len(p.entity_types) >= types and len(p.facilities) >= facilities
                and (not flagged or len(crit_flags))):
            return str(acc)
    pytest.skip("sample workspace has no such partner")


def _db_answers(ws: Path, session_id: str) -> dict[tuple[str, str], tuple]:
    conn = sqlite3.connect(as_workspace(ws).db_path)
    try:
        rows = conn.execute("SELECT criterion_id, facility_id, status, method, notes FROM answers "
                            "WHERE session_id = ?", (session_id,)).fetchall()
    finally:
        conn.close()
    return {(r[0], r[1]): r[2:] for r in rows}


def test_dropdowns_and_notes_save_at_once_and_header_counts(ws):
    acc = _partner(ws, types=2)
    with open_session(ws, acc, "validation", "virtual", "spec@cbp.example") as s:
        w = ChecklistWidget(s)
        assert "DEMONSTRATION" in w.header.value and f"0/{len(s.criteria)}" in w.header.value
        # only one category's cards exist (paged), and they all belong to it
        assert 0 < len(w.cards) < len(s.criteria)
        assert {c.info.category for c in w.cards.values()} == {w.category}
        should = next(c for c in w.cards.values() if c.info.level == "Should")
        should.status.value = "not_verified"
        should.notes.value = "Seal log not shown on the call"
        assert _db_answers(ws, s.id)[(should.info.criterion_id, "")] == (
            "not_verified", None, "Seal log not shown on the call")
        assert f"1/{len(s.criteria)}" in w.header.value
        must = next(c for c in w.cards.values() if c.info.level == "Must")
        must.status.value = "does_not_meet"
        assert must.info.criterion_id in w.header.value.split("not met so far:")[1]


def test_rule_error_is_shown_kept_pending_and_saved_when_fixed(ws):
    acc = _partner(ws)
    with open_session(ws, acc, "validation", "virtual", "spec@cbp.example") as s:
        w = ChecklistWidget(s)
        card = next(c for c in w.cards.values() if c.info.level == "Must")
        card.status.value = "meets"  # virtual: Must needs an observation method first
        assert "Not saved" in card.message.value and "observation method" in card.message.value
        assert "Live video" in card.message.value and "live_video" not in card.message.value
        assert (card.info.criterion_id, "") not in _db_answers(ws, s.id)
        card.method.value = "live_video"
        assert _db_answers(ws, s.id)[(card.info.criterion_id, "")][:2] == ("meets", "live_video")
        assert "Saved" in card.message.value and card.pending == {}


def test_evidence_upload_is_stored_by_hash_and_the_button_counts_what_is_stored(ws):
    acc = _partner(ws)
    with open_session(ws, acc, "validation", "virtual", "spec@cbp.example") as s:
        card = next(iter(ChecklistWidget(s).cards.values()))
        assert card.upload.count == 0 and "no evidence files yet" in card.evidence.value
        data = b"%PDF-1.4 seal log"
        # what the browser's file picker sends: a message naming the files, their bytes
        card.upload._message(card.upload, {"kind": "files", "names": ["seal_log.pdf"]},
                             [memoryview(data)])
        ev = s.evidence()
        assert list(ev["name"]) == ["seal_log.pdf"]
        digest = hashlib.sha256(data).hexdigest()
        assert ev["sha256"].iloc[0] == digest
        assert (ws / "evidence" / digest[:2] / digest).read_bytes() == data
        assert card.upload.count == 1 and "seal_log.pdf" in card.evidence.value
        card.upload.receive([("photo.jpg", b"\xff\xd8 gate"), ("log.csv", b"a,b")])
        assert card.upload.count == 3  # the button reads "Evidence (3)"
        fresh = ChecklistWidget(s).cards[card.info.criterion_id]  # a new page: the stored count
        assert fresh.upload.count == 3 and "seal_log.pdf" in fresh.evidence.value
        card.upload.receive([("../evil.pdf", b"x")])
        assert card.upload.count == 3
        assert "Not attached" in card.message.value and len(s.evidence()) == 3


def test_next_unanswered_filters_and_paging(ws):
    acc = _partner(ws, flagged=True)
    with open_session(ws, acc, "validation", "virtual", "spec@cbp.example") as s:
        w = ChecklistWidget(s)
        flagged = [i for i in w.context.criteria if i.flag]
        assert flagged and w.context.criteria[0].flag  # flagged first
        assert w.category == flagged[0].category  # opens on the most pressing category
        w.flagged_only.value = True
        assert all(c.info.flag for c in w.cards.values())
        w.flagged_only.value = False
        first = w.context.criteria[0].criterion_id
        w.next_button.click()
        assert w.focus == s.criteria[0].criterion_id or w.focus == first
        s.answer(w.focus, status="not_applicable")
        before = w.focus
        w.next_button.click()
        assert w.focus != before and w.focus in w.cards
        w.cards[w.focus].status.value = "does_not_meet"
        w.status_filter.value = "does_not_meet"
        assert list(w.cards) == [w.focus]
        w.status_filter.value = "unanswered"
        assert w.focus not in w.cards
        w.focus_area.value = "Corporate Security"
        assert all(c.info.category <= 4 for c in w.cards.values())
        assert all(lbl.split(".")[0].lstrip("* ") in "1234" for lbl, _ in w.page_choice.options)
        w.page_choice.value = w.page_choice.options[-1][1]
        assert w.category == w.page_choice.options[-1][1]


def test_in_person_facility_selector_answers_per_facility(ws):
    acc = _partner(ws, facilities=2)
    with open_or_resume(ws, acc, "validation", "in_person", "spec@cbp.example") as s:
        assert len(s.facilities) >= 2
        w = ChecklistWidget(s)
        cid = next(iter(w.cards))
        w.cards[cid].status.value = "meets"
        w.facility.value = s.facilities[1]
        assert w.facility_id == s.facilities[1]
        assert w.cards[cid].status.value == ""  # nothing answered at the second site yet
        w.cards[cid].status.value = "does_not_meet"
        got = _db_answers(ws, s.id)
        assert got[(cid, s.facilities[0])][0] == "meets"
        assert got[(cid, s.facilities[1])][0] == "does_not_meet"


def test_resume_shows_saved_answers_and_previous_validation_finding(ws):
    acc = _partner(ws)
    with open_or_resume(ws, acc, "validation", "virtual", "old@cbp.example") as old:
        cid = old.criteria[0].criterion_id
        old.answer(cid, status="does_not_meet", notes="No seal log")
        old.submit("old@cbp.example")
    with open_or_resume(ws, acc, "validation", "virtual", "spec@cbp.example") as s:
        assert s.id != old.id
        ctx = build_context(s, as_of=dt.date(2026, 11, 1))
        info = next(i for i in ctx.criteria if i.criterion_id == cid)
        assert old.id in info.previous_finding and "Does not meet: No seal log" in (
            info.previous_finding)
        assert info.response_now.startswith("2026:") and info.response_before.startswith("2025:")
        assert info.guide_label.startswith("Request") and info.requirement
        s.answer(cid, status="not_verified", notes="asked again")
        sid = s.id
    with open_or_resume(ws, acc, "validation", "virtual", "spec@cbp.example") as again:
        assert again.id == sid  # the open session is resumed
        w = ChecklistWidget(again)
        w.category = again.criteria[0].category
        assert w.cards[cid].status.value == "not_verified"
        assert w.cards[cid].notes.value == "asked again"


def test_benchmark_builds_the_checklist_of_a_partner_with_150_plus_criteria(ws):
    # the speed target (checklist_render_s <= 1.5) is checked by `make bench`, not here
    result = benchmark_checklist(ws)
    assert result["criteria"] >= 150
    assert 0 < result["checklist_render_s"] and 0 < result["checklist_page_switch_max_s"]


def test_notes_save_while_typing_within_a_second_of_the_last_keystroke(ws):
    import asyncio

    from ctpat_audit.ui.checklist import NOTES_SAVE_DELAY_S

    assert NOTES_SAVE_DELAY_S <= 1
    acc = _partner(ws)
    with open_session(ws, acc, "validation", "virtual", "spec@cbp.example") as s:
        w = ChecklistWidget(s)
        first, second = list(w.cards.values())[:2]

        async def type_and_wait() -> None:  # the kernel's event loop runs the delay
            first.notes.value = "Seal"
            first.notes.value = "Seal log kept"
            assert (first.info.criterion_id, "") not in _db_answers(ws, s.id)  # not per key
            await asyncio.sleep(NOTES_SAVE_DELAY_S + 0.3)
            assert _db_answers(ws, s.id)[(first.info.criterion_id, "")][2] == "Seal log kept"
            second.notes.value = "Typed, then the status chosen at once"
            second.status.value = "not_verified"  # saves the waiting notes with it
            assert _db_answers(ws, s.id)[(second.info.criterion_id, "")] == (
                "not_verified", None, "Typed, then the status chosen at once")
            second.notes.value = "Typed, then another page"
            w.category = next(c for _l, c in w.page_choice.options if c != w.category)
            assert _db_answers(ws, s.id)[(second.info.criterion_id, "")][2] == (
                "Typed, then another page")
            assert not second.notes_timer.waiting

        asyncio.run(type_and_wait())
        history = s.history()
        assert (history["action"] == "answer").sum() == 3  # one entry per pause, not per key


def test_header_shows_progress_per_category_and_follows_every_save(ws):
    acc = _partner(ws)
    with open_session(ws, acc, "validation", "virtual", "spec@cbp.example") as s:
        w = ChecklistWidget(s)
        first = next(iter(w.cards.values()))
        name = next(c.name for c in __import__("ctpat_audit.core.vocabulary", fromlist=["x"])
                    .CATEGORIES if c.number == first.info.category)
        n_cat = sum(c.category == first.info.category for c in s.criteria)
        assert f"{name} <b>0/{n_cat}</b>" in w.header.value and "width:0%" in w.header.value
        assert "spec@cbp.example" in w.header.value and ">Open<" in w.header.value
        first.notes.value = "A note alone is not an answer"  # saved (no running loop: at once)
        first.status.value = "not_applicable"
        assert f"{name} <b>1/{n_cat}</b>" in w.header.value
        assert f"1/{len(s.criteria)} answered" in w.header.value


def test_next_unanswered_follows_the_order_on_screen(ws):
    acc = _partner(ws, flagged=True)
    with open_session(ws, acc, "validation", "virtual", "spec@cbp.example") as s:
        w = ChecklistWidget(s)
        pages = [c for _l, c in w.page_choice.options]
        assert pages[0] in w.context.flagged_categories  # most pressing page first
        order = [i.criterion_id for i in w.screen_order()]
        assert pages == list(dict.fromkeys(int(x.split(".")[0]) for x in order))
        # from the last criterion of the first page, the next is the first of the second page
        last_first_page = [i.criterion_id for i in w.screen_order() if i.category == pages[0]][-1]
        w.focus = last_first_page
        assert w.go_next() == next(i.criterion_id for i in w.screen_order()
                                   if i.category == pages[1])
        # with "Unanswered" shown, answering the one shown moves on, not back to the top
        w.status_filter.value = "unanswered"
        here = w.focus
        w.cards[here].status.value = "not_applicable"
        expected = order[order.index(here) + 1]
        assert w.next_button.click() is None and w.focus == expected


def test_notes_are_saved_after_the_pause_inside_a_real_kernel(ws, tmp_path: Path):
    """The delay runs on the kernel's own event loop (not only on a test's asyncio.run)."""
    import nbformat
    from nbclient import NotebookClient

    acc = str(open_workspace(ws).partners()["account_id"].iloc[0])
    setup = (f"from ctpat_audit.ui.session_page import SessionPage\n"
             f"from ctpat_audit.ui.checklist import ChecklistWidget\n"
             f"page = SessionPage({str(ws)!r}, {acc!r}, 'validation', 'virtual', 'k@cbp.example')\n"
             "card = next(iter(ChecklistWidget(page).cards.values()))\n"
             "card.notes.value = 'typed in the kernel'\n"
             "print(card.notes_timer.waiting, page.session.id, card.info.criterion_id)")
    wait = "import asyncio\nawait asyncio.sleep(1.5)\nprint(card.notes_timer.waiting)"
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(setup),
                                         nbformat.v4.new_code_cell(wait)])
    NotebookClient(nb, kernel_name="python3", timeout=120,
                   resources={"metadata": {"path": str(tmp_path)}}).execute()
    waiting, sid, cid = nb.cells[0].outputs[0]["text"].split()
    assert waiting == "True"  # not saved per keystroke: the kernel's loop holds the timer
    assert nb.cells[1].outputs[0]["text"].strip() == "False"
    conn = sqlite3.connect(as_workspace(ws).db_path)
    notes = conn.execute("SELECT notes FROM answers WHERE session_id = ? AND criterion_id = ?",
                         (sid, cid)).fetchone()
    conn.close()
    assert notes == ("typed in the kernel",)


def test_exam_flags_on_a_card_name_each_discrepancy_once(ws):
    from ctpat_audit.core.vocabulary import EXAM_RESULTS

    acc = _partner(ws, flagged=True)
    with open_session(ws, acc, "validation", "virtual", "spec@cbp.example") as s:
        ctx = build_context(s)
        flagged = [i for i in ctx.criteria if i.flag]
        assert flagged
        for info in flagged:
            for label in EXAM_RESULTS.values():
                assert info.flag.count(label + " x") <= 1, info.flag


def _shown_text(widget) -> str:  # type: ignore[no-untyped-def]
    """Every text a person can read in a widget tree: HTML, labels, descriptions, options."""
    import ipywidgets as widgets

    parts = [str(getattr(widget, "description", "") or "")]
    if isinstance(widget, widgets.HTML | widgets.Label):
        parts.append(widget.value)
    if isinstance(widget, widgets.Dropdown):
        parts += [str(label) for label, _value in widget.options] if widget.options and \
            isinstance(widget.options[0], tuple) else [str(o) for o in widget.options]
    if isinstance(widget, widgets.Box):
        parts += [_shown_text(child) for child in widget.children]
    return "\n".join(parts)


def test_what_the_page_says_uses_labels_never_internal_codes(ws):
    """Refusals, the lock, the gate, the gaps and the header read as the dropdowns do."""
    import re

    from ctpat_audit.analysis.exam_flags import DISCREPANCIES
    from ctpat_audit.core import vocabulary as v
    from ctpat_audit.ui.gap_view import GapView
    from ctpat_audit.ui.session_page import SessionPage
    from ctpat_audit.ui.submit_panel import SubmitPanel

    codes = [c for c in (*v.ANSWER_STATUSES, *v.OBSERVATION_METHODS, *v.SESSION_STATUSES,
                         *v.SESSION_MODES, *v.SESSION_KINDS, *DISCREPANCIES) if "_" in c]
    acc = _partner(ws, flagged=True)
    page = SessionPage(ws, acc, "validation", "virtual", "spec@cbp.example")
    w, gaps, submit = ChecklistWidget(page, as_of=dt.date(2026, 11, 1)), GapView(page), \
        SubmitPanel(page)
    must = next(c for c in w.cards.values() if c.info.level == "Must")
    must.status.value = "meets"  # refused: a virtual Must needs an observation method
    must.upload.receive([("../evil.pdf", b"x")])  # refused file name
    seen = [_shown_text(x) for x in (page.chooser(), w, gaps, submit)]
    other = next(c for c in w.cards.values() if c is not must)
    other.status.value = "not_verified"
    submit.incomplete.value = True
    submit.reason.value = "Site closed"
    submit.submit()
    assert page.read_only
    seen += [_shown_text(x) for x in (page.chooser(), w, gaps, submit)]
    text = "\n".join(seen)
    assert "Live video" in text and "Submitted, read-only" in text and "Not verified" in text
    found = [c for c in codes if re.search(rf"\b{c}\b", text)]
    assert found == [], found


def test_a_suspended_partner_is_announced_at_the_top_of_the_checklist(ws):
    acc = _partner(ws)
    conn = sqlite3.connect(as_workspace(ws).db_path)
    with conn:
        conn.execute("UPDATE partners SET status = 'suspended' WHERE account_id = ?", (acc,))
    conn.close()
    with open_session(ws, acc, "validation", "virtual", "spec@cbp.example") as s:
        header = ChecklistWidget(s).header.value
    assert header.startswith("<div class='ctpat-partner-status'")
    assert f"Partner {acc} is suspended</b> in the CTPAT program" in header
