"""One base exception for the toolkit; each subclass carries where the problem is.

Messages say what was found, what was expected and how to fix it, in plain words, because
they are read by specialists and partners, not only by programmers.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd


class CtpatError(Exception):
    """Base class of every error the toolkit raises on purpose."""


class WorkspaceError(CtpatError):
    """A workspace folder is missing, not initialised, or damaged."""

    def __init__(self, path: object, message: str) -> None:
        self.path = str(path)
        super().__init__(f"{self.path}: {message}")


class NotFoundError(CtpatError):
    """A partner, session or criterion asked for does not exist."""

    def __init__(self, kind: str, key: object, hint: str = "") -> None:
        self.kind, self.key = kind, key
        super().__init__(f"no {kind} {key!r}" + (f"; {hint}" if hint else ""))


class InputError(CtpatError):
    """A value given by a user (CLI option, parameter, id) is not acceptable."""

    def __init__(self, what: str, value: object, expected: str) -> None:
        self.what, self.value, self.expected = what, value, expected
        super().__init__(f"{what}: got {value!r}, expected {expected}")


@dataclass(frozen=True)
class Problem:
    """One located problem in a source file (a row of an intake-problem table)."""

    file: str
    sheet: str | None
    row: int | None  # as the user sees it: the spreadsheet/CSV line number, header = 1
    column: str | None
    value: str | None
    code: str  # stable reason code, e.g. "missing_column", "bad_date"
    expected: str

    def location(self) -> str:
        parts = [self.file]
        if self.sheet:
            parts.append(f"sheet {self.sheet}")
        if self.row is not None:
            parts.append(f"row {self.row}")
        if self.column:
            parts.append(f"column {self.column}")
        return ", ".join(parts)


@dataclass
class IntakeError(CtpatError):
    """A source could not be imported; ``problems`` lists every problem found, not the first."""

    problems: list[Problem] = field(default_factory=list)

    def __post_init__(self) -> None:
        super().__init__(self.summary())

    def summary(self) -> str:
        n = len(self.problems)
        files = sorted({p.file for p in self.problems})
        return (f"{n} problem{'s' if n != 1 else ''} in {', '.join(files)}; "
                "nothing was imported. Fix them and import again.")

    def frame(self) -> "pd.DataFrame":
        """The problems as a DataFrame (file, sheet, row, column, value, code, expected)."""
        import pandas as pd

        cols = ["file", "sheet", "row", "column", "value", "code", "expected"]
        return pd.DataFrame([p.__dict__ for p in self.problems], columns=cols)

    def __str__(self) -> str:  # keep the summary short; `frame()` has the details
        return self.summary()
