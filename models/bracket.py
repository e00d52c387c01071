"""The input contract every registered model shares, and the small transforms that implement it.

``forward(raws)`` takes ``raws [B, T, 4, h, w]``: packed RGGB frames as stored, in [0, 1], shortest
exposure first, consecutive exposures ``exposure_ratio`` apart. It returns ``[B, 4, s*h, s*w]`` HDR RAW at
the shortest exposure's instant on the *unit frame's* scale: frame ``t`` is multiplied by
``exposure_ratio ** (unit_frame - t)`` (16, 4, 1, 1/4, 1/16 for five frames), so the shortest frame's white
level is 16. This is the published TMRNet convention; the loss is L1 on ``mu_law(out / 16)``.
"""

from __future__ import annotations

import torch

GAMMA = 1 / 2.2


def default_unit_frame(num_frames: int, unit_frame: int | None = None) -> int:
    """The middle frame (``(T - 1) // 2``) unless ``unit_frame`` is given."""
    return (num_frames - 1) // 2 if unit_frame is None else unit_frame


def exposure_gains(frames: int, exposure_ratio: float, unit_frame: int, like: torch.Tensor) -> torch.Tensor:
    """``[1, T, 1, 1, 1]`` gains ``exposure_ratio ** (unit_frame - t)`` with ``like``'s dtype and device."""
    values = [exposure_ratio ** (unit_frame - t) for t in range(frames)]
    return torch.tensor(values, dtype=like.dtype, device=like.device).view(1, frames, 1, 1, 1)


def normalize_exposures(raws: torch.Tensor, exposure_ratio: float = 4.0, unit_frame: int | None = None) -> torch.Tensor:
    """``raws [B, T, C, h, w]`` as stored -> every frame on the unit frame's scale (same shape)."""
    frames = raws.shape[1]
    return raws * exposure_gains(frames, exposure_ratio, default_unit_frame(frames, unit_frame), raws)


def with_gamma(frames: torch.Tensor) -> torch.Tensor:
    """``[N, C, h, w]`` linear -> ``[N, 2C, h, w]`` interleaved ``(x_c, max(x_c, 0) ** (1/2.2))`` per channel.

    The 8-channel per-frame input of TMRNet (and of the baselines adapted to bracketed RAW).
    """
    n, c, h, w = frames.shape
    return torch.stack([frames, frames.clamp_min(0) ** GAMMA], dim=2).reshape(n, 2 * c, h, w)


def packed_to_rgb(frames: torch.Tensor, gamma: bool = True) -> torch.Tensor:
    """Packed RGGB ``[..., 4, h, w]`` -> RGB ``[..., 3, h, w]`` (greens averaged), clipped to [0, 1] and
    gamma-compressed when ``gamma``: what the flow networks see."""
    rgb = torch.stack([frames[..., 0, :, :], (frames[..., 1, :, :] + frames[..., 2, :, :]) / 2, frames[..., 3, :, :]],
                      dim=-3)
    return rgb.clamp(0, 1) ** GAMMA if gamma else rgb
