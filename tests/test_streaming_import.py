"""The long tables are read, checked and staged in batches: batches change nothing a user sees
(the data imported, the problems and their rows), and the portfolio's exam counts kept beside
the shipments file add up to the shipments themselves."""
from __future__ import annotations

import datetime as dt
import errno

import pandas as pd
import pyarrow.parquet as pq
import pytest
from sample_helpers import few_criteria

from ctpat_audit.analysis.exam_metrics import portfolio_exam_rates
from ctpat_audit.analysis.portfolio import window_exam_rates
from ctpat_audit.core.errors import IntakeError
from ctpat_audit.demo import sample_data
from ctpat_audit.demo.sample_data import SampleSpec, build_sample, write_sample
from ctpat_audit.intake import importer
from ctpat_audit.intake.importer import check_source, import_source
from ctpat_audit.intake.problem_log import LISTED_PER_KIND
from ctpat_audit.workspace import shipment_counts
from ctpat_audit.workspace.reference import init_workspace

AS_OF = dt.date(2026, 11, 1)


@pytest.fixture
def source(tmp_path):
    return write_sample(tmp_path / "source", partners=12, seed=3, as_of=AS_OF,
                        shipments_per_partner=40, criteria_for=few_criteria)


def test_batches_import_the_same_data_as_one_batch(tmp_path, source, monkeypatch):
    whole = init_workspace(tmp_path / "whole")
    import_source(whole, source, progress=False)
    monkeypatch.setattr(importer, "BATCH_ROWS", 37)  # many batches, none aligned with a partner
    batched = init_workspace(tmp_path / "batched")
    summary = import_source(batched, source, progress=False)
    assert summary.rows["shipments"] == len(whole.shipments()) > 37 * 3
    pd.testing.assert_frame_equal(batched.shipments(), whole.shipments())
    pd.testing.assert_frame_equal(batched.table("profile_responses"),
                                  whole.table("profile_responses"))
    for ws in (whole, batched):  # sorted by partner, in row groups a reader can skip
        meta = pq.ParquetFile(ws.shipments_path()).metadata
        assert meta.row_group(0).column(0).statistics.has_min_max


def test_problems_across_batches_are_located_and_counted_once(tmp_path, source, monkeypatch):
    ships = pd.read_parquet(source / "shipments.parquet")
    for c in ships.columns:
        if pd.api.types.is_datetime64_any_dtype(ships[c]):
            ships[c] = ships[c].dt.strftime("%Y-%m-%d")
    (source / "shipments.parquet").unlink()
    bad = 3 * LISTED_PER_KIND // 2
    ships.loc[ships.index[5:5 + bad], "mode"] = "boat"  # spread over several batches
    ships.loc[ships.index[200], "entry_id"] = ships["entry_id"].iloc[3]  # a later batch
    ships.to_csv(source / "shipments.csv", index=False)
    monkeypatch.setattr(importer, "BATCH_ROWS", 7)
    problems = IntakeError(check_source(source).problems).frame()
    boat = problems[problems["code"] == "unknown_value"]
    assert list(boat["row"].iloc[:LISTED_PER_KIND]) == list(range(7, 7 + LISTED_PER_KIND))
    assert len(boat) == LISTED_PER_KIND + 1
    assert f"{bad - LISTED_PER_KIND} more rows" in boat["expected"].iloc[-1]
    dup = problems[problems["code"] == "duplicate_key"]
    assert list(dup["row"]) == [202] and dup["value"].iloc[0] == ships["entry_id"].iloc[3]
    assert "only once in shipments" in dup["expected"].iloc[0]


def test_a_refused_import_leaves_no_staging_behind(tmp_path, source):
    ws = init_workspace(tmp_path / "ws")
    (source / "entities.csv").write_text("account_id,entity_type\n9999999,importer\n")
    with pytest.raises(IntakeError):
        import_source(ws, source, progress=False)
    assert [p.name for p in (ws.path / "exams").iterdir()] == []


@pytest.mark.parametrize("writable", [True, False])
def test_window_counts_add_up_to_the_shipments(tmp_path, source, monkeypatch, writable):
    ws = init_workspace(tmp_path / "ws")
    import_source(ws, source, progress=False)
    kept = sorted(p.name.split(".")[1] for p in (ws.path / "exams").glob("*.exam-*.parquet"))
    assert kept == ["exam-days", "exam-months"]  # written by the import
    if not writable:  # a read-only copy without them: counted from the shipments themselves
        for p in (ws.path / "exams").glob("*.exam-*.parquet"):
            p.unlink()

        def refuse(path, mode=None):
            raise PermissionError(errno.EACCES, "read-only", str(path))
        monkeypatch.setattr(shipment_counts, "replacing", refuse)
    ships = ws.shipments(columns=["account_id", "entry_date", "port_code", "mode", "examined"])
    for as_of, months in [(AS_OF, 12), (dt.date(2026, 10, 17), 12), (dt.date(2026, 3, 31), 1),
                          (dt.date(2026, 7, 15), 1), (dt.date(2025, 5, 2), 7)]:
        got = window_exam_rates(ws, as_of, months)
        want = portfolio_exam_rates(ships, as_of=as_of, months=months, by=("port_code", "mode"))
        pd.testing.assert_frame_equal(got, want, check_dtype=False)
    kept = sorted(p.name.split(".")[1] for p in (ws.path / "exams").glob("*.exam-*.parquet"))
    assert kept == (["exam-days", "exam-months"] if writable else [])


def test_the_sample_written_in_groups_is_the_sample(tmp_path, monkeypatch):
    monkeypatch.setattr(sample_data, "PARTNERS_PER_GROUP", 7)
    spec = SampleSpec(partners=20, seed=4, as_of=AS_OF, shipments_per_partner=30)
    frames = build_sample(spec, criteria_for=few_criteria)
    out = write_sample(tmp_path / "s", partners=20, seed=4, as_of=AS_OF,
                       shipments_per_partner=30, criteria_for=few_criteria)
    assert len(frames["partners"]) == 20 and len(frames["shipments"]) == 600
    assert frames["shipments"]["entry_id"].is_unique
    written = pd.read_parquet(out / "shipments.parquet")
    pd.testing.assert_frame_equal(written.astype(str), frames["shipments"].astype(str))
    assert check_source(out).problems == []


# --- readers in batches -------------------------------------------------------------------

def _batches(path, rows):
    from ctpat_audit.intake import sources

    items = list(sources.read_batches(path, path.name, rows))
    return ([i for i in items if isinstance(i, sources.RawTable)],
            [i for i in items if not isinstance(i, sources.RawTable)])


def test_csv_batches_keep_row_numbers_and_locate_a_late_bad_byte(tmp_path):
    path = tmp_path / "contacts.csv"
    lines = ["account_id,name"] + [f"{i:04d},Name {i}" for i in range(50)]
    path.write_text("\n".join(lines) + "\n")
    tables, problems = _batches(path, 8)
    # the first batch holds the header line too
    assert not problems and [t.first_row for t in tables] == [2, 9, 17, 25, 33, 41, 49]
    assert tables[1].frame["account_id"].iloc[0] == "0007"  # row 9 of the file
    path.write_bytes(("\n".join(lines[:40]) + "\n").encode() + b"0039,Jos\xe9\n"
                     + ("\n".join(lines[41:]) + "\n").encode() * 20_000)  # past pandas' buffer
    tables, problems = _batches(path, 8)
    assert [(p.code, p.row) for p in problems] == [("not_utf8", 41)]


def _parquet_with_damaged_text(path, rows: int, bad_row: int) -> None:
    """A Parquet file whose ``legal_name`` of record ``bad_row`` (from 1) holds bytes that are
    not UTF-8, as a damaged file can: written uncompressed, then one byte changed in place."""
    import pyarrow as pa

    names = [f"Name {i:05d}" for i in range(rows)]
    names[bad_row - 1] = "\u00c9\u00dasXYZ"
    table = pa.table({"account_id": [f"{i:07d}" for i in range(rows)], "legal_name": names})
    pq.write_table(table, path, compression="none", row_group_size=rows)
    data = path.read_bytes()
    at = data.index("\u00c9\u00dasXYZ".encode())
    path.write_bytes(data[:at + 1] + b"\xd9" + data[at + 2:])  # \xc3\xd9: not UTF-8


@pytest.mark.parametrize("batch_rows", [None, 8])
def test_parquet_text_that_is_not_utf8_is_a_located_problem(tmp_path, batch_rows):
    from ctpat_audit.intake import sources

    path = tmp_path / "partners.parquet"
    _parquet_with_damaged_text(path, 30, 19)
    items = list(sources.read_batches(path, path.name, batch_rows))
    problems = [i for i in items if not isinstance(i, sources.RawTable)]
    assert [(p.file, p.row, p.column, p.code) for p in problems] == [
        ("partners.parquet", 19, "legal_name", "not_utf8")]
    checked = check_source(path)  # the whole check says so too, and raises nothing
    assert [(p.row, p.column, p.code) for p in checked.problems] == [(19, "legal_name",
                                                                      "not_utf8")]


def test_csv_line_with_too_many_fields_in_a_late_batch_is_named_by_its_line(tmp_path):
    path = tmp_path / "contacts.csv"
    rows = ["account_id,name"] + [f"{i:04d},Name {i}" for i in range(30)]
    rows[25] += ",extra"
    path.write_text("\n".join(rows) + "\n")
    _, problems = _batches(path, 4)
    assert [(p.code, p.row, p.value) for p in problems] == [("unreadable_csv", 26, "3 fields")]


def test_workbook_batches_drop_only_the_blank_rows_at_the_end(tmp_path):
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.title = "contacts"
    ws.append(["account_id", "name"])
    for i in range(9):
        ws.append([f"{i:04d}", f"Name {i}"] if i != 4 else [None, None])  # row 6 blank
    for _ in range(5):
        ws.append([None, None])
    wb.save(tmp_path / "c.xlsx")
    tables, problems = _batches(tmp_path / "c.xlsx", 3)
    assert not problems
    assert [t.first_row for t in tables] == [2, 5, 8]
    assert sum(len(t.frame) for t in tables) == 9  # the blank row inside is kept
    assert tables[1].frame.iloc[1].tolist() == ["", ""]
