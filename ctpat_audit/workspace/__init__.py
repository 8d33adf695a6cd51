"""The only owner of a workspace folder and its ``ctpat.sqlite``: connection, schema and
migrations, reference tables (partners, profile, exams), the session store, the hash-chained
audit log, its replay into the state tables and its anchors, evidence files, and the team's
people with the identity the team server gives (applying the role table of ``core``).

Imports only ``core``. It stores; it decides nothing about sessions, reviews or reports.
"""
