"""Kim & Kim, "Joint Demosaicing and Deghosting of Time-Varying Exposures for Single-Shot HDR Imaging",
ICCV 2023, pp. 12292-12301 (Jungwoo Kim, Min H. Kim; no arXiv version found), re-implemented for
bracketed RAW.

The network reads one quad-Bayer mosaic whose four pixels per same-colour quad have exposures 1 : 4 : 4 : 16.
It sub-samples it into three exposure groups, gives each its own 3x3 conv, then (shared by the groups)
a demosaicing module: a stride-1 transposed conv to twice the width, two RCAN residual groups of three
RCABs with a long residual, a stride-2 transposed conv (x2) and a conv back. A three-level U-Net of
cross-exposure transformer blocks follows: in 8x8 windows (shifted by half a window on odd blocks) each
exposure's queries attend, separately, to every other exposure's keys and values; a GEGLU MLP per exposure
fuses its cross-attention results; a second GEGLU MLP runs on all exposures' channels concatenated. A sine
position encoding of the window is added to the tokens. The head convolves the concatenated exposures,
pixel-shuffles x2 to RGB, then a sigmoid.

Adaptation to bracketed RAW (ours: the BracketIRE paper does not say how it adapted its baselines):
* the T packed frames are the "exposures" (no quad-Bayer sub-sampling), each exposure-normalised and fed as
  8 channels ``[x, x^(1/2.2)]`` (the native groups feed raw and normalised raw) to its own input conv;
* each frame's queries attend to each of the T - 1 other frames (T(T - 1) pairs instead of 6), and frame
  ``i`` concatenates the results in the order ``i + 1, i + 2, ...`` (mod T); the per-frame MLP keeps its
  hidden width ``3 C`` and the fusion MLP its ratio 4 to the concatenated width ``T C``, so ``num_frames``
  sets T and the parameter count grows with T;
* the demosaicing module keeps its layers with a stride-1 transposed conv (the packed frames are already at
  the output grid), and the head pixel-shuffles by ``scale`` (1 or 4) to 4 channels, with no sigmoid, plus
  a skip from the normalised frame 0 (bilinear x4 at ``scale=4``);
* H and W are padded (reflection) to multiples of ``4 * window`` for the windows of the three levels and
  cropped back; heads split channels contiguously (the official split interleaves them: a permutation).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from models.bracket import check_raws, frame_inputs, upsampled_reference
from models.layers.channel_attention import ResidualGroup
from models.layers.window_attention import (
    pad_to_multiple,
    shifted_window_mask,
    window_partition,
    window_reverse,
)
from simulator.core.errors import ConfigError


def sine_position_encoding(window: int, channels: int, temperature: float = 10000.0) -> torch.Tensor:
    """``[window^2, channels]`` sine/cosine encoding of the (row, column) of each token of a window.

    Rows and columns are normalised to ``(0, 2 pi]``; the first ``channels / 2`` entries encode the row,
    the rest the column, alternating sine and cosine over geometrically spaced frequencies.
    """
    if channels % 4:
        raise ConfigError(f"sine_position_encoding: channels {channels} must be a multiple of 4")
    half = channels // 2
    steps = torch.arange(1, window + 1, dtype=torch.float32) * (2 * math.pi / window)
    freqs = temperature ** (2 * torch.div(torch.arange(half), 2, rounding_mode="floor") / half)
    angles = steps[:, None] / freqs  # [window, half]
    axis = torch.stack([angles[:, 0::2].sin(), angles[:, 1::2].cos()], dim=-1).flatten(1)
    rows = axis[:, None, :].expand(window, window, half)
    cols = axis[None, :, :].expand(window, window, half)
    return torch.cat([rows, cols], dim=-1).reshape(window * window, channels)


class GEGLU(nn.Module):
    """``fc2(gelu(fc11(x)) * fc12(x))`` on the last dimension: ``[..., in] -> [..., out]``."""

    def __init__(self, in_features: int, hidden: int, out_features: int) -> None:
        super().__init__()
        self.fc11 = nn.Linear(in_features, hidden)
        self.fc12 = nn.Linear(in_features, hidden)
        self.fc2 = nn.Linear(hidden, out_features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(F.gelu(self.fc11(x)) * self.fc12(x))


class CrossExposureBlock(nn.Module):
    """Cross-exposure window attention, per-frame GEGLU, then a GEGLU over all frames' channels.

    ``forward(x)``: ``[B, T, C, H, W]`` with H, W multiples of ``window`` -> same shape. Frame ``i``'s queries
    attend separately to each other frame's keys and values inside (shifted, when ``shift``) windows.
    """

    def __init__(self, channels: int, heads: int, window: int, frames: int, shift: bool,
                 exposure_hidden_ratio: float = 3.0, fusion_ratio: float = 4.0) -> None:
        super().__init__()
        if channels % heads:
            raise ConfigError(f"CrossExposureBlock: channels {channels} not divisible by heads {heads}")
        self.heads, self.window, self.frames = heads, window, frames
        self.shift = window // 2 if shift else 0
        self.scale = (channels // heads) ** -0.5
        self.norm1 = nn.LayerNorm(channels)
        self.qkv = nn.Linear(channels, 3 * channels, bias=False)
        self.register_buffer("position", sine_position_encoding(window, channels), persistent=False)
        hidden = int(exposure_hidden_ratio * channels)
        self.exposure_mlps = nn.ModuleList(GEGLU((frames - 1) * channels, hidden, channels) for _ in range(frames))
        self.norm2 = nn.LayerNorm(frames * channels)
        self.fusion = GEGLU(frames * channels, int(fusion_ratio * frames * channels), frames * channels)
        self._masks: dict[tuple[int, int, str], torch.Tensor] = {}

    def mask(self, height: int, width: int, device: torch.device) -> torch.Tensor | None:
        """The shifted-window mask ``[nW, L, L]`` for this grid (cached), ``None`` without a shift."""
        if not self.shift:
            return None
        key = (height, width, str(device))
        if key not in self._masks:
            self._masks[key] = shifted_window_mask(height, width, self.window, self.shift, device)
        return self._masks[key]

    def cross_attention(self, tokens: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
        """``tokens [B, T, nW, L, C]`` -> ``[B, T, nW, L, (T - 1) C]``: frame i attending to i+1, i+2, ..."""
        b, t, windows, length, c = tokens.shape
        qkv = self.qkv(self.norm1(tokens) + self.position)
        q, k, v = qkv.view(b, t, windows, length, 3, self.heads, c // self.heads).permute(4, 0, 1, 2, 5, 3, 6)
        q = q * self.scale  # each [B, T, nW, heads, L, d]
        results = []
        for offset in range(1, t):
            logits = q @ torch.roll(k, -offset, dims=1).transpose(-2, -1)
            if mask is not None:
                logits = logits + mask.to(logits.dtype)[:, None]
            out = logits.softmax(dim=-1) @ torch.roll(v, -offset, dims=1)
            results.append(out.transpose(-3, -2).reshape(b, t, windows, length, c))
        return torch.cat(results, dim=-1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, t, c, h, w = x.shape
        grid = x.permute(0, 1, 3, 4, 2).reshape(b * t, h, w, c)
        if self.shift:
            grid = torch.roll(grid, shifts=(-self.shift, -self.shift), dims=(1, 2))
        tokens = window_partition(grid, self.window).view(b, t, -1, self.window ** 2, c)
        attended = self.cross_attention(tokens, self.mask(h, w, x.device))
        merged = torch.stack([mlp(attended[:, i]) for i, mlp in enumerate(self.exposure_mlps)], dim=1)
        grid = window_reverse(merged.reshape(b * t, -1, self.window ** 2, c).flatten(0, 1), self.window, h, w)
        if self.shift:
            grid = torch.roll(grid, shifts=(self.shift, self.shift), dims=(1, 2))
        x = x + grid.view(b, t, h, w, c).permute(0, 1, 4, 2, 3)
        fused = x.permute(0, 3, 4, 1, 2).reshape(b, h, w, t * c)
        fused = self.fusion(self.norm2(fused)).view(b, h, w, t, c).permute(0, 3, 4, 1, 2)
        return x + fused


def _stage(channels: int, heads: int, window: int, frames: int, blocks: int,
           ratios: tuple[float, float]) -> nn.Sequential:
    """``blocks`` cross-exposure blocks, shifted windows on the odd ones."""
    return nn.Sequential(*(CrossExposureBlock(channels, heads, window, frames, i % 2 == 1, *ratios)
                           for i in range(blocks)))


class _Resample(nn.Module):
    """Per frame: 3x3 conv then pixel (un)shuffle by 2. ``down``: C -> 2C at half size; else C -> C/2 at double."""

    def __init__(self, channels: int, down: bool) -> None:
        super().__init__()
        out = channels // 2 if down else channels * 2
        self.body = nn.Sequential(nn.Conv2d(channels, out, 3, padding=1),
                                  nn.PixelUnshuffle(2) if down else nn.PixelShuffle(2))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.body(x.flatten(0, 1))
        return y.view(*x.shape[:2], *y.shape[1:])


class Demosaicing(nn.Module):
    """Kim's demosaicing module, per frame: ``[N, C, H, W] -> [N, C, u H, u W]`` (``u = upscale``).

    Transposed 3x3 conv ``C -> 2C``, two residual groups of three RCABs with a residual around both,
    transposed 3x3 conv with stride ``u``, 3x3 conv ``2C -> C``.
    """

    def __init__(self, channels: int, upscale: int = 1, groups: int = 2, rcabs: int = 3, reduction: int = 16) -> None:
        super().__init__()
        wide = 2 * channels
        self.first_deconv = nn.ConvTranspose2d(channels, wide, 3, padding=1)
        self.groups = nn.Sequential(*(ResidualGroup(wide, rcabs, reduction) for _ in range(groups)))
        self.up_deconv = nn.ConvTranspose2d(wide, wide, 3, stride=upscale, padding=1, output_padding=upscale - 1)
        self.conv = nn.Conv2d(wide, channels, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.first_deconv(x)
        return self.conv(self.up_deconv(x + self.groups(x)))


def quad_bayer_exposure_groups(mosaic: torch.Tensor) -> list[torch.Tensor]:
    """The native input: ``[B, C, H, W]`` quad-Bayer mosaic (H, W multiples of 4) -> three exposure groups.

    Pixel ``(dy, dx)`` of every 2x2 same-colour quad has exposure level ``2 dy + dx`` (short, mid, mid,
    long); level ``l`` gives ``[B, 4C, H/4, W/4]`` with channel ``4 c + quad`` (quads R, G, G, B). Returns
    ``[short (4C), mid (levels 1 and 2, 8C), long (4C)]``, the inputs of the the spec's ``card`` network.
    """
    levels = []
    for level in range(4):
        dy, dx = divmod(level, 2)
        quads = [mosaic[:, :, dy + 2 * (q // 2)::4, dx + 2 * (q % 2)::4] for q in range(4)]
        levels.append(torch.stack(quads, dim=2).flatten(1, 2))
    return [levels[0], torch.cat(levels[1:3], dim=1), levels[3]]


class Kim2023(nn.Module):
    """Kim & Kim's demosaicing + cross-exposure transformer network, for bracketed RAW.

    Input ``raws``: ``[B, T, 4, h, w]`` packed RGGB as stored, in [0, 1], shortest exposure first, with
    ``T == num_frames``. Output: ``[B, 4, scale * h, scale * w]`` HDR RAW on the unit frame's scale
    (``models/bracket.py``).

    ``in_channels`` (one int, or one per frame), ``out_channels``, ``feature_upscale``, ``head_upscale`` and
    ``output_sigmoid`` exist to rebuild the published network (the spec's ``card``); it runs through
    :meth:`forward_exposures` on :func:`quad_bayer_exposure_groups`, not through :meth:`forward`.
    """

    def __init__(self, num_frames: int = 5, exposure_ratio: float = 4.0, unit_frame: int | None = None,
                 scale: int = 1, features: int = 32, blocks: tuple[int, int, int] = (2, 4, 2),
                 heads: tuple[int, int, int] = (2, 4, 8), window: int = 8, reduction: int = 16,
                 exposure_hidden_ratio: float = 3.0, fusion_ratio: float = 4.0,
                 in_channels: int | tuple[int, ...] = 8, out_channels: int = 4, feature_upscale: int = 1,
                 head_upscale: int | None = None, output_sigmoid: bool = False) -> None:
        super().__init__()
        if scale not in (1, 4):
            raise ConfigError(f"Kim2023 scale={scale}; expected 1 or 4")
        if num_frames < 2 or len(blocks) != 3 or len(heads) != 3:
            raise ConfigError(f"Kim2023 needs num_frames >= 2 and three levels; got {num_frames}, {blocks}, {heads}")
        ins = (in_channels,) * num_frames if isinstance(in_channels, int) else tuple(in_channels)
        if len(ins) != num_frames:
            raise ConfigError(f"Kim2023: {len(ins)} input channel counts for {num_frames} frames")
        self.num_frames, self.exposure_ratio, self.scale = num_frames, exposure_ratio, scale
        self.unit_frame = unit_frame
        self.in_channels, self.out_channels, self.window = ins, out_channels, window
        self.feature_upscale = feature_upscale
        self.head_upscale = scale if head_upscale is None else head_upscale
        self.output_sigmoid = output_sigmoid
        f, t, ratios = features, num_frames, (exposure_hidden_ratio, fusion_ratio)
        self.input_convs = nn.ModuleList(nn.Conv2d(c, f, 3, padding=1) for c in ins)
        self.demosaicing = Demosaicing(f, feature_upscale, reduction=reduction)
        self.encoder1 = _stage(f, heads[0], window, t, blocks[0], ratios)
        self.down1 = _Resample(f, down=True)
        self.encoder2 = _stage(2 * f, heads[1], window, t, blocks[1], ratios)
        self.down2 = _Resample(2 * f, down=True)
        self.bottleneck = _stage(4 * f, heads[2], window, t, blocks[2], ratios)
        self.up2 = _Resample(4 * f, down=False)
        self.reduce2 = nn.Conv2d(4 * f, 2 * f, 1, bias=False)
        self.decoder2 = _stage(2 * f, heads[1], window, t, blocks[1], ratios)
        self.up1 = _Resample(2 * f, down=False)
        self.reduce1 = nn.Conv2d(2 * f, f, 1, bias=False)
        self.decoder1 = _stage(f, heads[0], window, t, blocks[0], ratios)
        self.conv_last = nn.Conv2d(t * f, 2 * f, 3, padding=1)
        u = self.head_upscale
        self.head = nn.Sequential(nn.ReLU(), nn.Conv2d(2 * f, f * u * u, 3, padding=1),
                                  nn.PixelShuffle(u), nn.Conv2d(f, out_channels, 3, padding=1))

    @staticmethod
    def _per_frame(layer: nn.Module, x: torch.Tensor) -> torch.Tensor:
        y = layer(x.flatten(0, 1))
        return y.view(*x.shape[:2], *y.shape[1:])

    def transformer(self, x: torch.Tensor) -> torch.Tensor:
        """The three-level U-Net on ``[B, T, C, H, W]`` (H, W multiples of ``4 * window``) -> same shape."""
        skip1 = self.encoder1(x)
        skip2 = self.encoder2(self.down1(skip1))
        deep = self.up2(self.bottleneck(self.down2(skip2)))
        y = self.decoder2(self._per_frame(self.reduce2, torch.cat([deep, skip2], dim=2)))
        y = self._per_frame(self.reduce1, torch.cat([self.up1(y), skip1], dim=2))
        return self.decoder1(y)

    def forward_exposures(self, groups: list[torch.Tensor]) -> torch.Tensor:
        """The network on per-frame inputs ``[B, in_channels[i], H, W]`` -> ``[B, out_channels, u H, u W]``,
        ``u = feature_upscale * head_upscale``."""
        h, w = groups[0].shape[-2:]
        multiple = 4 * self.window
        feats = torch.stack([conv(pad_to_multiple(g, multiple)) for conv, g in zip(self.input_convs, groups)], dim=1)
        feats = self._per_frame(self.demosaicing, feats)
        fused = feats + self.transformer(feats)
        out = self.head(self.conv_last(fused.flatten(1, 2)))
        u = self.feature_upscale * self.head_upscale
        out = out[..., : u * h, : u * w]
        return torch.sigmoid(out) if self.output_sigmoid else out

    def forward(self, raws: torch.Tensor, exposures: torch.Tensor | None = None) -> torch.Tensor:
        check_raws(raws, self.num_frames)
        native = set(self.in_channels) != {8} or self.out_channels != 4
        if native or self.feature_upscale != 1 or self.head_upscale != self.scale:
            raise ConfigError("this Kim2023 has the published configuration; call forward_exposures() instead")
        lqs, frames = frame_inputs(raws, self.exposure_ratio, self.unit_frame, exposures=exposures)
        return self.forward_exposures(list(frames.unbind(1))) + upsampled_reference(lqs, self.scale)
