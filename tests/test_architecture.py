"""The package's shape: no module uses another module's private names.

The layer and cycle rules are import-linter contracts (``[tool.importlinter]`` in
pyproject.toml, run by ``make test``); this test covers what import-linter cannot see: a private
name (``_name``) imported from, or read off, another module of the package.
"""
from __future__ import annotations

import ast
from pathlib import Path

import ctpat_audit

PACKAGE = Path(ctpat_audit.__file__).parent


def _module_name(path: Path) -> str:
    rel = path.relative_to(PACKAGE.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def private_uses(source: str, module: str) -> list[str]:
    """``module: line: name`` for every private name of another ctpat_audit module used here."""
    found: list[str] = []
    tree = ast.parse(source)
    aliases: dict[str, str] = {}  # local name -> ctpat_audit module it is bound to
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0 \
                and node.module.startswith("ctpat_audit"):
            for a in node.names:
                if node.module != module and _private(a.name):
                    found.append(f"{module}:{node.lineno}: from {node.module} import {a.name}")
                aliases[a.asname or a.name] = f"{node.module}.{a.name}"
        elif isinstance(node, ast.Import):
            for a in node.names:
                if a.name.startswith("ctpat_audit"):
                    aliases[a.asname or a.name.split(".")[0]] = (a.asname and a.name) or "ctpat_audit"
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and _private(node.attr) \
                and isinstance(node.value, ast.Name) and node.value.id in aliases:
            target = aliases[node.value.id]
            if target != module:
                found.append(f"{module}:{node.lineno}: {node.value.id}.{node.attr}")
    return found


def test_no_module_uses_another_modules_private_names() -> None:
    problems: list[str] = []
    for path in sorted(PACKAGE.rglob("*.py")):
        problems += private_uses(path.read_text(encoding="utf-8"), _module_name(path))
    assert not problems, "private names used across modules:\n" + "\n".join(problems)


def test_the_check_sees_a_private_import_and_a_private_attribute() -> None:
    src = ("from ctpat_audit.trust.signing import _stamp_text\n"
           "from ctpat_audit.reports import pipeline\n"
           "pipeline._exporter()\n"
           "from ctpat_audit.trust.signing import sign_report\n")
    found = private_uses(src, "ctpat_audit.ui.sign_panel")
    assert len(found) == 2 and "_stamp_text" in found[0] and "pipeline._exporter" in found[1]
    assert private_uses("from ctpat_audit.x import _y\n", "ctpat_audit.x") == []
