"""Swin-style window attention (Liu et al., ICCV 2021, arXiv 2103.14030) for the transformer baselines.

Tokens live on an ``H x W`` grid and attend only within non-overlapping ``window x window`` windows; a
block with ``shift > 0`` first rolls the grid by ``-shift`` so that windows straddle the previous block's
borders, and an attention mask (:func:`shifted_window_mask`) keeps tokens that the roll brought together
from opposite image borders from attending to each other. Each window attention adds a learned relative
position bias, one value per head and per 2-D offset between two tokens of a window.

Used by HDR-Transformer, SCTNet and Kim & Kim 2023 (``models/baselines``). ``H`` and ``W`` must be
multiples of the window: pad with :func:`pad_to_multiple` and undo it with :func:`crop_to`.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from simulator.core.errors import ConfigError, DataError

MASKED = -100.0  # added to the logits of token pairs a shifted window must keep apart (Swin's value)


def window_partition(x: torch.Tensor, window: int) -> torch.Tensor:
    """``[N, H, W, C]`` -> ``[N * nW, window * window, C]``, windows in row-major order per image.

    ``H`` and ``W`` must be multiples of ``window``; ``nW = (H // window) * (W // window)``.
    """
    n, h, w, c = x.shape
    if h % window or w % window:
        raise DataError(f"window_partition: grid {h}x{w} is not a multiple of the window {window}")
    x = x.view(n, h // window, window, w // window, window, c)
    return x.permute(0, 1, 3, 2, 4, 5).reshape(-1, window * window, c)


def window_reverse(windows: torch.Tensor, window: int, height: int, width: int) -> torch.Tensor:
    """Inverse of :func:`window_partition`: ``[N * nW, window * window, C]`` -> ``[N, height, width, C]``."""
    rows, cols = height // window, width // window
    c = windows.shape[-1]
    x = windows.view(-1, rows, cols, window, window, c)
    return x.permute(0, 1, 3, 2, 4, 5).reshape(-1, height, width, c)


def shifted_window_mask(height: int, width: int, window: int, shift: int,
                        device: torch.device | str | None = None) -> torch.Tensor:
    """Additive attention mask ``[nW, window^2, window^2]`` of a grid rolled by ``-shift``.

    After the roll, the last window row and column mix tokens from up to three regions per axis (the
    interior, the strip brought in from the opposite border); a pair of tokens of one window gets ``0``
    when both come from the same region and ``-100`` otherwise. ``shift = 0`` gives an all-zero mask.
    """
    if not 0 <= shift < window:
        raise ConfigError(f"shift {shift} must lie in [0, window={window})")
    regions = torch.zeros(1, height, width, 1, device=device)
    if shift > 0:
        bands = (slice(0, -window), slice(-window, -shift), slice(-shift, None))
        for i, rows in enumerate(bands):
            for j, cols in enumerate(bands):
                regions[:, rows, cols, :] = 3 * i + j
    ids = window_partition(regions, window).squeeze(-1)  # [nW, L]
    different = ids.unsqueeze(1) != ids.unsqueeze(2)
    return torch.zeros_like(different, dtype=torch.float32).masked_fill(different, MASKED)


def relative_position_index(window: int) -> torch.Tensor:
    """``[L, L]`` (``L = window^2``) index into a ``(2 * window - 1)^2`` table of 2-D offsets between tokens."""
    rows, cols = torch.meshgrid(torch.arange(window), torch.arange(window), indexing="ij")
    coords = torch.stack([rows.flatten(), cols.flatten()])  # [2, L]
    offset = coords[:, :, None] - coords[:, None, :] + (window - 1)  # [2, L, L], each in [0, 2w - 2]
    return offset[0] * (2 * window - 1) + offset[1]


def init_transformer_weights(module: nn.Module) -> None:
    """The Swin initialisation, for ``model.apply``: linear weights truncated normal (std 0.02) with
    zero bias, layer norms at identity."""
    if isinstance(module, nn.Linear):
        nn.init.trunc_normal_(module.weight, std=0.02, a=-2.0, b=2.0)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, nn.LayerNorm):
        nn.init.ones_(module.weight)
        nn.init.zeros_(module.bias)


class WindowAttention(nn.Module):
    """Multi-head self-attention inside each window, with a learned relative position bias.

    ``forward(x, mask)``: tokens ``[N * nW, window^2, dim]`` (from :func:`window_partition`) and an optional
    additive mask ``[nW, window^2, window^2]`` shared by the ``N`` images -> ``[N * nW, window^2, dim]``.
    """

    def __init__(self, dim: int, window: int, heads: int, qkv_bias: bool = True) -> None:
        super().__init__()
        if dim % heads:
            raise ConfigError(f"WindowAttention: dim {dim} is not divisible by heads {heads}")
        self.dim, self.window, self.heads = dim, window, heads
        self.scale = (dim // heads) ** -0.5
        self.relative_position_bias_table = nn.Parameter(torch.zeros((2 * window - 1) ** 2, heads))
        nn.init.trunc_normal_(self.relative_position_bias_table, std=0.02, a=-2.0, b=2.0)
        self.register_buffer("relative_position_index", relative_position_index(window), persistent=False)
        self.qkv = nn.Linear(dim, 3 * dim, bias=qkv_bias)
        self.proj = nn.Linear(dim, dim)

    def relative_position_bias(self) -> torch.Tensor:
        """``[heads, window^2, window^2]`` bias added to the attention logits."""
        length = self.window * self.window
        bias = self.relative_position_bias_table[self.relative_position_index.flatten()]
        return bias.view(length, length, self.heads).permute(2, 0, 1)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        b, length, c = x.shape
        q, k, v = self.qkv(x).view(b, length, 3, self.heads, c // self.heads).permute(2, 0, 3, 1, 4)
        logits = (q * self.scale) @ k.transpose(-2, -1) + self.relative_position_bias().unsqueeze(0)
        if mask is not None:
            windows = mask.shape[0]
            mask = mask.to(logits.dtype)[None, :, None]  # [1, nW, 1, L, L]
            logits = logits.view(b // windows, windows, self.heads, length, length) + mask
            logits = logits.view(b, self.heads, length, length)
        out = logits.softmax(dim=-1) @ v  # [b, heads, L, c / heads]
        return self.proj(out.transpose(1, 2).reshape(b, length, c))


class Mlp(nn.Module):
    """``fc2(GELU(fc1(x)))`` on the last dimension: ``[..., dim] -> [..., out_dim or dim]``."""

    def __init__(self, dim: int, hidden: int, out_dim: int | None = None) -> None:
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden, out_dim or dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.act(self.fc1(x)))


class SwinBlock(nn.Module):
    """Pre-norm Swin transformer block: ``x + (S)W-MSA(LN(x))``, then ``x + MLP(LN(x))``.

    ``forward(x, size)``: tokens ``[N, H * W, dim]`` of an ``H x W`` grid, ``size = (H, W)`` multiples of
    ``window`` -> same shape. ``shift = 0`` is W-MSA, ``shift > 0`` (usually ``window // 2``) is SW-MSA.
    """

    def __init__(self, dim: int, heads: int, window: int, shift: int = 0, mlp_ratio: float = 4.0,
                 qkv_bias: bool = True) -> None:
        super().__init__()
        if not 0 <= shift < window:
            raise ConfigError(f"SwinBlock: shift {shift} must lie in [0, window={window})")
        self.window, self.shift = window, shift
        self.norm1 = nn.LayerNorm(dim)
        self.attn = WindowAttention(dim, window, heads, qkv_bias)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = Mlp(dim, int(dim * mlp_ratio))
        self._masks: dict[tuple[int, int, str], torch.Tensor] = {}

    def mask(self, height: int, width: int, device: torch.device) -> torch.Tensor | None:
        """The shifted-window mask for this grid (cached per size and device), ``None`` without a shift."""
        if self.shift == 0:
            return None
        key = (height, width, str(device))
        if key not in self._masks:
            self._masks[key] = shifted_window_mask(height, width, self.window, self.shift, device)
        return self._masks[key]

    def window_attention(self, x: torch.Tensor) -> torch.Tensor:
        """(Shifted) window attention on a grid ``[N, H, W, dim]`` -> ``[N, H, W, dim]`` (no residual)."""
        h, w = x.shape[1:3]
        if self.shift:
            x = torch.roll(x, shifts=(-self.shift, -self.shift), dims=(1, 2))
        windows = self.attn(window_partition(x, self.window), self.mask(h, w, x.device))
        x = window_reverse(windows, self.window, h, w)
        if self.shift:
            x = torch.roll(x, shifts=(self.shift, self.shift), dims=(1, 2))
        return x

    def forward(self, x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
        n, length, c = x.shape
        h, w = size
        x = x + self.window_attention(self.norm1(x).view(n, h, w, c)).reshape(n, length, c)
        return x + self.mlp(self.norm2(x))


def pad_to_multiple(x: torch.Tensor, multiple: int) -> torch.Tensor:
    """Pad ``[N, C, H, W]`` at the bottom and right so that ``H`` and ``W`` are multiples of ``multiple``.

    Reflection padding (as SwinIR and SCTNet do), replication where the image is too small to reflect.
    Undo with ``crop_to(y, x.shape[-2:])``.
    """
    h, w = x.shape[-2:]
    pad_h, pad_w = -h % multiple, -w % multiple
    if pad_h == 0 and pad_w == 0:
        return x
    mode = "reflect" if pad_h < h and pad_w < w else "replicate"
    return F.pad(x, (0, pad_w, 0, pad_h), mode=mode)


def crop_to(x: torch.Tensor, size: tuple[int, int] | torch.Size) -> torch.Tensor:
    """The top-left ``size = (H, W)`` of ``[..., H', W']`` (``H' >= H``, ``W' >= W``)."""
    return x[..., : size[0], : size[1]]


def to_tokens(x: torch.Tensor) -> torch.Tensor:
    """``[N, C, H, W]`` -> ``[N, H * W, C]``."""
    return x.flatten(2).transpose(1, 2)


def to_image(x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """``[N, H * W, C]`` -> ``[N, C, H, W]`` for ``size = (H, W)``."""
    return x.transpose(1, 2).reshape(x.shape[0], x.shape[2], size[0], size[1])
