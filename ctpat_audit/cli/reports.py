"""Rendering reports: ``report`` (one or a few sessions) and ``batch`` (many, signed)."""
from __future__ import annotations

from pathlib import Path

import click

from ctpat_audit.cli.app import EXIT_ERROR
from ctpat_audit.cli.options import as_of_option, workspace_option
from ctpat_audit.core.vocabulary import SESSION_STATUSES
from ctpat_audit.reports.pdf import PAPERS
from ctpat_audit.reports.pipeline import FORMATS


@click.command("report")
@workspace_option()
@click.option("--session", "session_ids", required=True, multiple=True,
              help="Session id (repeat for several; one browser serves them all).")
@click.option("--out", default=Path("reports"), show_default=True,
              type=click.Path(file_okay=False, path_type=Path), help="Output folder.")
@click.option("--format", "formats", multiple=True, default=FORMATS, show_default=True,
              type=click.Choice(FORMATS), help="Format to write (repeat for several).")
@click.option("--paper", type=click.Choice(list(PAPERS)), default="A4", show_default=True,
              help="PDF paper size.")
@as_of_option("Report date (default: the submission date).", iso=True)
@click.option("--due-days", default=90, show_default=True,
              help="Days after the report date a Requirement is due.")
@click.option("--template", type=click.Path(dir_okay=False, exists=True, path_type=Path),
              default=None, help="Report notebook (default: the packaged report template).")
def report(workspace: Path, session_ids: tuple[str, ...], out: Path,
           formats: tuple[str, ...], paper: str, as_of: str | None, due_days: int,
           template: Path | None) -> None:
    """Render a session's report to OUT/<account>/<session>/report.{ipynb,html,pdf,xlsx}.

    A failed notebook run names the failing cell and keeps the executed notebook in
    OUT/_failed/<session>/, as the batch does."""
    from ctpat_audit.reports.pipeline import DEFAULT_TEMPLATE, Renderer

    with Renderer(workspace, out, formats=formats, paper=paper, as_of=as_of,
                  due_days=due_days, template=template or DEFAULT_TEMPLATE) as r:
        for sid in session_ids:
            click.echo(f"report written to {r.render(sid)}")


@click.command()
@workspace_option()
@click.option("--status", default="submitted,signed", show_default=True,
              help=f"Session status(es) to select, comma-separated ({', '.join(SESSION_STATUSES)}).")
@click.option("--since", help="First day (YYYY-MM-DD) the session was submitted.")
@click.option("--until", help="Last day (YYYY-MM-DD) the session was submitted.")
@click.option("--partners", "partners_file", type=click.Path(dir_okay=False, exists=True,
                                                             path_type=Path),
              help="File of partner account ids, one a line.")
@click.option("--region", help="COUNTRY[/STATE[/CITY]] of one of the partner's facilities, "
                               "e.g. MX/NL.")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=Path("reports"),
              show_default=True, help="Output folder (reports, manifest and index).")
@click.option("--workers", type=int, default=2, show_default=True,
              help="Local worker processes (0: run in this process).")
@click.option("--retry-failed", is_flag=True, help="Also re-run reports whose last run failed.")
@click.option("--force", is_flag=True, help="Re-run every selected report, also rendering "
              "again reports already signed in OUT (otherwise countersigned as they are).")
@click.option("--scheduler", help="Dask scheduler address (tcp://HOST:8786) instead of the "
                                  "local pool.")
@click.option("--key", type=click.Path(dir_okay=False, path_type=Path),
              help="Supervisor's PKCS#12 key: countersigns each report 'approved'.")
@click.option("--specialist-keys", type=click.Path(file_okay=False, path_type=Path),
              help="Folder of specialists' keys: sign 'validated' first (demonstration and "
                   "benchmark flows).")
@click.option("--passphrase-env", metavar="VAR",
              help="Environment variable holding the key passphrase.")
@click.option("--template", type=click.Path(dir_okay=False, path_type=Path),
              help="Report notebook (default templates/report.ipynb).")
@click.option("--no-progress", is_flag=True, help="No progress bar.")
@click.option("--artifacts", hidden=True,
              help="MODULE:FUNCTION rendering HTML/PDF/Excel (default: the report module).")
@click.option("--kernel-warmup", hidden=True,
              help="Code the worker's zygote runs before forking reports (default: the "
                   "report's imports and shared tables).")
@click.pass_context
def batch(ctx: click.Context, workspace: Path, status: str, since: str | None,
          until: str | None, partners_file: Path | None, region: str | None, out: Path,
          workers: int, retry_failed: bool, force: bool, scheduler: str | None,
          key: Path | None, specialist_keys: Path | None, passphrase_env: str | None,
          template: Path | None, no_progress: bool, artifacts: str | None,
          kernel_warmup: str | None) -> None:
    """Render, countersign and verify the reports of many sessions; write OUT/index.html.

    Exit code 1 when any report failed (the index lists each failure).
    """
    from ctpat_audit.batch.run import read_partner_file, run_batch

    summary = run_batch(
        workspace, out=out, template=template, status=status or None, since=since, until=until,
        partners=read_partner_file(partners_file) if partners_file else None, region=region,
        workers=workers, retry_failed=retry_failed, force=force, scheduler=scheduler, key=key,
        specialist_keys=specialist_keys, passphrase_env=passphrase_env,
        progress=not no_progress, artifacts=artifacts,
        kernel_warmup=kernel_warmup)
    click.echo(summary.headline())
    for line in summary.failure_lines():
        click.echo(line, err=True)
    click.echo(f"index: {summary.index_html}")
    click.echo(f"workbook: {summary.index_xlsx}")
    if summary.failed:
        ctx.exit(EXIT_ERROR)
