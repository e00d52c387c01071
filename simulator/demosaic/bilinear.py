"""Bilinear demosaicing, the reference pipeline's default."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from simulator.core.checks import check_image


def demosaic_bilinear(packed: torch.Tensor) -> torch.Tensor:
    """Bilinear demosaic of packed RGGB as the published pipeline does it (its ``'default'``).

    Each packed plane is upsampled x2 with bilinear interpolation (half-pixel centres, edges clamped),
    i.e. every packed sample is treated as sitting at the centre of its 2x2 tile. R and B are the
    upsampled R and B planes; G is the upsampled Gr at Gr sites, the upsampled Gb at Gb sites and their
    mean at R and B sites.

    Args:
        packed: ``[..., 4, h, w]`` packed RGGB, floating, any range.

    Returns:
        ``[..., 3, 2h, 2w]`` RGB, same dtype and device.
    """
    check_image(packed, "packed", 4, finite=False)
    *lead, _, height, width = packed.shape
    up = F.interpolate(packed.reshape(-1, 4, height, width), scale_factor=2, mode="bilinear", align_corners=False)
    red, green_r, green_b, blue = up.unbind(1)
    green = (green_r + green_b) / 2
    green[:, 0::2, 1::2] = green_r[:, 0::2, 1::2]
    green[:, 1::2, 0::2] = green_b[:, 1::2, 0::2]
    return torch.stack([red, green, blue], dim=1).reshape(*lead, 3, 2 * height, 2 * width)
