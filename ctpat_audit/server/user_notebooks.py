"""Each user's own copies of the notebooks shipped with the package, kept in the workspace.

The installed notebooks are read-only originals: ``ctpat-audit lab`` and the Voila launcher
open a copy in ``WORKSPACE/notebooks/<user>/``, so a user's edits, autosaves and
``.ipynb_checkpoints/`` stay with that user in the workspace and never land in the package.

- ``<user>`` is the user's e-mail address (or login name) in lower case
  (:func:`user_folder_name`): anything that could leave the folder (``/``, ``..``, a leading
  dot, control characters) is refused, never rewritten into something else.
- A copy that exists is never overwritten. Only ``refresh=True`` replaces a copy that differs
  from the installed notebook, and it first moves the old copy to ``backups/`` under a UTC
  timestamp.
- :class:`PartnerNotebooks` makes ``partners/validation-<account>.ipynb`` in the folder: the
  user's copy with the workspace and that partner's account id set in its parameters, so a
  link (the portfolio's rows) opens that partner's validation. Made once, then kept as the
  user left it.
- ``.origin.json`` in the folder records, per copy, the SHA-256 and the ctpat-audit version of
  the installed notebook it was made from. When the installed notebook no longer has that
  SHA-256 (a newer ctpat-audit was installed), the copy is listed in
  :attr:`UserNotebooks.outdated`, and :meth:`UserNotebooks.notices` says so in one line.
"""
from __future__ import annotations

import copy
import datetime as dt
import getpass
import hashlib
import json
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from ctpat_audit.core import package_data
from ctpat_audit.core.errors import InputError, NotFoundError
from ctpat_audit.core.files import fsync_dir, write_atomic

__all__ = [
    "BACKUPS_FOLDER",
    "NOTEBOOKS_FOLDER",
    "ORIGIN_FILE",
    "PARTNERS_FOLDER",
    "PartnerNotebooks",
    "REFRESH_HINT",
    "UserNotebooks",
    "prepare_user_notebooks",
    "shipped_notebooks",
    "user_folder",
    "user_folder_name",
]

NOTEBOOKS_FOLDER = "notebooks"  # inside the workspace
BACKUPS_FOLDER = "backups"  # inside a user's folder
PARTNERS_FOLDER = "partners"  # inside a user's folder: one notebook per partner opened
ORIGIN_FILE = ".origin.json"  # hidden: Jupyter does not list or serve dot files
REFRESH_HINT = "ctpat-audit lab --refresh-notebooks"

# kept as they are in a folder name; every other character is percent-encoded (so is "%"),
# which keeps the name readable for plain addresses and one-to-one for all of them
_PLAIN = frozenset("abcdefghijklmnopqrstuvwxyz0123456789._+-@")
_NAME_MAX = 255  # bytes in one path component on common file systems


def user_folder_name(user: str) -> str:
    """The folder name for ``user`` (an e-mail address or login name), in lower case.

    Letters, digits and ``. _ + - @`` are kept; any other character (``'``, ``%``, non-ASCII
    letters) is percent-encoded, so ``ana@cbp.example`` stays as it is, ``o'neil@x.example``
    becomes ``o%27neil@x.example``, and two addresses never share a folder. Path tricks are
    refused, never rewritten: ``/`` or ``\\``, ``..``, a leading dot, spaces or control
    characters, an empty or over-long name.
    """
    text = user.strip().lower() if isinstance(user, str) else ""
    expected = ("an e-mail address like ana@cbp.example (or a login name), without '/', "
                "'\\', '..', spaces or control characters, not starting with '.'")
    if (not text or text.startswith(".") or ".." in text
            or any(c in "/\\" or c.isspace() or not c.isprintable() for c in text)):
        raise InputError("user", user, expected)
    name = "".join(c if c in _PLAIN else "".join(f"%{b:02X}" for b in c.encode("utf-8"))
                   for c in text)
    if len(name.encode("ascii")) > _NAME_MAX:
        raise InputError("user", user, f"at most {_NAME_MAX} characters in a folder name")
    return name


def user_folder(workspace: str | Path, user: str | None) -> Path:
    """``WORKSPACE/notebooks/<user>/`` (``user`` None: the login name); nothing is made."""
    return Path(workspace) / NOTEBOOKS_FOLDER / user_folder_name(user or getpass.getuser())


def shipped_notebooks() -> dict[str, Path]:
    """The installed notebooks by file name (read-only originals)."""
    folder = package_data.notebooks_dir()
    found = {p.name: p for p in sorted(folder.glob("*.ipynb"))}
    if not found:
        raise NotFoundError("installed notebooks", str(folder),
                            "reinstall ctpat-audit: its notebooks are missing")
    return found


@dataclass(frozen=True)
class UserNotebooks:
    """A user's notebook folder after :func:`prepare_user_notebooks`, and what it did there."""

    folder: Path
    copied: tuple[str, ...] = ()  # copies made now, where the user had none
    refreshed: tuple[tuple[str, Path], ...] = ()  # (notebook, backup of the old copy)
    current: tuple[str, ...] = ()  # refresh asked for, but the copy already matched
    outdated: tuple[str, ...] = ()  # the installed notebook changed since the copy was made

    def notices(self) -> list[str]:
        """What a person should be told, one line each (empty when nothing happened)."""
        lines = []
        if self.copied:
            lines.append(f"Copied {', '.join(self.copied)} to {self.folder} (your own copy; "
                         "the installed notebooks are never opened or changed).")
        for name, backup in self.refreshed:
            lines.append(f"Refreshed {name} from the installed notebook; your previous copy "
                         f"is kept as {backup}.")
        if self.current:
            lines.append(f"{', '.join(self.current)}: already the same as the installed "
                         "notebook (nothing to refresh).")
        if self.outdated:
            lines.append(f"A newer {', '.join(self.outdated)} is installed than your copy in "
                         f"{self.folder}: `{REFRESH_HINT}` refreshes it and keeps your copy as "
                         "a backup.")
        return lines


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _version() -> str:
    try:
        return metadata.version("ctpat-audit")
    except metadata.PackageNotFoundError:  # pragma: no cover - imported without installing
        return "unknown"


def _read_origin(folder: Path) -> dict[str, dict[str, str]]:
    try:
        data = json.loads((folder / ORIGIN_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict):
        return {}
    return {k: v for k, v in data.items() if isinstance(v, dict)}


def _copy_new(data: bytes, target: Path) -> bool:
    """Write ``data`` to ``target`` only if it does not exist (never overwrites, even when
    another launch writes it at the same moment); a reader never sees half a notebook."""
    fd, name = tempfile.mkstemp(dir=target.parent, prefix=f".tmp-{target.name}.")
    tmp = Path(name)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o666 & ~_umask())  # as open() would create it
        try:
            os.link(tmp, target)  # fails if target exists: the existing copy wins
        except FileExistsError:
            return False
        fsync_dir(target.parent)
        return True
    finally:
        tmp.unlink(missing_ok=True)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _backup_path(folder: Path, name: str, now: dt.datetime) -> Path:
    stem, suffix = os.path.splitext(name)
    stamp = now.astimezone(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    backups = folder / BACKUPS_FOLDER
    backups.mkdir(exist_ok=True)
    candidate, n = backups / f"{stem}-{stamp}{suffix}", 1
    while candidate.exists():
        n += 1
        candidate = backups / f"{stem}-{stamp}-{n}{suffix}"
    return candidate


def prepare_user_notebooks(workspace: str | Path, user: str | None,
                           names: Sequence[str] | None = None, *, refresh: bool = False,
                           now: dt.datetime | None = None) -> UserNotebooks:
    """Make sure ``user`` has a copy of each notebook in ``names`` (default: every installed
    notebook) in ``WORKSPACE/notebooks/<user>/`` and report what was done.

    ``user`` ``None`` means the operating-system login name. A missing copy is made; an
    existing copy is left exactly as it is unless ``refresh`` is true, in which case a copy that
    differs from the installed notebook is moved to ``backups/<name>-<UTC time>.ipynb`` and
    replaced. ``now`` (default: the current time) stamps the backups.
    """
    shipped = shipped_notebooks()
    wanted = list(names) if names is not None else list(shipped)
    for name in wanted:
        if name not in shipped:
            raise NotFoundError("installed notebook", name, "one of " + ", ".join(shipped))
    folder = user_folder(workspace, user)
    folder.mkdir(parents=True, exist_ok=True)
    origin = _read_origin(folder)
    version = _version()
    copied: list[str] = []
    refreshed: list[tuple[str, Path]] = []
    current: list[str] = []
    outdated: list[str] = []
    for name in wanted:
        source, target = shipped[name], folder / name
        data = source.read_bytes()
        record = {"sha256": _sha256(data), "version": version}
        if not target.exists() and _copy_new(data, target):
            copied.append(name)
            origin[name] = record
            continue
        mine = target.read_bytes()
        if mine == data:
            if refresh:
                current.append(name)
            if origin.get(name, {}).get("sha256") != record["sha256"]:
                origin[name] = record
            continue
        if refresh:
            backup = _backup_path(folder, name, now or dt.datetime.now(dt.UTC))
            os.replace(target, backup)
            write_atomic(target, data)
            refreshed.append((name, backup))
            origin[name] = record
            continue
        made_from = origin.get(name, {}).get("sha256")
        if made_from is not None:
            if made_from != record["sha256"]:
                outdated.append(name)
        elif source.stat().st_mtime > target.stat().st_mtime:
            outdated.append(name)  # no record (copied by hand): the installed file is younger
    if origin != _read_origin(folder):
        write_atomic(folder / ORIGIN_FILE,
                     json.dumps(origin, indent=1, sort_keys=True).encode("utf-8") + b"\n")
    return UserNotebooks(folder, tuple(copied), tuple(refreshed), tuple(current),
                         tuple(outdated))


class PartnerNotebooks:
    """One user's per-partner copies of a notebook (default the validation notebook):
    ``WORKSPACE/notebooks/<user>/partners/<stem>-<account>.ipynb``, made from the user's own
    copy with ``workspace`` and ``account_id`` set in its parameters (papermill's injected
    parameters cell). Who works on it still comes from the launch. A copy that exists is
    kept as it is."""

    def __init__(self, workspace: str | Path, user: str | None,
                 name: str = "validation.ipynb") -> None:
        self.workspace = Path(workspace).resolve()
        copies = prepare_user_notebooks(self.workspace, user, [name])
        self.folder = copies.folder / PARTNERS_FOLDER
        self.source = copies.folder / name
        self._stem = Path(name).stem
        self._base: object | None = None

    def path(self, account_id: str) -> Path:
        """Where the partner's notebook is (made or not)."""
        text = str(account_id).strip()
        if not text or any(c in "/\\" or c.isspace() or not c.isprintable() for c in text) \
                or text.startswith("."):
            raise InputError("account id", account_id, "an account id (no '/', spaces or "
                             "leading dot)")
        return self.folder / f"{self._stem}-{text}.ipynb"

    def notebook(self, account_id: str) -> Path:
        """The partner's notebook, made now if missing (never overwritten)."""
        target = self.path(account_id)
        if target.exists():
            return target
        import nbformat
        from papermill.iorw import load_notebook_node
        from papermill.parameterize import parameterize_notebook

        if self._base is None:
            self._base = load_notebook_node(str(self.source))
        nb = parameterize_notebook(copy.deepcopy(self._base), {"workspace": str(self.workspace),
                                                "account_id": str(account_id)})
        self.folder.mkdir(parents=True, exist_ok=True)
        _copy_new(nbformat.writes(nb).encode("utf-8"), target)
        return target
