"""The toolkit's ground floor: the one error hierarchy, every label users see, the clock, atomic
files, xlsx writing and where package data lives.

Imports nothing from the rest of ctpat_audit.
"""
