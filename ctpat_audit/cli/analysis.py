"""Commands that read the portfolio: review (security profiles) and portfolio (supervisors)."""
from __future__ import annotations

import datetime as dt
from pathlib import Path

import click

from ctpat_audit.cli.options import as_of_option, catalogue_version_option, workspace_option


@click.command()
@workspace_option()
@click.argument("account_id", required=False)
@as_of_option("Review date (default today).", default_today=True)
@catalogue_version_option
@click.option("--xlsx", type=click.Path(dir_okay=False, path_type=Path),
              help="Also write a workbook.")
@click.option("--limit", default=40, show_default=True, help="Rows to print for the portfolio.")
def review(workspace: Path, account_id: str | None, as_of: dt.date,
           catalogue_version: str | None, xlsx: Path | None, limit: int) -> None:
    """Security-profile review of one partner, or of the whole portfolio (overdue first)."""
    from ctpat_audit.analysis.review import (
        format_partner_review,
        review_partner,
        review_portfolio,
        write_review_xlsx,
    )
    from ctpat_audit.criteria.catalogue import load_catalogue
    from ctpat_audit.ui.terminal import format_review_portfolio
    from ctpat_audit.workspace.reference import open_workspace

    ws = open_workspace(workspace)
    cat = load_catalogue(catalogue_version, workspace=ws.path)
    if account_id:
        r = review_partner(ws.partner(account_id), cat, as_of)
        click.echo(format_partner_review(r))
        if xlsx:
            write_review_xlsx(xlsx, partner=r)
    else:
        frame = review_portfolio(ws, cat, as_of)
        click.echo(format_review_portfolio(frame, as_of, cat, limit))
        if xlsx:
            write_review_xlsx(xlsx, portfolio=frame, label=f"as of {as_of}, {cat.label}")
    if xlsx:
        click.echo(f"workbook written to {xlsx}")


@click.command()
@workspace_option()
@as_of_option("Date the portfolio is computed for (default today).", default_today=True)
@click.option("--xlsx", type=click.Path(dir_okay=False, path_type=Path),
              help="Also write a formatted workbook (one sheet per table).")
@catalogue_version_option
@click.option("--due-within", "due_within_days", default=90, show_default=True,
              help="Days ahead a validation counts as due soon (backlog).")
@click.option("--baseline", type=click.Path(dir_okay=False, exists=True, path_type=Path),
              help="Non-CTPAT exam-rate baseline (.csv/.xlsx; default: sample).")
@click.option("--limit", default=10, show_default=True, help="Rows to print per table.")
def portfolio(workspace: Path, as_of: dt.date, xlsx: Path | None, catalogue_version: str | None,
              due_within_days: int, baseline: Path | None, limit: int) -> None:
    """Supervisors' portfolio: validations due, backlog by region, in-person vs virtual,
    suspension candidates, exam rates by port."""
    from ctpat_audit.analysis.portfolio import portfolio as build
    from ctpat_audit.criteria.catalogue import load_catalogue
    from ctpat_audit.ui.portfolio_view import format_portfolio, write_portfolio_xlsx
    from ctpat_audit.workspace.reference import open_workspace

    ws = open_workspace(workspace)
    p = build(ws, as_of, load_catalogue(catalogue_version, workspace=ws.path),
              due_within_days=due_within_days, baseline=baseline)
    click.echo(format_portfolio(p, limit=limit))
    if xlsx:
        write_portfolio_xlsx(p, xlsx)
        click.echo(f"\nworkbook written to {xlsx}")
