"""SPyNet optical flow (Ranjan & Black, "Optical Flow Estimation using a Spatial Pyramid Network", CVPR 2017).

The variant used by BasicVSR and TMRNet: six pyramid levels, each refining the upsampled flow with five
7x7 convolutions (8 -> 32 -> 64 -> 32 -> 16 -> 2). Parameter names match the published pretrained file
(``spynet_20210409-c6c1bd09.pth`` of MMEditing) and TMRNet's ``spynet.*`` entries.
"""

from __future__ import annotations

import os

import torch
import torch.nn.functional as F
from torch import nn

from models.layers.flow import flow_warp
from simulator.core.errors import DataError
from simulator.core.files import load_torch_file
from simulator.core.weights import WeightSpec, resolve_weights

SPYNET_WEIGHTS = WeightSpec(
    name="SPyNet (BasicVSR pretrained)",
    filename="spynet_20210409-c6c1bd09.pth",
    env_var="BRACKETIRE_SPYNET",
    urls=("https://download.openmmlab.com/mmediting/restorers/basicvsr/spynet_20210409-c6c1bd09.pth",),
    how_to_get="Download spynet_20210409-c6c1bd09.pth (MMEditing's BasicVSR SPyNet) and pass its path or set $BRACKETIRE_SPYNET.",
)
SPYNET_SHIPPED = WeightSpec(
    name="SPyNet (trained by this toolkit on simulated bracket pairs)",
    filename="spynet_bracketire.pth",
    env_var="BRACKETIRE_SPYNET_SHIPPED",
    package_file=("models", "weights/spynet_bracketire.pth"),
    how_to_get="Shipped in models/weights/; rebuild it with the command in models/weights/README.md.",
)
LEVELS = 6


class _BasicModule(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        widths = (8, 32, 64, 32, 16, 2)
        layers: list[nn.Module] = []
        for index, (cin, cout) in enumerate(zip(widths[:-1], widths[1:])):
            layers.append(nn.Conv2d(cin, cout, kernel_size=7, padding=3))
            if index < len(widths) - 2:
                layers.append(nn.ReLU(inplace=True))
        self.basic_module = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.basic_module(x)


class SPyNet(nn.Module):
    """Optical flow from ``ref`` to ``supp``.

    ``forward(ref, supp)``: both ``[N, 3, H, W]`` RGB in [0, 1] -> flow ``[N, 2, H, W]`` in pixels,
    channels (dx, dy), such that ``flow_warp(supp, flow)`` approximates ``ref``. Any H, W: the images are
    resized to multiples of ``2 ** (levels - 1)`` internally and the flow is scaled back. ``levels=6`` is
    the published network; fewer levels give the small configurations used in tests.
    """

    def __init__(self, levels: int = LEVELS) -> None:
        super().__init__()
        self.levels = levels
        self.basic_module = nn.ModuleList(_BasicModule() for _ in range(levels))
        self.register_buffer("mean", torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1))

    def _pyramid_flow(self, ref: torch.Tensor, supp: torch.Tensor) -> torch.Tensor:
        refs, supps = [(ref - self.mean) / self.std], [(supp - self.mean) / self.std]
        for _ in range(self.levels - 1):
            refs.append(F.avg_pool2d(refs[-1], kernel_size=2, stride=2, count_include_pad=False))
            supps.append(F.avg_pool2d(supps[-1], kernel_size=2, stride=2, count_include_pad=False))
        refs, supps = refs[::-1], supps[::-1]
        n, _, height, width = refs[0].shape
        flow = refs[0].new_zeros(n, 2, height, width)
        for level, (ref_l, supp_l) in enumerate(zip(refs, supps)):
            up = flow if level == 0 else F.interpolate(flow, scale_factor=2, mode="bilinear", align_corners=True) * 2.0
            warped = flow_warp(supp_l, up, padding_mode="border")
            flow = up + self.basic_module[level](torch.cat([ref_l, warped, up], dim=1))
        return flow

    def _pyramid_size(self, height: int, width: int) -> tuple[int, int]:
        """``(height, width)`` rounded up to multiples of ``2 ** (levels - 1)`` (what the pyramid halves cleanly)."""
        multiple = 2 ** (self.levels - 1)
        return -(-height // multiple) * multiple, -(-width // multiple) * multiple

    @torch.no_grad()
    def zero_output(self) -> None:
        """Zero every level's last convolution: the network then predicts no motion (``flow == 0``) until it
        learns otherwise (``model.spynet_weights=zero``)."""
        for module in self.basic_module:
            last = module.basic_module[-1]
            last.weight.zero_()
            last.bias.zero_()

    def to_pyramid_size(self, ref: torch.Tensor, supp: torch.Tensor,
                        truth: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """A training pair resized up to multiples of ``2 ** (levels - 1)`` (as :meth:`forward` resizes its
        inputs), the true flow ``[N, 2, H, W]`` resized and scaled with it; unchanged when already a multiple."""
        height, width = ref.shape[-2:]
        size = self._pyramid_size(height, width)
        if size == (height, width):
            return ref, supp, truth
        ref, supp, truth = (F.interpolate(x, size=size, mode="bilinear", align_corners=False) for x in (ref, supp, truth))
        scale = torch.tensor([size[1] / width, size[0] / height], dtype=truth.dtype, device=truth.device)
        return ref, supp, truth * scale.view(1, 2, 1, 1)

    def level_flow(self, ref: torch.Tensor, supp: torch.Tensor, level: int) -> torch.Tensor:
        """The flow after pyramid level ``level`` (0 = coarsest) of the chained network, gradients through that
        level only (the coarser ones run without grad): Ranjan & Black's level-by-level training.

        ``ref``, ``supp``: ``[N, 3, H, W]`` RGB, ``H`` and ``W`` multiples of ``2 ** (levels - 1)``. Returns
        ``[N, 2, H / s, W / s]`` in that level's pixels, ``s = 2 ** (levels - 1 - level)``.
        """
        stride = 2 ** (self.levels - 1 - level)  # the finer levels are not needed: start at this level's size
        refs = [F.avg_pool2d((ref - self.mean) / self.std, kernel_size=stride, stride=stride)]
        supps = [F.avg_pool2d((supp - self.mean) / self.std, kernel_size=stride, stride=stride)]
        for _ in range(level):
            refs.append(F.avg_pool2d(refs[-1], kernel_size=2, stride=2))
            supps.append(F.avg_pool2d(supps[-1], kernel_size=2, stride=2))
        grad = torch.is_grad_enabled()
        flow = refs[-1].new_zeros(ref.shape[0], 2, *refs[-1].shape[-2:])
        for index, (ref_l, supp_l) in enumerate(zip(refs[::-1], supps[::-1])):
            if index:
                flow = F.interpolate(flow, scale_factor=2, mode="bilinear", align_corners=True) * 2.0
            with torch.set_grad_enabled(grad and index == level):
                warped = flow_warp(supp_l, flow, padding_mode="border")
                flow = flow + self.basic_module[index](torch.cat([ref_l, warped, flow], dim=1))
        return flow

    def guided_level_flows(self, ref: torch.Tensor, supp: torch.Tensor, truth: torch.Tensor,
                           jitter: torch.Tensor) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """Every level refining the *true* flow of the level below it (teacher forcing, Ranjan & Black's
        level-by-level training, all levels at once): ``[(prediction, target), ...]`` coarse to fine.

        Args:
            ref, supp: ``[N, 3, H, W]`` RGB (resized up to multiples of ``2 ** (levels - 1)`` if they are not,
                with ``truth``; the targets are then at that size).
            truth: ``[N, 2, H, W]`` the true flow, pixels.
            jitter: ``[N, levels, 2]`` offsets (that level's pixels) added to the flow each level starts from,
                so that a level learns to correct the errors a coarser level leaves, not only to copy its input.

        Returns:
            Per level, the flow it predicts and the true flow at its resolution (``avg_pool`` of ``truth``,
            divided by the level's stride), both ``[N, 2, H / s, W / s]``.
        """
        ref, supp, truth = self.to_pyramid_size(ref, supp, truth)
        refs, supps = [(ref - self.mean) / self.std], [(supp - self.mean) / self.std]
        truths = [truth]
        for _ in range(self.levels - 1):
            refs.append(F.avg_pool2d(refs[-1], kernel_size=2, stride=2))
            supps.append(F.avg_pool2d(supps[-1], kernel_size=2, stride=2))
            truths.append(F.avg_pool2d(truths[-1], kernel_size=2, stride=2) / 2)
        pairs = []
        for level, (ref_l, supp_l, truth_l) in enumerate(zip(refs[::-1], supps[::-1], truths[::-1])):
            if level == 0:
                start = torch.zeros_like(truth_l)
            else:
                start = F.interpolate(truths[self.levels - level], scale_factor=2, mode="bilinear", align_corners=True) * 2.0
                start = start + jitter[:, level].view(-1, 2, 1, 1).to(start)
            warped = flow_warp(supp_l, start, padding_mode="border")
            pairs.append((start + self.basic_module[level](torch.cat([ref_l, warped, start], dim=1)), truth_l))
        return pairs

    def forward(self, ref: torch.Tensor, supp: torch.Tensor) -> torch.Tensor:
        height, width = ref.shape[-2:]
        height_up, width_up = self._pyramid_size(height, width)
        ref = F.interpolate(ref, size=(height_up, width_up), mode="bilinear", align_corners=False)
        supp = F.interpolate(supp, size=(height_up, width_up), mode="bilinear", align_corners=False)
        flow = F.interpolate(self._pyramid_flow(ref, supp), size=(height, width), mode="bilinear", align_corners=False)
        scale = torch.tensor([width / width_up, height / height_up], dtype=flow.dtype, device=flow.device)
        return flow * scale.view(1, 2, 1, 1)


def load_spynet_weights(model: SPyNet, path: str | os.PathLike[str] | None = None) -> SPyNet:
    """Load the published pretrained SPyNet into ``model`` (file path, ``$BRACKETIRE_SPYNET`` or cache).

    Accepts a plain state dict or a checkpoint wrapping one under ``state_dict``, with or without a
    ``spynet.`` / ``module.`` prefix; read with ``weights_only=True``.

    Raises:
        WeightsNotFoundError: no file; the message says where to get it.
        DataError: the file is not a SPyNet state dict (missing or unexpected keys are named).
    """
    file = resolve_weights(SPYNET_WEIGHTS, path)
    state = load_torch_file(file, "PyTorch checkpoint")
    if isinstance(state, dict) and isinstance(state.get("state_dict"), dict):
        state = state["state_dict"]
    if not isinstance(state, dict):
        raise DataError(f"{file}: expected a SPyNet state dict, got {type(state).__name__}")
    cleaned = {}
    for key, value in state.items():
        for prefix in ("module.", "spynet.", "generator.spynet."):
            if key.startswith(prefix):
                key = key[len(prefix):]
        cleaned[key] = value
    result = model.load_state_dict(cleaned, strict=False)
    if result.missing_keys or result.unexpected_keys:
        raise DataError(f"{file}: not SPyNet weights (missing {result.missing_keys[:3]}, unexpected {result.unexpected_keys[:3]})")
    return model
