"""AHDRNet (Yan, Gong, Shi, van den Hengel, Shen, Reid, Zhang, "Attention-guided Network for Ghost-free High
Dynamic Range Imaging", CVPR 2019, arXiv 1904.10293), re-implemented for bracketed RAW.

The network: a shared 3x3 conv extracts features of every frame; for each non-reference frame a spatial
attention module (two 3x3 convs on ``cat[F_i, F_ref]``, sigmoid) gates its features, which suppresses
misaligned (ghosting) regions without explicit alignment; the merging network convolves the concatenation,
runs dilated residual dense blocks (DRDBs), fuses their outputs (1x1 then 3x3, "global feature fusion"),
adds the reference features back, and ends with two 3x3 convs.

Adaptation to bracketed RAW (ours: the BracketIRE paper does not say how it adapted its baselines):
T packed frames, each exposure-normalised and fed as 8 channels ``[x, x^(1/2.2)]``; reference = frame 0
(the shortest exposure) instead of the middle one; one attention module per non-reference frame (T - 1,
so ``num_frames`` fixes T); a 4-channel output with no sigmoid (HDR values reach 16) plus a skip from the
normalised reference, so an untrained network starts near it; for ``scale=4`` two x2 pixel-shuffle steps
between the last two convs and a bilinear x4 skip.
"""

from __future__ import annotations

import torch
from torch import nn

from models.bracket import check_raws, frame_inputs, upsampled_reference
from models.layers.blocks import PixelShufflePack
from models.layers.channel_attention import ResidualDenseBlock
from simulator.core.errors import ConfigError


class SpatialAttention(nn.Module):
    """Gate a frame's features by a mask predicted from them and the reference's.

    ``forward(other, reference)``: both ``[N, C, H, W]`` -> ``other * sigmoid(att2(lrelu(att1(cat))))``.
    """

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.att1 = nn.Conv2d(2 * channels, 2 * channels, 3, padding=1)
        self.att2 = nn.Conv2d(2 * channels, channels, 3, padding=1)
        self.lrelu = nn.LeakyReLU()

    def forward(self, other: torch.Tensor, reference: torch.Tensor) -> torch.Tensor:
        mask = torch.sigmoid(self.att2(self.lrelu(self.att1(torch.cat([other, reference], dim=1)))))
        return other * mask


class AHDRNet(nn.Module):
    """AHDRNet for bracketed RAW.

    Input ``raws``: ``[B, T, 4, h, w]`` packed RGGB as stored, in [0, 1], shortest exposure first, with
    ``T == num_frames``. Output: ``[B, 4, scale * h, scale * w]`` HDR RAW on the unit frame's scale
    (``models/bracket.py``).

    ``in_channels``, ``out_channels``, ``reference`` and ``output_sigmoid`` exist to rebuild the published
    network (3 LDR frames x 6 channels, middle reference, sigmoid RGB out: the spec's ``card``); that configuration runs
    through :meth:`merge` on prepared frames, not through :meth:`forward`.
    """

    def __init__(self, num_frames: int = 5, exposure_ratio: float = 4.0, unit_frame: int | None = None,
                 scale: int = 1, features: int = 64, growth: int = 32, dense_layers: int = 6, blocks: int = 3,
                 in_channels: int = 8, out_channels: int = 4, reference: int = 0,
                 output_sigmoid: bool = False) -> None:
        super().__init__()
        if scale not in (1, 4):
            raise ConfigError(f"AHDRNet scale={scale}; expected 1 or 4")
        if num_frames < 2 or not 0 <= reference < num_frames:
            raise ConfigError(f"AHDRNet needs num_frames >= 2 and 0 <= reference < num_frames; "
                             f"got {num_frames}, {reference}")
        self.num_frames, self.exposure_ratio, self.scale = num_frames, exposure_ratio, scale
        self.unit_frame = unit_frame
        self.in_channels, self.out_channels, self.reference = in_channels, out_channels, reference
        self.output_sigmoid = output_sigmoid
        c = features
        self.conv1 = nn.Conv2d(in_channels, c, 3, padding=1)
        self.attention = nn.ModuleList(SpatialAttention(c) for _ in range(num_frames - 1))
        self.conv2 = nn.Conv2d(num_frames * c, c, 3, padding=1)
        self.drdbs = nn.ModuleList(ResidualDenseBlock(c, growth, dense_layers, dilation=2) for _ in range(blocks))
        self.gff_1x1 = nn.Conv2d(blocks * c, c, 1)
        self.gff_3x3 = nn.Conv2d(c, c, 3, padding=1)
        self.conv_up = nn.Conv2d(c, c, 3, padding=1)
        self.upsample = nn.Sequential(
            PixelShufflePack(c, c, 2), nn.LeakyReLU(), PixelShufflePack(c, c, 2), nn.LeakyReLU(),
        ) if scale == 4 else nn.Identity()
        self.conv3 = nn.Conv2d(c, out_channels, 3, padding=1)
        self.lrelu = nn.LeakyReLU()

    def merge(self, frames: torch.Tensor) -> torch.Tensor:
        """The network on prepared frames ``[B, T, in_channels, h, w]`` -> ``[B, out_channels, s*h, s*w]``."""
        t = frames.shape[1]
        feats = [self.lrelu(self.conv1(frames[:, i])) for i in range(t)]
        ref = feats[self.reference]
        others = (i for i in range(t) if i != self.reference)
        for module, index in zip(self.attention, others):
            feats[index] = module(feats[index], ref)
        x = self.conv2(torch.cat(feats, dim=1))
        levels = []
        for block in self.drdbs:
            x = block(x)
            levels.append(x)
        x = self.gff_3x3(self.gff_1x1(torch.cat(levels, dim=1))) + ref
        out = self.conv3(self.upsample(self.conv_up(x)))
        return torch.sigmoid(out) if self.output_sigmoid else out

    def forward(self, raws: torch.Tensor, exposures: torch.Tensor | None = None) -> torch.Tensor:
        check_raws(raws, self.num_frames)
        if (self.in_channels, self.out_channels) != (8, 4):
            raise ConfigError("this AHDRNet has the published RGB configuration; call merge() on prepared frames")
        lqs, frames = frame_inputs(raws, self.exposure_ratio, self.unit_frame, exposures=exposures)
        return self.merge(frames) + upsampled_reference(lqs, self.scale, self.reference)
