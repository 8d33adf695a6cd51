"""Characters that text from users may not carry, and how it is shown safely.

Two kinds of character matter wherever text leaves the toolkit:

* **Unsafe characters** (:data:`UNSAFE_PATTERN`): what XML 1.0 cannot hold (C0 controls other
  than tab, line feed and carriage return; surrogates; U+FFFE, U+FFFF) and every Unicode
  noncharacter (U+FDD0-U+FDEF and the last two code points of each plane). An .xlsx file is
  XML, so one such character in one cell stops a whole workbook from being written. Intake
  refuses them; every writer replaces them with U+FFFD (:func:`visible`), so a row stored
  before the rule existed shows as a visible mark instead of stopping an export.
* **Bidi controls** (:data:`BIDI_CONTROLS`): embeddings, overrides, isolates and marks. They
  are legitimate in names written in Arabic or Hebrew, so they are kept, but an unterminated
  override (U+202E) reverses everything after it on the line: an account number printed
  after such a name reads backwards. Wherever such text is shown next to other text it is
  isolated: :func:`html_text` wraps it in ``<bdi>``, :func:`isolate` in U+2068 ... U+2069
  (first-strong isolate ... pop directional isolate) for plain text, which closes every
  embedding and override opened inside. A stray U+2069 in the text would close that isolate
  early, so the text's isolates are balanced first (:func:`balanced`).
"""
from __future__ import annotations

import html
import re

_NONCHARACTERS = "\ufdd0-\ufdef\ufffe\uffff" + "".join(
    chr(plane << 16 | 0xFFFE) + chr(plane << 16 | 0xFFFF) for plane in range(1, 17))
#: Unsafe characters as a regular-expression class of literal characters, for pandas string
#: columns (Arrow strings are UTF-8, which cannot hold a surrogate, so none are listed).
UNSAFE_PATTERN = f"[\x00-\x08\x0b\x0c\x0e-\x1f{_NONCHARACTERS}]"
#: Noncharacters alone (intake reports them apart from control characters).
NONCHARACTER_PATTERN = f"[{_NONCHARACTERS}]"
UNSAFE = re.compile(f"[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff{_NONCHARACTERS}]")

#: Bidirectional formatting characters: ALM, LRM, RLM, LRE/RLE/PDF/LRO/RLO, LRI/RLI/FSI/PDI.
BIDI_CONTROLS = "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
BIDI = re.compile(f"[{BIDI_CONTROLS}]")
FIRST_STRONG_ISOLATE, POP_DIRECTIONAL_ISOLATE = "\u2068", "\u2069"
_ISOLATE_OPENERS = re.compile("[\u2066\u2067\u2068]")
REPLACEMENT = "\ufffd"


def code_point(ch: str) -> str:
    """``U+FFFF``: how a character is named in messages."""
    return f"U+{ord(ch):04X}"


def unsafe_characters(text: str) -> list[str]:
    """The unsafe characters in ``text``, each once, in order of appearance."""
    return list(dict.fromkeys(UNSAFE.findall(text)))


def visible(text: str) -> str:
    """``text`` with every unsafe character replaced by U+FFFD (shown as a replacement mark)."""
    return UNSAFE.sub(REPLACEMENT, text)


def has_bidi_controls(text: str) -> bool:
    return BIDI.search(text) is not None


def balanced(text: str) -> str:
    """``text`` with its isolates balanced, so that it cannot close the isolate it is put in:
    a U+2069 that closes nothing inside ``text`` is dropped (on its own it does nothing, so
    the text reads the same) and an isolate ``text`` leaves open is closed at its end."""
    if POP_DIRECTIONAL_ISOLATE not in text and not _ISOLATE_OPENERS.search(text):
        return text
    out, depth = [], 0
    for ch in text:
        if ch in "\u2066\u2067\u2068":
            depth += 1
        elif ch == POP_DIRECTIONAL_ISOLATE:
            if depth == 0:
                continue
            depth -= 1
        out.append(ch)
    return "".join(out) + POP_DIRECTIONAL_ISOLATE * depth


def isolate(text: str) -> str:
    """Plain text that cannot change the direction of what surrounds it: text holding a
    bidi control is balanced and wrapped in U+2068 ... U+2069; other text is returned as
    it is."""
    if not has_bidi_controls(text):
        return text
    return f"{FIRST_STRONG_ISOLATE}{balanced(text)}{POP_DIRECTIONAL_ISOLATE}"


def html_text(value: object) -> str:
    """A value as HTML text: unsafe characters made visible, escaped (quotes too), and,
    balanced, in ``<bdi>`` when it holds a bidi control. For element content, not attribute
    values."""
    if value is None:
        return ""
    text = html.escape(visible(str(value)), quote=True)
    return f"<bdi>{balanced(text)}</bdi>" if has_bidi_controls(text) else text


def escape_invisible(text: str) -> str:
    """``text`` for a one-line display such as a terminal table: every character that prints
    as nothing or moves the text around it (controls, line breaks, bidi controls, zero-width
    and other format characters, noncharacters, unassigned code points) written as a Python
    escape such as ``\\u202e``; other characters, the space included, as they are."""
    return "".join(ch if ch.isprintable() and not UNSAFE.match(ch) else ascii(ch)[1:-1]
                   for ch in text)
