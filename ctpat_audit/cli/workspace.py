"""Commands that create and fill a workspace: init, import, sample, sample-sessions, formats."""
from __future__ import annotations

import datetime as dt
from pathlib import Path

import click

from ctpat_audit.cli.options import as_of_option, workspace_option


@click.command()
@workspace_option("The workspace folder to create (or complete).")
def init(workspace: Path) -> None:
    """Create a workspace folder (SQLite records, Parquet exams, evidence, keys)."""
    from ctpat_audit.workspace.reference import init_workspace

    ws = init_workspace(workspace)
    click.echo(f"workspace ready: {ws.path}")


@click.command("import")
@workspace_option()
@click.argument("source", type=click.Path(path_type=Path))
@click.option("--problems", "problems_xlsx", type=click.Path(dir_okay=False, path_type=Path),
              help="Also write every problem found to this .xlsx file.")
@click.option("--quiet", is_flag=True, help="No progress bars.")
def import_(workspace: Path, source: Path, problems_xlsx: Path | None, quiet: bool) -> None:
    """Import SOURCE (a folder of CSV/Excel/Parquet files, or one workbook), all or nothing.

    On problems every one is printed (file, sheet, row, column, value, what was expected),
    nothing is imported and the exit code is 3.
    """
    from ctpat_audit.core.errors import IntakeError
    from ctpat_audit.intake.importer import import_source, write_problems_xlsx

    try:
        summary = import_source(workspace, source, progress=not quiet)
    except IntakeError as exc:
        if problems_xlsx:
            write_problems_xlsx(exc.problems, problems_xlsx)
            click.echo(f"problems written to {problems_xlsx}", err=True)
        raise
    for table, n in summary.rows.items():
        click.echo(f"{table:>18}: {n:,} rows")
    click.echo(f"imported {source} into {workspace} "
               f"(source sha256 {summary.source_sha256[:16]}...)")


@click.command()
@click.argument("out", type=click.Path(file_okay=False, path_type=Path))
@click.option("--partners", default=200, show_default=True, help="Number of partners.")
@click.option("--seed", default=7, show_default=True, help="Random seed (same seed, same data).")
@as_of_option("Date the sample is 'now' (default 2026-11-01).")
@click.option("--shipments-per-partner", default=250.0, show_default=True,
              help="Average shipments per partner.")
def sample(out: Path, partners: int, seed: int, as_of: dt.date | None,
           shipments_per_partner: float) -> None:
    """Write a realistic synthetic source folder to OUT (deterministic for a seed)."""
    from ctpat_audit.demo.sample_data import write_sample

    write_sample(out, partners=partners, seed=seed, as_of=as_of,
                 shipments_per_partner=shipments_per_partner, progress=True)
    click.echo(f"sample source written to {out}")


@click.command("sample-sessions")
@workspace_option()
@click.option("--validations", default=5, show_default=True,
              help="Submitted sample validations to add.")
@click.option("--self-assessments", default=3, show_default=True,
              help="Submitted sample self-assessments to add.")
@click.option("--seed", default=7, show_default=True, help="Random seed (same seed, same data).")
@as_of_option("Date the sessions are answered before (default today).", default_today=True)
def sample_sessions(workspace: Path, validations: int, self_assessments: int, seed: int,
                    as_of: dt.date) -> None:
    """Add submitted sample validations and self-assessments to a workspace (demo material)."""
    from ctpat_audit.demo.sample_sessions import write_sample_sessions

    ids = write_sample_sessions(workspace, validations, self_assessments, seed, as_of)
    for kind, values in ids.items():
        click.echo(f"{kind}: {' '.join(values) or '-'}")


@click.command()
def formats() -> None:
    """Print the data format of every source table (Markdown, as in docs/data-formats.md)."""
    from ctpat_audit.workspace.tables import formats_markdown

    click.echo(formats_markdown(), nl=False)
