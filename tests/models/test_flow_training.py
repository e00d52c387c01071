"""The flow network trains through the runner on simulated pairs (models/flow_training.py), and pretrained parts
fill TMRNet's SPyNet when a model trains (models/pretrained.py)."""

import math

import pytest
import torch
from click.testing import CliRunner

import cli
from models import MODELS
from models.flow_training import FlowPairDataset, end_point_error
from models.layers.spynet import SPyNet
from models.pretrained import load_pretrained_parts, split_part_args
from tests.helpers import one_error_line

SPYNET_TINY = ["--set", "model.levels=3", "--set", "train.patch=32", "--set", "train.batch_size=2",
               "--set", "data.workers=0", "--set", "train.progress=false", "--set", "train.val_every=0",
               "--set", "data.val_limit=2"]


def _cli(*args):
    return CliRunner().invoke(cli.cli, list(args))


def test_end_point_error_by_hand():
    flow = torch.zeros(1, 2, 2, 2)
    truth = torch.tensor([[[[3.0, 0.0], [0.0, 1.0]], [[4.0, 0.0], [1.0, 0.0]]]])  # distances 5, 0, 1, 1
    assert end_point_error(flow, truth).item() == pytest.approx(7 / 4)
    mask = torch.tensor([[[[1.0, 0.0], [1.0, 0.0]]]])
    assert end_point_error(flow, truth, mask).item() == pytest.approx(3.0)


def test_items_are_what_spynet_sees_inside_tmrnet():
    item = FlowPairDataset(seed=0, patch=32).sample(5, 2)
    assert item["pair"].shape == (2, 3, 32, 32) and item["flow"].shape == (2, 32, 32)
    assert 0 <= float(item["pair"].min()) and float(item["pair"].max()) <= 1  # clipped, gamma-encoded RGB
    again = FlowPairDataset(seed=0, patch=32).sample(5, 2)
    assert torch.equal(item["flow"], again["flow"]) and not torch.equal(item["flow"], FlowPairDataset(0, 32).sample(5, 3)["flow"])


def test_train_spynet_end_to_end_with_epe_validation_and_exact_resume(tmp_path):
    whole = tmp_path / "whole"
    first = _cli("train", "--model", "spynet", "--out", str(whole), "--iters", "4", *SPYNET_TINY)
    assert first.exit_code == 0, first.output
    assert "spynet: step 4/4" in first.output and "val epe " in first.output and "epe_zero_flow" in first.output
    values = dict(part.strip().rsplit(" ", 1) for part in first.output.split(";")[0].split(", ")[2:])
    assert all(math.isfinite(float(v)) for v in values.values())
    # interrupted at 2 of 4, then resumed: the same weights as the uninterrupted run
    from models.runner import train
    from models.train_config import load_run_config
    config = load_run_config(None, [o for o in SPYNET_TINY if o != "--set"] + ["train.iters=4"], model="spynet")
    train(config, tmp_path / "a", stop_at=2)
    train(config, tmp_path / "a", resume=True)
    ours = torch.load(tmp_path / "a" / "checkpoints" / "last.pt", weights_only=True)["params"]
    theirs = torch.load(whole / "checkpoints" / "last.pt", weights_only=True)["params"]
    assert all(torch.equal(ours[k], theirs[k]) for k in theirs)


def test_spynet_is_a_flow_model_not_a_bracket_model():
    assert "spynet" not in MODELS.names() and "spynet" in MODELS.names(task=None)
    bench = _cli("bench", "--model", "spynet", "--no-progress")
    assert bench.exit_code == 2 and "spynet" in bench.stderr


def _spynet_file(tmp_path, value):
    net = SPyNet()
    for p in net.parameters():
        torch.nn.init.constant_(p, value)
    path = tmp_path / f"spynet_{value}.pth"
    torch.save({"params": {f"spynet.{k}": v for k, v in net.state_dict().items()}}, path)
    return path


def test_a_pretrained_part_starts_from_the_file_given(tmp_path):
    spec = MODELS.spec("tmrnet")
    path = _spynet_file(tmp_path, 0.25)
    args, sources = split_part_args(spec, {"mid_channels": 8, "spynet_weights": str(path)})
    assert args == {"mid_channels": 8} and sources == {"spynet": str(path)}
    model = spec.build_tiny()
    started = load_pretrained_parts(model, spec, sources)
    assert started["spynet"].startswith(path.name) and "sha256:" in started["spynet"]
    assert all(torch.all(p == 0.25) for p in model.spynet.parameters())
    random = spec.build_tiny()
    assert load_pretrained_parts(random, spec, {"spynet": "none"}) == {"spynet": "random"}
    assert not all(torch.all(p == 0.25) for p in random.spynet.parameters())


def test_a_part_that_does_not_fit_is_refused_unless_automatic(tmp_path):
    spec = MODELS.spec("dbsr")  # the tiny DBSR has a 2-level SPyNet: a 6-level file cannot fill it
    model = spec.build_tiny()
    path = _spynet_file(tmp_path, 0.5)
    from simulator.core.errors import ConfigError
    with pytest.raises(ConfigError, match="does not fit dbsr.spynet"):
        load_pretrained_parts(model, spec, {"spynet": str(path)})
    assert load_pretrained_parts(model, spec, {})["spynet"].startswith("random")


def test_part_settings_on_the_command_line(tmp_path):
    result = _cli("train", "--model", "tmrnet", "--out", str(tmp_path / "r"), "--data", str(tmp_path),
                  "--set", "model.spynet_weights=" + str(tmp_path / "nope.pth"))
    one_error_line(result, "model.spynet_weights", "nope.pth")
    typo = _cli("train", "--model", "tmrnet", "--out", str(tmp_path / "r"), "--set", "model.spynet_weight=none")
    one_error_line(typo, "spynet_weight", "model.spynet_weights")


def test_a_zero_output_part_predicts_no_motion_and_still_learns():
    spec = MODELS.spec("tmrnet")
    model = spec.build_tiny()
    assert load_pretrained_parts(model, spec, {"spynet": "zero"}) == {"spynet": "zero output"}
    ref, supp = torch.rand(2, 3, 32, 32), torch.rand(2, 3, 32, 32)
    flow = model.spynet(ref, supp)
    assert torch.equal(flow, torch.zeros_like(flow))
    flow.sum().backward()  # the zeroed last layers get gradients: the flow can leave zero once it trains
    last = model.spynet.basic_module[-1].basic_module[-1]
    assert last.weight.grad is not None and last.weight.grad.abs().sum() > 0
    random = spec.build_tiny()
    assert load_pretrained_parts(random, spec, {"spynet": "none"}) == {"spynet": "random"}
    assert random.spynet(ref, supp).abs().sum() > 0
