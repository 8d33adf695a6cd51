"""The state of each security-profile answer: blank, short or answered.

The rule (ours, configurable): an answer is *blank* when empty, *short* when it is under
:data:`MIN_ANSWER_CHARS` characters or a placeholder such as "N/A" or "Yes" (see
:data:`PLACEHOLDERS`), else *answered*. :func:`answer_states` applies it to many answers at
once with Arrow's string kernels; one partner's review and the whole portfolio's use it alike.

The portfolio needs the state of every partner's answers. :func:`current_states` reads the
workspace's Parquet copy of the profile responses, classifies them and keeps the result next
to that file as a small Parquet file of state codes, named after the responses file and after
the rule's settings. Later reads take that file (one small read), a new import (a new
responses file) or another setting of the rule gets a new one, and the importer removes it
with the responses file it was derived from. A workspace that cannot be written (a read-only
copy) is classified in memory every time. A workspace without the Parquet copy (imported by a
release that did not write it) is classified from its SQLite table.
"""
from __future__ import annotations

import datetime as dt
import errno
import hashlib
import json
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from ctpat_audit.core.files import replacing
from ctpat_audit.workspace.reference import derived_file

if TYPE_CHECKING:
    import pyarrow as pa

    from ctpat_audit.workspace.reference import Workspace

MIN_ANSWER_CHARS = 20
PLACEHOLDERS = frozenset({"n/a", "na", "yes", "no", "none", "done", "see policy", "tbd", "ok",
                          "-", "."})
STATES = ("blank", "short", "answered")  # state codes 0, 1, 2
#: The bulk table the states are derived from (see ctpat_audit.intake.importer).
RESPONSES = "profile_responses"
_STATE_COLUMNS = ["account_id", "criterion_id", "state"]


def answer_states(texts: pd.Series | pa.Array | pa.ChunkedArray) -> np.ndarray:
    """State codes (0 blank, 1 short, 2 answered) of many answers at once."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if isinstance(texts, pd.Series):
        texts = pa.array(texts.astype(object), type=pa.string(), from_pandas=True)
    s = pc.utf8_trim_whitespace(pc.fill_null(texts.cast(pa.string()), ""))
    length = pc.utf8_length(s)
    placeholder = pc.is_in(pc.utf8_rtrim(pc.utf8_lower(s), characters="."),
                           value_set=pa.array(sorted(PLACEHOLDERS), type=pa.string()))
    blank = pc.equal(length, 0).to_numpy(zero_copy_only=False)
    short = pc.or_(pc.less(length, MIN_ANSWER_CHARS), placeholder).to_numpy(
        zero_copy_only=False)
    return np.where(blank, 0, np.where(short, 1, 2)).astype("int8")


def answer_state(text: object) -> str:
    """State of one answer: blank, short or answered."""
    blank = text is None or text is pd.NA or (isinstance(text, float) and text != text)
    return STATES[int(answer_states(pd.Series(["" if blank else str(text)]))[0])]


def rule_tag() -> str:
    """A short digest of the rule's settings: states kept under another tag are not reused."""
    rule = json.dumps([MIN_ANSWER_CHARS, sorted(PLACEHOLDERS), STATES])
    return hashlib.sha256(rule.encode()).hexdigest()[:12]


def current_states(ws: Workspace, as_of: dt.date) -> pd.DataFrame:
    """account_id, criterion_id and state code of every answer of the latest profile year up
    to ``as_of``."""
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    source = ws.bulk_path(RESPONSES)
    if source is None or not source.exists():
        return _states_from_sqlite(ws, as_of)
    kept = derived_file(source, f"answer-states-{rule_tag()}")
    if kept.exists():
        table = pq.read_table(kept, filters=[("profile_year", "<=", as_of.year)],
                              read_dictionary=["account_id", "criterion_id"])
    else:
        table = _classified(source)
        _keep(table, kept, source)
        table = table.filter(pc.less_equal(table["profile_year"], as_of.year))
    if table.num_rows == 0:
        return pd.DataFrame(columns=_STATE_COLUMNS)
    year = pc.max(table["profile_year"]).as_py()
    table = table.filter(pc.equal(table["profile_year"], year))
    return table.select(_STATE_COLUMNS).to_pandas()


def _classified(source: Path) -> pa.Table:
    """The responses file's keys with a state code per answer (the texts are dropped)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pq.read_table(source, columns=["account_id", "profile_year", "criterion_id",
                                           "response_text"],
                          read_dictionary=["account_id", "criterion_id"])
    states = pa.array(answer_states(table["response_text"]), type=pa.int8())
    return table.drop_columns(["response_text"]).append_column("state", states)


def _keep(table: pa.Table, kept: Path, source: Path) -> None:
    """Write the states next to the responses file; skipped where it cannot be written."""
    import pyarrow.parquet as pq

    try:
        with replacing(kept) as tmp:
            pq.write_table(table, tmp, compression="zstd", write_statistics=True)
    except OSError as exc:
        if exc.errno not in (errno.EACCES, errno.EPERM, errno.EROFS):
            raise
        return
    if not source.exists():  # an import replaced (and removed) it meanwhile
        kept.unlink(missing_ok=True)


def _states_from_sqlite(ws: Workspace, as_of: dt.date) -> pd.DataFrame:
    resp = ws.table("profile_responses")
    resp = resp[resp["profile_year"] <= as_of.year]
    resp = resp[resp["profile_year"] == resp["profile_year"].max()]
    return resp.assign(state=answer_states(resp["response_text"]))[_STATE_COLUMNS]
