"""Burstormer (Dudhane, Zamir, Khan, Khan, Yang, "Burstormer: Burst Image Restoration and Enhancement
Transformer", CVPR 2023, arXiv 2304.01194), re-implemented for bracketed RAW.

Pipeline (official burst super-resolution network, ``Burst Super-resolution/Network.py``):

1. per frame: 3x3 conv to ``C`` features;
2. enhanced deformable alignment (EDA): a 3-level pyramid (Restormer blocks, "BFA", at the two finer
   levels); at each level, from coarse to fine, offsets come from a ``[reference, frame]`` bottleneck fused
   with the upsampled offset features of the coarser level and drive a 3x3 modulated deformable conv with
   dilation 2 (grouped weights); the reference frame stays unaligned; a reference-based back-projection
   (BFA, then ``[reference, frame]`` fusion refined by the residual of an expand/fuse round trip) enriches
   the result; a final cascade alignment repeats the step at full resolution;
3. adaptive burst pooling: the ``T * C`` feature channels of a burst are average-pooled to ``7 * C`` and the
   reference frame is prepended, giving 8 frames for any T;
4. progressive fusion: frames are paired (no-reference back-projection: BFA at ``2C``), merged by a 1x1 conv
   with pixel shuffle x2, paired again, and so on; three x2 stages, then a 3x3 conv to the output.

Adaptation to bracketed RAW (ours; the BracketIRE paper does not describe its recipe):

* input: frames normalised to the unit frame's exposure (``normalize_exposures``) with a gamma copy
  (``with_gamma``, 8 channels); frame 0, the shortest exposure, is the reference; any T >= 2 (pooled to 8);
* the fusion stages that must not upsample (all three at ``scale=1``, the first at ``scale=4``) keep their
  1x1 conv with the output width of the official stage but no pixel shuffle;
* a 4-channel output plus the bilinearly upsampled normalised reference frame, so an untrained model starts
  near the reference; no sigmoid;
* batches of any size (the official code treats the burst as the batch); H, W padded to multiples of 4.

Shapes: ``raws [B, T, 4, h, w]`` as stored -> ``[B, 4, scale*h, scale*w]`` HDR RAW on the unit frame's scale.
"""

from __future__ import annotations

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
from models.layers.transposed_attention import TransformerBlock
from simulator.core.errors import ConfigError

POOLED_FRAMES = 8  # the adaptive burst pooling's output; the fusion stages are built for 8 frames


def _bfa(channels: int, heads: int, blocks: int) -> nn.Sequential:
    """``blocks`` burst feature attention blocks (Restormer: MDTA + GDFN, bias-free convs, biased norms)."""
    return nn.Sequential(*(TransformerBlock(channels, heads, 2.66, bias=False, norm_bias=True)
                           for _ in range(blocks)))


def _conv_gelu(in_channels: int, out_channels: int, bias: bool = True) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=bias), nn.GELU())


def _up2(channels: int) -> nn.ConvTranspose2d:
    return nn.ConvTranspose2d(channels, channels, 3, stride=2, padding=1, output_padding=1)


def _reference_per_frame(x: torch.Tensor, frames: int) -> torch.Tensor:
    """``[B*T, ...]`` -> frame 0 of each burst repeated T times, ``[B*T, ...]``."""
    bursts = x.view(-1, frames, *x.shape[1:])
    return bursts[:, :1].expand_as(bursts).reshape(x.shape)


class ReferenceBackProjection(nn.Module):
    """BFA, then fuse ``[reference, frame]`` to ``C`` and add the fused residual of an expand round trip.

    ``forward(x, frames)``: ``x [B*T, C, H, W]`` (bursts of ``frames``) -> ``[B*T, C, H, W]``.
    """

    def __init__(self, channels: int, blocks: int = 2) -> None:
        super().__init__()
        self.encoder = _bfa(channels, 1, blocks)
        self.feat_fusion = _conv_gelu(2 * channels, channels)
        self.feat_expand = _conv_gelu(channels, 2 * channels)
        self.diff_fusion = _conv_gelu(2 * channels, channels)

    def forward(self, x: torch.Tensor, frames: int) -> torch.Tensor:
        feat = self.encoder(x)
        feat = torch.cat([_reference_per_frame(feat, frames), feat], dim=1)
        fused = self.feat_fusion(feat)
        return fused + self.diff_fusion(self.feat_expand(fused) - feat)


class PairBackProjection(nn.Module):
    """No-reference back-projection on frame pairs: ``f = BFA(x)``, ``f + (f - expand(fuse(f)))``.

    ``[N, 2C, H, W]`` (two frames' features side by side) -> ``[N, 2C, H, W]``.
    """

    def __init__(self, channels: int, blocks: int = 2) -> None:
        super().__init__()
        self.encoder = _bfa(2 * channels, 1, blocks)
        self.feat_fusion = _conv_gelu(2 * channels, channels)
        self.feat_expand = _conv_gelu(channels, 2 * channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        feat = self.encoder(x)
        return 2 * feat - self.feat_expand(self.feat_fusion(feat))


class DeformableAlignment(nn.Module):
    """One EDA level: offsets from a ``[reference, frame]`` bottleneck (fused with the coarser level's
    offset features when ``memory``), a dilated modulated DCN, the reference restored, back-projection.

    ``forward(x, frames, previous=None)``: ``x [B*T, C, H, W]``, ``previous`` offset features of the same
    shape or None -> (aligned ``[B*T, C, H, W]``, offset features ``[B*T, C, H, W]``).
    """

    def __init__(self, channels: int, deform_groups: int = 8, blocks: int = 2, memory: bool = False) -> None:
        super().__init__()
        self.bottleneck = nn.Sequential(nn.Conv2d(2 * channels, channels, 3, padding=1, bias=False), nn.GELU())
        self.bottleneck_o = (nn.Sequential(nn.Conv2d(2 * channels, channels, 3, padding=1, bias=False), nn.GELU())
                             if memory else None)
        self.offset_conv = nn.Conv2d(channels, 27 * deform_groups, 3, padding=1, bias=False)
        self.deform = ModulatedDeformConv2d(channels, channels, 3, padding=2, dilation=2, groups=deform_groups)
        self.back_projection = ReferenceBackProjection(channels, blocks)

    def forward(self, x: torch.Tensor, frames: int,
                previous: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        offset_feat = self.bottleneck(torch.cat([_reference_per_frame(x, frames), x], dim=1))
        if self.bottleneck_o is not None and previous is not None:
            offset_feat = self.bottleneck_o(torch.cat([previous, offset_feat], dim=1))
        o1, o2, mask = self.offset_conv(offset_feat).chunk(3, dim=1)
        aligned = self.deform(x, torch.cat([o1, o2], dim=1), torch.sigmoid(mask))
        bursts = aligned.view(-1, frames, *aligned.shape[1:])
        reference = x.view_as(bursts)[:, :1]
        aligned = torch.cat([reference, bursts[:, 1:]], dim=1).view_as(x)
        return self.back_projection(aligned, frames), offset_feat


class EnhancedDeformableAlignment(nn.Module):
    """EDA: 3-level pyramid alignment to frame 0, coarse to fine, then a full-resolution cascade step.

    ``forward(x, frames)``: ``[B*T, C, H, W]`` with H, W multiples of 4 -> aligned ``[B*T, C, H, W]``.
    """

    def __init__(self, channels: int, heads: tuple[int, int] = (1, 2), blocks: int = 2,
                 deform_groups: int = 8) -> None:
        super().__init__()
        self.encoder_level1 = _bfa(channels, heads[0], blocks)
        self.encoder_level2 = _bfa(channels, heads[1], blocks)
        self.down1 = nn.Conv2d(channels, channels, 3, stride=2, padding=1)
        self.down2 = nn.Conv2d(channels, channels, 3, stride=2, padding=1)
        self.alignment0 = DeformableAlignment(channels, deform_groups, blocks, memory=True)
        self.alignment1 = DeformableAlignment(channels, deform_groups, blocks, memory=True)
        self.alignment2 = DeformableAlignment(channels, deform_groups, blocks)
        self.cascade_alignment = DeformableAlignment(channels, deform_groups, blocks, memory=True)
        self.offset_up1, self.offset_up2 = _up2(channels), _up2(channels)
        self.up1, self.up2 = _up2(channels), _up2(channels)

    def forward(self, x: torch.Tensor, frames: int) -> torch.Tensor:
        x = self.encoder_level1(x)
        enc1 = self.encoder_level2(self.down1(x))
        enc2, offset2 = self.alignment2(self.down2(enc1), frames)
        enc1, offset1 = self.alignment1(enc1, frames, 2 * self.offset_up2(offset2))  # offsets double per level
        dec1 = self.up2(enc2) + enc1
        x, offset0 = self.alignment0(x, frames, 2 * self.offset_up1(offset1))
        aligned, _ = self.cascade_alignment(x + self.up1(dec1), frames, offset0)
        return aligned


def adaptive_burst_pool(feats: torch.Tensor, frames: int = POOLED_FRAMES) -> torch.Tensor:
    """``[B, T, C, H, W]`` -> ``[B, frames, C, H, W]``: frame 0 kept, then the ``T * C`` channels of every
    pixel average-pooled (adaptive 1-d pooling, as ``nn.AdaptiveAvgPool1d``) to ``(frames - 1) * C``."""
    b, t, c, h, w = feats.shape
    flat = feats.permute(0, 3, 4, 1, 2).reshape(b * h * w, 1, t * c)
    pooled = F.adaptive_avg_pool1d(flat, (frames - 1) * c).view(b, h, w, frames - 1, c).permute(0, 3, 4, 1, 2)
    return torch.cat([feats[:, :1], pooled], dim=1)


class FusionStage(nn.Sequential):
    """1x1 conv ``in -> out * r^2`` (bias-free), pixel shuffle by ``r`` (1 or 2), GELU;
    ``[N, in, H, W] -> [N, out, rH, rW]``."""

    def __init__(self, in_channels: int, out_channels: int, ratio: int) -> None:
        super().__init__(nn.Conv2d(in_channels, out_channels * ratio * ratio, 1, bias=False),
                         nn.PixelShuffle(ratio), nn.GELU())


class Burstormer(nn.Module):
    """Burstormer for bracketed RAW (``scale=1``: BracketIRE, ``scale=4``: BracketIRE+).

    Input ``raws``: ``[B, T, 4, h, w]`` packed RGGB as stored, in [0, 1], shortest exposure first,
    consecutive exposures ``exposure_ratio`` apart, any T >= 2. Output: ``[B, out_channels, s*h, s*w]`` with
    ``s = scale`` (or ``upscale``), HDR RAW at the shortest exposure's instant on the unit frame's scale.

    Of the three fusion stages the last ``log2(s)`` upsample x2. The native network (the spec's ``card``) is
    ``gamma_input=False`` (4 channels), ``out_channels=3``, ``upscale=8``, ``reference_skip=False``.
    """

    def __init__(self, num_features: int = 48, num_frames: int = 5, exposure_ratio: float = 4.0,
                 unit_frame: int | None = None, scale: int = 1, heads: tuple[int, int] = (1, 2), blocks: int = 2,
                 deform_groups: int = 8, gamma_input: bool = True, out_channels: int = 4,
                 upscale: int | None = None, reference_skip: bool = True) -> None:
        super().__init__()
        if scale not in (1, 4):
            raise ConfigError(f"Burstormer scale={scale}; expected 1 (BracketIRE) or 4 (BracketIRE+)")
        self.upscale = scale if upscale is None else upscale
        if self.upscale not in (1, 2, 4, 8):
            raise ConfigError(f"Burstormer upscale={self.upscale}; expected 1, 2, 4 or 8 (three x2 stages)")
        if reference_skip and out_channels != 4:
            raise ConfigError("Burstormer reference_skip needs out_channels=4 (packed RAW)")
        self.num_frames, self.exposure_ratio, self.unit_frame = num_frames, exposure_ratio, unit_frame
        self.gamma_input, self.reference_skip = gamma_input, reference_skip
        c = num_features
        self.conv1 = nn.Conv2d(8 if gamma_input else 4, c, 3, padding=1, bias=False)
        self.align = EnhancedDeformableAlignment(c, heads, blocks, deform_groups)
        self.back_projection1 = PairBackProjection(c, blocks)
        self.back_projection2 = PairBackProjection(c, blocks)
        doublings = self.upscale.bit_length() - 1
        ratios = [2 if index >= 3 - doublings else 1 for index in range(3)]
        self.up1 = FusionStage(POOLED_FRAMES * c, 2 * c, ratios[0])  # 8 frames -> 2 frames
        self.up2 = FusionStage(2 * c, c, ratios[1])  # 2 frames -> 1
        self.up3 = FusionStage(c, c, ratios[2])
        self.out_conv = nn.Conv2d(c, out_channels, 3, padding=1, bias=False)

    def forward(self, raws: torch.Tensor, exposures: torch.Tensor | None = None) -> torch.Tensor:
        check_raws(raws, owner="Burstormer")
        b, t, _, h, w = raws.shape
        frames = normalize_exposures(raws, self.exposure_ratio, self.unit_frame, exposures)
        padded = frames.flatten(0, 1)
        ph, pw = (-h) % 4, (-w) % 4
        if ph or pw:
            padded = F.pad(padded, (0, pw, 0, ph), mode="replicate")
        feats = self.align(self.conv1(with_gamma(padded) if self.gamma_input else padded), t)
        c, hp, wp = feats.shape[1:]
        pooled = adaptive_burst_pool(feats.view(b, t, c, hp, wp))  # [B, 8, C, H, W]
        x = self.back_projection1(pooled.reshape(b * POOLED_FRAMES // 2, 2 * c, hp, wp))
        x = self.up1(x.reshape(b, POOLED_FRAMES * c, hp, wp))  # [B, 2C, ...]: two frames side by side
        x = self.up3(self.up2(self.back_projection2(x)))
        s = self.upscale
        out = self.out_conv(x)[..., : s * h, : s * w]
        return out + upsampled_reference(frames, s) if self.reference_skip else out
