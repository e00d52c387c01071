"""The camera model of the BracketIRE pipeline: linear sRGB <-> packed Bayer RAW.

Inverse ISP (:func:`unprocess`, "Unprocessing", Brooks et al. 2019, as the published generator runs it):
sRGB decode -> inverse colour matrix -> highlight-safe inverse white balance -> clip -> mosaic.

Forward ISP (:func:`process`, the published ``process``/``get_raw2rgb``):
white balance -> clip -> demosaic -> colour matrix -> clip -> optional sRGB encode.

Both are batched over any leading dimensions, device- and dtype-agnostic, and reproduce the reference
implementation to float32 rounding (see ``tests/simulator/test_isp.py`` for the fixtures they match).
Packed Bayer is channels-first ``[..., 4, H/2, W/2]`` in the order R, Gr, Gb, B.

The reference ignores ``rgb_gain``, which is always 1 for its camera. Here the inverse divides by it and
the forward multiplies by it (as Brooks et al.'s camera needs), which changes nothing when it is 1.
"""

from __future__ import annotations

from typing import Any

import torch

from simulator.bayer import mosaic
from simulator.camera import CameraMeta
from simulator.color import apply_ccm, linear_to_srgb, srgb_to_linear
from simulator.core.checks import check_image
from simulator.demosaic import demosaic

HIGHLIGHT_INFLECTION = 0.9  # grey level above which the inverse white balance fades to 1


def _per_image(value: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """Gains of shape ``[...]`` -> ``[..., 1, 1]`` on ``like``'s device and dtype."""
    return value.to(device=like.device, dtype=like.dtype)[..., None, None]


def _inverse_gains(like: torch.Tensor, meta: CameraMeta) -> torch.Tensor:
    """``[..., 3, 1, 1]`` gains ``[1/red, 1, 1/blue] / rgb_gain`` on ``like``'s device and dtype."""
    rgb_gain = _per_image(meta.rgb_gain, like)
    red = 1.0 / _per_image(meta.red_gain, like)
    blue = 1.0 / _per_image(meta.blue_gain, like)
    return torch.stack(torch.broadcast_tensors(red, torch.ones_like(red), blue), dim=-3) / rgb_gain[..., None, :, :]


def safe_invert_gains(rgb: torch.Tensor, meta: CameraMeta) -> torch.Tensor:
    """Undo white balance while keeping highlights: gains fade to 1 where the grey level nears white.

    Args:
        rgb: ``[..., 3, H, W]`` linear camera RGB, floating, normally in [0, 1].
        meta: gains with batch shape broadcasting against the image's leading dimensions.

    Returns:
        ``[..., 3, H, W]``, ``rgb * max(mask + (1 - mask) * g, g)`` with ``g = [1/red, 1, 1/blue] / rgb_gain``
        and ``mask = (max(grey - 0.9, 0) / 0.1)^2``. Not clamped.
    """
    gains = _inverse_gains(rgb, meta)
    grey = rgb.mean(dim=-3, keepdim=True)
    mask = (torch.clamp_min(grey - HIGHLIGHT_INFLECTION, 0.0) / 0.1) ** 2
    return rgb * torch.maximum(mask + (1 - mask) * gains, gains)


def apply_gains(packed: torch.Tensor, meta: CameraMeta) -> torch.Tensor:
    """White balance packed RAW: R times ``red_gain``, B times ``blue_gain``, all times ``rgb_gain``.

    Args:
        packed: ``[..., 4, h, w]`` packed RGGB, floating.
        meta: gains with batch shape broadcasting against the image's leading dimensions.

    Returns:
        ``[..., 4, h, w]``, not clamped.
    """
    red = _per_image(meta.red_gain, packed)
    blue = _per_image(meta.blue_gain, packed)
    ones = torch.ones_like(red)
    gains = torch.stack(torch.broadcast_tensors(red, ones, ones, blue), dim=-3)
    return packed * (gains * _per_image(meta.rgb_gain, packed)[..., None, :, :])


def invert_gains(rgb: torch.Tensor, meta: CameraMeta) -> torch.Tensor:
    """Undo white balance exactly (no highlight protection): ``rgb * [1/red, 1, 1/blue] / rgb_gain``.

    Args:
        rgb: ``[..., 3, H, W]`` linear camera RGB, floating.
        meta: gains with batch shape broadcasting against the image's leading dimensions.

    Returns:
        ``[..., 3, H, W]``, not clamped: what a sensor records before any white balance.
    """
    return rgb * _inverse_gains(rgb, meta)


def linear_rgb_to_camera(linear: torch.Tensor, meta: CameraMeta, highlight_safe: bool = True) -> torch.Tensor:
    """Linear sRGB -> linear camera RGB before white balance (the colour part of :func:`unprocess`).

    Args:
        linear: ``[..., 3, H, W]`` linear sRGB primaries, floating (values above 1 allowed).
        meta: camera metadata.
        highlight_safe: use :func:`safe_invert_gains` (the published pipeline) rather than the exact
            inverse :func:`invert_gains` (physically what a sensor sees).

    Returns:
        ``[..., 3, H, W]`` camera RGB, not clamped, not mosaicked.
    """
    camera = apply_ccm(linear, meta.rgb2cam.to(linear.device))
    return safe_invert_gains(camera, meta) if highlight_safe else invert_gains(camera, meta)


def unprocess(rgb: torch.Tensor, meta: CameraMeta) -> torch.Tensor:
    """Inverse ISP: sRGB image -> packed RGGB RAW in [0, 1].

    Args:
        rgb: ``[..., 3, H, W]`` sRGB-encoded, floating, finite, normally in [0, 1]; H and W even.
        meta: camera metadata; batch shape broadcasting against the image's leading dimensions.

    Returns:
        ``[..., 4, H/2, W/2]`` packed R, Gr, Gb, B in [0, 1], same dtype and device as ``rgb``.

    Raises:
        DataError: wrong channel count, odd size, non-floating dtype, NaN or infinite values.
    """
    check_image(rgb, "rgb", 3, even=True)
    camera = linear_rgb_to_camera(srgb_to_linear(rgb), meta)
    return mosaic(camera.clamp(0.0, 1.0))


def process(
    packed: torch.Tensor,
    meta: CameraMeta,
    demosaicer: str = "bilinear",
    srgb: bool = False,
    **demosaic_options: Any,
) -> torch.Tensor:
    """Forward ISP: packed RGGB RAW -> RGB in [0, 1].

    Args:
        packed: ``[..., 4, h, w]`` packed RGGB, linear, floating, finite; values above 1 are clipped
            after white balance, as in the reference.
        meta: camera metadata; batch shape broadcasting against the image's leading dimensions.
        demosaicer: a name in ``simulator.demosaic.DEMOSAICERS`` ("bilinear", "menon2007", "demosaicnet").
        srgb: apply the sRGB transfer curve at the end (the reference's ``lineRGB=False``).
        demosaic_options: passed to the demosaicer (e.g. ``weights=`` for "demosaicnet").

    Returns:
        ``[..., 3, 2h, 2w]`` linear (or sRGB-encoded) RGB in [0, 1], same dtype and device as ``packed``.

    Raises:
        DataError: wrong channel count, non-floating dtype, NaN or infinite values.
        UnknownNameError: no such demosaicer.
    """
    check_image(packed, "packed", 4)
    balanced = apply_gains(packed, meta).clamp(0.0, 1.0)
    rgb = demosaic(balanced, demosaicer, **demosaic_options)
    rgb = apply_ccm(rgb, meta.cam2rgb.to(rgb.device)).clamp(0.0, 1.0)
    if srgb:
        rgb = linear_to_srgb(rgb)
    return rgb.to(packed.dtype)
