"""One contract for every registered model (``models/registry.py``), at its spec's tiny configuration on CPU.

Contract (``models/bracket.py``): ``forward(raws [B, T, 4, h, w] as stored) -> [B, 4, s*h, s*w]``; the spec's
facts (card parameter count, tiny configuration, fewer frames, weights) are checked against the model itself.
"""

from __future__ import annotations

import os

import pytest
import torch

from models import MODELS, build_model, model_spec
from simulator.core.errors import DataError

ONLY = os.environ.get("ZOO_ONLY")  # developers: restrict to a comma-separated list of names
NAMES = [n for n in MODELS.names() if not ONLY or n in ONLY.split(",")]


def _build(name: str, **kwargs) -> torch.nn.Module:
    torch.manual_seed(0)
    return model_spec(name).build_tiny(**kwargs)


def _raws(batch: int, frames: int, size: int = 32, seed: int = 1) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.rand(batch, frames, 4, size, size, generator=g)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("frames", [5, 3])
def test_forward_shape_for_several_frame_counts_and_batch_two(name, frames):
    model = _build(name, num_frames=frames).eval()
    s = model_spec(name).scale
    with torch.no_grad():
        out = model(_raws(2, frames))
    assert out.shape == (2, 4, 32 * s, 32 * s)
    assert torch.isfinite(out).all()


@pytest.mark.parametrize("name", [n for n in NAMES if 4 in model_spec(n).scales])
def test_scale_four_upsamples_by_four(name):
    model = _build(name, scale=4).eval()
    with torch.no_grad():
        out = model(_raws(1, 5, size=16))
    assert out.shape == (1, 4, 64, 64)


@pytest.mark.parametrize("name", NAMES)
def test_fewer_frames_than_built_for_is_accepted_exactly_when_the_spec_says_so(name):
    model = _build(name).eval()  # built for 5 frames
    short = _raws(1, 3)
    if model_spec(name).fewer_frames:
        with torch.no_grad():
            assert model(short).shape[-2:] == (32 * model_spec(name).scale,) * 2
    else:
        with pytest.raises(DataError, match=r"\[B, 5, 4, h, w\]"):
            model(short)


@pytest.mark.parametrize("name", NAMES)
def test_backward_reaches_every_parameter(name):
    model = _build(name).train()
    if not list(model.parameters()):
        assert not model_spec(name).needs_weights, f"{name}: no parameters but its spec says it needs weights"
        return
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
    card = model_spec(name).card
    assert card is not None, f"{name}: no card configuration in its spec"
    with torch.device("meta"):  # counting needs shapes only
        model = build_model(name, **card["kwargs"])
    count = sum(p.numel() for p in model.parameters())
    assert round(count / 1e6, 3) == card["params_m"], f"{name}: {count} parameters vs card {card['params_m']} M"


@pytest.mark.parametrize("name", NAMES)
def test_tiny_configuration_passes_the_run_config_checks(name):
    from models.train_config import RunConfig, load_run_config

    tiny = model_spec(name).tiny
    expected = {k: tuple(v) if isinstance(v, list) else v for k, v in tiny.items()}
    config = load_run_config(base=RunConfig(name, tiny))  # what `cli.py train --set model.x=..` meets
    assert dict(config.model_args) == expected
    again = load_run_config(model=name, overrides=model_spec(name).tiny_overrides())  # the same as --set items
    assert again.model == name and dict(again.model_args) == expected


@pytest.mark.parametrize("name", NAMES)
def test_weight_specs_resolve_and_name_their_variable(name):
    spec = model_spec(name)
    weights = spec.weights()
    assert ("published" in weights or "shipped" in weights) <= spec.needs_weights
    for weight in weights.values():
        assert weight.env_var.startswith("BRACKETIRE_") and weight.filename


def test_tmrnet_plus_is_tmrnet_with_the_scale_four_preset():
    spec = model_spec("tmrnet_plus")
    assert spec.load() is model_spec("tmrnet").load() and dict(spec.preset) == {"scale": 4}
    assert build_model("tmrnet_plus", **spec.tiny).scale == 4
    assert MODELS["tmrnet_plus"](**spec.tiny).scale == 4  # MODELS maps a name to its constructor, preset bound


def test_rbsr_implicit_weighting_supervises_a_random_earlier_step():
    from models.bracket import mu_law_l1

    behaviour = model_spec("rbsr").training_behaviour()
    model = _build("rbsr").train()
    raws, gt = _raws(2, 5), torch.rand(2, 4, 32, 32) * 4
    torch.manual_seed(7)
    out, extras = behaviour.forward(model, model, raws)
    steps = model.forward_all_steps(raws).detach()
    torch.manual_seed(7)
    step = int(torch.randint(4, ()))  # the draw the training forward made
    loss = behaviour.loss(out, extras, gt, "mu_law_l1")
    assert torch.allclose(loss, mu_law_l1(out, gt) + mu_law_l1(steps[:, step], gt), atol=1e-6)
    assert torch.allclose(extras["intermediate"], steps[:, step], atol=1e-6)
    assert torch.equal(out.detach(), steps[:, -1])
    assert torch.equal(model(raws), steps[:, -1])  # a plain forward is the final output, in any mode
    assert not [k for k in vars(model) if "intermediate" in k]  # nothing for the loss is kept on the network
    plain = model_spec("tmrnet").training_behaviour()
    assert plain.loss(out, {}, gt, "mu_law_l1") == mu_law_l1(out, gt)  # every other model: the published loss
