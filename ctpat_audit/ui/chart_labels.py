"""Labels the exam charts share, whether drawn by matplotlib (:mod:`ctpat_audit.ui.charts`)
or as SVG for reports (:mod:`ctpat_audit.ui.print_charts`): no plotting library here."""
from __future__ import annotations

from typing import Protocol

from ctpat_audit.core import vocabulary as v

__all__ = ["PortRow", "port_label", "short_type"]


class PortRow(Protocol):
    """A row of a by-port rate table (port_name, mode and shipments are optional columns)."""

    port_code: str


def port_label(r: PortRow) -> str:
    """``CODE NAME (mode)  n=SHIPMENTS`` for one port row."""
    name = getattr(r, "port_name", "") or ""
    mode = getattr(r, "mode", "") or ""
    label = f"{r.port_code} {name}".strip()
    n = getattr(r, "shipments", None)
    label += f" ({mode})" if mode else ""
    return label + (f"  n={int(n)}" if n is not None else "")


def short_type(code: str) -> str:
    """A short, printable name of an exam type code."""
    return {"nii": "NII / X-ray", "tailgate": "Tailgate", "intensive": "Intensive (CES)",
            "agriculture": "Agricultural", "document_review": "Document review"}.get(
        code, v.EXAM_TYPES.get(code, code))
