"""The team's people, and who is acting when the team server (JupyterHub) started this process.

The ``people`` table lists the accounts of the team server (``ctpat-audit hub``): the hub user
name a person signs in with, their display name and e-mail, their role (``specialist``,
``supervisor`` or ``admin``), whether they are active, and the workspace CA's person id of
the person (:mod:`ctpat_audit.trust.keys`) once known. Rows are written only together with an
audit entry (``person_add``, ``person_active``, ``person_link``), and read back only when they
still equal what the log last gave them: a role raised by editing the table directly is
refused, not obeyed (:func:`logged_person`).

**Identity.** A server the hub spawns has ``JUPYTERHUB_USER`` in its environment (and so do
its kernels and every command they run). :func:`acting` turns it into the person's e-mail,
the actor of every answer, submission, signature and audit entry; a name given otherwise
(the notebook's ``specialist`` parameter, ``--user``) must be that same person
(``identity_mismatch``). :func:`require` checks the person's role against
:data:`~ctpat_audit.core.vocabulary.PERMISSIONS`; the session, portfolio, batch, signing, key
and people entry points call it. Outside the team server (no ``JUPYTERHUB_USER``) the toolkit
is single-user: nobody is looked up, nothing is refused here, and the actor is whoever the
launch names.

The table of who may do what lives in :mod:`ctpat_audit.core.vocabulary`; this module only
looks people up and applies it, for every layer above the workspace.
"""
from __future__ import annotations

import json
import os
import sqlite3
from dataclasses import dataclass
from typing import Any

from ctpat_audit.core.errors import AccessError
from ctpat_audit.core.vocabulary import PERMISSION_LABELS, PERMISSIONS
from ctpat_audit.workspace.audit import canonical_json
from ctpat_audit.workspace.reference import as_workspace

__all__ = ["HUB_USER_ENV", "PERSON_COLUMNS", "PERSON_ACTIONS", "Person", "hub_user",
           "person_rows", "get_person", "insert_person", "update_person", "logged_person",
           "team_person", "acting", "require", "permits"]

#: Set by JupyterHub in every single-user server it spawns (inherited by kernels).
HUB_USER_ENV = "JUPYTERHUB_USER"
PERSON_COLUMNS = ("hub_user", "name", "email", "role", "active", "person_id", "added_by",
                  "added_at")
#: Audit actions that set a person's row: the whole row when added, then single fields.
PERSON_ACTIONS = ("person_add", "person_active", "person_link")
_LOGGED_FIELDS = ("name", "email", "role", "active", "person_id")


@dataclass(frozen=True)
class Person:
    """One row of ``people``."""

    hub_user: str
    name: str
    email: str
    role: str
    active: bool
    person_id: str | None
    added_by: str
    added_at: str

    def describe(self) -> str:
        """``Ana Diaz <ana@cbp.example> (hub user ana, specialist)``."""
        return f"{self.name} <{self.email}> (hub user {self.hub_user}, {self.role})"

    def is_named(self, claimed: str) -> bool:
        """Whether ``claimed`` names this person: their e-mail or hub user name, any case."""
        text = claimed.strip().casefold()
        return text in (self.email.casefold(), self.hub_user.casefold())


def _person(row: Any) -> Person:
    values = dict(zip(PERSON_COLUMNS, tuple(row)))
    values["active"] = bool(values["active"])
    return Person(**values)


# --- storage (inside the caller's write transaction, with its audit entry) -----------------

def person_rows(conn: sqlite3.Connection) -> list[Person]:
    """Every person, by hub user name."""
    rows = conn.execute(f"SELECT {', '.join(PERSON_COLUMNS)} FROM people ORDER BY hub_user")
    return [_person(r) for r in rows]


def get_person(conn: sqlite3.Connection, hub_user: str) -> Person | None:
    row = conn.execute(f"SELECT {', '.join(PERSON_COLUMNS)} FROM people WHERE hub_user = ?",
                       (hub_user,)).fetchone()
    return None if row is None else _person(row)


def insert_person(conn: sqlite3.Connection, person: Person) -> None:
    conn.execute(f"INSERT INTO people ({', '.join(PERSON_COLUMNS)}) VALUES "
                 f"({', '.join('?' * len(PERSON_COLUMNS))})",
                 tuple(int(v) if isinstance(v, bool) else v
                       for v in (getattr(person, c) for c in PERSON_COLUMNS)))


def update_person(conn: sqlite3.Connection, hub_user: str, **fields: Any) -> None:
    sets = ", ".join(f"{k} = ?" for k in fields)
    conn.execute(f"UPDATE people SET {sets} WHERE hub_user = ?",
                 (*(int(v) if isinstance(v, bool) else v for v in fields.values()), hub_user))


def logged_person(conn: sqlite3.Connection, hub_user: str) -> dict[str, Any] | None:
    """The person's fields as the audit log last set them (None: never added)."""
    state: dict[str, Any] | None = None
    rows = conn.execute(
        "SELECT action, new_value FROM audit_log WHERE action IN "
        f"({', '.join('?' * len(PERSON_ACTIONS))}) AND target = ? ORDER BY seq",
        (*PERSON_ACTIONS, canonical_json({"hub_user": hub_user})))
    for action, new in rows:
        value = json.loads(new)
        if action == "person_add":
            state = {k: value.get(k) for k in _LOGGED_FIELDS}
        elif state is not None:
            state.update({k: v for k, v in value.items() if k in _LOGGED_FIELDS})
    return state


# --- identity and roles --------------------------------------------------------------------

def hub_user() -> str | None:
    """The team server's user name of this process (``JUPYTERHUB_USER``), or None outside it."""
    name = os.environ.get(HUB_USER_ENV, "").strip()
    return name or None


def _connection(where: Any) -> tuple[sqlite3.Connection, bool]:
    if isinstance(where, sqlite3.Connection):
        return where, False
    return as_workspace(where).connect(readonly=True), True


def team_person(where: Any, name: str) -> Person:
    """The person signed in as ``name``, checked: in the table, active, and the row as the
    audit log gave it. ``where``: a Workspace, its folder, or an open connection."""
    conn, mine = _connection(where)
    try:
        person = get_person(conn, name)
        if person is None:
            raise AccessError(name, "not_in_people",
                              f"{name} has an account on the team server but is not one of "
                              "this workspace's people, so it does not let them in. Ask an "
                              "administrator to add you (ctpat-audit people add).")
        logged = logged_person(conn, name)
        stored = {k: getattr(person, k) for k in _LOGGED_FIELDS}
        if logged != stored:
            raise AccessError(name, "record",
                              f"the people entry of {name} was changed outside ctpat-audit "
                              f"(the audit log says {logged}, the table holds {stored}); it "
                              "is not used. An administrator should run ctpat-audit "
                              "audit-verify and set the person again with ctpat-audit people.")
        if not person.active:
            raise AccessError(name, "inactive",
                              f"{person.name} ({name}) is deactivated in this workspace and "
                              "may not use it. Ask an administrator if this is a mistake.")
        return person
    finally:
        if mine:
            conn.close()


def permits(role: str, permission: str) -> bool:
    """Whether ``role`` holds ``permission`` (:data:`~ctpat_audit.core.vocabulary.PERMISSIONS`)."""
    return role in PERMISSIONS[permission]


def _check_role(person: Person, permission: str) -> None:
    if not permits(person.role, permission):
        allowed = PERMISSIONS[permission]
        who = (" or ".join(f"a {r}" for r in allowed) + " may do that") if allowed \
            else "nobody on the team server may do that"
        raise AccessError(person.hub_user, "role",
                          f"{person.name} ({person.hub_user}) is a {person.role} and may not "
                          f"{PERMISSION_LABELS[permission]}: {who}.")


def require(where: Any, permission: str) -> Person | None:
    """Under the team server: the signed-in person, if their role holds ``permission``
    (:class:`AccessError` otherwise). Outside it: None, and nothing is checked."""
    if permission not in PERMISSIONS:
        raise KeyError(permission)
    name = hub_user()
    if name is None:
        return None
    person = team_person(where, name)
    _check_role(person, permission)
    return person


def acting(where: Any, claimed: Any, *, default: str | None = None,
           permission: str | None = None, what: str = "the user") -> Any:
    """Who acts: under the team server the signed-in person's e-mail, whatever is typed
    (``claimed`` must be empty or name that person: ``identity_mismatch``); outside it
    ``claimed`` as given, else ``default``. ``permission``: also checked under the team server.
    ``what`` names where ``claimed`` came from in the refusal ("notebook parameter
    specialist")."""
    name = hub_user()
    if name is None:  # as given: the caller checks what it is
        return claimed if claimed not in (None, "") else (default or "")
    person = team_person(where, name)
    typed = str(claimed).strip() if claimed is not None else ""
    if typed and not person.is_named(typed):
        raise AccessError(name, "identity_mismatch",
                          f"you are signed in to the team server as {person.describe()}; "
                          f"{what} names {typed!r}. On the team server everyone acts "
                          "as themselves: leave it empty (or give your own e-mail).")
    if permission is not None:
        _check_role(person, permission)
    return person.email
