"""Serving the notebooks: JupyterLab and Voila for one user, JupyterHub for a team.

Imports ``ui`` and everything below it.
"""
