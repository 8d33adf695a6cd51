"""Evidence files, stored by content (SHA-256) under ``WORKSPACE/evidence/ab/abcdef...``.

The name a user gives a file (an upload's file name) is only ever a *display name* kept in the
evidence index; it never becomes part of a path on disk. The path is built from the SHA-256
hex digest alone, so the same bytes are stored once however often and under whatever names
they are attached, and a hostile name (``../../etc/passwd``) cannot reach the file system.

Writes are durable: temp file in the target folder, fsync, ``os.replace``, fsync of the
folder. A file whose index row then fails to commit is left behind harmlessly (it is content
addressed and can be re-attached or swept).
"""
from __future__ import annotations

import hashlib
import mimetypes
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from ctpat_audit.core.errors import EvidenceError, InputError
from ctpat_audit.core.files import write_atomic

EVIDENCE_DIR = "evidence"
MAX_NAME_LENGTH = 255
_SHA256_RE = re.compile(r"^[0-9a-f]{64}$")


@dataclass(frozen=True)
class StoredFile:
    sha256: str
    size: int
    path: Path
    created: bool  # False when the same bytes were already stored (deduplicated)


def clean_display_name(name: str) -> str:
    """A file name that is safe to show and to keep in the index, or :class:`InputError`.

    Unicode is normalised (NFC) and surrounding blanks stripped. Refused: empty names, NUL and
    other control characters, path separators (``/`` and ``\\``), and ``.``/``..``: a display
    name is a plain file name, never a path.
    """
    if not isinstance(name, str):
        raise InputError("evidence file name", name, "text")
    cleaned = unicodedata.normalize("NFC", name).strip()
    expected = ("a plain file name such as 'seal_log.pdf' (no folders, no control characters, "
                f"at most {MAX_NAME_LENGTH} characters)")
    if (not cleaned or cleaned in (".", "..") or len(cleaned) > MAX_NAME_LENGTH
            or "/" in cleaned or "\\" in cleaned
            or any(unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp") for ch in cleaned)):
        raise InputError("evidence file name", name, expected)
    return cleaned


def media_type(name: str) -> str:
    """The media type guessed from the display name's suffix (octet-stream when unknown)."""
    guessed, _ = mimetypes.guess_type(name, strict=False)
    return guessed or "application/octet-stream"


def evidence_path(workspace: str | Path, sha256: str) -> Path:
    """Where the file with this digest lives; the digest is checked before any path is built."""
    if not isinstance(sha256, str) or not _SHA256_RE.fullmatch(sha256):
        raise InputError("evidence sha256", sha256, "64 lower-case hexadecimal characters")
    return Path(workspace) / EVIDENCE_DIR / sha256[:2] / sha256


def store_bytes(workspace: str | Path, data: bytes) -> StoredFile:
    """Store ``data`` by its SHA-256 (once); return where it is and whether it was new."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise InputError("evidence data", type(data).__name__, "bytes")
    data = bytes(data)
    digest = hashlib.sha256(data).hexdigest()
    target = evidence_path(workspace, digest)
    if target.exists() and target.stat().st_size == len(data):
        return StoredFile(digest, len(data), target, created=False)
    write_atomic(target, data)
    return StoredFile(digest, len(data), target, created=True)


def read_bytes(workspace: str | Path, sha256: str) -> bytes:
    """The stored bytes, checked against their digest (:class:`EvidenceError` if damaged)."""
    path = evidence_path(workspace, sha256)
    if not path.is_file():
        raise EvidenceError(sha256, path, "file is missing from the workspace")
    data = path.read_bytes()
    if hashlib.sha256(data).hexdigest() != sha256:
        raise EvidenceError(sha256, path, "file content does not match its SHA-256 (damaged)")
    return data
