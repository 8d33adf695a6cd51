"""``lab``: JupyterLab (or Voila) for one user on 127.0.0.1."""
from __future__ import annotations

from pathlib import Path

import click

from ctpat_audit.cli.options import workspace_option
from ctpat_audit.cli.serving import serve_until_stopped


@click.command()
@workspace_option()
@click.option("--account", "account_id", default=None, help="Partner account id to open.")
@click.option("--user", default=None, help="Specialist (or, with --voila, contact e-mail).")
@click.option("--port", type=int, default=None, help="Port on 127.0.0.1 (default: a free one).")
@click.option("--no-browser", is_flag=True, help="Only print the URL.")
@click.option("--voila", is_flag=True,
              help="Serve the self-assessment notebook with Voila (no code shown).")
@click.option("--refresh-notebooks", is_flag=True,
              help="Replace your copies of the notebooks (WORKSPACE/notebooks/<user>/) with "
                   "the installed ones; each old copy is kept as a timestamped backup.")
def lab(workspace: Path, account_id: str | None, user: str | None, port: int | None,
        no_browser: bool, voila: bool, refresh_notebooks: bool) -> None:
    """Start JupyterLab (or Voila) on 127.0.0.1 with a random token and open your copy of the
    notebook."""
    import webbrowser

    from ctpat_audit.server.lab import start_lab, start_voila

    start = start_voila if voila else start_lab
    server = start(workspace, account_id, user=user, port=port,
                   refresh_notebooks=refresh_notebooks)
    lines = [*server.notices,
             f"{'Voila' if voila else 'JupyterLab'} is running (workspace {workspace}).",
             f"Open: {server.url}", "Press Ctrl-C to stop."]
    serve_until_stopped(server, lines,
                        None if no_browser else lambda: webbrowser.open(server.url))
