"""core.text: unsafe characters made visible, bidi controls isolated, for every writer."""
from __future__ import annotations

import html
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ctpat_audit.core.text import (
    BIDI_CONTROLS,
    UNSAFE,
    UNSAFE_PATTERN,
    balanced,
    escape_invisible,
    html_text,
    isolate,
    unsafe_characters,
    visible,
)

NONCHARACTERS = ["\ufffe", "\uffff", "\ufdd0", "\ufdef", "\U0001fffe", "\U0010ffff"]
XML_ILLEGAL = ["\x00", "\x08", "\x0b", "\x1f", "\ud800", "\udfff"]


@pytest.mark.parametrize("ch", NONCHARACTERS + XML_ILLEGAL)
def test_every_unsafe_character_is_replaced_visibly(ch):
    assert unsafe_characters(f"a{ch}b{ch}") == [ch]
    assert visible(f"a{ch}b") == "a\ufffdb"


@pytest.mark.parametrize("ch", ["\t", "\n", "\r", "\u202e", "\u200b", "\ufffd", "\ufdcf",
                                "\ufdf0", "\U0001fffd", "\xe9", "\u6771"])
def test_ordinary_and_bidi_characters_are_kept(ch):
    assert visible(f"a{ch}b") == f"a{ch}b"


def test_pandas_pattern_matches_the_same_characters_without_surrogates():
    import pandas as pd

    values = pd.Series([f"x{c}" for c in NONCHARACTERS + XML_ILLEGAL[:4]] + ["ok", "\u202e"],
                       dtype="string")
    assert values.str.contains(UNSAFE_PATTERN, regex=True).tolist() == [True] * 10 + [False] * 2


@given(st.text())
def test_visible_text_has_no_unsafe_character_and_keeps_the_rest(text):
    shown = visible(text)
    assert not UNSAFE.search(shown) and len(shown) == len(text)
    assert all(a == b for a, b in zip(text, shown) if not UNSAFE.match(a))


@given(st.text())
def test_html_text_is_inert_and_isolates_bidi_controls(text):
    out = html_text(text)
    body = out
    if any(ch in BIDI_CONTROLS for ch in text):
        assert out.startswith("<bdi>") and out.endswith("</bdi>")
        body = out[len("<bdi>"):-len("</bdi>")]
    assert "<" not in body and ">" not in body and '"' not in body
    assert html.unescape(body) == balanced(visible(text))


def test_isolate_wraps_only_text_with_bidi_controls():
    assert isolate("Acme Ltd") == "Acme Ltd"
    assert isolate("Acme \u202eLtd") == "\u2068Acme \u202eLtd\u2069"


def test_a_stray_pop_isolate_cannot_close_the_wrapper():
    assert balanced("x\u2069\u202ey") == "x\u202ey"  # closed nothing inside: dropped
    assert balanced("\u2067x") == "\u2067x\u2069"  # left open: closed at the end
    assert balanced("\u2066a\u2069\u2069b") == "\u2066a\u2069b"
    assert isolate("Acme\u2069\u202e") == "\u2068Acme\u202e\u2069"
    assert html_text("Acme\u2069\u202e") == "<bdi>Acme\u202e</bdi>"


@given(st.text(alphabet=st.sampled_from("ab \u2066\u2067\u2068\u2069\u202e\u202c")))
def test_the_wrapping_isolate_closes_exactly_at_the_end(text):
    wrapped = isolate(text)
    if wrapped == text:
        return
    depth = 0
    for i, ch in enumerate(wrapped):
        depth += ch in "\u2066\u2067\u2068"
        depth -= ch == "\u2069"
        assert depth > 0 or i == len(wrapped) - 1
    assert depth == 0 and balanced(balanced(text)) == balanced(text)


@given(st.text())
def test_escape_invisible_gives_one_printable_line(text):
    out = escape_invisible(text)
    assert out.isprintable() and "\n" not in out
    assert not re.search(f"[{BIDI_CONTROLS}]", out)
