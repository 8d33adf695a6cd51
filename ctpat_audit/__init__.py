"""ctpat-audit: audit and validation toolkit for the U.S. CBP CTPAT program."""
from __future__ import annotations

from .errors import CtpatError, IntakeError, NotFoundError, WorkspaceError

__version__ = "0.1.0"

__all__ = [
    "CtpatError",
    "IntakeError",
    "NotFoundError",
    "WorkspaceError",
    "__version__",
]
