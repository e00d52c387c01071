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


def one_error_line(result, *needles) -> None:
    """A CLI result that exited 2 with exactly one ``error:`` line on stderr naming every needle (no traceback)."""
    assert result.exit_code == 2, result.output
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])
    assert "Traceback" not in result.output
