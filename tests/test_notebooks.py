"""Every notebook in notebooks/ runs from top to bottom (they are stored without outputs)."""

import nbformat
import pytest
from nbclient import NotebookClient

from tests.conftest import REPO

NOTEBOOKS = sorted((REPO / "notebooks").glob("*.ipynb"))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs(path, tmp_path, monkeypatch):
    monkeypatch.setenv("BRACKETIRE_CACHE", str(tmp_path / "cache"))  # the kernel inherits these: nothing
    monkeypatch.setenv("BRACKETIRE_RUNS", str(tmp_path / "runs"))  # is written outside tmp_path
    monkeypatch.setenv("BRACKETIRE_OFFLINE", "1")
    notebook = nbformat.read(path, as_version=4)
    assert all(not cell.get("outputs") for cell in notebook.cells if cell.cell_type == "code")  # stored clean
    NotebookClient(notebook, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(REPO)}}).execute()
    errors = [o for c in notebook.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    assert not errors
