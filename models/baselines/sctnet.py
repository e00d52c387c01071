"""SCTNet (Tel, Wu, Zhang, Heyrman, Demonceaux, Timofte, Ginhac, "Alignment-free HDR Deghosting with
Semantics Consistent Transformer", ICCV 2023, arXiv 2305.18135), adapted to bracketed RAW.

The published network (3 LDR frames of 6 channels, the middle one the reference, 3-channel sigmoid output):

* a 3x3 conv per frame to ``embed / 3`` channels, concatenated to ``embed`` tokens, layer-normed (the
  per-frame slices of these tokens are kept as shallow features) and mixed by an MLP (``conv_first``);
* per stage: a GSAB (a SwinIR residual group: shifted-window Swin blocks over all frames' channels, a 3x3
  conv, a residual), then two SCABs, in which the reference slice (shallow + deep features) queries a
  non-reference slice by Restormer-style transposed (channel) cross attention followed by an MLP, and an
  MLP fusing the concatenation ``[SCAB(ref, frame 1), ref, SCAB(ref, frame 3)]``;
* a final layer norm, ``conv_after_body`` plus a conv of the reference frame's conv features, one conv to
  RGB (its "upsampler"; the PixelShuffle is disabled in the published code) and a sigmoid.

Our adaptation to bracketed RAW (the BracketIRE paper's recipe is unknown): every frame is the 8-channel
``with_gamma`` copy of its exposure-normalised packed RAW; each frame gets ``embed_dim // T`` channels
(12 for T=5 at the default embed 60, 20 for the native T=3), so the token width is ``T * (embed_dim // T)``,
which equals ``embed_dim`` whenever T divides it; the reference is frame 0 (the shortest exposure, whose
instant the output shows) and queries each of the ``T - 1`` other frames through its own SCAB per stage;
the head predicts 4 channels without a sigmoid (HDR values reach 16) and adds the normalised frame 0
(bilinearly upsampled for ``scale=4``, after a two-step x2 PixelShuffle tail); H, W are padded to the
window multiple (reflection, as published) and cropped back. the spec's ``card`` rebuilds the published network.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from models.bracket import check_raws, frame_inputs, upsampled_reference
from models.layers.blocks import PixelShufflePack
from models.layers.transposed_attention import LayerNorm2d, TransposedAttention
from models.layers.window_attention import (
    Mlp,
    SwinBlock,
    crop_to,
    init_transformer_weights,
    pad_to_multiple,
    to_image,
    to_tokens,
)
from simulator.core.errors import ConfigError


class ResidualSwinGroup(nn.Module):
    """GSAB: ``depth`` Swin blocks (shifted on odd indices), a 3x3 conv, plus the group input.

    ``forward(x, size)``: tokens ``[N, H * W, C]`` of an ``H x W`` grid -> same shape.
    """

    def __init__(self, dim: int, depth: int, heads: int, window: int, mlp_ratio: float) -> None:
        super().__init__()
        self.blocks = nn.ModuleList(
            SwinBlock(dim, heads, window, 0 if i % 2 == 0 else window // 2, mlp_ratio) for i in range(depth)
        )
        self.conv = nn.Conv2d(dim, dim, 3, padding=1)

    def forward(self, x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
        out = x
        for block in self.blocks:
            out = block(out, size)
        return to_tokens(self.conv(to_image(out, size))) + x


class SemanticConsistencyBlock(nn.Module):
    """SCAB: the reference's channels attend to another frame's, ``ref + attn(LN ref, LN other)``, then
    ``+ MLP(LN .)``.

    ``forward(reference, other, size)``: tokens ``[N, H * W, C]`` each -> fused tokens ``[N, H * W, C]``.
    The attention is transposed (``C/heads x C/heads`` per head), without bias or depthwise convs.
    """

    def __init__(self, dim: int, heads: int, expansion: float = 4.0) -> None:
        super().__init__()
        self.norm_reference = LayerNorm2d(dim)
        self.norm_other = LayerNorm2d(dim)
        self.attn = TransposedAttention(dim, heads, bias=False, cross=True, depthwise=False)
        self.norm2 = nn.LayerNorm(dim)
        self.ffn = Mlp(dim, int(dim * expansion))

    def forward(self, reference: torch.Tensor, other: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
        x, y = to_image(reference, size), to_image(other, size)
        fused = to_tokens(x + self.attn(self.norm_reference(x), self.norm_other(y)))
        return fused + self.ffn(self.norm2(fused))


class SCTNet(nn.Module):
    """SCTNet for bracketed RAW (``scale=1``: BracketIRE, ``scale=4``: BracketIRE+).

    Input ``raws``: ``[B, T, 4, h, w]`` packed RGGB as stored, in [0, 1], shortest exposure first.
    Output: ``[B, 4, scale * h, scale * w]`` HDR RAW at the shortest exposure's instant, on the unit frame's
    scale (``models/bracket.py``). ``in_channels`` / ``out_channels`` (per frame) exist to rebuild the
    published RGB network (the spec's ``card``); :meth:`forward` needs the default 8 / 4.

    Each frame gets ``embed_dim // num_frames`` channels, which must split into ``scab_heads`` heads, and
    the token width ``num_frames * (embed_dim // num_frames)`` into ``heads``: the defaults allow T = 3 and
    5 (T = 4 needs e.g. ``embed_dim=48``); a ``ValueError`` says so otherwise.
    """

    def __init__(self, num_frames: int = 5, exposure_ratio: float = 4.0, unit_frame: int | None = None,
                 scale: int = 1, embed_dim: int = 60, depths: Sequence[int] = (6, 6, 6, 6),
                 heads: int | Sequence[int] = 6, scab_heads: int | Sequence[int] = 4, window: int = 8,
                 mlp_ratio: float = 2.0, scab_expansion: float = 4.0, in_channels: int = 8,
                 out_channels: int = 4) -> None:
        super().__init__()
        if scale not in (1, 4):
            raise ConfigError(f"SCTNet scale={scale}; expected 1 (BracketIRE) or 4 (BracketIRE+)")
        if num_frames < 2:
            raise ConfigError(f"SCTNet needs num_frames >= 2; got {num_frames}")
        stages = len(depths)
        heads = [heads] * stages if isinstance(heads, int) else list(heads)
        scab_heads = [scab_heads] * stages if isinstance(scab_heads, int) else list(scab_heads)
        self.frame_dim = embed_dim // num_frames
        width = self.frame_dim * num_frames
        if any(width % h for h in heads) or any(self.frame_dim % h for h in scab_heads):
            raise ConfigError(f"SCTNet: {num_frames} frames x {self.frame_dim} channels (embed_dim {embed_dim}) "
                             f"do not split into heads {heads} per stage and SCAB heads {scab_heads} per frame; "
                             "pick embed_dim / heads / scab_heads that divide them")
        self.num_frames, self.exposure_ratio, self.unit_frame = num_frames, exposure_ratio, unit_frame
        self.scale, self.window, self.in_channels, self.out_channels = scale, window, in_channels, out_channels
        self.conv_frames = nn.ModuleList(nn.Conv2d(in_channels, self.frame_dim, 3, padding=1)
                                         for _ in range(num_frames))
        self.conv_reference = nn.Conv2d(self.frame_dim, width, 3, padding=1)
        self.patch_norm = nn.LayerNorm(width)
        self.conv_first = Mlp(width, width)
        self.groups = nn.ModuleList(ResidualSwinGroup(width, d, h, window, mlp_ratio)
                                    for d, h in zip(depths, heads, strict=True))
        self.scabs = nn.ModuleList(
            nn.ModuleList(SemanticConsistencyBlock(self.frame_dim, h, scab_expansion) for _ in range(num_frames - 1))
            for h in scab_heads
        )
        self.fusions = nn.ModuleList(Mlp(width, width) for _ in range(stages))
        self.norm = nn.LayerNorm(width)
        self.conv_after_body = nn.Conv2d(width, width, 3, padding=1)
        if scale == 4:
            self.upsample = nn.Sequential(PixelShufflePack(width, width, 2), nn.LeakyReLU(0.1),
                                          PixelShufflePack(width, width, 2), nn.LeakyReLU(0.1))
        self.conv_last = nn.Conv2d(width, out_channels, 3, padding=1)
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
        tokens = self.patch_norm(to_tokens(torch.cat(feats, dim=1)))
        shallow = tokens.split(self.frame_dim, dim=2)
        tokens = self.conv_first(tokens)
        for group, scabs, fusion in zip(self.groups, self.scabs, self.fusions, strict=True):
            deep = group(tokens, size).split(self.frame_dim, dim=2)
            reference = shallow[0] + deep[0]
            others = [scab(reference, s + d, size) for scab, s, d in zip(scabs, shallow[1:], deep[1:], strict=True)]
            tokens = fusion(torch.cat([reference, *others], dim=2))
        body = self.conv_after_body(to_image(self.norm(tokens), size)) + self.conv_reference(feats[0])
        if self.scale > 1:
            body = self.upsample(body)
        return crop_to(self.conv_last(body), (self.scale * h, self.scale * w))
