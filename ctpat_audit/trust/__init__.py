"""Who signs and how it is checked: signer keys and the workspace CA (people, not strings),
authority rules, PDF and manifest signing, verification, and the workspace's record checked
end to end (the chain, its signed anchors, the state against its replay).

Imports ``core``, ``workspace``, ``criteria`` and ``sessions``.
"""
from __future__ import annotations

import logging

# pyHanko and its certificate validator log a failed certificate path or signature with the
# full traceback, through Python's last-resort handler (stderr) when nothing configured
# logging. Verification reports every such failure in its own words, so those loggers get a
# NullHandler; an application that configures logging (``ctpat-audit --debug`` does) still
# receives their records.
for _name in ("pyhanko", "pyhanko_certvalidator"):
    logging.getLogger(_name).addHandler(logging.NullHandler())
