"""Kalantari & Ramamoorthi, "Deep High Dynamic Range Imaging of Dynamic Scenes", ACM TOG 36(4), SIGGRAPH 2017
(no arXiv version), re-implemented for bracketed RAW: the weight-estimator ("WE") variant.

The method: align the non-reference exposures to the reference with optical flow, then a four-layer CNN
(7x7/100, 5x5/100, 3x3/50, 1x1, ReLU between, sigmoid out) reads the aligned frames and predicts one merge
weight per frame, channel and pixel; the output is the weighted average of the aligned HDR-domain frames.

Adaptation to bracketed RAW (ours: the BracketIRE paper does not say how it adapted its baselines):
* flow: the toolkit's SPyNet (``models/layers/spynet.py``; the paper used Liu's classical flow), from frame 0
  (the shortest exposure, our reference, instead of the middle one) to every other frame, computed on
  ``packed_to_rgb`` of the exposure-normalised frames; ``flow_warp`` then aligns the normalised frames.
  Load published SPyNet weights with ``load_spynet_weights(model.spynet)``; otherwise it trains from scratch;
* CNN input: every aligned frame as 8 channels ``[x, x^(1/2.2)]`` (T x 8 channels instead of 3 x 6);
* output: per-frame, per-channel weights (T x 4) merging the aligned normalised frames, which are already
  on the unit frame's HDR scale, so no sigmoid on the result;
* ``scale=4``: the merge is upsampled bilinearly and a light learned residual is added: a x4 pixel shuffle
  of the CNN's last hidden features, a LeakyReLU and a 3x3 conv to 4 channels. Kept deliberately simple.

``flow=False`` builds the CNN alone (frames merged unaligned): the configuration whose parameters the model
card counts (0.384 M, flow excluded), used by the spec's ``card``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from models.bracket import check_raws, normalize_exposures, packed_to_rgb, with_gamma
from models.layers.blocks import PixelShufflePack
from models.layers.flow import flow_warp
from models.layers.spynet import SPyNet
from simulator.core.errors import ConfigError


class WeightEstimator(nn.Module):
    """Kalantari's merge CNN: ``[N, in, H, W] -> (weights [N, out, H, W] in (0, 1), hidden [N, widths[-1], H, W])``.

    Convs 7x7, 5x5, 3x3 with ReLU (widths 100, 100, 50 in the paper), then a 1x1 conv and a sigmoid.
    """

    def __init__(self, in_channels: int, out_channels: int, widths: tuple[int, int, int] = (100, 100, 50)) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        for cin, cout, k in zip((in_channels, *widths[:-1]), widths, (7, 5, 3)):
            layers += [nn.Conv2d(cin, cout, k, padding=k // 2), nn.ReLU(inplace=True)]
        self.features = nn.Sequential(*layers)
        self.weights = nn.Conv2d(widths[-1], out_channels, 1)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        hidden = self.features(x)
        return torch.sigmoid(self.weights(hidden)), hidden


class Kalantari17(nn.Module):
    """Flow alignment plus Kalantari's weight-estimator merge, for bracketed RAW.

    Input ``raws``: ``[B, T, 4, h, w]`` packed RGGB as stored, in [0, 1], shortest exposure first, with
    ``T == num_frames``. Output: ``[B, 4, scale * h, scale * w]`` HDR RAW on the unit frame's scale
    (``models/bracket.py``): ``sum_t w_t * aligned_t / sum_t w_t`` per channel and pixel.

    ``frame_channels`` and ``weight_channels`` (channels per frame in and weights per frame out) exist to
    rebuild the published CNN (the spec's ``card``); :meth:`forward` needs the defaults 8 and 4.
    """

    def __init__(self, num_frames: int = 5, exposure_ratio: float = 4.0, unit_frame: int | None = None,
                 scale: int = 1, widths: tuple[int, int, int] = (100, 100, 50), flow: bool = True,
                 flow_levels: int = 6, frame_channels: int = 8, weight_channels: int = 4,
                 eps: float = 1e-6) -> None:
        super().__init__()
        if scale not in (1, 4):
            raise ConfigError(f"Kalantari17 scale={scale}; expected 1 or 4")
        self.num_frames, self.exposure_ratio, self.scale = num_frames, exposure_ratio, scale
        self.unit_frame = unit_frame
        self.frame_channels, self.weight_channels, self.eps = frame_channels, weight_channels, eps
        self.spynet = SPyNet(flow_levels) if flow else None
        self.estimator = WeightEstimator(num_frames * frame_channels, num_frames * weight_channels, widths)
        if scale == 4:
            self.refine = nn.Sequential(PixelShufflePack(widths[-1], widths[-1], 4), nn.LeakyReLU(0.1),
                                        nn.Conv2d(widths[-1], weight_channels, 3, padding=1))

    def align(self, lqs: torch.Tensor) -> torch.Tensor:
        """Warp frames 1..T-1 of ``lqs [B, T, 4, h, w]`` (normalised) onto frame 0; same shape."""
        if self.spynet is None:
            return lqs
        b, t, c, h, w = lqs.shape
        rgb = packed_to_rgb(lqs)
        ref = rgb[:, :1].expand(-1, t - 1, -1, -1, -1).reshape(-1, 3, h, w)
        flows = self.spynet(ref, rgb[:, 1:].reshape(-1, 3, h, w))
        warped = flow_warp(lqs[:, 1:].reshape(-1, c, h, w), flows).view(b, t - 1, c, h, w)
        return torch.cat([lqs[:, :1], warped], dim=1)

    def forward(self, raws: torch.Tensor, exposures: torch.Tensor | None = None) -> torch.Tensor:
        check_raws(raws, self.num_frames)
        if (self.frame_channels, self.weight_channels) != (8, 4):
            raise ConfigError("this Kalantari17 has the published RGB configuration; it does not take packed RAW")
        b, t, c, h, w = raws.shape
        aligned = self.align(normalize_exposures(raws, self.exposure_ratio, self.unit_frame, exposures))
        inputs = with_gamma(aligned.reshape(b * t, c, h, w)).view(b, t * 2 * c, h, w)
        weights, hidden = self.estimator(inputs)
        weights = weights.view(b, t, c, h, w)
        merged = (weights * aligned).sum(dim=1) / (weights.sum(dim=1) + self.eps)
        if self.scale == 1:
            return merged
        up = F.interpolate(merged, scale_factor=self.scale, mode="bilinear", align_corners=False)
        return up + self.refine(hidden)
