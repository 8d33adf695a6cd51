"""Commands on sessions and their record: sessions, audit-verify, questionnaire export/import."""
from __future__ import annotations

from pathlib import Path

import click

from ctpat_audit.cli.app import EXIT_ERROR
from ctpat_audit.cli.options import catalogue_version_option, workspace_option
from ctpat_audit.core.vocabulary import SESSION_KINDS, SESSION_STATUSES


@click.command("sessions")
@workspace_option()
@click.option("--account", "account_id", help="Only this partner's sessions.")
@click.option("--status", type=click.Choice(SESSION_STATUSES), help="Only sessions in this status.")
@click.option("--kind", type=click.Choice(list(SESSION_KINDS)), help="Only this kind of session.")
def sessions(workspace: Path, account_id: str | None, status: str | None,
             kind: str | None) -> None:
    """List validation and self-assessment sessions, newest first."""
    from ctpat_audit.sessions.session import list_sessions
    from ctpat_audit.ui.terminal import format_sessions

    click.echo(format_sessions(list_sessions(workspace, account_id=account_id, status=status,
                                             kind=kind)))


@click.command("audit-verify")
@workspace_option()
@click.option("--expected-head", metavar="HASH",
              help="A head hash pinned elsewhere (e.g. in a signed report) that must be there.")
@click.option("--trust", type=click.Path(exists=True, path_type=Path),
              help="The CA the signed anchors must chain to: a copy of WORKSPACE/keys/ca.pem "
                   "kept outside the workspace (default: WORKSPACE/keys).")
@click.pass_context
def audit_verify(ctx: click.Context, workspace: Path, expected_head: str | None,
                 trust: Path | None) -> None:
    """Check the workspace's record: the hash-chained audit log, the heads signers pinned in
    it, and every state row against the replay of the log; exit 1 on any difference."""
    from ctpat_audit.trust.record import verify_record

    result = verify_record(workspace, trust=trust, expected_head=expected_head)
    lines = result.lines()
    click.echo(lines[0])
    for line in lines[1:]:
        click.echo(line)
    if not result.ok:
        ctx.exit(EXIT_ERROR)


@click.group()
def questionnaire() -> None:
    """Offline self-assessment in Excel: export for a partner, import the filled workbook."""


@questionnaire.command("export")
@workspace_option()
@click.argument("account_id")
@click.option("--out", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="The workbook to write (.xlsx).")
@catalogue_version_option
def questionnaire_export(workspace: Path, account_id: str, out: Path,
                         catalogue_version: str | None) -> None:
    """Write ACCOUNT_ID's applicable criteria to a protected workbook with answer cells."""
    from ctpat_audit.sessions.questionnaire import export_questionnaire
    from ctpat_audit.workspace.reference import open_workspace

    path = export_questionnaire(open_workspace(workspace), account_id, out,
                                catalogue_version=catalogue_version)
    click.echo(f"questionnaire written to {path}")


@questionnaire.command("import")
@workspace_option()
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--contact", required=True, help="E-mail of the partner contact who filled it in.")
def questionnaire_import(workspace: Path, file: Path, contact: str) -> None:
    """Import a filled questionnaire as a self-assessment session (all or nothing).

    On problems every one is printed (sheet, row, column), nothing is imported and the exit
    code is 3.
    """
    from ctpat_audit.sessions.questionnaire import import_questionnaire
    from ctpat_audit.workspace.reference import open_workspace

    r = import_questionnaire(open_workspace(workspace), file, contact)
    click.echo(f"self-assessment {r.session_id} for {r.account_id}: {r.answered} answered, "
               f"{r.blank} left blank")
