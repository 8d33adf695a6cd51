"""The ``catalogue`` group: list or export criteria, import CBP's official tables, crosswalks."""
from __future__ import annotations

from pathlib import Path

import click
from click.core import ParameterSource

from ctpat_audit.cli.options import workspace_option

CATALOGUE_WORKSPACE = ("Workspace holding imported catalogues (WORKSPACE/catalogues/<version>.json); "
                       "without one, only the built-in catalogues.")


@click.group("catalogue", invoke_without_command=True)
@click.option("--version", "version",
              help="Catalogue version (default: the built-in demonstration, demo-2019.11).")
@workspace_option(CATALOGUE_WORKSPACE, required=False)
@click.option("--entity", "entity_types", multiple=True, metavar="TYPE",
              help="Business entity type (repeat for an expanded profile: the union, strictest "
                   "Must/Should). Default: every criterion with its levels per type.")
@click.option("--xlsx", type=click.Path(dir_okay=False, path_type=Path),
              help="Write the criteria to this workbook instead of printing them.")
@click.pass_context
def catalogue(ctx: click.Context, version: str | None, workspace: Path | None,
              entity_types: tuple[str, ...], xlsx: Path | None) -> None:
    """List or export the criteria of a catalogue; `catalogue import` reads CBP's tables."""
    if ctx.invoked_subcommand is not None:
        if ctx.get_parameter_source("workspace") == ParameterSource.COMMANDLINE:
            raise click.UsageError(f"give -w after the subcommand: `catalogue "
                                   f"{ctx.invoked_subcommand} ... -w {workspace}`")
        return
    from ctpat_audit.criteria.catalogue import load_catalogue
    from ctpat_audit.criteria.catalogue_workbook import write_xlsx
    from ctpat_audit.ui.terminal import format_catalogue

    cat = load_catalogue(version, workspace=workspace)
    if xlsx:
        write_xlsx(cat, xlsx, entity_types or None)
        click.echo(f"{cat.label}\nworkbook written to {xlsx}")
    else:
        click.echo(format_catalogue(cat, entity_types))


@catalogue.command("import")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--entity", "entity_type", default=None, metavar="TYPE",
              help="The business entity type whose table FILE is (e.g. importer, sea_carrier); "
                   "not needed for a workbook from `catalogue --xlsx` (a column per type).")
@click.option("--version", "version", required=True,
              help="Catalogue version to create or merge into (e.g. 2019.11-official).")
@workspace_option("Workspace to store the catalogue in (WORKSPACE/catalogues/<version>.json).")
@click.option("--problems", "problems_xlsx", type=click.Path(dir_okay=False, path_type=Path),
              help="Also write every problem found, one row each, to this .xlsx file.")
def catalogue_import(file: Path, entity_type: str | None, version: str, workspace: Path,
                     problems_xlsx: Path | None) -> None:
    """Import one entity type's official CBP criteria table (.pdf, .xlsx or .csv).

    Importing another entity's table with the same --version merges it into one catalogue.
    Any problem (bad id, wrong category, Must/Should missing or unknown, duplicates, a table
    whose columns cannot be made out) is listed with its location and nothing is written.
    """
    from ctpat_audit.core.errors import CriteriaTableError
    from ctpat_audit.criteria.catalogue import workspace_path
    from ctpat_audit.criteria.official_import import import_criteria_table

    try:
        cat = import_criteria_table(file, entity_type, version, workspace,
                                    on_notice=lambda text: click.echo(f"note: {text}", err=True))
    except CriteriaTableError as exc:
        if problems_xlsx:
            from ctpat_audit.intake.importer import write_problems_xlsx

            write_problems_xlsx(exc.every, problems_xlsx)
            click.echo(f"every problem ({len(exc.every)}) written to {problems_xlsx}", err=True)
        raise
    types = [entity_type] if entity_type else [t for t in cat.imported_tables
                                               if cat.imported_tables[t] == file.name]
    mine = cat.applicable(types)
    musts = sum(c.level_for(types) == "Must" for c in mine)
    click.echo(f"imported {len(mine)} criteria for {', '.join(types)} ({musts} Must, "
               f"{len(mine) - musts} Should) from {file.name} into catalogue {cat.version}")
    click.echo(f"catalogue {cat.version}: {len(cat.criteria)} criteria for "
               f"{', '.join(cat.imported_tables)} -> {workspace_path(version, workspace)}")


@catalogue.command("crosswalk")
@click.argument("from_version")
@click.argument("to_version")
@workspace_option(CATALOGUE_WORKSPACE, required=False)
def catalogue_crosswalk(from_version: str, to_version: str, workspace: Path | None) -> None:
    """Map criterion ids from one catalogue version to another (same id, or a crosswalk file)."""
    from ctpat_audit.criteria.catalogue import crosswalk, load_catalogue, load_crosswalk
    from ctpat_audit.ui.terminal import plain_table

    df = crosswalk(load_catalogue(from_version, workspace), load_catalogue(to_version, workspace),
                   load_crosswalk(from_version, to_version, workspace))
    click.echo(plain_table(df, width=80))
