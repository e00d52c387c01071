"""BIPNet (Dudhane, Zamir, Khan, Khan, Yang, "Burst Image Restoration and Enhancement", CVPR 2022,
arXiv 2110.03680), re-implemented for bracketed RAW.

Pipeline (official burst super-resolution network, ``Burst_Super_Resolution/Network.py``):

1. per frame: 3x3 conv, then residual global-context attention blocks (RGCAB);
2. edge-boosting alignment: a bottleneck over ``[reference, frame]`` features drives a cascade of four
   modulated deformable convolutions (grouped weights, ``deform_groups`` offset groups), then RGCABs and a
   residual computed from ``aligned - reference`` (the "edge boost");
3. pseudo-burst fusion: channel ``c`` of every frame forms a T-channel pseudo-burst, a 3x3 conv maps it to
   ``C`` features, and a 3-level U-Net of RGCABs (widths x1.5 per level) processes each pseudo-burst;
4. adaptive group up-sampling (AGU): the ``C`` pseudo-bursts are fused four at a time by selective-kernel
   attention, ``log4(C)`` stages, each followed by a x2 transposed convolution; a 3x3 conv gives the output.

Adaptation to bracketed RAW (ours; the BracketIRE paper does not describe its recipe):

* input: frames normalised to the unit frame's exposure (``normalize_exposures``) and given a gamma copy
  (``with_gamma``, 8 channels); frame 0, the shortest exposure, is the reference;
* the pseudo-burst conv has ``num_frames`` input channels (the official network bakes in 14);
* the AGU stages that must not upsample (all at ``scale=1``, the first at ``scale=4``) use a stride-1 3x3
  conv of the same width instead of the transposed conv;
* a 4-channel output plus the bilinearly upsampled normalised reference frame, so an untrained model starts
  near the reference; no sigmoid (HDR values reach ``exposure_ratio ** unit_frame``);
* batches of any size (the official forward reads ``burst[0]``); H, W padded to multiples of 4 for the U-Net.

Shapes: ``raws [B, T, 4, h, w]`` as stored -> ``[B, 4, scale*h, scale*w]`` HDR RAW on the unit frame's scale.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from models.bracket import (
    check_raws,
    normalize_exposures,
    upsampled_reference,
    with_gamma,
)
from models.layers.dcn import ModulatedDeformConv2d
from simulator.core.errors import ConfigError


def _conv(in_channels: int, out_channels: int, kernel_size: int = 3) -> nn.Conv2d:
    """Bias-free conv padded to keep the size (every conv of the official network but the DCNs)."""
    return nn.Conv2d(in_channels, out_channels, kernel_size, padding=kernel_size // 2, bias=False)


class GlobalContext(nn.Module):
    """Global context attention (GCNet-style): a softmax over pixels pools one context vector, which a
    1x1 -> LeakyReLU(0.2) -> 1x1 transform adds to every pixel. ``[N, C, H, W] -> [N, C, H, W]``."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv_mask = _conv(channels, 1, 1)
        self.transform = nn.Sequential(_conv(channels, channels, 1), nn.LeakyReLU(0.2), _conv(channels, channels, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, c, h, w = x.shape
        weights = torch.softmax(self.conv_mask(x).view(n, 1, h * w), dim=-1)
        context = (x.view(n, c, h * w) * weights).sum(-1).view(n, c, 1, 1)
        return x + self.transform(context)


class RGCA(nn.Module):
    """Residual global context attention: ``x + conv1x1(gca(conv(lrelu(conv(x)))))``; shape preserved."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.body = nn.Sequential(_conv(channels, channels), nn.LeakyReLU(0.2), _conv(channels, channels))
        self.gca = GlobalContext(channels)
        self.conv1x1 = _conv(channels, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv1x1(self.gca(self.body(x)))


class RGCAB(nn.Module):
    """``blocks`` RGCAs and a 3x3 conv inside one long skip; ``[N, C, H, W] -> [N, C, H, W]``."""

    def __init__(self, channels: int, blocks: int) -> None:
        super().__init__()
        self.body = nn.Sequential(*(RGCA(channels) for _ in range(blocks)), _conv(channels, channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


def _rgcabs(channels: int, count: int, blocks: int) -> nn.Sequential:
    return nn.Sequential(*(RGCAB(channels, blocks) for _ in range(count)))


class MultiScaleFusion(nn.Module):
    """BIPNet's 3-level U-Net ("MSF"): widths ``C, 1.5C, 2.25C``; average-pool + 1x1 conv down, 1x1 conv +
    bilinear x2 up, additive skips. ``[N, C, H, W] -> [N, C, H, W]`` with H, W multiples of 4.

    ``blocks[i]`` RGCABs (``rgca`` RGCAs each) at level ``i``; the decoder repeats the encoder's counts.
    """

    def __init__(self, channels: int, blocks: tuple[int, int, int] = (2, 2, 1), rgca: int = 2) -> None:
        super().__init__()
        c1 = channels
        c2 = int(c1 * 1.5)
        c3 = int(c2 * 1.5)
        self.enc1, self.enc2, self.enc3 = (_rgcabs(c, n, rgca) for c, n in zip((c1, c2, c3), blocks))
        self.down1 = nn.Sequential(nn.AvgPool2d(2, ceil_mode=True, count_include_pad=False), _conv(c1, c2, 1))
        self.down2 = nn.Sequential(nn.AvgPool2d(2, ceil_mode=True, count_include_pad=False), _conv(c2, c3, 1))
        self.up2 = nn.Sequential(_conv(c3, c2, 1), nn.Upsample(scale_factor=2, mode="bilinear", align_corners=True))
        self.up1 = nn.Sequential(_conv(c2, c1, 1), nn.Upsample(scale_factor=2, mode="bilinear", align_corners=True))
        self.dec2, self.dec1 = _rgcabs(c2, blocks[1], rgca), _rgcabs(c1, blocks[0], rgca)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.enc1(x)
        mid = self.enc2(self.down1(x))
        low = self.enc3(self.down2(mid))
        mid = self.dec2(self.up2(low) + mid)
        return self.dec1(self.up1(mid) + x)


class GroupUpsampling(nn.Module):
    """Adaptive group up-sampling (AGU): selective-kernel attention over ``groups`` feature maps (softmax
    across the group, per channel and pixel), then the weighted maps, concatenated, go through a 3x3
    transposed conv x2 (``upsample=True``) or a stride-1 3x3 conv of the same width.

    ``[N, groups, C, H, W] -> [N, C, sH, sW]`` with ``s = 2`` or 1.
    """

    def __init__(self, channels: int, groups: int = 4, reduction: int = 8, upsample: bool = True) -> None:
        super().__init__()
        hidden = max(channels // reduction, 4)
        self.squeeze = nn.Sequential(_conv(channels, hidden, 1), nn.LeakyReLU(0.2))
        self.attention = _conv(hidden, groups * channels, 1)
        self.fuse = (nn.ConvTranspose2d(groups * channels, channels, 3, stride=2, padding=1, output_padding=1,
                                        bias=False)
                     if upsample else _conv(groups * channels, channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, groups, c, h, w = x.shape
        weights = torch.softmax(self.attention(self.squeeze(x.sum(1))).view(n, groups, c, h, w), dim=1)
        return self.fuse((x * weights).view(n, groups * c, h, w))


class CascadedDeformableAlignment(nn.Module):
    """BIPNet's burst feature alignment: bottleneck over ``[reference, frame]``, then four (offset conv ->
    modulated DCN) steps; the third step resamples the unaligned features, as the official network does.

    ``forward(feats, reference)``: ``[N, C, H, W]`` each -> aligned ``[N, C, H, W]``.
    """

    def __init__(self, channels: int, deform_groups: int = 8, steps: int = 4) -> None:
        super().__init__()
        self.bottleneck = _conv(2 * channels, channels)
        self.offset_convs = nn.ModuleList(_conv(channels, 27 * deform_groups) for _ in range(steps))
        self.deforms = nn.ModuleList(ModulatedDeformConv2d(channels, channels, 3, padding=1, groups=deform_groups)
                                     for _ in range(steps))

    def _step(self, index: int, guide: torch.Tensor, source: torch.Tensor) -> torch.Tensor:
        o1, o2, mask = self.offset_convs[index](guide).chunk(3, dim=1)
        return self.deforms[index](source, torch.cat([o1, o2], dim=1), torch.sigmoid(mask))

    def forward(self, feats: torch.Tensor, reference: torch.Tensor) -> torch.Tensor:
        x = self.bottleneck(torch.cat([reference, feats], dim=1))
        for index in range(len(self.deforms)):
            x = self._step(index, x, feats if index == 2 else x)
        return x


def _pad_to(x: torch.Tensor, multiple: int) -> torch.Tensor:
    """Replicate-pad the bottom and right of ``[N, C, H, W]`` up to multiples of ``multiple``."""
    ph, pw = (-x.shape[-2]) % multiple, (-x.shape[-1]) % multiple
    return F.pad(x, (0, pw, 0, ph), mode="replicate") if ph or pw else x


def _reference_per_frame(x: torch.Tensor, frames: int) -> torch.Tensor:
    """``[B*T, ...]`` -> frame 0 of each burst repeated T times, ``[B*T, ...]``."""
    bursts = x.view(-1, frames, *x.shape[1:])
    return bursts[:, :1].expand_as(bursts).reshape(x.shape)


class BIPNet(nn.Module):
    """BIPNet for bracketed RAW (``scale=1``: BracketIRE, ``scale=4``: BracketIRE+).

    Input ``raws``: ``[B, num_frames, 4, h, w]`` packed RGGB as stored, in [0, 1], shortest exposure first,
    consecutive exposures ``exposure_ratio`` apart. Output: ``[B, out_channels, s*h, s*w]`` with ``s = scale``
    (or ``upscale``), HDR RAW at the shortest exposure's instant on the unit frame's scale.

    ``num_features`` must be a power of 4: the AGU fuses four pseudo-bursts per stage, ``log4(C)`` stages,
    the last ``log2(s)`` of which upsample. The native network (the spec's ``card``) is ``gamma_input=False`` (4
    channels), ``out_channels=3``, ``upscale=8``, ``num_frames=14``, ``reference_skip=False``.
    """

    def __init__(self, num_features: int = 64, num_frames: int = 5, exposure_ratio: float = 4.0,
                 unit_frame: int | None = None, scale: int = 1, deform_groups: int = 8, align_blocks: int = 3,
                 align_rgca: int = 3, msf_blocks: tuple[int, int, int] = (2, 2, 1), msf_rgca: int = 2,
                 reduction: int = 8, gamma_input: bool = True, out_channels: int = 4, upscale: int | None = None,
                 reference_skip: bool = True) -> None:
        super().__init__()
        if scale not in (1, 4):
            raise ConfigError(f"BIPNet scale={scale}; expected 1 (BracketIRE) or 4 (BracketIRE+)")
        stages = round(math.log(num_features, 4)) if num_features > 1 else 0
        if stages < 1 or 4 ** stages != num_features:
            raise ConfigError(f"BIPNet num_features={num_features}; the group up-sampling needs a power of 4")
        self.upscale = scale if upscale is None else upscale
        ups = round(math.log2(self.upscale)) if self.upscale >= 1 else -1
        if ups < 0 or 2 ** ups != self.upscale or ups > stages:
            raise ConfigError(f"BIPNet upscale={self.upscale}; expected a power of 2 up to {2 ** stages}")
        if reference_skip and out_channels != 4:
            raise ConfigError("BIPNet reference_skip needs out_channels=4 (packed RAW)")
        self.num_frames, self.exposure_ratio, self.unit_frame = num_frames, exposure_ratio, unit_frame
        self.gamma_input, self.reference_skip = gamma_input, reference_skip
        c = num_features
        self.conv1 = _conv(8 if gamma_input else 4, c)
        self.encoder = _rgcabs(c, align_blocks, align_rgca)
        self.alignment = CascadedDeformableAlignment(c, deform_groups)
        self.refine = _rgcabs(c, align_blocks, align_rgca)
        self.edge_conv = _conv(c, c)
        self.pseudo_burst = _conv(num_frames, c)
        self.msf = MultiScaleFusion(c, msf_blocks, msf_rgca)
        self.agu = nn.ModuleList(GroupUpsampling(c, 4, reduction, upsample=index >= stages - ups)
                                 for index in range(stages))
        self.conv_out = _conv(c, out_channels)

    def forward(self, raws: torch.Tensor, exposures: torch.Tensor | None = None) -> torch.Tensor:
        check_raws(raws, self.num_frames, "BIPNet")
        b, t, _, h, w = raws.shape
        frames = normalize_exposures(raws, self.exposure_ratio, self.unit_frame, exposures)
        padded = _pad_to(frames.flatten(0, 1), 4)  # gamma after padding: pow is not bit-stable across sizes
        feats = self.conv1(with_gamma(padded) if self.gamma_input else padded)  # [B*T, C, H, W]
        base = _reference_per_frame(feats, t)
        feats = self.encoder(feats)
        feats = self.refine(self.alignment(feats, _reference_per_frame(feats, t)))
        feats = feats + self.edge_conv(feats - base)
        c, hp, wp = feats.shape[1:]
        pseudo = feats.view(b, t, c, hp, wp).transpose(1, 2).reshape(b * c, t, hp, wp)
        feats = self.msf(self.pseudo_burst(pseudo))  # [B*C, C, H, W]: one map per pseudo-burst
        for stage in self.agu:
            feats = stage(feats.view(-1, 4, c, *feats.shape[-2:]))  # [B*C/4^k, C, ...] down to [B, C, ...]
        s = self.upscale
        out = self.conv_out(feats)[..., : s * h, : s * w]
        return out + upsampled_reference(frames, s) if self.reference_skip else out
