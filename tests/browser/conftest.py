"""Real-browser fixtures: Debian's chromium driven by Playwright (never `playwright install`).

Playwright cannot download its own browser here, so it launches the system chromium through
``executable_path``. Tests are skipped, with the reason, only when /usr/bin/chromium is
missing (the Makefile installs it: ``apt-get install -y chromium``).
"""
from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


@pytest.fixture(scope="module")
def chromium_browser() -> Iterator[object]:
    # module scope: while sync Playwright is active the main thread has a running asyncio
    # loop, which would break every later test that uses an asyncio-based sync API
    if not CHROMIUM.is_file():
        pytest.skip(f"{CHROMIUM} is not installed (the Makefile installs it with "
                    "`apt-get install -y chromium`); the browser test needs it")
    sync_api = pytest.importorskip("playwright.sync_api",
                                   reason="playwright (dev dependency) is not installed")
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True,
                                     args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def workspace_copy(sample_workspace, tmp_path: Path) -> Path:
    dst = tmp_path / "ws"
    shutil.copytree(sample_workspace.path, dst)
    return dst
