"""Hostile source files stop at the door: each case is a located problem (file, sheet, row,
column, value, what was expected), ``ctpat-audit import`` exits 3, and nothing is written.

Every case edits a copy of a real sample source (``small_source``), as a sender of hostile
files would, and imports it over a workspace that already holds that sample.
"""
from __future__ import annotations

import csv
import hashlib
import io
import shutil
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openpyxl import Workbook
from sample_helpers import AS_OF, few_criteria

from ctpat_audit.cli import main
from ctpat_audit.core.errors import IntakeError
from ctpat_audit.core.identifiers import SAFE_ID
from ctpat_audit.demo.sample_data import write_sample
from ctpat_audit.intake.importer import check_source, import_source
from ctpat_audit.workspace.reference import init_workspace
from ctpat_audit.workspace.tables import PROFILE_RESPONSES, TABLES, TABLES_BY_NAME


def tree(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def frames(source: Path) -> dict[str, pd.DataFrame]:
    """Every table of the sample source as text, the way a spreadsheet shows it."""
    out = {}
    for t in TABLES:
        f = next(source.glob(f"{t.name}.*"))
        if f.suffix == ".parquet":
            df = pd.read_parquet(f)
            for c in df.columns:
                if pd.api.types.is_datetime64_any_dtype(df[c]):
                    df[c] = df[c].dt.strftime("%Y-%m-%d")
            df = df.astype("string").fillna("").astype(object)
        elif f.suffix == ".csv":
            df = pd.read_csv(f, dtype=str, keep_default_na=False)
        else:
            df = pd.read_excel(f, dtype=str, keep_default_na=False)
        out[t.name] = df
    return out


def write_csv(folder: Path, name: str, frame: pd.DataFrame) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.csv"
    frame.to_csv(path, index=False)
    return path


def _imported(root: Path):
    source = write_sample(root / "source", partners=12, seed=3, as_of=AS_OF,
                          shipments_per_partner=40, criteria_for=few_criteria)
    ws = init_workspace(root / "ws")
    import_source(ws, source, progress=False)
    return ws, tree(ws.path), frames(source)


@pytest.fixture(scope="module")
def imported(tmp_path_factory):
    """A workspace holding a 12-partner sample, its digest, and the sample's tables as text;
    shared by the tests that must leave it unchanged (``refused`` checks that they do)."""
    return _imported(tmp_path_factory.mktemp("hostile"))


@pytest.fixture
def own(tmp_path):
    """The same, for a test that imports into it."""
    return _imported(tmp_path)


def refused(ws, source: Path, before: dict[str, str]) -> pd.DataFrame:
    """Import through the CLI: exit code 3, a located table of problems, nothing written."""
    res = CliRunner().invoke(main, ["import", "--quiet", "-w", str(ws.path), str(source)])
    assert res.exit_code == 3, res.output
    assert "nothing was imported" in res.output
    assert tree(ws.path) == before
    with pytest.raises(IntakeError) as info:
        import_source(ws, source, progress=False)
    assert tree(ws.path) == before
    return info.value.frame()


def one(problems: pd.DataFrame, code: str) -> pd.Series:
    rows = problems[problems["code"] == code]
    assert len(rows) >= 1, f"no {code} in\n{problems}"
    return rows.iloc[0]


# --- ids stored as numbers in a workbook -------------------------------------------------

def test_numeric_id_cells_in_xlsx_are_refused_over_a_workspace(tmp_path, imported):
    ws, before, tables = imported
    outreach = tables["outreach"]
    wb = Workbook()
    sheet = wb.active
    sheet.title = "outreach"
    sheet.append(list(outreach.columns))
    for row in outreach.itertuples(index=False):
        sheet.append([int(row.account_id), *row[1:]])  # 0278532 typed as a number
    src = tmp_path / "numbers"
    src.mkdir()
    wb.save(src / "outreach.xlsx")
    problems = refused(ws, src, before)
    first = one(problems, "wrong_type")
    assert (first["file"], first["sheet"], first["row"], first["column"]) == \
        ("outreach.xlsx", "outreach", 2, "account_id")
    assert first["value"] == str(int(outreach["account_id"].iloc[0]))
    assert "as Text" in first["expected"] and "leading zeros" in first["expected"]
    assert len(ws.partners()) == 12  # no partner was made from a number


def test_numeric_criterion_ids_in_xlsx_are_refused(tmp_path):
    wb = Workbook()
    sheet = wb.active
    sheet.title = "profile_responses"
    sheet.append(["account_id", "profile_year", "criterion_id", "response_text", "implemented"])
    sheet.append(["0001", 2025, "9.10", "text cell", "true"])
    sheet.append(["0001", 2025, 9.10, "number cell: reads 9.1", "true"])
    path = tmp_path / "book.xlsx"
    wb.save(path)
    problems = IntakeError(check_source(path).problems).frame()
    bad = problems[problems["code"] == "wrong_type"]
    assert list(bad["row"]) == [3] and list(bad["column"]) == ["criterion_id"]
    assert "9.10 becomes 9.1" in bad["expected"].iloc[0]
    assert "profile_year" not in set(problems["column"])  # a number is right for a year


# --- integer columns: declared ranges, no overflow, no traceback --------------------------

def test_every_integer_column_declares_a_range():
    from ctpat_audit.workspace.tables import Column

    ints = [c for t in TABLES for c in t.columns if c.kind == "int"]
    assert ints and all(c.minimum is not None and c.maximum is not None for c in ints)
    year = PROFILE_RESPONSES.column("profile_year")
    assert (year.minimum, year.maximum) == (1990, 2100)
    with pytest.raises(ValueError):
        Column("count", "int")


@pytest.mark.parametrize("value, code", [
    ("70000", "out_of_range"), ("1989", "out_of_range"), ("2101", "out_of_range"),
    ("99999999999999999999", "out_of_range"), ("-5", "out_of_range"), ("inf", "wrong_type"),
    ("-inf", "wrong_type"), ("nan", "wrong_type"), ("NaN", "wrong_type"),
    ("1e3", "wrong_type"), ("2025.5", "wrong_type"), ("0x7e9", "wrong_type"),
])
def test_profile_year_in_csv_is_a_whole_number_from_1990_to_2100(tmp_path, imported, value,
                                                                  code):
    ws, before, tables = imported
    responses = tables["profile_responses"].copy()
    responses.loc[3, "profile_year"] = value
    src = tmp_path / "src"
    write_csv(src, "profile_responses", responses)
    problem = one(refused(ws, src, before), code)
    assert (problem["file"], problem["row"], problem["column"], problem["value"]) == \
        ("profile_responses.csv", 5, "profile_year", value)
    assert problem["expected"] == "a whole number from 1990 to 2100"


@pytest.mark.parametrize("values, dtype, code", [
    ([2025, 70000], "int64", "out_of_range"), ([2025, 2**64 - 1], "uint64", "out_of_range"),
    ([2025.0, float("inf")], "float64", "wrong_type"), ([2025, -2**63], "int64", "out_of_range"),
    ([2025.0, float("nan")], "float64", "missing_value"),
])
def test_profile_year_in_parquet_is_range_checked_in_its_own_type(tmp_path, values, dtype, code):
    src = tmp_path / "src"
    src.mkdir()
    pd.DataFrame({"account_id": ["0001", "0001"], "profile_year": pd.Series(values, dtype=dtype),
                  "criterion_id": ["1.1", "1.2"], "response_text": ["a", "b"],
                  "implemented": [True, True]}).to_parquet(src / "profile_responses.parquet")
    problems = IntakeError(check_source(src).problems).frame()
    problem = one(problems, code)
    assert (problem["row"], problem["column"]) == (2, "profile_year")


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.one_of(st.text(max_size=30), st.integers(-10**30, 10**30).map(str),
                 st.floats(allow_nan=True, allow_infinity=True).map(repr)))
def test_any_profile_year_text_is_a_problem_or_a_year_in_range(tmp_path_factory, value):
    src = tmp_path_factory.mktemp("year")
    buf = io.StringIO()
    csv.writer(buf).writerows([["account_id", "profile_year", "criterion_id"],
                               ["0001", value, "1.1"]])
    (src / "profile_responses.csv").write_text(buf.getvalue(), encoding="utf-8",
                                               errors="surrogatepass")
    checked = check_source(src, bulk_frames=True)  # never a traceback
    years = checked.frames["profile_responses"]["profile_year"]
    mine = [p for p in checked.problems if p.column == "profile_year"]
    if mine:
        assert years.isna().all()
    else:
        assert 1990 <= int(years.iloc[0]) <= 2100


def test_the_profile_parquet_keeps_every_year_it_is_given(tmp_path, own):
    import pyarrow.parquet as pq

    from ctpat_audit.intake.checks import stored_ints

    ws, _, tables = own
    responses = tables["profile_responses"].copy()
    responses.loc[0, "profile_year"] = "1990"
    responses.loc[1, "profile_year"] = "2100"
    src = tmp_path / "src"
    write_csv(src, "profile_responses", responses)
    import_source(ws, src, progress=False)
    stored = pq.read_table(ws.bulk_path("profile_responses")).to_pandas()
    sql = ws.table("profile_responses")
    key = ["account_id", "criterion_id", "profile_year"]
    assert sorted(map(tuple, stored[key].astype(str).to_numpy())) == \
        sorted(map(tuple, sql[key].astype(str).to_numpy()))
    assert {1990, 2100} <= set(stored["profile_year"])
    year = PROFILE_RESPONSES.column("profile_year")
    assert str(stored["profile_year"].dtype) == year.storage_dtype()
    with pytest.raises(ValueError, match="70000"):  # never wrapped to 4464
        stored_ints(year, pd.Series([2025, 70000], dtype="Int64"))


# --- noncharacters and control characters in text -----------------------------------------

TEXT_COLUMNS = [(t.name, c.name) for t in TABLES for c in t.columns if c.kind == "text"]


@pytest.mark.parametrize("table, column, ch", [
    *((t, c, "\uffff") for t, c in TEXT_COLUMNS), ("partners", "legal_name", "\ufffe"),
    ("partners", "legal_name", "\ufdd0"), ("partners", "legal_name", "\U0010ffff")])
def test_noncharacters_in_any_text_field_are_refused(tmp_path, imported, table, column, ch):
    ws, before, tables = imported
    frame = tables[table].copy()
    frame.loc[0, column] = f"Bluewater{ch} Plastics"
    src = tmp_path / "src"
    write_csv(src, table, frame)
    problem = one(refused(ws, src, before), "noncharacter")
    assert (problem["file"], problem["row"], problem["column"]) == (f"{table}.csv", 2, column)
    assert ch in problem["value"] and "noncharacters" in problem["expected"]


def test_the_cli_shows_invisible_characters_as_escapes(tmp_path, imported):
    ws, _, tables = imported
    partners = tables["partners"].copy()
    partners.loc[0, "account_id"] = partners.loc[0, "account_id"] + "\u200b"
    src = tmp_path / "src"
    write_csv(src, "partners", partners)
    res = CliRunner().invoke(main, ["import", "--quiet", "-w", str(ws.path), str(src)])
    assert res.exit_code == 3 and "\\u200b" in res.output and "\u200b" not in res.output


# --- ids: one safe shape, look-alikes refused, nothing normalised -------------------------

HOSTILE_IDS = ["../../etc/passwd", "a/b", "..", "line\nbreak", "A" * 5000, "\uff10278532",
               "0278532\u200b", "0278532\u00a0", " 0278532", "\u0430bc", "C:\\x", "%2e%2e"]
ID_COLUMNS = [(t.name, c.name) for t in TABLES for c in t.columns
              if c.kind == "id" and c.name != "account_id"] + [("partners", "account_id")]


@pytest.mark.parametrize("table, column", ID_COLUMNS)
@pytest.mark.parametrize("value", HOSTILE_IDS)
def test_ids_that_could_never_be_reported_are_refused(tmp_path, imported, table, column, value):
    ws, before, tables = imported
    frame = tables[table].copy()
    frame.loc[1, column] = value
    src = tmp_path / "src"
    write_csv(src, table, frame)
    problem = one(refused(ws, src, before), "bad_id")
    assert (problem["file"], problem["row"], problem["column"]) == (f"{table}.csv", 3, column)
    assert problem["value"] == value[:200]  # as written, not normalised
    assert len(ws.partners()) == 12


def test_a_lookalike_of_an_existing_account_names_it(tmp_path, imported):
    ws, before, tables = imported
    partners = tables["partners"].iloc[:1].copy()
    real = partners.loc[0, "account_id"]
    partners.loc[0, "account_id"] = "".join(chr(0xFF10 + int(d)) for d in real)  # fullwidth
    src = tmp_path / "src"
    write_csv(src, "partners", partners)
    problem = one(refused(ws, src, before), "bad_id")
    assert f"looks like {real!r}" in problem["expected"]


@settings(max_examples=80, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.text(min_size=1, max_size=70))
def test_an_id_is_imported_exactly_as_written_or_refused(tmp_path_factory, account):
    src = tmp_path_factory.mktemp("ids")
    buf = io.StringIO()
    csv.writer(buf).writerows([["account_id", "legal_name", "status", "profile_anniversary"],
                               [account, "Acme", "certified", "2026-01-15"]])
    (src / "partners.csv").write_text(buf.getvalue(), encoding="utf-8", errors="surrogatepass")
    checked = check_source(src)
    got = checked.frames.get("partners")
    if got is not None and not [p for p in checked.problems if p.column == "account_id"]:
        assert got["account_id"].iloc[0] == account and SAFE_ID.fullmatch(account)
    else:
        assert not SAFE_ID.fullmatch(account) or checked.problems


# --- entry_id unique across the workspace -------------------------------------------------

def _shipments(tables) -> tuple[pd.DataFrame, str, str]:
    ships = tables["shipments"]
    a, b = ships["account_id"].drop_duplicates().iloc[:2]
    return ships, a, b


def test_an_entry_id_of_another_partner_is_refused_naming_both(tmp_path, imported):
    ws, before, tables = imported
    ships, a, b = _shipments(tables)
    mine = ships[ships["account_id"] == a].copy()
    theirs = ships.loc[ships["account_id"] == b, "entry_id"].iloc[2]
    mine.iloc[4, mine.columns.get_loc("entry_id")] = theirs
    src = tmp_path / "src"
    write_csv(src, "shipments", mine)
    problem = one(refused(ws, src, before), "duplicate_key")
    assert (problem["file"], problem["row"], problem["column"], problem["value"]) == \
        ("shipments.csv", 6, "entry_id", theirs)
    assert f"partner {b}'s" in problem["expected"] and f"partner {a}'s" in problem["expected"]


def test_entry_ids_stay_unique_after_any_sequence_of_imports(tmp_path, own):
    ws, _, tables = own
    ships, a, b = _shipments(tables)
    theirs = ships[ships["account_id"] == b].copy()
    moved = theirs["entry_id"].iloc[0]
    # B drops an entry, then A takes that entry number: allowed, B no longer has it
    write_csv(tmp_path / "s1", "shipments", theirs.iloc[1:])
    import_source(ws, tmp_path / "s1", progress=False)
    mine = ships[ships["account_id"] == a].copy()
    mine.iloc[0, mine.columns.get_loc("entry_id")] = moved
    write_csv(tmp_path / "s2", "shipments", mine)
    import_source(ws, tmp_path / "s2", progress=False)
    # B wants it back: refused, A holds it now
    write_csv(tmp_path / "s3", "shipments", theirs)
    with pytest.raises(IntakeError) as info:
        import_source(ws, tmp_path / "s3", progress=False)
    assert f"partner {a}'s" in info.value.problems[0].expected
    # both in one source, swapping numbers between them: allowed, both are replaced
    both = pd.concat([mine, theirs.iloc[1:]])
    write_csv(tmp_path / "s4", "shipments", both)
    import_source(ws, tmp_path / "s4", progress=False)
    entries = ws.shipments()["entry_id"]
    assert entries.is_unique and moved in set(entries)


# --- CSV records with more fields than the header -----------------------------------------

def test_a_csv_line_with_an_extra_field_is_named_by_its_line(tmp_path, imported):
    ws, before, tables = imported
    src = tmp_path / "src"
    path = write_csv(src, "partners", tables["partners"])
    lines = path.read_text().splitlines()
    lines.insert(2, 'x,"a value\nover two lines",certified,,,,2026-01-15,')  # lines 3-4
    lines[6] += ",extra"  # physical line 8 (the quoted value above takes two)
    path.write_text("\n".join(lines) + "\n")
    problems = refused(ws, src, before)
    problem = one(problems, "unreadable_csv")
    assert (problem["row"], problem["column"], problem["value"]) == (8, None, "9 fields")
    assert "8 fields" in problem["expected"]
    res = CliRunner().invoke(main, ["import", "--quiet", "-w", str(ws.path), str(src)])
    row = next(line for line in res.output.splitlines() if "unreadable_csv" in line)
    assert row.split()[:3] == ["partners.csv", "8", "9"]


def test_rows_all_one_field_too_long_do_not_shift_columns(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    (src / "partners.csv").write_text("account_id,legal_name,status,profile_anniversary\n"
                                      "0001,Acme,certified,2026-01-15,extra\n")
    problems = IntakeError(check_source(src).problems).frame()
    assert list(problems["code"]) == ["unreadable_csv"] and list(problems["row"]) == [2]


@pytest.mark.parametrize("name", sorted(TABLES_BY_NAME))
def test_every_table_stays_importable_alone(tmp_path, own, name):
    """The checks refuse hostile values, not the sample's own (each table on its own, over
    the workspace that holds it)."""
    ws, _, _ = own
    src = tmp_path / "again"
    src.mkdir()
    for f in (tmp_path / "source").glob(f"{name}.*"):
        shutil.copy(f, src / f.name)
    assert import_source(ws, src, progress=False).rows[name] > 0


# --- a bad row already in a workspace stops no export -------------------------------------

def _store_bad_rows(ws) -> str:
    """Write what intake now refuses straight into SQLite (as an older version let in)."""
    account = ws.partners()["account_id"].iloc[0]
    conn = ws.connect()
    try:
        with conn:
            conn.execute("UPDATE partners SET legal_name = ? WHERE account_id = ?",
                         ("Bluewater\uffff Plastics\ufffe \u202eInc", account))
            conn.execute("UPDATE profile_responses SET response_text = ? WHERE account_id = ?",
                         ("We seal\uffff every container", account))
            conn.execute("UPDATE facilities SET name = ? WHERE account_id = ?",
                         ("Yard \U0001fffe", account))
    finally:
        conn.close()
    return account


def _texts(path: Path) -> list[str]:
    from openpyxl import load_workbook

    wb = load_workbook(path, read_only=True)
    try:
        return [c for ws in wb.worksheets for row in ws.iter_rows(values_only=True)
                for c in row if isinstance(c, str)]
    finally:
        wb.close()


def test_workspace_wide_exports_show_a_stored_bad_character_visibly(tmp_path, own):
    ws, _, _ = own
    account = _store_bad_rows(ws)
    runner = CliRunner()
    commands = {
        "portfolio.xlsx": ["portfolio", "-w", str(ws.path), "--as-of", "2026-11-01", "--xlsx"],
        "review.xlsx": ["review", "-w", str(ws.path), "--as-of", "2026-11-01", "--xlsx"],
        "partner-review.xlsx": ["review", "-w", str(ws.path), account, "--as-of", "2026-11-01",
                                "--xlsx"],
        "questionnaire.xlsx": ["questionnaire", "export", "-w", str(ws.path), account, "--out"],
    }
    for name, args in commands.items():
        res = runner.invoke(main, [*args, str(tmp_path / name)])
        assert res.exit_code == 0, (name, res.output)
        texts = _texts(tmp_path / name)
        assert not [t for t in texts if any(ch in t for ch in "\uffff\ufffe\U0001fffe")], name
        assert any("Bluewater\ufffd Plastics\ufffd \u202eInc" in t for t in texts), name


def test_optional_columns_may_be_left_out_of_a_file(tmp_path):
    """Found by stress/fuzz_import.py: a partners file without its optional date columns
    made the import crash while writing SQLite."""
    src = tmp_path / "src"
    src.mkdir()
    (src / "partners.csv").write_text("account_id,legal_name,status,profile_anniversary\n"
                                      "0012345,Acme,certified,2026-01-15\n")
    ws = init_workspace(tmp_path / "ws")
    assert import_source(ws, src, progress=False).rows == {"partners": 1}
    assert ws.partner("0012345").certification_date is None
