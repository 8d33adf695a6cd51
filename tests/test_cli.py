"""The command line as a user runs it: real processes, real exit codes."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

BIN = Path(sys.executable).parent / "ctpat-audit"


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(BIN), *map(str, args)], capture_output=True, text=True, timeout=300)


def test_sample_init_import_and_exit_codes(tmp_path):
    src, ws = tmp_path / "src", tmp_path / "ws"
    r = run("sample", src, "--partners", "8", "--seed", "2", "--shipments-per-partner", "20")
    assert r.returncode == 0, r.stderr
    assert run("init", ws).returncode == 0
    r = run("import", ws, src, "--quiet")
    assert r.returncode == 0, r.stderr
    assert "partners: 8 rows" in r.stdout

    # a broken source: exit 3, every problem printed with file/row/column, problems workbook
    (src / "partners.csv").write_text((src / "partners.csv").read_text().replace("validated", "valid", 1)
                                      .replace("certified", "cert", 1))
    r = run("import", ws, src, "--quiet", "--problems", tmp_path / "p.xlsx")
    assert r.returncode == 3
    assert "nothing was imported" in r.stderr
    assert r.stderr.count("unknown_value") == 2 and "partners.csv" in r.stderr
    assert (tmp_path / "p.xlsx").is_file()

    # not a workspace: exit 2 with the fix in the message
    r = run("import", tmp_path / "missing", src)
    assert r.returncode == 2 and "ctpat-audit init" in r.stderr
    # usage error: click's exit 2
    assert run("import").returncode == 2
