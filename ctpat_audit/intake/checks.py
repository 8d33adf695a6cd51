"""Check a raw table against its declared schema, vectorised, collecting every problem.

``check_table`` turns a :class:`~ctpat_audit.intake.sources.RawTable` into a typed DataFrame plus a
list of located :class:`~ctpat_audit.core.errors.Problem`. It never stops at the first problem.
Work is column-wise (pandas/numpy), so five million shipments are checked in seconds, and a
column that repeats its values (account ids, ports, choices) is checked once per distinct
value. Problems go to a :class:`~ctpat_audit.intake.problem_log.ProblemLog`, which lists the
first rows of each kind and counts the rest, also across the batches of a long table.

What is refused besides wrong types: ids that are not plain path components (look-alikes,
invisible characters, paths: :mod:`ctpat_audit.core.identifiers`), ids and criterion ids a
workbook stores as numbers, integers outside their column's declared range, control
characters and Unicode noncharacters in text (:mod:`ctpat_audit.core.text`). A value with a
problem becomes NA in the typed frame; nothing is ever repaired into an acceptable shape.
"""
from __future__ import annotations

import re

import numpy as np
import pandas as pd

from ctpat_audit.core import vocabulary as v
from ctpat_audit.core.errors import Problem
from ctpat_audit.core.identifiers import (
    EMAIL_EXPECTED,
    EMAIL_MAX_LENGTH,
    EMAIL_PATTERN,
    SAFE_ID_PATTERN,
    id_refusal,
)
from ctpat_audit.core.text import NONCHARACTER_PATTERN
from ctpat_audit.intake.problem_log import Cells, ProblemLog
from ctpat_audit.intake.sources import RawTable
from ctpat_audit.workspace.tables import Column, Table

_TRUE = {"true", "yes", "y", "1", "t"}
_FALSE = {"false", "no", "n", "0", "f"}
_CRITERION = re.compile(r"^(?:[1-9]|1[0-2])\.[1-9][0-9]{0,2}$")
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}(?:[ T]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?$")
_CONTROL = r"[\x00-\x08\x0b\x0c\x0e-\x1f]"
_EMPTY_DTYPES = {"bool": "boolean", "date": "datetime64[s]", "int": "Int64"}


def _norm(s: str) -> str:
    return re.sub(r"[\s_\-]+", " ", s.strip().lower())


def _aliases(column: Column) -> dict[str, str]:
    """Accepted spellings of each choice: the code, and the label where one exists."""
    labels: dict[str, str] = {}
    if column.name == "entity_type":
        labels = v.ENTITY_TYPES
    elif column.name == "exam_type":
        labels = v.EXAM_TYPES
    elif column.name == "exam_result":
        labels = v.EXAM_RESULTS
    out = {_norm(c): c for c in column.choices}
    out.update({_norm(lbl): code for code, lbl in labels.items()})
    return out


class _Collector:
    """A :class:`ProblemLog` seen from one batch of rows (problems located in ``raw``)."""

    def __init__(self, raw: RawTable, log: ProblemLog) -> None:
        self.raw, self.log = raw, log

    def rows(self, mask: np.ndarray, column: str | None,
             values: pd.Series | Cells | None, code: str, expected: str) -> None:
        self.log.rows(self.raw, mask, column, values, code, expected)

    def one(self, column: str | None, value: object, code: str, expected: str) -> None:
        self.log.one(self.raw, column, value, code, expected)


def _as_text(series: pd.Series, kind: str) -> pd.Series:
    """Cell text, surrounding blanks removed; an id is taken exactly as written (an id with
    a space or a no-break space around it is refused, never quietly changed)."""
    text = series.astype("string").fillna("")
    if kind != "id" and (series.dtype == object or pd.api.types.is_string_dtype(series)):
        text = text.str.strip()
    return text


def _flags(values: pd.Series) -> np.ndarray:
    """A boolean Series (possibly nullable) as a plain numpy mask, NA counted as False."""
    return values.fillna(False).to_numpy(dtype=bool)


def _convert(col: Column, series: pd.Series, typed: bool, c: _Collector,
             numeric: np.ndarray | None = None) -> pd.Series:
    """Typed values of one column; problems reported through ``c``. ``numeric`` marks the
    workbook cells stored as numbers. A value with a problem becomes NA, so it raises no
    second problem further on (a duplicate key, an unknown partner)."""
    kind = col.kind
    if typed and kind in ("id", "text", "choice", "criterion_id") and \
            (pd.api.types.is_integer_dtype(series) or pd.api.types.is_float_dtype(series)):
        c.one(col.name, str(series.dtype), "wrong_type",
              f"{col.expected()}, stored as text; numbers lose leading zeros")
        return pd.Series(pd.NA, index=series.index, dtype="string")
    if typed and kind == "date" and pd.api.types.is_datetime64_any_dtype(series):
        out = series.dt.tz_localize(None) if series.dt.tz is not None else series
        out = out.astype("datetime64[s]").dt.normalize()
        missing = out.isna().to_numpy()
        if col.required:
            c.rows(missing, col.name, None, "missing_value", col.expected())
        return out
    if typed and kind == "bool" and pd.api.types.is_bool_dtype(series):
        return series.astype("boolean")
    if typed and kind == "int" and pd.api.types.is_integer_dtype(series):
        missing = series.isna().to_numpy()
        if col.required:
            c.rows(missing, col.name, None, "missing_value", col.expected())
        lowest, highest = col.bounds()
        outside = ~missing & ~_flags(series.ge(lowest) & series.le(highest))
        c.rows(outside, col.name, series, "out_of_range", col.expected())
        return series.where(~outside).astype("Int64")

    text = _as_text(series, kind)
    if numeric is None and _repetitive(text):  # check each spelling once
        codes, spellings = pd.factorize(text)
        values = _text_values(col, pd.Series(spellings, dtype=text.dtype), None,
                              _Spread(c, codes))
        return pd.Series(values.array.take(codes), index=text.index)
    return _text_values(col, text, numeric, c)


def _repetitive(text: pd.Series, sample: int = 4096) -> bool:
    """Whether a long column repeats its values enough to check each distinct value once
    (account ids, ports, choices, dates); judged on its first rows."""
    if len(text) < 4 * sample:
        return False
    return bool(text.iloc[:sample].nunique() * 4 < sample)


class _Spread:
    """A collector for the distinct values of a column that reports each problem at every
    row holding the value (``codes``: the row -> distinct value map)."""

    def __init__(self, c: _Collector, codes: np.ndarray) -> None:
        self.c, self.codes = c, codes

    def rows(self, mask: np.ndarray, column: str | None,
             values: pd.Series | Cells | None, code: str, expected: str) -> None:
        if not mask.any():
            return
        self.c.rows(mask[self.codes], column,
                    None if values is None else _Taken(values, self.codes), code, expected)

    def one(self, column: str | None, value: object, code: str, expected: str) -> None:
        self.c.one(column, value, code, expected)


class _Taken:
    """``values[codes[i]]`` for row ``i``, without building the column."""

    def __init__(self, values: pd.Series | Cells, codes: np.ndarray) -> None:
        self.values = values.iloc if isinstance(values, pd.Series) else values
        self.codes = codes

    def __getitem__(self, i: int) -> object:
        return self.values[int(self.codes[i])]


def _text_values(col: Column, text: pd.Series, numeric: np.ndarray | None,
                 c: _Collector | _Spread) -> pd.Series:
    """Typed values of a column of cell text (see :func:`_convert`)."""
    kind = col.kind
    blank = (text == "").to_numpy()
    if col.required:
        c.rows(blank, col.name, None, "missing_value", col.expected())
    present = ~blank
    refused = np.zeros(len(text), dtype=bool)
    if numeric is not None and kind in ("id", "criterion_id"):
        refused = present & numeric
        lost = ("leading zeros (0278532 becomes 278532)" if kind == "id"
                else "trailing zeros (9.10 becomes 9.1)")
        c.rows(refused, col.name, text, "wrong_type",
               f"the {col.name} stored as text: this cell is a number, and numbers drop "
               f"{lost}; format the column as Text in Excel and type the values again")
    if kind == "id":
        refused |= _check_ids(col, text, present & ~refused, c)
        return text.mask((text == "") | refused, pd.NA)
    if kind == "text":
        refused |= _check_characters(col, text, present, c)
        return text.mask((text == "") | refused, pd.NA)
    if kind == "choice":
        aliases = _aliases(col)
        normed = pd.Series([aliases.get(_norm(s)) if s else None for s in text],
                           index=text.index, dtype="string")
        unknown = present & normed.isna().to_numpy()
        c.rows(unknown, col.name, text, "unknown_value", col.expected())
        return normed
    if kind == "criterion_id":
        ok = _flags(text.str.match(_CRITERION))
        c.rows(present & ~ok & ~refused, col.name, text, "bad_criterion_id", col.expected())
        return text.mask((text == "") | refused | ~ok, pd.NA)
    if kind == "date":
        shaped = _flags(text.str.match(_ISO_DATE))
        parsed = pd.to_datetime(text.where(present & shaped, None), format="ISO8601",
                                errors="coerce").dt.normalize()
        bad = present & parsed.isna().to_numpy()
        c.rows(bad, col.name, text, "bad_date", col.expected())
        return parsed.astype("datetime64[s]")
    if kind == "bool":
        low = text.str.lower()
        is_true, is_false = low.isin(_TRUE).to_numpy(), low.isin(_FALSE).to_numpy()
        c.rows(present & ~is_true & ~is_false, col.name, text, "wrong_type", col.expected())
        out = pd.Series(pd.NA, index=text.index, dtype="boolean")
        out[is_true] = True
        out[is_false] = False
        return out
    if kind == "int":
        return _integers(col, text, present, c)
    raise AssertionError(kind)


def _check_characters(col: Column, text: pd.Series, present: np.ndarray,
                      c: _Collector | _Spread) -> np.ndarray:
    """Length, control characters and Unicode noncharacters of a text column; the rows
    refused."""
    too_long = present & (text.str.len().fillna(0).to_numpy() > col.max_length)
    c.rows(too_long, col.name, text, "too_long", f"at most {col.max_length} characters")
    controls = present & _flags(text.str.contains(_CONTROL, regex=True))
    c.rows(controls, col.name, text, "control_characters", "text without control characters")
    nonchars = present & ~controls & _flags(text.str.contains(NONCHARACTER_PATTERN, regex=True))
    c.rows(nonchars, col.name, text, "noncharacter",
           "text without Unicode noncharacters (U+FFFE, U+FFFF, U+FDD0-U+FDEF and the like: "
           "they are not text and no workbook can hold them)")
    return too_long | controls | nonchars


def _check_ids(col: Column, text: pd.Series, present: np.ndarray, c: _Collector | _Spread) -> np.ndarray:
    """Ids that are not plain path components (:mod:`ctpat_audit.core.identifiers`),
    grouped by reason; the rows refused."""
    bad = present & ~_flags(text.str.fullmatch(SAFE_ID_PATTERN))
    if not bad.any():
        return bad
    reasons = pd.Series(None, index=text.index, dtype=object)
    reasons[bad] = [id_refusal(v) for v in text[bad]]
    for reason in dict.fromkeys(reasons[bad]):
        c.rows(bad & (reasons == reason).to_numpy(), col.name, text, "bad_id", str(reason))
    return bad


def _integers(col: Column, text: pd.Series, present: np.ndarray, c: _Collector | _Spread) -> pd.Series:
    """Whole numbers written as text (``2025``, ``+2025``, ``2025.0``) within the column's
    declared range; anything else (``inf``, ``NaN``, ``1e3``, ``20.5``) is a wrong type."""
    shaped = present & _flags(text.str.fullmatch(r"[+-]?[0-9]+(?:\.0*)?"))
    c.rows(present & ~shaped, col.name, text, "wrong_type", col.expected())
    low, high = col.bounds()
    num = pd.to_numeric(text.where(shaped, None), errors="coerce").astype("float64")
    inside = shaped & (num >= low).to_numpy() & (num <= high).to_numpy()
    c.rows(shaped & ~inside, col.name, text, "out_of_range", col.expected())
    return num.where(inside).astype("Int64")


def _rule(name: str, frame: pd.DataFrame, c: _Collector) -> None:
    """Rules that involve more than one column or a format beyond the type."""
    if name == "validation_type_with_date":
        m = (frame["last_validation_date"].notna() & frame["last_validation_type"].isna()).to_numpy()
        c.rows(m, "last_validation_type", None, "missing_value",
               "in_person or virtual, since last_validation_date is given")
    elif name == "country_code":
        s = frame["country"].fillna("")
        m = ((s != "") & ~s.str.fullmatch(r"[A-Z]{2}").fillna(False)).to_numpy()
        c.rows(m, "country", s, "bad_country", "an ISO 3166-1 alpha-2 code such as US, MX")
    elif name == "email_format":
        s = frame["email"].fillna("")
        ok = s.str.fullmatch(EMAIL_PATTERN).fillna(False) & (s.str.len() <= EMAIL_MAX_LENGTH)
        c.rows(((s != "") & ~ok).to_numpy(), "email", s, "bad_email", EMAIL_EXPECTED)
    elif name == "port_code_format":
        s = frame["port_code"].fillna("")
        m = ((s != "") & ~s.str.fullmatch(r"[0-9]{4}").fillna(False)).to_numpy()
        c.rows(m, "port_code", s, "bad_port_code",
               "a four-digit CBP port code such as 2304 or 0901 (as text)")
    elif name == "exam_fields_when_examined":
        ex = frame["examined"].fillna(False).astype(bool).to_numpy()
        for col in ("exam_type", "exam_result"):
            missing = ex & frame[col].isna().to_numpy()
            c.rows(missing, col, None, "missing_value", f"an {col.replace('_', ' ')} since examined is true")
            extra = ~ex & frame[col].notna().to_numpy()
            c.rows(extra, col, frame[col], "unexpected_value", "empty, since examined is false")
    else:
        raise AssertionError(f"unknown rule {name}")


def check_table(table: Table, raw: RawTable, log: ProblemLog | None = None, *,
                keys: bool = True) -> tuple[pd.DataFrame, list[Problem]]:
    """Typed frame (declared columns, declared order) and every problem found in ``raw``.

    ``log``: where the problems go when ``raw`` is one batch of a longer table (the
    returned list is then the log's so far). ``keys=False`` leaves duplicate keys to the
    caller, which sees every batch (:mod:`ctpat_audit.intake.staging`)."""
    log = ProblemLog() if log is None else log
    c = _Collector(raw, log)
    present: dict[str, int] = {}  # lower-cased name -> position of its first column
    for pos, k in enumerate(raw.frame.columns):
        key = str(k).strip().lower()
        if key in present:
            c.one(str(k), None, "duplicate_column",
                  f"each column once (the first {key!r} column is used)")
            continue
        present[key] = pos
    missing = [col.name for col in table.columns if col.required and col.name not in present]
    unknown = [k for k in present if k not in table.column_names]
    for name in missing:
        c.one(name, None, "missing_column",
              f"a column named {name!r} ({table.column(name).expected()})")
    for name in unknown:
        c.one(str(raw.frame.columns[present[name]]), None, "unknown_column",
              "only these columns: " + ", ".join(table.column_names))
    frame = pd.DataFrame(index=raw.frame.index)
    for col in table.columns:
        if col.name in present:
            pos = present[col.name]
            numeric = raw.numeric[:, pos] if raw.numeric is not None else None
            frame[col.name] = _convert(col, raw.frame.iloc[:, pos], raw.typed, c, numeric)
        else:  # an optional column the file leaves out: empty, in the column's own type
            frame[col.name] = pd.Series(pd.NA, index=raw.frame.index, dtype=_EMPTY_DTYPES.get(
                col.kind, "string"))
    if not missing:
        if keys:
            key_cols = list(table.key)
            dup = frame.duplicated(key_cols, keep="first").to_numpy() & \
                frame[key_cols].notna().all(axis=1).to_numpy()
            if dup.any():
                keyvals = frame[key_cols].astype("string").fillna("").agg(" / ".join, axis=1)
                c.rows(dup, " + ".join(key_cols), keyvals, "duplicate_key",
                       f"each {' + '.join(key_cols)} only once in {table.name}")
        for rule in table.checks:
            _rule(rule, frame, c)
    return frame, log.problems()


def typed_empty(table: Table) -> pd.DataFrame:
    """An empty frame of ``table``'s columns in the types :func:`check_table` gives them."""
    return pd.DataFrame({c.name: pd.Series(dtype=_EMPTY_DTYPES.get(c.kind, "string"))
                         for c in table.columns})


def check_partner_refs(table: Table, frame: pd.DataFrame, raw: RawTable,
                       known: set[str] | pd.Index) -> list[Problem]:
    """Rows whose account_id names no partner in the source or the workspace."""
    log = ProblemLog()
    acc = frame["account_id"]
    m = acc.notna().to_numpy() & ~acc.isin(known).to_numpy()
    log.rows(raw, m, "account_id", acc, "unknown_partner", UNKNOWN_PARTNER)
    return log.problems()


UNKNOWN_PARTNER = "the account_id of a partner in partners (or already in the workspace)"


def stored_ints(column: Column, values: pd.Series) -> pd.Series:
    """An int column's values in its storage type (:meth:`Column.storage_dtype`), for
    derived files; a value outside the declared range is a ValueError, never a wrapped
    number."""
    low, high = column.bounds()
    outside = _flags(values.notna() & ~(values.ge(low) & values.le(high)))
    if outside.any():
        raise ValueError(f"{column.name}: {values[outside].iloc[0]} is outside {low}-{high}")
    return values.astype(np.dtype(column.storage_dtype()))
