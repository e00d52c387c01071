"""RBSR (Wu, Zhang, Zhang, Zhang, Zuo, "RBSR: Efficient and Flexible Recurrent Network for Burst
Super-Resolution", PRCV 2023, arXiv 2306.17595), re-implemented for bracketed RAW.

The network: a per-frame feature extractor; SPyNet flow from the base frame (frame 0) to every other
frame guiding a modulated deformable convolution (BasicVSR++-style); one shared residual module visiting
the frames in order over ``[base, current, hidden]`` and updating the hidden state residually; and a
reconstruction from ``[base, hidden]`` with pixel-shuffle stages and a skip path from the base frame.

Adaptation for bracketed RAW (ours; the BracketIRE paper does not describe its recipe):

* frames are brought to the unit frame's scale (``normalize_exposures``) and fed as 8 channels
  ``[x, x^(1/2.2)]`` (``with_gamma``), as TMRNet does; the flow sees the gamma-compressed RGB of the
  normalised frames (``packed_to_rgb``), the skip path the normalised reference frame 0;
* 4-channel packed output with ``log2(scale)`` x2 pixel-shuffle stages: none at x1 (the skip path is then a
  3x3 convolution, like TMRNet's ``skipup1``), two at x4; the published network has three (x8 from packed
  RAW to RGB), which the spec's ``card`` rebuilds.

Training uses RBSR's implicit weighting loss (:class:`RBSRTraining`, named by its spec): the output
decoded from a random earlier recurrence step is supervised besides the final one, which makes the model
robust to the number of frames (``implicit_weighting=False`` trains the final output only).

Otherwise the layer structure is the published one: the deformable convolution keeps one full weight
shared by its 8 offset groups (mmcv ``groups=1``), unlike TMRNet's grouped weights. Parameter names do not
follow the published checkpoints.
"""

from __future__ import annotations

import torch
from torch import nn

from models.bracket import check_raws, default_unit_frame, frame_inputs, mu_law_l1, packed_to_rgb
from models.layers.blocks import PixelShufflePack, ResidualBlocksWithInputConv
from models.layers.dcn import ModulatedDeformConv2d
from models.layers.spynet import SPyNet
from models.tmrnet import FlowGuidedDeformableAlignment
from models.training import TrainingBehaviour, TrainingStep
from simulator.core.errors import ConfigError

STAGES = {1: 0, 4: 2, 8: 3}  # output scale -> number of x2 pixel-shuffle stages (8: the published network)


class FullWeightDeformableAlignment(FlowGuidedDeformableAlignment):
    """TMRNet's flow-guided deformable alignment with an ungrouped weight ``[C, C, 3, 3]`` (mmcv ``groups=1``)
    shared by all ``deform_groups`` offset groups, as in RBSR.

    ``forward(other, reference, flow)``: features ``[N, C, h, w]``, flow ``[N, 2, h, w]`` (dx, dy) from the
    reference to the other frame -> aligned ``[N, C, h, w]``.
    """

    def __init__(self, channels: int = 64, deform_groups: int = 8, max_residue_magnitude: float = 10.0) -> None:
        super().__init__(channels, deform_groups, max_residue_magnitude)
        self.deform_conv = ModulatedDeformConv2d(channels, channels, 3, padding=1, groups=1)


class RBSR(nn.Module):
    """Recurrent burst network RBSR on bracketed RAW.

    Input ``raws``: ``[B, T, 4, h, w]`` packed RGGB as stored in [0, 1], shortest exposure first, consecutive
    exposures ``exposure_ratio`` apart; any ``T >= 2`` (the recurrence does not depend on ``num_frames``,
    which only fixes the default unit frame).
    Output: ``[B, out_channels, scale * h, scale * w]`` HDR RAW at the shortest exposure's instant on the unit
    frame's scale; no output activation.

    Args:
        num_frames: frames of the bracket the model is built for (sets the default unit frame).
        exposure_ratio: exposure ratio between consecutive frames (1 for a same-exposure burst).
        unit_frame: the frame whose scale the output uses (default ``(num_frames - 1) // 2``).
        scale: 1 (BracketIRE), 4 (BracketIRE+) or 8 (the published x8 network, for the spec's ``card``).
        mid_channels: feature width (64 published).
        extract_blocks, backbone_blocks, reconstruction_blocks: residual blocks of the feature
            extractor (5), the shared recurrent module (40) and the reconstruction (5).
        deform_groups: offset groups of the deformable alignment (8).
        max_residue_magnitude: bound of the learned offset residual around the flow (10).
        flow_levels: SPyNet pyramid levels (6 published).
        gamma_input: feed ``[x, x^(1/2.2)]`` (8 channels) rather than the 4 packed channels.
        out_channels: 4 (packed RAW) or 3 (RGB, published).
        implicit_weighting: in training, also supervise a random intermediate step (see :class:`RBSRTraining`).
    """

    def __init__(self, num_frames: int = 5, exposure_ratio: float = 4.0, unit_frame: int | None = None,
                 scale: int = 1, mid_channels: int = 64, extract_blocks: int = 5, backbone_blocks: int = 40,
                 reconstruction_blocks: int = 5, deform_groups: int = 8, max_residue_magnitude: float = 10.0,
                 flow_levels: int = 6, gamma_input: bool = True, out_channels: int = 4,
                 implicit_weighting: bool = True) -> None:
        super().__init__()
        if scale not in STAGES:
            raise ConfigError(f"RBSR scale={scale}; expected 1 (BracketIRE), 4 (BracketIRE+) or 8 (published)")
        if num_frames < 2:
            raise ConfigError(f"RBSR needs num_frames >= 2; got {num_frames}")
        self.num_frames, self.exposure_ratio, self.scale = num_frames, exposure_ratio, scale
        self.unit_frame = default_unit_frame(num_frames, unit_frame)
        self.gamma_input, self.implicit_weighting = gamma_input, implicit_weighting
        c = mid_channels
        stages = STAGES[scale]
        self.spynet = SPyNet(flow_levels)
        self.dcn_alignment = FullWeightDeformableAlignment(c, deform_groups, max_residue_magnitude)
        self.feat_extract = ResidualBlocksWithInputConv(8 if gamma_input else 4, c, extract_blocks)
        self.backbone = ResidualBlocksWithInputConv(3 * c, c, backbone_blocks)
        self.reconstruction = ResidualBlocksWithInputConv(2 * c, c, reconstruction_blocks)
        self.upsample = nn.ModuleList(PixelShufflePack(c, c, 2) for _ in range(stages))
        first_skip = PixelShufflePack(4, c, 2 if stages else 1)
        self.skipup = nn.ModuleList([first_skip, *(PixelShufflePack(c, c, 2) for _ in range(stages - 1))])
        self.conv_hr = nn.Conv2d(c, c, 3, padding=1)
        self.conv_last = nn.Conv2d(c, out_channels, 3, padding=1)
        self.lrelu = nn.LeakyReLU(0.1, inplace=True)

    def forward(self, raws: torch.Tensor, exposures: torch.Tensor | None = None,
                also_step: int | None = None) -> torch.Tensor:
        """``[B, T, 4, h, w]`` as stored -> ``[B, out_channels, scale * h, scale * w]``.

        With ``also_step`` (``0 .. T - 2``) it returns ``[B, 2, out_channels, scale * h, scale * w]``: the final
        output and the one decoded after recurrence step ``also_step`` (for :class:`RBSRTraining`).
        """
        reference, base, states = self._propagate(raws, exposures)
        skips = self._skips(reference)
        final = self._reconstruct(skips, base, states[-1])
        if also_step is None:
            return final
        return torch.stack([final, self._reconstruct(skips, base, states[also_step])], dim=1)

    def forward_all_steps(self, raws: torch.Tensor, exposures: torch.Tensor | None = None) -> torch.Tensor:
        """The output decoded after every recurrence step: ``[B, T, out_channels, scale * h, scale * w]``.

        Step ``T - 1`` equals ``forward``. RBSR's implicit weighting loss supervises a random earlier step
        besides the last; this gives all of them for one pass of the recurrence.
        """
        reference, base, states = self._propagate(raws, exposures)
        skips = self._skips(reference)
        return torch.stack([self._reconstruct(skips, base, state) for state in states], dim=1)

    def _propagate(self, raws: torch.Tensor, exposures: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor, list[torch.Tensor]]:
        """Normalised reference ``[B, 4, h, w]``, base features ``[B, C, h, w]``, hidden state after each step."""
        check_raws(raws)
        lqs, inputs = frame_inputs(raws, self.exposure_ratio, self.unit_frame, self.gamma_input, exposures)
        b, t, _, h, w = lqs.shape
        feats = self.feat_extract(inputs.flatten(0, 1)).view(b, t, -1, h, w)
        aligned = torch.cat([feats[:, :1], self._align(feats, lqs)], dim=1)

        base = aligned[:, 0]
        state = torch.zeros_like(base)
        states = []
        for index in range(t):
            state = state + self.backbone(torch.cat([base, aligned[:, index], state], dim=1))
            states.append(state)
        return lqs[:, 0], base, states

    def _align(self, feats: torch.Tensor, lqs: torch.Tensor) -> torch.Tensor:
        """Features ``[B, T, C, h, w]`` of frames 1..T-1 aligned to frame 0: ``[B, T - 1, C, h, w]``."""
        b, t, channels, h, w = feats.shape
        rgb = packed_to_rgb(lqs)
        reference_rgb = rgb[:, :1].expand(-1, t - 1, -1, -1, -1).reshape(-1, 3, h, w)
        flows = self.spynet(reference_rgb, rgb[:, 1:].reshape(-1, 3, h, w))
        reference = feats[:, :1].expand(-1, t - 1, -1, -1, -1).reshape(-1, channels, h, w)
        others = feats[:, 1:].reshape(-1, channels, h, w)
        return self.dcn_alignment(others, reference, flows).view(b, t - 1, channels, h, w)

    def _skips(self, reference: torch.Tensor) -> list[torch.Tensor]:
        """The skip path from the normalised reference ``[B, 4, h, w]``: one feature map per stage."""
        skips = [self.skipup[0](reference)]
        for layer in self.skipup[1:]:
            skips.append(layer(skips[-1]))
        return skips

    def _reconstruct(self, skips: list[torch.Tensor], base: torch.Tensor, state: torch.Tensor) -> torch.Tensor:
        """``[base, hidden]`` -> reconstruction -> pixel-shuffle stages plus skips -> output image."""
        hr = self.reconstruction(torch.cat([base, state], dim=1))
        if not self.upsample:
            hr = hr + skips[0]
        for layer, skip in zip(self.upsample, skips):
            hr = self.lrelu(layer(hr)) + skip
        return self.conv_last(self.lrelu(self.conv_hr(hr)))


class RBSRTraining(TrainingBehaviour):
    """RBSR's implicit weighting loss: the published mu-law L1 of the final output plus that of the output decoded
    after a random earlier step (uniform over ``0 .. T - 2``, drawn from torch's global generator; equal weights:
    ours). ``implicit_weighting=False`` or a one-frame input trains the final output only."""

    def forward(self, model: nn.Module, net: nn.Module, raws: torch.Tensor) -> TrainingStep:
        if not (isinstance(model, RBSR) and model.implicit_weighting) or raws.shape[1] < 2:
            return net(raws), {}
        both = net(raws, also_step=int(torch.randint(raws.shape[1] - 1, ())))
        return both[:, 0], {"intermediate": both[:, 1]}

    def loss(self, output: torch.Tensor, extras: dict[str, torch.Tensor], gt: torch.Tensor, kind: str) -> torch.Tensor:
        loss = mu_law_l1(output, gt)
        if "intermediate" in extras:
            loss = loss + mu_law_l1(extras["intermediate"], gt)
        return loss
