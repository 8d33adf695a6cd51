"""The ``ctpat-audit`` group: global options, and how errors become exit codes.

Every :class:`~ctpat_audit.core.errors.CtpatError` a command raises is printed as one line
``error: ...`` on stderr, without a traceback (``--debug`` adds it), and sets the exit code;
intake problems print a table of every problem. Anything else is a bug and keeps its Python
traceback.
"""
from __future__ import annotations

import atexit
import gc
import logging
import sys
import traceback
from typing import Any

import click

from ctpat_audit.core.errors import CtpatError, IntakeError

# Registered first, so it runs after every other exit handler (the report zygote's and the
# browser's are closed by then): the interpreter's last garbage collection then skips the
# objects of the 1,000-odd modules a report command imports (papermill, nbconvert,
# Playwright), which took 0.2 to 0.4 s at the end of the command. Memory is returned to the
# system at exit in any case; files are closed where they are written.
atexit.register(gc.freeze)

#: The command succeeded (a verification found nothing wrong).
EXIT_OK = 0
#: A plain error: an action refused, something not found, a check that failed.
EXIT_ERROR = 1
#: Click's usage error: an unknown, missing or malformed option or argument.
EXIT_USAGE = 2
#: Located input problems: nothing was imported, every problem is listed.
EXIT_INPUT_PROBLEMS = 3

EPILOG = f"""\b
Workspace: every command that uses one takes -w/--workspace PATH, or reads
$CTPAT_WORKSPACE (verify only takes -w: its audit-log check is opt-in).

\b
Exit codes:
  {EXIT_OK}  success
  {EXIT_ERROR}  an error, printed as one line "error: ..." (an action refused, a partner,
     session or file not found, a wrong passphrase...), or a check that failed:
     verify, audit-verify, a batch with failed reports
  {EXIT_USAGE}  a usage error: a missing, unknown or malformed option or argument
  {EXIT_INPUT_PROBLEMS}  input problems: a source, criteria table or questionnaire has
     problems; every one is listed with its file, sheet, row and column, and
     nothing was imported

--debug also prints the traceback of an error. A traceback without --debug
is a bug (exit code 1)."""


def one_line(exc: BaseException) -> str:
    """The error's message on one line (its lines joined), or its class name if empty."""
    text = " ".join(line.strip() for line in str(exc).splitlines() if line.strip())
    return text or type(exc).__name__


class CtpatGroup(click.Group):
    """The top-level group: runs a command and turns the toolkit's errors into exit codes."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except IntakeError as exc:
            from ctpat_audit.intake.importer import print_problems

            _traceback_if_debug(ctx)
            print_problems(exc, stream=sys.stderr)
            ctx.exit(EXIT_INPUT_PROBLEMS)
        except CtpatError as exc:
            _traceback_if_debug(ctx)
            click.echo(f"error: {one_line(exc)}", err=True)
            ctx.exit(EXIT_ERROR)


def _traceback_if_debug(ctx: click.Context) -> None:
    if ctx.params.get("debug"):
        click.echo(traceback.format_exc().rstrip(), err=True)


@click.group(cls=CtpatGroup, epilog=EPILOG)
@click.version_option(package_name="ctpat-audit")
@click.option("--debug", is_flag=True, help="Also print the traceback of an error.")
def main(debug: bool) -> None:
    """Audit and validation toolkit for the CBP CTPAT program."""
    if debug:  # libraries' warnings (pyHanko's failed certificate paths...) with tracebacks
        logging.basicConfig(level=logging.WARNING, stream=sys.stderr,
                            format="%(levelname)s %(name)s: %(message)s")
