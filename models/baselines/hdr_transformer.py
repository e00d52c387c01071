"""HDR-Transformer / CA-ViT (Liu, Wang, Zeng, Liu, "Ghost-free High Dynamic Range Imaging with Context-aware
Transformer", ECCV 2022, arXiv 2208.05114), adapted to bracketed RAW.

The published network (3 LDR frames of 6 channels, the middle one the reference, 3-channel sigmoid output):

* a 3x3 conv per frame to ``embed`` channels; every non-reference frame is gated by an AHDRNet-style
  spatial attention map computed from it and the reference; ``conv_first`` merges the concatenation;
* context-aware transformer blocks (CTBs): each stacks CA-ViT layers, a Swin (shifted) window attention
  global branch plus a local context extractor (1x1 / 3x3 / 1x1 convs and squeeze-excitation channel
  attention) on the same normalised input, and ends in a dilated 3x3 conv with a residual;
* a global residual (body + ``conv_first`` output), ``conv_after_body``, the reference frame's features
  added back, and ``conv_last`` to RGB.

Our adaptation to bracketed RAW (the BracketIRE paper's recipe is unknown): every frame is the 8-channel
``with_gamma`` copy of its exposure-normalised packed RAW, the reference is frame 0 (the shortest exposure,
whose instant the output shows) instead of the middle frame, there are ``T`` per-frame convs and ``T - 1``
attention modules, the head predicts 4 channels without a sigmoid (HDR values reach 16) and adds the
normalised frame 0 (bilinearly upsampled for ``scale=4``, after a two-step x2 PixelShuffle tail), and H, W
are padded to the window multiple and cropped back. the spec's ``card`` rebuilds the published network (1.222 M).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from models.bracket import check_raws, frame_inputs, upsampled_reference
from models.layers.blocks import PixelShufflePack
from models.layers.window_attention import (
    SwinBlock,
    crop_to,
    init_transformer_weights,
    pad_to_multiple,
    to_image,
    to_tokens,
)
from simulator.core.errors import ConfigError


class SpatialAttention(nn.Module):
    """AHDRNet-style gate: ``sigmoid(conv(lrelu(conv([other, reference]))))``.

    ``forward(other, reference)``: ``[N, C, H, W]`` each -> attention map ``[N, C, H, W]`` in (0, 1).
    """

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.att1 = nn.Conv2d(2 * channels, 2 * channels, 3, padding=1)
        self.att2 = nn.Conv2d(2 * channels, channels, 3, padding=1)
        self.relu = nn.LeakyReLU()

    def forward(self, other: torch.Tensor, reference: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.att2(self.relu(self.att1(torch.cat([other, reference], dim=1)))))


class LocalContextExtractor(nn.Module):
    """CA-ViT's local branch: a 1x1 / 3x3 / 1x1 bottleneck (width ``C // reduction``) and LeakyReLU(0.2),
    scaled by squeeze-excitation channel weights. ``[N, C, H, W] -> [N, C, H, W]``."""

    def __init__(self, channels: int, reduction: int = 8) -> None:
        super().__init__()
        mid = max(channels // reduction, 1)
        self.conv = nn.Sequential(
            nn.Conv2d(channels, mid, 1), nn.Conv2d(mid, mid, 3, padding=1), nn.Conv2d(mid, channels, 1),
            nn.LeakyReLU(0.2),
        )
        self.fc = nn.Sequential(
            nn.Linear(channels, mid, bias=False), nn.ReLU(), nn.Linear(mid, channels, bias=False), nn.Sigmoid(),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv(x)
        weights = self.fc(x.mean(dim=(2, 3)))
        return x * weights[:, :, None, None]


class ContextAwareLayer(SwinBlock):
    """CA-ViT layer: a Swin block (global branch) plus the local context of its normalised input.

    ``forward(x, size)``: tokens ``[N, H * W, C]`` -> same; ``x + attn(LN x)``, ``+ MLP(LN .)``, ``+ LCE(LN x)``.
    """

    def __init__(self, dim: int, heads: int, window: int, shift: int, mlp_ratio: float) -> None:
        super().__init__(dim, heads, window, shift, mlp_ratio)
        self.lce = LocalContextExtractor(dim)

    def forward(self, x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
        n, length, c = x.shape
        normed = self.norm1(x)
        x = x + self.window_attention(normed.view(n, size[0], size[1], c)).reshape(n, length, c)
        x = x + self.mlp(self.norm2(x))
        return x + to_tokens(self.lce(to_image(normed, size)))


class ContextAwareBlock(nn.Module):
    """Context-aware transformer block (CTB): ``depth`` CA-ViT layers, shifted on odd indices, then a
    dilated 3x3 conv, plus the block input. ``forward(x, size)``: ``[N, H * W, C]`` -> same."""

    def __init__(self, dim: int, depth: int, heads: int, window: int, mlp_ratio: float) -> None:
        super().__init__()
        self.layers = nn.ModuleList(
            ContextAwareLayer(dim, heads, window, 0 if i % 2 == 0 else window // 2, mlp_ratio) for i in range(depth)
        )
        self.dilated_conv = nn.Conv2d(dim, dim, 3, padding=2, dilation=2)

    def forward(self, x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
        out = x
        for layer in self.layers:
            out = layer(out, size)
        return to_tokens(self.dilated_conv(to_image(out, size))) + x


class HDRTransformer(nn.Module):
    """HDR-Transformer for bracketed RAW (``scale=1``: BracketIRE, ``scale=4``: BracketIRE+).

    Input ``raws``: ``[B, T, 4, h, w]`` packed RGGB as stored, in [0, 1], shortest exposure first.
    Output: ``[B, 4, scale * h, scale * w]`` HDR RAW at the shortest exposure's instant, on the unit frame's
    scale (``models/bracket.py``). ``in_channels`` / ``out_channels`` (per frame) exist to rebuild the
    published RGB network (the spec's ``card``); :meth:`forward` needs the default 8 / 4.
    """

    def __init__(self, num_frames: int = 5, exposure_ratio: float = 4.0, unit_frame: int | None = None,
                 scale: int = 1, embed_dim: int = 60, depths: Sequence[int] = (6, 6, 6),
                 heads: int | Sequence[int] = 6, window: int = 8, mlp_ratio: float = 2.0,
                 in_channels: int = 8, out_channels: int = 4) -> None:
        super().__init__()
        if scale not in (1, 4):
            raise ConfigError(f"HDRTransformer scale={scale}; expected 1 (BracketIRE) or 4 (BracketIRE+)")
        if num_frames < 2:
            raise ConfigError(f"HDRTransformer needs num_frames >= 2; got {num_frames}")
        heads = [heads] * len(depths) if isinstance(heads, int) else list(heads)
        if len(heads) != len(depths):
            raise ConfigError(f"heads {heads} and depths {list(depths)} differ in length")
        self.num_frames, self.exposure_ratio, self.unit_frame = num_frames, exposure_ratio, unit_frame
        self.scale, self.window, self.in_channels, self.out_channels = scale, window, in_channels, out_channels
        e = embed_dim
        self.conv_frames = nn.ModuleList(nn.Conv2d(in_channels, e, 3, padding=1) for _ in range(num_frames))
        self.attention = nn.ModuleList(SpatialAttention(e) for _ in range(num_frames - 1))
        self.conv_first = nn.Conv2d(num_frames * e, e, 3, padding=1)
        self.patch_norm = nn.LayerNorm(e)
        self.blocks = nn.ModuleList(
            ContextAwareBlock(e, depth, h, window, mlp_ratio) for depth, h in zip(depths, heads, strict=True)
        )
        self.norm = nn.LayerNorm(e)
        self.conv_after_body = nn.Conv2d(e, e, 3, padding=1)
        if scale == 4:
            self.upsample = nn.Sequential(PixelShufflePack(e, e, 2), nn.LeakyReLU(0.1),
                                          PixelShufflePack(e, e, 2), nn.LeakyReLU(0.1))
        self.conv_last = nn.Conv2d(e, out_channels, 3, padding=1)
        self.apply(init_transformer_weights)

    def forward(self, raws: torch.Tensor, exposures: torch.Tensor | None = None) -> torch.Tensor:
        check_raws(raws, self.num_frames)
        if self.in_channels != 8 or self.out_channels != 4:
            raise ConfigError("forward(raws) needs in_channels=8, out_channels=4; use reconstruct() otherwise")
        frames, inputs = frame_inputs(raws, self.exposure_ratio, self.unit_frame, exposures=exposures)
        return self.reconstruct(inputs) + upsampled_reference(frames, self.scale)

    def reconstruct(self, frames: torch.Tensor) -> torch.Tensor:
        """The network proper: ``[B, T, in_channels, h, w]``, reference first -> ``[B, out_channels, s*h, s*w]``
        (the published output before its sigmoid). Pads H, W to the window multiple and crops back."""
        b, t, c, h, w = frames.shape
        padded = pad_to_multiple(frames.reshape(b, t * c, h, w), self.window)
        size = (padded.shape[-2], padded.shape[-1])
        feats = [conv(frame) for conv, frame in zip(self.conv_frames, padded.view(b, t, c, *size).unbind(1),
                                                    strict=True)]
        reference = feats[0]
        gated = [reference] + [f * att(f, reference) for f, att in zip(feats[1:], self.attention, strict=True)]
        x = self.conv_first(torch.cat(gated, dim=1))
        tokens = self.patch_norm(to_tokens(x))
        for block in self.blocks:
            tokens = block(tokens, size)
        body = self.conv_after_body(to_image(self.norm(tokens), size) + x) + reference
        if self.scale > 1:
            body = self.upsample(body)
        return crop_to(self.conv_last(body), (self.scale * h, self.scale * w))
