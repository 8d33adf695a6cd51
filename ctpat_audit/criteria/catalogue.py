"""Versioned criteria catalogues: the CTPAT Minimum Security Criteria as data.

A catalogue is one version of the criteria: every criterion with its id (``category.number``),
what it requires, what a specialist observes on site, what to request in a virtual validation,
and its Must/Should per business entity type (a criterion absent for an entity type does not
apply to it). A partner with an expanded profile model owes the union of its entity types'
criteria, at the strictest level ("Must" beats "Should").

Catalogues are JSON files validated against ``data/catalogue.schema.json`` at load. A
successful validation is remembered per user, by content: an empty file named after the SHA-256
of the schema and the catalogue's bytes in ``$XDG_CACHE_HOME/ctpat-audit/validated-catalogues/``
(``~/.cache`` when unset), so a new process (a notebook kernel) loads a catalogue it validated
before without loading the schema validator (a third of a second); any change to the file or
to the schema validates it again, and the id rules are checked at every load. Built-in
versions ship in ``ctpat_audit/data/catalogue-<version>.json``; catalogues imported from CBP's
official tables (see :mod:`ctpat_audit.criteria.official_import`) live in
``WORKSPACE/catalogues/<version>.json``. Provenance is explicit at both catalogue and criterion
level so a demonstration can never pass for CBP's official criteria.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from ctpat_audit.core import package_data
from ctpat_audit.core import vocabulary as v
from ctpat_audit.core.errors import CatalogueError, InputError, NotFoundError

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

Provenance = Literal["official", "reference", "demonstration"]
PROVENANCES: tuple[str, ...] = ("official", "reference", "demonstration")
LEVELS: tuple[str, ...] = ("Must", "Should")
FORMAT = "ctpat-audit catalogue 1"
DEFAULT_VERSION = "demo-2019.11"
DEMO_LABEL = "DEMONSTRATION catalogue - not CBP's official criteria"
DATA_DIR = package_data.data_dir()
SCHEMA_PATH = DATA_DIR / "catalogue.schema.json"
ID_PATTERN = re.compile(r"^(\d{1,2})\.(\d{1,3})$")
VERSION_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
FRAME_COLUMNS = ["id", "category", "category_name", "focus_area", "must_should", "requirement",
                 "observe", "request", "source", "provenance"]


def criterion_sort_key(criterion_id: str) -> tuple[int, int]:
    """Numeric order of ids: "6.10" sorts after "6.9"."""
    m = ID_PATTERN.match(criterion_id)
    if not m:
        raise InputError("criterion id", criterion_id, "category.number, e.g. 6.1")
    return int(m.group(1)), int(m.group(2))


def _category(number: int) -> v.Category:
    return v.CATEGORIES[number - 1]


def check_entity_types(entity_types: Iterable[str]) -> tuple[str, ...]:
    """The entity type codes, checked against the vocabulary (InputError names the bad one)."""
    types = tuple(entity_types)
    for t in types:
        if t not in v.ENTITY_TYPES:
            raise InputError("entity type", t, "one of: " + ", ".join(v.ENTITY_TYPES))
    return types


@dataclass(frozen=True)
class Criterion:
    """One criterion of one catalogue version."""

    id: str
    category: int
    requirement: str
    observe: str
    request: str
    must_should: Mapping[str, str]
    source: str
    provenance: Provenance
    topic: str = ""
    guidance: str = ""  # CBP's implementation guidance, for imported tables
    note: str = ""  # e.g. which parts of a reference criterion are assumed

    def __hash__(self) -> int:  # must_should is a dict: hash what identifies the criterion
        return hash((self.id, self.requirement, tuple(sorted(self.must_should.items()))))

    @property
    def number(self) -> int:
        return criterion_sort_key(self.id)[1]

    @property
    def category_name(self) -> str:
        return _category(self.category).name

    @property
    def focus_area(self) -> str:
        return _category(self.category).focus_area

    def applies_to(self, entity_types: Iterable[str]) -> bool:
        """Whether any of the entity types' tables lists this criterion."""
        return any(t in self.must_should for t in entity_types)

    def level_for(self, entity_types: Iterable[str]) -> str:
        """The strictest level across the given types it applies to ("Must" beats "Should")."""
        levels = [self.must_should[t] for t in entity_types if t in self.must_should]
        if not levels:
            raise NotFoundError("criterion for these entity types", self.id,
                                f"{self.id} applies to: {', '.join(self.must_should)}")
        return "Must" if "Must" in levels else "Should"


@dataclass(frozen=True)
class Catalogue:
    """One version of the criteria, with its provenance and a human label."""

    version: str
    provenance: Provenance
    label: str
    criteria: tuple[Criterion, ...]
    description: str = ""
    sources: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    imported_tables: Mapping[str, str] = field(default_factory=dict)
    generated_by: str = ""

    def __hash__(self) -> int:
        return hash((self.version, self.provenance, self.criteria))

    @property
    def is_demonstration(self) -> bool:
        return self.provenance == "demonstration"

    def criterion(self, criterion_id: str) -> Criterion:
        for c in self.criteria:
            if c.id == criterion_id:
                return c
        raise NotFoundError("criterion", criterion_id, f"not in catalogue {self.version}")

    def applicable(self, entity_types: Iterable[str]) -> list[Criterion]:
        """The union of the entity types' criteria, sorted by (category, number)."""
        types = check_entity_types(entity_types)
        return sorted((c for c in self.criteria if c.applies_to(types)),
                      key=lambda c: criterion_sort_key(c.id))

    def entity_types(self) -> list[str]:
        """Entity types that at least one criterion applies to, in vocabulary order."""
        present = {t for c in self.criteria for t in c.must_should}
        return [t for t in v.ENTITY_TYPES if t in present]

    def frame(self, entity_types: Iterable[str] | None = None) -> pd.DataFrame:
        """The criteria as a table; with entity types, their union at the strictest level.

        Without entity types every criterion is listed and ``must_should`` shows the levels per
        type (``importer: Must; exporter: Should``).
        """
        import pandas as pd

        if entity_types is None:
            rows = sorted(self.criteria, key=lambda c: criterion_sort_key(c.id))
            level = {c.id: "; ".join(f"{t}: {lv}" for t, lv in c.must_should.items())
                     for c in rows}
        else:
            types = tuple(entity_types)
            rows = self.applicable(types)
            level = {c.id: c.level_for(types) for c in rows}
        data = {
            "id": [c.id for c in rows],
            "category": [c.category for c in rows],
            "category_name": [c.category_name for c in rows],
            "focus_area": [c.focus_area for c in rows],
            "must_should": [level[c.id] for c in rows],
            "requirement": [c.requirement for c in rows],
            "observe": [c.observe for c in rows],
            "request": [c.request for c in rows],
            "source": [c.source for c in rows],
            "provenance": [c.provenance for c in rows],
        }
        df = pd.DataFrame(data, columns=FRAME_COLUMNS)
        df = df.astype({col: "str" for col in FRAME_COLUMNS if col != "category"})
        return df.astype({"category": "int64"})


# -- JSON (de)serialisation ------------------------------------------------------------------

@lru_cache(maxsize=1)
def _schema() -> dict[str, Any]:
    return json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))


def _json_path(parts: Iterable[object]) -> str:
    out = "$"
    for p in parts:
        out += f"[{p}]" if isinstance(p, int) else f".{p}"
    return out


def validate_document(doc: Any, file: object = "<catalogue>", *, schema: bool = True) -> None:
    """Check a catalogue document against the schema and the id rules; raise CatalogueError.

    Beyond the schema: an id's category must equal its ``category`` field, ids are unique.
    ``schema=False`` checks the id rules only (for a document validated before, unchanged).
    """
    if schema:
        import jsonschema

        validator = jsonschema.Draft202012Validator(_schema())
        errors = sorted(validator.iter_errors(doc), key=lambda e: list(e.absolute_path))
        if errors:
            e = errors[0]
            more = f" (and {len(errors) - 1} more problems)" if len(errors) > 1 else ""
            raise CatalogueError(file, _json_path(e.absolute_path), e.message + more)
    seen: dict[str, int] = {}
    for i, c in enumerate(doc["criteria"]):
        if criterion_sort_key(c["id"])[0] != c["category"]:
            raise CatalogueError(file, _json_path(["criteria", i, "category"]),
                                 f"criterion {c['id']} is in category {c['id'].split('.')[0]}, "
                                 f"not {c['category']}")
        if c["id"] in seen:
            raise CatalogueError(file, _json_path(["criteria", i, "id"]),
                                 f"duplicate criterion id {c['id']} (first at criteria[{seen[c['id']]}])")
        seen[c["id"]] = i


def validated_dir() -> Path | None:
    """Where successful validations are remembered (one empty file per content digest);
    None when this user has no cache folder (nothing is remembered then)."""
    base = os.environ.get("XDG_CACHE_HOME")
    if not base:
        try:
            base = str(Path.home() / ".cache")
        except (RuntimeError, KeyError):  # no home folder known
            return None
    return Path(base) / "ctpat-audit" / "validated-catalogues"


def _validation_key(data: bytes) -> str:
    """SHA-256 of the schema and the catalogue file's bytes: names one validation result."""
    digest = hashlib.sha256(SCHEMA_PATH.read_bytes())
    digest.update(b"\0")
    digest.update(data)
    return digest.hexdigest()


def _validated_before(key: str) -> bool:
    folder = validated_dir()
    return folder is not None and (folder / key).is_file()


def _remember_validated(key: str) -> None:
    folder = validated_dir()
    if folder is None:
        return
    try:
        folder.mkdir(parents=True, exist_ok=True)
        (folder / key).touch()
    except OSError:
        pass  # nowhere to remember it: the next process validates again


def catalogue_from_dict(doc: Mapping[str, Any], file: object = "<catalogue>", *,
                        schema: bool = True) -> Catalogue:
    """Build a Catalogue from a document, validated first (``schema=False``: the id rules
    only, for a document validated before and unchanged)."""
    validate_document(doc, file, schema=schema)
    criteria = tuple(
        Criterion(id=c["id"], category=c["category"], requirement=c["requirement"],
                  observe=c["observe"], request=c["request"],
                  must_should={t: c["must_should"][t] for t in v.ENTITY_TYPES
                               if t in c["must_should"]},
                  source=c["source"], provenance=c["provenance"], topic=c.get("topic", ""),
                  guidance=c.get("guidance", ""), note=c.get("note", ""))
        for c in doc["criteria"])
    return Catalogue(version=doc["version"], provenance=doc["provenance"], label=doc["label"],
                     criteria=tuple(sorted(criteria, key=lambda c: criterion_sort_key(c.id))),
                     description=doc.get("description", ""), sources=doc.get("sources", {}),
                     imported_tables=doc.get("imported_tables", {}),
                     generated_by=doc.get("generated_by", ""))


def catalogue_to_dict(catalogue: Catalogue) -> dict[str, Any]:
    """The JSON document of a catalogue (stable key order, criteria in numeric id order)."""
    doc: dict[str, Any] = {"format": FORMAT, "version": catalogue.version,
                           "provenance": catalogue.provenance, "label": catalogue.label}
    if catalogue.description:
        doc["description"] = catalogue.description
    if catalogue.generated_by:
        doc["generated_by"] = catalogue.generated_by
    if catalogue.imported_tables:
        doc["imported_tables"] = dict(catalogue.imported_tables)
    doc["focus_areas"] = list(v.FOCUS_AREAS)
    doc["categories"] = [{"number": c.number, "name": c.name, "focus_area": c.focus_area}
                         for c in v.CATEGORIES]
    if catalogue.sources:
        doc["sources"] = {k: dict(s) for k, s in catalogue.sources.items()}
    items = []
    for c in sorted(catalogue.criteria, key=lambda c: criterion_sort_key(c.id)):
        item: dict[str, Any] = {"id": c.id, "category": c.category}
        if c.topic:
            item["topic"] = c.topic
        item.update(requirement=c.requirement)
        if c.guidance:
            item["guidance"] = c.guidance
        item.update(observe=c.observe, request=c.request, must_should=dict(c.must_should),
                    source=c.source, provenance=c.provenance)
        if c.note:
            item["note"] = c.note
        items.append(item)
    doc["criteria"] = items
    return doc


def dumps(catalogue: Catalogue) -> str:
    """The catalogue as JSON text, deterministic (used for the committed demo file)."""
    return json.dumps(catalogue_to_dict(catalogue), indent=1, ensure_ascii=False) + "\n"


# -- where catalogues live -------------------------------------------------------------------

def check_version(version: str) -> str:
    if not VERSION_PATTERN.match(version):
        raise InputError("catalogue version", version,
                         "letters, digits, '.', '_' or '-' (at most 64), e.g. 2019.11")
    return version


def builtin_path(version: str) -> Path:
    return DATA_DIR / f"catalogue-{check_version(version)}.json"


def workspace_path(version: str, workspace: str | Path) -> Path:
    return Path(workspace) / "catalogues" / f"{check_version(version)}.json"


def available_versions(workspace: str | Path | None = None) -> list[str]:
    """Built-in versions, then those imported into the workspace."""
    found = [p.name[len("catalogue-"):-len(".json")] for p in sorted(DATA_DIR.glob("catalogue-*.json"))]
    if workspace is not None:
        folder = Path(workspace) / "catalogues"
        found += [p.stem for p in sorted(folder.glob("*.json")) if p.stem not in found]
    return found


@lru_cache(maxsize=16)
def _load_file(path: Path, mtime_ns: int) -> Catalogue:
    data = path.read_bytes()
    try:
        doc = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CatalogueError(path, "", f"not valid UTF-8 JSON ({exc})") from exc
    key = _validation_key(data)
    known = _validated_before(key)
    catalogue = catalogue_from_dict(doc, path, schema=not known)
    if not known:
        _remember_validated(key)
    return catalogue


def load_catalogue_file(path: str | Path) -> Catalogue:
    """Load and validate one catalogue JSON file (cached while the file is unchanged)."""
    p = Path(path).resolve()
    if not p.is_file():
        raise NotFoundError("catalogue file", str(path))
    return _load_file(p, p.stat().st_mtime_ns)


def load_catalogue(version: str | None = None, workspace: str | Path | None = None) -> Catalogue:
    """A catalogue by version: the workspace's imported one if present, else the built-in one."""
    version = check_version(version or DEFAULT_VERSION)
    candidates = []
    if workspace is not None:
        candidates.append(workspace_path(version, workspace))
    candidates.append(builtin_path(version))
    for path in candidates:
        if path.is_file():
            return load_catalogue_file(path)
    raise NotFoundError("catalogue version", version,
                        "available: " + ", ".join(available_versions(workspace)))


def save_catalogue(catalogue: Catalogue, workspace: str | Path) -> Path:
    """Write a catalogue into ``WORKSPACE/catalogues/<version>.json`` atomically."""
    doc = catalogue_to_dict(catalogue)
    validate_document(doc, f"catalogue {catalogue.version}")
    path = workspace_path(catalogue.version, workspace)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(dumps(catalogue), encoding="utf-8")
    tmp.replace(path)
    return path


# -- crosswalks between versions -------------------------------------------------------------

CROSSWALK_FORMAT = "ctpat-audit crosswalk 1"


@dataclass(frozen=True)
class Crosswalk:
    """Explicit id mappings from one catalogue version to another.

    File format (JSON; ``WORKSPACE/catalogues/crosswalks/<from>__<to>.json`` or built into
    ``ctpat_audit/data/crosswalks/``)::

        {"format": "ctpat-audit crosswalk 1", "from_version": "2019.11", "to_version": "2020.03",
         "mappings": [{"from": "3.4", "to": ["3.4", "3.5"], "note": "split"},
                      {"from": "5.9", "to": [], "note": "withdrawn"}]}

    Ids not listed map to the same id when the target version has it, else to nothing.
    """

    from_version: str
    to_version: str
    mappings: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    notes: Mapping[str, str] = field(default_factory=dict)


def load_crosswalk(from_version: str, to_version: str,
                   workspace: str | Path | None = None) -> Crosswalk:
    """The crosswalk file for two versions, or an empty one (same-id matching only)."""
    name = f"{check_version(from_version)}__{check_version(to_version)}.json"
    paths = ([Path(workspace) / "catalogues" / "crosswalks" / name] if workspace else [])
    paths.append(DATA_DIR / "crosswalks" / name)
    for path in paths:
        if path.is_file():
            return parse_crosswalk(json.loads(path.read_text(encoding="utf-8")), path)
    return Crosswalk(from_version, to_version)


def parse_crosswalk(doc: Mapping[str, Any], file: object = "<crosswalk>") -> Crosswalk:
    """Check and build a Crosswalk from its JSON document."""
    if doc.get("format") != CROSSWALK_FORMAT:
        raise CatalogueError(file, "$.format", f"expected {CROSSWALK_FORMAT!r}")
    mappings: dict[str, tuple[str, ...]] = {}
    notes: dict[str, str] = {}
    for i, m in enumerate(doc.get("mappings", [])):
        try:
            criterion_sort_key(m["from"])
            targets = tuple(m["to"])
            for t in targets:
                criterion_sort_key(t)
        except (KeyError, TypeError, InputError) as exc:
            raise CatalogueError(file, f"$.mappings[{i}]",
                                 f"expected from: an id and to: a list of ids ({exc})") from exc
        mappings[m["from"]] = targets
        if m.get("note"):
            notes[m["from"]] = str(m["note"])
    return Crosswalk(str(doc["from_version"]), str(doc["to_version"]), mappings, notes)


def crosswalk(source: Catalogue, target: Catalogue,
              mapping: Crosswalk | None = None) -> pd.DataFrame:
    """Map every id of ``source`` to ids of ``target``.

    Columns: from_id, to_id (empty when nothing matches), how ("same id", "mapped",
    "no match"), note. One row per (from, to) pair.
    """
    import pandas as pd

    mapping = mapping or Crosswalk(source.version, target.version)
    target_ids = {c.id for c in target.criteria}
    rows = []
    for c in sorted(source.criteria, key=lambda c: criterion_sort_key(c.id)):
        note = mapping.notes.get(c.id, "")
        if c.id in mapping.mappings:
            targets = mapping.mappings[c.id]
            rows += [(c.id, t, "mapped", note) for t in targets] or [(c.id, "", "no match", note)]
        elif c.id in target_ids:
            rows.append((c.id, c.id, "same id", note))
        else:
            rows.append((c.id, "", "no match", note))
    return pd.DataFrame(rows, columns=["from_id", "to_id", "how", "note"], dtype="str")
