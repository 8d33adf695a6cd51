"""Every error class of the toolkit: one base exception; each subclass carries where the problem is.

The classes are grouped by the package that raises them; each of those modules imports its
own from here, so ``except`` clauses anywhere can name any of them without a cycle.

Messages say what was found, what was expected and how to fix it, in plain words, because
they are read by specialists and partners, not only by programmers.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
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

    def frame(self) -> pd.DataFrame:
        """The problems as a DataFrame (file, sheet, row, column, value, code, expected)."""
        import pandas as pd

        cols = ["file", "sheet", "row", "column", "value", "code", "expected"]
        return pd.DataFrame([p.__dict__ for p in self.problems], columns=cols)

    def __str__(self) -> str:  # keep the summary short; `frame()` has the details
        return self.summary()


# raised in reports.zygote

class ForkError(CtpatError):
    """The report zygote could not start, warm up or fork, or a forked report process
    died or ran out of time."""


# raised in batch.run

class BatchError(CtpatError):
    """A batch cannot start as asked (bad option, missing template or key)."""

    def __init__(self, what: str, message: str) -> None:
        self.what = what
        super().__init__(f"{what}: {message}")


# raised in criteria.catalogue

class CatalogueError(CtpatError):
    """A catalogue file is malformed: names the file, the JSON path inside it and the problem."""

    def __init__(self, file: object, path: str, message: str) -> None:
        self.file, self.path, self.message = str(file), path, message
        super().__init__(f"{self.file}: at {path or '(top level)'}: {message}")


# raised in criteria.table_problems

@dataclass
class CriteriaTableError(IntakeError):
    """A criteria table could not be imported: ``problems`` is the report (patterns
    summarised), ``every`` lists each located problem."""

    every: list[Problem] = field(default_factory=list)


    def summary(self) -> str:
        n = len(self.every) or len(self.problems)
        files = sorted({p.file for p in self.problems})
        return (f"{n} problem{'s' if n != 1 else ''} in {', '.join(files)}; "
                "nothing was imported. Fix them and import again.")


# raised in reports.failure

class ReportError(CtpatError):
    """A report could not be rendered; for a notebook failure it names the cell.

    ``reason``: one line saying what went wrong; ``cell_index``: the failing cell's index
    in the executed notebook (None when no cell is to blame); ``source`` and ``traceback``
    of that cell; ``notebook``: where the executed notebook was kept (set by
    :func:`keep_failed`; the message names it once it is set).
    """

    def __init__(self, session_id: str, reason: str, *, cell_index: int | None = None,
                 source: str = "", traceback: str = "", notebook: Path | None = None) -> None:
        super().__init__(session_id, reason)  # args that rebuild it when unpickled
        self.session_id, self.reason = session_id, reason
        self.cell_index, self.source = cell_index, source
        self.traceback, self.notebook = traceback, notebook

    def __str__(self) -> str:
        where = f"report of session {self.session_id}"
        if self.cell_index is not None:
            excerpt = self.source.strip().splitlines()[0][:80] if self.source.strip() else ""
            where += f", notebook cell {self.cell_index} ({excerpt!r})"
        text = f"{where}: {self.reason}"
        if self.notebook is not None:
            text += f"; executed notebook kept at {self.notebook}"
        return text


# raised in reports.pdf

class PdfError(CtpatError):
    """The PDF could not be produced (no browser, bad paper size, page failed to load)."""


# raised in server.lab

class LabError(CtpatError):
    """A Jupyter server did not start (or stopped); carries the command and its output."""

    def __init__(self, what: str, message: str, output: str = "") -> None:
        self.what, self.output = what, output
        tail = "\n".join(output.strip().splitlines()[-15:])
        super().__init__(f"{what}: {message}" + (f"\n--- server output ---\n{tail}" if tail
                                                   else ""))


# raised in sessions.questionnaire

class QuestionnaireError(CtpatError):
    """A questionnaire cannot be imported for a reason outside its cells (wrong contact...)."""


# raised in sessions.session

class SessionRuleError(CtpatError):
    """An action a session's rules do not allow; ``rule`` is a stable code for programs."""

    def __init__(self, session_id: str, rule: str, message: str, *,
                 criterion_id: str | None = None, facility_id: str | None = None) -> None:
        self.session_id, self.rule = session_id, rule
        self.criterion_id, self.facility_id = criterion_id, facility_id
        where = f"session {session_id}"
        if criterion_id:
            where += f", criterion {criterion_id}"
        if facility_id:
            where += f", facility {facility_id}"
        super().__init__(f"{where}: {message}")


# raised in workspace.people (the team server's people and roles)

class AccessError(CtpatError):
    """The person signed in to the team server may not do this (``rule``: stable code:
    ``not_in_people``, ``inactive``, ``role``, ``identity_mismatch``)."""

    def __init__(self, person: str, rule: str, message: str) -> None:
        self.person, self.rule = person, rule
        super().__init__(message)


# raised in trust.keys

class KeyStoreError(CtpatError):
    """A key, certificate, passphrase or trust-store file is missing or unusable."""

    def __init__(self, path: object, message: str) -> None:
        self.path = str(path)
        super().__init__(f"{self.path}: {message}")


# raised in trust.manifest

class ManifestError(CtpatError):
    """A manifest.json that cannot be read as a manifest."""

    def __init__(self, folder: object, message: str) -> None:
        self.folder = str(folder)
        super().__init__(f"{self.folder}: {message}")


# raised in trust.signing

class SigningError(CtpatError):
    """The report folder cannot be signed as it is (missing PDF, tampered, superseded...)."""

    def __init__(self, folder: object, message: str) -> None:
        self.folder = str(folder)
        super().__init__(f"{self.folder}: {message}")


class AuthorityError(CtpatError):
    """The signer may not sign this report with this meaning (``rule``: stable code)."""

    def __init__(self, session_id: str, signer: str, meaning: str, rule: str,
                 message: str) -> None:
        self.session_id, self.signer, self.meaning, self.rule = session_id, signer, meaning, rule
        self.reason = message
        super().__init__(f"session {session_id}: {signer} may not sign '{meaning}': {message}")


# raised in workspace.replay

class RecordError(CtpatError):
    """A session's state tables differ from the replay of the audit log (edited outside
    ctpat-audit): the session is not reported, signed or revised, and an edited answer is not
    changed further (which would write the edit into the log)."""

    def __init__(self, session_id: str, message: str) -> None:
        self.session_id = session_id
        super().__init__(f"session {session_id}: {message}; nothing was done. Run "
                         "`ctpat-audit audit-verify` to see every difference")


# raised in workspace.evidence

class EvidenceError(CtpatError):
    """An evidence file is missing or its bytes no longer match its SHA-256."""

    def __init__(self, sha256: str, path: Path, message: str) -> None:
        self.sha256, self.path = sha256, str(path)
        super().__init__(f"evidence {sha256} ({self.path}): {message}")
