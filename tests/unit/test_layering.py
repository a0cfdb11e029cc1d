"""The import direction the layout promises: `contract` (ClusterFacts) sits below both sides;
`components` builds on the contract and never reaches into a substrate; a substrate may read
the config (components.config) and the contract, never the in-cluster components."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# package -> top-level packages it may not import (at module level or inside a function)
FORBIDDEN = {
    "contract": {"components", "substrate", "tooling", "policy"},
    "components": {"substrate", "tooling", "policy"},
    "substrate": {"tooling", "policy"},
}


def imported_modules(source: str) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
    return names


def violations(package: str) -> list[str]:
    found = []
    for path in sorted((ROOT / package).rglob("*.py")):
        for module in imported_modules(path.read_text()):
            if module.split(".")[0] in FORBIDDEN[package]:
                found.append(f"{path.relative_to(ROOT)} imports {module}")
    return found


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_imports_run_down_the_layers_only(package):
    assert violations(package) == []


def test_substrates_reach_the_in_cluster_components_only_through_config():
    bad = [
        f"{path.relative_to(ROOT)} imports {module}"
        for path in sorted((ROOT / "substrate").rglob("*.py"))
        for module in imported_modules(path.read_text())
        if module.startswith("components.") and not module.startswith("components.config")
        and module != "components.config"
    ]
    assert bad == []


def test_the_check_sees_an_import_inside_a_function():
    assert "substrate.gke" in imported_modules("def f():\n    from substrate.gke import cluster\n")
