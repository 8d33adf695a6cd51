"""The only owner of a workspace folder and its ``ctpat.sqlite``: connection, schema and
migrations, reference tables (partners, profile, exams), the session store, the hash-chained
audit log, its replay into the state tables and its anchors, and evidence files.

Imports only ``core``. It stores; it decides nothing about sessions, reviews or reports.
"""
