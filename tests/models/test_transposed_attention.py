"""Restormer layers (``models/layers/transposed_attention.py``): MDTA, GDFN, channel layer norm."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from models.layers.transposed_attention import (
    GatedDconvFeedForward,
    LayerNorm2d,
    TransformerBlock,
    TransposedAttention,
)


def _x(channels: int = 16, size: int = 8, seed: int = 0) -> torch.Tensor:
    return torch.randn(2, channels, size, size, generator=torch.Generator().manual_seed(seed))


def _count(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


@pytest.mark.parametrize("layer", [
    LayerNorm2d(16), LayerNorm2d(16, bias=False), TransposedAttention(16, 2), TransposedAttention(16, 4, cross=True),
    GatedDconvFeedForward(16, 2.66), TransformerBlock(16, 2),
])
def test_layers_keep_the_shape(layer):
    assert layer(_x()).shape == (2, 16, 8, 8)


def test_layer_norm_with_bias_is_torch_layer_norm_over_channels():
    norm, x = LayerNorm2d(16), _x()
    torch.manual_seed(0)
    norm.weight.data.uniform_(0.5, 1.5)
    norm.bias.data.normal_()
    expected = F.layer_norm(x.permute(0, 2, 3, 1), (16,), norm.weight, norm.bias, eps=1e-5).permute(0, 3, 1, 2)
    torch.testing.assert_close(norm(x), expected, atol=1e-5, rtol=1e-5)


def test_bias_free_layer_norm_divides_by_the_std_without_centring():  # Restormer's BiasFree_LayerNorm
    x = _x() + 3.0
    out = LayerNorm2d(16, bias=False)(x)
    torch.testing.assert_close(out, x / torch.sqrt(x.var(1, keepdim=True, unbiased=False) + 1e-5))
    assert out.mean() > 1.0  # the mean survives


def test_attention_rows_are_distributions_over_channels():
    attn = TransposedAttention(16, 4).attention_map(_x())
    assert attn.shape == (2, 4, 4, 4)
    torch.testing.assert_close(attn.sum(-1), torch.ones(2, 4, 4))


def test_cross_attention_reads_keys_and_values_from_the_context():
    torch.manual_seed(0)
    layer, x, context = TransposedAttention(16, 2, cross=True), _x(seed=1), _x(seed=2)
    assert torch.equal(layer(x), layer(x, x))
    assert not torch.allclose(layer(x, context), layer(x), atol=1e-4)
    assert not torch.allclose(layer.attention_map(x, context), layer.attention_map(x), atol=1e-4)


def test_self_attention_refuses_a_context_and_shapes_must_match():
    with pytest.raises(ValueError, match="cross=True"):
        TransposedAttention(16, 2)(_x(), _x())
    with pytest.raises(ValueError, match="context"):
        TransposedAttention(16, 2, cross=True)(_x(), _x(size=4))
    with pytest.raises(ValueError, match="heads"):
        TransposedAttention(16, 3)


def test_self_and_cross_layouts_hold_the_same_number_of_weights():
    for depthwise in (True, False):
        assert _count(TransposedAttention(48, 2, depthwise=depthwise)) == _count(
            TransposedAttention(48, 2, cross=True, depthwise=depthwise))
    assert _count(TransposedAttention(48, 1)) == 48 * 144 + 144 * 9 + 48 * 48 + 1  # Restormer MDTA, bias-free


def test_pointwise_mdta_is_equivariant_to_pixel_permutations():
    """Without the depthwise convs the channel attention map ignores where pixels are: permuting the pixels
    leaves the map unchanged and permutes the output the same way."""
    torch.manual_seed(0)
    layer, x = TransposedAttention(16, 2, depthwise=False), _x()
    perm = torch.randperm(64, generator=torch.Generator().manual_seed(3))
    shuffled = x.flatten(2)[..., perm].reshape(x.shape)
    torch.testing.assert_close(layer.attention_map(shuffled), layer.attention_map(x))
    torch.testing.assert_close(layer(shuffled), layer(x).flatten(2)[..., perm].reshape(x.shape))


def test_gdfn_hidden_width_follows_the_expansion():
    ffn = GatedDconvFeedForward(48, 2.66)
    assert ffn.project_out.in_channels == int(48 * 2.66)
    assert ffn.project_in.out_channels == 2 * int(48 * 2.66)
