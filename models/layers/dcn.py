"""Modulated deformable convolution (DCNv2, Zhu et al., CVPR 2019) in pure PyTorch.

Semantics are torchvision's ``deform_conv2d``, so weights and offsets trained with it (TMRNet, BasicVSR++)
work unchanged:

* offsets ``[N, 2 * G * kh * kw, Ho, Wo]`` are laid out per offset group ``g``, then per kernel position
  ``k = i * kw + j``, as ``(dy, dx)`` pairs: channel ``g * 2 * kh * kw + 2 * k`` is dy, the next is dx;
* the mask ``[N, G * kh * kw, Ho, Wo]`` has channel ``g * kh * kw + k``; input channel ``c`` belongs to
  offset group ``c // (C / G)``;
* the sampling point of output ``(oy, ox)`` is ``y = oy * stride - pad + i * dil + dy`` (likewise x), read
  with bilinear interpolation from the zero-extended input (corners outside contribute 0);
* the sampled values times the mask form im2col rows ``c * kh * kw + k``, multiplied per weight group.

torchvision's compiled op is used instead when it imports and ``use_torchvision=True`` (the default);
both give the same numbers to float rounding.
"""

from __future__ import annotations

import importlib
import math

import torch
from torch import nn

from simulator.core.errors import DataError


def _pair(value: int | tuple[int, int]) -> tuple[int, int]:
    return (value, value) if isinstance(value, int) else tuple(value)  # type: ignore[return-value]


def _torchvision_op():
    try:  # optional fast path, imported by name so nothing in the core depends on torchvision
        return importlib.import_module("torchvision.ops").deform_conv2d
    except Exception:  # torchvision missing or built for another torch / CUDA
        return None


def deform_conv2d_torch(
    input: torch.Tensor,
    offset: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor | None = None,
    stride: int | tuple[int, int] = 1,
    padding: int | tuple[int, int] = 0,
    dilation: int | tuple[int, int] = 1,
    mask: torch.Tensor | None = None,
) -> torch.Tensor:
    """Modulated deformable convolution, pure PyTorch (any device, floating dtype, differentiable).

    Args:
        input: ``[N, C, H, W]``.
        offset: ``[N, 2 * G * kh * kw, Ho, Wo]`` (dy, dx) per offset group and kernel position.
        weight: ``[C_out, C / groups, kh, kw]``; ``groups = C // weight.shape[1]``.
        bias: ``[C_out]`` or None.
        stride, padding, dilation: as for ``torch.nn.functional.conv2d``.
        mask: ``[N, G * kh * kw, Ho, Wo]`` modulation (DCNv2), or None for 1 (DCNv1).

    Returns:
        ``[N, C_out, Ho, Wo]``.
    """
    n, channels, height, width = input.shape
    out_channels, group_channels, kh, kw = weight.shape
    (sh, sw), (ph, pw), (dh, dw) = _pair(stride), _pair(padding), _pair(dilation)
    out_h = (height + 2 * ph - dh * (kh - 1) - 1) // sh + 1
    out_w = (width + 2 * pw - dw * (kw - 1) - 1) // sw + 1
    taps = kh * kw
    if channels % group_channels or offset.shape[1] % (2 * taps) or tuple(offset.shape[2:]) != (out_h, out_w):
        raise DataError(f"deform_conv2d: input {tuple(input.shape)}, offset {tuple(offset.shape)} and weight "
                        f"{tuple(weight.shape)} do not fit (expected offset [N, 2*G*{taps}, {out_h}, {out_w}])")
    groups = channels // group_channels
    offset_groups = offset.shape[1] // (2 * taps)
    if channels % offset_groups:
        raise DataError(f"deform_conv2d: {channels} input channels do not split into {offset_groups} offset groups")
    per_group = channels // offset_groups
    dtype = input.dtype

    rows = torch.arange(out_h, device=input.device, dtype=dtype) * sh - ph
    cols = torch.arange(out_w, device=input.device, dtype=dtype) * sw - pw
    ki = torch.arange(kh, device=input.device, dtype=dtype).repeat_interleave(kw) * dh  # [K]
    kj = torch.arange(kw, device=input.device, dtype=dtype).repeat(kh) * dw
    offset = offset.reshape(n, offset_groups, taps, 2, out_h, out_w)
    y = rows.view(1, 1, 1, out_h, 1) + ki.view(1, 1, taps, 1, 1) + offset[:, :, :, 0]  # [N, G, K, Ho, Wo]
    x = cols.view(1, 1, 1, 1, out_w) + kj.view(1, 1, taps, 1, 1) + offset[:, :, :, 1]

    y0, x0 = torch.floor(y), torch.floor(x)
    flat = input.reshape(n, offset_groups, 1, per_group, height * width)
    # The work is on the [N, G, K, C/G, Ho*Wo] samples: one gather and one in-place multiply-add per corner.
    # Everything per sampling point (bilinear weight, inside test, DCNv2 mask) is folded into one small map
    # first, and the first corner writes the samples instead of adding to zeros.
    modulation = None if mask is None else mask.reshape(n, offset_groups, taps, out_h, out_w)
    sampled = torch.empty(0, device=input.device, dtype=dtype)
    for corner_index, (dy, dx) in enumerate(((0, 0), (0, 1), (1, 0), (1, 1))):
        yy, xx = y0 + dy, x0 + dx
        weight_map = (1 - (y - yy).abs()) * (1 - (x - xx).abs())  # bilinear weight of this corner
        weight_map = weight_map * ((yy >= 0) & (yy <= height - 1) & (xx >= 0) & (xx <= width - 1))
        if modulation is not None:
            weight_map = weight_map * modulation
        weight_map = weight_map.reshape(n, offset_groups, taps, 1, out_h * out_w)
        index = (yy.clamp(0, height - 1) * width + xx.clamp(0, width - 1)).long()
        index = index.reshape(n, offset_groups, taps, 1, out_h * out_w).expand(-1, -1, -1, per_group, -1)
        values = torch.gather(flat.expand(-1, -1, taps, -1, -1), 4, index)
        if torch.is_grad_enabled() and (values.requires_grad or weight_map.requires_grad):
            term = values * weight_map  # out of place: autograd keeps every corner's inputs
            sampled = term if corner_index == 0 else sampled + term
        elif corner_index == 0:
            sampled = values.mul_(weight_map)
        else:
            sampled.addcmul_(values, weight_map)
    # im2col rows c * K + k, then one matrix product per weight group
    columns = sampled.permute(0, 1, 3, 2, 4).reshape(n, groups, group_channels * taps, out_h * out_w)
    kernels = weight.reshape(groups, out_channels // groups, group_channels * taps)
    out = torch.einsum("gok,ngkl->ngol", kernels, columns).reshape(n, out_channels, out_h, out_w)
    if bias is not None:
        out = out + bias.view(1, -1, 1, 1)
    return out


class ModulatedDeformConv2d(nn.Module):
    """DCNv2 layer with torchvision's parameter layout (``weight [C_out, C_in / groups, kh, kw]``, ``bias``).

    ``forward(x, offset, mask)``: ``x [N, C_in, H, W]``, ``offset [N, 2 * G * kh * kw, Ho, Wo]``,
    ``mask [N, G * kh * kw, Ho, Wo]`` in [0, 1] -> ``[N, C_out, Ho, Wo]``.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int | tuple[int, int], stride: int = 1,
                 padding: int = 0, dilation: int = 1, groups: int = 1, bias: bool = True,
                 use_torchvision: bool = True) -> None:
        super().__init__()
        kh, kw = _pair(kernel_size)
        self.stride, self.padding, self.dilation = stride, padding, dilation
        self.weight = nn.Parameter(torch.empty(out_channels, in_channels // groups, kh, kw))
        self.bias = nn.Parameter(torch.empty(out_channels)) if bias else None
        self.use_torchvision = use_torchvision
        nn.init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            bound = 1 / math.sqrt(in_channels // groups * kh * kw)
            nn.init.uniform_(self.bias, -bound, bound)

    def forward(self, x: torch.Tensor, offset: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        op = _torchvision_op() if self.use_torchvision else None
        if op is not None:
            return op(x, offset, self.weight, self.bias, self.stride, self.padding, self.dilation, mask)
        return deform_conv2d_torch(x, offset, self.weight, self.bias, self.stride, self.padding, self.dilation, mask)
