"""The ``ctpat-audit`` command line: a thin click group over the Python API.

Commands only parse options and call the API; options map one-to-one to API arguments.
Every :class:`~ctpat_audit.errors.CtpatError` becomes a plain message and exit code 2
(intake problems: a table of every problem, exit code 3).
"""
from __future__ import annotations

import sys
from pathlib import Path

import click

from .errors import CtpatError, IntakeError


class _Group(click.Group):
    def invoke(self, ctx: click.Context):  # type: ignore[override]
        try:
            return super().invoke(ctx)
        except IntakeError as exc:
            from .intake import print_problems

            print_problems(exc, stream=sys.stderr)
            sys.exit(3)
        except CtpatError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(2)


@click.group(cls=_Group)
@click.version_option(package_name="ctpat-audit")
def main() -> None:
    """Audit and validation toolkit for the CBP CTPAT program."""


WORKSPACE = click.argument("workspace", type=click.Path(file_okay=False, path_type=Path))


# -- workspace and intake (issue 2) -----------------------------------------------------
@main.command()
@WORKSPACE
def init(workspace: Path) -> None:
    """Create a workspace folder (SQLite records, Parquet exams, evidence, keys)."""
    from .workspace import init_workspace

    ws = init_workspace(workspace)
    click.echo(f"workspace ready: {ws.path}")


@main.command("import")
@WORKSPACE
@click.argument("source", type=click.Path(exists=False, path_type=Path))
@click.option("--problems", "problems_xlsx", type=click.Path(dir_okay=False, path_type=Path),
              help="Also write every problem found to this .xlsx file.")
@click.option("--quiet", is_flag=True, help="No progress bars.")
def import_(workspace: Path, source: Path, problems_xlsx: Path | None, quiet: bool) -> None:
    """Import SOURCE (a folder of CSV/Excel/Parquet files, or one workbook), all or nothing."""
    from .errors import IntakeError as _IntakeError
    from .intake import import_source, write_problems_xlsx
    from .workspace import open_workspace

    ws = open_workspace(workspace)
    try:
        summary = import_source(ws, source, progress=not quiet)
    except _IntakeError as exc:
        if problems_xlsx:
            write_problems_xlsx(exc.problems, problems_xlsx)
            click.echo(f"problems written to {problems_xlsx}", err=True)
        raise
    for table, n in summary.rows.items():
        click.echo(f"{table:>18}: {n:,} rows")
    click.echo(f"imported {source} into {ws.path} (source sha256 {summary.source_sha256[:16]}...)")


@main.command()
@click.argument("out", type=click.Path(file_okay=False, path_type=Path))
@click.option("--partners", default=200, show_default=True, help="Number of partners.")
@click.option("--seed", default=7, show_default=True, help="Random seed (same seed, same data).")
@click.option("--as-of", type=click.DateTime(["%Y-%m-%d"]), default=None,
              help="Date the sample is 'now' (default 2026-11-01).")
@click.option("--shipments-per-partner", default=250.0, show_default=True)
def sample(out: Path, partners: int, seed: int, as_of, shipments_per_partner: float) -> None:
    """Write a realistic synthetic source folder to OUT (deterministic for a seed)."""
    from .sample import write_sample

    write_sample(out, partners=partners, seed=seed, as_of=as_of.date() if as_of else None,
                 shipments_per_partner=shipments_per_partner, progress=True)
    click.echo(f"sample source written to {out}")
