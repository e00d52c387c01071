"""The shared input transforms of models/bracket.py."""

import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from models import build_model
from models.bracket import INVERSE_DISPLAY_GAMMA, gamma_compress, normalization_gains, packed_to_rgb


@settings(max_examples=50, deadline=None)
@given(st.lists(st.floats(-2, 20, allow_nan=False, width=32), min_size=1, max_size=64))
def test_gamma_compress_equals_the_plain_power_bit_for_bit(values):
    x = torch.tensor(values)
    assert torch.equal(gamma_compress(x), x.clamp_min(0) ** INVERSE_DISPLAY_GAMMA)


def test_gamma_compress_has_finite_gradients_at_zero():
    x = torch.tensor([0.0, -1.0, 0.25], requires_grad=True)
    gamma_compress(x).sum().backward()
    assert torch.isfinite(x.grad).all() and x.grad[0] == 0 and x.grad[2] > 0
    plain = torch.tensor([0.0], requires_grad=True)
    (plain.clamp_min(0) ** INVERSE_DISPLAY_GAMMA).sum().backward()
    assert not torch.isfinite(plain.grad).all()  # what gamma_compress protects against


def test_a_trainable_warp_into_the_gamma_branch_keeps_gradients_finite():
    # Kalantari17 warps frames (trainable SPyNet) before their gamma copy; black areas are exact zeros
    torch.manual_seed(0)
    model = build_model("kalantari17", widths=(8, 8, 4), flow_levels=2)
    raws = torch.rand(2, 5, 4, 32, 32)
    raws[:, :, :, :8] = 0
    model(raws).mean().backward()
    assert all(torch.isfinite(p.grad).all() for p in model.parameters() if p.grad is not None)


def test_gains_and_rgb_view():
    assert normalization_gains(5, 4.0, 2, torch.zeros(1)).flatten().tolist() == [16, 4, 1, 0.25, 0.0625]
    packed = torch.tensor([0.25, 0.5, 1.0, 2.0]).view(4, 1, 1)
    assert torch.allclose(packed_to_rgb(packed, gamma=False).flatten(), torch.tensor([0.25, 0.75, 2.0]))
    assert torch.allclose(packed_to_rgb(packed).flatten(), torch.tensor([0.25**INVERSE_DISPLAY_GAMMA, 0.75**INVERSE_DISPLAY_GAMMA, 1.0]))
