"""The ``ctpat-audit`` command line: a thin click group over the Python API.

Commands parse options, call the API and print; options mirror the API's keyword arguments.
One module per command group; :mod:`ctpat_audit.cli.app` holds the group, its ``--debug``
option and the exit codes (listed in ``ctpat-audit --help``), :mod:`ctpat_audit.cli.options`
the options several commands share (``-w/--workspace`` above all).
"""
from __future__ import annotations

from ctpat_audit.cli import (
    analysis,
    catalogue,
    hub,
    lab,
    people,
    reports,
    sessions,
    signing,
    workspace,
)
from ctpat_audit.cli.app import main

__all__ = ["main"]

for command in (workspace.init, workspace.import_, workspace.sample, workspace.sample_sessions,
                workspace.formats, analysis.review, analysis.portfolio, catalogue.catalogue,
                sessions.sessions, sessions.audit_verify, sessions.questionnaire,
                signing.keys, signing.sign, signing.verify, reports.report, reports.batch,
                lab.lab, hub.hub, people.people):
    main.add_command(command)
