"""Plain text for the terminal: the tables and listings the command line prints.

A missing value prints as an empty cell, never as ``NaN``, ``<NA>`` or ``None``: a reader of
``ctpat-audit sessions`` should see that a session supersedes nothing, not a pandas marker.
Long text is clipped to a column width so a table stays readable in a terminal.
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any

import pandas as pd

from ctpat_audit.criteria.catalogue import LEVELS, Catalogue, check_entity_types, criterion_sort_key

__all__ = ["plain_frame", "plain_table", "format_catalogue", "format_review_portfolio",
           "format_sessions", "format_certificates", "SESSION_LIST_COLUMNS", "REVIEW_COLUMNS"]

#: Columns ``ctpat-audit sessions`` prints (the frame has more: facilities, dates...).
SESSION_LIST_COLUMNS = ["session_id", "account_id", "kind", "mode", "status", "opened_by",
                   "opened_at", "catalogue_version", "supersedes"]
#: Columns of the portfolio review the terminal shows (the workbook has every column).
REVIEW_COLUMNS = ["account_id", "legal_name", "status", "review_status", "days_overdue",
                  "blank", "must_not_addressed", "risk", "reasons"]


def plain_frame(frame: pd.DataFrame, width: int | None = 48) -> pd.DataFrame:
    """A copy of ``frame`` for printing: text clipped to ``width`` characters (None: never),
    dates as YYYY-MM-DD, and every missing value (NaN, NA, NaT, None) an empty string."""
    out = frame.copy()
    for c in out.columns:
        if out[c].dtype == object or pd.api.types.is_string_dtype(out[c]):
            text = out[c].astype(object).where(out[c].notna(), "").map(str)
            if width is not None:
                out[c] = text.map(lambda s: s if len(s) <= width else s[:width - 3] + "...")
            else:
                out[c] = text
        elif pd.api.types.is_datetime64_any_dtype(out[c]):
            out[c] = out[c].dt.strftime("%Y-%m-%d").fillna("")
    return out.astype(object).where(out.notna(), "")


def plain_table(frame: pd.DataFrame, columns: Sequence[str] | None = None,
                limit: int | None = None, width: int | None = 60, empty: str = "(none)") -> str:
    """``frame`` (its ``columns``, its first ``limit`` rows) as an aligned text table without
    index, text clipped to ``width`` characters (None: never); ``empty`` when it has no rows."""
    t = frame[list(columns)] if columns is not None else frame
    if limit is not None:
        t = t.head(limit)
    if t.empty:
        return empty
    return plain_frame(t, width).to_string(index=False)


def _level(criterion: Any, types: tuple[str, ...] | None) -> str:
    if types:
        return str(criterion.level_for(types))
    counts = Counter(criterion.must_should.values())  # levels per entity type, counted
    return f"M:{counts['Must']} S:{counts['Should']}"


def format_catalogue(catalogue: Catalogue, entity_types: Iterable[str] | None = None) -> str:
    """The criteria of a catalogue by category, one line each: id, level, requirement.

    With entity types: their union at the strictest level ("Must" beats "Should"), and how
    many of each level. Without: every criterion, its levels counted over the entity types
    it applies to (``M:7 S:3``). A criterion whose provenance differs from the catalogue's is
    marked with it (a reference criterion inside a demonstration catalogue).
    """
    types = check_entity_types(entity_types) if entity_types else None
    criteria = (catalogue.applicable(types) if types else
                sorted(catalogue.criteria, key=lambda c: criterion_sort_key(c.id)))
    lines = [catalogue.label,
             f"catalogue {catalogue.version} ({catalogue.provenance})"
             + (f"; entity types: {', '.join(types)}" if types else "; all entity types")]
    category = None
    for c in criteria:
        if c.category != category:
            category = c.category
            lines += ["", f"{c.category}. {c.category_name} ({c.focus_area})"]
        mark = "" if c.provenance == catalogue.provenance else f" [{c.provenance}]"
        lines.append(f"  {c.id:<6} {_level(c, types):<7} {c.requirement}{mark}")
    summary = f"{len(criteria)} criteria"
    if types:
        counts = Counter(c.level_for(types) for c in criteria)
        summary += " (" + ", ".join(f"{lv}: {counts[lv]}" for lv in LEVELS if counts[lv]) + ")"
    lines += ["", summary + (f" - {catalogue.label}" if catalogue.is_demonstration else "")]
    return "\n".join(lines)


def format_review_portfolio(frame: pd.DataFrame, as_of: Any, catalogue: Catalogue,
                            limit: int = 40) -> str:
    """The portfolio's security-profile review: a headline, how many partners are in each
    review status, and the first ``limit`` partners (overdue first, as the frame is sorted)."""
    counts = frame["review_status"].value_counts()
    return "\n".join([
        f"security-profile review as of {as_of} - catalogue {catalogue.version}: "
        f"{catalogue.label}",
        ", ".join(f"{k}: {v}" for k, v in counts.items()),
        plain_table(frame, REVIEW_COLUMNS, limit, width=None, empty="(no partners)"),
    ])


def format_sessions(frame: pd.DataFrame) -> str:
    """Sessions (:func:`~ctpat_audit.sessions.session.list_sessions`) as a table."""
    return plain_table(frame, SESSION_LIST_COLUMNS, empty="no sessions")


def format_certificates(rows: list[dict[str, Any]]) -> str:
    """The signer certificates of a workspace (:func:`~ctpat_audit.trust.keys.list_certs`),
    one a line, revoked ones marked, with the person each names; then how many certificates
    and people."""
    lines = []
    for r in rows:
        flag = "REVOKED" if r["revoked"] else "valid  "
        acct = f" partner {r['account_id']}" if r["account_id"] else ""
        person = r.get("person_id") or "(no person id)"
        lines.append(f"{flag} {r['serial']:<42} {person:<14} {r['role']:<16} {r['name']} "
                     f"<{r['email']}>{acct} until {r['not_after'][:10]}")
    people = {r.get("person_id") for r in rows if r.get("person_id")}
    lines.append(f"{len(rows)} certificate(s), {len(people)} person(s)")
    return "\n".join(lines)
