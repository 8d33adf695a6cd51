"""What a person sees in a notebook or terminal: checklist widgets, the sign panel, notebook
helpers, charts, portfolio views and terminal tables.

Reaches data only through ``sessions``, ``analysis``, ``criteria``, ``trust`` and the
workspace's read API.
"""
