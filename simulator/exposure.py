"""Exposure timing of a bracket: which time window and which gain each frame gets.

Published BracketIRE timing (T = 5, ratio r = 4): time runs in sub-frame units; frame t integrates
r^t consecutive sub-frames starting where frame t-1 stopped, so the windows are [0, 1), [1, 5), [5, 21),
[21, 85), [85, 341); the ground truth is the scene at time 0 (the start of the shortest exposure). Frame t
is scaled by r^(t - u) with u the unit frame (u = 2: gains 1/16, 1/4, 1, 4, 16) and stored as
``raw_<r^t>.npy`` (raw_1 ... raw_256).
"""

from __future__ import annotations

from simulator.errors import DataError


def exposure_windows(frames: int = 5, ratio: float = 4.0) -> list[tuple[float, float]]:
    """``(start, end)`` of each frame's exposure in sub-frame units, shortest first, back to back."""
    _check(frames, ratio)
    windows, start = [], 0.0
    for t in range(frames):
        windows.append((start, start + ratio**t))
        start += ratio**t
    return windows


def exposure_gains(frames: int = 5, ratio: float = 4.0, unit_frame: int = 2) -> list[float]:
    """Linear gain of each frame relative to the ground truth: ``ratio ** (t - unit_frame)``."""
    _check(frames, ratio)
    if not 0 <= unit_frame < frames:
        raise DataError(f"exposure.unit_frame={unit_frame}; expected 0 <= unit_frame < {frames}")
    return [ratio ** (t - unit_frame) for t in range(frames)]


def exposure_multiples(frames: int = 5, ratio: float = 4.0) -> list[int]:
    """File-name multiples ``r^t`` (1, 4, 16, 64, 256); they must be whole numbers."""
    _check(frames, ratio)
    multiples = [ratio**t for t in range(frames)]
    if any(abs(m - round(m)) > 1e-9 for m in multiples):
        raise DataError(f"exposure.ratio={ratio} gives non-integer exposure multiples {multiples}; file names need integers")
    return [int(round(m)) for m in multiples]


def _check(frames: int, ratio: float) -> None:
    if frames < 2:
        raise DataError(f"exposure.frames={frames}; a bracket needs at least 2 frames")
    if ratio <= 1:
        raise DataError(f"exposure.ratio={ratio}; expected a ratio > 1 between consecutive exposures")
