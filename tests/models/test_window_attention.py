"""Swin window attention (``models/layers/window_attention.py``), checked against its definition
(Liu et al., ICCV 2021): windows tile the grid, shifted windows never mix regions, W-MSA is per-window MSA."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from models.layers.window_attention import (
    MASKED,
    SwinBlock,
    WindowAttention,
    crop_to,
    pad_to_multiple,
    relative_position_index,
    shifted_window_mask,
    to_image,
    to_tokens,
    window_partition,
    window_reverse,
)


@settings(max_examples=25, deadline=None)
@given(window=st.integers(1, 5), rows=st.integers(1, 3), cols=st.integers(1, 3), batch=st.integers(1, 2),
       channels=st.integers(1, 4))
def test_partition_then_reverse_is_the_identity(window, rows, cols, batch, channels):
    x = torch.randn(batch, rows * window, cols * window, channels)
    windows = window_partition(x, window)
    assert windows.shape == (batch * rows * cols, window * window, channels)
    assert torch.equal(window_reverse(windows, window, rows * window, cols * window), x)


def test_partition_puts_each_window_in_row_major_order():
    x = torch.arange(4 * 6, dtype=torch.float32).view(1, 4, 6, 1)
    windows = window_partition(x, 2).squeeze(-1)
    assert windows.shape == (6, 4)
    assert windows[0].tolist() == [0, 1, 6, 7]    # top-left window
    assert windows[1].tolist() == [2, 3, 8, 9]    # its right neighbour comes next
    assert windows[3].tolist() == [12, 13, 18, 19]


def test_partition_rejects_a_grid_that_is_not_a_window_multiple():
    with pytest.raises(ValueError, match="multiple"):
        window_partition(torch.zeros(1, 6, 8, 1), 4)


def test_relative_position_index_encodes_two_d_offsets():
    index = relative_position_index(3)
    assert index.shape == (9, 9)
    assert index.min() == 0 and index.max() == 24          # (2w - 1)^2 = 25 offsets
    assert (index.diag() == index[0, 0]).all()             # zero offset everywhere on the diagonal
    assert index[0, 8] + index[8, 0] == 24                 # opposite offsets mirror around the centre


@pytest.mark.parametrize("size,window,shift", [((8, 8), 4, 2), ((8, 12), 4, 1), ((4, 4), 4, 2), ((16, 8), 8, 4)])
def test_mask_separates_the_regions_a_cyclic_shift_brings_together(size, window, shift):
    h, w = size
    mask = shifted_window_mask(h, w, window, shift)
    assert mask.shape == ((h // window) * (w // window), window * window, window * window)
    # region of each position of the rolled grid: which border strip (if any) it came from, per axis
    rows = (torch.arange(h) >= h - shift).long() + (torch.arange(h) >= h - window).long()
    cols = (torch.arange(w) >= w - shift).long() + (torch.arange(w) >= w - window).long()
    region = (3 * rows[:, None] + cols[None, :]).float().view(1, h, w, 1)
    ids = window_partition(region, window).squeeze(-1)
    expected = torch.where(ids[:, :, None] == ids[:, None, :], 0.0, MASKED)
    assert torch.equal(mask, expected)
    assert (mask[0] == 0).all() or h == window or w == window   # interior windows are unmasked
    assert (mask[-1] == MASKED).any()                             # the bottom-right window is split


def test_mask_without_shift_is_zero_and_bad_shifts_are_rejected():
    assert torch.equal(shifted_window_mask(8, 8, 4, 0), torch.zeros(4, 16, 16))
    with pytest.raises(ValueError, match="shift"):
        shifted_window_mask(8, 8, 4, 4)


def _block(shift: int) -> SwinBlock:
    torch.manual_seed(0)
    block = SwinBlock(dim=8, heads=2, window=4, shift=shift, mlp_ratio=2.0).eval()
    with torch.no_grad():
        block.attn.relative_position_bias_table.normal_()  # make the bias matter
    return block


def test_shifted_block_never_lets_tokens_of_different_regions_interact():
    block = _block(shift=2)
    h = w = 8
    x = torch.randn(1, h, w, 8)
    # rolled by -2, the bottom-right window holds original rows/columns 6, 7, 0, 1: (7, 7) and (6, 6) stay
    # in the interior region, (0, 0) wraps around from the opposite corner
    changed = x.clone()
    changed[0, 7, 7] += 10.0
    with torch.no_grad():
        before, after = block.window_attention(x), block.window_attention(changed)
    assert torch.equal(before[0, 0, 0], after[0, 0, 0])
    assert not torch.equal(before[0, 6, 6], after[0, 6, 6])


def test_unshifted_block_attention_equals_plain_per_window_attention():
    block = _block(shift=0)
    attn = block.attn
    x = torch.randn(2, 8, 8, 8)
    with torch.no_grad():
        got = block.window_attention(x)
        expected = torch.empty_like(x)
        bias = attn.relative_position_bias()                       # [heads, 16, 16]
        for b in range(2):
            for i in range(0, 8, 4):
                for j in range(0, 8, 4):
                    tokens = x[b, i:i + 4, j:j + 4].reshape(16, 8)
                    q, k, v = attn.qkv(tokens).view(16, 3, 2, 4).permute(1, 2, 0, 3)   # [3][heads, 16, 4]
                    weights = torch.softmax(q @ k.transpose(1, 2) / 2.0 + bias, dim=-1)  # 1/sqrt(4)
                    out = attn.proj((weights @ v).transpose(0, 1).reshape(16, 8))
                    expected[b, i:i + 4, j:j + 4] = out.view(4, 4, 8)
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=1e-5)


def test_window_attention_bias_table_shape_and_init():
    attn = WindowAttention(dim=12, window=8, heads=3)
    table = attn.relative_position_bias_table
    assert table.shape == (15 * 15, 3)
    assert 0.01 < table.std().item() < 0.03 and table.abs().max() <= 2.0


@pytest.mark.parametrize("shift", [0, 2])
def test_swin_block_keeps_token_shape_and_batches_independently(shift):
    block = _block(shift)
    x = torch.randn(3, 8 * 12, 8)
    with torch.no_grad():
        out = block(x, (8, 12))
        single = block(x[1:2], (8, 12))
    assert out.shape == x.shape
    torch.testing.assert_close(out[1:2], single, atol=1e-6, rtol=1e-6)


@pytest.mark.parametrize("size", [(5, 7), (8, 8), (3, 9), (2, 2)])
def test_pad_to_multiple_then_crop_round_trips(size):
    x = torch.randn(2, 3, *size)
    padded = pad_to_multiple(x, 4)
    assert padded.shape[-2] % 4 == 0 and padded.shape[-1] % 4 == 0
    assert padded.shape[-2] - size[0] < 4 and padded.shape[-1] - size[1] < 4
    assert torch.equal(crop_to(padded, size), x)


def test_tokens_and_image_are_inverse_layouts():
    x = torch.randn(2, 5, 3, 4)
    tokens = to_tokens(x)
    assert tokens.shape == (2, 12, 5)
    assert torch.equal(tokens[:, 4 * 1 + 2], x[:, :, 1, 2])
    assert torch.equal(to_image(tokens, (3, 4)), x)


def test_masked_window_attention_equals_the_explicit_formula_for_several_images():
    """The fused attention with the shifted-window mask: every window of every image gets its own mask row
    (image n's window w is batch entry n * nW + w), as softmax(q k^T / sqrt(d) + bias + mask) v spells it out."""
    torch.manual_seed(3)
    attn = WindowAttention(dim=12, window=4, heads=3).eval()
    images, height, width = 2, 8, 12
    mask = shifted_window_mask(height, width, 4, 2)  # [6, 16, 16], not all zero
    x = torch.randn(images * mask.shape[0], 16, 12)
    with torch.no_grad():
        got = attn(x, mask)
        q, k, v = attn.qkv(x).view(-1, 16, 3, 3, 4).permute(2, 0, 3, 1, 4)
        logits = q @ k.transpose(-2, -1) / 2.0 + attn.relative_position_bias()
        logits = logits + mask.repeat(images, 1, 1)[:, None]
        expected = attn.proj((logits.softmax(-1) @ v).transpose(1, 2).reshape(-1, 16, 12))
    torch.testing.assert_close(got, expected, atol=1e-6, rtol=1e-5)
