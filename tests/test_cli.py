"""The command line's conventions: the workspace option, exit codes, --debug, plain tables.

Some tests run the installed ``ctpat-audit`` as a real process (real exit codes, real
environment); the rest use click's CliRunner.
"""
from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

import click
import pytest
from click.testing import CliRunner
from session_helpers import ACCOUNT, CRITERIA, make_workspace

from ctpat_audit.cli import main
from ctpat_audit.cli.app import EXIT_ERROR, EXIT_INPUT_PROBLEMS, EXIT_OK, EXIT_USAGE
from ctpat_audit.cli.options import WORKSPACE_ENV

BIN = Path(sys.executable).parent / "ctpat-audit"


def run(*args: object, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    environ = {k: v for k, v in os.environ.items() if k != WORKSPACE_ENV}
    return subprocess.run([str(BIN), *map(str, args)], capture_output=True, text=True,
                          timeout=300, env={**environ, **(env or {})})


def invoke(*args: object, env: dict[str, str] | None = None, input: str | None = None):
    return CliRunner().invoke(main, [str(a) for a in args], env={WORKSPACE_ENV: None, **(env or {})},
                              input=input)


def commands(group: click.Group = main, prefix: str = "") -> dict[str, click.Command]:
    """Every command of the CLI by its full name ("keys new"), groups included."""
    found: dict[str, click.Command] = {}
    for name, cmd in group.commands.items():
        found[f"{prefix}{name}"] = cmd
        if isinstance(cmd, click.Group):
            found.update(commands(cmd, f"{prefix}{name} "))
    return found


# -- real processes ---------------------------------------------------------------------------

def test_sample_init_import_and_exit_codes(tmp_path):
    src, ws = tmp_path / "src", tmp_path / "ws"
    r = run("sample", src, "--partners", "8", "--seed", "2", "--shipments-per-partner", "20")
    assert r.returncode == EXIT_OK, r.stderr
    assert run("init", "-w", ws).returncode == EXIT_OK
    # the workspace from the environment, as from -w
    r = run("import", src, "--quiet", env={WORKSPACE_ENV: str(ws)})
    assert r.returncode == EXIT_OK, r.stderr
    assert "partners: 8 rows" in r.stdout

    # a broken source: exit 3, every problem printed with file/row/column, problems workbook
    rows = list(csv.DictReader((src / "partners.csv").open(newline="")))
    rows[0]["status"], rows[1]["status"] = "valid", "cert"  # two statuses nobody knows
    with (src / "partners.csv").open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    r = run("import", "-w", ws, src, "--quiet", "--problems", tmp_path / "p.xlsx")
    assert r.returncode == EXIT_INPUT_PROBLEMS == 3
    assert "nothing was imported" in r.stderr
    assert r.stderr.count("unknown_value") == 2 and "partners.csv" in r.stderr
    assert (tmp_path / "p.xlsx").is_file()

    # not a workspace: exit 1, one line with the fix, no traceback
    r = run("import", "--workspace", tmp_path / "missing", src)
    assert r.returncode == EXIT_ERROR == 1
    assert r.stderr.startswith("error: ") and r.stderr.count("\n") == 1
    assert f"ctpat-audit init -w {tmp_path / 'missing'}" in r.stderr
    assert "Traceback" not in r.stderr
    # --debug: the same error with its traceback, the same exit code
    r = run("--debug", "import", "-w", tmp_path / "missing", src)
    assert r.returncode == EXIT_ERROR
    assert "Traceback (most recent call last)" in r.stderr and "WorkspaceError" in r.stderr
    assert r.stderr.rstrip().splitlines()[-1].startswith("error: ")
    # usage errors: click's exit 2; a missing workspace names the option and the variable
    assert run("import").returncode == EXIT_USAGE == 2
    r = run("import", src)
    assert r.returncode == EXIT_USAGE
    assert "Missing option '-w' / '--workspace'" in r.stderr and WORKSPACE_ENV in r.stderr


# -- each exit code through CliRunner -------------------------------------------------------------

def test_exit_code_0_on_success():
    res = invoke("formats")
    assert res.exit_code == EXIT_OK and "#### `partners`" in res.output


def test_exit_code_1_is_one_line_without_traceback(tmp_path):
    res = invoke("sessions", "-w", tmp_path / "nowhere")
    assert res.exit_code == EXIT_ERROR
    assert res.output.startswith("error: ") and res.output.count("\n") == 1
    assert "no ctpat.sqlite" in res.output and "Traceback" not in res.output


def test_debug_adds_the_traceback(tmp_path):
    res = invoke("--debug", "sessions", "-w", tmp_path / "nowhere")
    assert res.exit_code == EXIT_ERROR
    assert "Traceback (most recent call last)" in res.output
    assert "raise WorkspaceError" in res.output and "error: " in res.output


def test_exit_code_2_on_usage_errors(tmp_path):
    assert invoke("sessions", "-w", tmp_path, "--status", "closed").exit_code == EXIT_USAGE
    assert invoke("no-such-command").exit_code == EXIT_USAGE
    res = invoke("sessions")
    assert res.exit_code == EXIT_USAGE and "Missing option '-w' / '--workspace'" in res.output


def test_exit_code_3_lists_located_input_problems(tmp_path):
    ws = make_workspace(tmp_path / "ws")
    bogus = tmp_path / "filled.xlsx"
    bogus.write_bytes(b"not a workbook")
    res = invoke("questionnaire", "import", "-w", ws.path, bogus, "--contact",
                 "ana.officer@example.com")
    assert res.exit_code == EXIT_INPUT_PROBLEMS
    assert res.output.startswith("error: 1 problem in filled.xlsx; nothing was imported")
    assert "unreadable_workbook" in res.output.splitlines()[-1]  # the table of problems


def test_help_documents_exit_codes_workspace_and_debug():
    out = invoke("--help").output
    assert "--debug" in out and "-w/--workspace PATH" in out and f"${WORKSPACE_ENV}" in out
    for code in (EXIT_OK, EXIT_ERROR, EXIT_USAGE, EXIT_INPUT_PROBLEMS):
        assert f"\n    {code}  " in out


# -- the workspace convention -------------------------------------------------------------------

def test_every_workspace_is_the_w_option_read_from_the_environment():
    with_workspace = {}
    for name, cmd in commands().items():
        for p in cmd.params:
            assert not (isinstance(p, click.Argument) and "workspace" in (p.name or "")), \
                f"{name}: positional workspace"
            if p.name == "workspace":
                with_workspace[name] = p
    assert {"init", "import", "review", "portfolio", "sessions", "audit-verify", "lab",
            "report", "batch", "sign", "verify", "keys new", "keys list", "keys revoke",
            "keys demo", "questionnaire export", "questionnaire import", "sample-sessions",
            "catalogue", "catalogue import", "catalogue crosswalk", "hub", "people add",
            "people list", "people deactivate", "people activate"} == set(with_workspace)
    for name, p in with_workspace.items():
        assert isinstance(p, click.Option) and p.opts == ["-w", "--workspace"], name
        # verify's audit-log check is opt-in: never from the environment
        assert p.envvar == (None if name == "verify" else WORKSPACE_ENV), name
    optional = {n for n, p in with_workspace.items() if not p.required}
    # hub: `hub --config-file` needs none
    assert optional == {"verify", "catalogue", "catalogue crosswalk", "hub"}


def test_the_workspace_variable_is_the_one_lab_hands_to_the_notebooks():
    from ctpat_audit.server.lab import ENV_WORKSPACE

    assert WORKSPACE_ENV == ENV_WORKSPACE


def test_workspace_from_the_environment_and_w_wins(tmp_path):
    from ctpat_audit.sessions.session import open_session

    ws = make_workspace(tmp_path / "ws")
    with open_session(ws, ACCOUNT, "validation", "virtual", "sam@cbp.example",
                      criteria=CRITERIA, catalogue_version="test") as s:
        sid = s.id
    res = invoke("sessions", env={WORKSPACE_ENV: str(ws.path)})
    assert res.exit_code == EXIT_OK and sid in res.output
    res = invoke("sessions", "-w", tmp_path / "other", env={WORKSPACE_ENV: str(ws.path)})
    assert res.exit_code == EXIT_ERROR and "other" in res.output


def test_catalogue_workspace_before_a_subcommand_is_refused(tmp_path):
    res = invoke("catalogue", "-w", tmp_path, "crosswalk", "demo-2019.11", "demo-2019.11")
    assert res.exit_code == EXIT_USAGE and "after the subcommand" in res.output
    res = invoke("catalogue", "crosswalk", "demo-2019.11", "demo-2019.11", "-w", tmp_path)
    assert res.exit_code == EXIT_OK and "same id" in res.output


# -- choices come from the domain's constants ---------------------------------------------------

def test_choice_lists_are_the_domain_constants():
    from ctpat_audit.core.vocabulary import SESSION_KINDS, SESSION_STATUSES
    from ctpat_audit.reports.pdf import PAPERS
    from ctpat_audit.reports.pipeline import FORMATS
    from ctpat_audit.trust.authority import MEANINGS
    from ctpat_audit.trust.keys import ROLES

    def choices(command: str, option: str) -> list[str]:
        param = next(p for p in commands()[command].params if p.name == option)
        assert isinstance(param.type, click.Choice)
        return list(param.type.choices)

    assert choices("sessions", "status") == list(SESSION_STATUSES)
    assert choices("sessions", "kind") == list(SESSION_KINDS)
    assert choices("keys new", "role") == list(ROLES)
    from ctpat_audit.core.vocabulary import PERSON_ROLES
    from ctpat_audit.server.hub_config import AUTHENTICATORS

    assert choices("people add", "role") == list(PERSON_ROLES)
    assert choices("hub", "authenticator") == list(AUTHENTICATORS)
    assert choices("sign", "meaning") == list(MEANINGS)
    assert choices("report", "formats") == list(FORMATS)
    assert choices("report", "paper") == list(PAPERS)


# -- tables print no NaN ------------------------------------------------------------------------

def test_sessions_prints_an_empty_cell_for_a_missing_value(tmp_path):
    from ctpat_audit.sessions.session import list_sessions, open_session

    ws = make_workspace(tmp_path / "ws")
    with open_session(ws, ACCOUNT, "validation", "virtual", "sam@cbp.example",
                      criteria=CRITERIA, catalogue_version="test"):
        pass
    assert list_sessions(ws)["supersedes"].isna().all()  # what used to print as NaN
    res = invoke("sessions", "-w", ws.path)
    assert res.exit_code == EXIT_OK
    header, row = res.output.splitlines()
    assert header.split()[-1] == "supersedes"
    assert row.split()[-1] == "test"  # catalogue_version, then an empty supersedes cell
    assert not any(marker in res.output for marker in ("NaN", "<NA>", "None", "nan"))
    res = invoke("sessions", "-w", ws.path, "--status", "signed")
    assert res.exit_code == EXIT_OK and res.output == "no sessions\n"


def test_verify_without_a_trust_store_names_the_option(tmp_path):
    folder = tmp_path / "report"
    folder.mkdir()
    res = invoke("verify", folder, env={"CTPAT_TRUST": None})
    assert res.exit_code == EXIT_USAGE
    assert "Missing option '--trust' (env var: 'CTPAT_TRUST')" in res.output
    assert "NoneType" not in res.output


@pytest.mark.parametrize("args", [["sign"], ["keys", "new"]])
def test_commands_needing_a_workspace_say_so_before_asking_for_secrets(args, tmp_path):
    res = invoke(*args, *(["--name", "N", "--email", "n@x.example", "--role", "specialist"]
                          if args[0] == "keys" else [tmp_path]), input="")
    assert res.exit_code == EXIT_USAGE and "'-w' / '--workspace'" in res.output
