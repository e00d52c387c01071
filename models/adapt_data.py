"""Unlabelled training patches for self-supervised adaptation (``cli.py adapt``).

The brackets come from whatever ``predict`` reads (``benchmark.inputs``); this module only sees tensors, so it
stays below ``benchmark`` in the layering. Each item is a random ``p x p`` crop of one bracket, drawn from
``(seed, epoch, index)`` like :class:`models.data.BracketDataset`, so batches are a pure function of the step and
an adaptation resumes bit for bit. Crops have no margin (the published real-world loaders take none).

Measured exposures travel as gains: a bracket with exposures ``e [T]`` is stored already multiplied by
``(e[u] / e[t]) / ratio ** (u - t)`` per frame ``t`` (``u`` the model's unit frame), so a model called with its
fixed ratio sees exactly the measured normalisation, also on the shorter brackets of the self-consistency term
(which lack the unit frame's own exposure). For the published synthetic files (exposures 1, 4, 16, ...) the
factors are 1.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch.utils.data import Dataset

from models.data import _augment
from simulator.core.errors import DataError


@dataclass(frozen=True)
class UnlabelledBracket:
    """One bracket without ground truth.

    Attributes:
        name: how to name it in messages (file or folder).
        raws: ``[T, 4, h, w]`` float32 in [0, 1] as stored, shortest exposure first.
        exposures: measured relative exposures ``[T]`` (any common scale), or None for the model's fixed ratio.
    """

    name: str
    raws: torch.Tensor
    exposures: torch.Tensor | None = None


def fixed_ratio_factors(exposures: torch.Tensor, ratio: float, unit_frame: int) -> torch.Tensor:
    """``[T]`` factors ``(e[u] / e[t]) / ratio ** (u - t)`` turning a measured bracket into a fixed-ratio one.

    Args:
        exposures: ``[T]`` positive relative exposures, shortest first.
        ratio: the model's fixed ratio between consecutive exposures (TMRNet: 4).
        unit_frame: the model's unit frame ``u`` (TMRNet: 2).
    """
    e = exposures.double()
    fixed = torch.tensor([ratio ** (unit_frame - t) for t in range(len(e))], dtype=torch.float64)
    return ((e[unit_frame] / e) / fixed).float()


class UnlabelledPatches(Dataset):
    """Random patches of unlabelled brackets: item ``{"raws": [T, 4, p, p]}`` float32 (fixed-ratio equivalent).

    Args:
        brackets: every bracket, all with the model's frame count ``frames``.
        frames: frames per bracket the model takes.
        patch: patch side in packed pixels (published: 128 BracketIRE, 64 BracketIRE+).
        ratio, unit_frame: the model's fixed exposure ratio and unit frame (see :func:`fixed_ratio_factors`).
        seed: seed of the crop and augmentation draws.
        augment: per-item flips and Bayer-preserving transpose (``models.data``'s ``bayer`` mode).

    Raises:
        DataError: no brackets, a bracket with another frame count, or one smaller than the patch (named).
    """

    def __init__(self, brackets: Sequence[UnlabelledBracket], frames: int, patch: int, ratio: float,
                 unit_frame: int, seed: int = 0, augment: bool = True) -> None:
        if not brackets:
            raise DataError("no brackets to adapt on")
        stored = []
        for bracket in brackets:
            raws = bracket.raws
            if raws.ndim != 4 or raws.shape[0] != frames or raws.shape[1] != 4:
                raise DataError(f"{bracket.name}: a bracket of shape {tuple(raws.shape)}; the model takes "
                                f"[{frames}, 4, h, w] (packed RGGB, shortest exposure first)")
            if min(raws.shape[-2:]) < patch:
                raise DataError(f"{bracket.name}: {raws.shape[-2]}x{raws.shape[-1]} packed pixels, smaller than "
                                f"the patch {patch} (train.patch)")
            if bracket.exposures is not None:
                raws = raws * fixed_ratio_factors(bracket.exposures, ratio, unit_frame).view(-1, 1, 1, 1)
            stored.append(raws.float().contiguous())
        self.raws, self.patch, self.seed, self.augment = stored, patch, seed, augment

    def __len__(self) -> int:
        return len(self.raws)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        return self.sample(index, 0)

    def sample(self, index: int, epoch: int) -> dict[str, torch.Tensor]:
        """Bracket ``index`` cropped (and augmented) with the draws of ``epoch``: ``{"raws": [T, 4, p, p]}``."""
        raws, p = self.raws[index], self.patch
        rng = np.random.default_rng([self.seed, epoch, index])
        h, w = raws.shape[-2:]
        top, left = int(rng.integers(0, h - p + 1)), int(rng.integers(0, w - p + 1))
        crop = raws[..., top : top + p, left : left + p]
        if self.augment:
            crop = _augment(crop, crop[0], rng.integers(0, 2, size=3))[0]
        return {"raws": crop.contiguous()}
