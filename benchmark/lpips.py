"""LPIPS v0.1 with AlexNet features (Zhang et al., CVPR 2018), as the BracketIRE test script runs it.

The published script calls ``lpips.LPIPS(net='alex', version='0.1')`` on ``img / (65535 / 2) - 1`` (NCHW,
float32, in [-1, 1]). This is our implementation of that network in plain torch (no torchvision):

    scale: (x - shift) / scale per channel  ->  AlexNet conv1..conv5, the output of each ReLU
    -> unit-normalise each feature over channels  ->  squared difference  ->  1x1 linear head (no bias)
    -> spatial mean  ->  sum over the five layers

Two weight files are needed, loaded with ``torch.load(..., weights_only=True)``:

* **AlexNet** (ImageNet), torchvision's ``alexnet-owt-7be5be79.pth`` (keys ``features.{0,3,6,8,10}.*``;
  the ``classifier.*`` keys are ignored). ``$BRACKETIRE_ALEXNET``, the cache, torch's hub cache
  (``~/.cache/torch/hub/checkpoints``, where torchvision keeps it), or a download.
* **LPIPS heads** ``weights/v0.1/alex.pth`` of the ``lpips`` package (keys ``lin0.model.1.weight`` ..
  ``lin4.model.1.weight``, shapes ``(1, C, 1, 1)``). ``$BRACKETIRE_LPIPS_ALEX``, the cache, the installed
  ``lpips`` package, or a download from the PerceptualSimilarity repository.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from benchmark.metrics import UINT16_MAX, MetricUnavailableError, check_pair
from simulator.core.errors import DataError, WeightsNotFoundError
from simulator.core.files import load_torch_file
from simulator.core.weights import WeightSpec, cache_dir, resolve_weights

ALEXNET_WEIGHTS = WeightSpec(
    name="AlexNet (torchvision, ImageNet)",
    filename="alexnet-owt-7be5be79.pth",
    env_var="BRACKETIRE_ALEXNET",
    urls=("https://download.pytorch.org/models/alexnet-owt-7be5be79.pth",),
    how_to_get=(
        "Download torchvision's AlexNet weights from https://download.pytorch.org/models/alexnet-owt-7be5be79.pth "
        "and set $BRACKETIRE_ALEXNET to the file, or put it in the BracketIRE cache; a copy in torch's hub cache "
        "(~/.cache/torch/hub/checkpoints, where torchvision keeps it) is used too."
    ),
)
LPIPS_HEADS_WEIGHTS = WeightSpec(
    name="LPIPS v0.1 AlexNet heads",
    filename="lpips_v0.1_alex.pth",
    env_var="BRACKETIRE_LPIPS_ALEX",
    urls=("https://github.com/richzhang/PerceptualSimilarity/raw/master/lpips/weights/v0.1/alex.pth",),
    package_file=("lpips", "weights/v0.1/alex.pth"),
    how_to_get=(
        "Install the 'lpips' package without its dependencies (pip install --no-deps lpips: a plain install may "
        "replace a CPU torch with a CUDA one; it ships weights/v0.1/alex.pth), or download "
        "lpips/weights/v0.1/alex.pth from github.com/richzhang/PerceptualSimilarity and set $BRACKETIRE_LPIPS_ALEX."
    ),
)

SHIFT = (-0.030, -0.088, -0.188)  # LPIPS ScalingLayer, v0.1
SCALE = (0.458, 0.448, 0.450)
CHANNELS = (64, 192, 384, 256, 256)  # AlexNet features after each ReLU
EPS = 1e-10


class AlexNetFeatures(nn.Module):
    """The convolutional part of torchvision's AlexNet, with its parameter names (``features.N.*``).

    Input ``x``: ``[B, 3, H, W]`` float, normalised as LPIPS scales it; H, W at least 31 (two 3x3/2
    max-pools follow an 11x11/4 convolution).
    Output: the five ReLU outputs, ``[B, C_i, h_i, w_i]`` with ``C = 64, 192, 384, 256, 256``.
    """

    def __init__(self) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 64, kernel_size=11, stride=4, padding=2), nn.ReLU(),  # 0, 1
            nn.MaxPool2d(kernel_size=3, stride=2),                             # 2
            nn.Conv2d(64, 192, kernel_size=5, padding=2), nn.ReLU(),           # 3, 4
            nn.MaxPool2d(kernel_size=3, stride=2),                             # 5
            nn.Conv2d(192, 384, kernel_size=3, padding=1), nn.ReLU(),          # 6, 7
            nn.Conv2d(384, 256, kernel_size=3, padding=1), nn.ReLU(),          # 8, 9
            nn.Conv2d(256, 256, kernel_size=3, padding=1), nn.ReLU(),          # 10, 11
        )

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        taps = []
        for layer in self.features:
            x = layer(x)
            if isinstance(layer, nn.ReLU):
                taps.append(x)
        return taps


class LPIPS(nn.Module):
    """LPIPS v0.1 distance with AlexNet features; parameter names ``net.features.*`` and ``lin{i}.weight``.

    Input ``x``, ``y``: ``[B, 3, H, W]`` float32 RGB in [-1, 1] (``img / (65535 / 2) - 1`` for 16-bit).
    Output: ``[B]`` distances, >= 0 (0 for identical inputs when the heads are non-negative, as trained).
    """

    def __init__(self) -> None:
        super().__init__()
        self.net = AlexNetFeatures()
        self.register_buffer("shift", torch.tensor(SHIFT).view(1, 3, 1, 1))
        self.register_buffer("scale", torch.tensor(SCALE).view(1, 3, 1, 1))
        for index, channels in enumerate(CHANNELS):  # 1x1 convolutions without bias (dropout: identity in eval)
            self.register_parameter(f"lin{index}", nn.Parameter(torch.zeros(1, channels, 1, 1)))

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        fx = self.net((x - self.shift) / self.scale)
        fy = self.net((y - self.shift) / self.scale)
        total = x.new_zeros(x.shape[0])
        for index, (a, b) in enumerate(zip(fx, fy)):
            diff = (unit_normalise(a) - unit_normalise(b)) ** 2
            total = total + F.conv2d(diff, getattr(self, f"lin{index}")).mean(dim=(1, 2, 3))
        return total


def unit_normalise(features: torch.Tensor) -> torch.Tensor:
    """``features / (||features||_2 over channels + 1e-10)``; ``[B, C, h, w]`` float -> same shape."""
    return features / (torch.sqrt((features**2).sum(dim=1, keepdim=True)) + EPS)


def _locate(spec: WeightSpec, path: str | os.PathLike[str] | None, hub: bool) -> Path:
    """``resolve_weights``, but a copy in torch's hub cache is taken before any download."""
    if hub and path is None and not os.environ.get(spec.env_var) and not (cache_dir() / spec.filename).is_file():
        candidate = Path(torch.hub.get_dir()) / "checkpoints" / spec.filename
        if candidate.is_file():
            return candidate
    return resolve_weights(spec, path)


_FILE_NAMES = {"alexnet": "alexnet-owt-7be5be79.pth", "heads": "lpips weights/v0.1/alex.pth"}  # as people know them


def load_lpips(
    alexnet: str | os.PathLike[str] | None = None,
    heads: str | os.PathLike[str] | None = None,
    device: torch.device | str = "cpu",
) -> LPIPS:
    """Build :class:`LPIPS` and load both weight files (see the module docstring for where they are found).

    Raises:
        MetricUnavailableError: a file was not found; one line naming both files, their variables and what
            was found (the README's "LPIPS weights" says how to get them; ``WeightSpec.how_to_get`` too).
        DataError: a file is not the expected state dict (names the file and the first wrong key).
    """
    found: dict[str, Path] = {}
    states = []
    for key, spec, path in (("alexnet", ALEXNET_WEIGHTS, alexnet), ("heads", LPIPS_HEADS_WEIGHTS, heads)):
        try:
            found[key] = _locate(spec, path, hub=key == "alexnet")
            states.append(f"{_FILE_NAMES[key]} (${spec.env_var}): found at {found[key]}")
        except WeightsNotFoundError:
            where = Path(path) if path is not None else Path(os.environ[spec.env_var]) if os.environ.get(spec.env_var) else None
            states.append(f"{_FILE_NAMES[key]} (${spec.env_var}): " + (f"{where}: weight file not found" if where else "missing"))
    if len(found) < 2:  # one line: the two files, their variables, and where the how-to lives
        raise MetricUnavailableError("LPIPS needs 2 weight files: " + "; ".join(states) + " (README: LPIPS weights)")
    return _load_cached(str(found["alexnet"]), str(found["heads"]), str(torch.device(device)))


def _read_state(path: str) -> dict[str, torch.Tensor]:
    state = load_torch_file(path, "PyTorch state dict")
    if not isinstance(state, dict):
        raise DataError(f"{path}: expected a state dict, got {type(state).__name__}")
    return state


def _take(state: dict[str, torch.Tensor], key: str, shape: torch.Size, path: str) -> torch.Tensor:
    if key not in state:
        kind = "LPIPS heads" if key.startswith("lin") else "torchvision AlexNet"
        raise DataError(f"{path}: key {key!r} missing; expected a {kind} state dict")
    value = state[key]
    if not isinstance(value, torch.Tensor) or value.shape != shape:
        got = tuple(value.shape) if isinstance(value, torch.Tensor) else type(value).__name__
        raise DataError(f"{path}: {key!r} has shape {got}; expected {tuple(shape)}")
    return value


@functools.lru_cache(maxsize=4)
def _load_cached(alexnet: str, heads: str, device: str) -> LPIPS:
    model = LPIPS()
    net_state, head_state = _read_state(alexnet), _read_state(heads)
    with torch.no_grad():
        for name, param in model.net.named_parameters():  # features.0.weight, ...
            param.copy_(_take(net_state, name, param.shape, alexnet))
        for index in range(len(CHANNELS)):
            param = getattr(model, f"lin{index}")
            param.copy_(_take(head_state, f"lin{index}.model.1.weight", param.shape, heads))
    return model.to(device).eval().requires_grad_(False)


def to_lpips_input(image: np.ndarray, device: torch.device | str = "cpu") -> torch.Tensor:
    """uint16 ``(H, W, 3)`` RGB -> ``[1, 3, H, W]`` float32 in [-1, 1]: ``img / (65535 / 2) - 1`` (in float64)."""
    scaled = torch.from_numpy(np.ascontiguousarray(image)).to(torch.float64) / (UINT16_MAX / 2) - 1
    return scaled.permute(2, 0, 1)[None].to(device=device, dtype=torch.float32)


def lpips_distance(output: np.ndarray, gt: np.ndarray, model: LPIPS) -> float:
    """LPIPS between two 16-bit images with a loaded model.

    Args:
        output, gt: uint16 ``(H, W, 3)`` RGB in [0, 65535], same shape (at least 31x31).
        model: from :func:`load_lpips`.

    Returns:
        The distance, float >= 0 for trained heads (lower is better).
    """
    check_pair(output, gt)
    if min(output.shape[:2]) < 31:
        raise DataError(f"LPIPS (AlexNet) needs images of at least 31x31 pixels; got {output.shape[0]}x{output.shape[1]}")
    device = model.shift.device
    with torch.no_grad():
        return float(model(to_lpips_input(output, device), to_lpips_input(gt, device))[0])


def make_lpips(
    alexnet: str | os.PathLike[str] | None = None,
    heads: str | os.PathLike[str] | None = None,
    device: str = "cpu",
) -> Callable[[np.ndarray, np.ndarray], float]:
    """LPIPS v0.1 AlexNet of the BracketIRE test script (lower is better); loads both weight files now."""
    model = load_lpips(alexnet, heads, device)
    return functools.partial(lpips_distance, model=model)
