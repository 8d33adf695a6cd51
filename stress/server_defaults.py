"""Recipe 8: JupyterLab and Voila started by the toolkit listen on 127.0.0.1 with a token, and
refuse a request without it (reuses the request helper of ``tests/test_lab.py``)."""
from __future__ import annotations

from pathlib import Path

from session_helpers import ACCOUNT, OFFICER, make_workspace
from test_lab import _get

from ctpat_audit.server.lab import start_lab, start_voila

from . import Figures


def run(root: Path, quick: bool = False, seed: int = 0) -> Figures:
    ws = make_workspace(Path(root) / "ws")
    servers = unrefused = not_local = no_token = 0
    for start, probe in ((start_lab, "api/status"), (start_voila, "")):
        kwargs = {"user": OFFICER} if start is start_voila else {}
        with start(ws.path, ACCOUNT, **kwargs) as server:
            servers += 1
            not_local += 0 if server.base_url.startswith("http://127.0.0.1:") else 1
            no_token += 0 if len(server.token) >= 32 else 1
            for url in (server.base_url + probe, server.base_url + probe + "?token=wrong"):
                status, where, _ = _get(url)
                refused = status in (401, 403) or (status == 302 and "/login" in where)
                unrefused += 0 if refused else 1
    return {"servers_checked": servers, "server_unrefused": unrefused,
            "server_not_local": not_local, "server_weak_token": no_token}
