"""Who signs and how it is checked: signer keys and the workspace CA (people, not strings),
authority rules, PDF and manifest signing, verification, and the workspace's record checked
end to end (the chain, its signed anchors, the state against its replay).

Imports ``core``, ``workspace``, ``criteria`` and ``sessions``.
"""
