"""Check a raw table against its declared schema, vectorised, collecting every problem.

``check_table`` turns a :class:`~ctpat_audit.intake.sources.RawTable` into a typed DataFrame plus a
list of located :class:`~ctpat_audit.core.errors.Problem`. It never stops at the first problem.
Work is column-wise (pandas/numpy), so five million shipments are checked in seconds. When one
kind of problem repeats down a column, the first ``LISTED_PER_KIND`` rows are listed and one
more line says how many more rows share it.
"""
from __future__ import annotations

import re
from collections.abc import Iterable

import numpy as np
import pandas as pd

from ctpat_audit.core import vocabulary as v
from ctpat_audit.core.errors import Problem
from ctpat_audit.intake.sources import RawTable
from ctpat_audit.workspace.tables import Column, Table

LISTED_PER_KIND = 20
_TRUE = {"true", "yes", "y", "1", "t"}
_FALSE = {"false", "no", "n", "0", "f"}
_CRITERION = re.compile(r"^(?:[1-9]|1[0-2])\.[1-9][0-9]{0,2}$")
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}(?:[ T]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


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
    def __init__(self, raw: RawTable) -> None:
        self.raw = raw
        self.problems: list[Problem] = []

    def rows(self, mask: np.ndarray, column: str | None, values: Iterable[object] | None,
             code: str, expected: str) -> None:
        idx = np.flatnonzero(mask)
        if idx.size == 0:
            return
        vals = list(values) if values is not None else [None] * len(mask)
        for i in idx[:LISTED_PER_KIND]:
            val = vals[i]
            self.problems.append(Problem(
                self.raw.file, self.raw.sheet, self.raw.row_number(int(i)), column,
                None if val is None or (isinstance(val, float) and np.isnan(val)) else str(val)[:200],
                code, expected))
        if idx.size > LISTED_PER_KIND:
            self.problems.append(Problem(
                self.raw.file, self.raw.sheet, None, column, None, code,
                f"{idx.size - LISTED_PER_KIND} more rows with the same problem ({expected})"))

    def one(self, column: str | None, value: object, code: str, expected: str) -> None:
        self.problems.append(Problem(self.raw.file, self.raw.sheet, None, column,
                                     None if value is None else str(value), code, expected))


def _as_text(series: pd.Series) -> pd.Series:
    if series.dtype == object or pd.api.types.is_string_dtype(series):
        return series.astype("string").fillna("").str.strip()
    return series.astype("string").fillna("")


def _convert(col: Column, series: pd.Series, typed: bool, c: _Collector) -> pd.Series:
    """Typed values of one column; problems reported through ``c``."""
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
        return series.astype("Int64")

    text = _as_text(series)
    blank = (text == "").to_numpy()
    if col.required:
        c.rows(blank, col.name, None, "missing_value", col.expected())
    present = ~blank
    if kind in ("text", "id"):
        too_long = present & (text.str.len().fillna(0).to_numpy() > col.max_length)
        c.rows(too_long, col.name, text, "too_long", f"at most {col.max_length} characters")
        bad_chars = present & text.str.contains(r"[\x00-\x08\x0b\x0c\x0e-\x1f]", regex=True
                                                ).fillna(False).to_numpy()
        c.rows(bad_chars, col.name, text, "control_characters", "text without control characters")
        return text.mask(text == "", pd.NA)
    if kind == "choice":
        aliases = _aliases(col)
        normed = text.map(lambda s: aliases.get(_norm(s)) if s else None)
        unknown = present & normed.isna().to_numpy()
        c.rows(unknown, col.name, text, "unknown_value", col.expected())
        return normed.astype("string")
    if kind == "criterion_id":
        ok = text.str.match(_CRITERION).fillna(False).to_numpy()
        c.rows(present & ~ok, col.name, text, "bad_criterion_id", col.expected())
        return text.mask(text == "", pd.NA)
    if kind == "date":
        shaped = text.str.match(_ISO_DATE).fillna(False).to_numpy()
        parsed = pd.to_datetime(text.where(present & shaped, None), format="ISO8601",
                                errors="coerce").dt.normalize()
        bad = present & parsed.isna().to_numpy()
        c.rows(bad, col.name, text, "bad_date", col.expected())
        return parsed.astype("datetime64[s]")
    if kind == "bool":
        low = text.str.lower()
        is_true, is_false = low.isin(_TRUE).to_numpy(), low.isin(_FALSE).to_numpy()
        c.rows(present & ~is_true & ~is_false, col.name, text, "wrong_type", col.expected())
        out = pd.Series(pd.NA, index=series.index, dtype="boolean")
        out[is_true] = True
        out[is_false] = False
        return out
    if kind == "int":
        num = pd.to_numeric(text.where(present, None), errors="coerce")
        bad = present & (num.isna().to_numpy() | (num.fillna(0) % 1 != 0).to_numpy())
        c.rows(bad, col.name, text, "wrong_type", col.expected())
        return num.where(~bad).astype("Int64")
    raise AssertionError(kind)


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
        m = ((s != "") & ~s.str.match(_EMAIL).fillna(False)).to_numpy()
        c.rows(m, "email", s, "bad_email", "an e-mail address like name@example.com")
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


def check_table(table: Table, raw: RawTable) -> tuple[pd.DataFrame, list[Problem]]:
    """Typed frame (declared columns, declared order) and every problem found in ``raw``."""
    c = _Collector(raw)
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
            frame[col.name] = _convert(col, raw.frame.iloc[:, present[col.name]], raw.typed, c)
        else:
            frame[col.name] = pd.Series(pd.NA, index=raw.frame.index,
                                        dtype="boolean" if col.kind == "bool" else "string")
    if not missing:
        keys = list(table.key)
        dup = frame.duplicated(keys, keep="first").to_numpy() & frame[keys].notna().all(axis=1).to_numpy()
        if dup.any():
            keyvals = frame[keys].astype("string").fillna("").agg(" / ".join, axis=1)
            c.rows(dup, " + ".join(keys), keyvals, "duplicate_key",
                   f"each {' + '.join(keys)} only once in {table.name}")
        for rule in table.checks:
            _rule(rule, frame, c)
    return frame, c.problems


def check_partner_refs(table: Table, frame: pd.DataFrame, raw: RawTable,
                       known: set[str] | pd.Index) -> list[Problem]:
    """Rows whose account_id names no partner in the source or the workspace."""
    c = _Collector(raw)
    acc = frame["account_id"]
    m = acc.notna().to_numpy() & ~acc.isin(known).to_numpy()
    c.rows(m, "account_id", acc, "unknown_partner",
           "the account_id of a partner in partners (or already in the workspace)")
    return c.problems
