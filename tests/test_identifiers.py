"""core.identifiers: one id shape and one e-mail shape, refused with a reason, never repaired."""
from __future__ import annotations

import unicodedata
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ctpat_audit.core.errors import InputError
from ctpat_audit.core.identifiers import (
    SAFE_ID,
    check_email,
    check_id,
    file_stem,
    id_refusal,
    is_email,
    is_safe_id,
)

LOOKALIKES = {
    "\uff10278532": "U+FF10",  # fullwidth zero
    "０２７８５３２": "U+FF10",
    "0278532\u200b": "U+200B",  # zero-width space
    "0278532\u00a0": "U+00A0",  # no-break space
    "\u0430bc": "U+0430",  # Cyrillic a
    "0278532\u202e": "U+202E",
}


@pytest.mark.parametrize("value, code_point", LOOKALIKES.items())
def test_lookalikes_and_invisible_characters_are_named(value, code_point):
    reason = id_refusal(value)
    assert reason is not None and code_point in reason
    if unicodedata.normalize("NFKC", value) == "0278532":
        assert "'0278532'" in reason  # names the id it imitates


@pytest.mark.parametrize("value, words", [
    ("../../etc/passwd", "'/'"), ("a/b", "'/'"), ("..", "'/'"), ("a\\b", "'/'"),
    ("a\nb", "U+000A"), ("A" * 5000, "at most 64"), ("", "not empty"), (" 0278532", "spaces"),
    ("0278532 ", "spaces"), ("-leading-dash", "starting with a letter or digit"),
])
def test_paths_controls_length_and_spaces_are_refused(value, words):
    reason = id_refusal(value)
    assert reason is not None and words in reason
    with pytest.raises(InputError) as info:
        check_id("account id", value)
    assert words in str(info.value)


@pytest.mark.parametrize("value", ["0278532", "F01", "B2M-01004475", "2304", "V-ABCDEFGHIJ",
                                   "a" * 64])
def test_plain_ids_pass_unchanged(value):
    assert id_refusal(value) is None and check_id("id", value) is value


@given(st.text(max_size=80))
def test_an_id_is_accepted_exactly_as_written_or_refused_with_a_reason(value):
    reason = id_refusal(value)
    if reason is None:
        assert is_safe_id(value) and SAFE_ID.fullmatch(value)
        assert value.isascii() and "/" not in value and "." not in value and len(value) <= 64
    else:
        assert not is_safe_id(value) and reason.strip()


@pytest.mark.parametrize("email", ["../../../x@y.example", "x@y", "a..b@y.example",
                                   ".a@y.example", "a.@y.example", "a@-y.example", "a@y.example/",
                                   "a b@y.example", "a@b@y.example", "ana@exa mple.com",
                                   "\uff41@y.example", "a@y.example\n", ""])
def test_what_is_not_an_email_is_refused(email):
    assert not is_email(email)
    with pytest.raises(InputError):
        check_email("email", email)


@pytest.mark.parametrize("email", ["ana.diaz@cbp.example", "Ana@Example.com", "a+tag@x.co",
                                   "a/b@y.example", "o'brien@y.example"])
def test_emails_pass(email):
    assert check_email("email", email) == email


@given(st.text(max_size=120))
def test_file_stem_names_a_file_in_the_current_folder(text):
    stem = file_stem(text)
    path = Path(stem)
    assert stem and len(path.parts) == 1 and not stem.startswith(".")
    assert stem not in (".", "..") and "/" not in stem and "\\" not in stem
    assert all(ch.isascii() and (ch.isalnum() or ch in "@+._-") for ch in stem)


def test_new_session_ids_have_the_safe_id_shape():
    from ctpat_audit.sessions.session import new_session_id

    assert all(is_safe_id(new_session_id(kind)) for kind in ("validation", "self_assessment")
               for _ in range(200))
