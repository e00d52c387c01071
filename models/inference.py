"""Full-image inference by tiles, within a memory budget, on CPU or CUDA.

The image is cut into tiles whose *cores* partition it; each tile is run with ``overlap`` pixels of real
context on every side (less at the image border, where the untiled model sees its zero padding too) and
only its core is kept. For a network whose receptive field radius is at most ``overlap`` the result equals
the untiled forward exactly. TMRNet's SPyNet sees the whole tile through its pyramid, so tiles differ from
the untiled output near strong motion; a larger overlap reduces that, and a tile that covers the image
reproduces the untiled forward exactly.
"""

from __future__ import annotations

import inspect
import math

import torch
from torch import nn

from simulator.core.errors import ConfigError

# Peak memory of one TMRNet forward above the built model, fitted to perf/tiled_memory.py's measurements (CPU,
# ru_maxrss, 8/16/64 channels, 48x48 and 96x96 packed input; the law below stays above every one):
#   peak = FORWARD_OVERHEAD_BYTES + pixels * frames * (BYTES_PER_FRAME_PIXEL + BYTES_PER_CHANNEL_PIXEL * channels)
# The channel-independent term (SPyNet's flow pyramid and the per-frame inputs do not scale with mid_channels)
# dominates below ~32 channels: counting channels alone, the peak at 16 channels ran 2.5x over the budget.
BYTES_PER_CHANNEL_PIXEL = 4 * 12  # ~12 live float32 feature maps per channel and frame
BYTES_PER_FRAME_PIXEL = 1700  # per frame and pixel, whatever the width
FORWARD_OVERHEAD_BYTES = 32 * 2**20  # once per forward (thread pools, convolution scratch), whatever the size


def forward_bytes(pixels: int, channels: int = 64, frames: int = 5) -> int:
    """Planned peak memory (bytes) of one forward over ``pixels`` packed input pixels (the law above)."""
    return FORWARD_OVERHEAD_BYTES + pixels * frames * (BYTES_PER_FRAME_PIXEL + BYTES_PER_CHANNEL_PIXEL * channels)


def tile_for_budget(memory_gb: float, channels: int = 64, frames: int = 5, overlap: int = 0) -> int:
    """Largest tile core side (packed pixels, multiple of 8) whose forward fits in ``memory_gb``.

    The network runs on the core plus ``overlap`` pixels of context on every side, so the law is
    ``forward_bytes((tile + 2 overlap)**2, channels, frames) <= memory_gb * 2**30`` (:func:`forward_bytes`).

    Raises:
        ConfigError: the budget cannot hold even an 8-pixel core with its overlap (naming the smallest budget).
    """
    if not (memory_gb > 0 and math.isfinite(memory_gb)):
        raise ConfigError(f"--memory-gb {memory_gb}; expected a positive number of GiB")
    per_pixel = forward_bytes(1, channels, frames) - FORWARD_OVERHEAD_BYTES
    room = int(memory_gb * 2**30) - FORWARD_OVERHEAD_BYTES
    side = (math.isqrt(room // per_pixel) if room > 0 else 0) - 2 * overlap
    if side < 8:
        smallest = forward_bytes((8 + 2 * overlap) ** 2, channels, frames) / 2**30
        raise ConfigError(f"--memory-gb {memory_gb}: too small for an 8-pixel tile with {overlap} pixels of overlap "
                          f"({channels} channels, {frames} frames); expected at least {smallest:.3f}")
    return side // 8 * 8


def _starts(size: int, core: int) -> list[int]:
    return list(range(0, size, core))


@torch.no_grad()
def tiled_forward(
    model: nn.Module,
    raws: torch.Tensor,
    tile: int | None = 256,
    overlap: int = 32,
    memory_gb: float | None = None,
    device: torch.device | str | None = None,
    autocast: bool = False,
    progress: bool = False,
    exposures: torch.Tensor | None = None,
) -> torch.Tensor:
    """Run ``model`` on ``raws`` tile by tile.

    Args:
        model: maps ``[B, T, 4, h, w] -> [B, 4, s*h, s*w]`` (``s`` = ``model.scale`` or 1).
        raws: ``[B, T, 4, h, w]`` input, on any device.
        tile: core size in input pixels; None with ``memory_gb`` picks it from the budget; None alone
            runs the image whole.
        overlap: context pixels around each core.
        memory_gb: activation budget used when ``tile`` is None; it counts the overlap (see
            :func:`tile_for_budget`).
        device: where to run (default: the model's device); outputs return to ``raws``' device.
        autocast: float16 autocast on CUDA (ignored on CPU).
        progress: show a progress bar over tiles.
        exposures: the bracket's measured relative exposures ``[T]`` or ``[B, T]``, passed to every tile's
            ``model(raws, exposures=...)``; None keeps the fixed-ratio call ``model(raws)`` (so does a model
            whose forward has no ``exposures`` argument, see :func:`accepts_exposures`).

    Returns:
        ``[B, 4, s*h, s*w]`` float32 on ``raws``' device.
    """
    from tqdm import tqdm

    if device is None:  # the model's device; a model without parameters (reference, merge) runs where raws are
        device = next((p.device for p in model.parameters()), raws.device)
    device = torch.device(device)
    scale = getattr(model, "scale", 1)
    height, width = raws.shape[-2:]
    if tile is None and memory_gb is not None:
        tile = tile_for_budget(memory_gb, getattr(model, "mid_channels", 64), raws.shape[1], overlap)
    if tile is None or (tile >= height and tile >= width):
        return _run(model, raws, device, autocast, exposures).to(raws.device)
    out = torch.zeros(raws.shape[0], 4, scale * height, scale * width, device=raws.device)
    boxes = [(y, x) for y in _starts(height, tile) for x in _starts(width, tile)]
    for y, x in tqdm(boxes, disable=not progress, desc="tiles", unit="tile"):
        y1, x1 = min(y + tile, height), min(x + tile, width)
        ty, tx = max(0, y - overlap), max(0, x - overlap)
        by, bx = min(height, y1 + overlap), min(width, x1 + overlap)
        result = _run(model, raws[..., ty:by, tx:bx], device, autocast, exposures).to(raws.device)
        oy, ox = (y - ty) * scale, (x - tx) * scale
        out[..., y * scale : y1 * scale, x * scale : x1 * scale] = result[
            ..., oy : oy + (y1 - y) * scale, ox : ox + (x1 - x) * scale
        ]
    return out


def accepts_exposures(model: nn.Module) -> bool:
    """True when ``model.forward`` takes measured ``exposures`` (every registered model; a user's own model
    without that argument gets the fixed-ratio call ``model(raws)``)."""
    parameters = inspect.signature(model.forward).parameters
    return "exposures" in parameters or any(p.kind is p.VAR_KEYWORD for p in parameters.values())


def _run(model: nn.Module, raws: torch.Tensor, device: torch.device, autocast: bool,
         exposures: torch.Tensor | None = None) -> torch.Tensor:
    inputs = raws.to(device)
    extra = {}
    if exposures is not None and accepts_exposures(model):
        extra["exposures"] = torch.as_tensor(exposures, dtype=torch.float32).to(device)
    if autocast and device.type == "cuda":
        with torch.autocast("cuda", dtype=torch.float16):
            return model(inputs, **extra).float()
    return model(inputs, **extra).float()
