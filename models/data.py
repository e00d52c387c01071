"""Datasets over the published BracketIRE layout (our simulator's output and the published downloads).

Crops follow the published loaders (``data/syn_dataset.py``, ``data/synplus_dataset.py``):

=========== ====================================== ==========================================
split       BracketIRE (scale 1)                   BracketIRE+ (scale 4, inputs from ``x4/``)
=========== ====================================== ==========================================
train       random p x p patch, 10 px margin        random p x p patch, 4 px margin, GT x4
val         every 20th frame per scene;             every 20th frame; raws[4:132, 4:132],
            raws and GT [10:138, 10:522]            GT [16:528, 16:528]
test        raws[5:-5, 5:-5], GT whole              raws[2:-2, 2:-2], GT whole
=========== ====================================== ==========================================

Training augmentation (``data.augment``):

* ``bayer`` (default): horizontal flip, vertical flip and transpose of the packed planes, each with
  probability 1/2, drawn per item, identical for inputs and GT. Flips keep each plane's colour; the transpose
  also swaps the Gr and Gb planes so the Bayer phase stays RGGB. Randomness comes from
  ``(seed, epoch, index)``, so batches do not depend on the number of workers.
* ``published``: the published ``models/networks.py`` ``augment``: the same three operations drawn once per
  batch (here from ``(seed, step)``) and applied to the whole batch; the transpose does not swap Gr and Gb,
  so a transposed batch is GBRG-phased (:func:`augment_published`).
* ``none``: no augmentation.

Nothing is unpickled (``simulator.layout``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from simulator.core.errors import DataError
from simulator.layout import STORED_WHITE, list_frames, read_frame

AUGMENT_MODES = ("bayer", "published", "none")
VAL_CROPS = {1: ((10, 138), (10, 522)), 4: ((4, 132), (4, 132))}
TEST_CROPS = {1: 5, 4: 2}
TRAIN_MARGINS = {1: 10, 4: 4}


class BracketDataset(Dataset):
    """Samples of one split as tensors.

    Each item is a dict: ``raws [T, 4, h, w]`` float32 in [0, 1] (0 at the black level, 1 at white), ``gt [4, s*h, s*w]``
    float32 HDR as stored (not normalised), ``meta`` (the five camera arrays as float32 tensors, published
    shapes) and ``name`` (``"<scene>-<frame>"``).

    Args:
        root: dataset root (holding ``<split>/<scene>/<frame>/``).
        split: folder name, e.g. "Train" or "Test".
        mode: "train" (random patches, augmentation), "val" (every 20th frame, fixed crop) or "test".
        scale: 1 (BracketIRE) or 4 (BracketIRE+, inputs from ``x4/``).
        patch: training patch size in input pixels (published: 128 BracketIRE, 64 BracketIRE+).
        white: digital white level of inputs whose ``sample.json`` does not give their ``bit_depth`` and
            ``black_level`` (1023 for the published 10-bit data); samples that do are normalised by their own.
        seed: seed of the crop and augmentation draws.
    """

    def __init__(self, root: str | Path, split: str = "Train", mode: str = "train", scale: int = 1, patch: int = 128,
                 white: float = STORED_WHITE, seed: int = 0, augment: bool = True) -> None:
        if mode not in ("train", "val", "test"):
            raise DataError(f"mode={mode!r}; expected train, val or test")
        if scale not in (1, 4):
            raise DataError(f"scale={scale}; expected 1 (BracketIRE) or 4 (BracketIRE+)")
        frames = list_frames(root, split)
        if mode == "val":
            by_scene: dict[str, list] = {}
            for item in frames:
                by_scene.setdefault(item[0], []).append(item)
            frames = [f for scene in sorted(by_scene) for f in by_scene[scene][0::20]]
        if not frames:
            raise DataError(f"{Path(root) / split}: no samples")
        self.frames, self.mode, self.scale, self.patch = frames, mode, scale, patch
        self.white, self.seed, self.augment, self.epoch = white, seed, augment, 0

    def set_epoch(self, epoch: int) -> None:
        """Change the random crops and augmentation for a new epoch."""
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.frames)

    def __getitem__(self, index: int) -> dict[str, object]:
        return self.sample(index, self.epoch)

    def sample(self, index: int, epoch: int) -> dict[str, object]:
        """Item ``index`` with the random crop and augmentation of ``epoch`` (train mode)."""
        scene, frame, folder = self.frames[index]
        sample = read_frame(folder, scale=self.scale)
        if sample.gt is None:
            raise DataError(f"{folder}: no raw_gt.npy; a {self.mode} sample needs its ground truth")
        raws, gt, s = sample.normalised_raws(self.white), sample.gt, self.scale
        if self.mode == "train":
            rng = np.random.default_rng([self.seed, epoch, index])
            margin, p = TRAIN_MARGINS[s], self.patch
            h, w = raws.shape[-2:]
            if h - p + 1 - margin <= margin or w - p + 1 - margin <= margin:
                raise DataError(f"{folder}: inputs {h}x{w} are too small for patch {p} with a {margin}-pixel margin")
            top, left = int(rng.integers(margin, h - p + 1 - margin)), int(rng.integers(margin, w - p + 1 - margin))
            raws = raws[..., top : top + p, left : left + p]
            gt = gt[..., s * top : s * (top + p), s * left : s * (left + p)]
            if self.augment:
                raws, gt = _augment(raws, gt, rng.integers(0, 2, size=3))
        elif self.mode == "val":
            (r0, r1), (c0, c1) = VAL_CROPS[s]
            raws = raws[..., r0:r1, c0:c1]
            gt = gt[..., r0 * s : r1 * s, c0 * s : c1 * s]
        else:
            c = TEST_CROPS[s]
            raws = raws[..., c:-c, c:-c]
        meta = {k: torch.from_numpy(v) for k, v in sample.meta.to_arrays().items()}
        return {"raws": raws.contiguous(), "gt": gt.contiguous(), "meta": meta, "name": f"{scene}-{frame}"}


def _augment(raws: torch.Tensor, gt: torch.Tensor, flips: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
    """Joint horizontal flip, vertical flip and transpose of packed planes (Gr/Gb swapped on transpose)."""
    if flips[0]:
        raws, gt = raws.flip(-1), gt.flip(-1)
    if flips[1]:
        raws, gt = raws.flip(-2), gt.flip(-2)
    if flips[2]:
        order = [0, 2, 1, 3]
        raws, gt = raws.transpose(-1, -2)[..., order, :, :], gt.transpose(-1, -2)[order]
    return raws, gt


def augment_published(raws: torch.Tensor, gt: torch.Tensor, flips: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
    """The published batch augmentation: flips and a plain transpose of every plane (no Gr/Gb swap).

    Args:
        raws: ``[B, T, 4, h, w]`` (or any ``[..., 4, h, w]``) packed inputs of a whole batch.
        gt: ``[B, 4, H, W]`` packed ground truth of the same batch.
        flips: three 0/1 draws (horizontal flip, vertical flip, transpose) shared by the whole batch.

    Returns:
        ``(raws, gt)`` with the same operations applied to both; a transposed batch keeps the plane order,
        so its Bayer phase becomes GBRG (as in the published training).
    """
    if flips[0]:
        raws, gt = raws.flip(-1), gt.flip(-1)
    if flips[1]:
        raws, gt = raws.flip(-2), gt.flip(-2)
    if flips[2]:
        raws, gt = raws.transpose(-1, -2), gt.transpose(-1, -2)
    return raws, gt


def published_batch_flips(seed: int, step: int) -> np.ndarray:
    """The three 0/1 draws of training step ``step`` for ``data.augment=published``, from ``(seed, step)`` only."""
    return np.random.default_rng([seed, step, 1]).integers(0, 2, size=3)
