"""The dependency direction of DESIGN.md: cli -> benchmark -> models -> simulator; leaderboards reads tables."""

import ast

import pytest

from tests.conftest import REPO

FORBIDDEN = {
    "simulator": {"models", "benchmark", "leaderboards", "cli"},
    "models": {"benchmark", "leaderboards", "cli"},
    "benchmark": {"leaderboards", "cli"},
    "leaderboards": {"simulator", "models", "benchmark", "cli"},
}


def _imported_top_levels(path):
    tree = ast.parse(path.read_text(), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.module.split(".")[0]


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_packages_import_only_downwards(package):
    offenders = [
        f"{path.relative_to(REPO)} imports {name}"
        for path in sorted((REPO / package).rglob("*.py"))
        for name in _imported_top_levels(path)
        if name in FORBIDDEN[package]
    ]
    assert not offenders


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
