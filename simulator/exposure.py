"""Exposure timing of a bracket: which time window and which gain each frame gets.

Published BracketIRE timing (T = 5, ratio r = 4): time runs in sub-frame units; frame t integrates
r^t consecutive sub-frames starting where frame t-1 stopped, so the windows are [0, 1), [1, 5), [5, 21),
[21, 85), [85, 341); the ground truth is the scene at time 0 (the start of the shortest exposure). Frame t
is scaled by r^(t - u) with u the unit frame (u = 2: gains 1/16, 1/4, 1, 4, 16) and stored as
``raw_<r^t>.npy`` (raw_1 ... raw_256). In video mode the published generator samples a window at its whole
times (sub-frames 0 .. 340 in all, :func:`video_subframe_times`).
"""

from __future__ import annotations

from simulator.core.errors import ConfigError, DataError


def exposure_windows(frames: int = 5, ratio: float = 4.0) -> list[tuple[float, float]]:
    """``(start, end)`` of each frame's exposure in sub-frame units, shortest first, back to back."""
    _check(frames, ratio)
    windows, start = [], 0.0
    for t in range(frames):
        windows.append((start, start + ratio**t))
        start += ratio**t
    return windows


def relative_exposures(frames: int = 5, ratio: float = 4.0, unit_frame: int = 2) -> list[float]:
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


VIDEO_TIMINGS = ("published", "subsampled")


def video_subframe_times(window: tuple[float, float], timing: str = "published", count: int = 8) -> list[float]:
    """Instants (sub-frame units) averaged into one exposure of ``motion.model=video``.

    ``published`` (``syn_data_gen/gen_bracket.py`` of cszhilu1998/BracketIRE): one sub-frame at every whole
    time ``start, start + 1, ..., end - 1`` of the window ``[start, end)``, so frame ``t`` averages ``r^t``
    sub-frames (1, 4, 16, 64, 256) and ``raw_1`` is the scene at time 0, the ground truth's instant.

    ``subsampled`` (an approximation, faster): ``min(count, end - start)`` instants, the mean time of each of
    that many equal shares of the published whole times (``start - 1/2 + (i + 1/2) (end - start) / n``). It
    keeps each exposure's mean time and ``raw_1`` at time 0 and equals ``published`` when ``count`` is at
    least the window's length; it under-samples fast motion in long exposures (fewer, wider-spaced samples).

    Args:
        window: ``(start, end)`` from :func:`exposure_windows`; whole numbers for the published timing.
        timing: ``"published"`` or ``"subsampled"``.
        count: sub-frames per exposure for ``subsampled`` (>= 1); ignored by ``published``.

    Returns:
        Increasing times in ``[start, end - 1]``, floats.
    """
    start, end = window
    length = end - start
    if timing not in VIDEO_TIMINGS:
        raise ConfigError(f"motion.video_timing={timing!r}; expected one of {', '.join(VIDEO_TIMINGS)}")
    if abs(length - round(length)) > 1e-9 or length < 1:
        raise ConfigError(f"exposure window {window}: video timing needs a whole number of sub-frames (>= 1)")
    length = int(round(length))
    if timing == "published":
        return [float(start + i) for i in range(length)]
    if count < 1:
        raise ConfigError(f"motion.subframes={count}; expected at least 1 sub-frame per exposure")
    n = min(count, length)
    return [start - 0.5 + (i + 0.5) * length / n for i in range(n)]
