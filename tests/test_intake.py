"""Import: every table in every format, every error kind located, all or nothing."""
from __future__ import annotations

import datetime as dt
import hashlib
import shutil
from pathlib import Path

import pandas as pd
import pytest
from openpyxl import Workbook

from ctpat_audit.core.errors import IntakeError
from ctpat_audit.intake.importer import check_source, import_source, write_problems_xlsx
from ctpat_audit.workspace.reference import derived_file, init_workspace, open_workspace
from ctpat_audit.workspace.tables import TABLES


def _tree_digest(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def _frames(source: Path) -> dict[str, pd.DataFrame]:
    """The sample source as plain string frames (what a user would have in a spreadsheet)."""
    out = {}
    for t in TABLES:
        files = list(source.glob(f"{t.name}.*"))
        assert files, t.name
        f = files[0]
        if f.suffix == ".csv":
            df = pd.read_csv(f, dtype=str, keep_default_na=False)
        elif f.suffix == ".parquet":
            df = pd.read_parquet(f)
            for c in df.columns:
                if pd.api.types.is_datetime64_any_dtype(df[c]):
                    df[c] = df[c].dt.strftime("%Y-%m-%d")
            df = df.astype("string").fillna("").astype(object)
        else:
            df = pd.read_excel(f, dtype=str, keep_default_na=False)
        out[t.name] = df
    return out


@pytest.mark.parametrize("fmt", ["csv", "xlsx", "parquet", "workbook"])
def test_every_table_in_every_format(tmp_path, small_source, fmt):
    frames = _frames(small_source)
    src = tmp_path / f"src-{fmt}"
    src.mkdir()
    if fmt == "workbook":
        src = tmp_path / "source.xlsx"
        with pd.ExcelWriter(src) as xw:
            for name, df in frames.items():
                df.to_excel(xw, sheet_name=name, index=False)
    for name, df in frames.items():
        if fmt == "csv":
            df.to_csv(src / f"{name}.csv", index=False)
        elif fmt == "xlsx":
            df.to_excel(src / f"{name}.xlsx", sheet_name=name, index=False)
        elif fmt == "parquet":
            df.astype("string").to_parquet(src / f"{name}.parquet", index=False)
    ws = init_workspace(tmp_path / f"ws-{fmt}")
    summary = import_source(ws, src, progress=False)
    for name, df in frames.items():
        assert summary.rows[name] == len(df), name
    partners = ws.partners()
    assert sorted(partners["account_id"]) == sorted(frames["partners"]["account_id"])
    assert len(ws.shipments()) == len(frames["shipments"])
    # a value survives the round trip exactly
    row = frames["contacts"].iloc[0]
    p = ws.partner(row["account_id"])
    assert row["email"] in set(p.contacts["email"])


def test_leading_zero_ids_survive_every_format(tmp_path, small_source):
    frames = _frames(small_source)
    for i, new in ((0, "0000042"), (1, "0012345")):
        old = frames["partners"]["account_id"].iloc[i]
        for df in frames.values():
            df.loc[df["account_id"] == old, "account_id"] = new
    frames["shipments"].loc[0, "port_code"] = "0901"
    for fmt in ("csv", "xlsx", "parquet"):
        src = tmp_path / fmt
        src.mkdir()
        for name, df in frames.items():
            if fmt == "csv":
                df.to_csv(src / f"{name}.csv", index=False)
            elif fmt == "xlsx":
                df.to_excel(src / f"{name}.xlsx", index=False)
            else:
                df.astype("string").to_parquet(src / f"{name}.parquet", index=False)
        ws = init_workspace(tmp_path / f"ws-{fmt}")
        import_source(ws, src, progress=False)
        ids = set(ws.partners()["account_id"])
        assert {"0000042", "0012345"} <= ids, fmt
        assert ws.partner("0012345").legal_name == frames["partners"].loc[1, "legal_name"]
        assert "0901" in set(ws.shipments()["port_code"]), fmt


def _write(src: Path, name: str, text: str | bytes) -> None:
    (src / name).write_bytes(text if isinstance(text, bytes) else text.encode())


PARTNER_HEADER = ("account_id,legal_name,status,certification_date,last_validation_date,"
                  "last_validation_type,profile_anniversary,last_profile_review_date\n")
GOOD_PARTNER = "0001,Acme Imports Inc.,certified,2020-01-15,,,2026-01-15,2025-12-01\n"


@pytest.fixture
def src(tmp_path):
    d = tmp_path / "src"
    d.mkdir()
    return d


def _problems(src: Path, ws=None) -> pd.DataFrame:
    checked = check_source(src, ws)
    assert checked.problems, "expected problems"
    return IntakeError(checked.problems).frame()


def _only(df: pd.DataFrame, code: str) -> pd.Series:
    rows = df[df["code"] == code]
    assert len(rows) >= 1, f"no {code} in\n{df}"
    return rows.iloc[0]


def test_missing_and_unknown_columns(src):
    _write(src, "partners.csv", "account_id,legal_name,status,colour\n0001,Acme,certified,red\n")
    df = _problems(src)
    miss = df[df["code"] == "missing_column"]
    assert set(miss["column"]) == {"profile_anniversary"}
    unk = _only(df, "unknown_column")
    assert unk["column"] == "colour" and unk["file"] == "partners.csv"


def test_wrong_types_dates_values_and_duplicates_located(src):
    _write(src, "partners.csv", PARTNER_HEADER + GOOD_PARTNER +
           "0002,Beta,validatd,2020-01-15,,,2026-02-30,\n"
           "0003,Gamma,certified,15/01/2020,2024-01-01,,2026-03-01,\n"
           "0001,Acme again,certified,2020-01-15,,,2026-01-15,\n")
    _write(src, "profile_responses.csv",
           "account_id,profile_year,criterion_id,response_text,implemented\n"
           "0001,twenty,6.1,We do,maybe\n0001,2025,13.1,x,true\n")
    df = _problems(src)
    status = _only(df, "unknown_value")
    assert (status["file"], status["row"], status["column"], status["value"]) == \
        ("partners.csv", 3, "status", "validatd")
    dates = df[df["code"] == "bad_date"].set_index("column")
    assert dates.loc["profile_anniversary", "row"] == 3
    assert dates.loc["certification_date", "row"] == 4
    assert dates.loc["certification_date", "value"] == "15/01/2020"
    vt = df[(df["code"] == "missing_value") & (df["column"] == "last_validation_type")]
    assert list(vt["row"]) == [4]
    dup = _only(df, "duplicate_key")
    assert dup["row"] == 5 and dup["value"] == "0001"
    wrong = df[df["code"] == "wrong_type"].set_index("column")
    assert wrong.loc["profile_year", "row"] == 2 and wrong.loc["implemented", "value"] == "maybe"
    assert _only(df, "bad_criterion_id")["value"] == "13.1"


def test_unknown_entity_types_roles_and_partners(src):
    _write(src, "partners.csv", PARTNER_HEADER + GOOD_PARTNER)
    _write(src, "entities.csv",
           "account_id,entity_type\n0001,importer\n0001,Sea Carrier\n0001,spaceship\n0009,importer\n")
    _write(src, "contacts.csv", "account_id,name,email,role,is_primary\n0001,Ann,ann@x.com,CEO,true\n")
    df = _problems(src)
    bad = df[df["code"] == "unknown_value"].set_index("column")
    assert bad.loc["entity_type", "value"] == "spaceship" and bad.loc["entity_type", "row"] == 4
    assert bad.loc["role", "value"] == "CEO"
    ref = _only(df, "unknown_partner")
    assert (ref["file"], ref["row"], ref["value"]) == ("entities.csv", 5, "0009")
    assert len(df) == 3  # "Sea Carrier" (a label) is accepted


CONTACTS = "account_id,name,email,role,is_primary\n" + "".join(
    f"000{i},Ann,ann{i}@x.com,Admin,true\n" for i in range(1, 6))


@pytest.mark.parametrize("partners", [
    ("partners.csv", "account_id,legal_name\n0001,Jos\xe9\n".encode("latin-1")),  # not UTF-8
    ("partners.csv", b""),  # empty
    ("partners.xlsx", b"PK\x03\x04 not a workbook"),  # unreadable
    ("source.xlsx", b"garbage"),  # a workbook whose sheets could hold partners
])
def test_an_unreadable_partners_file_is_reported_once_not_per_reference(src, partners):
    _write(src, *partners)
    _write(src, "contacts.csv", CONTACTS)
    df = _problems(src)
    assert len(df) == 1 and df.iloc[0]["file"] == partners[0], df
    assert "unknown_partner" not in set(df["code"])


def test_partners_without_usable_account_ids_raise_no_unknown_partner_flood(src):
    _write(src, "partners.csv", "legal_name,status,profile_anniversary\n"
           "Acme,certified,2026-01-15\n")  # the account_id column left out
    _write(src, "contacts.csv", CONTACTS)
    df = _problems(src)
    assert list(df["code"]) == ["missing_column"], df


def test_references_are_still_checked_when_partners_read(src):
    _write(src, "partners.csv", PARTNER_HEADER + GOOD_PARTNER)
    _write(src, "contacts.csv", CONTACTS)
    df = _problems(src)
    assert list(df["code"]) == ["unknown_partner"] * 4  # 0002..0005; 0001 is a partner


def test_empty_non_utf8_and_bom(src):
    _write(src, "partners.csv", b"\xef\xbb\xbf" + (PARTNER_HEADER + GOOD_PARTNER).encode())  # BOM: fine
    _write(src, "outreach.csv", b"")
    _write(src, "contacts.csv", "account_id,name,email,role,is_primary\n0001,Jos\xe9,j@x.com,Admin,false\n"
           .encode("latin-1"))
    df = _problems(src)
    assert set(df["code"]) == {"empty_file", "not_utf8"}
    assert _only(df, "not_utf8")["row"] == 2 and _only(df, "not_utf8")["file"] == "contacts.csv"
    assert _only(df, "empty_file")["file"] == "outreach.csv"


def test_workbook_problems_name_the_sheet(tmp_path):
    wb = Workbook()
    ws = wb.active
    ws.title = "partners"
    ws.append(PARTNER_HEADER.strip().split(","))
    ws.append(GOOD_PARTNER.strip().split(","))
    ws2 = wb.create_sheet("shipments")
    ws2.append(["account_id", "entry_id", "entry_date", "port_code", "mode", "examined", "exam_type",
                "exam_result"])
    ws2.append(["0001", "E1", "2026-01-02", "2304", "truck", "true", "nii", "cleared"])
    ws2.append(["0001", "E2", "2026-01-03", "230", "boat", "true", "", ""])
    path = tmp_path / "book.xlsx"
    wb.save(path)
    df = _problems(path)
    assert set(df["sheet"]) == {"shipments"}
    assert set(df["row"]) == {3}
    assert set(df["column"]) == {"port_code", "mode", "exam_type", "exam_result"}


def test_failed_import_leaves_workspace_byte_for_byte_unchanged(tmp_path, small_source):
    ws = init_workspace(tmp_path / "ws")
    import_source(ws, small_source, progress=False)
    before = _tree_digest(ws.path)
    bad = tmp_path / "bad"
    shutil.copytree(small_source, bad)
    text = (bad / "contacts.csv").read_text()
    (bad / "contacts.csv").write_text(text.replace("Company Officer", "Chief", 1))
    with pytest.raises(IntakeError) as exc:
        import_source(ws, bad, progress=False)
    assert exc.value.problems[0].column == "role"
    assert _tree_digest(ws.path) == before


def _renaming_update(tmp_path, acc: str):  # type: ignore[no-untyped-def]
    """A source folder that renames and suspends ``acc`` and leaves it one contact."""
    upd = tmp_path / "upd"
    upd.mkdir()
    (upd / "partners.csv").write_text(
        PARTNER_HEADER + f"{acc},Renamed Co,suspended,2020-01-15,,,2026-01-15,\n")
    (upd / "contacts.csv").write_text(
        f"account_id,name,email,role,is_primary\n{acc},Only One,one@x.com,Company Officer,true\n")
    return upd


def test_reimport_updates_partners_and_replaces_child_rows(tmp_path, small_source):
    ws = init_workspace(tmp_path / "ws")
    import_source(ws, small_source, progress=False)
    first = ws.partners().iloc[0]
    acc = first["account_id"]
    upd = _renaming_update(tmp_path, acc)
    import_source(ws, upd, progress=False)
    p = ws.partner(acc)
    assert (p.legal_name, p.status) == ("Renamed Co", "suspended")
    assert list(p.contacts["email"]) == ["one@x.com"]
    assert len(ws.partners()) == 12  # others kept
    assert len(p.shipments) > 0  # shipments untouched


def _entity_order(ws) -> dict[str, list[str]]:
    conn = ws.connect(readonly=True)
    try:
        out: dict[str, list[str]] = {}
        for acc, kind in conn.execute("SELECT account_id, entity_type FROM entities "
                                      "ORDER BY rowid"):
            out.setdefault(acc, []).append(kind)
        return out
    finally:
        conn.close()


def test_an_import_is_staged_in_short_transactions_and_shows_only_once_published(
        tmp_path, small_source, monkeypatch):
    """Between any two of the import's transactions the write lock is free (a write needs
    no wait at all) and a reader sees the workspace exactly as before the import; the one
    transaction that publishes it shows all of it, and nothing staged is left."""
    from ctpat_audit.workspace import db, reference_store

    ws = init_workspace(tmp_path / "ws")
    import_source(ws, small_source, progress=False)
    acc = str(ws.partners()["account_id"].iloc[0])
    upd = _renaming_update(tmp_path, acc)
    shutil.copy(small_source / "profile_responses.parquet", upd)  # many rows: many pieces
    contacts, partners, order = ws.table("contacts"), ws.partners(), _entity_order(ws)
    other = db.connect(ws.db_path)
    other.execute("PRAGMA busy_timeout=0")
    pieces: list[int] = []
    published: list[bool] = []
    real_run, real_publish = db.ShortTransactions.run, reference_store.StagedImport.publish

    def run(self, step, kind=""):
        done = real_run(self, step, kind)
        other.execute("BEGIN IMMEDIATE")  # raises "database is locked" if the lock were held
        other.execute("ROLLBACK")
        if not published:
            assert ws.table("contacts").equals(contacts) and ws.partners().equals(partners)
            pieces.append(done)
        return done

    def publish(self, *a, **kw):
        published.append(True)
        return real_publish(self, *a, **kw)

    monkeypatch.setattr(db.ShortTransactions, "run", run)
    monkeypatch.setattr(reference_store.StagedImport, "publish", publish)
    monkeypatch.setattr(db.ShortTransactions, "__init__", _small_pieces(
        db.ShortTransactions.__init__))
    import_source(ws, upd, progress=False)
    other.close()
    assert len([n for n in pieces if n]) > 3
    p = ws.partner(acc)
    assert (p.legal_name, p.status, list(p.contacts["email"])) == (
        "Renamed Co", "suspended", ["one@x.com"])
    after = ws.table("contacts")
    assert after[after["account_id"] != acc].reset_index(drop=True).equals(
        contacts[contacts["account_id"] != acc].reset_index(drop=True))
    assert _entity_order(ws) == order  # rows kept in their order
    conn = ws.connect(readonly=True)
    try:
        assert reference_store.leftover_stages(conn) == []
    finally:
        conn.close()


def _small_pieces(init):
    def small(self, conn, **kw):
        init(self, conn, **{**kw, "first": 7, "target_s": 1e-6})
    return small


def test_problem_workbook_is_written_and_inert(tmp_path, src):
    _write(src, "partners.csv", PARTNER_HEADER + "=HYPERLINK(\"x\"),Acme,bogus,2020-01-15,,,2026-01-15,\n")
    problems = check_source(src).problems
    out = write_problems_xlsx(problems, tmp_path / "p.xlsx")
    from openpyxl import load_workbook
    ws = load_workbook(out).active
    header = [c.value for c in ws[1]]
    assert header[:7] == ["file", "sheet", "row", "column", "value", "code", "expected"]
    values = [c for row in ws.iter_rows(min_row=2) for c in row]
    assert all(c.data_type != "f" for c in values)
    assert any(c.value == "bogus" for c in values)


def test_duplicate_columns_and_damaged_workbooks_are_located_problems(tmp_path):
    """Found by stress/fuzz_loaders.py: these used to raise instead of reporting a problem."""
    import zipfile

    from stress.fuzz_loaders import entity_bomb, zip_bomb

    dup = tmp_path / "dup" / "partners.csv"
    dup.parent.mkdir()
    dup.write_text("account_id, account_id,legal_name\n0012345,9,A\n,,B\n", encoding="utf-8")
    checked = check_source(dup)
    codes = {p.code for p in checked.problems}
    assert "duplicate_column" in codes and all(p.file == "partners.csv"
                                               for p in checked.problems)
    for make in (zip_bomb, entity_bomb):
        folder = tmp_path / make.__name__
        folder.mkdir()
        path = make(folder / "partners.xlsx", **({"inflated": 64 << 20, "level": 9}
                                                 if make is zip_bomb else {}))
        checked = check_source(path)
        assert [p.code for p in checked.problems] == ["unreadable_workbook"]
    damaged = tmp_path / "damaged" / "partners.xlsx"
    damaged.parent.mkdir()
    Workbook().save(damaged)
    data = bytearray(damaged.read_bytes())
    with zipfile.ZipFile(damaged) as z:
        info = z.getinfo("xl/worksheets/sheet1.xml")
    pos = info.header_offset + 30 + len(info.filename) + 5  # inside the compressed data
    data[pos] ^= 0xFF
    damaged.write_bytes(bytes(data))
    checked = check_source(damaged)
    assert checked.problems and all(p.file == "partners.xlsx" for p in checked.problems)


def test_a_new_responses_file_replaces_the_old_one_and_what_was_derived_from_it(
        tmp_path, small_source):
    ws = init_workspace(tmp_path / "ws")
    import_source(ws, small_source, progress=False,
                  clock=lambda: dt.datetime(2026, 10, 1, tzinfo=dt.UTC))
    first = ws.bulk_path("profile_responses")
    bulk = pd.read_parquet(first)
    assert list(bulk.columns) == ["account_id", "profile_year", "criterion_id", "response_text"]
    assert bulk.equals(bulk.sort_values(["account_id", "profile_year", "criterion_id"]))
    assert len(bulk) == len(ws.table("profile_responses"))
    derived = derived_file(first, "answer-states-test")
    derived.write_bytes(b"derived from the first file")
    import_source(ws, small_source, progress=False,
                  clock=lambda: dt.datetime(2026, 10, 2, tzinfo=dt.UTC))
    second = ws.bulk_path("profile_responses")
    assert second != first and second.is_file()
    assert not first.exists() and not derived.exists()
    assert sorted(p.name for p in (ws.path / "profile").iterdir()) == [second.name]


def test_import_into_a_release_a397334_workspace_retires_its_profile_states_file(
        tmp_path, small_source):
    shutil.copytree(Path(__file__).parent / "data" / "workspace-v1", tmp_path / "ws")
    ws = open_workspace(tmp_path / "ws")  # migrated
    legacy = ws.bulk_path("profile_states")
    assert legacy.is_file() and ws.bulk_path("profile_responses") is None
    # entry ids are unique in a workspace: the fixture's sample entries must not be reused
    for f in small_source.glob("shipments*.parquet"):
        frame = pd.read_parquet(f)
        frame["entry_id"] = "NEW-" + frame["entry_id"].astype(str)
        frame.to_parquet(f, index=False)
    import_source(ws, small_source, progress=False)
    assert not legacy.exists() and "profile_states_file" not in ws.meta()
    assert ws.bulk_path("profile_responses").is_file()
    assert len(ws.partners()) == 5 + 12
