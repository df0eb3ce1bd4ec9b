"""Rules for the test tree itself, read with ``ast`` (nothing imported).

Test folders have no ``__init__.py``: pytest puts each on ``sys.path`` and imports its
helpers by their bare module names. So a helper's name must be unique across folders, and
no test may ``import conftest`` at run time: every folder has one, and which one that
finds depends on the order pytest collected the folders in.
"""

from __future__ import annotations

import ast
from collections import Counter
from pathlib import Path

TESTS = Path(__file__).resolve().parent


def _modules() -> list[Path]:
    return sorted(p for p in TESTS.rglob("*.py") if "fixtures" not in p.parts)


def _runtime_imports(tree: ast.Module) -> set[str]:
    """Modules imported by the module's own statements (not under ``if TYPE_CHECKING``)."""
    found: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.add(node.module)
    return found


def test_no_test_imports_conftest_at_run_time() -> None:
    offenders = [
        str(p.relative_to(TESTS))
        for p in _modules()
        if "conftest" in _runtime_imports(ast.parse(p.read_text(encoding="utf-8")))
    ]
    assert not offenders, f"import helpers from a uniquely named module instead: {offenders}"


def test_the_rule_sees_an_import_of_conftest() -> None:
    assert "conftest" in _runtime_imports(ast.parse("from conftest import X\n"))
    guarded = "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from conftest import X\n"
    assert "conftest" not in _runtime_imports(ast.parse(guarded))


def test_helper_module_names_are_unique_across_folders() -> None:
    names = Counter(
        p.name
        for p in _modules()
        if p.parent != TESTS and not p.name.startswith("test_")
        and p.name not in ("conftest.py", "__init__.py")
    )  # fmt: skip
    assert not [n for n, count in names.items() if count > 1], names
