"""Writing small DNG files for tests (tifffile), with exactly known pixels and tags.

``write_dng`` writes one uncompressed 16-bit CFA image in IFD0 with the DNG tags LibRaw and the published
real-world reader need; ``write_bracket`` writes a bracket of them from a clean linear scene. Importable by
any test (``from tests.dng import write_bracket``).
"""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction
from pathlib import Path

import numpy as np
import tifffile

CFA_CODES = {"RGGB": (0, 1, 1, 2), "GRBG": (1, 0, 2, 1), "GBRG": (1, 2, 0, 1), "BGGR": (2, 1, 1, 0)}
# ColorMatrix1 (illuminant A) and ColorMatrix2 (D65), XYZ -> camera, as in ../shared/fixtures/official/real.
CM1 = ((1.0856, -0.4480, -0.0698), (-0.3660, 1.1921, 0.1891), (-0.0212, 0.0996, 0.6205))
CM2 = ((0.9512, -0.3520, -0.0614), (-0.4063, 1.2207, 0.2050), (-0.0757, 0.1664, 0.5826))


def _rationals(values: Sequence[float], limit: int = 10000) -> tuple[int, ...]:
    out: list[int] = []
    for value in values:
        fraction = Fraction(value).limit_denominator(limit)
        out += [fraction.numerator, fraction.denominator]
    return tuple(out)


def write_dng(
    path: Path,
    mosaic: np.ndarray,
    cfa: str = "RGGB",
    black: Sequence[int] = (64,),
    white: int = 1023,
    neutral: Sequence[float] = (0.5, 1.0, 0.625),
    cm1: Sequence[Sequence[float]] = CM1,
    cm2: Sequence[Sequence[float]] = CM2,
    exposure_time: Fraction | float = Fraction(1, 100),
    iso: int | None = 100,
    orientation: int = 1,
    captured: str | None = None,
    raw_in_subifd: bool = False,
) -> Path:
    """Write ``mosaic`` (``(H, W)`` uint16 DN, CFA ``cfa``) as a DNG with the given levels and tags.

    ``black`` is one value or four (BlackLevelRepeatDim 2x2, positions (0,0), (0,1), (1,0), (1,1)).
    ``captured`` is an EXIF time "YYYY:MM:DD HH:MM:SS[.fff]" (DateTimeOriginal + SubSecTimeOriginal).
    ``raw_in_subifd`` puts the CFA image and its tags in SubIFD0 behind an RGB preview in IFD0, as DNGs made by
    cameras and converters do (the published reader fails on those: it looks for CFAPattern in IFD0 only).
    """
    mosaic = np.ascontiguousarray(mosaic, dtype=np.uint16)
    time = Fraction(exposure_time).limit_denominator(1_000_000)
    raw_tags = [  # tags of the CFA image itself
        (33421, "H", 2, (2, 2), True),  # CFARepeatPatternDim
        (33422, "B", 4, CFA_CODES[cfa], True),  # CFAPattern
        (50710, "B", 3, (0, 1, 2), True),  # CFAPlaneColor
        (50711, "H", 1, 1, True),  # CFALayout
        (50714, "H", len(black), tuple(black), True),  # BlackLevel
        (50717, "H", 1, white, True),  # WhiteLevel
    ]
    if len(black) == 4:
        raw_tags.append((50713, "H", 2, (2, 2), True))  # BlackLevelRepeatDim
    tags = [  # tags of the file (IFD0)
        (33434, "2I", 1, (time.numerator, time.denominator), True),  # ExposureTime
        (50706, "B", 4, (1, 4, 0, 0), True),  # DNGVersion
        (50707, "B", 4, (1, 1, 0, 0), True),  # DNGBackwardVersion
        (50708, "s", 0, "Test Camera", True),  # UniqueCameraModel
        (50721, "2i", 9, _rationals([v for row in cm1 for v in row]), True),  # ColorMatrix1
        (50722, "2i", 9, _rationals([v for row in cm2 for v in row]), True),  # ColorMatrix2
        (50728, "2I", 3, _rationals(neutral), True),  # AsShotNeutral
        (50778, "H", 1, 17, True),  # CalibrationIlluminant1 (A)
        (50779, "H", 1, 21, True),  # CalibrationIlluminant2 (D65)
        (274, "H", 1, orientation, True),  # Orientation
        (271, "s", 0, "Test", True),  # Make
        (272, "s", 0, "Camera", True),  # Model
    ]
    if iso is not None:
        tags.append((34855, "H", 1, iso, True))  # ISOSpeedRatings
    if captured is not None:
        stamp, _, sub = captured.partition(".")
        tags.append((36867, "s", 0, stamp, True))  # DateTimeOriginal
        if sub:
            tags.append((37521, "s", 0, sub, True))  # SubSecTimeOriginal
    cfa_image = {"photometric": 32803, "compression": None, "subfiletype": 0, "metadata": None}
    with tifffile.TiffWriter(path) as writer:
        if raw_in_subifd:  # the DNG converter's layout: IFD0 a preview, the raw image in SubIFD0
            preview = np.zeros((mosaic.shape[0] // 2, mosaic.shape[1] // 2, 3), np.uint8)
            writer.write(preview, photometric="rgb", subfiletype=1, subifds=1, extratags=tags, metadata=None)
            writer.write(mosaic, extratags=raw_tags, **cfa_image)
        else:
            writer.write(mosaic, extratags=tags + raw_tags, software="tests/dng.py", **cfa_image)
    return path


def bracket_mosaics(
    height: int = 32, width: int = 48, cfa: str = "RGGB", ratios: Sequence[float] = (1, 4, 16),
    black: int = 64, white: int = 1023, seed: int = 0,
) -> tuple[np.ndarray, list[np.ndarray]]:
    """A clean smooth scene and its clipped, quantised frames at ``ratios`` (no noise).

    Returns:
        ``(clean, frames)``: ``(H, W)`` float64 mosaic in frame-0 units (white = 1) and one ``(H, W)`` uint16
        DN mosaic per ratio: ``clip(round(clean * ratio * (white - black)) + black, 0, white)``.
    """
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width] / max(height, width)
    clean = 0.02 + 0.2 * xx + 0.1 * yy + 0.05 * rng.random((height, width))
    frames = [np.clip(np.round(clean * r * (white - black)) + black, 0, white).astype(np.uint16) for r in ratios]
    return clean, frames


def write_bracket(
    folder: Path, cfa: str = "RGGB", times: Sequence[Fraction] = (Fraction(1, 400), Fraction(1, 100), Fraction(1, 25)),
    isos: Sequence[int] | None = None, stem: str = "IMG_", **tags,
) -> list[Path]:
    """Write one bracket (shortest first) into ``folder``; returns the paths. ``tags`` go to :func:`write_dng`."""
    folder.mkdir(parents=True, exist_ok=True)
    isos = isos or [100] * len(times)
    ratios = [float(t * i / (times[0] * isos[0])) for t, i in zip(times, isos)]
    _, frames = bracket_mosaics(cfa=cfa, ratios=ratios)
    return [write_dng(folder / f"{stem}{k:04d}.dng", f, cfa=cfa, exposure_time=t, iso=i, **tags)
            for k, (f, t, i) in enumerate(zip(frames, times, isos))]
