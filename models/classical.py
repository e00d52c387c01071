"""Classical baselines that need no weights: the floor every learned model must beat.

Both follow the model contract of the registry: ``forward(raws)`` with ``raws [B, T, 4, h, w]`` packed RGGB
as stored in [0, 1], shortest exposure first, returns ``[B, 4, h, w]`` HDR RAW at the shortest exposure's
instant on the unit frame's scale (white of the shortest exposure = ``ratio ** unit_frame`` = 16).
"""

from __future__ import annotations

import torch
from torch import nn

from models.bracket import check_exposures, normalization_gains

# Mid-range levels of the published iso1600near law (u = 0.5, z = 0), in normalised RAW units
DEFAULT_SHOT, DEFAULT_READ = 0.0024, 1.76e-5


class _Bracket(nn.Module):
    def __init__(self, num_frames: int = 5, exposure_ratio: float = 4.0, unit_frame: int | None = None) -> None:
        super().__init__()
        self.num_frames, self.exposure_ratio = num_frames, exposure_ratio
        self.unit_frame = (num_frames - 1) // 2 if unit_frame is None else unit_frame
        self.scale = 1

    def gains(self, frames: int, like: torch.Tensor, exposures: torch.Tensor | None = None) -> torch.Tensor:
        """``[B or 1, T, 1, 1, 1]`` gains to the unit frame's scale with ``like``'s dtype and device: the fixed
        ``exposure_ratio ** (unit_frame - t)``, or ``exposures[:, unit_frame] / exposures[:, t]`` for measured
        ``exposures [T]`` / ``[B, T]`` (see ``models/bracket.py``)."""
        if exposures is not None:
            check_exposures(exposures, frames, like.shape[0])
        return normalization_gains(frames, self.exposure_ratio, self.unit_frame, like, exposures)


class ReferenceFrame(_Bracket):
    """The shortest exposure, exposure-normalised: sharp and aligned by construction, but the noisiest."""

    def forward(self, raws: torch.Tensor, exposures: torch.Tensor | None = None) -> torch.Tensor:
        return raws[:, 0] * self.gains(raws.shape[1], raws, exposures)[:, 0]


def _phase_shift(reference: torch.Tensor, moving: torch.Tensor) -> tuple[int, int]:
    """Integer translation (dy, dx) that best aligns ``moving`` to ``reference`` (phase correlation), ``[h, w]``."""
    f_ref, f_mov = torch.fft.rfft2(reference - reference.mean()), torch.fft.rfft2(moving - moving.mean())
    cross = f_ref * f_mov.conj()
    correlation = torch.fft.irfft2(cross / cross.abs().clamp_min(1e-12), s=reference.shape)
    index = int(torch.argmax(correlation))
    height, width = reference.shape
    dy, dx = divmod(index, width)
    return (dy - height if dy > height // 2 else dy), (dx - width if dx > width // 2 else dx)


class NoiseAwareMerge(_Bracket):
    """A noise-aware HDR merge of globally aligned exposures in RAW.

    Each frame is normalised to the unit scale, aligned to the shortest exposure by a global integer
    translation (phase correlation on its green planes), and averaged with per-pixel weights: the inverse
    of the frame's noise variance at the unit scale (``gain^2 (shot * x + read)``), zero where the frame is
    near saturation, and reduced where it disagrees with the (denoised) reference beyond its noise, which
    keeps moving objects from ghosting.
    """

    def __init__(self, num_frames: int = 5, exposure_ratio: float = 4.0, unit_frame: int | None = None,
                 shot: float = DEFAULT_SHOT, read: float = DEFAULT_READ, saturation: float = 0.95,
                 tolerance: float = 3.0) -> None:
        super().__init__(num_frames, exposure_ratio, unit_frame)
        self.shot, self.read, self.saturation, self.tolerance = shot, read, saturation, tolerance

    def forward(self, raws: torch.Tensor, exposures: torch.Tensor | None = None) -> torch.Tensor:
        gains = self.gains(raws.shape[1], raws, exposures).expand(raws.shape[0], -1, -1, -1, -1)
        aligned = [raws[:, 0]]
        for t in range(1, raws.shape[1]):
            frames = []
            for b in range(raws.shape[0]):
                white = float(self.saturation * 2 * gains[b, t, 0])  # both greens at the longer frame's clipping
                green_ref = ((raws[b, 0, 1] + raws[b, 0, 2]) * gains[b, 0, 0]).clamp(0, white) / white
                green_t = ((raws[b, t, 1] + raws[b, t, 2]) * gains[b, t, 0]).clamp(0, white) / white
                dy, dx = _phase_shift(torch.log1p(100 * green_ref), torch.log1p(100 * green_t))
                frames.append(torch.roll(raws[b, t], shifts=(dy, dx), dims=(-2, -1)))
            aligned.append(torch.stack(frames))
        stack = torch.stack(aligned, dim=1)  # [B, T, 4, h, w], still in stored units
        values = stack * gains
        variance = gains**2 * (self.shot * stack.clamp_min(0) + self.read)
        weights = (stack < self.saturation).to(stack.dtype) / variance
        reference = nn.functional.avg_pool2d(values[:, 0], 3, stride=1, padding=1, count_include_pad=False)
        ref_variance = variance[:, 0] / 9
        distance = (values - reference[:, None]) ** 2 / (variance + ref_variance[:, None])
        weights = weights * torch.exp(-distance / (2 * self.tolerance**2))
        floor = 1e-12 / variance[:, 0].amax(dim=(-3, -2, -1), keepdim=True)  # per sample: batch-independent
        weights[:, 0] = weights[:, 0].clamp_min(floor)  # the reference always counts
        return (weights * values).sum(1) / weights.sum(1)
