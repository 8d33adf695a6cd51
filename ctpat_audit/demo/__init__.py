"""Demonstration data: sample sources, sample sessions.

May import any package below the CLI.
"""
