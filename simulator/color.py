"""Transfer curves and colour matrices of the BracketIRE camera model.

All functions are elementwise or per-pixel, work on any device and floating dtype, and keep the
reference implementation's constants and branch thresholds so results match it to float32 rounding.
"""

from __future__ import annotations

import math

import torch

SRGB_ENCODE_THRESHOLD = 0.0031308  # linear value where the sRGB curve switches from linear to power
SRGB_DECODE_THRESHOLD = 0.04045  # encoded value where the inverse curve switches
MU_LAW_MU = 5000.0  # the BracketIRE scoring protocol's mu


def linear_to_srgb(x: torch.Tensor) -> torch.Tensor:
    """sRGB transfer function (the reference's ``gamma``).

    Args:
        x: linear values, any shape, floating dtype; normally in [0, 1].

    Returns:
        Same shape and dtype. ``12.92 x`` at or below 0.0031308, ``1.055 x^(1/2.4) - 0.055`` above.
        No clamping: negative inputs stay on the linear branch and values above 1 exceed 1.
    """
    power = 1.055 * x.clamp_min(SRGB_ENCODE_THRESHOLD) ** (1 / 2.4) - 0.055
    return torch.where(x > SRGB_ENCODE_THRESHOLD, power, 12.92 * x)


def srgb_to_linear(x: torch.Tensor) -> torch.Tensor:
    """Inverse sRGB transfer function (the reference's ``gamma_reverse``).

    Args:
        x: sRGB-encoded values, any shape, floating dtype; normally in [0, 1].

    Returns:
        Same shape and dtype. ``x / 12.92`` at or below 0.04045 (the threshold itself takes the
        linear branch, as in the reference), ``((x + 0.055) / 1.055)^2.4`` above. No clamping.
    """
    power = ((x.clamp_min(SRGB_DECODE_THRESHOLD) + 0.055) / 1.055) ** 2.4
    return torch.where(x > SRGB_DECODE_THRESHOLD, power, x / 12.92)


def mu_law(x: torch.Tensor, mu: float = MU_LAW_MU) -> torch.Tensor:
    """Mu-law tonemap of the BracketIRE loss and scoring protocol.

    Args:
        x: linear values, any shape, floating dtype; 1.0 is the white level being compressed.
        mu: compression strength (the protocol uses 5000).

    Returns:
        ``log(1 + mu x) / log(1 + mu)``, same shape; in [0, 1] for ``x`` in [0, 1]. No clamping.
    """
    return torch.log(1 + mu * x) / math.log(1 + mu)


def apply_ccm(image: torch.Tensor, ccm: torch.Tensor) -> torch.Tensor:
    """Apply a 3x3 colour matrix to every pixel: ``out[i] = sum_j ccm[i, j] * image[j]``.

    Args:
        image: ``[..., 3, H, W]`` floating, channels first.
        ccm: ``[..., 3, 3]``; its leading dimensions broadcast against the image's leading dimensions
            (aligned from the right, as in numpy), e.g. ``[B, 3, 3]`` with ``[B, 3, H, W]``.

    Returns:
        ``[..., 3, H, W]`` in the promoted dtype of the inputs.
    """
    height, width = image.shape[-2:]
    ccm = ccm.to(image.dtype)
    return torch.matmul(ccm, image.flatten(-2)).unflatten(-1, (height, width))
