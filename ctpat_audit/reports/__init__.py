"""The one report pipeline (execute, export, publish, keep failed runs), report sections, workbook and PDF.

Imports the domain packages, ``trust`` and ``ui`` (charts); never ``batch``, ``server`` or the CLI.
"""
