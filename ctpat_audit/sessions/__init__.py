"""Validations and self-assessments: ``Session`` (every rule of a session lives there), findings
and the Excel questionnaire.

Imports ``core``, ``workspace`` and ``criteria``. Never widgets, reports, batch or the CLI.
"""
