"""Channel attention, RCAN blocks and residual dense blocks (``models/layers/channel_attention.py``)."""

from __future__ import annotations

import pytest
import torch

from models.layers.channel_attention import (
    RCAB,
    ChannelAttention,
    ResidualDenseBlock,
    ResidualGroup,
)


def _x(channels: int = 16, size: int = 12) -> torch.Tensor:
    return torch.randn(2, channels, size, size, generator=torch.Generator().manual_seed(0))


@pytest.mark.parametrize("block", [
    ChannelAttention(16, 4), RCAB(16, 4), ResidualGroup(16, 2, 4), ResidualDenseBlock(16, 8, 3),
    ResidualDenseBlock(16, 8, 3, dilation=2),
])
def test_blocks_keep_the_shape(block):
    assert block(_x()).shape == (2, 16, 12, 12)


def test_channel_attention_scales_each_channel_by_a_gate_in_zero_one():
    x = _x()
    out = ChannelAttention(16, 4)(x)
    ratio = out / x
    assert (out.abs() <= x.abs()).all()
    assert ((ratio > 0) & (ratio < 1)).all()
    assert torch.allclose(ratio, ratio[..., :1, :1].expand_as(ratio), atol=1e-5)  # one gate per channel


def test_rcab_is_the_identity_when_its_last_conv_is_zero():
    block = RCAB(16, 4)
    torch.nn.init.zeros_(block.body[2].weight)
    torch.nn.init.zeros_(block.body[2].bias)
    x = _x()
    assert torch.equal(block(x), x)


def test_residual_dense_block_channel_bookkeeping():
    block = ResidualDenseBlock(16, growth=8, layers=3, dilation=2)
    assert [layer.conv.in_channels for layer in block.dense] == [16, 24, 32]
    assert all(layer.conv.out_channels == 8 and layer.conv.dilation == (2, 2) for layer in block.dense)
    assert (block.fusion.in_channels, block.fusion.out_channels) == (40, 16)


def test_residual_dense_block_is_the_identity_when_its_fusion_is_zero():
    block = ResidualDenseBlock(16, 8, 2)
    torch.nn.init.zeros_(block.fusion.weight)
    torch.nn.init.zeros_(block.fusion.bias)
    x = _x()
    assert torch.equal(block(x), x)


def test_residual_group_parameter_count_matches_rcan_at_64_channels():
    rcab = 2 * (64 * 64 * 9 + 64) + (64 * 4 + 4) + (4 * 64 + 64)  # two 3x3 convs, CA 64 -> 4 -> 64
    expected = 3 * rcab + 64 * 64 * 9 + 64
    assert sum(p.numel() for p in ResidualGroup(64, 3, 16).parameters()) == expected
