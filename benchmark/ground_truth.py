"""Ground truth for ``bench``: the dataset's ``rgb_vis_gt.png`` files, or rendered from ``raw_gt.npy``.

A test split written without previews (or a published one whose PNGs were not downloaded) still holds
``raw_gt.npy``. Its ground truth image is then rendered exactly as the published generator renders
``rgb_vis_gt.png`` (``floor(clamp(mu_law(ISP(clamp(gt / 16, 0, 1))) * 65535))``, DemosaicNet; the same
function as ``simulator/previews.py``), into a flat folder of ``<scene>-<frame>.png`` in the cache, keyed by
the checksum of the data it was rendered from, so each dataset is rendered once.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np

from benchmark.images import write_png16
from benchmark.protocols import Protocol
from benchmark.scoring import GT_FILE
from simulator.core.errors import DataError
from simulator.core.weights import cache_dir, sha256_of
from simulator.layout import list_frames, read_frame
from simulator.render import to_uint16, tonemap_raw

GT_WHITE = 16.0  # the published timing: the shortest frame's white on the unit frame's scale


def no_ground_truth(root: Path) -> DataError:
    """The error for inputs without ground truth: bench cannot score them; predict runs them."""
    return DataError(f"{root}: no ground truth (Test/<scene>/<frame>/{GT_FILE} or raw_gt.npy); bench scores against "
                     f"ground truth, so use 'python cli.py predict --model NAME --input {root} --out DIR' to run a "
                     "model on these inputs and keep its results")


def render_ground_truth(frame_dir: str | os.PathLike[str], demosaicer: str = "demosaicnet") -> np.ndarray:
    """``rgb_vis_gt.png`` content of one sample, rendered from its ``raw_gt.npy`` and metadata.

    Returns:
        ``(H, W, 3)`` uint16 RGB, the ground truth's full resolution.

    Raises:
        DataError: the sample has no ``raw_gt.npy``.
    """
    sample = read_frame(frame_dir)
    if sample.gt is None:
        raise DataError(f"{frame_dir}: no raw_gt.npy to render the ground truth from")
    gt = sample.gt.float().clamp(0, GT_WHITE)
    return to_uint16(tonemap_raw(gt, sample.meta, demosaicer, white_level=GT_WHITE))


def ground_truth_folder(root: Path, protocol: Protocol, frames: list[tuple[str, str, Path]]) -> Path:
    """What ``score`` should compare with: ``root`` when every sample has its ``rgb_vis_gt.png``, else a flat
    folder of ground truth rendered from ``raw_gt.npy`` (cached per dataset, keyed by its checksum).

    Raises:
        DataError: no ground truth at all (the message points to ``predict``), or a sample with neither file.
    """
    if all((folder / GT_FILE).is_file() for *_, folder in frames):
        return root
    with_gt = [folder for *_, folder in frames if (folder / "raw_gt.npy").is_file()]
    if not with_gt:
        raise no_ground_truth(root)
    lacking = [str(folder) for *_, folder in frames if not (folder / "raw_gt.npy").is_file()]
    if lacking:
        raise DataError(f"{lacking[0]}: no raw_gt.npy or {GT_FILE}, unlike other samples of {root}; "
                        "every sample needs ground truth to be scored")
    target = cache_dir() / "rendered_gt" / data_checksum(frames)
    target.mkdir(parents=True, exist_ok=True)
    for scene, frame, folder in frames:
        path = target / protocol.file_pattern.format(scene=scene, frame=frame)
        if not path.is_file():
            write_png16(path, render_ground_truth(folder, protocol.demosaicer))
    return target


def scorable_ground_truth(gt: str | os.PathLike[str], protocol: Protocol) -> Path:
    """Where ``score`` reads the ground truth of ``gt``: ``gt`` itself, unless it is a dataset in the published
    layout (its root, or its ``Test/`` split folder) whose samples hold ``raw_gt.npy`` but not every
    ``rgb_vis_gt.png`` (``simulate`` writes previews only with ``output.previews=true``); then the cached
    render of :func:`ground_truth_folder`. Nothing is written into ``gt``.

    Anything else (a flat folder of PNGs, samples without ``raw_gt.npy``) is returned unchanged, for
    :func:`benchmark.scoring.find_ground_truth` to read or to refuse with its own message.
    """
    root = Path(gt)
    if (root / "Test").is_dir():
        frames = list_frames(root)
    elif root.is_dir() and not any(p.suffix.lower() == ".png" for p in root.iterdir()):
        frames = list_frames(root, None)  # the split folder itself
    else:
        return root
    if not frames or all((folder / GT_FILE).is_file() for *_, folder in frames):
        return root
    if not all((folder / "raw_gt.npy").is_file() for *_, folder in frames):
        return root
    return ground_truth_folder(root, protocol, frames)


def data_checksum(frames: list[tuple[str, str, Path]]) -> str:
    """SHA-256 (first 16 hex digits) over every sample's name, ``raw_gt.npy`` and metadata files."""
    digest = hashlib.sha256()
    for scene, frame, folder in frames:
        digest.update(f"{scene}/{frame}\n".encode())
        for name in ("raw_gt.npy", "metadata.json", "metadata.npy"):
            if (folder / name).is_file():
                digest.update(f"{name}:{sha256_of(folder / name)}\n".encode())
    return digest.hexdigest()[:16]


def list_test_frames(root: Path) -> list[tuple[str, str, Path]]:
    """The samples of ``root/Test``; a folder without that split is an input for ``predict``, not ``bench``."""
    if not (root / "Test").is_dir():
        raise no_ground_truth(root)
    return list_frames(root)
