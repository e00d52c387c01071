"""TMRNet and TMRNet+ (Zhang et al., "Exposure Bracketing Is All You Need For A High-Quality Image", ICLR 2025).

A temporally modulated recurrent network: features of every exposure (RAW plus its gamma branch) are
aligned to the shortest exposure by SPyNet flow plus flow-guided deformable convolution, then a recurrent
backbone visits the frames in order with one shared block and one frame-specific block per frame whose
contribution is scaled by learned per-channel weights (``learn_para``). TMRNet+ adds x4 upsampling.

Parameter names and shapes equal the published checkpoints (``shared/fixtures/official/networks``).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from models.bracket import check_exposures, check_raws, normalization_gains, packed_to_rgb, with_gamma
from models.layers.blocks import PixelShufflePack, ResidualBlocksWithInputConv
from models.layers.dcn import ModulatedDeformConv2d
from models.layers.flow import flow_warp
from models.layers.spynet import SPyNet
from simulator.core.errors import ConfigError
from simulator.core.weights import WeightSpec

_HOW_TO_GET = ("Download {file} from the BracketIRE repository's README (github.com/cszhilu1998/BracketIRE, Baidu "
               "or TeraBox links), then pass --weights PATH, set ${env} or put it in the cache folder "
               "($BRACKETIRE_CACHE, default ~/.cache/bracketire).")
TMRNET_WEIGHTS = WeightSpec("TMRNet (BracketIRE)", "TMRNet_model_400.pth", "BRACKETIRE_TMRNET",
                            how_to_get=_HOW_TO_GET.format(file="the BracketIRE TMRNet_model_400.pth",
                                                          env="BRACKETIRE_TMRNET"))
TMRNET_PLUS_WEIGHTS = WeightSpec("TMRNet+ (BracketIRE+)", "TMRNet_plus_model_400.pth", "BRACKETIRE_TMRNET_PLUS",
                                 how_to_get=_HOW_TO_GET.format(file="the BracketIRE+ TMRNet_model_400.pth (saved as "
                                                               "TMRNet_plus_model_400.pth)", env="BRACKETIRE_TMRNET_PLUS"))

TMRNET_SHIPPED = WeightSpec("TMRNet (BracketIRE, trained by this toolkit)", "tmrnet_bracketire.pth",
                            "BRACKETIRE_TMRNET_SHIPPED", package_file=("models", "weights/tmrnet_bracketire.pth"),
                            how_to_get="Shipped in models/weights/; rebuild it with the command in "
                                       "models/weights/README.md.")


class FlowGuidedDeformableAlignment(nn.Module):
    """Align a frame's features to the reference by flow warping plus a residual deformable convolution.

    ``forward(other, reference, flow)``: features ``[N, C, h, w]`` and flow ``[N, 2, h, w]`` (dx, dy) from
    the reference to the other frame -> aligned ``[N, C, h, w]``.
    """

    def __init__(self, channels: int = 64, deform_groups: int = 8, max_residue_magnitude: float = 10.0) -> None:
        super().__init__()
        self.max_residue_magnitude = max_residue_magnitude
        self.deform_groups = deform_groups
        taps = 9
        self.conv_offset = nn.Sequential(
            nn.Conv2d(2 * channels + 2, channels, 3, padding=1), nn.LeakyReLU(0.1, inplace=True),
            nn.Conv2d(channels, channels, 3, padding=1), nn.LeakyReLU(0.1, inplace=True),
            nn.Conv2d(channels, channels, 3, padding=1), nn.LeakyReLU(0.1, inplace=True),
            nn.Conv2d(channels, 3 * taps * deform_groups, 3, padding=1),
        )
        self.deform_conv = ModulatedDeformConv2d(channels, channels, 3, padding=1, groups=deform_groups)
        nn.init.zeros_(self.conv_offset[-1].weight)

    def forward(self, other: torch.Tensor, reference: torch.Tensor, flow: torch.Tensor) -> torch.Tensor:
        warped = flow_warp(other, flow)
        o1, o2, mask = torch.chunk(self.conv_offset(torch.cat([warped, reference, flow], dim=1)), 3, dim=1)
        residual = self.max_residue_magnitude * torch.tanh(torch.cat([o1, o2], dim=1))
        offset = residual + flow.flip(1).repeat(1, residual.shape[1] // 2, 1, 1)  # (dy, dx) per group and tap
        return self.deform_conv(other, offset, torch.sigmoid(mask))


class TMRNet(nn.Module):
    """TMRNet for BracketIRE (``scale=1``) and TMRNet+ for BracketIRE+ (``scale=4``).

    Input ``raws``: ``[B, T, 4, h, w]`` packed RGGB as stored (normalised to [0, 1]), shortest exposure
    first, consecutive exposures ``exposure_ratio`` apart. The model multiplies frame t by
    ``exposure_ratio ** (unit_frame - t)`` (16, 4, 1, 1/4, 1/16 for the defaults), bringing every frame to
    the unit frame's scale, as the published model does.
    Output: ``[B, 4, scale * h, scale * w]`` HDR RAW at the instant of the shortest exposure, on the unit
    frame's scale (white level of the shortest exposure = ``exposure_ratio ** unit_frame`` = 16).
    """

    min_frames = 1  # forward accepts 1..num_frames frames (self-supervised adaptation compares the shorter ones)

    def __init__(self, mid_channels: int = 64, num_frames: int = 5, exposure_ratio: float = 4.0,
                 unit_frame: int | None = None, scale: int = 1, max_residue_magnitude: float = 10.0,
                 extract_blocks: int = 5, shared_blocks: int = 16, frame_blocks: int = 24,
                 reconstruction_blocks: int = 5) -> None:
        super().__init__()
        if scale not in (1, 4):
            raise ConfigError(f"TMRNet scale={scale}; expected 1 (TMRNet) or 4 (TMRNet+)")
        self.num_frames, self.exposure_ratio, self.scale = num_frames, exposure_ratio, scale
        self.mid_channels = mid_channels
        self.unit_frame = (num_frames - 1) // 2 if unit_frame is None else unit_frame
        c = mid_channels
        self.learn_para = nn.Parameter(torch.zeros(1, num_frames, c, 1, 1))
        if scale == 4:
            self.up_para = nn.Parameter(torch.zeros(1, c, 1, 1))
        self.spynet = SPyNet()
        self.dcn_alignment = FlowGuidedDeformableAlignment(c, 8, max_residue_magnitude)
        self.feat_extract = ResidualBlocksWithInputConv(8, c, extract_blocks)
        self.backbone = nn.ModuleDict({"backward": ResidualBlocksWithInputConv(3 * c, c, shared_blocks)})
        for index in range(1, num_frames + 1):
            self.backbone[f"backward_rec_{index}"] = ResidualBlocksWithInputConv(3 * c, c, frame_blocks)
        self.reconstruction = ResidualBlocksWithInputConv(2 * c, c, reconstruction_blocks)
        self.skipup1 = PixelShufflePack(4, c, 1, 3)
        self.conv_hr = nn.Conv2d(c, c, 3, padding=1)
        self.conv_last = nn.Conv2d(c, 4, 3, padding=1)
        if scale == 4:
            self.upsample1 = PixelShufflePack(c, c, 2, 3)
            self.upsample2 = PixelShufflePack(c, c, 2, 3)
        self.lrelu = nn.LeakyReLU(0.1, inplace=True)

    def normalization_gains(self, frames: int, like: torch.Tensor, exposures: torch.Tensor | None = None) -> torch.Tensor:
        """``[1, T, 1, 1, 1]`` gains ``exposure_ratio ** (unit_frame - t)``, or ``[B, T, 1, 1, 1]``
        ``exposures[:, unit_frame] / exposures[:, t]`` for measured ``exposures [B, T]`` (``models/bracket.py``)."""
        if exposures is not None:
            check_exposures(exposures, frames, like.shape[0])
        return normalization_gains(frames, self.exposure_ratio, self.unit_frame, like, exposures)

    def forward(self, raws: torch.Tensor, exposures: torch.Tensor | None = None) -> torch.Tensor:
        """``raws [B, T, 4, h, w]`` with ``1 <= T <= num_frames``: a shorter bracket is its first ``T`` frames, and
        its output is the recurrence stopped after ``T`` frames (the published intermediate outputs ``y_{T-1}``
        that self-supervised adaptation compares), on the same unit-frame scale."""
        shorter = isinstance(raws, torch.Tensor) and raws.ndim == 5 and 1 <= raws.shape[1] <= self.num_frames
        check_raws(raws, raws.shape[1] if shorter else self.num_frames)
        return self.forward_normalized(raws * self.normalization_gains(raws.shape[1], raws, exposures))

    def forward_normalized(self, lqs: torch.Tensor) -> torch.Tensor:
        """The network on exposure-normalised frames ``[B, T, 4, h, w]`` (what the published code feeds it)."""
        n, t, c, h, w = lqs.shape
        flat = lqs.reshape(n * t, c, h, w)
        feats = self.feat_extract(with_gamma(flat)).view(n, t, -1, h, w)

        base = feats[:, 0]
        aligned = [base]
        if t > 1:  # one frame: nothing to align
            rgb = packed_to_rgb(lqs)
            ref = rgb[:, :1].expand(-1, t - 1, -1, -1, -1).reshape(-1, 3, h, w)
            flows = self.spynet(ref, rgb[:, 1:].reshape(-1, 3, h, w)).view(n, t - 1, 2, h, w)
        for index in range(1, t):
            aligned.append(self.dcn_alignment(feats[:, index], base, flows[:, index - 1]))

        prop = torch.zeros_like(base)
        for index in range(t):
            prop = prop + self.backbone["backward"](torch.cat([base, aligned[index], prop], dim=1))
            rec = self.backbone[f"backward_rec_{index + 1}"](torch.cat([base, aligned[index], prop], dim=1))
            prop = prop + rec * self.learn_para[:, index]

        skip = self.skipup1(lqs[:, 0])
        if self.scale == 1:
            hr = self.reconstruction(torch.cat([base, prop], dim=1)) + skip
        else:
            skip = F.interpolate(skip, scale_factor=4, mode="bilinear", align_corners=True)
            hr = self.reconstruction(torch.cat([base, prop], dim=1))
            shuffled = self.lrelu(self.upsample2(self.lrelu(self.upsample1(hr))))
            hr = F.interpolate(hr, scale_factor=4, mode="bilinear", align_corners=True) + skip + self.up_para * shuffled
        return self.conv_last(self.lrelu(self.conv_hr(hr)))
