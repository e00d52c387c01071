"""Finding real brackets on disk: the published real-world layout and any folder of camera RAW/DNG files.

* ``"real"``: the published real-world dataset, ``{Train,Test}/<scene>/*.dng`` plus ``exposure.txt``, read as
  ``data/real_dataset.py`` (test split) reads it: the scene's ``*.dng`` sorted by file name, ``exposure.txt`` one
  linear exposure per file in the same order, raw values ``(x - 64) / 959`` clipped to [0, 1] (black 64 and white
  1023 are fixed there, as for the 10-bit camera of that dataset). ``root`` may be the dataset (``Test/`` is read
  when present, else ``Train/``), one split folder, or one scene folder. One deliberate difference: frames are
  packed by the file's CFA pattern into R, Gr, Gb, B, while the published reader packs by position, which gives
  the same planes for its GRBG camera and mislabelled ones for any other CFA.
* ``"camera"``: a folder of RAW/DNG files (any format LibRaw reads). Files are put in capture order (EXIF time,
  then file name) and cut into brackets at pauses longer than :data:`PAUSE_S`, or into equal runs of the
  number of distinct exposures when a burst holds several brackets, or into runs of ``group`` frames. Each
  bracket is sorted short to long by exposure time x ISO and must be strictly increasing. Raw values use the
  file's own black and white levels.
"""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from simulator.camera import CameraMeta
from simulator.core.errors import ConfigError, DataError
from simulator.real.metadata import RealRenderInfo, camera_meta
from simulator.real.reader import RAW_SUFFIXES, RawFrame, normalise, read_frame

PUBLISHED_BLACK, PUBLISHED_WHITE = 64.0, 1023.0  # hard-coded by the published real-world reader
PAUSE_S = 2.0  # a gap this much longer than the previous frame's exposure starts a new bracket
SPLITS = ("Test", "Train")
_SAME = 1e-3  # exposures within 0.1 % count as equal


@dataclass(frozen=True, eq=False)
class RawBracket:
    """One real bracket, ready for a model.

    Attributes:
        name: output stem: the scene folder (real-world layout) or the first file's stem (camera folder).
        raws: ``[T, 4, h, w]`` float32 in [0, 1], packed R, Gr, Gb, B, black-subtracted and divided by
            (white - black); shortest exposure first.
        exposures: measured relative exposures (exposure.txt, or exposure time x ISO), ``exposures[0] == 1``,
            strictly increasing. The published real models scale frame i by ``exposures[2] / exposures[i]``.
        meta: the toolkit's camera metadata from frame 0 (white-balance gains, colour matrices).
        render_info: what :func:`simulator.real.render.render_real` needs (from frame 0, as published).
        files: the frames' files, in the order of ``raws``.
    """

    name: str
    raws: torch.Tensor
    exposures: tuple[float, ...]
    meta: CameraMeta
    render_info: RealRenderInfo
    files: tuple[Path, ...]


def exposure_scales(exposures: Sequence[float], reference: int = 2) -> torch.Tensor:
    """``[T]`` float32 ``e[reference] / e``: the factor the published real models multiply frame i by.

    With the real-world layout's exposures this is bit-identical to the published ``expos`` (float32 division
    of the ``exposure.txt`` values); ``reference`` is clamped to the last frame for brackets under 3 frames.
    """
    values = np.asarray(exposures, dtype=np.float64)
    return torch.from_numpy((values[min(reference, values.size - 1)] / values).astype(np.float32))


def _is_raw(path: Path) -> bool:
    return path.is_file() and path.suffix.lower() in RAW_SUFFIXES


def _is_scene(folder: Path) -> bool:
    return folder.is_dir() and (folder / "exposure.txt").is_file() and any(folder.glob("*.dng"))


def _real_scenes(root: Path) -> list[Path]:
    if _is_scene(root):
        return [root]
    for base in [root / s for s in SPLITS if (root / s).is_dir()] or [root]:
        scenes = sorted((p for p in base.iterdir() if _is_scene(p)), key=lambda p: p.name)
        if scenes:
            return scenes
    return []


def detect_raw_layout(root: Path) -> str | None:
    """``"real"`` (published real-world layout), ``"camera"`` (a folder of RAW/DNG files) or None."""
    root = Path(root)
    if not root.is_dir():
        return None
    if _real_scenes(root):
        return "real"
    return "camera" if any(_is_raw(p) for p in root.iterdir()) else None


def _check_consistent(frames: Sequence[RawFrame]) -> None:
    first = frames[0]
    for frame in frames[1:]:
        if frame.mosaic.shape != first.mosaic.shape or frame.info.cfa_pattern != first.info.cfa_pattern:
            raise DataError(f"{frame.path}: size {frame.mosaic.shape} / CFA {frame.info.cfa} differ from {first.path} "
                            f"({first.mosaic.shape} / {first.info.cfa}); expected one camera and size per bracket")


def _check_monotone(paths: Sequence[Path], exposures: Sequence[float]) -> None:
    for (p0, e0), (p1, e1) in zip(zip(paths, exposures), zip(paths[1:], exposures[1:])):
        if not e1 > e0 * (1 + _SAME):
            raise DataError(f"{p0.name} ({e0:.6g}) and {p1.name} ({e1:.6g}) in {p0.parent}: exposures not strictly "
                            "increasing; expected a bracket of distinct exposures (short to long)")


def _read_real_scene(scene: Path) -> RawBracket:
    files = sorted(scene.glob("*.dng"), key=lambda p: p.name)
    try:
        values = np.atleast_1d(np.loadtxt(scene / "exposure.txt")).astype(np.float32).reshape(-1)
    except ValueError as err:
        raise DataError(f"{scene / 'exposure.txt'}: not a list of numbers ({err})") from None
    if values.size != len(files) or not np.all(np.isfinite(values)) or np.any(values <= 0):
        raise DataError(f"{scene / 'exposure.txt'}: {values.size} values {values.tolist()}; expected one positive "
                        f"linear exposure per .dng file ({len(files)})")
    _check_monotone(files, values.tolist())
    frames = [read_frame(f) for f in files]
    _check_consistent(frames)
    info = frames[0].info
    if info.black_level != (PUBLISHED_BLACK,) * 4 or info.white_level != PUBLISHED_WHITE:
        warnings.warn(f"{files[0]}: levels black {info.black_level} / white {info.white_level} differ from the "
                      f"published real-world reader's fixed {PUBLISHED_BLACK:g} / {PUBLISHED_WHITE:g}, which are used")
    raws = normalise(torch.stack([f.packed() for f in frames]), PUBLISHED_BLACK, PUBLISHED_WHITE)
    exposures = tuple(float(np.float64(v) / np.float64(values[0])) for v in values)
    return RawBracket(scene.name, raws, exposures, camera_meta(info), info, tuple(files))


def _capture_order(frames: list[RawFrame]) -> list[RawFrame]:
    return sorted(frames, key=lambda f: (f.captured if f.captured is not None else -np.inf, f.path.name))


def _exposure(frame: RawFrame, use_iso: bool) -> float:
    if frame.exposure_time is None:
        raise DataError(f"{frame.path}: no exposure time (EXIF ExposureTime); expected one to order the bracket")
    return frame.exposure_time * (frame.iso if use_iso and frame.iso else 1.0)


def _split_bursts(frames: list[RawFrame], use_iso: bool) -> list[list[RawFrame]]:
    """Capture-ordered frames -> brackets: at pauses, then into runs of the number of distinct exposures."""
    runs: list[list[RawFrame]] = [[frames[0]]]
    for prev, frame in zip(frames, frames[1:]):
        pause = (frame.captured is not None and prev.captured is not None
                 and frame.captured - prev.captured > (prev.exposure_time or 0.0) + PAUSE_S)
        if pause:
            runs.append([frame])
        else:
            runs[-1].append(frame)
    out: list[list[RawFrame]] = []
    for run in runs:
        values = [_exposure(f, use_iso) for f in run]
        distinct = len({round(float(np.log(v)) / _SAME) for v in values})
        if distinct < len(run) and len(run) % distinct == 0:
            out += [run[i : i + distinct] for i in range(0, len(run), distinct)]
        else:
            out.append(run)
    return out


def _camera_brackets(root: Path, group: int | None) -> Iterator[list[RawFrame]]:
    paths = sorted((p for p in Path(root).iterdir() if _is_raw(p)), key=lambda p: p.name)
    if not paths:
        raise DataError(f"{root}: no RAW/DNG files; expected files ending in one of {sorted(RAW_SUFFIXES)}")
    heads = _capture_order([read_frame(p, with_pixels=False) for p in paths])
    use_iso = all(f.iso for f in heads)
    if not use_iso and any(f.iso for f in heads):
        warnings.warn(f"{root}: ISO missing in some files; exposures use exposure time only")
    if group is not None:
        if group < 1 or len(heads) % group:
            raise ConfigError(f"group={group}: {len(heads)} RAW files in {root} do not split into brackets of {group}")
        groups = [heads[i : i + group] for i in range(0, len(heads), group)]
    else:
        groups = _split_bursts(heads, use_iso)
    for members in groups:
        members = sorted(members, key=lambda f: (_exposure(f, use_iso), f.path.name))
        _check_monotone([f.path for f in members], [_exposure(f, use_iso) for f in members])
        yield members


def _read_camera_bracket(heads: list[RawFrame]) -> RawBracket:
    use_iso = all(f.iso for f in heads)
    frames = [read_frame(f.path) for f in heads]
    _check_consistent(frames)
    values = [_exposure(f, use_iso) for f in frames]
    info = frames[0].info
    scale_ref = min(2, len(values) - 1)
    info = dataclasses.replace(info, output_scale=values[scale_ref] / values[0])
    black = torch.tensor(info.black_level, dtype=torch.float32)
    raws = torch.stack([normalise(f.packed(), black, info.white_level) for f in frames])
    exposures = tuple(v / values[0] for v in values)
    return RawBracket(frames[0].path.stem, raws, exposures, camera_meta(info), info, tuple(f.path for f in frames))


def iter_raw_brackets(root: Path, layout: str | None = None, group: int | None = None) -> Iterator[RawBracket]:
    """Yield every bracket under ``root`` (see the module docstring for the two layouts).

    Args:
        root: a folder.
        layout: ``"real"``, ``"camera"`` or None to detect.
        group: camera layout only: force brackets of this many consecutive frames (in capture order).

    Raises:
        ConfigError: an unknown layout, or ``group`` with the real layout / not dividing the file count.
        DataError: no brackets found, a bracket whose exposures are not strictly increasing (naming the files),
            frames of different sizes or CFAs, an unreadable file.
        MissingDependencyError: rawpy is not installed.
    """
    root = Path(root)
    found = detect_raw_layout(root)
    layout = layout or found
    if layout not in ("real", "camera"):
        raise (ConfigError(f"layout={layout!r}; expected 'real' or 'camera'") if layout else
               DataError(f"{root}: no RAW brackets; expected {{Train,Test}}/<scene>/*.dng + exposure.txt "
                         "or RAW/DNG files"))
    if layout == "real":
        if group is not None:
            raise ConfigError("group: only for a folder of camera files; "
                              "the real-world layout has one bracket per scene")
        scenes = _real_scenes(root)
        if not scenes:
            raise DataError(f"{root}: no scene folders with *.dng and exposure.txt")
        for scene in scenes:
            yield _read_real_scene(scene)
    else:
        for heads in _camera_brackets(root, group):
            yield _read_camera_bracket(heads)
