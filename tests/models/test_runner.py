"""The training runner: published schedule, config handling, checkpoints, bit-identical resume, hooks."""

from __future__ import annotations

import math

import pytest
import torch
import yaml

from models import model_spec
from models.runner import ModelEMA, StepBatches, load_training_state, train
from models.train_config import TrainSection, learning_rate, load_run_config
from simulator.core.errors import ConfigError, DataError, TrainingError, UnknownNameError
from simulator.dataset import generate_dataset
from simulator.settings import load_simulation_config

TINY_TMRNET = model_spec("tmrnet").tiny_overrides()  # ["model.mid_channels=8", ...]


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp("train_data")
    for split, count, seed in (("Train", 3, 0), ("Test", 1, 9)):
        config = load_simulation_config("bracketire", ["output.size=[128,128]", f"num_samples={count}",
                                                       f"output.split={split}", "motion.model=none", f"seed={seed}"])
        generate_dataset(config, root, progress=False)
    return root


def _config(data, *extra):
    return load_run_config(overrides=[*TINY_TMRNET, f"data.root={data}", "data.workers=0", "train.patch=32",
                                      "train.batch_size=2", "train.iters=4", "train.progress=false",
                                      "train.log_every=1", *extra])


def test_schedule_is_the_published_warmup_and_cosine_at_the_published_length():
    cfg = TrainSection()  # 200k iterations = 400 epochs of 500
    for epoch in range(5):  # README: epoch e+1 runs at 1e-5 + e * 1.8e-5 for e < 5
        assert learning_rate(epoch * 500, cfg) == pytest.approx(1e-5 + epoch * 1.8e-5)
        assert learning_rate(epoch * 500 + 499, cfg) == learning_rate(epoch * 500, cfg)
    for epoch in (5, 100, 399):  # otherwise 1e-6 + 0.5 (1e-4 - 1e-6)(1 + cos(pi e / 400))
        expected = 1e-6 + 0.5 * (1e-4 - 1e-6) * (1 + math.cos(math.pi * epoch / 400))
        assert learning_rate(epoch * 500 + 17, cfg) == pytest.approx(expected)


def test_model_arguments_reach_the_constructor_and_typos_are_named(data):
    config = _config(data, "train.lr=3e-4")
    assert config.model_args["mid_channels"] == 8 and config.train.lr == 3e-4
    with pytest.raises(UnknownNameError, match="mid_channels"):
        load_run_config(overrides=["model.mid_chanels=8"])
    with pytest.raises(ConfigError, match="model.mid_channels"):
        load_run_config(overrides=["model.mid_channels=wide"])
    with pytest.raises(UnknownNameError, match="train.batch_size"):
        load_run_config(overrides=["train.batchsize=4"])
    assert load_run_config(overrides=["model.scale=4"], model="tmrnet_plus").model_args == {"scale": 4}


def test_resume_is_bit_identical_and_independent_of_workers(data, tmp_path):
    straight = train(_config(data), tmp_path / "straight")
    assert straight.step == 4 and (tmp_path / "straight" / "log.csv").is_file()
    interrupted = train(_config(data, "data.workers=2"), tmp_path / "resumed", stop_at=2)
    assert interrupted.step == 2
    saved = yaml.safe_load((tmp_path / "resumed" / "config.yaml").read_text())
    assert saved["toolkit"] and saved["model"]["mid_channels"] == 8
    resumed = train(load_run_config(tmp_path / "resumed" / "config.yaml"), tmp_path / "resumed", resume=True)
    assert resumed.step == 4
    a = load_training_state(tmp_path / "straight" / "checkpoints" / "last.pt")
    b = load_training_state(tmp_path / "resumed" / "checkpoints" / "last.pt")
    for part in ("params", "params_ema"):
        assert a[part].keys() == b[part].keys()
        assert all(torch.equal(a[part][k], b[part][k]) for k in a[part]), part
    moments_a, moments_b = a["optimizer"]["state"], b["optimizer"]["state"]
    assert all(torch.equal(moments_a[i]["exp_avg_sq"], moments_b[i]["exp_avg_sq"]) for i in moments_a)
    assert a["scheduler"]["step"] == b["scheduler"]["step"] == 4
    assert a["model_config"] == {"name": "tmrnet", "kwargs": dict(_config(data).model_args)}


def test_an_existing_run_is_not_overwritten_and_resume_needs_a_checkpoint(data, tmp_path):
    with pytest.raises(DataError, match="nothing to resume"):
        train(_config(data), tmp_path / "new", resume=True)
    train(_config(data, "train.iters=1"), tmp_path / "once")
    with pytest.raises(DataError, match="already holds a run"):
        train(_config(data, "train.iters=1"), tmp_path / "once")
    with pytest.raises(ConfigError, match="no training data"):
        train(load_run_config(overrides=TINY_TMRNET), tmp_path / "nodata")


def test_training_lowers_the_loss_and_frozen_flow_stays_put(data, tmp_path):
    config = _config(data, "train.iters=12", "train.flow_warmup_iters=12", "train.ema_decay=0", "train.lr=1e-3",
                     "train.warmup_epochs=0")
    result = train(config, tmp_path / "run", validate=lambda model, step: {"psnr": float(step)})
    state = load_training_state(tmp_path / "run" / "checkpoints" / "last.pt")
    torch.manual_seed(config.train.seed)
    from models import MODELS, build_model
    from models.pretrained import load_pretrained_parts

    initial_model = build_model("tmrnet", **config.model_args)
    started = load_pretrained_parts(initial_model, MODELS.spec("tmrnet"), {})  # as the run began: the shipped SPyNet
    assert started["spynet"].startswith("spynet_bracketire.pth") and state["pretrained_parts"] == started
    initial = initial_model.state_dict()
    spynet = [k for k in state["params"] if k.startswith("spynet.")]
    assert spynet and all(torch.equal(state["params"][k], initial[k]) for k in spynet)
    assert not torch.equal(state["params"]["conv_last.weight"], initial["conv_last.weight"])
    assert "params_ema" not in state and result.validation == {"psnr": 12.0}
    rows = [line.split(",") for line in (tmp_path / "run" / "log.csv").read_text().splitlines()[1:]]
    losses = [float(v) for k, _, v in rows if k == "loss"]
    assert sum(losses[-4:]) < sum(losses[:4])
    assert ["val_psnr", "12", "12"] in rows


def test_batches_are_a_function_of_the_step_and_ranks_split_the_global_batch():
    full = StepBatches(size=10, batch=4, seed=3, start=0, stop=6)
    later = StepBatches(size=10, batch=4, seed=3, start=4, stop=6)
    assert list(full)[4:] == list(later)
    ranks = [StepBatches(10, 2, 3, 0, 6, rank=r, world=2) for r in range(2)]
    for step in range(6):
        assert ranks[0].batch_at(step) + ranks[1].batch_at(step) == full.batch_at(step)
    epoch0 = [i for step in range(2) for i in full.batch_at(step)]
    assert len(set(epoch0)) == 8 and all(0 <= i < 10 for i in epoch0)  # no repeats inside an epoch
    assert all(10 <= i < 20 for i in full.batch_at(2))  # the next epoch's draws carry their epoch


def test_ema_ramps_up_then_follows_the_decay():
    model = torch.nn.Linear(2, 1)
    ema = ModelEMA(model, decay=0.9)
    with torch.no_grad():
        model.weight.fill_(1.0)
    before = ema.module.weight.clone()
    ema.update(model)  # first update: d = min(0.9, 1/10) = 0.1
    assert torch.allclose(ema.module.weight, 0.1 * before + 0.9)
    assert not ema.module.weight.requires_grad


@pytest.mark.slow
def test_torchrun_ddp_equals_one_process_with_the_same_global_batch(data, tmp_path):
    import subprocess
    import sys

    from tests.conftest import REPO

    common = ["cli.py", "train", "--model", "tmrnet", "--data", str(data), "--iters", "2",
              *[arg for item in TINY_TMRNET for arg in ("--set", item)], "--set", "train.patch=32",
              "--set", "data.workers=0", "--set", "train.progress=false", "--set", "data.val_split=null",
              "--set", "train.device=cpu"]
    ddp = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
                          *common, "--out", str(tmp_path / "ddp"), "--set", "train.batch_size=1"],
                         cwd=REPO, capture_output=True, text=True, timeout=600)
    assert ddp.returncode == 0, ddp.stderr[-2000:]
    train(_config(data, "train.iters=2", "data.val_split=null", "train.device=cpu"), tmp_path / "one")  # batch 2
    a = load_training_state(tmp_path / "ddp" / "checkpoints" / "last.pt")["params"]
    b = load_training_state(tmp_path / "one" / "checkpoints" / "last.pt")["params"]
    assert a.keys() == b.keys()
    worst = max(float((a[k] - b[k]).abs().max()) for k in a)
    assert worst < 1e-5, worst  # the same global batch of 2: only the all-reduce's float summation order differs


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_amp_training_on_cuda_runs_and_keeps_float32_weights(data, tmp_path):
    result = train(_config(data, "train.device=cuda", "train.amp=true", "train.iters=2"), tmp_path / "cuda")
    state = load_training_state(tmp_path / "cuda" / "checkpoints" / "last.pt")
    assert result.step == 2 and math.isfinite(result.loss)
    assert all(v.dtype == torch.float32 for v in state["params"].values() if v.is_floating_point())


def test_a_diverging_run_stops_with_a_clear_error_and_keeps_its_checkpoint(data, tmp_path, monkeypatch):
    import models.runner as runner

    calls, original = [], runner.training_loss

    def loss_turning_nan(behaviour, output, extras, gt, kind):
        calls.append(1)
        loss = original(behaviour, output, extras, gt, kind)
        return loss * float("nan") if len(calls) == 3 else loss

    monkeypatch.setattr(runner, "training_loss", loss_turning_nan)
    with pytest.raises(TrainingError, match="the loss is nan at step 3"):
        train(_config(data, "train.iters=6", "train.save_every=1"), tmp_path / "diverged")
    assert load_training_state(tmp_path / "diverged" / "checkpoints" / "last.pt")["scheduler"]["step"] == 2


def test_published_augmentation_reaches_the_training_batches(data, tmp_path, monkeypatch):
    import models.runner as runner
    from models.data import published_batch_flips

    seen, datasets = [], []
    real_augment, real_dataset = runner.augment_published, runner.BracketDataset

    def spy_augment(raws, gt, flips):
        seen.append((tuple(raws.shape), tuple(int(f) for f in flips)))
        return real_augment(raws, gt, flips)

    def spy_dataset(*args, **kwargs):
        datasets.append(kwargs["augment"])
        return real_dataset(*args, **kwargs)

    monkeypatch.setattr(runner, "augment_published", spy_augment)
    monkeypatch.setattr(runner, "BracketDataset", spy_dataset)
    train(_config(data, "data.augment=published"), tmp_path / "published")
    # one draw per batch, from (seed, step); the items themselves are not augmented
    assert seen == [((2, 5, 4, 32, 32), tuple(published_batch_flips(0, step))) for step in range(4)]
    assert datasets == [False]
    train(_config(data, "train.iters=1"), tmp_path / "bayer")  # the default: per item, in the dataset
    assert len(seen) == 4 and datasets == [False, True]
