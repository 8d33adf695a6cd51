"""Where the files shipped with the package live: criteria data, notebooks, report templates.

Resolved through :mod:`importlib.resources`, so a wheel install finds them as well as a source
checkout (where ``notebooks/`` and ``templates/`` sit at the top of the repository and are mapped
into the package by ``pyproject.toml``).
"""
from __future__ import annotations

from importlib import resources
from pathlib import Path


def _folder(package: str) -> Path:
    return Path(str(resources.files(package)))


def data_dir() -> Path:
    """Reference tables and catalogues (``ctpat_audit/data``)."""
    return _folder("ctpat_audit.data")


def notebooks_dir() -> Path:
    """The notebooks users open: validation, self-assessment, portfolio (read-only originals)."""
    return _folder("ctpat_audit.notebooks")


def templates_dir() -> Path:
    """The report notebook and its nbconvert HTML template."""
    return _folder("ctpat_audit.templates")
