"""Reading one camera RAW / DNG frame through rawpy (LibRaw): the visible mosaic, its levels and its metadata.

No demosaicing or scaling of any kind happens here: the mosaic is LibRaw's ``raw_image_visible`` (uint16, no
black subtraction, no linearisation, no orientation), exactly what the published ``data/real_dataset.py`` reads.
rawpy's ``postprocess`` (and with it LibRaw's auto-brightness, which would make every frame of a bracket look
equally bright) is never called.
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from simulator.bayer import pack
from simulator.core.errors import DataError, MissingDependencyError
from simulator.real.metadata import RealRenderInfo, read_render_info
from simulator.real.tiff_tags import TiffTags, read_tiff_tags

RAW_SUFFIXES = frozenset({
    ".dng", ".cr2", ".cr3", ".crw", ".nef", ".nrw", ".arw", ".srf", ".sr2", ".raf", ".orf", ".rw2", ".pef",
    ".srw", ".raw", ".rwl", ".3fr", ".fff", ".iiq", ".mos", ".mef", ".erf", ".kdc", ".dcr", ".x3f",
})


def import_rawpy() -> Any:
    """The rawpy module, or MissingDependencyError naming the extra that installs it."""
    try:
        import rawpy
    except ImportError:
        raise MissingDependencyError(
            "reading camera RAW/DNG files needs rawpy: pip install 'bracketire-toolkit[raw]' (or pip install rawpy)"
        ) from None
    return rawpy


@dataclass(frozen=True, eq=False)
class RawFrame:
    """One RAW frame as read from disk.

    Attributes:
        path: the file.
        mosaic: ``(H, W)`` uint16 visible raw data, H and W even (an odd last row/column is dropped).
        info: its rendering metadata (CFA, neutral, matrices, orientation, levels).
        exposure_time: EXIF ExposureTime in seconds (None when the file has none).
        iso: EXIF ISO speed (None when absent).
        captured: capture time in seconds since the epoch (None when unknown).
    """

    path: Path
    mosaic: np.ndarray
    info: RealRenderInfo
    exposure_time: float | None
    iso: float | None
    captured: float | None

    def packed(self) -> torch.Tensor:
        """``[4, H/2, W/2]`` uint16-valued int32 planes R, Gr, Gb, B (by the file's CFA), not normalised."""
        return pack(torch.from_numpy(self.mosaic.astype(np.int32)), self.info.cfa)


def _exif_time(tags: TiffTags | None) -> float | None:
    if tags is None:
        return None
    stamp = tags.first("DateTimeOriginal") or tags.first("DateTime")
    if not stamp or not isinstance(stamp[0], str):
        return None
    try:
        moment = _dt.datetime.strptime(stamp[0][:19], "%Y:%m:%d %H:%M:%S").replace(tzinfo=_dt.timezone.utc)
    except ValueError:
        return None
    sub = tags.first("SubSecTimeOriginal")
    fraction = float("0." + sub[0]) if sub and isinstance(sub[0], str) and sub[0].isdigit() else 0.0
    return moment.timestamp() + fraction


def _number(tags: TiffTags | None, name: str) -> float | None:
    value = tags.first(name) if tags is not None else None
    return float(value[0]) if value and isinstance(value[0], (int, float)) and value[0] > 0 else None


def read_frame(path: Path, with_pixels: bool = True) -> RawFrame:
    """Open one RAW/DNG file.

    Args:
        path: the file (any format LibRaw reads; Bayer sensors only).
        with_pixels: False reads metadata only (``mosaic`` is then an empty ``(0, 0)`` array).

    Raises:
        MissingDependencyError: rawpy is not installed.
        DataError: LibRaw cannot read the file, or it is not a Bayer RGB raw, naming it.
    """
    rawpy = import_rawpy()
    path = Path(path)
    tags = read_tiff_tags(path)
    try:
        raw = rawpy.imread(str(path))
    except (rawpy.LibRawError, OSError) as err:
        raise DataError(f"{path}: LibRaw cannot read it ({type(err).__name__}: {err}); "
                        "expected a camera RAW or DNG file") from None
    with raw:
        info = read_render_info(raw, tags, path)
        other = raw.other
        exposure = _number(tags, "ExposureTime") or (float(other.shutter_speed) if other.shutter_speed > 0 else None)
        iso = _number(tags, "ISOSpeedRatings") or (float(other.iso_speed) if other.iso_speed > 0 else None)
        captured = _exif_time(tags)
        if captured is None and other.timestamp is not None and other.timestamp.timestamp() > 0:
            captured = float(other.timestamp.timestamp())
        mosaic = np.zeros((0, 0), np.uint16)
        if with_pixels:
            visible = np.array(raw.raw_image_visible, dtype=np.uint16, copy=True)
            height, width = visible.shape[0] // 2 * 2, visible.shape[1] // 2 * 2
            if height == 0 or width == 0:
                raise DataError(f"{path}: visible raw area is {visible.shape}; expected at least 2x2 pixels")
            mosaic = np.ascontiguousarray(visible[:height, :width])
    return RawFrame(path, mosaic, info, exposure, iso, captured)


def normalise(packed: torch.Tensor, black: torch.Tensor | float, white: float) -> torch.Tensor:
    """``clip((float32(packed) - black) / (white - black), 0, 1)`` in float32, in that order (as published).

    Args:
        packed: ``[..., 4, h, w]`` raw DN, any integer or float dtype.
        black: a scalar, or ``[4]`` per packed channel.
        white: the white level in DN.

    Returns:
        ``[..., 4, h, w]`` float32 in [0, 1].
    """
    black_t = torch.as_tensor(black, dtype=torch.float32)
    if black_t.ndim == 1:
        black_t = black_t[:, None, None]
    scaled = (packed.to(torch.float32) - black_t) / (torch.as_tensor(white, dtype=torch.float32) - black_t)
    return scaled.clamp(0, 1)
