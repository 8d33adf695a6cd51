"""The criteria catalogue: schema validation, applicability, union/strictest level, crosswalks,
the demonstration catalogue (labelled, up to date with its generator) and its workbook export."""
from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from ctpat_audit.core import vocabulary as v
from ctpat_audit.core.errors import CatalogueError, InputError, NotFoundError
from ctpat_audit.criteria import demonstration as demo_catalogue
from ctpat_audit.criteria.catalogue import (
    DEFAULT_VERSION,
    DEMO_LABEL,
    FRAME_COLUMNS,
    Catalogue,
    Criterion,
    Crosswalk,
    catalogue_to_dict,
    criterion_sort_key,
    crosswalk,
    load_catalogue,
    load_catalogue_file,
    load_crosswalk,
    save_catalogue,
)
from ctpat_audit.criteria.catalogue_workbook import write_xlsx


def _criterion(cid: str, levels: dict[str, str], provenance: str = "official") -> Criterion:
    return Criterion(cid, int(cid.split(".")[0]), f"requirement {cid}", f"observe {cid}",
                     f"request {cid}", levels, "test table", provenance)


@pytest.fixture()
def small() -> Catalogue:
    return Catalogue("t-1", "official", "Test catalogue", (
        _criterion("6.10", {"importer": "Should", "sea_carrier": "Must"}),
        _criterion("6.9", {"importer": "Must"}),
        _criterion("1.2", {"sea_carrier": "Should"}),
        _criterion("10.1", {"importer": "Should", "sea_carrier": "Should"}),
        _criterion("5.3", {"highway_carrier": "Must"}),
    ))


def test_ids_sort_numerically() -> None:
    ids = ["6.10", "10.1", "6.9", "1.12", "1.2"]
    assert sorted(ids, key=criterion_sort_key) == ["1.2", "1.12", "6.9", "6.10", "10.1"]
    with pytest.raises(InputError):
        criterion_sort_key("6-1")


def test_union_and_strictest_level_for_expanded_profile(small: Catalogue) -> None:
    expanded = ["importer", "sea_carrier"]
    got = small.applicable(expanded)
    assert [c.id for c in got] == ["1.2", "6.9", "6.10", "10.1"]  # 5.3 is highway only
    levels = {c.id: c.level_for(expanded) for c in got}
    assert levels == {"1.2": "Should", "6.9": "Must", "6.10": "Must", "10.1": "Should"}
    assert small.criterion("6.10").level_for(["importer"]) == "Should"
    assert not small.criterion("5.3").applies_to(expanded)
    with pytest.raises(NotFoundError):
        small.criterion("5.3").level_for(expanded)
    with pytest.raises(NotFoundError):
        small.criterion("9.9")
    with pytest.raises(InputError):
        small.applicable(["importer", "pirate"])


def test_criteria_and_catalogues_are_hashable(small: Catalogue) -> None:
    assert len({*small.criteria, *small.criteria}) == 5
    assert hash(small) == hash(Catalogue(small.version, small.provenance, small.label,
                                         small.criteria))


def test_frame_columns_and_union_levels(small: Catalogue) -> None:
    df = small.frame(["importer", "sea_carrier"])
    assert list(df.columns) == FRAME_COLUMNS
    assert df["id"].tolist() == ["1.2", "6.9", "6.10", "10.1"]
    assert df.loc[df["id"] == "6.10", "must_should"].item() == "Must"
    assert df.loc[df["id"] == "6.10", "category_name"].item() == "Seal Security"
    assert df.loc[df["id"] == "10.1", "focus_area"].item() == "People and Physical Security"
    everything = small.frame()
    assert len(everything) == 5
    assert everything.loc[everything["id"] == "6.10", "must_should"].item() == \
        "importer: Should; sea_carrier: Must"


def test_save_and_load_round_trip(tmp_path: Path, small: Catalogue) -> None:
    path = save_catalogue(small, tmp_path)
    assert path == tmp_path / "catalogues" / "t-1.json"
    loaded = load_catalogue("t-1", workspace=tmp_path)
    assert loaded.provenance == "official"
    assert [c.id for c in loaded.criteria] == ["1.2", "5.3", "6.9", "6.10", "10.1"]
    assert dict(loaded.criterion("6.10").must_should) == {"importer": "Should", "sea_carrier": "Must"}
    with pytest.raises(NotFoundError, match="available"):
        load_catalogue("nope", workspace=tmp_path)
    with pytest.raises(InputError):
        load_catalogue("../escape", workspace=tmp_path)


def _write(tmp_path: Path, doc: dict) -> Path:
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    return path


@pytest.mark.parametrize(("mutate", "where", "what"), [
    (lambda d: d["criteria"][0].__setitem__("id", "6-1"), "$.criteria[0].id", "does not match"),
    (lambda d: d["criteria"][1]["must_should"].__setitem__("importer", "Maybe"),
     "$.criteria[1].must_should.importer", "'Maybe' is not one of"),
    (lambda d: d["criteria"][0]["must_should"].__setitem__("pirate_ship", "Must"),
     "$.criteria[0].must_should", "pirate_ship"),
    (lambda d: d.__setitem__("provenance", "rumour"), "$.provenance", "rumour"),
    (lambda d: d["criteria"][2].pop("observe"), "$.criteria[2]", "'observe' is a required"),
    (lambda d: d["criteria"][0].__setitem__("category", 7), "$.criteria[0].category",
     "is in category 1, not 7"),
    (lambda d: d["criteria"][1].__setitem__("id", d["criteria"][0]["id"]) or
     d["criteria"][1].__setitem__("category", d["criteria"][0]["category"]),
     "$.criteria[1].id", "duplicate criterion id"),
])
def test_schema_errors_name_file_and_path(tmp_path: Path, small: Catalogue, mutate, where,
                                          what) -> None:
    doc = copy.deepcopy(catalogue_to_dict(small))
    mutate(doc)
    path = _write(tmp_path, doc)
    with pytest.raises(CatalogueError) as info:
        load_catalogue_file(path)
    assert info.value.file.endswith("bad.json")
    assert info.value.path == where
    assert what in str(info.value)
    assert str(path.name) in str(info.value)


def test_a_validation_is_remembered_by_content_for_new_processes(tmp_path: Path,
                                                                  small: Catalogue) -> None:
    path = tmp_path / "t-1.json"
    path.write_text(json.dumps(catalogue_to_dict(small)), encoding="utf-8")
    cache = tmp_path / "cache"
    code = ("import sys; from ctpat_audit.criteria.catalogue import load_catalogue_file; "
            "print(len(load_catalogue_file(sys.argv[1]).criteria), 'jsonschema' in sys.modules)")

    def load() -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True,
                              text=True, env={**os.environ, "XDG_CACHE_HOME": str(cache)},
                              timeout=60)

    assert load().stdout.split() == ["5", "True"]  # validated against the schema
    assert load().stdout.split() == ["5", "False"]  # the same bytes: the validator not loaded
    remembered = list((cache / "ctpat-audit" / "validated-catalogues").iterdir())
    assert len(remembered) == 1 and remembered[0].stat().st_size == 0
    doc = catalogue_to_dict(small)
    doc["criteria"][1]["must_should"]["importer"] = "Maybe"
    path.write_text(json.dumps(doc), encoding="utf-8")  # changed: validated again, refused
    proc = load()
    assert proc.returncode != 0 and "'Maybe' is not one of" in proc.stderr
    doc = catalogue_to_dict(small)  # the first content again: remembered
    path.write_text(json.dumps(doc), encoding="utf-8")
    assert load().stdout.split() == ["5", "False"]


def test_not_json_is_a_catalogue_error(tmp_path: Path) -> None:
    path = tmp_path / "broken.json"
    path.write_bytes(b"\xff\xfe{")
    with pytest.raises(CatalogueError, match=r"broken\.json"):
        load_catalogue_file(path)


def test_crosswalk_same_ids_and_file_mappings(tmp_path: Path, small: Catalogue) -> None:
    newer = Catalogue("t-2", "official", "Newer", (
        _criterion("6.9", {"importer": "Must"}),
        _criterion("6.11", {"importer": "Must"}),
        _criterion("6.12", {"importer": "Must"}),
        _criterion("10.1", {"importer": "Should"}),
    ))
    folder = tmp_path / "catalogues" / "crosswalks"
    folder.mkdir(parents=True)
    (folder / "t-1__t-2.json").write_text(json.dumps({
        "format": "ctpat-audit crosswalk 1", "from_version": "t-1", "to_version": "t-2",
        "mappings": [{"from": "6.10", "to": ["6.11", "6.12"], "note": "split"},
                     {"from": "1.2", "to": [], "note": "withdrawn"}]}), encoding="utf-8")
    cw = load_crosswalk("t-1", "t-2", workspace=tmp_path)
    assert cw.mappings["6.10"] == ("6.11", "6.12")
    df = crosswalk(small, newer, cw)
    rows = list(df.itertuples(index=False, name=None))
    assert rows == [("1.2", "", "no match", "withdrawn"), ("5.3", "", "no match", ""),
                    ("6.9", "6.9", "same id", ""), ("6.10", "6.11", "mapped", "split"),
                    ("6.10", "6.12", "mapped", "split"), ("10.1", "10.1", "same id", "")]
    assert load_crosswalk("t-1", "t-9", workspace=tmp_path) == Crosswalk("t-1", "t-9")
    (folder / "t-1__t-3.json").write_text(json.dumps({
        "format": "ctpat-audit crosswalk 1", "from_version": "t-1", "to_version": "t-3",
        "mappings": [{"from": "6.10", "to": "6.11"}]}), encoding="utf-8")
    with pytest.raises(CatalogueError, match=r"mappings\[0\]"):
        load_crosswalk("t-1", "t-3", workspace=tmp_path)


# -- the demonstration catalogue -------------------------------------------------------------

def test_committed_demo_catalogue_is_up_to_date() -> None:
    committed = demo_catalogue.OUTPUT_PATH.read_text(encoding="utf-8")
    assert committed == demo_catalogue.render(), (
        "catalogue-demo-2019.11.json is stale: run `python -m ctpat_audit.criteria.demonstration`")


def test_demo_is_deterministic_for_a_seed() -> None:
    assert demo_catalogue.render(seed=5) == demo_catalogue.render(seed=5)
    assert demo_catalogue.render(seed=5) != demo_catalogue.render(seed=6)


def test_demo_catalogue_shape_and_labels() -> None:
    cat = load_catalogue()
    assert cat.version == DEFAULT_VERSION
    assert cat.provenance == "demonstration" and cat.label == DEMO_LABEL
    importer = cat.applicable(["importer"])
    assert 120 <= len(importer) <= 170
    assert {c.category for c in importer} == set(range(1, 13))
    musts = sum(c.level_for(["importer"]) == "Must" for c in importer)
    assert 0.4 < musts / len(importer) < 0.8
    for t in v.ENTITY_TYPES:
        if t != "importer":
            assert 0 < len(cat.applicable([t])) < len(importer)
    for c in cat.criteria:
        assert c.requirement and c.observe and c.request and c.source
        if c.provenance == "demonstration":
            assert "demonstration" in c.source.lower()
    # ids are not sequential within a category, as in CBP's tables
    numbers = [c.number for c in cat.criteria if c.category == 7]
    assert numbers != list(range(1, len(numbers) + 1))


def test_demo_keeps_confirmed_criteria_with_their_sources() -> None:
    cat = load_catalogue()
    confirmed = demo_catalogue.load_confirmed()
    for item in confirmed["criteria"]:
        c = cat.criterion(str(item["id"]))  # every confirmed id is present
        raw = item.get("must_should") or {}
        if raw:
            assert c.provenance == "reference"
            expected = ({t: raw["all"] for t in v.ENTITY_TYPES} if "all" in raw else raw)
            assert dict(c.must_should) == expected  # nothing added to what was read
        elif item.get("level_entity_unstated"):
            # the level was read, the entity types were not: every assumed type gets that level
            assert set(c.must_should.values()) == {item["level_entity_unstated"]}, c.id
            assert c.provenance == "demonstration" and "assumption" in c.source
    leveled = [i for i in confirmed["criteria"]
               if i.get("must_should") or i.get("level_entity_unstated")]
    assert len(leveled) >= 60
    for item in leveled:
        assert item["sources"] and all(k in confirmed["sources"] for k in item["sources"])
        assert all(confirmed["sources"][k].get("url") for k in item["sources"])
    assert cat.criterion("6.1").level_for(["sea_carrier"]) == "Must"
    assert cat.criterion("7.37").applies_to(["customs_broker"])
    assert cat.criterion("1.1").level_for(["importer"]) == "Should"
    assert "CSMS" in cat.criterion("11.5").source


def test_demo_with_minimal_confirmed_data_still_validates() -> None:
    confirmed = {"sources": {"s": {"title": "A source", "url": "https://example.invalid"}},
                 "criteria": [{"id": "6.1", "category": 6, "topic": "Seal procedures",
                               "must_should": {"all": "Must"}, "sources": ["s"]},
                              {"id": "5.8", "category": 5, "topic": "IIT criterion (topic not read)",
                               "must_should": {}, "level_unread_for": ["importer"],
                               "sources": ["s"]}]}
    cat = demo_catalogue.build(seed=1, confirmed=confirmed)
    slot = cat.criterion("5.8")
    assert slot.provenance == "demonstration" and "importer" in slot.must_should
    assert "topic not read" not in slot.requirement
    assert cat.criterion("6.1").provenance == "reference"


def test_xlsx_export_has_label_columns_and_safe_text(tmp_path: Path) -> None:
    from openpyxl import load_workbook

    cat = load_catalogue()
    hostile = _criterion("1.9", {"importer": "Must"}, provenance="demonstration")
    hostile = Criterion(**{**hostile.__dict__, "requirement": "=HYPERLINK(\"x\")",
                           "observe": "+1+1", "request": "@SUM(A1)"})
    cat = Catalogue(cat.version, cat.provenance, cat.label, cat.criteria + (hostile,),
                    cat.description)
    path = write_xlsx(cat, tmp_path / "out" / "criteria.xlsx", ["importer", "sea_carrier"])
    wb = load_workbook(path)
    ws = wb["Criteria"]
    assert ws["A1"].value == DEMO_LABEL
    header = [c.value for c in ws[4]]
    assert header == ["ID", "Category", "Criteria", "Implementation Guidance",
                      "Must/Should (importer)", "Must/Should (sea_carrier)", "Observe", "Request",
                      "Source", "Provenance"]
    assert ws.freeze_panes == "A5" and ws.auto_filter.ref.startswith("A4")
    assert ws["A4"].font.bold
    rows = {r[0].value: r for r in ws.iter_rows(min_row=5)}
    assert rows["1.9"][2].value == "=HYPERLINK(\"x\")" and rows["1.9"][2].data_type == "s"
    assert rows["1.9"][6].data_type == "s" and rows["1.9"][7].data_type == "s"
    assert rows["1.9"][4].value == "Must" and rows["1.9"][5].value is None
    assert all(r[0].data_type == "s" for r in rows.values())  # ids are text, never numbers
    assert len(rows) == len(cat.applicable(["importer", "sea_carrier"]))
    assert "DEMONSTRATION" in wb["About"]["A1"].value


# -- the CLI ---------------------------------------------------------------------------------

def test_cli_lists_union_with_demonstration_label(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from ctpat_audit.cli import main

    result = CliRunner().invoke(main, ["catalogue", "--entity", "importer",
                                       "--entity", "sea_carrier"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == DEMO_LABEL
    cat = load_catalogue()
    expected = cat.applicable(["importer", "sea_carrier"])
    listed = [ln.split()[0] for ln in lines if ln.startswith("  ")]
    assert listed == [c.id for c in expected]
    seal = next(ln for ln in lines if ln.startswith("  6.1 "))
    assert seal.split()[1] == "Must"
    assert f"{len(expected)} criteria" in result.output

    out = tmp_path / "criteria.xlsx"
    result = CliRunner().invoke(main, ["catalogue", "--entity", "customs_broker", "--xlsx", str(out)])
    assert result.exit_code == 0, result.output
    from openpyxl import load_workbook

    ws = load_workbook(out)["Criteria"]
    assert ws["A1"].value == DEMO_LABEL
    assert ws.max_row - 4 == len(cat.applicable(["customs_broker"]))

    bad = CliRunner().invoke(main, ["catalogue", "--entity", "pirate"])
    assert bad.exit_code == 1 and "pirate" in bad.output
    missing = CliRunner().invoke(main, ["catalogue", "--version", "1999.01"])
    assert missing.exit_code == 1 and "demo-2019.11" in missing.output


def test_xlsx_export_imports_back_to_the_same_catalogue(tmp_path: Path) -> None:
    """Export then import: every criterion with the same text, guidance, levels per entity
    type, observe, request and source; ids such as 6.10 and 6.1 stay apart."""
    from ctpat_audit.criteria.official_import import import_criteria_table

    def crit(cid: str, levels: dict[str, str], guidance: str) -> Criterion:
        c = _criterion(cid, levels)
        return Criterion(**{**c.__dict__, "guidance": guidance, "source": f"table {cid}"})

    original = Catalogue("v1", "official", "Official test", (
        crit("6.1", {"importer": "Must", "sea_carrier": "Should"}, "Seal guidance."),
        crit("6.10", {"sea_carrier": "Must"}, ""),
        crit("6.2", {"importer": "Should"}, "Line one.\nLine two."),
        crit("12.20", {"importer": "Must", "highway_carrier": "Must"}, "Training."),
    ), imported_tables={"importer": "a.pdf", "sea_carrier": "b.pdf"})
    path = write_xlsx(original, tmp_path / "export.xlsx")
    again = import_criteria_table(path, None, "v2", tmp_path / "ws")
    ordered = tuple(sorted(original.criteria, key=lambda c: criterion_sort_key(c.id)))
    assert [c.id for c in ordered] == ["6.1", "6.2", "6.10", "12.20"]
    assert again.criteria == ordered
    assert [dict(c.must_should) for c in again.criteria] == [dict(c.must_should) for c in ordered]
    assert [(c.guidance, c.observe, c.request, c.source) for c in again.criteria] == \
        [(c.guidance, c.observe, c.request, c.source) for c in ordered]
    assert again.imported_tables == {t: "export.xlsx" for t in
                                     ("importer", "highway_carrier", "sea_carrier")}
    # one entity type's columns only
    only = import_criteria_table(path, "sea_carrier", "v3", tmp_path / "ws")
    assert [(c.id, dict(c.must_should)) for c in only.criteria] == \
        [("6.1", {"sea_carrier": "Should"}), ("6.10", {"sea_carrier": "Must"})]


def test_export_of_a_demonstration_catalogue_is_not_imported_as_official(tmp_path: Path) -> None:
    from ctpat_audit.core.errors import CriteriaTableError
    from ctpat_audit.criteria.official_import import import_criteria_table

    path = write_xlsx(load_catalogue(), tmp_path / "demo.xlsx")
    with pytest.raises(CriteriaTableError) as info:
        import_criteria_table(path, None, "laundered", tmp_path / "ws")
    codes = {p.code for p in info.value.every}
    assert codes == {"not_official"}
    assert len(info.value.problems) == 4  # three examples and the pattern
    assert not (tmp_path / "ws" / "catalogues" / "laundered.json").exists()
