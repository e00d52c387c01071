"""Scene sources: linear HDR RGB images from files or made procedurally.

Every loader returns a float32 tensor ``[3, H, W]``: linear light in sRGB primaries, >= 0, unbounded
(1 is nominal white of the middle exposure). Bad files raise :class:`~simulator.core.errors.DataError`
naming the file.

* HDR stills: OpenEXR (``.exr``, through the OpenEXR package: OpenCV's wheels have no EXR codec),
  Radiance ``.hdr`` and ``.pfm`` (OpenCV), float ``.npy`` ``(H, W, 3)``.
* HDR video frames from HdM-HDR-2014-style clips: ALEXA Wide Gamut linear EXRs, converted to sRGB
  primaries with the published generator's constants (or colour-science's matrix) and scaled by 2^-4 as
  the published generator does.
* LDR photos (``.png``, ``.jpg``): sRGB-decoded to linear, optionally with synthetic highlights.
* ``shapes`` (:func:`builtin_scene`): the toolkit's first procedural HDR scenes (smooth noise, stripes,
  rectangles, discs, lamps hundreds of times brighter than the background, a deep shadow), deterministic
  from a seed. The default ``builtin`` source is now :mod:`simulator.deadleaves`.
"""

from __future__ import annotations

import functools
import math
from pathlib import Path

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from simulator.color import srgb_to_linear
from simulator.core.errors import ConfigError, DataError
from simulator.image_size import check_source_pixels
from simulator.quiet import native_output_silenced, quiet_opencv

quiet_opencv()

HDR_SUFFIXES = (".exr", ".hdr", ".pfm", ".npy")
LDR_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff")
HDM_SCALE = 2.0**-4  # the published generator's scale for HdM-HDR-2014 frames


def _validate(rgb: np.ndarray, path: Path, min_size: int) -> torch.Tensor:
    if rgb.ndim != 3 or rgb.shape[-1] != 3:
        raise DataError(f"{path}: has shape {rgb.shape}; expected (H, W, 3) RGB")
    if min(rgb.shape[:2]) < min_size:
        raise DataError(f"{path}: is {rgb.shape[1]}x{rgb.shape[0]}; expected at least {min_size} px on each side")
    if not np.isfinite(rgb).all():
        raise DataError(f"{path}: contains NaN or infinite values")
    if (rgb < 0).any():
        raise DataError(f"{path}: contains negative values ({rgb.min():.3g}); expected linear light >= 0")
    return torch.from_numpy(np.ascontiguousarray(rgb.transpose(2, 0, 1), dtype=np.float32))


def _read_exr(path: Path) -> np.ndarray:
    import OpenEXR

    with OpenEXR.File(str(path)) as exr:
        channels = exr.channels()
        if "RGB" in channels:
            return np.asarray(channels["RGB"].pixels, dtype=np.float32)
        if all(c in channels for c in "RGB"):
            return np.stack([np.asarray(channels[c].pixels, dtype=np.float32) for c in "RGB"], axis=-1)
    raise DataError(f"{path}: no R, G, B channels (found {sorted(channels)})")


def read_hdr_image(path: str | Path, min_size: int = 16) -> torch.Tensor:
    """Read an HDR still as linear RGB.

    Args:
        path: ``.exr``, ``.hdr``, ``.pfm`` or ``.npy`` (float, ``(H, W, 3)``, RGB).
        min_size: smallest accepted height and width.

    Raises:
        DataError: naming the file: unreadable, not (H, W, 3), non-finite or negative values, or more than
            :data:`~simulator.image_size.MAX_SOURCE_PIXELS` pixels by its header (checked before decoding).

    Returns:
        ``[3, H, W]`` float32, linear, >= 0.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in HDR_SUFFIXES:
        raise DataError(f"{path}: unsupported HDR format; expected one of {HDR_SUFFIXES}")
    check_source_pixels(path)  # from the header, before decoding
    try:
        with native_output_silenced():  # OpenEXR / OpenCV print their own complaints on stdout and stderr
            if suffix == ".exr":
                rgb = _read_exr(path)
            elif suffix == ".npy":
                rgb = np.load(path, allow_pickle=False).astype(np.float32)
            else:
                bgr = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
                if bgr is None:
                    raise DataError(f"{path}: unreadable {suffix} image")
                rgb = bgr[..., ::-1] if bgr.ndim == 3 else bgr
    except DataError:
        raise
    except Exception as err:  # codecs raise assorted types for broken files
        raise DataError(f"{path}: unreadable {suffix} image ({err})") from None
    return _validate(np.asarray(rgb, dtype=np.float32), path, min_size)


# ALEXA Wide Gamut -> linear sRGB primaries as the published generator writes it: ``AlexaWideGamut2sRGB`` in
# ``read_exr`` of ``syn_data_gen/function.py`` (cszhilu1998/BracketIRE, 2024), applied there to row vectors
# (``pixels @ M``). Stored here transposed, for column vectors (``out = M @ rgb``). It differs from
# colour-science's ``matrix_RGB_to_RGB`` by up to 1.8e-4 per coefficient.
AWG_TO_SRGB_PUBLISHED = (
    (1.617523436306807, -0.537286622188294, -0.080236814118512),
    (-0.070572740897816, 1.334613062330328, -0.264040321432512),
    (-0.021101728042793, -0.226953875218266, 1.248055603261060),
)
AWG_MATRICES = ("published", "colour_science")


@functools.lru_cache(maxsize=1)
def _alexa_to_srgb_colour() -> np.ndarray:
    import colour

    spaces = colour.RGB_COLOURSPACES
    alexa = spaces["ALEXA Wide Gamut"] if "ALEXA Wide Gamut" in spaces else spaces["ARRI Wide Gamut 3"]  # renamed
    return colour.matrix_RGB_to_RGB(alexa, spaces["sRGB"])


def alexa_to_srgb_matrix(matrix: str = "published") -> np.ndarray:
    """``[3, 3]`` float64 ALEXA Wide Gamut -> linear sRGB matrix for column vectors.

    Args:
        matrix: ``"published"`` (the published generator's constants, :data:`AWG_TO_SRGB_PUBLISHED`) or
            ``"colour_science"`` (colour-science's ``matrix_RGB_to_RGB``, chromatic adaptation off).
    """
    if matrix == "published":
        return np.array(AWG_TO_SRGB_PUBLISHED, dtype=np.float64)
    if matrix == "colour_science":
        return np.array(_alexa_to_srgb_colour(), dtype=np.float64)
    raise ConfigError(f"source.awg_matrix={matrix!r}; expected one of {', '.join(AWG_MATRICES)}")


def alexa_wide_gamut_to_srgb(rgb: torch.Tensor, scale: float = HDM_SCALE, matrix: str = "published") -> torch.Tensor:
    """HdM-HDR-2014 frame (linear ALEXA Wide Gamut) -> linear sRGB primaries, clipped at 0 and scaled.

    As the published ``read_exr``: clip at 0, scale, multiply by the matrix in float64, back to the input's
    dtype. Negatives the matrix creates are set to 0 here (the published code keeps them, but every later
    step of its pipeline clips them to 0 first, so the results agree).

    Args:
        rgb: ``[..., 3, H, W]`` linear ALEXA Wide Gamut, float.
        scale: the published generator multiplies by 2^-4.
        matrix: ``"published"`` or ``"colour_science"`` (see :func:`alexa_to_srgb_matrix`).

    Returns:
        Same shape and dtype, linear sRGB primaries, >= 0.
    """
    weights = torch.from_numpy(alexa_to_srgb_matrix(matrix)).to(rgb.device)
    scaled = (rgb.clamp_min(0) * scale).to(rgb.dtype)
    out = torch.einsum("ij,...jhw->...ihw", weights, scaled.double())
    return out.to(rgb.dtype).clamp_min(0)


def read_ldr_image(path: str | Path, highlight_gain: float = 1.0, min_size: int = 16) -> torch.Tensor:
    """Read an 8- or 16-bit sRGB photo as linear RGB, optionally with synthetic highlights.

    Args:
        path: ``.png``, ``.jpg`` or ``.tif``.
        highlight_gain: pixels whose brightest channel is above 0.95 are boosted smoothly up to this
            factor (1 = off), giving clipped skies and lamps some HDR headroom.

    Returns:
        ``[3, H, W]`` float32 linear, >= 0.
    """
    path = Path(path)
    check_source_pixels(path)  # from the header, before decoding
    with native_output_silenced():  # libpng / libjpeg warnings and OpenCV's log lines
        bgr = cv2.imread(str(path), cv2.IMREAD_UNCHANGED | cv2.IMREAD_COLOR)
    if bgr is None:
        raise DataError(f"{path}: unreadable image; expected an 8- or 16-bit sRGB photo")
    scale = 65535.0 if bgr.dtype == np.uint16 else 255.0
    return ldr_to_linear(_validate(bgr[..., ::-1].astype(np.float32) / scale, path, min_size), highlight_gain)


def ldr_to_linear(rgb: torch.Tensor, highlight_gain: float = 1.0) -> torch.Tensor:
    """sRGB-encoded ``[3, H, W]`` in [0, 1] -> linear ``[3, H, W]`` float32 >= 0; pixels whose brightest channel
    is above 0.95 are boosted smoothly up to ``highlight_gain`` (1 = off)."""
    linear = srgb_to_linear(rgb).clamp_min(0)
    if highlight_gain != 1.0:
        peak = rgb.max(dim=0, keepdim=True).values
        weight = ((peak - 0.95) / 0.05).clamp(0, 1) ** 2
        linear = linear * (1 + (highlight_gain - 1) * weight)
    return linear


def _smooth_noise(height: int, width: int, cells: int, generator: torch.Generator) -> torch.Tensor:
    """Smooth random field in [0, 1]: bicubic upsampling of a coarse random grid, ``[1, H, W]``."""
    rows = max(2, round(cells * height / max(height, width)))
    cols = max(2, round(cells * width / max(height, width)))
    coarse = torch.rand(1, 1, rows, cols, generator=generator)
    return F.interpolate(coarse, size=(height, width), mode="bicubic", align_corners=True)[0].clamp(0, 1)


def builtin_scene(height: int, width: int, generator: torch.Generator) -> torch.Tensor:
    """A procedural HDR scene of the ``shapes`` source (the ``builtin`` source before dead leaves).

    A textured, coloured background (multi-scale smooth noise and stripes, about 0.02 - 0.5), shapes with
    sharp edges, a deep-shadow region (x 0.02) and 2 - 5 light sources 200 - 800 times brighter than the
    background median, with soft glow. Deterministic for a given generator state.

    Returns:
        ``[3, height, width]`` float32 linear sRGB, >= 0.
    """
    if height < 16 or width < 16:
        raise DataError(f"builtin scene size {width}x{height}; expected at least 16x16")
    tint = 0.4 + 0.6 * torch.rand(3, 1, 1, generator=generator)
    texture = sum(_smooth_noise(height, width, cells, generator) * w for cells, w in ((4, 0.5), (16, 0.3), (64, 0.2)))
    yy, xx = torch.meshgrid(torch.linspace(0, 1, height), torch.linspace(0, 1, width), indexing="ij")
    angle = float(torch.rand(1, generator=generator)) * math.pi
    freq = 10 + 40 * float(torch.rand(1, generator=generator))
    stripes = 0.5 + 0.5 * torch.sin(2 * math.pi * freq * (xx * math.cos(angle) + yy * math.sin(angle)))
    image = (0.02 + 0.45 * texture * (0.7 + 0.3 * stripes)) * tint
    for _ in range(int(torch.randint(4, 9, (1,), generator=generator))):  # sharp-edged shapes
        colour = 0.05 + 0.6 * torch.rand(3, 1, 1, generator=generator)
        cx, cy, r = (float(v) for v in torch.rand(3, generator=generator))
        if float(torch.rand(1, generator=generator)) < 0.5:
            mask = ((xx - cx).abs() < 0.05 + 0.15 * r) & ((yy - cy).abs() < 0.05 + 0.1 * r)
        else:
            mask = (xx - cx) ** 2 + ((yy - cy) * height / width) ** 2 < (0.03 + 0.1 * r) ** 2
        image = torch.where(mask, colour * (0.8 + 0.2 * texture), image)
    sx, sy = (float(v) for v in torch.rand(2, generator=generator))
    shadow = ((xx - sx).abs() < 0.2) & ((yy - sy).abs() < 0.2)
    image = torch.where(shadow, image * 0.02, image)
    median = float(image.median())
    for _ in range(int(torch.randint(2, 6, (1,), generator=generator))):  # light sources
        cx, cy = (float(v) for v in torch.rand(2, generator=generator))
        radius = 0.005 + 0.02 * float(torch.rand(1, generator=generator))
        strength = median * (200 + 600 * float(torch.rand(1, generator=generator)))
        colour = 0.7 + 0.3 * torch.rand(3, 1, 1, generator=generator)
        dist2 = ((xx - cx) ** 2 + ((yy - cy) * height / width) ** 2) / radius**2
        core = (dist2 < 1).float()
        # cut the glow where it is negligible: the exponential's tail would be denormal floats,
        # which make every later operation on the image many times slower
        glow = torch.where(dist2 < 400, torch.exp(-dist2.clamp(max=400) / 8), 0.0) * 0.05
        image = image + strength * colour * (core + glow)
    return image.float().contiguous()
