"""The published real-world rendering: a model's packed RAW output -> the 16-bit PNG of ``real_test.py``.

Stages, as the published DNG-driven pipeline runs them (``isp/pipeline_utils.py``, entered at ``normal`` and left
at ``srgb``), each a function here so that it can be checked against the stage fixtures of
``../shared/fixtures/official/real/``:

1. scale: ``clamp(clamp_min(raw, 0) / output_scale, 0, 1)`` (the published test divides by a fixed 16),
   then the packed planes go back to the full-resolution mosaic of the file's CFA;
2. white balance: each CFA site divided by AsShotNeutral of its colour (float32), clipped to [0, 1] (float64);
3. demosaic: 14-bit truncation, ``x^(1/2.2)``, DemosaicNet (native GRBG; other CFAs padded by one row and/or
   column as published), clamp, ``x^2.2`` (float32);
4. camera -> XYZ with the inverse of ColorMatrix1 after normalising its rows to sum 1, clip (float64);
5. XYZ -> linear sRGB with the standard D65 matrix, rows normalised to sum 1, clip; then the orientation
   (the published mapping, which swaps EXIF codes 2 <-> 4 and 5 <-> 7; 3, 6, 8 are as in EXIF);
6. mu-law ``log(1 + 5000 x) / log(5001)``, ``x 65535``, clip, truncation to uint16 (RGB order).

The published pipeline also has ``raw -> normal`` (black/white levels), ``gamma`` and ``tone`` stages that the
real test does not use; they are here as :func:`normalize_mosaic`, :func:`apply_gamma` and
:func:`apply_tone_curve`. The tone curve table itself is not shipped: pass the array (``tone_curve.mat['tc']``).
The viewable preview (:func:`preview_srgb`) brings stage 5 back to the reference frame's exposure, compresses
highlights with the extended Reinhard curve (white at the brightest value the PNG can hold) and encodes it as
standard sRGB, 8-bit: a normal-looking photograph whose highlights roll off instead of clipping.
"""

from __future__ import annotations

import copy
import math

import numpy as np
import torch

from simulator.bayer import unpack
from simulator.color import linear_to_srgb
from simulator.core.errors import ConfigError, DataError
from simulator.demosaic.demosaicnet import load_demosaicnet
from simulator.real.metadata import RealRenderInfo

U14 = 16383.0  # the published demosaic quantises to 14 bits
DISPLAY_GAMMA = 2.2
XYZ_TO_SRGB = (
    (3.2404542, -1.5371385, -0.4985314),
    (-0.9692660, 1.8760108, 0.0415560),
    (0.0556434, -0.2040259, 1.0572252),
)
MU = 5000.0
TILE_MARGIN = 40  # full-resolution pixels of context per side; DemosaicNet sees at most 34 (even keeps the CFA phase)


def normalize_mosaic(mosaic: torch.Tensor, black_level: tuple[float, ...], white_level: float) -> torch.Tensor:
    """The ``raw -> normal`` stage: ``max(float32(x) - black, 0) / (white - black)``, no upper clip.

    Args:
        mosaic: ``[H, W]`` raw DN (integer or float).
        black_level: one value, or four (the 2x2 positions (0,0), (0,1), (1,0), (1,1)).
        white_level: white level in DN.

    Returns:
        ``[H, W]``: float32 for one black value, float64 for four (as published).
    """
    x = mosaic.to(torch.float32)
    if len(black_level) == 1:
        out = (x - float(black_level[0])).clamp_min(0)
        return out / (float(white_level) - float(black_level[0]))
    black = torch.zeros(x.shape, dtype=torch.float64, device=x.device)
    for index, value in enumerate(black_level[:4]):
        black[index // 2 :: 2, index % 2 :: 2] = float(value)
    out = (x.to(torch.float64) - black).clamp_min(0)
    return out / (float(white_level) - black)


def white_balance(mosaic: torch.Tensor, info: RealRenderInfo) -> torch.Tensor:
    """``[H, W]`` float32 mosaic in [0, 1] -> ``[H, W]`` float64: each site / AsShotNeutral of its colour, clipped."""
    out = torch.empty(mosaic.shape, dtype=torch.float64, device=mosaic.device)
    for index, colour in enumerate(info.cfa_pattern):
        row, col = divmod(index, 2)
        neutral = torch.tensor(info.as_shot_neutral[colour], dtype=mosaic.dtype, device=mosaic.device)
        out[row::2, col::2] = mosaic[row::2, col::2] / neutral
    return out.clamp(0, 1)


def quantise_14bit(wb: torch.Tensor) -> torch.Tensor:
    """``[H, W]`` float64 in [0, 1] -> ``[H, W]`` int32 ``trunc(wb * 16383)`` (the published uint16 cast)."""
    return (wb.to(torch.float64) * U14).to(torch.int32)


def _to_grbg(bayer: torch.Tensor, cfa: str) -> torch.Tensor:
    """Pad an ``[H, W]`` mosaic of ``cfa`` to GRBG phase by one row and/or column, as the published code does."""
    if cfa == "RGGB":
        return torch.cat([bayer[:, 1:2], bayer, bayer[:, -1:]], dim=1)
    if cfa == "BGGR":
        return torch.cat([bayer[1:2], bayer, bayer[-1:]], dim=0)
    if cfa == "GBRG":
        rows = torch.cat([bayer[1:2], bayer, bayer[-2:-1]], dim=0)
        return torch.cat([rows[:, 1:2], rows, rows[:, -2:-1]], dim=1)
    return bayer


def _from_grbg(rgb: torch.Tensor, cfa: str) -> torch.Tensor:
    """Undo :func:`_to_grbg` on ``[3, H', W']``."""
    if cfa == "RGGB":
        return rgb[:, :, 1:-1]
    if cfa == "BGGR":
        return rgb[:, 1:-1]
    if cfa == "GBRG":
        return rgb[:, 1:-1, 1:-1]
    return rgb


def _run_tiled(net: torch.nn.Module, masked: torch.Tensor, tile: int | None) -> torch.Tensor:
    """``net`` on ``[3, H, W]``, whole or by ``tile``-sized cores with :data:`TILE_MARGIN` context (same output)."""
    height, width = masked.shape[-2:]
    if tile is None or (height <= tile and width <= tile):
        return net(masked[None])[0]
    if tile < 2 or tile % 2:
        raise ConfigError(f"tile={tile}: expected an even number of pixels >= 2")
    out = masked.new_empty(3, height, width)
    for y0 in range(0, height, tile):
        for x0 in range(0, width, tile):
            y1, x1 = min(y0 + tile, height), min(x0 + tile, width)
            wy0, wx0 = max(y0 - TILE_MARGIN, 0), max(x0 - TILE_MARGIN, 0)
            window = masked[:, wy0 : min(y1 + TILE_MARGIN, height), wx0 : min(x1 + TILE_MARGIN, width)]
            out[:, y0:y1, x0:x1] = net(window[None])[0, :, y0 - wy0 : y1 - wy0, x0 - wx0 : x1 - wx0]
    return out


def demosaic_net_rgb(
    gamma_bayer: torch.Tensor,
    cfa: str,
    weights: str | None = None,
    net_dtype: torch.dtype = torch.float32,
    tile: int | None = None,
) -> torch.Tensor:
    """DemosaicNet on a gamma-encoded mosaic, as the published ``demosaic_by_demosaic_net``.

    Args:
        gamma_bayer: ``[H, W]`` float32 in [0, 1] (gamma domain), CFA ``cfa``.
        cfa: "GRBG" (native), "RGGB", "BGGR" or "GBRG".
        weights: DemosaicNet weight file (None: found as :func:`~simulator.demosaic.demosaicnet.load_demosaicnet` does).
        net_dtype: the network's precision: float32 as published, or float64 (half the rounding error, slower).
        tile: run the network on ``tile x tile`` pieces (even; memory then stays bounded on large files). Each
            piece gets enough context that the result equals the whole-image one up to float rounding.

    Returns:
        ``[H, W, 3]`` float32 RGB in [0, 1], gamma domain. Runs without TF32 on CUDA, as on CPU.
    """
    net = load_demosaicnet(weights, gamma_bayer.device)
    if net_dtype != torch.float32:
        net = copy.deepcopy(net).to(net_dtype)
    padded = _to_grbg(gamma_bayer.clamp(0, 1).to(net_dtype), cfa)
    height, width = padded.shape
    mask = torch.zeros(3, height, width, dtype=net_dtype, device=padded.device)
    mask[0, 0::2, 1::2] = 1
    mask[1, 0::2, 0::2] = 1
    mask[1, 1::2, 1::2] = 1
    mask[2, 1::2, 0::2] = 1
    cudnn = torch.backends.cudnn
    with torch.no_grad(), cudnn.flags(enabled=cudnn.enabled, benchmark=cudnn.benchmark,
                                      deterministic=cudnn.deterministic, allow_tf32=False):
        rgb = _run_tiled(net, padded[None] * mask, tile)
    return _from_grbg(rgb, cfa).clamp(0, 1).to(torch.float32).permute(1, 2, 0).contiguous()


def demosaic(
    wb: torch.Tensor,
    info: RealRenderInfo,
    weights: str | None = None,
    net_dtype: torch.dtype = torch.float32,
    tile: int | None = None,
) -> torch.Tensor:
    """The 'net' demosaic stage: ``[H, W]`` float64 white-balanced mosaic -> ``[H, W, 3]`` float32 linear RGB."""
    q = quantise_14bit(wb)
    gamma_bayer = (q.to(torch.float32) / U14).clamp(0, 1) ** (1 / DISPLAY_GAMMA)
    rgb = demosaic_net_rgb(gamma_bayer, info.cfa, weights, net_dtype, tile)
    return (rgb**DISPLAY_GAMMA * U14).to(torch.float32) / U14


def _normalised_rows(matrix: np.ndarray) -> np.ndarray:
    return matrix / matrix.sum(axis=1, keepdims=True)


def camera_to_xyz(rgb: torch.Tensor, info: RealRenderInfo) -> torch.Tensor:
    """``[H, W, 3]`` camera RGB -> ``[H, W, 3]`` float64 XYZ with inv(row-normalised ColorMatrix1), clipped."""
    cm1 = _normalised_rows(np.asarray(info.color_matrix_1, dtype=np.float64).reshape(3, 3))
    cm2 = np.asarray(info.color_matrix_2, dtype=np.float64).reshape(3, 3) / cm1.sum(axis=1, keepdims=True)
    try:
        cam2xyz = np.linalg.inv(cm1)
        np.linalg.inv(cm2)  # the published code inverts both; a singular ColorMatrix2 fails there too
    except np.linalg.LinAlgError:
        raise DataError(f"{info.source}: ColorMatrix1/2 {info.color_matrix_1} / {info.color_matrix_2} "
                        "are not invertible; expected XYZ -> camera matrices") from None
    return _apply_matrix(rgb, cam2xyz)


def _apply_matrix(image: torch.Tensor, matrix: np.ndarray) -> torch.Tensor:
    m = torch.as_tensor(matrix, dtype=torch.float64, device=image.device)
    x = image.to(torch.float64)
    out = m[:, 0] * x[..., 0:1] + m[:, 1] * x[..., 1:2] + m[:, 2] * x[..., 2:3]
    return out.clamp(0, 1)


def xyz_to_srgb(xyz: torch.Tensor) -> torch.Tensor:
    """``[H, W, 3]`` float64 XYZ -> linear sRGB with the row-normalised D65 matrix, clipped to [0, 1]."""
    return _apply_matrix(xyz, _normalised_rows(np.asarray(XYZ_TO_SRGB, dtype=np.float64)))


def fix_orientation(image: torch.Tensor, orientation: int | list[int] | tuple[int, ...]) -> torch.Tensor:
    """Orient ``[H, W, C]`` as the published ``fix_orientation`` does (2 and 4, 5 and 7 swapped vs EXIF)."""
    code = int(orientation[0]) if isinstance(orientation, (list, tuple)) else int(orientation)
    if code == 2:
        return image.flip(0)
    if code == 3:
        return image.flip(0).flip(1)
    if code == 4:
        return image.flip(1)
    if code == 5:
        return torch.rot90(image.flip(0), 1, (0, 1))
    if code == 6:
        return torch.rot90(image, -1, (0, 1))
    if code == 7:
        return torch.rot90(image.flip(0), -1, (0, 1))
    if code == 8:
        return torch.rot90(image, 1, (0, 1))
    return image


def apply_gamma(x: torch.Tensor) -> torch.Tensor:
    """The published 'gamma' stage: ``x^(1/2.2)`` (not used by the real test)."""
    return x ** (1 / DISPLAY_GAMMA)


def apply_tone_curve(x: torch.Tensor, curve: np.ndarray | torch.Tensor) -> torch.Tensor:
    """The published 'tone' stage: ``curve[round(x * (len - 1))]``, rounding half to even (not used by the real test).

    Args:
        x: values in [0, 1], any shape.
        curve: the tone curve table, ``(N,)`` or ``(N, 1)``.

    Returns:
        ``x``'s shape with singleton dimensions squeezed (as published), float64.
    """
    table = torch.as_tensor(np.asarray(curve, dtype=np.float64).reshape(-1), device=x.device)
    index = torch.round(x.to(torch.float64) * (table.numel() - 1)).to(torch.long)
    return table[index].squeeze()


def mu_tonemap(x: torch.Tensor, mu: float = MU) -> torch.Tensor:
    """``log(1 + mu x) / log(1 + mu)`` in float64 (the published ``util.mu_tonemap``)."""
    x = x.to(torch.float64)
    return torch.log(1 + mu * x) / math.log(1 + mu)


def scale_to_mosaic(raw: torch.Tensor, info: RealRenderInfo) -> torch.Tensor:
    """``[4, h, w]`` model output (R, Gr, Gb, B) -> ``[2h, 2w]`` float32 mosaic in [0, 1], as handed to the ISP."""
    if raw.ndim != 3 or raw.shape[0] != 4:
        raise DataError(f"raw: shape {tuple(raw.shape)}; expected [4, h, w] packed R, Gr, Gb, B")
    scaled = (raw.to(torch.float32).clamp_min(0) / float(info.output_scale)).clamp(0, 1)
    return unpack(scaled, info.cfa)


def render_stages(
    raw: torch.Tensor,
    info: RealRenderInfo,
    weights: str | None = None,
    net_dtype: torch.dtype = torch.float32,
    tile: int | None = None,
) -> dict[str, torch.Tensor]:
    """Every stage of :func:`render_real`, by the fixtures' names (``isp_in`` ... ``scaled``)."""
    stages = {"isp_in": scale_to_mosaic(raw, info)}
    stages["stage_white_balance"] = white_balance(stages["isp_in"], info)
    stages["stage_demosaic"] = demosaic(stages["stage_white_balance"], info, weights, net_dtype, tile)
    stages["stage_xyz"] = camera_to_xyz(stages["stage_demosaic"], info)
    stages["stage_srgb"] = fix_orientation(xyz_to_srgb(stages["stage_xyz"]), info.orientation)
    stages["mu"] = mu_tonemap(stages["stage_srgb"])
    stages["scaled"] = (stages["mu"] * 65535).clamp(0, 65535)
    return stages


def preview_srgb(linear: torch.Tensor, exposure: float) -> torch.Tensor:
    """8-bit sRGB view of a linear HDR image: exposure, extended Reinhard highlight roll-off, sRGB encoding.

    Args:
        linear: ``[..., 3]`` (or any shape) linear values in [0, 1], 1 being the brightest value kept
            (the ``stage_srgb`` of :func:`render_stages`, in frame-0 units).
        exposure: gain that brings the reference exposure to 1 (``info.output_scale``: frame 2's exposure).

    Returns:
        Same shape, uint8: ``round(255 * srgb(y))`` with ``y = x (1 + x / w^2) / (1 + x)``, ``x = linear * w``,
        ``w = exposure``; monotone, 0 -> 0 and 1 -> 255.
    """
    white = max(float(exposure), 1.0)
    x = linear.to(torch.float64).clamp(0, 1) * white
    y = x * (1 + x / white**2) / (1 + x)
    return torch.round(linear_to_srgb(y).clamp(0, 1) * 255).to(torch.uint8)


def render_real(
    raw: torch.Tensor,
    info: RealRenderInfo,
    weights: str | None = None,
    net_dtype: torch.dtype = torch.float32,
    tile: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Render a real-world model output as the published ``real_test.py`` saves it, plus a viewable preview.

    Args:
        raw: ``[4, h, w]`` float, packed R, Gr, Gb, B in the units of the published real-world models' output:
            the input frames normalised to [0, 1] and scaled to the exposure of frame 2 (frame i times
            ``exposures[2] / exposures[i]``); it is divided by ``info.output_scale`` (16 as published) to
            bring it to frame-0 units. Negative values are clamped to 0.
        info: the bracket's :class:`RealRenderInfo` (frame 0's metadata).
        weights: DemosaicNet weights when not found automatically.
        net_dtype: DemosaicNet precision (float32 as published; float64 halves its rounding error).
        tile: DemosaicNet tile size in full-resolution pixels (None: whole image, as published); bounds memory.

    Returns:
        ``(png16, preview)``: ``(H, W, 3)`` uint16 RGB, what the published code writes (after orientation,
        so ``(W, H, 3)`` for a 90-degree rotation; the published PNG is RGB on disk, so write it with
        ``cv2.imwrite(path, png16[..., ::-1])``), and the same shape uint8 sRGB preview (:func:`preview_srgb`).
    """
    stages = render_stages(raw, info, weights, net_dtype, tile)
    png16 = stages["scaled"].cpu().numpy().astype(np.uint16)
    return png16, preview_srgb(stages["stage_srgb"], info.output_scale).cpu().numpy()
