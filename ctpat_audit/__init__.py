"""ctpat-audit: audit and validation toolkit for the U.S. CBP CTPAT program."""
from __future__ import annotations

from ctpat_audit.core.errors import CtpatError, IntakeError, NotFoundError, WorkspaceError
from ctpat_audit.criteria.catalogue import Catalogue, Criterion, load_catalogue  # light: no pandas at import

__version__ = "0.1.0"

__all__ = [
    "Catalogue",
    "Criterion",
    "load_catalogue",
    "CtpatError",
    "IntakeError",
    "NotFoundError",
    "WorkspaceError",
    "__version__",
    "sign_report",
    "load_signer",
    "verify_report",
    "demo_keys",
    "render_report",
    "Renderer",
    "ReportError",
]

# Signing pulls in cryptography and pyHanko: imported on first use only.
_LAZY = {"sign_report": "trust.signing", "load_signer": "trust.keys",
         "verify_report": "trust.verify", "demo_keys": "trust.signing",
         "render_report": "reports.pipeline", "Renderer": "reports.pipeline",
         "ReportError": "reports.pipeline"}


def __getattr__(name: str) -> object:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
