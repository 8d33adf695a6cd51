"""Controlled vocabularies of the CTPAT domain, with their sources.

Codes are what files and the database hold; labels are what people read. Sources: CBP's
CTPAT Minimum Security Criteria (2019-2020 revision) and Portal 2.0 material, as summarised in
the project's domain notes.
"""
from __future__ import annotations

from dataclasses import dataclass

#: The twelve business entity types; each has its own CBP criteria table.
ENTITY_TYPES: dict[str, str] = {
    "importer": "U.S. Importer",
    "exporter": "U.S. Exporter",
    "foreign_manufacturer": "Foreign Manufacturer (Canada and Mexico)",
    "highway_carrier": "Highway Carrier (U.S., Canada, Mexico)",
    "mexican_long_haul_carrier": "Mexican Long-Haul Highway Carrier",
    "rail_carrier": "Rail Carrier",
    "sea_carrier": "Sea Carrier",
    "air_carrier": "Air Carrier",
    "marine_port_terminal_operator": "U.S. Marine Port Authority and Terminal Operator",
    "customs_broker": "Customs Broker",
    "third_party_logistics": "Third Party Logistics Provider (3PL)",
    "consolidator": "Consolidator (Air Freight Consolidator, OTI, NVOCC)",
}

#: Partner lifecycle in the program.
PARTNER_STATUSES = ("applicant", "certified", "validated", "suspended", "removed")

#: How a validation is conducted.
VALIDATION_MODES = ("in_person", "virtual")

#: CTPAT Portal roles of an account's contacts. Only a Company Officer makes agreements
#: (including the annual Security Profile submission).
CONTACT_ROLES = ("Company Officer", "Admin", "User", "Consultant")
COMPANY_OFFICER = "Company Officer"

#: People of a team workspace (the team server's accounts) and what each role may do.
#: Partners have no accounts there: a self-assessment is done in the partner's own install or
#: with the Excel questionnaire, so no role holds ``self_assessment``.
PERSON_ROLES = ("specialist", "supervisor", "admin")
PERMISSIONS: dict[str, tuple[str, ...]] = {
    "validate": ("specialist", "supervisor"),
    "sign_validated": ("specialist", "supervisor"),
    "sign_approved": ("supervisor",),
    "portfolio": ("supervisor",),
    "batch": ("supervisor",),
    "people": ("admin",),
    "keys": ("admin",),
    "self_assessment": (),
}
#: What a permission lets a person do, in the words of a refusal ("... may not <label>").
PERMISSION_LABELS: dict[str, str] = {
    "validate": "open or answer validations",
    "sign_validated": "sign a validation 'validated'",
    "sign_approved": "approve a validation",
    "portfolio": "open the portfolio",
    "batch": "run the batch of reports",
    "people": "manage the people of the workspace",
    "keys": "manage signing keys",
    "self_assessment": "work on a partner's self-assessment (partners do it in their own "
                       "install or with the Excel questionnaire)",
}

#: Sessions: kinds (with their id prefix), modes, statuses. "none" is a self-assessment's mode.
SESSION_KINDS: dict[str, str] = {"validation": "V", "self_assessment": "S"}
SESSION_MODES = ("in_person", "virtual", "none")
SESSION_STATUSES = ("open", "submitted", "signed", "superseded")
SESSION_STATUS_LABELS: dict[str, str] = {"open": "Open", "submitted": "Submitted, read-only",
                                         "signed": "Signed, read-only",
                                         "superseded": "Superseded by a revision"}
MODE_LABELS: dict[str, str] = {"in_person": "In person (site visit)", "virtual": "Virtual",
                               "none": "Self-assessment"}

#: How a criterion was answered: one set of labels for the checklist, the questionnaire and the
#: report. The codes are what the database holds.
ANSWER_STATUS_LABELS: dict[str, str] = {"meets": "Meets", "does_not_meet": "Does not meet",
                                        "not_applicable": "Not applicable",
                                        "not_verified": "Not verified"}
ANSWER_STATUSES = tuple(ANSWER_STATUS_LABELS)
NOT_ANSWERED = "Not answered"

#: How the specialist observed a criterion being met.
OBSERVATION_METHOD_LABELS: dict[str, str] = {
    "observed_on_site": "Observed on site", "live_video": "Live video",
    "photos_video_submitted": "Photos/video submitted", "document_review": "Document review",
    "interview": "Interview"}
OBSERVATION_METHODS = tuple(OBSERVATION_METHOD_LABELS)

#: A criterion's level for an entity type (CBP's MSC tables).
LEVELS = ("Must", "Should")

FACILITY_KINDS = ("plant", "warehouse", "office", "distribution_center", "terminal",
                  "yard", "port", "other")

#: Transport modes of an entry.
MODES = ("sea", "air", "truck", "rail")

#: Exam types (CBP exam vocabulary as summarised in the domain notes).
EXAM_TYPES: dict[str, str] = {
    "nii": "Non-intrusive inspection (X-ray/gamma, e.g. VACIS)",
    "tailgate": "Tailgate exam",
    "intensive": "Intensive / physical exam (CES)",
    "agriculture": "Agricultural exam",
    "document_review": "Document review",
}

#: Exam results: cleared, or the kind of discrepancy found.
EXAM_RESULTS: dict[str, str] = {
    "cleared": "Cleared",
    "seal_discrepancy": "Seal discrepancy",
    "agricultural_contamination": "Agricultural contamination or pests",
    "narcotics": "Narcotics",
    "hidden_compartment": "Hidden compartment",
    "misdescribed_goods": "Undeclared or misdescribed goods",
    "conveyance_tampering": "Conveyance tampering",
}

OUTREACH_CHANNELS = ("email", "phone", "letter", "linkedin", "portal_message", "site_visit")
OUTREACH_OUTCOMES = ("no_response", "responded", "bounced", "scheduled", "resolved")


@dataclass(frozen=True)
class Category:
    number: int
    name: str
    focus_area: str


FOCUS_AREAS = ("Corporate Security", "Transportation Security", "People and Physical Security")

#: The twelve MSC categories in their three focus areas (2019 revision).
CATEGORIES: tuple[Category, ...] = (
    Category(1, "Security Vision and Responsibility", FOCUS_AREAS[0]),
    Category(2, "Risk Assessment", FOCUS_AREAS[0]),
    Category(3, "Business Partners", FOCUS_AREAS[0]),
    Category(4, "Cybersecurity", FOCUS_AREAS[0]),
    Category(5, "Conveyance and Instruments of International Traffic Security", FOCUS_AREAS[1]),
    Category(6, "Seal Security", FOCUS_AREAS[1]),
    Category(7, "Procedural Security", FOCUS_AREAS[1]),
    Category(8, "Agricultural Security", FOCUS_AREAS[1]),
    Category(9, "Physical Security", FOCUS_AREAS[2]),
    Category(10, "Physical Access Controls", FOCUS_AREAS[2]),
    Category(11, "Personnel Security", FOCUS_AREAS[2]),
    Category(12, "Education, Training and Awareness", FOCUS_AREAS[2]),
)


#: Roles a signer's key certifies (``trust.keys``), so a command line can offer them without
#: loading the cryptography it needs to make or read a key.
SIGNER_ROLES = ("specialist", "supervisor", "company_officer")

#: What a signature means: meaning -> (label in the PDF, role required, session kind it applies
#: to) (``trust.authority``).
SIGNATURE_MEANINGS: dict[str, tuple[str, str, str]] = {
    "validated": ("Validated by", "specialist", "validation"),
    "approved": ("Approved by", "supervisor", "validation"),
    "submitted": ("Submitted by Company Officer", "company_officer", "self_assessment"),
}
