"""Packaging facts: the console script, and the import-time cost we keep out."""
from __future__ import annotations

import importlib.util
import subprocess
import sys


def test_rfc3987_syntax_is_not_installed_and_nbformat_does_not_pay_for_it():
    # constraints/overrides.txt keeps rfc3987-syntax out; it compiles a grammar at import (~3 s)
    assert importlib.util.find_spec("rfc3987_syntax") is None
    code = "import sys, nbformat, papermill, nbconvert; print('rfc3987_syntax' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_cli_help_lists_the_commands():
    from pathlib import Path
    exe = Path(sys.executable).parent / "ctpat-audit"
    out = subprocess.run([str(exe), "--help"], capture_output=True, text=True, check=True).stdout
    for cmd in ("init", "import", "sample"):
        assert cmd in out


def test_docs_data_formats_match_the_schemas():
    from pathlib import Path

    from ctpat_audit.workspace.tables import formats_markdown

    text = (Path(__file__).parent.parent / "docs" / "data-formats.md").read_text()
    section = text.split("<!-- formats:begin -->\n", 1)[1].split("<!-- formats:end -->", 1)[0]
    assert section == formats_markdown(), \
        "run `ctpat-audit formats` and paste it between the markers of docs/data-formats.md"
