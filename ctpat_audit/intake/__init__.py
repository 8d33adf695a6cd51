"""Bringing partner data in: source readers, table checks and the import of a source folder into a workspace.

Imports ``core`` and ``workspace``.
"""
