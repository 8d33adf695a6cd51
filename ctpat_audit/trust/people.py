"""Managing the team's people: add, deactivate or activate a person, list them, and link each
to the person id the workspace CA gives their certificates.

A person is one account of the team server (``ctpat-audit hub``): hub user name, display
name, e-mail, role. The e-mail is the person's identity in the record: the actor of their
answers and submissions, and the address their signing certificate names. When the CA has
already issued certificates to that mailbox (:func:`~ctpat_audit.trust.keys.normal_email`),
the person takes their person id; a certificate issued later links a person without one
(:func:`~ctpat_audit.trust.keys.issue_certificate`, entry ``person_link``). Every
change is written with its audit entry in one transaction; under the team server only an
admin may make one (:func:`~ctpat_audit.workspace.people.require`).
"""
from __future__ import annotations

import getpass
import re
import sqlite3

from ctpat_audit.core.clock import Clock, timestamp, utc_now
from ctpat_audit.core.errors import InputError, NotFoundError
from ctpat_audit.core.identifiers import EMAIL_EXPECTED, is_email
from ctpat_audit.core.vocabulary import PERSON_ROLES
from ctpat_audit.workspace import audit, db
from ctpat_audit.workspace import people as store
from ctpat_audit.workspace.people import Person
from ctpat_audit.workspace.reference import as_workspace

__all__ = ["HUB_USER_PATTERN", "add_person", "set_active", "list_people", "person_id_for",
           "system_actor"]

#: A hub user name as JupyterHub keeps it (lower case): letters, digits, ``. _ - @``.
HUB_USER_PATTERN = r"[a-z0-9][a-z0-9._@-]{0,63}"
_HUB_USER = re.compile(HUB_USER_PATTERN)


def system_actor() -> str:
    """The actor of a change made outside the team server: the system account running it."""
    return f"{getpass.getuser()} (system account)"


def _actor(conn: sqlite3.Connection) -> str:
    return str(store.acting(conn, None, default=system_actor(), permission="people"))


def person_id_for(ws: object, email: str) -> str | None:
    """The CA's person id of the certificates issued to ``email``'s mailbox (None when there
    are none); :class:`InputError` when they carry several person ids."""
    from ctpat_audit.trust.keys import list_certs, normal_email

    mailbox = normal_email(email)
    ids = sorted({str(c["person_id"]) for c in list_certs(as_workspace(ws).path)
                  if c.get("person_id") and normal_email(c["email"]) == mailbox})
    if len(ids) > 1:
        raise InputError("person id", email, f"one of {', '.join(ids)} (the certificates of "
                         "this mailbox name several people): give it with --person-id")
    return ids[0] if ids else None


def add_person(ws: object, hub_user: str, name: str, email: str, role: str, *,
               person_id: str | None = None, clock: Clock = utc_now) -> Person:
    """Add an active person; returns the stored row.

    ``hub_user``: the name they sign in to the team server with (lower case); ``person_id``:
    the CA's id of the person, default: the id on the certificates of their mailbox, if any.
    """
    from ctpat_audit.trust.keys import list_certs, normal_email

    if not isinstance(hub_user, str) or not _HUB_USER.fullmatch(hub_user):
        raise InputError("hub user", hub_user, "a sign-in name of 1-64 lower-case letters, "
                         "digits, '.', '_', '-' or '@', starting with a letter or digit")
    if not isinstance(name, str) or not name.strip() or len(name.strip()) > 64 \
            or not name.isprintable():
        raise InputError("name", name, "the person's display name (1-64 characters)")
    if not isinstance(email, str) or not is_email(email.strip()):
        raise InputError("email", email, EMAIL_EXPECTED)
    if role not in PERSON_ROLES:
        raise InputError("role", role, "one of " + ", ".join(PERSON_ROLES))
    email = email.strip().lower()
    workspace = as_workspace(ws)
    if person_id is None:
        person_id = person_id_for(workspace, email)
    elif person_id not in {c.get("person_id") for c in list_certs(workspace.path)}:
        raise InputError("person id", person_id, "the person id of a certificate this "
                         "workspace's CA issued (ctpat-audit keys list shows them)")
    conn = workspace.connect()
    try:
        who, at = _actor(conn), timestamp(clock())
        with db.write(conn):
            if store.get_person(conn, hub_user) is not None:
                raise InputError("hub user", hub_user, "a name not yet in this workspace's "
                                 "people (ctpat-audit people list shows them)")
            same = [p for p in store.person_rows(conn)
                    if normal_email(p.email) == normal_email(email)]
            if same:
                raise InputError("email", email, f"an address no other person has: it is "
                                 f"the mailbox of {same[0].describe()}")
            person = Person(hub_user, name.strip(), email, role, True, person_id, who, at)
            store.insert_person(conn, person)
            audit.append(conn, at=at, actor=who, action="person_add", session_id=None,
                         target={"hub_user": hub_user}, old=None,
                         new={"name": person.name, "email": email, "role": role,
                              "active": True, "person_id": person_id})
        return person
    finally:
        conn.close()


def set_active(ws: object, hub_user: str, active: bool, *, clock: Clock = utc_now) -> Person:
    """Deactivate (``active=False``) or activate a person; returns the stored row. A
    deactivated person gets no server and every action they try is refused."""
    conn = as_workspace(ws).connect()
    try:
        who, at = _actor(conn), timestamp(clock())
        with db.write(conn):
            person = store.get_person(conn, hub_user)
            if person is None:
                raise NotFoundError("person", hub_user, "ctpat-audit people list shows the "
                                    "hub user names")
            if person.active != active:
                store.update_person(conn, hub_user, active=active)
                audit.append(conn, at=at, actor=who, action="person_active", session_id=None,
                             target={"hub_user": hub_user}, old={"active": person.active},
                             new={"active": active})
        found = store.get_person(conn, hub_user)
        assert found is not None
        return found
    finally:
        conn.close()


def list_people(ws: object) -> list[Person]:
    """Every person of the workspace, by hub user name."""
    conn = as_workspace(ws).connect(readonly=True)
    try:
        return store.person_rows(conn)
    finally:
        conn.close()

