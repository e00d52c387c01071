"""The published rendering protocol: a model's HDR RAW output -> the 16-bit RGB image that is scored.

Exactly the chain of the BracketIRE test script (``syn_test.py``):

    clamp at 0 -> / white level (16) -> white balance -> clip [0, 1] -> demosaic (DemosaicNet)
    -> colour matrix -> clip [0, 1] -> mu-law (mu = 5000) -> x 65535 -> clip -> truncate to uint16
    -> zero border (10 px BracketIRE, 16 px BracketIRE+)

The zero border puts back what the test crop of the input removed, so the PNG has the ground truth's size.
The metrics then exclude that border again (see ``benchmark/protocols.py``).
"""

from __future__ import annotations

import os

import numpy as np
import torch

from simulator.camera import CameraMeta
from simulator.core.errors import DataError
from simulator.render import UINT16_MAX, to_uint16, tonemap_raw

__all__ = ["UINT16_MAX", "pad_border", "render_device", "render_png_array", "render_png_arrays", "to_uint16", "tonemap_raw"]


def pad_border(image: np.ndarray, pixels: int) -> np.ndarray:
    """Add a zero border of ``pixels`` on every side of an ``(H, W, C)`` image."""
    if pixels == 0:
        return image
    return np.pad(image, ((pixels, pixels), (pixels, pixels), (0, 0)))


def render_png_array(
    raw: torch.Tensor,
    meta: CameraMeta,
    padding: int = 10,
    demosaicer: str = "demosaicnet",
    white_level: float = 16.0,
    mu: float = 5000.0,
    weights: str | os.PathLike[str] | None = None,
) -> np.ndarray:
    """The PNG content the published test script writes for one model output.

    Args:
        raw: ``[4, h, w]`` one model output, packed RGGB at the ground truth's scale.
        meta: that sample's camera metadata (unbatched).
        padding: zero border in full-resolution pixels (10 BracketIRE, 16 BracketIRE+).

    Returns:
        ``(2h + 2 padding, 2w + 2 padding, 3)`` uint16 RGB.
    """
    tonemapped = tonemap_raw(raw, meta, demosaicer, white_level, mu, weights)
    return pad_border(to_uint16(tonemapped), padding)


def render_device() -> torch.device:
    """Where renders run by default: the first CUDA device when there is one, else the CPU."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def render_png_arrays(
    raws: torch.Tensor,
    metas: list[CameraMeta],
    padding: int = 10,
    demosaicer: str = "demosaicnet",
    white_level: float = 16.0,
    mu: float = 5000.0,
    weights: str | os.PathLike[str] | None = None,
    device: torch.device | str | None = None,
) -> list[np.ndarray]:
    """:func:`render_png_array` of several outputs of one size in one batched pass (one network call).

    Args:
        raws: ``[B, 4, h, w]`` model outputs, packed RGGB at the ground truth's scale.
        metas: the ``B`` samples' camera metadata, in order.
        padding: zero border in full-resolution pixels.
        device: where the render runs (default :func:`render_device`: the GPU when there is one).

    Returns:
        ``B`` arrays ``(2h + 2 padding, 2w + 2 padding, 3)`` uint16 RGB, each equal to what
        :func:`render_png_array` gives for that output alone (to float32 rounding of the convolutions).
    """
    if raws.ndim != 4 or raws.shape[0] != len(metas):
        raise DataError(f"raws has shape {tuple(raws.shape)}; expected [{len(metas)}, 4, h, w], one per camera metadata")
    target = torch.device(device) if device is not None else render_device()
    meta = CameraMeta.stack(metas).to(target)
    tonemapped = tonemap_raw(raws.to(target), meta, demosaicer, white_level, mu, weights)
    return [pad_border(to_uint16(image), padding) for image in tonemapped]
