"""Restormer's transposed (channel) attention and gated feed-forward (Zamir et al., CVPR 2022, arXiv 2111.09881).

Used by Burstormer (self attention inside its burst feature attention blocks) and SCTNet (cross attention:
the reference frame's features query another frame's). All layers work on ``[N, C, H, W]`` feature maps.

* ``LayerNorm2d``: layer norm over the channels of every pixel; ``bias=False`` is Restormer's "BiasFree"
  variant, which divides by the standard deviation without subtracting the mean and has no bias.
* ``TransposedAttention``: MDTA; the attention map is ``C/heads x C/heads`` per head, so its cost grows
  linearly with the number of pixels.
* ``GatedDconvFeedForward``: GDFN, a GELU-gated depthwise-conv MLP.
* ``TransformerBlock``: pre-norm residual ``x + attn(norm(x))`` then ``x + ffn(norm(x))`` (Burstormer's BFA).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from simulator.core.errors import ConfigError, DataError


class LayerNorm2d(nn.Module):
    """Per-pixel layer norm over channels; ``[N, C, H, W] -> [N, C, H, W]``.

    ``bias=True``: ``(x - mean) / sqrt(var + eps) * weight + bias``.
    ``bias=False``: ``x / sqrt(var + eps) * weight`` (no centring, no bias: Restormer's BiasFree variant).
    Variances are biased (divide by C), ``eps = 1e-5``.
    """

    def __init__(self, channels: int, bias: bool = True, eps: float = 1e-5) -> None:
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(channels))
        self.bias = nn.Parameter(torch.zeros(channels)) if bias else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        var = x.var(dim=1, keepdim=True, unbiased=False)
        if self.bias is None:
            return x / torch.sqrt(var + self.eps) * self.weight.view(1, -1, 1, 1)
        centred = x - x.mean(dim=1, keepdim=True)
        return centred / torch.sqrt(var + self.eps) * self.weight.view(1, -1, 1, 1) + self.bias.view(1, -1, 1, 1)


def _heads_first(x: torch.Tensor, heads: int) -> torch.Tensor:
    """``[N, C, H, W] -> [N, heads, C / heads, H * W]``."""
    n, c, h, w = x.shape
    return x.reshape(n, heads, c // heads, h * w)


class TransposedAttention(nn.Module):
    """Multi-Dconv head transposed attention (MDTA).

    Queries, keys and values come from a 1x1 convolution followed (``depthwise=True``) by a 3x3 depthwise
    convolution. Per head, q and k ``[C/heads, H*W]`` are L2-normalised along the pixels; the attention map
    ``softmax(q k^T * temperature_head)`` is ``[C/heads, C/heads]`` and mixes the value channels; a 1x1
    convolution projects the result.

    ``forward(x, context=None)``: ``x [N, C, H, W]`` -> ``[N, C, H, W]``. With ``cross=True`` the queries
    come from ``x`` and keys/values from ``context`` (same shape as ``x``); ``context=None`` then means
    ``context = x``. With ``cross=False`` one ``qkv`` projection serves all three and ``context`` must be None.

    Parameters: ``qkv`` (self) or ``q`` and ``kv`` (cross) 1x1 convs with their ``*_dwconv``, ``project_out``,
    ``temperature [heads, 1, 1]``; both layouts hold the same number of weights. SCTNet's mutual attention
    is ``cross=True, depthwise=False``.
    """

    def __init__(self, channels: int, heads: int, bias: bool = False, cross: bool = False,
                 depthwise: bool = True) -> None:
        super().__init__()
        if channels % heads:
            raise ConfigError(f"TransposedAttention: {channels} channels do not split into {heads} heads")
        self.heads, self.cross = heads, cross
        self.temperature = nn.Parameter(torch.ones(heads, 1, 1))
        if cross:
            self.q = nn.Conv2d(channels, channels, 1, bias=bias)
            self.kv = nn.Conv2d(channels, 2 * channels, 1, bias=bias)
            self.q_dwconv = _depthwise(channels, bias) if depthwise else nn.Identity()
            self.kv_dwconv = _depthwise(2 * channels, bias) if depthwise else nn.Identity()
        else:
            self.qkv = nn.Conv2d(channels, 3 * channels, 1, bias=bias)
            self.qkv_dwconv = _depthwise(3 * channels, bias) if depthwise else nn.Identity()
        self.project_out = nn.Conv2d(channels, channels, 1, bias=bias)

    def _qkv(self, x: torch.Tensor, context: torch.Tensor | None) -> tuple[torch.Tensor, ...]:
        if not self.cross:
            if context is not None:
                raise ConfigError("TransposedAttention(cross=False) takes no context; build it with cross=True")
            return self.qkv_dwconv(self.qkv(x)).chunk(3, dim=1)
        context = x if context is None else context
        if context.shape != x.shape:
            raise DataError(f"TransposedAttention: context {tuple(context.shape)} != queries {tuple(x.shape)}")
        return (self.q_dwconv(self.q(x)), *self.kv_dwconv(self.kv(context)).chunk(2, dim=1))

    def attention_map(self, x: torch.Tensor, context: torch.Tensor | None = None) -> torch.Tensor:
        """The per-head channel attention ``[N, heads, C/heads, C/heads]`` (rows sum to 1)."""
        q, k, _ = self._qkv(x, context)
        return self._map(q, k)

    def _map(self, q: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
        q = F.normalize(_heads_first(q, self.heads), dim=-1)
        k = F.normalize(_heads_first(k, self.heads), dim=-1)
        return torch.softmax(q @ k.transpose(-2, -1) * self.temperature, dim=-1)

    def forward(self, x: torch.Tensor, context: torch.Tensor | None = None) -> torch.Tensor:
        q, k, v = self._qkv(x, context)
        out = self._map(q, k) @ _heads_first(v, self.heads)
        return self.project_out(out.reshape(x.shape))


def _depthwise(channels: int, bias: bool) -> nn.Conv2d:
    return nn.Conv2d(channels, channels, 3, padding=1, groups=channels, bias=bias)


class GatedDconvFeedForward(nn.Module):
    """Gated-Dconv feed-forward network (GDFN); ``[N, C, H, W] -> [N, C, H, W]``.

    1x1 conv ``C -> 2 * hidden`` (``hidden = int(C * expansion)``), 3x3 depthwise conv, ``gelu(a) * b`` over
    the two halves, 1x1 conv ``hidden -> C``.
    """

    def __init__(self, channels: int, expansion: float = 2.66, bias: bool = False) -> None:
        super().__init__()
        hidden = int(channels * expansion)
        self.project_in = nn.Conv2d(channels, 2 * hidden, 1, bias=bias)
        self.dwconv = _depthwise(2 * hidden, bias)
        self.project_out = nn.Conv2d(hidden, channels, 1, bias=bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a, b = self.dwconv(self.project_in(x)).chunk(2, dim=1)
        return self.project_out(F.gelu(a) * b)


class TransformerBlock(nn.Module):
    """Restormer block: ``x + MDTA(LN(x))`` then ``x + GDFN(LN(x))``; ``[N, C, H, W] -> [N, C, H, W]``.

    ``bias`` applies to the convolutions, ``norm_bias`` picks the layer norm variant (``LayerNorm2d``).
    """

    def __init__(self, channels: int, heads: int = 1, expansion: float = 2.66, bias: bool = False,
                 norm_bias: bool = True) -> None:
        super().__init__()
        self.norm1 = LayerNorm2d(channels, norm_bias)
        self.attn = TransposedAttention(channels, heads, bias)
        self.norm2 = LayerNorm2d(channels, norm_bias)
        self.ffn = GatedDconvFeedForward(channels, expansion, bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.norm1(x))
        return x + self.ffn(self.norm2(x))
