"""The report end to end: one rendered report (module fixture) checked as notebook, HTML, PDF
and workbook, with a hostile partner name; a broken session leaves a marked notebook."""
from __future__ import annotations

import datetime as dt
import re
import subprocess
from pathlib import Path

import nbformat
import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st
from report_helpers import HOSTILE, sample_workspace_with_sessions, set_legal_name

from ctpat_audit.cli import main
from ctpat_audit.core.errors import ReportError
from ctpat_audit.core.text import BIDI_CONTROLS
from ctpat_audit.reports.pipeline import Renderer, network_urls
from ctpat_audit.reports.sections import SECTIONS
from ctpat_audit.sessions.findings import session_findings
from ctpat_audit.sessions.session import resume_session

REPORT_DATE = "2026-10-15"


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    root = tmp_path_factory.mktemp("report")
    ws, ids = sample_workspace_with_sessions(root, validations=1, self_assessments=1)
    sid = ids["validations"][0]
    with resume_session(ws, sid) as s:
        account = s.account_id
    set_legal_name(ws, account, HOSTILE)
    out = root / "reports"
    with Renderer(ws.path, out, as_of=REPORT_DATE) as r:
        folder = r.render(sid)
    findings = session_findings(ws, sid, dt.date.fromisoformat(REPORT_DATE))
    return {"ws": ws, "sid": sid, "account": account, "folder": folder, "out": out,
            "findings": findings}


def test_folder_layout_and_notebook_has_no_error(rendered):
    folder = rendered["folder"]
    assert folder == rendered["out"] / rendered["account"] / rendered["sid"]
    assert sorted(p.name for p in folder.iterdir()) == ["report.html", "report.ipynb",
                                                        "report.pdf", "report.xlsx"]
    assert not list((rendered["out"] / ".tmp").iterdir())  # no half-written leftovers
    nb = nbformat.read(folder / "report.ipynb", as_version=4)
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    assert outputs and not [o for o in outputs if o.output_type == "error"]
    assert any("application/vnd.ctpat.summary+json" in o.get("data", {}) for o in outputs)


def test_html_sections_toc_and_no_code_or_network(rendered):
    text = (rendered["folder"] / "report.html").read_text(encoding="utf-8")
    found = [re.search(rf'<h2[^>]*\bid="{key}"', text) for key, _ in SECTIONS]
    assert None not in found
    positions = [m.start() for m in found]
    assert positions == sorted(positions)
    for key, _ in SECTIONS:
        assert f'href="#{key}"' in text  # table of contents
    assert rendered["sid"] in text.split("<main>")[0]  # header carries the identity
    assert "@media print" in text
    assert network_urls(text) == [] and "<script" not in text.lower()
    assert "rc.show_" not in text and "load_context" not in text  # no code cells
    assert "Not signed" in text and "DEMONSTRATION" in text
    alts = re.findall(r'<svg [^>]*role="img" aria-label="([^"]*)"', text)  # vector charts,
    assert alts == ["Exam rate by port and mode", "Exams by type", "Exam rate by month"]
    assert "data:image/png" not in text  # described by their titles
    for r in rendered["findings"].findings.itertuples():
        assert f"<td>{r.finding_id}</td>" in text


def test_hostile_partner_name_is_inert_everywhere(rendered):
    text = (rendered["folder"] / "report.html").read_text(encoding="utf-8")
    assert "<script>alert" not in text and "<img src=x" not in text
    assert not re.search(r"<[^>]+\son\w+\s*=", text)  # no event-handler attributes
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    pdf_text = subprocess.run(["pdftotext", "-layout", str(rendered["folder"] / "report.pdf"),
                               "-"], capture_output=True, text=True, check=True).stdout
    assert "<script>alert(1)</script>" in pdf_text  # shown as text, readable
    from openpyxl import load_workbook

    wb = load_workbook(rendered["folder"] / "report.xlsx")
    cell = wb["Summary"]["B4"] if wb["Summary"]["A4"].value == "Partner" else None
    assert cell is not None and cell.value == HOSTILE and cell.data_type == "s"
    for ws in wb.worksheets:
        for row in ws.iter_rows():
            for c in row:
                assert c.data_type != "f", (ws.title, c.coordinate)


def test_pdf_holds_every_requirement_and_due_date(rendered):
    pdf = rendered["folder"] / "report.pdf"
    text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True,
                          check=True).stdout
    f = rendered["findings"].findings
    req = f[f["kind"] == "Requirement"]
    assert len(req) >= 1
    due = (dt.date.fromisoformat(REPORT_DATE) + dt.timedelta(days=90)).isoformat()
    flat = re.sub(r"\s+", "", text)
    for r in req.itertuples():
        assert r.finding_id in text and r.criterion_id in text
        assert r.due_date.isoformat() == due
    assert due in flat
    assert "Signatures" in text and "page 1 of" in text
    info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True,
                          check=True).stdout
    assert "595.92 x 842.88" in info or "595 x 842" in info  # A4


def test_workbook_sheets_and_styles(rendered):
    from openpyxl import load_workbook

    wb = load_workbook(rendered["folder"] / "report.xlsx")
    assert wb.sheetnames == ["Summary", "Findings", "Checklist", "Exams"]
    for ws in wb.worksheets:
        assert "DEMONSTRATION" in str(ws["A2"].value)
    fs = wb["Findings"]
    head = [c.value for c in fs[4]]
    assert head[:3] == ["finding_id", "kind", "criterion_id"]
    assert {"due_date", "owner", "partner_response"} <= set(head)
    assert fs["A4"].fill.fgColor.rgb.endswith("1F3864") and fs["A4"].font.bold
    assert fs.freeze_panes == "A5" and fs.auto_filter.ref.startswith("A4:")
    assert len(fs.conditional_formatting) >= 1
    due_col = head.index("due_date") + 1
    f = rendered["findings"].findings
    first_req = f[f["kind"] == "Requirement"].iloc[0]
    assert fs.cell(5, due_col).value.date() == first_req["due_date"]
    ck = wb["Checklist"]
    assert ck.max_row - 4 == len(rendered["findings"].answers)
    assert len(ck.conditional_formatting) >= 1


def test_broken_session_marks_notebook_and_names_cell(rendered, tmp_path):
    ws = rendered["ws"]
    with Renderer(ws.path, tmp_path, formats=("ipynb",)) as r, \
            pytest.raises(ReportError) as info:
        r.render("V-AAAAAAAAAA")  # well formed, not in the workspace
    err = info.value
    assert err.cell_index is not None and "load_context" in err.source
    assert "NotFoundError" in str(err) and f"cell {err.cell_index}" in str(err)
    nb = nbformat.read(err.notebook, as_version=4)
    failed = nb.cells[err.cell_index]
    assert [o for o in failed.outputs if o.output_type == "error"]
    assert not (tmp_path / "V-AAAAAAAAAA").exists()
    assert [p.name for p in tmp_path.iterdir() if not p.name.startswith(".")] == ["_failed"]
    # the CLI prints the same error and exits 1
    res = CliRunner().invoke(main, ["report", "-w", str(ws.path), "--session", "V-AAAAAAAAAA",
                                    "--out", str(tmp_path / "cli"), "--format", "ipynb"])
    assert res.exit_code == 1 and "notebook cell" in res.output


def test_bad_ids_and_options_refused(rendered, tmp_path):
    from ctpat_audit.core.errors import InputError

    with Renderer(rendered["ws"].path, tmp_path) as r, pytest.raises(InputError):
        r.render("../../etc")
    with pytest.raises(ReportError):
        Renderer(rendered["ws"].path, tmp_path, paper="A3")
    assert list(Path(tmp_path).iterdir()) == []  # nothing written for a refused id


def test_long_unbroken_values_get_break_opportunities_and_stay_escaped():
    """A 40+ character run without spaces wraps inside its column (<wbr> every 20
    characters) instead of pushing the table's last columns off the printed page."""
    import html as html_mod

    from ctpat_audit.reports.sections import esc

    hostile = "<script>alert(1)</script>" * 8
    out = esc(f"note {hostile} end")
    assert "<script" not in out and out.count("<wbr>") == (len(hostile) - 1) // 20
    assert html_mod.unescape(out.replace("<wbr>", "")) == f"note {hostile} end"
    assert esc("sha256:" + "a" * 64).count("<wbr>") == 3
    assert "<wbr>" not in esc("short words only, " * 10)



@given(st.text(max_size=120))
def test_esc_is_inert_shows_unsafe_characters_and_isolates_bidi(text):
    import html as html_mod

    from ctpat_audit.core.text import UNSAFE, balanced, visible
    from ctpat_audit.reports.sections import esc, esc_attr

    out = esc(text)
    assert not UNSAFE.search(out)
    assert set(re.findall(r"<[^>]*>", out)) <= {"<bdi>", "</bdi>", "<wbr>"}
    assert out.startswith("<bdi>") == any(ch in BIDI_CONTROLS for ch in text)
    assert html_mod.unescape(re.sub(r"</?bdi>|<wbr>", "", out)) == balanced(visible(text))
    attr = esc_attr(text)
    assert "<" not in attr and '"' not in attr and html_mod.unescape(attr) == visible(text)

#: an unterminated right-to-left override, after a pop-isolate meant to close the isolate
BIDI_NAME = "Frontera \u2069\u202eAuto Parts\uffff S.A."


@pytest.fixture(scope="module")
def bidi_rendered(rendered, tmp_path_factory):
    """The same session rendered again for a partner whose legal name holds an unterminated
    U+202E (and a noncharacter, as a row stored before intake refused them)."""
    ws, account = rendered["ws"], rendered["account"]
    set_legal_name(ws, account, BIDI_NAME)
    try:
        with Renderer(ws.path, tmp_path_factory.mktemp("bidi"), as_of=REPORT_DATE) as r:
            folder = r.render(rendered["sid"])
    finally:
        set_legal_name(ws, account, HOSTILE)
    return folder


def test_bidi_controls_in_a_name_do_not_reverse_the_account_id(rendered, bidi_rendered):
    account = rendered["account"]
    pdf = bidi_rendered / "report.pdf"
    for mode in ([], ["-raw"], ["-layout"]):
        text = subprocess.run(["pdftotext", *mode, str(pdf), "-"], capture_output=True,
                              text=True, check=True).stdout
        # the text layer keeps the direction marks of each run; what is drawn is in order
        flat = re.sub(rf"[\s{BIDI_CONTROLS}]", "", text)
        assert f"({account})" in flat, mode  # running header: name (account)
        assert f"account{account}" in flat, mode  # cover: name, account ...
        assert account[::-1] not in flat, mode
    page = (bidi_rendered / "report.html").read_text(encoding="utf-8")
    shown = "Frontera \u202eAuto Parts\ufffd S.A."  # isolated, balanced, U+FFFF visible
    assert f"<b><bdi>{shown}</bdi></b>, account {account}" in page
    assert "\uffff" not in page
    from openpyxl import load_workbook

    wb = load_workbook(bidi_rendered / "report.xlsx")
    assert wb["Summary"]["B4"].value == BIDI_NAME.replace("\uffff", "\ufffd")  # plain text


def test_an_account_id_that_cannot_name_a_folder_is_refused_before_any_work(rendered,
                                                                           tmp_path):
    """A partner stored before intake refused such ids: report and batch refuse its session
    at once, without executing the notebook."""

    from ctpat_audit.batch.worker import BatchSettings, ReportTask, render_one
    from ctpat_audit.reports.pipeline import DEFAULT_TEMPLATE
    from ctpat_audit.sessions.session import open_session

    ws = rendered["ws"]
    conn = ws.connect()
    try:
        with conn:
            conn.execute("INSERT INTO partners SELECT '../../evil', legal_name, status, "
                         "certification_date, last_validation_date, last_validation_type, "
                         "profile_anniversary, last_profile_review_date FROM partners "
                         "WHERE account_id = ?", (rendered["account"],))
    finally:
        conn.close()
    with open_session(ws, "../../evil", "validation", "virtual", "spec@cbp.example",
                      criteria=[("1.1", "Should")], catalogue_version="test") as s:
        sid = s.id
    out = tmp_path / "out"
    with Renderer(ws.path, out) as r, pytest.raises(ReportError, match="safe folder name"):
        r.render(sid)
    res = render_one(ReportTask(sid, "../../evil", "-"),
                     BatchSettings(str(ws.path), str(out), str(DEFAULT_TEMPLATE)))
    # refused before any work (tests/test_pipeline.py checks that no kernel was handed out)
    assert (res.status, res.step) == ("failed", "publish") and "safe folder name" in res.error
    assert not out.exists() or not any(out.rglob("*"))
    assert not (tmp_path.parent / "evil").exists()


def _without_timestamps(text: str) -> str:
    """Times taken out, and the cell ids (papermill gives its injected-parameters cell a
    random one on every run, whatever the engine)."""
    text = re.sub(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?([+-]\d\d:\d\d|Z)?", "<time>", text)
    return re.sub(r"cell-id=[0-9a-f-]+", "cell-id=<id>", text)


def test_fork_engine_and_a_kernel_render_the_same_report(rendered, tmp_path):
    """The fork engine and papermill's own engine on a new kernel produce the same report:
    identical HTML once timestamps are taken out, and the same outputs in every cell of the
    executed notebook. Both render now, one after the other (other tests of this module add
    to the audit log, whose head the report shows)."""
    with Renderer(rendered["ws"].path, tmp_path / "fork", as_of=REPORT_DATE) as r:
        forked = r.render(rendered["sid"])
    with Renderer(rendered["ws"].path, tmp_path / "kernel", as_of=REPORT_DATE,
                  engine_name=None) as r:
        by_kernel = r.render(rendered["sid"])
    html_fork = (forked / "report.html").read_text(encoding="utf-8")
    html_kernel = (by_kernel / "report.html").read_text(encoding="utf-8")
    assert len(html_fork) > 20_000
    assert _without_timestamps(html_fork) == _without_timestamps(html_kernel)
    nb_fork = nbformat.read(forked / "report.ipynb", as_version=4)
    nb_kernel = nbformat.read(by_kernel / "report.ipynb", as_version=4)
    assert [(c.cell_type, c.get("execution_count"), c.get("outputs")) for c in nb_fork.cells] \
        == [(c.cell_type, c.get("execution_count"), c.get("outputs")) for c in nb_kernel.cells]
    assert nb_fork.metadata.language_info == nb_kernel.metadata.language_info
