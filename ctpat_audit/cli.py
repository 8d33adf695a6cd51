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
