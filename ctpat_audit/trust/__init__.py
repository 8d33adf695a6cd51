"""Who signs and how it is checked: signer keys and the workspace CA, authority rules, PDF and
manifest signing, verification.

Imports ``core``, ``workspace``, ``criteria`` and ``sessions``.
"""
