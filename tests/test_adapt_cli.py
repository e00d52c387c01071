"""cli.py adapt end to end: a tiny TMRNet adapted on unlabelled brackets, resumed, refused where it must be."""

from __future__ import annotations

import csv

import pytest
import torch
from click.testing import CliRunner

import cli
from models import MODELS
from models.runner import load_training_state
from simulator.dataset import generate_dataset
from simulator.settings import load_simulation_config

SMALL = ["--set", "train.patch=16", "--set", "train.batch_size=1", "--set", "data.workers=0",
         "--set", "train.progress=false", "--set", "train.log_every=1"]


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("cli_adapt")
    config = load_simulation_config("bracketire", ["output.size=[64,64]", "num_samples=2", "seed=9",
                                                   "motion.model=none", "noise.model=poisson_gaussian"])
    generate_dataset(config, root / "target", progress=False)
    torch.manual_seed(0)
    tiny = dict(MODELS.spec("tmrnet").tiny)
    model = MODELS.spec("tmrnet").build_tiny()
    # what the runner writes: weights plus the constructor arguments, so adapt rebuilds the tiny network
    torch.save({"params": model.state_dict(), "model_config": {"name": "tmrnet", "kwargs": tiny}}, root / "syn.pt")
    return root


def _cli(*args):
    return CliRunner().invoke(cli.cli, [str(a) for a in args])


def test_adapt_runs_resumes_and_logs_the_self_consistency_term(setup):
    run = setup / "adapted"
    first = _cli("adapt", "--model", "tmrnet", "--weights", setup / "syn.pt", "--data", setup / "target",
                 "--out", run, "--iters", 2, *SMALL)
    assert first.exit_code == 0, first.output
    assert "adapted to step 2" in first.output and "checkpoints/last.pt" in first.output
    state = load_training_state(run / "checkpoints" / "last.pt")
    assert state["model_config"]["kwargs"] == dict(MODELS.spec("tmrnet").tiny) and state["ema_updates"] == 2
    again = _cli("adapt", "--model", "tmrnet", "--weights", setup / "syn.pt", "--data", setup / "target",
                 "--out", run, "--iters", 2, *SMALL)
    assert again.exit_code == 2 and "already holds a run; pass --resume" in again.output
    more = _cli("adapt", "--model", "tmrnet", "--data", setup / "target", "--out", run, "--resume", "--iters", 3)
    assert more.exit_code == 0, more.output
    assert load_training_state(run / "checkpoints" / "last.pt")["ema_updates"] == 3
    with open(run / "log.csv", newline="") as handle:
        rows = [r for r in csv.reader(handle)][1:]
    assert [int(s) for key, s, _ in rows if key == "loss_self"] == [1, 2, 3]
    assert all(0 <= int(float(v)) <= 2 for key, _, v in rows if key == "k")
    predicted = _cli("predict", "--model", "tmrnet", "--weights", run / "checkpoints" / "last.pt", "--input",
                     setup / "target", "--out", setup / "pred", "--no-progress")
    assert predicted.exit_code == 0, predicted.output  # the adapted run is a checkpoint predict reads


def test_adapt_refuses_models_without_fewer_frames_in_one_line(setup):
    run = _cli("adapt", "--model", "bipnet", "--weights", setup / "syn.pt", "--data", setup / "target",
               "--out", setup / "nope")
    assert run.exit_code == 2
    assert run.output.strip().splitlines()[-1].startswith("error: --model bipnet: cannot give an output from fewer")
    assert "models that can adapt: tmrnet, tmrnet_plus" in run.output and not (setup / "nope").exists()


def test_adapt_needs_weights_for_a_new_run(setup):
    run = _cli("adapt", "--model", "tmrnet", "--data", setup / "target", "--out", setup / "noweights")
    assert run.exit_code == 2 and "needs --weights" in run.output and not (setup / "noweights").exists()


def test_adapt_names_weights_that_do_not_fit(setup, tmp_path):
    torch.save(MODELS.spec("tmrnet").build_tiny().state_dict(), tmp_path / "plain.pt")  # no model_config: full size
    run = _cli("adapt", "--model", "tmrnet", "--weights", tmp_path / "plain.pt", "--data", setup / "target",
               "--out", tmp_path / "run", *SMALL)
    assert run.exit_code == 2 and "--weights do not fit tmrnet" in run.output and not (tmp_path / "run").exists()
