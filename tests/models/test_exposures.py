"""Measured exposure ratios reach every registered model (``forward(raws, exposures=...)``, models/bracket.py)."""

from __future__ import annotations

import pytest
import torch

from models import MODELS, build_model
from models.bracket import normalization_gains
from models.inference import tiled_forward
from simulator.core.errors import DataError

FIXED = torch.tensor([1.0, 4.0, 16.0, 64.0, 256.0])  # the published bracket, ratio 4
MEASURED = torch.tensor([1.0, 3.7, 15.2, 61.0, 250.0])  # a real bracket: never exactly 4 apart


def _tiny(name: str) -> dict:
    return dict(MODELS.spec(name).tiny)


def _model(name: str) -> torch.nn.Module:
    torch.manual_seed(0)
    model = build_model(name, **_tiny(name)).eval()
    for p in model.parameters():  # zero-initialised gates would hide the frames behind the reference skip
        if p.abs().sum() == 0:
            torch.nn.init.constant_(p, 0.05)
    return model


def _raws(batch: int = 1, size: int = 16) -> torch.Tensor:
    return torch.rand(batch, 5, 4, size, size, generator=torch.Generator().manual_seed(3)) * 0.9


@pytest.mark.parametrize("name", MODELS.names())
def test_fixed_ratio_exposures_give_the_default_call_bit_for_bit(name):
    model, raws = _model(name), _raws()
    with torch.no_grad():  # [B, T] form, on another scale: only ratios matter
        assert torch.equal(model(raws, exposures=(FIXED * 8).expand(raws.shape[0], -1)), model(raws))


@pytest.mark.parametrize("name", [n for n in MODELS.names() if n != "merge"])
def test_measured_exposures_act_as_the_equivalent_rescaling_of_the_frames(name):
    # a model sees its frames only through the exposure normalisation: measured gains e[2] / e[t] on the
    # stored frames equal the fixed gains 4 ** (2 - t) on frames rescaled by their quotient (exact: powers of 2)
    model, raws = _model(name), _raws()
    rescaled = raws * normalization_gains(5, 4.0, 2, raws, MEASURED) / normalization_gains(5, 4.0, 2, raws)
    assert not torch.equal(rescaled, raws)
    with torch.no_grad():
        assert torch.equal(model(raws, exposures=MEASURED), model(rescaled))


def test_per_sample_exposures_in_a_batch():
    model, raws = _model("merge"), _raws(2, 32)
    with torch.no_grad():
        out = model(raws, exposures=torch.stack([FIXED, MEASURED]))
        assert torch.equal(out[0], model(raws[:1])[0])
        assert torch.equal(out[1], model(raws[1:], exposures=MEASURED)[0])
        assert not torch.equal(out[1], model(raws[1:])[0])


def test_reference_frame_uses_the_measured_ratio_of_the_unit_frame():
    raws = _raws()
    out = build_model("reference")(raws, exposures=MEASURED)
    assert torch.allclose(out, raws[:, 0] * 15.2, rtol=1e-6, atol=0)  # e[2] / e[0]


def test_merge_recovers_a_scene_from_a_bracket_that_is_not_four_apart():
    # clean frames of a radiance ramp exposed 1 : 3 : 9 : 27 : 81 and clipped at white, as a camera would
    exposures = torch.tensor([1.0, 3.0, 9.0, 27.0, 81.0])
    scene = torch.linspace(1e-4, 0.9, 32 * 32).view(1, 1, 32, 32).expand(1, 4, 32, 32)
    raws = torch.stack([(scene * e).clamp(0, 1) for e in exposures], dim=1)
    truth = scene * 9  # on the unit (middle) frame's scale
    merge = build_model("merge")
    measured = merge(raws, exposures=exposures)
    assumed = merge(raws)
    err_measured = ((measured - truth).abs() / truth).max()
    err_assumed = ((assumed - truth).abs() / truth).max()
    assert err_measured < 1e-4 < 0.2 < err_assumed


def test_tiled_forward_passes_the_exposures_to_every_tile():
    model, raws = _model("reference"), _raws(1, 64)
    whole = model(raws, exposures=MEASURED)
    assert torch.equal(tiled_forward(model, raws, tile=16, overlap=4, exposures=MEASURED), whole)


@pytest.mark.parametrize("bad", [torch.tensor([1.0, 4.0, 16.0]), torch.tensor([1.0, 4.0, 0.0, 64.0, 256.0]),
                                 torch.tensor([1.0, 4.0, float("nan"), 64.0, 256.0]), torch.ones(3, 5)])
def test_bad_exposures_are_refused_with_their_values(bad):
    with pytest.raises(DataError, match="exposures"):
        _model("reference")(_raws(2), exposures=bad)


def test_a_model_without_the_exposures_argument_gets_the_fixed_ratio_call():
    class Plain(torch.nn.Module):  # a user's own model, written before measured exposures existed
        def forward(self, raws):
            return raws[:, 0] * 16

    raws = _raws()
    assert torch.equal(tiled_forward(Plain(), raws, tile=None, exposures=MEASURED), raws[:, 0] * 16)
