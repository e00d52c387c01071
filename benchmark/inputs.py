"""What ``predict`` reads: brackets found in a folder, whatever layout it has.

=========== ==========================================================================================
synthetic   the published synthetic layout: ``<root>/<split>/<scene>/<frame>/raw_*.npy`` (with or without
            ``raw_gt.npy``), given the dataset root (``Test/`` is used, else its only split), a split
            folder, or one sample folder. Outputs are named ``<scene>-<frame>``.
ntire       the flat NTIRE test / validation folders: ``<root>/<frame>/raw_*.npy`` + ``metadata.npy``
            (the published pickled dict, read through the restricted unpickler), or one frame folder.
            Outputs are named ``<root folder name>-<frame>``.
real        the published real-world layout (``{Train,Test}/<scene>/*.dng`` + ``exposure.txt``) and
camera      any folder of camera RAW / DNG files: both read by ``simulator.real`` (imported only here),
            with the brackets' measured exposures.
=========== ==========================================================================================
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from simulator.camera import CameraMeta
from simulator.core.errors import ConfigError, DataError, MissingDependencyError
from simulator.layout import exposure_files, list_frames, read_frame

LAYOUTS = ("synthetic", "ntire", "real", "camera")
RAW_WHITE = 1023.0  # the published inputs are 10-bit digital numbers (as bench reads them)


@dataclass(frozen=True)
class Bracket:
    """One bracket to run a model on.

    Attributes:
        name: output file stem, ``<scene>-<frame>`` (or the real bracket's name).
        raws: ``[T, 4, h, w]`` float32 in [0, 1], shortest exposure first, uncropped.
        exposures: relative exposures ``[T]``: measured (real / camera brackets) or the multiples in the file
            names ``raw_<m>.npy`` (synthetic / NTIRE: 1, 4, 16, 64, 256 give the fixed-ratio result bit for
            bit); None for the model's fixed ratio.
        meta: camera metadata for the protocol rendering (synthetic / NTIRE), else None.
        render_info: what ``simulator.real.render_real`` needs (real / camera), else None.
        source: the folder or first file the bracket came from.
    """

    name: str
    raws: torch.Tensor
    exposures: torch.Tensor | None
    meta: CameraMeta | None
    render_info: Any
    source: Path


def _has_raws(folder: Path) -> bool:
    return folder.is_dir() and bool(exposure_files(folder))


def _subdirs(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))


def _synthetic_split(root: Path) -> Path | None:
    """The split folder of a synthetic dataset root (``Test`` first, else its only split), or None."""
    if (root / "Test").is_dir():
        return root / "Test"
    splits = [d for d in _subdirs(root) if any(_has_raws(f) for s in _subdirs(d) for f in _subdirs(s))]
    if len(splits) > 1:
        raise DataError(f"{root}: holds the splits {[s.name for s in splits]} and no Test/; pass one split folder "
                        f"as --input (e.g. {splits[0]})")
    return splits[0] if splits else None


def detect_layout(path: str | os.PathLike[str]) -> str:
    """The layout of ``path``: one of :data:`LAYOUTS`.

    Raises:
        DataError: naming the path, when nothing there looks like a bracket.
    """
    path = Path(path)
    if not path.exists():
        raise DataError(f"{path}: no such file or folder")
    if path.is_dir():
        if _has_raws(path):  # one sample folder: synthetic if it sits in <scene>/<frame>, else NTIRE
            return "synthetic" if (path / "raw_gt.npy").is_file() or (path / "metadata.json").is_file() else "ntire"
        children = _subdirs(path)
        if any(_has_raws(c) for c in children):
            return "ntire"
        if any(_has_raws(f) for c in children for f in _subdirs(c)) or _synthetic_split(path) is not None:
            return "synthetic"
    real = _real_module(required=False)
    found = real.detect_raw_layout(path) if real is not None else None
    if found is not None:
        return found
    hint = "" if real is not None else " (camera RAW / DNG brackets need simulator.real, which is not available here)"
    raise DataError(f"{path}: no brackets found; expected <split>/<scene>/<frame>/raw_*.npy, <frame>/raw_*.npy + "
                    f"metadata.npy, or camera RAW / DNG files{hint}")


def list_samples(path: Path, layout: str) -> list[tuple[str, Path]]:
    """``(name, folder)`` of every sample of a synthetic or NTIRE input, in the published sorted order."""
    if layout == "ntire":
        if _has_raws(path):
            return [(f"{path.parent.name}-{path.name}", path)]
        return [(f"{path.name}-{f.name}", f) for f in _subdirs(path) if _has_raws(f)]
    if _has_raws(path):  # one sample folder <scene>/<frame>
        return [(f"{path.parent.name}-{path.name}", path)]
    split = path if any(_has_raws(f) for c in _subdirs(path) for f in _subdirs(c)) else _synthetic_split(path)
    if split is None:
        raise DataError(f"{path}: no <scene>/<frame>/raw_*.npy samples found")
    return [(f"{scene}-{frame}", folder) for scene, frame, folder in list_frames(split, None) if _has_raws(folder)]


def iter_brackets(path: str | os.PathLike[str], layout: str | None = None, scale: int = 1,
                  group: int | None = None) -> tuple[str, int | None, Iterator[Bracket]]:
    """Every bracket at ``path``: ``(layout, count or None when not known ahead, iterator)``.

    Args:
        path: the input folder (or file, for camera RAW).
        layout: one of :data:`LAYOUTS`, or None to detect it.
        scale: 1, or 4 to read the ``x4/`` inputs of BracketIRE+ (synthetic / NTIRE).
        group: frames per bracket for camera RAW folders (None: grouped by capture time).

    Raises:
        ConfigError: an unknown layout. DataError: nothing readable there.
    """
    path = Path(path)
    if layout is not None and layout not in LAYOUTS:
        raise ConfigError(f"--layout {layout!r}: expected one of {', '.join(LAYOUTS)}")
    layout = layout or detect_layout(path)
    if layout in ("real", "camera"):
        real = _real_module(required=True)
        brackets = real.iter_raw_brackets(path, layout=layout, group=group)
        return layout, None, (_from_raw_bracket(b) for b in brackets)
    samples = list_samples(path, layout)
    if not samples:
        raise DataError(f"{path}: no {layout} samples found")

    def read() -> Iterator[Bracket]:
        for name, folder in samples:
            sample = read_frame(folder, scale=scale)
            exposures = torch.tensor(sample.exposures, dtype=torch.float32)  # raw_<m>.npy: 1, 4, ... 256
            yield Bracket(name, sample.raws.float() / RAW_WHITE, exposures, sample.meta, None, folder)

    return layout, len(samples), read()


def _from_raw_bracket(bracket: Any) -> Bracket:
    exposures = torch.tensor(bracket.exposures, dtype=torch.float32)
    source = bracket.files[0] if bracket.files else Path(bracket.name)
    return Bracket(bracket.name, bracket.raws.float(), exposures, None, bracket.render_info, Path(source))


def _real_module(required: bool) -> Any:
    """``simulator.real`` (camera RAW / DNG and the real-world layout), imported on demand."""
    try:
        import simulator.real as real  # noqa: PLC0415 (optional: needs rawpy; arrives with issue 15A)
    except ImportError as err:
        if required:
            raise MissingDependencyError(
                f"camera RAW / DNG and real-world brackets need simulator.real, which is not importable here ({err}); "
                "install the raw extra (pip install -e .[raw]) or use a synthetic / NTIRE input") from None
        return None
    return real
