"""The published BracketIRE on-disk layout: one folder per sample, read and written here only.

::

    <root>/<split>/<scene>/<frame>/
        raw_1.npy raw_4.npy raw_16.npy raw_64.npy raw_256.npy   uint16 (h, w, 4), 10-bit, short to long
        raw_gt.npy                                               float32 (H, W, 4), linear HDR, >= 0
        metadata.npy                                             pickled dict (published loaders need it)
        metadata.json                                            the same camera metadata as JSON (ours)
        alignratio.npy                                           float32 0-d
        x2/raw_*.npy, x4/raw_*.npy                               BracketIRE+ inputs (x4 is read)

On disk arrays are channels-last ``(h, w, 4)``; in memory they are channels-first ``[4, h, w]``. This
module is the only place that converts. Readers never unpickle user files (see ``simulator.core.safe_npy``).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from simulator.camera import CameraMeta
from simulator.core.errors import DataError
from simulator.core.safe_npy import load_array, load_legacy_dict
from simulator.ownership import apply_umask

STORED_BIT_DEPTH = 10  # the published RAW frames are 10-bit integers ...
STORED_WHITE = float(2**STORED_BIT_DEPTH - 1)  # ... so their white level is 1023
UNIT_FRAME_WHITE = 16.0  # white of the shortest of 5 exposures 4x apart on the middle (unit) frame's scale: 4**2
_RAW_NAME = re.compile(r"^raw_(\d+)\.npy$")


@dataclass(frozen=True)
class FrameData:
    """One sample as read from disk.

    Attributes:
        raws: ``[T, 4, h, w]`` int32 digital numbers as stored (uint16 on disk), exposures short to long.
        exposures: exposure multiples from the file names (1, 4, 16, 64, 256 for BracketIRE).
        gt: ``[4, H, W]`` float32 linear HDR ground truth, or None where none is published.
        meta: camera metadata.
        alignratio: the stored ``alignratio`` (the scene's linear maximum), or None.
        bit_depth, black_level: the digital range of ``raws`` from ``sample.json`` (``noise.bit_depth`` and
            ``noise.black_level`` of the simulation), or None where the folder does not say (published data:
            10-bit, black level 0).
    """

    raws: torch.Tensor
    exposures: tuple[int, ...]
    gt: torch.Tensor | None
    meta: CameraMeta
    alignratio: float | None
    bit_depth: int | None = None
    black_level: int | None = None

    def normalised_raws(self, white: float = 1023.0) -> torch.Tensor:
        """``raws`` as float32 ``[T, 4, h, w]`` with 0 at the black level and 1 at the white level.

        Uses the sample's own ``bit_depth`` / ``black_level`` when it has them, else ``raws / white``
        (``white``: the digital white level of data that does not say; 1023 for the published 10-bit data).
        """
        if self.bit_depth is None:
            return self.raws.float() / white
        top, black = 2**self.bit_depth - 1, self.black_level or 0
        return (self.raws.float() - black) / (top - black)


def exposure_files(folder: Path) -> list[tuple[int, Path]]:
    """``(multiple, path)`` of every ``raw_<m>.npy`` in ``folder``, sorted by exposure."""
    found = [(int(m.group(1)), p) for p in folder.iterdir() if (m := _RAW_NAME.match(p.name))]
    return sorted(found)


def _packed_from_disk(array: np.ndarray, path: Path, dtype: Any) -> torch.Tensor:
    if array.ndim != 3 or array.shape[-1] != 4:
        raise DataError(f"{path}: has shape {array.shape}; expected (H, W, 4) packed RGGB")
    if array.dtype != dtype:
        raise DataError(f"{path}: has dtype {array.dtype}; expected {np.dtype(dtype)}")
    if array.dtype == np.uint16:  # torch's uint16 lacks most operations; int32 holds the values exactly
        array = array.astype(np.int32)
    return torch.from_numpy(np.ascontiguousarray(array.transpose(2, 0, 1)))


def read_meta(frame_dir: Path) -> CameraMeta:
    """Camera metadata of a sample: ``metadata.json`` if present, else the published ``metadata.npy``."""
    json_path = frame_dir / "metadata.json"
    if json_path.is_file():
        return CameraMeta.from_json(json_path.read_text(), str(json_path))
    npy_path = frame_dir / "metadata.npy"
    return CameraMeta.from_arrays(load_legacy_dict(npy_path), str(npy_path))


def read_frame(frame_dir: str | Path, scale: int = 1) -> FrameData:
    """Read one sample folder of the published layout.

    Args:
        frame_dir: ``<root>/<split>/<scene>/<frame>``.
        scale: 1 reads the inputs beside ``raw_gt.npy``; 2 or 4 read ``x2/`` or ``x4/`` (BracketIRE+).

    Raises:
        DataError: missing files, wrong shapes or dtypes, inputs of different sizes, naming the file.
    """
    frame_dir = Path(frame_dir)
    if not frame_dir.is_dir():
        raise DataError(f"{frame_dir}: not a sample folder")
    input_dir = frame_dir if scale == 1 else frame_dir / f"x{scale}"
    files = exposure_files(input_dir) if input_dir.is_dir() else []
    if not files:
        raise DataError(f"{input_dir}: no raw_<exposure>.npy inputs found")
    raws = [_packed_from_disk(load_array(p), p, np.uint16) for _, p in files]
    if len({r.shape for r in raws}) != 1:
        raise DataError(f"{input_dir}: inputs differ in size: {[tuple(r.shape) for r in raws]}")
    gt_path = frame_dir / "raw_gt.npy"
    gt = _packed_from_disk(load_array(gt_path), gt_path, np.float32) if gt_path.is_file() else None
    if gt is not None and tuple(gt.shape[1:]) != tuple(s * scale for s in raws[0].shape[1:]):
        raise DataError(f"{gt_path}: has size {tuple(gt.shape[1:])}; expected {scale}x the inputs' {tuple(raws[0].shape[1:])}")
    ratio_path = frame_dir / "alignratio.npy"
    alignratio = float(load_array(ratio_path)) if ratio_path.is_file() else None
    bit_depth, black_level = read_levels(frame_dir)
    return FrameData(torch.stack(raws), tuple(m for m, _ in files), gt, read_meta(frame_dir), alignratio,
                     bit_depth, black_level)


def read_levels(frame_dir: Path) -> tuple[int | None, int | None]:
    """``(bit_depth, black_level)`` from ``sample.json``, or ``(None, None)`` where it does not record them.

    Raises:
        DataError: ``sample.json`` unreadable, or levels of the wrong type or range (naming the file).
    """
    path = Path(frame_dir) / "sample.json"
    if not path.is_file():
        return None, None
    try:
        info = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise DataError(f"{path}: not readable JSON ({err})") from None
    if not isinstance(info, dict) or "bit_depth" not in info:
        return None, None
    bits, black = info.get("bit_depth"), info.get("black_level", 0)
    if type(bits) is not int or not 1 <= bits <= 16:
        raise DataError(f"{path}: bit_depth={bits!r}; expected an integer 1..16")
    if type(black) is not int or not 0 <= black < 2**bits - 1:
        raise DataError(f"{path}: black_level={black!r}; expected an integer 0 <= black_level < {2**bits - 1}")
    return bits, black


def list_frames(root: str | Path, split: str | None = "Test") -> list[tuple[str, str, Path]]:
    """``(scene, frame, folder)`` of every sample under ``root/split``, in the published sorted order.

    ``split=None`` lists ``root`` itself as the folder of scenes.
    """
    base = Path(root) if split is None else Path(root) / split
    if not base.is_dir():
        raise DataError(f"{base}: not a folder of scenes")
    frames = []
    for scene in sorted(p for p in base.iterdir() if p.is_dir() and not p.name.startswith(".")):
        frames += [(scene.name, f.name, f) for f in sorted(scene.iterdir()) if f.is_dir() and not f.name.startswith(".")]
    return frames


def _save(path: Path, array: np.ndarray) -> None:
    with open(path, "wb") as handle:
        np.save(handle, array, allow_pickle=False)


def write_frame(
    frame_dir: str | Path,
    raws: Mapping[int, torch.Tensor],
    exposures: Sequence[int],
    gt: torch.Tensor,
    meta: CameraMeta,
    alignratio: float,
    info: Mapping[str, Any] | None = None,
) -> Path:
    """Write one sample atomically (a temporary sibling folder renamed into place).

    Args:
        frame_dir: target ``<root>/<split>/<scene>/<frame>``; must not exist yet.
        raws: scale -> ``[T, 4, h, w]`` integer digital numbers (uint16 range); scale 1 is written beside
            the ground truth, scales 2 and 4 into ``x2/`` and ``x4/``.
        exposures: the T exposure multiples, short to long (file names ``raw_<m>.npy``).
        gt: ``[4, H, W]`` float linear HDR ground truth.
        meta: camera metadata (unbatched), written as ``metadata.npy`` (published form) and ``metadata.json``.
        alignratio: stored as ``alignratio.npy`` (float32, 0-d).
        info: extra JSON-serialisable facts for ``sample.json`` (noise levels, motion, seed).

    Returns:
        ``frame_dir``.
    """
    frame_dir = Path(frame_dir)
    if frame_dir.exists():
        raise DataError(f"{frame_dir}: already exists; refusing to overwrite a sample")
    try:
        frame_dir.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(dir=frame_dir.parent, prefix=f".{frame_dir.name}.tmp-"))
    except OSError as err:
        raise DataError(f"{frame_dir}: cannot be written ({err.strerror or err})") from None
    try:
        apply_umask(tmp)  # mkdtemp makes it 0700; the sample gets what the user's umask gives
        for scale, stack in raws.items():
            if stack.shape[0] != len(exposures):
                raise DataError(f"{frame_dir}: {stack.shape[0]} frames for {len(exposures)} exposures at scale {scale}")
            folder = tmp if scale == 1 else tmp / f"x{scale}"
            folder.mkdir(exist_ok=True)
            for multiple, frame in zip(exposures, stack):
                _save(folder / f"raw_{multiple}.npy", frame.permute(1, 2, 0).cpu().numpy().astype(np.uint16))
        _save(tmp / "raw_gt.npy", gt.detach().permute(1, 2, 0).cpu().numpy().astype(np.float32))
        _save(tmp / "alignratio.npy", np.array(alignratio, dtype=np.float32))
        np.save(tmp / "metadata.npy", meta.to_arrays())  # a pickled dict: what the published loaders read
        (tmp / "metadata.json").write_text(meta.to_json())
        if info:
            (tmp / "sample.json").write_text(json.dumps(info, indent=1, sort_keys=True))
        os.replace(tmp, frame_dir)
    except BaseException as err:
        shutil.rmtree(tmp, ignore_errors=True)
        if isinstance(err, OSError):  # a full disk, a quota, a vanished folder: name where, in one line
            raise DataError(f"{frame_dir}: cannot be written ({err.strerror or err})") from None
        raise
    return frame_dir
