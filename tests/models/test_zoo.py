"""One contract for every baseline of the zoo (``models.baselines``), at its tiny configuration on CPU.

Contract (``models/bracket.py``): ``forward(raws [B, T, 4, h, w] as stored) -> [B, 4, s*h, s*w]``.
"""

from __future__ import annotations

import importlib
import os

import pytest
import torch

from models.baselines import BASELINES

ONLY = os.environ.get("ZOO_ONLY")  # developers: restrict to a comma-separated list of names
NAMES = [n for n in BASELINES if not ONLY or n in ONLY.split(",")]


def _module(name: str):
    return importlib.import_module(BASELINES[name].split(":")[0])


def _build(name: str, **kwargs) -> torch.nn.Module:
    module_path, attr = BASELINES[name].split(":")
    module = importlib.import_module(module_path)
    torch.manual_seed(0)
    return getattr(module, attr)(**{**module.TINY, **kwargs})


def _raws(batch: int, frames: int, size: int = 32, seed: int = 1) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.rand(batch, frames, 4, size, size, generator=g)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("frames", [5, 3])
def test_forward_shape_for_several_frame_counts_and_batch_two(name, frames):
    model = _build(name, num_frames=frames).eval()
    with torch.no_grad():
        out = model(_raws(2, frames))
    assert out.shape == (2, 4, 32, 32)
    assert torch.isfinite(out).all()


@pytest.mark.parametrize("name", NAMES)
def test_scale_four_upsamples_by_four(name):
    model = _build(name, scale=4).eval()
    with torch.no_grad():
        out = model(_raws(1, 5, size=16))
    assert out.shape == (1, 4, 64, 64)


@pytest.mark.parametrize("name", NAMES)
def test_backward_reaches_every_parameter(name):
    model = _build(name).train()
    for p in model.parameters():  # zero-initialised gates would block gradients upstream of them
        if p.abs().sum() == 0:
            torch.nn.init.constant_(p, 0.05)
    model(_raws(2, 5)).abs().mean().backward()
    missing = [n for n, p in model.named_parameters() if p.grad is None or not torch.isfinite(p.grad).all()]
    assert not missing, f"no (finite) gradient for {missing[:5]}"
    dead = [n for n, p in model.named_parameters() if p.grad.abs().sum() == 0]
    assert not dead, f"zero gradient for {dead[:5]}"


@pytest.mark.parametrize("name", NAMES)
def test_state_dict_round_trip_and_deterministic_eval(name):
    model = _build(name).eval()
    copy = _build(name)
    torch.manual_seed(123)
    for p in copy.parameters():
        p.data.normal_()
    copy.load_state_dict(model.state_dict(), strict=True)
    copy.eval()
    raws = _raws(2, 5)
    with torch.no_grad():
        first, second, third = model(raws), model(raws), copy(raws)
    assert torch.equal(first, second)
    assert torch.equal(first, third)


@pytest.mark.parametrize("name", NAMES)
def test_published_configuration_has_the_model_card_parameter_count(name):
    card = _module(name).CARD
    module_path, attr = BASELINES[name].split(":")
    model = getattr(importlib.import_module(module_path), attr)(**card["kwargs"])
    count = sum(p.numel() for p in model.parameters())
    assert round(count / 1e6, 3) == card["params_m"], f"{name}: {count} parameters vs card {card['params_m']} M"


@pytest.mark.parametrize("name", NAMES)
def test_tiny_configuration_passes_the_run_config_checks(name):
    from models.train_config import RunConfig, load_run_config

    config = load_run_config(base=RunConfig(name, _module(name).TINY))  # what `cli.py train --set model.x=..` meets
    assert dict(config.model_args) == {k: tuple(v) if isinstance(v, list) else v for k, v in _module(name).TINY.items()}


def test_rbsr_implicit_weighting_supervises_a_random_earlier_step():
    from models.bracket import mu_law_l1

    model = _build("rbsr").train()
    raws, gt = _raws(2, 5), torch.rand(2, 4, 32, 32) * 4
    torch.manual_seed(7)
    out = model(raws)
    steps = model.forward_all_steps(raws).detach()
    torch.manual_seed(7)
    step = int(torch.randint(4, ()))  # the draw forward made
    loss = model.training_loss(out, gt)
    assert torch.allclose(loss, mu_law_l1(out, gt) + mu_law_l1(steps[:, step], gt), atol=1e-6)
    assert torch.equal(out.detach(), steps[:, -1])
    assert torch.equal(model.eval()(raws), steps[:, -1]) and model._intermediate is None  # eval: final only
