"""Serving the notebooks: JupyterLab and Voila for one user.

Imports ``ui`` and everything below it.
"""
