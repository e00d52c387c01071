"""Warping by optical flow."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def flow_warp(image: torch.Tensor, flow: torch.Tensor, padding_mode: str = "zeros") -> torch.Tensor:
    """Backward-warp ``image`` by ``flow``: ``out(p) = image(p + flow(p))``, bilinear.

    Args:
        image: ``[N, C, H, W]`` float.
        flow: ``[N, 2, H, W]`` displacement in pixels, channels (dx, dy).
        padding_mode: ``"zeros"`` (features) or ``"border"`` (inside SPyNet), as ``grid_sample``.

    Returns:
        ``[N, C, H, W]``; samples are taken with ``align_corners=True`` (pixel centres at integers).
    """
    n, _, height, width = image.shape
    ys, xs = torch.meshgrid(
        torch.arange(height, device=image.device, dtype=flow.dtype),
        torch.arange(width, device=image.device, dtype=flow.dtype),
        indexing="ij",
    )
    gx = 2.0 * (xs + flow[:, 0]) / max(width - 1, 1) - 1.0
    gy = 2.0 * (ys + flow[:, 1]) / max(height - 1, 1) - 1.0
    grid = torch.stack((gx, gy), dim=-1).to(image.dtype)
    return F.grid_sample(image, grid, mode="bilinear", padding_mode=padding_mode, align_corners=True)
