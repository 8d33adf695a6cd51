"""What a person sees in a notebook or terminal: the session a page works on, checklist
widgets, the submit, gap and sign panels, readable tables, charts, portfolio views and
terminal tables.

Reaches data only through ``sessions``, ``analysis``, ``criteria``, ``trust`` and the
workspace's read API.
"""
