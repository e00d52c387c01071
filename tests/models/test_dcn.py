"""DCNv2 against torchvision's semantics as documented in shared/fixtures/official/networks/README.md §2."""

import itertools

import pytest
import torch
import torch.nn.functional as F

from models.layers.dcn import ModulatedDeformConv2d, _torchvision_op, deform_conv2d_torch
from simulator.core.errors import DataError

CONFIGS = [  # (C, C_out, kernel, stride, padding, dilation, groups, offset_groups)
    (4, 6, (3, 3), 1, 1, 1, 1, 1),
    (4, 4, (2, 3), 2, (1, 0), 1, 2, 4),
    (8, 8, (3, 3), 1, 2, 2, 8, 8),  # TMRNet-like: 8 conv groups, 8 offset groups
    (6, 4, (3, 3), 1, 1, 1, 2, 3),
]


def _setup(config, dtype=torch.float64, seed=0):
    channels, out_channels, kernel, stride, padding, dilation, groups, offset_groups = config
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(2, channels, 7, 9, generator=gen, dtype=dtype)
    weight = torch.randn(out_channels, channels // groups, *kernel, generator=gen, dtype=dtype)
    bias = torch.randn(out_channels, generator=gen, dtype=dtype)
    reference = F.conv2d(x, weight, bias, stride, padding, dilation, groups)
    taps = kernel[0] * kernel[1]
    shape = (2, 2 * offset_groups * taps, *reference.shape[2:])
    return x, weight, bias, reference, shape, offset_groups, taps


@pytest.mark.parametrize("config", CONFIGS)
@pytest.mark.parametrize("dtype,tolerance", [(torch.float64, 1e-12), (torch.float32, 1e-5)])
def test_zero_offsets_equal_a_grouped_convolution(config, dtype, tolerance):
    x, weight, bias, reference, shape, offset_groups, taps = _setup(config, dtype)
    _, _, _, stride, padding, dilation, _, _ = config
    zeros = torch.zeros(shape, dtype=dtype)
    ones = torch.ones(2, offset_groups * taps, *shape[2:], dtype=dtype)
    for mask in (None, ones):
        out = deform_conv2d_torch(x, zeros, weight, bias, stride, padding, dilation, mask)
        assert (out - reference).abs().max() <= tolerance


@pytest.mark.parametrize("shift", [(-1, 2), (0, 1), (1, 0), (2, -1)])
def test_integer_offsets_shift_the_input_per_offset_group(shift):
    config = (4, 4, (3, 3), 1, 1, 1, 1, 2)
    x, weight, bias, _, shape, offset_groups, taps = _setup(config)
    dy, dx = shift
    offset = torch.zeros(shape, dtype=torch.float64)
    offset[:, : 2 * taps : 2] = dy  # group 0 only: (dy, dx) pairs
    offset[:, 1 : 2 * taps : 2] = dx
    # DCN reads the zero-extended image at absolute positions: shift a canvas that includes the conv padding
    canvas = F.pad(x, (4, 4, 4, 4))
    window = canvas[:, :, 3:3 + 9, 3:3 + 11].clone()  # = F.pad(x, 1): offset group 1 keeps zero offsets
    window[:, :2] = canvas[:, :2, 3 + dy : 3 + dy + 9, 3 + dx : 3 + dx + 11]
    expected = F.conv2d(window, weight, bias, 1, 0)
    assert torch.allclose(deform_conv2d_torch(x, offset, weight, bias, 1, 1), expected, atol=1e-12)


def _naive(x, offset, weight, bias, mask, stride, padding, dilation):
    """The formula of the README, one output value at a time (float64)."""
    n, channels, height, width = x.shape
    out_channels, group_channels, kh, kw = weight.shape
    groups, taps = channels // group_channels, kh * kw
    offset_groups = offset.shape[1] // (2 * taps)
    out = torch.zeros(n, out_channels, *offset.shape[2:], dtype=x.dtype)

    def sample(b, c, y, xq):
        if y <= -1 or y >= height or xq <= -1 or xq >= width:
            return 0.0
        y0, x0 = int(torch.floor(torch.tensor(y))), int(torch.floor(torch.tensor(xq)))
        total = 0.0
        for yy, xx in itertools.product((y0, y0 + 1), (x0, x0 + 1)):
            if 0 <= yy < height and 0 <= xx < width:
                total += (1 - abs(y - yy)) * (1 - abs(xq - xx)) * float(x[b, c, yy, xx])
        return total

    for b, o, oy, ox in itertools.product(range(n), range(out_channels), range(out.shape[2]), range(out.shape[3])):
        g_w = o // (out_channels // groups)
        value = float(bias[o])
        for cg in range(group_channels):
            c = g_w * group_channels + cg
            g = c // (channels // offset_groups)
            for i, j in itertools.product(range(kh), range(kw)):
                k = i * kw + j
                dy = float(offset[b, g * 2 * taps + 2 * k, oy, ox])
                dx = float(offset[b, g * 2 * taps + 2 * k + 1, oy, ox])
                y = oy * stride - padding + i * dilation + dy
                xq = ox * stride - padding + j * dilation + dx
                m = float(mask[b, g * taps + k, oy, ox])
                value += float(weight[o, cg, i, j]) * m * sample(b, c, y, xq)
        out[b, o, oy, ox] = value
    return out


def test_fractional_offsets_and_mask_match_the_naive_formula():
    gen = torch.Generator().manual_seed(1)
    x = torch.randn(1, 4, 5, 6, generator=gen, dtype=torch.float64)
    weight = torch.randn(4, 2, 3, 3, generator=gen, dtype=torch.float64)  # 2 conv groups
    bias = torch.randn(4, generator=gen, dtype=torch.float64)
    offset = torch.randn(1, 2 * 2 * 9, 5, 6, generator=gen, dtype=torch.float64) * 2.5  # 2 offset groups, some outside
    mask = torch.rand(1, 2 * 9, 5, 6, generator=gen, dtype=torch.float64)
    ours = deform_conv2d_torch(x, offset, weight, bias, 1, 1, 1, mask)
    assert (ours - _naive(x, offset, weight, bias, mask, 1, 1, 1)).abs().max() <= 1e-12


def test_gradients_reach_input_offsets_mask_and_weights():
    gen = torch.Generator().manual_seed(2)
    x = torch.randn(1, 2, 4, 4, generator=gen, dtype=torch.float64, requires_grad=True)
    offset = (torch.rand(1, 18, 4, 4, generator=gen, dtype=torch.float64) * 0.8 + 0.1).requires_grad_()
    mask = torch.rand(1, 9, 4, 4, generator=gen, dtype=torch.float64, requires_grad=True)
    weight = torch.randn(3, 2, 3, 3, generator=gen, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda *a: deform_conv2d_torch(a[0], a[1], a[2], None, 1, 1, 1, a[3]),
                                    (x, offset, weight, mask))


def test_module_uses_the_torchvision_layout_and_rejects_bad_shapes():
    layer = ModulatedDeformConv2d(8, 8, 3, padding=1, groups=8, use_torchvision=False)
    assert layer.weight.shape == (8, 1, 3, 3) and layer.bias.shape == (8,)
    out = layer(torch.randn(2, 8, 6, 6), torch.zeros(2, 144, 6, 6), torch.ones(2, 72, 6, 6))
    assert out.shape == (2, 8, 6, 6)
    with pytest.raises(DataError, match="do not fit"):
        layer(torch.randn(1, 8, 6, 6), torch.zeros(1, 10, 6, 6))


@pytest.mark.skipif(_torchvision_op() is None, reason="torchvision's compiled op does not import on this machine")
def test_agrees_with_torchvision_where_both_run():
    op = _torchvision_op()
    for config in CONFIGS:
        x, weight, bias, _, shape, offset_groups, taps = _setup(config, torch.float32)
        _, _, _, stride, padding, dilation, _, _ = config
        offset = torch.randn(shape) * 2
        mask = torch.rand(2, offset_groups * taps, *shape[2:])
        ours = deform_conv2d_torch(x, offset, weight, bias, stride, padding, dilation, mask)
        assert torch.allclose(ours, op(x, offset, weight, bias, stride, padding, dilation, mask), atol=1e-4)
