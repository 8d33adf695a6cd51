"""The problems found in a source, collected in the order found and listed the way users
read them: of each kind of problem (file, sheet, column, code and expectation) the first
``LISTED_PER_KIND`` rows, then one line that counts the rest, however many batches the rows
came in (:mod:`ctpat_audit.intake.staging` reads long tables in batches).
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
import pandas as pd

from ctpat_audit.core.errors import Problem
from ctpat_audit.intake.sources import RawTable

LISTED_PER_KIND = 20


class Cells(Protocol):
    """Cell values by row position."""

    def __getitem__(self, i: int, /) -> object: ...


@dataclass
class _Kind:
    listed: list[Problem] = field(default_factory=list)
    more: int = 0


class ProblemLog:
    """The problems of a source, in the order found. Of each kind of problem (file, sheet,
    column, code and expectation), the first ``LISTED_PER_KIND`` rows are listed and one more
    line counts the rest, however many batches the rows came in."""

    def __init__(self) -> None:
        self._order: list[Problem | tuple[object, ...]] = []
        self._kinds: dict[tuple[object, ...], _Kind] = {}
        self._seen: set[Problem] = set()

    def __bool__(self) -> bool:
        return bool(self._order)

    def add(self, problem: Problem) -> None:
        """A problem of a whole file or column (recorded once however often it is found)."""
        if problem not in self._seen:
            self._seen.add(problem)
            self._order.append(problem)

    def one(self, raw: RawTable, column: str | None, value: object, code: str,
            expected: str) -> None:
        self.add(Problem(raw.file, raw.sheet, None, column,
                         None if value is None else str(value), code, expected))

    def rows(self, raw: RawTable, mask: np.ndarray, column: str | None,
             values: pd.Series | Cells | None, code: str, expected: str) -> None:
        """The rows of ``raw`` where ``mask`` is set (``values``: the cells to quote)."""
        idx = np.flatnonzero(mask)
        if idx.size == 0:
            return
        pick = values.iloc if isinstance(values, pd.Series) else values
        self.located(raw.file, raw.sheet, column, code, expected,
                     ((raw.row_number(int(i)), None if pick is None else pick[int(i)])
                      for i in idx[:LISTED_PER_KIND]), int(idx.size))

    def located(self, file: str, sheet: str | None, column: str | None, code: str,
                expected: str, rows: Iterable[tuple[int, object]], count: int) -> None:
        """``count`` rows with one kind of problem, of which ``rows`` (row number, value)
        are the first."""
        key = (file, sheet, column, code, expected)
        kind = self._kinds.get(key)
        if kind is None:
            kind = self._kinds[key] = _Kind()
            self._order.append(key)
        listed = 0
        for row, val in rows:
            if len(kind.listed) >= LISTED_PER_KIND:
                break
            kind.listed.append(Problem(file, sheet, row, column, _shown(val), code, expected))
            listed += 1
        kind.more += count - listed

    def problems(self) -> list[Problem]:
        out: list[Problem] = []
        for item in self._order:
            if isinstance(item, Problem):
                out.append(item)
                continue
            kind = self._kinds[item]
            out += kind.listed
            if kind.more:
                file, sheet, column, code, expected = item
                out.append(Problem(str(file), sheet if sheet is None else str(sheet), None,
                                   None if column is None else str(column), None, str(code),
                                   f"{kind.more} more rows with the same problem ({expected})"))
        return out


def _shown(val: object) -> str | None:
    if val is None or val is pd.NA or (isinstance(val, float) and np.isnan(val)):
        return None
    return str(val)[:200]
