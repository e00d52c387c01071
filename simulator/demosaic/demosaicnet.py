"""DemosaicNet (Gharbi et al., "Deep Joint Demosaicking and Denoising", SIGGRAPH Asia 2016), Bayer model.

The published BracketIRE rendering protocol demosaics with the pretrained Bayer network of that paper.
This is our implementation of the network as the protocol runs it, with parameter names that match the
published weight file, so the file loads unchanged with ``torch.load(..., weights_only=True)``.

The network was trained on gamma-encoded images, so :func:`demosaic_demosaicnet` wraps it exactly as the
protocol does: clip to [0, 1], encode with ``x^(1/2.2)``, shift the RGGB mosaic by one column to the
network's GRBG phase, run the network, crop the shift, clip, decode with ``x^2.2``.

Weights: the same tensors ship as ``bayer.pth`` in the MIT-licensed ``demosaicnet`` package on PyPI
(installed with this toolkit) and as ``isp/model.bin`` in the BracketIRE repository. Give another file with
``weights=PATH`` or ``$BRACKETIRE_DEMOSAICNET``.
"""

from __future__ import annotations

import functools
import os

import torch
from torch import nn

from simulator.bayer import unpack
from simulator.core.checks import check_image
from simulator.core.errors import DataError
from simulator.core.files import load_torch_file
from simulator.core.weights import WeightSpec, resolve_weights

DEMOSAICNET_WEIGHTS = WeightSpec(
    name="DemosaicNet (Bayer)",
    filename="demosaicnet_bayer.pth",
    env_var="BRACKETIRE_DEMOSAICNET",
    sha256=(
        "3ed8307b85cd73994677159f62d4525580fcd54399783512a6bf2402ae58ca7f",  # BracketIRE isp/model.bin
        "a90f45c34b89fea3faf49060687839a7d191d302f597a302b31d1bbc021ff7d8",  # demosaicnet 0.0.14 bayer.pth
    ),
    urls=("https://github.com/cszhilu1998/BracketIRE/raw/main/isp/model.bin",),
    package_file=("demosaicnet", "data/bayer.pth"),
    how_to_get=(
        "Install the 'demosaicnet' package (pip install demosaicnet; it ships data/bayer.pth), or put the "
        "BracketIRE repository's isp/model.bin there, or pass its path (weights=... / $BRACKETIRE_DEMOSAICNET)."
    ),
)

DISPLAY_GAMMA = 2.2  # the protocol encodes the mosaic with x^(1/2.2) before the network and decodes after


class _MainProcessor(nn.Module):
    def __init__(self, depth: int = 15, width: int = 64) -> None:
        super().__init__()
        self.pack_mosaic = nn.Conv2d(3, 4, kernel_size=2, stride=2)
        for index in range(1, depth + 1):
            in_ch = 4 if index == 1 else width
            out_ch = 2 * width if index == depth else width
            self.add_module(f"conv{index}", nn.Conv2d(in_ch, out_ch, kernel_size=3, padding=1))
        self.depth = depth

    def forward(self, mosaic: torch.Tensor) -> torch.Tensor:
        x = self.pack_mosaic(mosaic)
        for index in range(1, self.depth + 1):
            x = getattr(self, f"conv{index}")(x).relu_()  # in place: 16 % faster on CPU, the same values
        return x


class _FullResProcessor(nn.Module):
    def __init__(self, width: int = 64) -> None:
        super().__init__()
        self.post_conv = nn.Conv2d(6, width, kernel_size=3, padding=1)
        self.output = nn.Conv2d(width, 3, kernel_size=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.output(self.post_conv(x).relu_())


class BayerDemosaicNet(nn.Module):
    """The Bayer DemosaicNet as the BracketIRE protocol runs it.

    Input ``mosaic``: ``[B, 3, H, W]`` float, a GRBG mosaic spread over three channels (zeros where a
    channel was not sampled), gamma-encoded, in [0, 1]; H and W even.
    Output: ``[B, 3, H, W]`` RGB in the same gamma domain, not clamped.
    """

    def __init__(self, depth: int = 15, width: int = 64) -> None:
        super().__init__()
        self.width = width
        self.main_processor = _MainProcessor(depth, width)
        self.residual_predictor = nn.Conv2d(width, 12, kernel_size=1)
        self.upsampler = nn.ConvTranspose2d(12, 3, kernel_size=2, stride=2, groups=3)
        self.fullres_processor = _FullResProcessor(width)

    def forward(self, mosaic: torch.Tensor) -> torch.Tensor:
        features = self.main_processor(mosaic)
        filters, masks = features[:, : self.width], features[:, self.width :]
        residual = self.residual_predictor(filters * masks)
        upsampled = self.upsampler(residual)
        joined = torch.cat([mosaic, upsampled], dim=1)
        return self.fullres_processor(joined.contiguous(memory_format=_memory_format(mosaic)))


def _memory_format(x: torch.Tensor) -> torch.memory_format:
    """channels-last for a channels-last ``x`` (the layout oneDNN convolutions run fastest in on CPU)."""
    return torch.channels_last if x.dim() == 4 and x.is_contiguous(memory_format=torch.channels_last) else torch.contiguous_format


def load_demosaicnet(weights: str | os.PathLike[str] | None = None, device: torch.device | str = "cpu") -> BayerDemosaicNet:
    """Build the network and load the published Bayer weights (see the module docstring for where from).

    Raises:
        WeightsNotFoundError: no weight file was found; the message says how to get one.
        DataError: the file is not a DemosaicNet Bayer state dict.
    """
    path = resolve_weights(DEMOSAICNET_WEIGHTS, weights)
    return _load_cached(str(path), str(torch.device(device)))


@functools.lru_cache(maxsize=4)
def _load_cached(path: str, device: str) -> BayerDemosaicNet:
    state = load_torch_file(path, "PyTorch state dict")
    net = BayerDemosaicNet()
    if not isinstance(state, dict):
        raise DataError(f"{path}: expected a DemosaicNet state dict, got {type(state).__name__}")
    result = net.load_state_dict(state, strict=False)
    shapes_ok = all(state[k].shape == v.shape for k, v in net.state_dict().items() if k in state)
    if result.missing_keys or result.unexpected_keys or not shapes_ok:
        raise DataError(
            f"{path}: not the DemosaicNet Bayer weights (missing {result.missing_keys[:3]}, "
            f"unexpected {result.unexpected_keys[:3]}, shapes {'match' if shapes_ok else 'differ'})"
        )
    net = net.to(device).eval().requires_grad_(False)
    if torch.device(device).type == "cpu":  # oneDNN's channels-last convolutions are the fast ones on CPU
        net = net.to(memory_format=torch.channels_last)
    return net


def _rggb_to_grbg_input(bayer: torch.Tensor) -> torch.Tensor:
    """``[N, H, W]`` RGGB mosaic -> ``[N, 3, H, W+2]`` masked GRBG input (one column added each side).

    The padding (column 1 copied to the left, the last column to the right) and the masking are one
    pass: each Bayer site is written straight into its colour plane of a zero tensor; channels-last.
    """
    count, height, width = bayer.shape
    out = bayer.new_zeros(count, height, width + 2, 3).permute(0, 3, 1, 2)  # [N, 3, H, W+2], channels-last
    # padded column j holds bayer column j - 1; the padded image is GRBG: G R / B G
    even, odd = bayer[:, 0::2], bayer[:, 1::2]
    out[:, 1, 0::2, 2:-1:2] = even[..., 1::2]  # G (bayer Gr), padded columns 2, 4, ...
    out[:, 0, 0::2, 1:-1:2] = even[..., 0::2]  # R, padded columns 1, 3, ...
    out[:, 2, 1::2, 2:-1:2] = odd[..., 1::2]   # B, padded columns 2, 4, ...
    out[:, 1, 1::2, 1:-1:2] = odd[..., 0::2]   # G (bayer Gb), padded columns 1, 3, ...
    out[:, 1, 0::2, 0] = even[..., 1]          # left pad = bayer column 1 (Gr / B)
    out[:, 2, 1::2, 0] = odd[..., 1]
    out[:, 0, 0::2, -1] = even[..., -1]        # right pad = last bayer column (Gr / B)
    out[:, 1, 1::2, -1] = odd[..., -1]
    return out


def demosaic_demosaicnet(
    packed: torch.Tensor,
    weights: str | os.PathLike[str] | BayerDemosaicNet | None = None,
) -> torch.Tensor:
    """Demosaic with the published DemosaicNet, wrapped in the protocol's gamma encoding.

    Args:
        packed: ``[..., 4, h, w]`` packed RGGB, linear, floating; clipped to [0, 1] here.
        weights: a loaded network, a weight file path, or None to look it up (see the module docstring).

    Returns:
        ``[..., 3, 2h, 2w]`` linear RGB in [0, 1], same dtype and device as ``packed``.
    """
    check_image(packed, "packed", 4)
    net = weights if isinstance(weights, nn.Module) else load_demosaicnet(weights, packed.device)
    *lead, _, height, width = packed.shape
    bayer = unpack(packed.reshape(-1, 4, height, width)).clamp(0, 1) ** (1 / DISPLAY_GAMMA)
    param = next(net.parameters())
    rgb = net(_rggb_to_grbg_input(bayer.to(param.dtype)))[..., 1:-1].clamp(0, 1).to(packed.dtype)
    return (rgb**DISPLAY_GAMMA).reshape(*lead, 3, 2 * height, 2 * width)
