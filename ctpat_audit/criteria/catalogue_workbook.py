"""A catalogue as a workbook that ``ctpat-audit catalogue import`` reads back unchanged.

The table has every column the criteria-table import reads (see
:mod:`ctpat_audit.criteria.table_layout`): ID, Category, Criteria, Implementation Guidance, one
``Must/Should (<entity type>)`` column per entity type (blank: the criterion does not apply to
that type), Observe, Request, Source and Provenance.
"""
from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from ctpat_audit.criteria.catalogue import (
    Catalogue,
    check_entity_types,
    criterion_sort_key,
)

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

def level_header(entity_type: str) -> str:
    """The export's Must/Should column for one entity type, e.g. "Must/Should (importer)"."""
    return f"Must/Should ({entity_type})"


def export_frame(catalogue: Catalogue, entity_types: Iterable[str] | None = None) -> pd.DataFrame:
    """Every column the criteria-table import reads: ID, Category, Criteria, Implementation
    Guidance, one Must/Should column per entity type (blank: the criterion does not apply to
    that type), Observe, Request, Source and Provenance."""
    import pandas as pd

    types = catalogue.entity_types() if entity_types is None else list(entity_types)
    rows = (sorted(catalogue.criteria, key=lambda c: criterion_sort_key(c.id))
            if entity_types is None else catalogue.applicable(types))
    data: dict[str, list[object]] = {
        "ID": [c.id for c in rows], "Category": [c.category for c in rows],
        "Criteria": [c.requirement for c in rows],
        "Implementation Guidance": [c.guidance for c in rows]}
    for t in types:
        data[level_header(t)] = [c.must_should.get(t, "") for c in rows]
    data.update({"Observe": [c.observe for c in rows], "Request": [c.request for c in rows],
                 "Source": [c.source for c in rows], "Provenance": [c.provenance for c in rows]})
    return pd.DataFrame(data)


def write_xlsx(catalogue: Catalogue, path: str | Path,
               entity_types: Iterable[str] | None = None) -> Path:
    """Export the criteria (those applying to ``entity_types``) to a formatted workbook.

    Row 1 carries the catalogue label (for a demonstration: that it is not CBP's official
    criteria), row 2 the version and entity types; the table (:func:`export_frame`) starts on
    row 4 with styled headers, frozen panes and filters. Ids and text are always stored as
    text, never as numbers or formulas, so ``catalogue import`` reads the workbook back as it
    was exported.
    """
    from openpyxl import Workbook

    from ctpat_audit.core import xlsx as excel

    types = None if entity_types is None else check_entity_types(entity_types)
    frame = export_frame(catalogue, types)
    wb = Workbook()
    ws = excel.first_sheet(wb)
    ws.title = "Criteria"
    excel.title_row(ws, catalogue.label, row=1)
    scope = ", ".join(types) if types else "all entity types (a Must/Should column per type)"
    excel.set_cell(ws, 2, 1, f"Catalogue {catalogue.version} ({catalogue.provenance}); "
                             f"entity types: {scope}; {len(frame)} criteria")
    widths = {"ID": 7, "Category": 10, "Criteria": 60, "Implementation Guidance": 50,
              "Observe": 45, "Request": 45, "Source": 40, "Provenance": 14}
    widths.update({c: 16 for c in frame.columns if c.startswith("Must/Should")})
    excel.write_table(ws, frame, start_row=4, widths=widths,
                      wrap=("Criteria", "Implementation Guidance", "Observe", "Request", "Source"))
    about = wb.create_sheet("About")
    excel.title_row(about, catalogue.label, row=1)
    lines = [f"version: {catalogue.version}", f"provenance: {catalogue.provenance}",
             catalogue.description]
    for i, line in enumerate(filter(None, lines), start=3):
        excel.set_cell(about, i, 1, line)
    return excel.save(wb, path)
