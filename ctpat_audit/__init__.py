"""ctpat-audit: audit and validation toolkit for the U.S. CBP CTPAT program."""
from __future__ import annotations

from .catalogue import Catalogue, Criterion, load_catalogue  # light: no pandas at import
from .errors import CtpatError, IntakeError, NotFoundError, WorkspaceError

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
]
