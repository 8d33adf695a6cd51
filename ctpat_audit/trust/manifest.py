"""The manifest of a signed report folder: every file with its SHA-256, and how it is written.

``manifest.json`` (format ``ctpat-audit-manifest/1``) is a JSON object::

    {"format": "ctpat-audit-manifest/1",
     "report": {"session_id", "account_id", "kind", "mode", "opened_by", "supersedes"},
     "provenance": {"catalogue_version", "package_version", "data_snapshot_sha256",
                    "audit_log_head"},
     "artifacts": [{"path", "sha256", "size", "kind", ["evidence": [{name, criterion_id,
                    facility_id, media_type}]]}],
     "signatures": [{"signer", "email", "role", "account_id", "person_id", "meaning",
                     "label", "time", "cert_fingerprint", "cert_serial", "pdf_sha256",
                     "pdf_field"}]}

Its bytes are exactly :func:`manifest_bytes` (sorted keys, 2-space indent, UTF-8, final
newline); ``manifest.sig`` is a detached CMS signature (DER) of those bytes. Evidence files
are copied in as ``evidence/<sha256><suffix>`` so the folder is checkable on its own.
"""
from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any

from ctpat_audit.core.errors import ManifestError
from ctpat_audit.core.files import write_atomic
from ctpat_audit.workspace import store

__all__ = ["MANIFEST", "MANIFEST_SIG", "MANIFEST_FORMAT", "ARTIFACT_KINDS", "ManifestError",
           "file_sha256", "report_files", "manifest_bytes", "read_manifest",
           "artifact_entries", "copy_evidence"]

MANIFEST, MANIFEST_SIG = "manifest.json", "manifest.sig"
MANIFEST_FORMAT = "ctpat-audit-manifest/1"
ARTIFACT_KINDS = {"report.ipynb": "notebook", "report.html": "html", "report.pdf": "pdf",
                  "report.xlsx": "excel"}


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def report_files(folder: Path) -> list[str]:
    """Every file in the report folder (POSIX relative paths) except the manifest pair."""
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*")
                  if p.is_file() and p.relative_to(folder).as_posix() not in (MANIFEST,
                                                                                MANIFEST_SIG))


def manifest_bytes(manifest: dict[str, Any]) -> bytes:
    """The exact bytes signed: sorted keys, 2-space indent, UTF-8, final newline."""
    return (json.dumps(manifest, sort_keys=True, indent=2, ensure_ascii=False,
                       allow_nan=False) + "\n").encode("utf-8")


def read_manifest(folder: Path) -> dict[str, Any] | None:
    path = folder / MANIFEST
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_bytes().decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ManifestError(folder, f"{MANIFEST} is not valid JSON ({exc})") from exc
    if not isinstance(data, dict) or data.get("format") != MANIFEST_FORMAT:
        raise ManifestError(folder, f"{MANIFEST} is not a {MANIFEST_FORMAT} manifest")
    return data


def artifact_entries(folder: Path, evidence_meta: dict[str, dict[str, Any]],
                     replaced: dict[str, bytes] | None = None) -> list[dict[str, Any]]:
    """Every file of the folder with its SHA-256, size and kind; ``replaced``: files (by
    relative path) whose bytes will be these when the manifest is written."""
    rows = []
    replaced = replaced or {}
    for rel in report_files(folder):
        path = folder / rel
        data = replaced.get(rel)
        row: dict[str, Any] = {"path": rel,
                               "sha256": file_sha256(path) if data is None
                               else hashlib.sha256(data).hexdigest(),
                               "size": path.stat().st_size if data is None else len(data),
                               "kind": ARTIFACT_KINDS.get(rel, "evidence" if rel.startswith(
                                   "evidence/") else "other")}
        if rel in evidence_meta:
            row.update(evidence_meta[rel])
        rows.append(row)
    return rows


_SUFFIX = re.compile(r"^\.[A-Za-z0-9]{1,10}$")


def copy_evidence(conn: Any, session_id: str, ws_root: Path, folder: Path
                   ) -> dict[str, dict[str, Any]]:
    """Copy the session's evidence files into ``folder/evidence/`` (named by SHA-256)."""
    from ctpat_audit.workspace.evidence import read_bytes

    meta: dict[str, dict[str, Any]] = {}
    for ev in store.evidence_rows(conn, session_id):
        suffix = Path(ev["name"]).suffix
        rel = f"evidence/{ev['sha256']}{suffix if _SUFFIX.fullmatch(suffix) else ''}"
        target = folder / rel
        if not target.is_file():
            target.parent.mkdir(exist_ok=True)
            write_atomic(target, read_bytes(ws_root, ev["sha256"]))
        entry = meta.setdefault(rel, {"evidence": []})
        entry["evidence"].append({"name": ev["name"], "criterion_id": ev["criterion_id"],
                                  "facility_id": ev["facility_id"],
                                  "media_type": ev["media_type"]})
    return meta
