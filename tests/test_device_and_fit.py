"""Small things that make the CLI feel solid: --device cuda without CUDA, and a protocol or data that does not fit
the model (BracketIRE+ needs a x4 model and x4 inputs), each one line and exit 2 before any work."""

from __future__ import annotations

import pytest
import torch
from click.testing import CliRunner

import cli
from models import MODELS
from tests.helpers import one_error_line


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    """A one-sample BracketIRE (x1) test split and a tiny tmrnet_plus checkpoint as the runner writes it."""
    from simulator.dataset import generate_dataset
    from simulator.settings import load_simulation_config

    root = tmp_path_factory.mktemp("fit")
    overrides = ["output.size=[96, 64]", "num_samples=1", "seed=3"]
    generate_dataset(load_simulation_config("bracketire", overrides), root / "x1", progress=False)
    spec = MODELS.spec("tmrnet_plus")
    torch.save({"params": spec.build_tiny().state_dict(), "model_config": {"name": "tmrnet_plus", "kwargs": dict(spec.tiny)}},
               root / "plus.pt")
    return root


def _cli(tmp_path, *args):
    env = {"BRACKETIRE_RUNS": str(tmp_path / "runs"), "BRACKETIRE_OFFLINE": "1"}
    return CliRunner().invoke(cli.cli, [str(a) for a in args], env=env)


@pytest.mark.parametrize("command", ["bench", "predict", "train"])
def test_cuda_without_a_cuda_device_is_one_line(command, data, tmp_path, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)  # as on a machine without CUDA
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 0)
    args = {"bench": ["bench", "--model", "merge", "--device", "cuda", "--data", data / "x1", "--no-progress"],
            "predict": ["predict", "--model", "merge", "--device", "cuda", "--input", data / "x1", "--out",
                        tmp_path / "out", "--no-progress"],
            "train": ["train", "--model", "tmrnet", "--data", data / "x1", "--out", tmp_path / "run", "--iters", "1",
                      "--set", "train.device=cuda"]}[command]
    one_error_line(_cli(tmp_path, *args), "cuda", "no CUDA device is available here")
    assert not (tmp_path / "out").exists() and not (tmp_path / "run").exists() and not (tmp_path / "runs").exists()


def test_bracketire_plus_needs_a_x4_model(data, tmp_path):
    result = _cli(tmp_path, "bench", "--model", "merge", "--protocol", "bracketire_plus", "--data", data / "x1",
                  "--no-progress")
    one_error_line(result, "--protocol bracketire_plus scores BracketIRE+ (x4) results, but model 'merge' outputs x1",
                   "e.g. tmrnet_plus", "or --protocol bracketire")
    predicted = _cli(tmp_path, "predict", "--model", "merge", "--protocol", "bracketire_plus", "--input", data / "x1",
                     "--out", tmp_path / "out", "--no-progress")
    one_error_line(predicted, "--protocol bracketire_plus scores BracketIRE+ (x4) results")
    assert not (tmp_path / "out").exists()
    x1_protocol = _cli(tmp_path, "bench", "--model", "tmrnet_plus", "--weights", data / "plus.pt", "--data",
                       data / "x1", "--no-progress")  # the default protocol, bracketire, scores x1 results
    one_error_line(x1_protocol, "--protocol bracketire scores BracketIRE (x1) results", "or --protocol bracketire_plus")


def test_a_x4_model_needs_x4_inputs(data, tmp_path):
    result = _cli(tmp_path, "bench", "--model", "tmrnet_plus", "--weights", data / "plus.pt", "--protocol",
                  "bracketire_plus", "--data", data / "x1", "--no-progress")
    one_error_line(result, "model 'tmrnet_plus' is a x4 model and needs x4 inputs (x4/raw_*.npy",
                   "simulate --preset bracketire_plus", "the data holds x1 inputs")
    assert not (tmp_path / "runs").exists()  # refused before any row was written
