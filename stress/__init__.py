"""The hardening suite: recipes that try hard to break the toolkit's promises.

Each recipe module has ``run(root, quick=False, seed=...) -> dict`` returning its figures
(counts; the keys of ``benchmarks/stress.json``). ``python -m stress.run`` runs them all at
full size; ``tests/test_stress_quick.py`` runs each with ``quick=True`` inside ``make test``.

The recipes reuse the test suite's helpers (``tests/session_helpers.py``,
``tests/session_workers.py``, ``tests/signing_helpers.py``), so ``tests/`` is put on
``sys.path`` here; spawned worker processes inherit that path.
"""
from __future__ import annotations

import sys
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1] / "tests"
if str(TESTS) not in sys.path:
    sys.path.insert(0, str(TESTS))

Figures = dict[str, float]
