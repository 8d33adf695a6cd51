"""The report notebook's machine-readable summary: how the kernel hands figures to the renderer.

The report notebook displays one output of type :data:`SUMMARY_MIME` (findings, exam rate,
outcome, header); the renderer and the batch index read it back from the executed notebook.
It is never shown in the HTML.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

__all__ = ["SUMMARY_MIME", "notebook_summary"]

SUMMARY_MIME = "application/vnd.ctpat.summary+json"


def notebook_summary(notebook: str | Path | Any) -> dict[str, Any]:
    """The summary an executed report notebook published (:data:`SUMMARY_MIME`: findings,
    exam rate, outcome, header); empty if it published none."""
    import nbformat

    nb = notebook if hasattr(notebook, "cells") else nbformat.read(str(notebook), as_version=4)
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            value = out.get("data", {}).get(SUMMARY_MIME)
            if value is not None:
                return value if isinstance(value, dict) else {}
    return {}
