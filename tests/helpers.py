"""Small helpers shared by the tests."""

from __future__ import annotations

import numpy as np
import torch


def to_chw(array: np.ndarray) -> torch.Tensor:
    """``(H, W, C)`` numpy -> ``[C, H, W]`` tensor."""
    return torch.from_numpy(np.ascontiguousarray(array)).permute(2, 0, 1)


def to_hwc(tensor: torch.Tensor) -> np.ndarray:
    """``[C, H, W]`` tensor -> ``(H, W, C)`` numpy."""
    return tensor.detach().cpu().permute(1, 2, 0).numpy()


def max_abs(a: np.ndarray, b: np.ndarray) -> float:
    """Largest absolute difference, computed in float64."""
    assert a.shape == b.shape, f"shape {a.shape} != {b.shape}"
    return float(np.abs(a.astype(np.float64) - b.astype(np.float64)).max())
