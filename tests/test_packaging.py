"""pyproject.toml declares what the harness imports: base dependencies, or an optional extra."""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).parent.parent
PROJECT = {"harness", "frameworks", "spyx_core"}
MODULE_OF = {"dm-haiku": "haiku"}
"""Distributions whose import name differs from their name."""
BASE_PATHS = ("harness", "spyx_core", "frameworks/adapters/spyx_core_adapter.py")
"""What ``spikebench run``/``report``/``reproduce`` import with the base install (spyx_core cells);
the NIR modules among them are the ``nir`` command's, held to the extras."""


def _declared(requirements: list[str]) -> set[str]:
    names = {re.match(r"[A-Za-z0-9_.-]+", r).group(0).lower() for r in requirements}
    return {MODULE_OF.get(name, name.replace("-", "_")) for name in names}


def _imports(path: Path) -> tuple[set[str], set[str]]:
    """Third-party modules imported at module level, and inside functions."""
    top, lazy = set(), set()
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = {node.module.split(".")[0]}
        else:
            continue
        names -= PROJECT | set(sys.stdlib_module_names)
        (top if node in tree.body else lazy).update(names)
    return top, lazy


def test_every_import_is_declared():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    base = _declared(project["dependencies"])
    extras = _declared([r for group in project["optional-dependencies"].values() for r in group])
    files = [
        f for p in BASE_PATHS for f in ([ROOT / p] if p.endswith(".py") else (ROOT / p).rglob("*.py"))
    ]
    top, lazy = set(), set()
    for path in files:
        found = _imports(path)
        nir_path = "nir" in path.name or "nir" in path.parts  # the nir command's modules: the nir extra
        (lazy if nir_path else top).update(found[0])
        lazy.update(found[1])
    assert top <= base, f"imported at module level, not in [project] dependencies: {top - base}"
    assert lazy <= base | extras, f"imported lazily, declared nowhere: {lazy - base - extras}"
    assert {"h5py", "matplotlib", "pandas", "tqdm"} <= top
    assert "tabulate" in base  # pandas' to_markdown imports it: no import statement names it
