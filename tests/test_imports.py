"""The package has no import cycles, and every layer can be imported first.

A cycle is found by reading each module's top-level imports (not those inside functions, which
run later, nor those under ``TYPE_CHECKING``): importing ``a.b.c`` runs the packages ``a`` and
``a.b`` first, so those count as imported too.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import networkx as nx
import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "scaleplan"


def _modules() -> dict[str, Path]:
    found = {}
    for path in PACKAGE.rglob("*.py"):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join(parts)] = path
    return found


def import_graph() -> nx.DiGraph:
    modules = _modules()

    def resolve(name: str) -> str:
        while name and name not in modules:
            name = name.rpartition(".")[0]
        return name

    graph = nx.DiGraph()
    for module, path in modules.items():
        graph.add_node(module)
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                targets = [f"{node.module}.{alias.name}" for alias in node.names]
            else:
                continue  # not an import, or one under `if TYPE_CHECKING:`
            for target in targets:
                found = resolve(target) if target.startswith("scaleplan") else ""
                if not found or found == module:
                    continue
                graph.add_edge(module, found)
                parts = found.split(".")
                for end in range(1, len(parts)):  # the packages it runs first
                    parent = ".".join(parts[:end])
                    if parent != module and not module.startswith(parent + "."):
                        graph.add_edge(module, parent)
    return graph


def test_the_package_has_no_import_cycle():
    cycles = sorted(nx.simple_cycles(import_graph()), key=len)
    assert not cycles, "import cycles: " + "; ".join(" → ".join(c) for c in cycles[:5])


@pytest.mark.parametrize(
    "module",
    [
        "scaleplan.kinds",
        "scaleplan.kinds.database",
        "scaleplan.spec.components",
        "scaleplan.spec",
        "scaleplan.engine.protocol",
        "scaleplan.load",
        "scaleplan.analytic",
    ],
)
def test_each_layer_imports_first(module):
    """Imported first in a fresh interpreter, each layer loads (no order it depends on)."""
    done = subprocess.run(
        [sys.executable, "-c", f"import {module}; import scaleplan.spec; scaleplan.spec.KINDS"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
