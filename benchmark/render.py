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
from simulator.render import UINT16_MAX, to_uint16, tonemap_raw

__all__ = ["UINT16_MAX", "pad_border", "render_png_array", "to_uint16", "tonemap_raw"]


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
