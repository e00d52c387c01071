"""Rendering packed HDR RAW to the 16-bit tonemapped RGB of the BracketIRE protocol.

``clamp at 0 -> / white level -> forward ISP (white balance, clip, demosaic, colour matrix, clip)
-> mu-law -> x 65535 -> clip``, then truncation to uint16. The scoring protocol (``benchmark/render.py``)
and the dataset writer's ``rgb_vis_gt.png`` both use it.
"""

from __future__ import annotations

import os

import numpy as np
import torch

from simulator.camera import CameraMeta
from simulator.color import mu_law
from simulator.core.checks import check_image
from simulator.isp import process

UINT16_MAX = 65535.0


def tonemap_raw(
    raw: torch.Tensor,
    meta: CameraMeta,
    demosaicer: str = "demosaicnet",
    white_level: float = 16.0,
    mu: float = 5000.0,
    weights: str | os.PathLike[str] | None = None,
) -> torch.Tensor:
    """Render HDR RAW to tonemapped RGB on the 16-bit scale, before truncation.

    Args:
        raw: ``[..., 4, h, w]`` packed RGGB at the ground truth's scale (white at ``white_level``), float.
        meta: camera metadata of the sample(s); batch shape broadcasting against the leading dimensions.
        demosaicer: a registered demosaicer ("demosaicnet" in the protocol).
        white_level: the raw value that maps to 1 before white balance (16 in BracketIRE).
        mu: mu-law strength.
        weights: DemosaicNet weights (path) when not found automatically.

    Returns:
        ``[..., 3, 2h, 2w]`` float in [0, 65535], RGB.
    """
    check_image(raw, "raw", 4)
    options = {"weights": weights} if demosaicer == "demosaicnet" else {}
    linear = process(raw.clamp_min(0) / white_level, meta, demosaicer, srgb=False, **options)
    return torch.clamp(mu_law(linear, mu) * UINT16_MAX, 0, UINT16_MAX)


def to_uint16(tonemapped: torch.Tensor) -> np.ndarray:
    """``[3, H, W]`` float in [0, 65535] -> ``(H, W, 3)`` uint16 numpy, truncating as the protocol does."""
    return tonemapped.detach().cpu().permute(1, 2, 0).numpy().astype(np.uint16)
