"""DBSR (Bhat, Danelljan, Van Gool, Timofte, "Deep Burst Super-Resolution", CVPR 2021, arXiv 2101.10997),
re-implemented for bracketed RAW.

The network: a per-frame residual encoder; encoder features of every frame warped to the reference
(frame 0) by optical flow; an attention-based weighted sum whose per-frame, per-channel weights come from
the projected base features, the projected difference to the base, and features of the flow's sub-pixel
phase (flow modulo 1), normalised by a softmax over frames; a decoder of residual blocks, a sub-pixel
convolution upsampler (ICNR initialisation, Gaussian smoothing) and more residual blocks.

Deviations from the published network (ours):

* **flow**: the toolkit's SPyNet replaces the frozen, pretrained PWC-Net (its cost volume is a custom CUDA
  op). SPyNet is trained with the rest, as in RBSR and TMRNet; freeze it with
  ``model.spynet.requires_grad_(False)`` to mimic DBSR's frozen alignment network. ``flow=False`` builds
  the network without any flow module (frames merged unaligned), which the spec's ``card`` uses to count the
  trainable DBSR part: 13.011 M published minus 9.374 M of PWC-Net = 3.637 M;
* **bracketed RAW input**: frames are brought to the unit frame's scale (``normalize_exposures``) and fed
  as 8 channels ``[x, x^(1/2.2)]`` (``with_gamma``); the flow sees the gamma-compressed RGB of the
  normalised frames (``packed_to_rgb``); frame 0 (the shortest exposure) is the reference;
* **head**: 4 packed channels at x1 or x4 (the published network is x8 from packed RAW to RGB), plus a
  parameter-free skip: the normalised reference frame (bilinearly upsampled at x4) is added before the
  published final ReLU, so an untrained model starts near the reference. The Gaussian smoothing after the
  pixel shuffle, there against checkerboard artefacts, is applied only when the shuffle upsamples.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from models.bracket import (
    check_raws,
    default_unit_frame,
    frame_inputs,
    packed_to_rgb,
    upsampled_reference,
)
from models.layers.flow import flow_warp
from models.layers.spynet import SPyNet
from simulator.core.errors import ConfigError

SCALES = (1, 4, 8)  # 1: BracketIRE, 4: BracketIRE+, 8: the published network (packed RAW -> x4 RGB)


def _conv(in_channels: int, out_channels: int, kernel_size: int = 3, relu: bool = True) -> nn.Sequential:
    """Convolution with "same" padding, followed by ReLU when ``relu``."""
    conv = nn.Conv2d(in_channels, out_channels, kernel_size, padding=kernel_size // 2)
    return nn.Sequential(conv, nn.ReLU(inplace=True)) if relu else nn.Sequential(conv)


class ResBlock(nn.Module):
    """DBSR's residual block: ``relu(x + conv2(relu(conv1(x))))``, 3x3; ``[N, C, H, W] -> [N, C, H, W]``."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv1 = _conv(channels, channels)
        self.conv2 = _conv(channels, channels, relu=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(x + self.conv2(self.conv1(x)))


def _res_blocks(channels: int, count: int) -> nn.Sequential:
    return nn.Sequential(*(ResBlock(channels) for _ in range(count)))


def icnr_(weight: torch.Tensor, factor: int) -> torch.Tensor:
    """ICNR initialisation (Aitken et al., arXiv 1707.02937) of a sub-pixel convolution weight
    ``[C * factor^2, C_in, k, k]``: every group of ``factor^2`` outputs that one pixel shuffle spreads over a
    ``factor x factor`` block gets the same Kaiming-normal kernel, so the shuffle starts as nearest upsampling.
    """
    sub = torch.empty(weight.shape[0] // factor ** 2, *weight.shape[1:], dtype=weight.dtype, device=weight.device)
    nn.init.kaiming_normal_(sub)
    with torch.no_grad():
        return weight.copy_(sub.repeat_interleave(factor ** 2, dim=0))


def gaussian_kernel(size: int = 3, sigma: float = 1.0) -> torch.Tensor:
    """Normalised 2-D Gaussian ``[1, 1, size, size]`` centred on the middle tap."""
    taps = torch.arange(size, dtype=torch.float32) - (size - 1) / 2
    line = torch.exp(-taps ** 2 / (2 * sigma ** 2))
    kernel = line[:, None] * line[None, :]
    return (kernel / kernel.sum()).view(1, 1, size, size)


class DBSR(nn.Module):
    """Deep Burst Super-Resolution on bracketed RAW.

    Input ``raws``: ``[B, T, 4, h, w]`` packed RGGB as stored in [0, 1], shortest exposure first, consecutive
    exposures ``exposure_ratio`` apart; any ``T >= 2`` (the fusion is a softmax over however many frames).
    Output: ``[B, out_channels, scale * h, scale * w]`` HDR RAW at the shortest exposure's instant on the
    unit frame's scale, non-negative (the published final ReLU).

    Args:
        num_frames: frames of the bracket the model is built for (sets the default unit frame).
        exposure_ratio: exposure ratio between consecutive frames (1 for a same-exposure burst).
        unit_frame: the frame whose scale the output uses (default ``(num_frames - 1) // 2``).
        scale: 1 (BracketIRE), 4 (BracketIRE+) or 8 (the published network, for the spec's ``card``).
        enc_channels, enc_blocks, enc_out: encoder width (64), residual blocks (9) and output width (512).
        proj_channels: width of the fusion's 1x1 projection (64).
        offset_channels, offset_blocks: width (64) and residual blocks (1) of the flow-phase features.
        weight_blocks: residual blocks of the weight predictor (3), at width ``2 * proj_channels``.
        dec_channels, dec_blocks: decoder width (64) and residual blocks before the upsampler (5).
        post_channels, post_blocks: width (32) and residual blocks (4) after the upsampler.
        blur_sigma: Gaussian smoothing (3x3) after the pixel shuffle (1.0), None for none.
        icnr: ICNR initialisation of the upsampler (and no bias there), as published.
        flow: build the SPyNet flow module; False merges the frames unaligned (parameter counting).
        flow_levels: SPyNet pyramid levels (6 published).
        gamma_input: feed ``[x, x^(1/2.2)]`` (8 channels) rather than the 4 packed channels.
        out_channels: 4 (packed RAW) or 3 (RGB, published).
        reference_skip: add the normalised reference frame to the output (needs ``out_channels=4``).
    """

    def __init__(self, num_frames: int = 5, exposure_ratio: float = 4.0, unit_frame: int | None = None,
                 scale: int = 1, enc_channels: int = 64, enc_blocks: int = 9, enc_out: int = 512,
                 proj_channels: int = 64, offset_channels: int = 64, offset_blocks: int = 1, weight_blocks: int = 3,
                 dec_channels: int = 64, dec_blocks: int = 5, post_channels: int = 32, post_blocks: int = 4,
                 blur_sigma: float | None = 1.0, icnr: bool = True, flow: bool = True, flow_levels: int = 6,
                 gamma_input: bool = True, out_channels: int = 4, reference_skip: bool = True) -> None:
        super().__init__()
        if scale not in SCALES:
            raise ConfigError(f"DBSR scale={scale}; expected 1 (BracketIRE), 4 (BracketIRE+) or 8 (published)")
        if num_frames < 2:
            raise ConfigError(f"DBSR needs num_frames >= 2; got {num_frames}")
        if reference_skip and out_channels != 4:
            raise ConfigError(f"DBSR reference_skip adds the packed reference frame: needs out_channels=4, "
                             f"got {out_channels}")
        self.num_frames, self.exposure_ratio, self.scale = num_frames, exposure_ratio, scale
        self.unit_frame = default_unit_frame(num_frames, unit_frame)
        self.gamma_input, self.reference_skip = gamma_input, reference_skip

        self.spynet = SPyNet(flow_levels) if flow else None
        self.encoder = nn.Sequential(_conv(8 if gamma_input else 4, enc_channels),
                                     _res_blocks(enc_channels, enc_blocks), _conv(enc_channels, enc_out))

        self.project = _conv(enc_out, proj_channels, 1)
        self.offset_features = nn.Sequential(_conv(2, offset_channels), _res_blocks(offset_channels, offset_blocks))
        self.weight_predictor = nn.Sequential(_conv(2 * proj_channels + offset_channels, 2 * proj_channels),
                                              _res_blocks(2 * proj_channels, weight_blocks),
                                              _conv(2 * proj_channels, enc_out, relu=False))

        self.decoder = nn.Sequential(_conv(enc_out, dec_channels), _res_blocks(dec_channels, dec_blocks))
        self.upsample_conv = nn.Conv2d(dec_channels, post_channels * scale ** 2, 1, bias=not icnr)
        if icnr:
            icnr_(self.upsample_conv.weight, scale)
        blur = gaussian_kernel(3, blur_sigma) if blur_sigma is not None and scale > 1 else None
        self.register_buffer("blur_kernel", blur, persistent=False)
        self.post = _res_blocks(post_channels, post_blocks)
        self.predictor = nn.Conv2d(post_channels, out_channels, 1)

    def forward(self, raws: torch.Tensor, exposures: torch.Tensor | None = None) -> torch.Tensor:
        """``[B, T, 4, h, w]`` as stored -> ``[B, out_channels, scale * h, scale * w]``."""
        check_raws(raws)
        lqs, inputs = frame_inputs(raws, self.exposure_ratio, self.unit_frame, self.gamma_input, exposures)
        b, t, _, h, w = lqs.shape
        feats = self.encoder(inputs.flatten(0, 1)).view(b, t, -1, h, w)
        flows = self._flows(lqs)
        others = feats[:, 1:].reshape(b * (t - 1), -1, h, w)
        if self.spynet is not None:
            others = flow_warp(others, flows.reshape(-1, 2, h, w))
        aligned = torch.cat([feats[:, :1], others.view(b, t - 1, -1, h, w)], dim=1)
        out = self._decode(self._fuse(aligned, flows))
        if self.reference_skip:
            out = out + upsampled_reference(lqs, self.scale)
        return F.relu(out)

    def _flows(self, lqs: torch.Tensor) -> torch.Tensor:
        """Flow ``[B, T - 1, 2, h, w]`` (dx, dy) from frame 0 to each other frame; zeros without a flow module."""
        b, t, _, h, w = lqs.shape
        if self.spynet is None:
            return lqs.new_zeros(b, t - 1, 2, h, w)
        rgb = packed_to_rgb(lqs)
        reference = rgb[:, :1].expand(-1, t - 1, -1, -1, -1).reshape(-1, 3, h, w)
        return self.spynet(reference, rgb[:, 1:].reshape(-1, 3, h, w)).view(b, t - 1, 2, h, w)

    def _fuse(self, aligned: torch.Tensor, flows: torch.Tensor) -> torch.Tensor:
        """Attention-weighted sum of aligned features ``[B, T, E, h, w]`` over frames -> ``[B, E, h, w]``."""
        b, t, channels, h, w = aligned.shape
        projected = self.project(aligned.reshape(b * t, channels, h, w)).view(b, t, -1, h, w)
        base = projected[:, :1]
        difference = (projected - base).reshape(b * t, -1, h, w)
        phase = torch.cat([flows.new_zeros(b, 1, 2, h, w), flows], dim=1).reshape(b * t, 2, h, w) % 1.0
        inputs = [base.expand(-1, t, -1, -1, -1).reshape(b * t, -1, h, w), difference, self.offset_features(phase)]
        weights = self.weight_predictor(torch.cat(inputs, dim=1)).view(b, t, channels, h, w)
        return (aligned * torch.softmax(weights, dim=1)).sum(dim=1)

    def _decode(self, fused: torch.Tensor) -> torch.Tensor:
        """Fused features ``[B, E, h, w]`` -> ``[B, out_channels, scale * h, scale * w]`` before the skip."""
        x = F.relu(self.upsample_conv(self.decoder(fused)))
        x = F.pixel_shuffle(x, self.scale) if self.scale > 1 else x
        if self.blur_kernel is not None:
            n, c, height, width = x.shape
            x = F.conv2d(x.reshape(n * c, 1, height, width), self.blur_kernel, padding=1).view(n, c, height, width)
        return self.predictor(self.post(x))


