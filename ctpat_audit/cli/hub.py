"""``hub``: JupyterHub for a team on this machine, in front of one workspace."""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import click

from ctpat_audit.cli.options import workspace_option
from ctpat_audit.cli.serving import serve_until_stopped


@click.command()
@workspace_option(required=False)
@click.option("--ip", default="127.0.0.1", show_default=True,
              help="Address to listen on; another than 127.0.0.1 serves the network (put it "
                   "behind TLS).")
@click.option("--port", type=int, default=8000, show_default=True, help="Port to listen on.")
@click.option("--authenticator", type=click.Choice(["native", "pam"]), default="native",
              show_default=True,
              help="native: password accounts, signed up and approved by an admin; pam: the "
                   "machine's system accounts (run as root).")
@click.option("--config-file", "show_config", is_flag=True,
              help="Only print where the shipped jupyterhub_config.py is (to run your own "
                   "hub with it).")
def hub(workspace: Path | None, ip: str, port: int, authenticator: str,
        show_config: bool) -> None:
    """Start JupyterHub for a team: one server per person, for the active people of the
    workspace (`ctpat-audit people`), with their roles. State in WORKSPACE/hub/."""
    from ctpat_audit.server.hub_config import CONFIG_FILE

    if show_config:
        click.echo(str(CONFIG_FILE))
        return
    if workspace is None:
        raise click.UsageError("give the workspace: -w PATH (or $CTPAT_WORKSPACE)")
    from ctpat_audit.server.hub import first_admin_steps, start_hub

    server = start_hub(workspace, ip=ip, port=port, authenticator=authenticator)

    def lines() -> Iterator[str]:  # read inside serve_until_stopped: the hub stops on an error
        yield (f"JupyterHub is running for workspace {workspace} "
               f"({authenticator} accounts; state and log in {workspace / 'hub'}).")
        yield f"Open: {server.url}"
        yield from first_admin_steps(workspace, server.url, authenticator)
        yield "Press Ctrl-C to stop (every person's server stops with it)."

    serve_until_stopped(server, lines())
