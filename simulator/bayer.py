"""Bayer colour filter arrays: pack, unpack and mosaic.

In memory a packed Bayer image is channels-first ``[..., 4, H/2, W/2]`` with channels always in the
order R, Gr, Gb, B, whatever the sensor's CFA order: Gr is the green sharing rows with red, Gb the green
sharing rows with blue. The CFA order only says where each channel sits in the 2x2 tile of the
full-resolution mosaic ``[..., H, W]``. For RGGB (the BracketIRE datasets) R is at (even row, even column).
"""

from __future__ import annotations

import torch

from simulator.core.checks import check_image
from simulator.core.errors import DataError
from simulator.core.registry import unknown_name

# (row, column) of R, Gr, Gb, B inside the 2x2 tile, per CFA order.
CFA_OFFSETS: dict[str, tuple[tuple[int, int], ...]] = {
    "RGGB": ((0, 0), (0, 1), (1, 0), (1, 1)),
    "GRBG": ((0, 1), (0, 0), (1, 1), (1, 0)),
    "GBRG": ((1, 0), (1, 1), (0, 0), (0, 1)),
    "BGGR": ((1, 1), (1, 0), (0, 1), (0, 0)),
}


def _cfa_offsets(cfa: str) -> tuple[tuple[int, int], ...]:
    try:
        return CFA_OFFSETS[cfa.upper()]
    except (KeyError, AttributeError):
        raise unknown_name("CFA order", cfa, CFA_OFFSETS) from None


def _tile_positions(cfa: str) -> list[int]:
    """Index ``2*row + column`` of each packed channel R, Gr, Gb, B in the 2x2 tile."""
    return [2 * row + col for row, col in _cfa_offsets(cfa)]


def pack(bayer: torch.Tensor, cfa: str = "RGGB") -> torch.Tensor:
    """Split a full-resolution mosaic into its four colour planes.

    Args:
        bayer: ``[..., H, W]`` with even H and W, any dtype.
        cfa: CFA order of ``bayer``: "RGGB", "GRBG", "GBRG" or "BGGR".

    Returns:
        ``[..., 4, H/2, W/2]``, channels R, Gr, Gb, B; same dtype; values are copied exactly.
    """
    positions = _tile_positions(cfa)
    if not isinstance(bayer, torch.Tensor) or bayer.ndim < 2 or bayer.shape[-1] % 2 or bayer.shape[-2] % 2:
        shape = tuple(bayer.shape) if isinstance(bayer, torch.Tensor) else type(bayer).__name__
        raise DataError(f"bayer: expected a tensor [..., H, W] with even H and W, got {shape}")
    *lead, height, width = bayer.shape
    tiles = bayer.reshape(*lead, height // 2, 2, width // 2, 2)
    tiles = tiles.movedim((-3, -1), (-4, -3)).reshape(*lead, 4, height // 2, width // 2)
    return tiles[..., positions, :, :]


def unpack(packed: torch.Tensor, cfa: str = "RGGB") -> torch.Tensor:
    """Interleave four colour planes into a full-resolution mosaic (inverse of :func:`pack`).

    Args:
        packed: ``[..., 4, h, w]`` channels R, Gr, Gb, B, any dtype.
        cfa: CFA order of the mosaic to build.

    Returns:
        ``[..., 2h, 2w]``, same dtype; values are copied exactly.
    """
    positions = _tile_positions(cfa)
    if not isinstance(packed, torch.Tensor) or packed.ndim < 3 or packed.shape[-3] != 4:
        shape = tuple(packed.shape) if isinstance(packed, torch.Tensor) else type(packed).__name__
        raise DataError(f"packed: expected a tensor [..., 4, h, w], got {shape}")
    *lead, _, height, width = packed.shape
    inverse = [positions.index(p) for p in range(4)]
    tiles = packed[..., inverse, :, :].reshape(*lead, 2, 2, height, width)
    return tiles.movedim((-4, -3), (-3, -1)).reshape(*lead, 2 * height, 2 * width)


def mosaic(rgb: torch.Tensor, cfa: str = "RGGB") -> torch.Tensor:
    """Sample an RGB image through a Bayer CFA, returning the packed planes.

    Args:
        rgb: ``[..., 3, H, W]`` floating, even H and W.
        cfa: CFA order of the simulated sensor.

    Returns:
        ``[..., 4, H/2, W/2]``: R, Gr, Gb, B, each taken from its own channel at its own CFA site.
    """
    check_image(rgb, "rgb", 3, even=True, finite=False)
    offsets = _cfa_offsets(cfa)
    channels = (0, 1, 1, 2)
    planes = [rgb[..., c, row::2, col::2] for c, (row, col) in zip(channels, offsets)]
    return torch.stack(planes, dim=-3)
