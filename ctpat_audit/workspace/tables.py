"""Declarative schemas of the tables a source holds.

What a table must contain is declared here, as data (every integer column with the range of
values it accepts, every id column with the one id shape of
:mod:`ctpat_audit.core.identifiers`); how it is checked lives in :mod:`ctpat_audit.intake.checks`
and how files are read in :mod:`ctpat_audit.intake.sources`. The data-format reference
(``docs/data-formats.md``) is generated from these declarations (``ctpat-audit formats``), and a
test keeps the two equal.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from ctpat_audit.core import vocabulary as v
from ctpat_audit.core.identifiers import SAFE_ID_EXPECTED

Kind = Literal["text", "id", "date", "int", "bool", "choice", "criterion_id"]


@dataclass(frozen=True)
class Column:
    name: str
    kind: Kind
    required: bool = True  # a value must be present in every row
    choices: tuple[str, ...] = ()
    description: str = ""
    max_length: int = 10_000
    minimum: int | None = None  # int columns: the smallest and largest value accepted
    maximum: int | None = None

    def __post_init__(self) -> None:
        if self.kind == "int" and (self.minimum is None or self.maximum is None
                                   or self.minimum > self.maximum):
            raise ValueError(f"integer column {self.name!r} needs a range (minimum <= maximum)")

    def bounds(self) -> tuple[int, int]:
        """An int column's declared (minimum, maximum)."""
        if self.minimum is None or self.maximum is None:
            raise ValueError(f"column {self.name!r} declares no range")
        return self.minimum, self.maximum

    def storage_dtype(self) -> str:
        """An int column's type in derived Parquet files: the narrowest NumPy integer type
        that holds the declared range (intake refuses values outside it, so none wrap)."""
        import numpy as np

        low, high = self.bounds()
        for dtype in ("int8", "int16", "int32", "int64"):
            info = np.iinfo(dtype)
            if info.min <= low and high <= info.max:
                return dtype
        raise ValueError(f"column {self.name!r} declares a range no integer type holds")

    def expected(self) -> str:
        """What a good value looks like, in words, for error messages and the README."""
        return {
            "text": "text",
            "id": SAFE_ID_EXPECTED,
            "date": "a date as YYYY-MM-DD (a time of day after it is ignored)",
            "int": f"a whole number from {self.minimum} to {self.maximum}",
            "bool": "true or false (also yes/no, 1/0)",
            "choice": "one of: " + ", ".join(self.choices),
            "criterion_id": "a criterion id like 6.1 (category.number, category 1-12)",
        }[self.kind]


@dataclass(frozen=True)
class Table:
    name: str
    description: str
    columns: tuple[Column, ...]
    key: tuple[str, ...]  # a row's identity; duplicates are errors
    refers_to_partner: bool = True  # account_id must name a partner
    bulk: bool = False  # stored as Parquet rather than in SQLite
    checks: tuple[str, ...] = field(default=())  # names of row rules (see intake.checks)

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    def column(self, name: str) -> Column:
        return next(c for c in self.columns if c.name == name)


ACCOUNT = Column("account_id", "id", description="CTPAT account number, as text")

PARTNERS = Table(
    "partners", "One row per CTPAT account.",
    (
        ACCOUNT,
        Column("legal_name", "text", description="registered company name"),
        Column("status", "choice", choices=v.PARTNER_STATUSES),
        Column("certification_date", "date", required=False,
               description="empty for applicants"),
        Column("last_validation_date", "date", required=False),
        Column("last_validation_type", "choice", required=False, choices=v.VALIDATION_MODES),
        Column("profile_anniversary", "date",
               description="security-profile anniversary date (the annual review is due by it)"),
        Column("last_profile_review_date", "date", required=False,
               description="when the Company Officer last submitted the annual profile review"),
    ),
    key=("account_id",), refers_to_partner=False,
    checks=("validation_type_with_date",),
)

ENTITIES = Table(
    "entities", "Business entity types of a partner; several for an expanded profile model.",
    (
        ACCOUNT,
        Column("entity_type", "choice", choices=tuple(v.ENTITY_TYPES)),
    ),
    key=("account_id", "entity_type"),
)

FACILITIES = Table(
    "facilities", "Locations and facilities of a partner.",
    (
        ACCOUNT,
        Column("facility_id", "id", description="unique within the account"),
        Column("name", "text"),
        Column("kind", "choice", choices=v.FACILITY_KINDS),
        Column("country", "text", description="ISO 3166-1 alpha-2 code, e.g. US, MX, CA, CN"),
        Column("state_province", "text", required=False),
        Column("city", "text"),
    ),
    key=("account_id", "facility_id"),
    checks=("country_code",),
)

CONTACTS = Table(
    "contacts", "People of an account and their CTPAT Portal role.",
    (
        ACCOUNT,
        Column("name", "text"),
        Column("email", "text"),
        Column("role", "choice", choices=v.CONTACT_ROLES),
        Column("is_primary", "bool", required=False,
               description="primary point of contact (must be a Company Officer)"),
    ),
    key=("account_id", "email"),
    checks=("email_format",),
)

PROFILE_RESPONSES = Table(
    "profile_responses", "The partner's security-profile answers, per criterion and year.",
    (
        ACCOUNT,
        Column("profile_year", "int", minimum=1990, maximum=2100,
               description="the year of the security profile the answer belongs to"),
        Column("criterion_id", "criterion_id"),
        Column("response_text", "text", required=False),
        Column("implemented", "bool", required=False,
               description="whether the partner says the criterion is implemented"),
    ),
    key=("account_id", "profile_year", "criterion_id"),
)

SHIPMENTS = Table(
    "shipments", "Entries (shipments) and their exams; bulk, stored as Parquet.",
    (
        ACCOUNT,
        Column("entry_id", "id", description="entry number, unique in the workspace"),
        Column("entry_date", "date"),
        Column("port_code", "id", description="four-digit CBP port code, e.g. 2304 (Laredo)"),
        Column("mode", "choice", choices=v.MODES),
        Column("examined", "bool"),
        Column("exam_type", "choice", required=False, choices=tuple(v.EXAM_TYPES),
               description="required when examined"),
        Column("exam_result", "choice", required=False, choices=tuple(v.EXAM_RESULTS),
               description="required when examined"),
    ),
    key=("entry_id",), bulk=True,
    checks=("port_code_format", "exam_fields_when_examined"),
)

OUTREACH = Table(
    "outreach", "CBP's attempts to reach a partner, and their outcome.",
    (
        ACCOUNT,
        Column("contacted_on", "date"),
        Column("channel", "choice", choices=v.OUTREACH_CHANNELS),
        Column("outcome", "choice", choices=v.OUTREACH_OUTCOMES),
        Column("note", "text", required=False),
    ),
    key=("account_id", "contacted_on", "channel"),
)

#: In import order (partners first: the others refer to it).
TABLES: tuple[Table, ...] = (PARTNERS, ENTITIES, FACILITIES, CONTACTS, PROFILE_RESPONSES,
                             SHIPMENTS, OUTREACH)
TABLES_BY_NAME: dict[str, Table] = {t.name: t for t in TABLES}


def formats_markdown() -> str:
    """The table reference of ``docs/data-formats.md``, generated from the declarations above."""
    out = []
    for t in TABLES:
        where = "Parquet in the workspace" if t.bulk else "SQLite in the workspace"
        out.append(f"#### `{t.name}`\n\n{t.description} Key: `{' + '.join(t.key)}`; stored as {where}.\n")
        out.append("| column | required | expected | notes |\n|---|---|---|---|")
        for c in t.columns:
            out.append(f"| `{c.name}` | {'yes' if c.required else 'no'} | {c.expected()} | {c.description} |")
        out.append("")
    return "\n".join(out).rstrip() + "\n"
