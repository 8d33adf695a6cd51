"""What a CBP criteria table looks like, independent of the file format it comes in.

CBP publishes one Minimum Security Criteria table per business entity type with the columns
ID, Criteria, Implementation Guidance and Must/Should, grouped under category headings
("6. Seal Security", often followed by an introduction). This module holds that vocabulary:
the header spellings accepted for each column, how a category heading and a criterion id are
recognised, and :class:`TableRow`, one criterion row as read from any format.

A workbook exported by ``ctpat-audit catalogue --xlsx`` has the same columns plus one
Must/Should column per entity type (``Must/Should (importer)``), Category, Observe, Request,
Source and Provenance; they are read too, so an export imports back unchanged.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from ctpat_audit.core import vocabulary as v
from ctpat_audit.core.errors import Problem

#: canonical column -> accepted header spellings (after :func:`norm`)
COLUMNS: dict[str, tuple[str, ...]] = {
    "id": ("id", "criteria id", "criterion id", "id number", "id no."),
    "criteria": ("criteria", "criterion", "criteria text", "requirement"),
    "guidance": ("implementation guidance", "guidance"),
    "level": ("must/should", "must or should", "must/should/may"),
    "category": ("category",),
    "observe": ("observe",),
    "request": ("request",),
    "source": ("source",),
    "provenance": ("provenance",),
}
REQUIRED = ("id", "criteria", "level")
#: how the problems name a column when the file did not (CBP's spelling)
DISPLAY = {"id": "ID", "criteria": "Criteria", "guidance": "Implementation Guidance",
           "level": "Must/Should", "category": "Category", "observe": "Observe",
           "request": "Request", "source": "Source", "provenance": "Provenance"}
EXPECTED_HEADERS = "ID, Criteria, Implementation Guidance, Must/Should"
ID_RE = re.compile(r"^(\d{1,2})\.(\d{1,3})$")
#: text in an ID cell that was meant as an id but is malformed ("1-2", "6,2", "13.1a", "7.")
ID_ATTEMPT = re.compile(r"^\d{1,2}\s*[.,\-:]\s*\d*[A-Za-z]?$|^\d{1,2}\.\d+[.\d]*$")
_LEVEL_COLUMN = re.compile(r"^must/should\s*[(:\-]\s*([a-z0-9_ ]+?)\s*\)?$")
_FOCUS_AREAS = {f.casefold() for f in v.FOCUS_AREAS}
_ALIASES = {"cyber security": 4, "security vision & responsibility": 1,
            "conveyance and iit security": 5, "conveyance & iit security": 5,
            "instruments of international traffic security": 5,
            "conveyance and instruments of international traffic (iit) security": 5,
            "education training and awareness": 12, "agriculture security": 8,
            "personnel security": 11, "physical access control": 10}


def norm(text: object) -> str:
    """Lower-case text with single spaces and no spaces around a slash ("Must / Should")."""
    s = re.sub(r"\s+", " ", str(text or "")).strip().casefold()
    return re.sub(r"\s*/\s*", "/", s)


def level_column_entity(header: str) -> str | None:
    """The entity type of a per-entity level header ("Must/Should (sea_carrier)"), else None."""
    m = _LEVEL_COLUMN.match(norm(header))
    if not m:
        return None
    key = m.group(1).strip().replace(" ", "_")
    if key in v.ENTITY_TYPES:
        return key
    for code, label in v.ENTITY_TYPES.items():
        if norm(label) == m.group(1).strip():
            return code
    return None


def header_column(text: object) -> str | None:
    """The canonical column a header cell names ("Must / Should" -> "level"), else None.

    A per-entity level header maps to ``level:<entity type>``.
    """
    n = norm(text)
    for canon, names in COLUMNS.items():
        if n in names:
            return canon
    compact = n.replace(" ", "")  # a word broken inside a narrow cell ("Must/Shoul d")
    for canon, names in COLUMNS.items():
        if compact in {name.replace(" ", "") for name in names}:
            return canon
    entity = level_column_entity(n)
    return f"level:{entity}" if entity else None


def header_prefix(text: object) -> bool:
    """Whether ``text`` is the start of an accepted header (a header cut by a line wrap)."""
    n = norm(text)
    return bool(n) and any(name.startswith(n) for names in COLUMNS.values() for name in names)


def is_id(text: str) -> bool:
    return bool(ID_RE.match(text.strip()))


def looks_like_id(text: str) -> bool:
    """An id, or text in an ID cell that was meant as one (reported as a bad id)."""
    t = text.strip()
    return is_id(t) or bool(ID_ATTEMPT.match(t))


def heading_category(text: str) -> int | None:
    """The category a heading names, else None.

    Accepts "Seal Security", "6. Seal Security", "6) Seal Security - continued" and a heading
    followed by its introduction ("Risk Assessment – A sound risk assessment ..."): the
    category's name must open the text and end at its end or at a dash, colon or full stop.
    A sentence that merely begins with the same words ("Physical security is ...") is not a
    heading unless the number precedes it.
    """
    s = norm(text).replace("–", "-").replace("—", "-")
    numbered = re.match(r"^(\d{1,2})\s*[.)]?\s+(?=[a-z])", s)
    s = s[numbered.end():] if numbered else s
    s = s.replace("&", "and").replace(",", "")
    names = [(c.name.casefold().replace(",", ""), c.number) for c in v.CATEGORIES]
    names += [(a.replace("&", "and").replace(",", ""), n) for a, n in _ALIASES.items()]
    for name, number in sorted(names, key=lambda p: -len(p[0])):
        if not s.startswith(name):
            continue
        rest = s[len(name):]
        if not rest or re.match(r"^\s*[-:.(]", rest) or numbered:
            if numbered and int(numbered.group(1)) != number:
                return None
            return number
    return None


def is_focus_area(text: str) -> bool:
    """A focus-area title ("Corporate Security", "First Focus Area: Corporate Security")."""
    s = norm(text)
    return s in _FOCUS_AREAS or any(s.endswith(": " + f) for f in _FOCUS_AREAS)


def normalise_level(text: str) -> str | None:
    """"Must" or "Should" (any case, or broken inside a narrow cell: "Shoul d"), else None."""
    return {"must": "Must", "should": "Should"}.get(norm(text).replace(" ", ""))


@dataclass
class TableRow:
    """One criterion row as read, with where it came from.

    ``cells`` maps canonical columns to text: "id", "criteria", "guidance", "level" (one
    entity type's table) or "level:<entity type>" (an export with a column per type), and the
    optional "category", "observe", "request", "source", "provenance". ``row`` is the
    spreadsheet/CSV row, or for a PDF the line on ``page`` where the row starts; ``where``
    gives, for a PDF, the (page, line) of each column's first word.
    """

    cells: dict[str, str]
    row: int
    heading: int | None
    page: int | None = None
    sheet: str | None = None
    headers: dict[str, str] = field(default_factory=dict)  # canonical -> header as in the file
    where: dict[str, tuple[int, int]] = field(default_factory=dict)

    def header(self, column: str) -> str:
        """The column's header as the file spells it (CBP's spelling if the file had none)."""
        return self.headers.get(column) or DISPLAY.get(column.split(":")[0], column)

    def levels(self, entity_type: str | None) -> dict[str, str]:
        """Entity type -> level text as read (blank cells of per-entity columns omitted)."""
        if "level" in self.cells and entity_type is not None:
            return {entity_type: self.cells["level"]}
        return {k.split(":", 1)[1]: t for k, t in self.cells.items()
                if k.startswith("level:") and t.strip()
                and entity_type in (None, k.split(":", 1)[1])}


@dataclass
class TableRead:
    """What one criteria table gave (PDF, .csv or .xlsx): criterion rows, problems that stop
    the import, and notices (e.g. columns ignored)."""

    rows: list[TableRow] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)
