"""The dependency direction of DESIGN.md: cli -> benchmark -> models -> simulator; leaderboards reads tables.

One exception: every package raises the toolkit's error types, so ``leaderboards`` may import the error module
``simulator.core.errors`` (no torch, no simulator logic) and nothing else of ``simulator``.
"""

import ast

import pytest

from tests.conftest import REPO

FORBIDDEN = {
    "simulator": {"models", "benchmark", "leaderboards", "cli"},
    "models": {"benchmark", "leaderboards", "cli"},
    "benchmark": {"leaderboards", "cli"},
    "leaderboards": {"simulator", "models", "benchmark", "cli"},
}

ALLOWED = {"leaderboards": {"simulator.core.errors"}}  # the shared error taxonomy, nothing else


def _imported_modules(path):
    tree = ast.parse(path.read_text(), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.module


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_packages_import_only_downwards(package):
    offenders = [
        f"{path.relative_to(REPO)} imports {name}"
        for path in sorted((REPO / package).rglob("*.py"))
        for name in _imported_modules(path)
        if name.split(".")[0] in FORBIDDEN[package] and name not in ALLOWED.get(package, ())
    ]
    assert not offenders


def test_leaderboards_import_only_the_error_types_of_the_simulator():
    import subprocess
    import sys

    code = "import sys, leaderboards.table, leaderboards.plots; print(sorted(m for m in sys.modules if m.startswith(('simulator', 'torch'))))"
    loaded = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True).stdout
    assert loaded.strip() == "['simulator', 'simulator.core', 'simulator.core.errors']"


def test_core_never_imports_torchvision_at_module_level():
    offenders = []
    for package in ("simulator", "models", "benchmark", "leaderboards"):
        for path in (REPO / package).rglob("*.py"):
            tree = ast.parse(path.read_text())
            for node in tree.body:  # module level only; guarded imports live inside functions / try blocks
                names = [a.name for a in node.names] if isinstance(node, ast.Import) else (
                    [node.module] if isinstance(node, ast.ImportFrom) and node.module else [])
                offenders += [f"{path.relative_to(REPO)}" for n in names if n.split(".")[0] == "torchvision"]
    assert not offenders
