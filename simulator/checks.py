"""Input checks shared by the camera model and everything built on it.

They raise :class:`~simulator.errors.DataError` with a message that names the argument (or file) and
says what was expected, so a wrong array never travels deep into the pipeline before failing.
"""

from __future__ import annotations

import torch

from simulator.errors import DataError


def check_image(
    x: object,
    name: str,
    channels: int | None = None,
    *,
    even: bool = False,
    finite: bool = True,
) -> torch.Tensor:
    """Check that ``x`` is a channels-first floating-point image tensor ``[..., C, H, W]``.

    Args:
        x: the value to check.
        name: how to call it in the message (an argument name or a file path).
        channels: required size of dimension -3, or None for any.
        even: require even H and W (a full-resolution Bayer image, or one to be mosaicked).
        finite: reject NaN and infinite values.

    Returns:
        ``x`` unchanged, typed as a tensor.

    Raises:
        DataError: naming ``name`` and what was expected.
    """
    if not isinstance(x, torch.Tensor):
        raise DataError(f"{name}: expected a torch.Tensor, got {type(x).__name__}")
    if not x.is_floating_point():
        raise DataError(f"{name}: expected a floating-point tensor, got dtype {x.dtype}")
    if x.ndim < 3:
        raise DataError(f"{name}: expected shape [..., C, H, W], got {tuple(x.shape)}")
    if channels is not None and x.shape[-3] != channels:
        raise DataError(f"{name}: expected {channels} channels in dimension -3, got shape {tuple(x.shape)}")
    if even and (x.shape[-1] % 2 or x.shape[-2] % 2):
        raise DataError(f"{name}: expected even height and width, got {x.shape[-2]}x{x.shape[-1]}")
    if finite and not bool(torch.isfinite(x).all()):
        bad = int((~torch.isfinite(x)).sum())
        raise DataError(f"{name}: {bad} value(s) are NaN or infinite; expected finite values")
    return x
