"""What the data says: security-profile review, exam metrics and flags, costs, backlog and the portfolio.

Imports ``core``, ``workspace``, ``intake`` (reading reference tables) and ``criteria``. Never
widgets, reports, batch or the CLI.
"""
