"""``people``: the team server's accounts and roles (add, list, deactivate, activate)."""
from __future__ import annotations

from pathlib import Path

import click

from ctpat_audit.cli.options import workspace_option
from ctpat_audit.core.vocabulary import PERSON_ROLES


@click.group()
def people() -> None:
    """The people of a team workspace: who may sign in to `ctpat-audit hub`, and their role
    (specialist, supervisor or admin). Every change is written to the audit log."""


@people.command("add")
@workspace_option()
@click.option("--hub-user", required=True,
              help="The name they sign in with on the team server (lower case).")
@click.option("--name", required=True, help="Display name, as on their certificate.")
@click.option("--email", required=True,
              help="E-mail: their identity in the record and on their signing certificate.")
@click.option("--role", required=True, type=click.Choice(PERSON_ROLES),
              help="specialist: validations, signs 'validated'; supervisor: also the "
                   "portfolio and the batch, signs 'approved'; admin: people and keys.")
@click.option("--person-id", default=None,
              help="The workspace CA's person id (default: the one on the certificates of "
                   "this e-mail, if any; `keys list` shows them).")
def people_add(workspace: Path, hub_user: str, name: str, email: str, role: str,
               person_id: str | None) -> None:
    """Add an active person."""
    from ctpat_audit.trust.people import add_person

    p = add_person(workspace, hub_user, name, email, role, person_id=person_id)
    click.echo(f"added {p.describe()}"
               + (f", person {p.person_id}" if p.person_id else
                  ", no certificate yet (its person id is linked when keys are issued)"))


@people.command("list")
@workspace_option()
def people_list(workspace: Path) -> None:
    """List the people of WORKSPACE."""
    import pandas as pd

    from ctpat_audit.trust.people import list_people
    from ctpat_audit.ui.terminal import plain_table

    rows = [{"hub_user": p.hub_user, "name": p.name, "email": p.email, "role": p.role,
             "active": "yes" if p.active else "no", "person_id": p.person_id or "",
             "added_at": p.added_at[:19]} for p in list_people(workspace)]
    click.echo(plain_table(pd.DataFrame(rows), empty="(no people yet: ctpat-audit people "
                                                     "add)"))


def _set(workspace: Path, hub_user: str, active: bool) -> None:
    from ctpat_audit.trust.people import set_active

    p = set_active(workspace, hub_user, active)
    click.echo(f"{p.describe()}: {'active' if p.active else 'deactivated'}")


@people.command("deactivate")
@workspace_option()
@click.argument("hub_user")
def people_deactivate(workspace: Path, hub_user: str) -> None:
    """Deactivate HUB_USER: no server from now on, every action refused. A server already
    running is stopped from the hub's admin page."""
    _set(workspace, hub_user, False)


@people.command("activate")
@workspace_option()
@click.argument("hub_user")
def people_activate(workspace: Path, hub_user: str) -> None:
    """Activate HUB_USER again."""
    _set(workspace, hub_user, True)
