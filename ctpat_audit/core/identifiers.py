"""What an identifier and an e-mail address may look like: one definition for every layer.

Ids (account, facility, entry, port, session) name folders and files (``OUT/<account>/
<session>/``), so an id is a plain path component: 1 to 64 ASCII letters, digits, ``-`` and
``_``, starting with a letter or digit (:data:`SAFE_ID_PATTERN`). Nothing is ever normalised
into that shape: a fullwidth digit, a trailing zero-width space or a Cyrillic ``а`` would make
a second partner that looks identical to the first, so such ids are refused with the reason
(:func:`id_refusal`), never repaired.

E-mail addresses (:data:`EMAIL_PATTERN`) are ASCII ``local@domain``: the local part is
dot-separated atoms (no leading, trailing or doubled dot) and the domain has at least two
labels, so ``../../x@y.example`` is not an address. :func:`file_stem` makes a file name from
such text (a key file named after its owner's address) that stays inside its folder.
"""
from __future__ import annotations

import re
import unicodedata

from ctpat_audit.core.errors import InputError

ID_MAX_LENGTH = 64
SAFE_ID_PATTERN = r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}"
SAFE_ID = re.compile(SAFE_ID_PATTERN)
SAFE_ID_EXPECTED = ("an identifier of 1 to 64 plain ASCII letters, digits, '-' or '_', "
                    "starting with a letter or digit (stored as text; leading zeros are kept)")

_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
EMAIL_PATTERN = rf"{_ATOM}(?:\.{_ATOM})*@(?:{_LABEL}\.)+[A-Za-z]{{2,63}}"
EMAIL = re.compile(EMAIL_PATTERN)
EMAIL_MAX_LENGTH = 254
EMAIL_EXPECTED = "an e-mail address like ana.diaz@example.com"


def is_safe_id(value: object) -> bool:
    return isinstance(value, str) and SAFE_ID.fullmatch(value) is not None


def id_refusal(value: str) -> str | None:
    """Why ``value`` is not an acceptable id, in words for the person who typed it; None
    when it is one. Look-alikes name the plain id they imitate."""
    if SAFE_ID.fullmatch(value):
        return None
    if not value:
        return "an identifier, not empty text"
    odd = [ch for ch in value if not ch.isascii() or not ch.isprintable()]
    for ch in odd:
        category = unicodedata.category(ch)
        if category == "Cc":
            return f"no control characters (found U+{ord(ch):04X})"
        if category in ("Cf", "Zs", "Zl", "Zp"):
            return (f"no invisible or formatting characters (found U+{ord(ch):04X} "
                    f"{unicodedata.name(ch, 'unnamed')}); retype the id")
    plain = unicodedata.normalize("NFKC", value)
    if odd and plain != value and SAFE_ID.fullmatch(plain):
        return (f"plain ASCII characters: this id only looks like {plain!r} (it holds "
                + ", ".join(f"U+{ord(c):04X}" for c in dict.fromkeys(odd))
                + "); retype it as plain text")
    if odd:
        return (f"plain ASCII letters and digits only (found U+{ord(odd[0]):04X} "
                f"{unicodedata.name(odd[0], 'unnamed')})")
    if " " in value:
        return "no spaces, around the id or in it (an id is taken exactly as written)"
    if len(value) > ID_MAX_LENGTH:
        return f"at most {ID_MAX_LENGTH} characters (got {len(value)})"
    if any(ch in "/\\." for ch in value):
        return "no '/', '\\' or '.': an id names a folder of reports, so it is one plain word"
    return SAFE_ID_EXPECTED


def check_id(what: str, value: object) -> str:
    """``value`` if it is a safe id, else :class:`InputError` saying why."""
    if not isinstance(value, str):
        raise InputError(what, value, SAFE_ID_EXPECTED)
    reason = id_refusal(value)
    if reason is not None:
        raise InputError(what, value, reason)
    return value


def is_email(value: object) -> bool:
    return (isinstance(value, str) and len(value) <= EMAIL_MAX_LENGTH
            and EMAIL.fullmatch(value) is not None)


def check_email(what: str, value: object) -> str:
    """``value`` if it is an e-mail address, else :class:`InputError`."""
    if not is_email(value):
        raise InputError(what, value, EMAIL_EXPECTED)
    return value  # type: ignore[return-value]


def file_stem(text: str) -> str:
    """A file name made from ``text`` that names a file in the current folder: every
    character other than ASCII letters, digits and ``@ + . _ -`` becomes ``_`` and leading
    dots are dropped (no hidden files, no ``..``)."""
    stem = re.sub(r"[^A-Za-z0-9@+._-]", "_", text).lstrip(".")
    return stem[:200] or "_"
