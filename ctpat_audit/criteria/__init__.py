"""The Minimum Security Criteria catalogue: its model, the import of official criteria tables
(PDF, xlsx, csv) and the demonstration catalogue.

Imports ``core`` only.
"""
