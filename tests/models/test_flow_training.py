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


def test_level_schedule_reads_rising_levels_and_refuses_the_rest():
    from models.flow_training import level_schedule
    from simulator.core.errors import ConfigError
    assert level_schedule("", 6) == []
    assert level_schedule("3:2500,4:1500,5:800", 6) == [(3, 0), (4, 2500), (5, 4000)]
    for bad in ("3", "3:x", "4:10,3:10", "6:10", "2:0"):
        with pytest.raises(ConfigError, match="train.flow_levels"):
            level_schedule(bad, 6)


def test_level_flow_is_the_chain_cut_at_a_level_with_gradients_in_that_level_only():
    torch.manual_seed(0)
    net = SPyNet(levels=4)
    ref, supp = torch.rand(2, 3, 32, 32), torch.rand(2, 3, 32, 32)
    torch.testing.assert_close(net.level_flow(ref, supp, 3), net._pyramid_flow(ref, supp), rtol=1e-5, atol=1e-5)
    flow = net.level_flow(ref, supp, 2)
    assert flow.shape == (2, 2, 16, 16)
    flow.square().sum().backward()
    touched = [any(p.grad is not None for p in m.parameters()) for m in net.basic_module]
    assert touched == [False, False, True, False]


def test_pool_items_repeat_across_epochs_and_their_flips_keep_the_flow_law():
    from models.layers.flow import flow_warp
    pool = FlowPairDataset(seed=0, patch=32, pool=3)
    assert len(pool) == 3
    items = [pool.sample(1, epoch) for epoch in range(8)]
    assert torch.equal(FlowPairDataset(seed=0, patch=32).sample(1, 0)["valid"].sum(), items[0]["valid"].sum())

    def residual(item, flow):  # mean |ref - supp warped by flow| where the pair is valid
        ref, supp = item["pair"][0:1], item["pair"][1:2]
        valid = item["valid"][None].expand_as(ref).bool()
        return float((ref - flow_warp(supp, flow[None], padding_mode="border")).abs()[valid].mean())

    truth = FlowPairDataset(seed=0, patch=32).sample(1, 0)
    flipped = [item for item in items if not torch.equal(item["flow"], truth["flow"])]
    assert flipped  # some epochs mirror the pair
    for item in items:  # mirroring the images and the flow together keeps ref(p) = supp(p + flow(p))
        assert residual(item, item["flow"]) == pytest.approx(residual(truth, truth["flow"]), abs=1e-5)
    # (a sign error moves that residual by ~3e-4 on these noisy pairs); by hand, one mirror at a time:
    x_sign, y_sign = torch.tensor([-1.0, 1.0]).view(2, 1, 1), torch.tensor([1.0, -1.0]).view(2, 1, 1)
    for item in flipped:
        if torch.equal(item["pair"], truth["pair"].flip(-1)):
            assert torch.equal(item["flow"], truth["flow"].flip(-1) * x_sign)
        elif torch.equal(item["pair"], truth["pair"].flip(-2)):
            assert torch.equal(item["flow"], truth["flow"].flip(-2) * y_sign)
        else:
            assert torch.equal(item["flow"], truth["flow"].flip(-1).flip(-2) * x_sign * y_sign)


def test_train_spynet_level_by_level_starts_each_level_as_promised_and_resumes_exactly(tmp_path):
    from models.runner import train
    from models.train_config import load_run_config
    options = [o for o in SPYNET_TINY if o != "--set"] + [
        "train.iters=5", "train.flow_levels=1:3,2:2", "data.pool=4", "train.ema_decay=0"]
    config = load_run_config(None, options, model="spynet")
    train(config, tmp_path / "whole")
    params = torch.load(tmp_path / "whole" / "checkpoints" / "last.pt", weights_only=True)["params"]
    last = "basic_module.0.basic_module.8"
    assert not params[f"{last}.weight"].any() and not params[f"{last}.bias"].any()  # untrained: passes through
    assert params["basic_module.1.basic_module.8.weight"].any()  # level 1 trained from a zeroed output
    train(config, tmp_path / "cut", stop_at=4)  # interrupted after level 2's first step
    train(config, tmp_path / "cut", resume=True)
    again = torch.load(tmp_path / "cut" / "checkpoints" / "last.pt", weights_only=True)["params"]
    assert all(torch.equal(params[k], again[k]) for k in params)
    with_ema = _cli("train", "--model", "spynet", "--out", str(tmp_path / "ema"), "--iters", "2", *SPYNET_TINY,
                    "--set", "train.flow_levels=1:1,2:1")
    one_error_line(with_ema, "train.flow_levels", "ema_decay=0")
    assert not (tmp_path / "ema").exists()


def test_a_level_starts_as_a_copy_of_the_level_below_blind_to_the_incoming_flow():
    from models.flow_training import FLOW_INPUTS, start_level
    torch.manual_seed(0)
    net = SPyNet(levels=3)
    start_level(net, [(0, 0), (1, 5)], 0)
    assert all(not m.basic_module[-1].weight.any() for m in net.basic_module)  # everything passes through
    assert net.basic_module[0].basic_module[0].bias.abs().sum() == 0  # He-initialised hidden layers, zero bias
    with torch.no_grad():
        net.basic_module[0].basic_module[-1].weight.normal_()
    start_level(net, [(0, 0), (1, 5)], 1)
    copied, source = net.basic_module[1].state_dict(), net.basic_module[0].state_dict()
    assert not copied["basic_module.0.weight"][:, FLOW_INPUTS].any()
    assert torch.equal(copied["basic_module.0.weight"][:, :6], source["basic_module.0.weight"][:, :6])
    assert torch.equal(copied["basic_module.8.weight"], source["basic_module.8.weight"])


def test_the_shipped_spynet_fills_tmrnet_by_default_and_beats_a_zero_flow_on_unseen_pairs():
    """models/weights/spynet_bracketire.pth (its card's checksum) is what a full-size TMRNet's SPyNet starts from
    under ``auto``, and on pairs of a seed it never saw its flow is far closer to the truth than no motion."""
    import json

    from models import MODELS
    from simulator.core.weights import sha256_of
    from tests.conftest import REPO
    shipped = REPO / "models" / "weights" / "spynet_bracketire.pth"
    card = json.loads(shipped.with_suffix(".json").read_text())
    assert card["sha256"] == sha256_of(shipped)
    spec = MODELS.spec("tmrnet")
    model = spec.build()
    assert load_pretrained_parts(model, spec, {}) == {"spynet": f"spynet_bracketire.pth sha256:{card['sha256'][:12]}"}
    items = [FlowPairDataset(seed=31337, patch=128)[i] for i in range(8)]
    pair, truth = torch.stack([it["pair"] for it in items]), torch.stack([it["flow"] for it in items])
    with torch.no_grad():
        flow = model.spynet(pair[:, 0], pair[:, 1])
    zero = end_point_error(torch.zeros_like(truth), truth)
    assert end_point_error(flow, truth) < 0.7 * zero  # measured: 1.38 px against 2.59
