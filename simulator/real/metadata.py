"""Camera metadata of a real RAW frame: what the published real-world rendering reads, and the toolkit's form.

:class:`RealRenderInfo` holds the values the published DNG-driven pipeline (``isp/pipeline_utils.py`` of
cszhilu1998/BracketIRE, reached from ``real_test.py``) takes from a file: CFAPattern, AsShotNeutral,
ColorMatrix1/2 and Orientation, plus the levels. For a DNG they are the IFD0 tags, as the published code reads
them; when a tag is absent (camera RAW formats have no DNG tags, some DNGs keep them in a SubIFD) the value
LibRaw decoded is used instead, so every file rawpy opens can be rendered.

:func:`camera_meta` turns that into the toolkit's :class:`~simulator.camera.CameraMeta` (sRGB <-> camera
matrices and white-balance gains), so real brackets can also go through the synthetic-data ISP.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from simulator.bayer import CFA_OFFSETS
from simulator.camera import SRGB_TO_XYZ, CameraMeta
from simulator.core.errors import DataError
from simulator.real.tiff_tags import TiffTags

CFA_NAMES = {(1, 0, 2, 1): "GRBG", (0, 1, 1, 2): "RGGB", (2, 1, 1, 0): "BGGR", (1, 2, 0, 1): "GBRG"}
D65 = 21  # EXIF LightSource code of the D65 illuminant
_FLIP_TO_ORIENTATION = {0: 1, 3: 3, 5: 8, 6: 6}  # LibRaw sizes.flip -> EXIF Orientation


@dataclass(frozen=True)
class RealRenderInfo:
    """What :func:`simulator.real.render.render_real` needs about the camera of one bracket.

    Attributes:
        cfa_pattern: DNG CFAPattern of the mosaic at (0,0), (0,1), (1,0), (1,1); 0 = R, 1 = G, 2 = B.
        as_shot_neutral: camera-RGB neutral (AsShotNeutral); white balance divides by it.
        color_matrix_1: ColorMatrix1, XYZ -> camera, 9 values row-major (the only matrix the published render
            applies).
        color_matrix_2: ColorMatrix2 (inverted but unused by the published render; must be invertible).
        calibration_illuminants: CalibrationIlluminant1/2 (EXIF LightSource codes; 0 when unknown).
        orientation: EXIF Orientation code (1 = as stored; 6 = rotate 90 degrees clockwise; ...).
        black_level: per packed channel R, Gr, Gb, B, in file DN.
        white_level: white level in file DN.
        output_scale: the model output (at the exposure of frame 2) is divided by this before rendering, to
            bring it to frame-0 units: a fixed 16 for the real-world layout, as in the published real test;
            the measured ``exposures[2] / exposures[0]`` for camera folders.
        source: the file the values come from (frame 0 of the bracket, as in the published test).
    """

    cfa_pattern: tuple[int, int, int, int]
    as_shot_neutral: tuple[float, float, float]
    color_matrix_1: tuple[float, ...]
    color_matrix_2: tuple[float, ...]
    calibration_illuminants: tuple[int, int]
    orientation: int
    black_level: tuple[float, float, float, float]
    white_level: float
    output_scale: float = 16.0
    source: str = ""

    @property
    def cfa(self) -> str:
        """The CFA order as a string ("GRBG", "RGGB", "BGGR" or "GBRG")."""
        return CFA_NAMES[self.cfa_pattern]


def _rawpy_cfa(raw: Any, path: Path) -> tuple[int, int, int, int]:
    """CFAPattern (0=R, 1=G, 2=B) of the visible area, from LibRaw's colour indices."""
    colors = np.asarray(raw.raw_colors_visible[:2, :2])
    desc = raw.color_desc.decode("ascii", "replace")
    if raw.num_colors != 3 or np.asarray(raw.raw_pattern).shape != (2, 2) or desc[:3] != "RGB":
        raise DataError(f"{path}: not a Bayer RGB sensor (LibRaw colours {desc!r}, pattern shape "
                        f"{np.asarray(raw.raw_pattern).shape}); expected a 2x2 R/G/B colour filter array")
    pattern = tuple(int("RGB".index(desc[c]) if desc[c] in "RGB" else 1) for c in colors.reshape(-1))
    if pattern not in CFA_NAMES:
        raise DataError(f"{path}: CFA pattern {pattern} is not a Bayer pattern; "
                        f"expected one of {list(CFA_NAMES.values())}")
    return pattern  # type: ignore[return-value]


def read_render_info(raw: Any, tags: TiffTags | None, path: Path) -> RealRenderInfo:
    """Collect the rendering metadata of one opened file.

    Args:
        raw: the ``rawpy.RawPy`` object of ``path``.
        tags: its TIFF tags (None for a non-TIFF raw format).
        path: the file, for messages.

    Raises:
        DataError: not a Bayer sensor, or no usable colour matrix.
    """
    ifd0 = tags.ifd0 if tags is not None else {}
    cfa = _rawpy_cfa(raw, path)
    if "CFAPattern" in ifd0 and tuple(int(v) for v in ifd0["CFAPattern"]) != cfa:
        warnings.warn(f"{path}: IFD0 CFAPattern {ifd0['CFAPattern']} differs from the visible area's {cfa}; "
                      "using the latter")
    if "AsShotNeutral" in ifd0 and len(ifd0["AsShotNeutral"]) == 3:
        neutral = tuple(float(v) for v in ifd0["AsShotNeutral"])
    else:
        wb = [float(v) for v in raw.camera_whitebalance[:3]]
        neutral = tuple(wb[1] / v for v in wb) if min(wb) > 0 else (1.0, 1.0, 1.0)
    matrices = [tuple(float(v) for v in ifd0[k]) for k in ("ColorMatrix1", "ColorMatrix2") if len(ifd0.get(k, ())) == 9]
    if not matrices:
        xyz2cam = np.asarray(raw.rgb_xyz_matrix, dtype=np.float64)[:3]
        if not np.any(xyz2cam):
            raise DataError(f"{path}: no colour matrix (no DNG ColorMatrix1/2 and none known to LibRaw); "
                            "expected a DNG with ColorMatrix tags or a camera LibRaw knows")
        matrices = [tuple(xyz2cam.reshape(-1).tolist())]
    illuminants = tuple(int(ifd0.get(k, (0,))[0]) for k in ("CalibrationIlluminant1", "CalibrationIlluminant2"))
    if len(matrices) == 1:
        matrices.append(matrices[0])
        illuminants = (illuminants[0] or D65, illuminants[0] or D65)
    orientation = int(ifd0["Orientation"][0]) if "Orientation" in ifd0 else _FLIP_TO_ORIENTATION.get(raw.sizes.flip, 1)
    black = np.asarray(raw.black_level_per_channel, dtype=np.float64)
    colors = np.asarray(raw.raw_colors_visible[:2, :2]).reshape(-1)  # LibRaw colour index per tile position
    black_by_position = [float(black[c]) for c in colors]
    order = [2 * r + c for r, c in CFA_OFFSETS[CFA_NAMES[cfa]]]  # tile position of R, Gr, Gb, B
    return RealRenderInfo(
        cfa_pattern=cfa,
        as_shot_neutral=neutral,  # type: ignore[arg-type]
        color_matrix_1=matrices[0],
        color_matrix_2=matrices[1],
        calibration_illuminants=illuminants,  # type: ignore[arg-type]
        orientation=orientation,
        black_level=tuple(black_by_position[p] for p in order),  # type: ignore[arg-type]
        white_level=float(raw.white_level),
        source=str(path),
    )


def camera_meta(info: RealRenderInfo) -> CameraMeta:
    """The toolkit's camera metadata for a real camera.

    ``rgb2cam = normalise_rows(xyz2cam @ sRGB->XYZ)`` with the D65 colour matrix (ColorMatrix2 when its
    illuminant is D65, else ColorMatrix1), rows normalised to sum 1 as for the synthetic cameras, so that white
    stays white; ``cam2rgb`` its inverse. Gains reproduce dividing by AsShotNeutral:
    ``red_gain = N_G / N_R``, ``blue_gain = N_G / N_B``, ``rgb_gain = 1 / N_G``.
    """
    pick = info.color_matrix_2 if info.calibration_illuminants[1] == D65 and info.calibration_illuminants[0] != D65 \
        else info.color_matrix_1
    rgb2cam = np.asarray(pick, dtype=np.float64).reshape(3, 3) @ np.asarray(SRGB_TO_XYZ, dtype=np.float64)
    rgb2cam = rgb2cam / rgb2cam.sum(axis=1, keepdims=True)
    n_r, n_g, n_b = info.as_shot_neutral
    return CameraMeta(
        rgb2cam=torch.tensor(rgb2cam, dtype=torch.float32),
        cam2rgb=torch.tensor(np.linalg.inv(rgb2cam), dtype=torch.float32),
        rgb_gain=torch.tensor(1.0 / n_g, dtype=torch.float32),
        red_gain=torch.tensor(n_g / n_r, dtype=torch.float32),
        blue_gain=torch.tensor(n_g / n_b, dtype=torch.float32),
    )
