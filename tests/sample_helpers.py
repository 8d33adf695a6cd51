"""Small shared helpers for tests that build sample sources (importable from any test module)."""
from __future__ import annotations

import datetime as dt

AS_OF = dt.date(2026, 11, 1)
FEW_CRITERIA = ["1.1", "1.2", "6.1", "6.2", "7.37", "11.5"]


def few_criteria(entity_types: list[str]) -> list[str]:
    """A fixed criteria list, so a sample does not depend on the catalogue."""
    return list(FEW_CRITERIA)
