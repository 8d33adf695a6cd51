"""Shared fixtures: small sample sources and workspaces built by the real generator and importer."""
from __future__ import annotations

from pathlib import Path

import pytest

from ctpat_audit.intake.importer import import_source
from ctpat_audit.demo.sample_data import write_sample
from ctpat_audit.workspace.reference import init_workspace

from sample_helpers import AS_OF, few_criteria


@pytest.fixture
def small_source(tmp_path: Path) -> Path:
    """A 12-partner source that does not depend on the criteria catalogue."""
    return write_sample(tmp_path / "source", partners=12, seed=3, as_of=AS_OF,
                        shipments_per_partner=40, criteria_for=few_criteria)


@pytest.fixture
def empty_workspace(tmp_path: Path):
    return init_workspace(tmp_path / "ws")


@pytest.fixture(scope="session")
def sample_workspace(tmp_path_factory):
    """A 30-partner workspace from the default sample (with the default catalogue); read-only use."""
    root = tmp_path_factory.mktemp("sample")
    src = write_sample(root / "source", partners=30, seed=11, as_of=AS_OF, shipments_per_partner=120)
    ws = init_workspace(root / "ws")
    import_source(ws, src, progress=False)
    return ws
