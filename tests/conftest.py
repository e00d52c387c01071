"""Shared test fixtures: locating ``../shared`` (reference fixtures), tensor helpers."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from simulator.core.threads import one_thread as torch_on_one_thread

REPO = Path(__file__).resolve().parent.parent


def shared_dir() -> Path | None:
    """``$BRACKETIRE_SHARED`` or ``../shared`` beside the repository, if it exists."""
    candidate = Path(os.environ.get("BRACKETIRE_SHARED") or REPO.parent / "shared")
    return candidate if candidate.is_dir() else None


@pytest.fixture(scope="session")
def shared() -> Path:
    """The shared folder; skipped when absent, a failure when ``BRACKETIRE_REQUIRE_SHARED=1`` (CI)."""
    found = shared_dir()
    if found is None:
        reason = "../shared (reference fixtures) not found; set BRACKETIRE_SHARED to its path"
        if os.environ.get("BRACKETIRE_REQUIRE_SHARED", "") not in ("", "0"):
            pytest.fail(reason + " (BRACKETIRE_REQUIRE_SHARED is set)")
        pytest.skip(reason)
    return found


@pytest.fixture(scope="session")
def official(shared: Path) -> Callable[[str], Path | np.lib.npyio.NpzFile]:
    """Loader for ``shared/fixtures/official/NAME``: ``.npz`` files are opened, other names give a path."""

    def load(name: str):
        path = shared / "fixtures" / "official" / name
        if not path.exists():
            pytest.fail(f"reference fixture {path} is missing")
        return np.load(path, allow_pickle=False) if path.suffix == ".npz" else path

    return load


@pytest.fixture
def one_thread():
    """One torch thread for the test: tiny models on a shared CPU run faster so, and a resume compared with a
    one-thread subprocess must use the same number of threads (float sums depend on it)."""
    with torch_on_one_thread():
        yield


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Files with a ``slow`` test run first (a stable reorder): with ``make test``'s one worker per core, the
    long files then overlap the many short ones instead of running alone at the end."""
    slow_files = {item.path for item in items if item.get_closest_marker("slow")}
    items.sort(key=lambda item: item.path not in slow_files)
