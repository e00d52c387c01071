"""Every notebook in notebooks/ runs from top to bottom (they are stored without outputs) and shows its figures
inline. Each runs from a copy in a temporary folder, so what it writes beside itself (``out/``) stays there.

A notebook's parameter line can be set for the test (:data:`PARAMETERS`, papermill style): notebook 03 benches a
2-sample 192x128 test set instead of simulating the 640x384 built-in benchmark (``tests/test_bench.py`` covers
that path), which cut the test from about 60 s to a few seconds."""

import shutil

import nbformat
import pytest
from nbclient import NotebookClient

from tests.conftest import REPO

NOTEBOOKS = sorted((REPO / "notebooks").glob("*.ipynb"))
PARAMETERS = {"03_bench_baselines": "data = None"}  # the line the test replaces with ``data = '<small set>'``
FIGURES = {"01_simulate_and_inspect": 3, "02_score_a_submission": 1, "03_bench_baselines": 1, "04_builtin_scenes": 3}


def test_every_notebook_has_its_figure_count():
    assert sorted(FIGURES) == [p.stem for p in NOTEBOOKS]


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs_and_shows_its_figures(path, tmp_path, monkeypatch):
    monkeypatch.setenv("BRACKETIRE_CACHE", str(tmp_path / "cache"))  # the kernel inherits these: nothing
    monkeypatch.setenv("BRACKETIRE_RUNS", str(tmp_path / "runs"))  # is written outside tmp_path
    monkeypatch.setenv("BRACKETIRE_OFFLINE", "1")
    monkeypatch.setenv("PYTHONPATH", str(REPO))
    monkeypatch.delenv("MPLBACKEND", raising=False)
    notebook = nbformat.read(path, as_version=4)
    assert all(not cell.get("outputs") for cell in notebook.cells if cell.cell_type == "code")  # stored clean
    source = "\n".join(cell.source for cell in notebook.cells if cell.cell_type == "code")
    assert "%matplotlib inline" in source and "matplotlib.use(" not in source and "tempfile" not in source
    if path.stem in PARAMETERS:
        cell = next(c for c in notebook.cells if c.cell_type == "code" and PARAMETERS[path.stem] in c.source)
        cell.source = cell.source.replace(PARAMETERS[path.stem], f"data = {str(_small_test_set(tmp_path))!r}", 1)
    folder = tmp_path / "notebooks"
    folder.mkdir()
    shutil.copy(path, folder / path.name)
    NotebookClient(notebook, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(folder)}}).execute()
    outputs = [o for c in notebook.cells if c.cell_type == "code" for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    images = [o for o in outputs if o.output_type == "display_data" and "image/png" in o.get("data", {})]
    assert len(images) == FIGURES[path.stem]  # every figure shown inline, none left undrawn
    if path.stem != "04_builtin_scenes":  # the others keep their data and figures beside the notebook
        assert any((folder / "out" / path.stem).iterdir())


def _small_test_set(tmp_path):
    """2 built-in scenes of 192x128 (``bracketire`` preset, seed 2024) for a notebook's ``data`` parameter."""
    from simulator.dataset import generate_dataset
    from simulator.settings import load_simulation_config

    config = load_simulation_config("bracketire", ["output.size=[192, 128]", "num_samples=2", "seed=2024"])
    generate_dataset(config, tmp_path / "data", progress=False)
    return tmp_path / "data"
