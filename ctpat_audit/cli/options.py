"""Options shared by several commands, each declared once with its help text.

The workspace is always ``-w/--workspace PATH``, falling back on ``$CTPAT_WORKSPACE`` (the
variable ``ctpat-audit lab`` hands to the notebooks). Secrets (key passphrases, token PINs)
come from an environment variable, the first line of a file, or a hidden prompt: never from
a command-line argument, which other users can read in the process list.
"""
from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from ctpat_audit.core import clock

F = TypeVar("F", bound=Callable[..., Any])

#: The environment variable the workspace option falls back on.
WORKSPACE_ENV = "CTPAT_WORKSPACE"


def workspace_option(help: str = "The workspace folder.", *, required: bool = True,
                     envvar: bool = True) -> Callable[[F], F]:
    """``-w/--workspace PATH``; ``required``: a command that cannot run without one;
    ``envvar``: also read ``$CTPAT_WORKSPACE``."""
    return click.option("-w", "--workspace", type=click.Path(file_okay=False, path_type=Path),
                        metavar="PATH", required=required, envvar=WORKSPACE_ENV if envvar else None,
                        show_envvar=envvar, help=help)


def as_of_option(help: str, *, default_today: bool = False, iso: bool = False
                 ) -> Callable[[F], F]:
    """``--as-of YYYY-MM-DD`` as a ``datetime.date`` (``iso``: as the text ``YYYY-MM-DD``);
    when absent: today with ``default_today``, else None (the API's own default)."""
    def convert(ctx: click.Context, param: click.Parameter, value: dt.datetime | None) -> Any:
        day = value.date() if value else (clock.today() if default_today else None)
        return day.isoformat() if iso and day else day

    return click.option("--as-of", type=click.DateTime(["%Y-%m-%d"]), metavar="YYYY-MM-DD",
                        callback=convert,
                        help=help)


def catalogue_version_option(f: F) -> F:
    return click.option("--catalogue-version", help="Criteria catalogue version (default: the "
                        "built-in demonstration catalogue).")(f)


# -- secrets -------------------------------------------------------------------------------

def read_secret(env: str | None, file: Path | None, prompt: str, confirm: bool = False) -> str:
    """A passphrase or PIN from an environment variable, a file (first line) or a hidden
    prompt (``confirm``: asked twice, for a new one)."""
    if env:
        if env not in os.environ:
            raise click.UsageError(f"environment variable {env} is not set")
        return os.environ[env]
    if file:
        return (file.read_text(encoding="utf-8").splitlines() or [""])[0]
    return str(click.prompt(prompt, hide_input=True, confirmation_prompt=confirm))


PASSPHRASE_ENV = click.option("--passphrase-env", metavar="VAR",
                              help="Read the key passphrase from this environment variable.")
PASSPHRASE_FILE = click.option("--passphrase-file",
                               type=click.Path(dir_okay=False, exists=True, path_type=Path),
                               help="Read the key passphrase from the first line of this file.")
CA_PASSPHRASE_ENV = click.option("--ca-passphrase-env", metavar="VAR",
                                 help="Read the workspace CA passphrase from this environment "
                                      "variable.")
CA_PASSPHRASE_FILE = click.option("--ca-passphrase-file",
                                  type=click.Path(dir_okay=False, exists=True, path_type=Path),
                                  help="Read the workspace CA passphrase from the first line of "
                                       "this file.")

# -- PKCS#11 tokens ------------------------------------------------------------------------

PKCS11_MODULE = click.option("--pkcs11-module", metavar="LIB",
                             help="PKCS#11 module (e.g. /usr/lib/softhsm/libsofthsm2.so).")
TOKEN_LABEL = click.option("--token-label", help="PKCS#11 token label.")
KEY_LABEL = click.option("--key-label", help="Label of the key in the token.")
PIN_ENV = click.option("--pin-env", metavar="VAR",
                       help="Read the token PIN from this environment variable (else prompt).")
