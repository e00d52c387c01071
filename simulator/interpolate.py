"""Video frame interpolation for HDR video sources.

Interpolators (``INTERPOLATORS``, ``(frame0, frame1, times) -> frames``), on linear HDR RGB:

* ``dis`` — optical flow both ways with OpenCV's DIS (Kroeger et al., ECCV 2016; medium preset) on
  8-bit mu-law tonemapped luminance, then flow-scaled backward warping in linear light with the
  linear-motion approximation of Jiang et al., "Super SloMo" (CVPR 2018), without its visibility maps:
  ``F_t0 = -(1 - t) t F01 + t^2 F10``, ``F_t1 = (1 - t)^2 F01 - t (1 - t) F10``,
  ``I_t = (1 - t) I0(x + F_t0) + t I1(x + F_t1)``. CPU only, no weights. The published pipeline used
  the RIFE network instead; it can be registered here under another name.
* ``blend`` — plain cross-fade ``(1 - t) I0 + t I1`` (a baseline: it doubles edges instead of moving them).

Flows follow OpenCV's convention: ``F01(x)`` is where the content at ``x`` in frame 0 is found in frame 1,
``I0(x) ~ I1(x + F01(x))``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator, Sequence

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from simulator.color import mu_law
from simulator.core.checks import check_image
from simulator.core.errors import DataError
from simulator.core.registry import Registry

FLOW_TONEMAP_MU = 5000.0  # mu-law strength of the grey images the flow is computed on (the protocol's mu)
FLOW_TONEMAP_PERCENTILE = 0.995  # luminance quantile (of both frames) mapped to white before the mu-law
LUMINANCE = (0.2126, 0.7152, 0.0722)  # Rec. 709 / sRGB primaries


def _check_pair(frame0: torch.Tensor, frame1: torch.Tensor, times: Sequence[float]) -> list[float]:
    for name, frame in (("frame0", frame0), ("frame1", frame1)):
        check_image(frame, name, channels=3)
        if frame.ndim != 3:
            raise DataError(f"{name}: expected shape [3, H, W], got {tuple(frame.shape)}")
    if frame0.shape != frame1.shape:
        raise DataError(f"frame1: has shape {tuple(frame1.shape)}; expected frame0's {tuple(frame0.shape)}")
    values = [float(t) for t in times]
    bad = [t for t in values if not 0.0 <= t <= 1.0]  # also rejects NaN
    if bad:
        raise DataError(f"times: {bad} outside [0, 1]; expected fractions of the way from frame0 to frame1")
    return values


def interpolate_blend(frame0: torch.Tensor, frame1: torch.Tensor, times: Sequence[float]) -> torch.Tensor:
    """Cross-fade ``(1 - t) frame0 + t frame1`` (no motion compensation).

    Args:
        frame0, frame1: ``[3, H, W]`` float, linear HDR (>= 0, unbounded).
        times: values in [0, 1]; 0 gives ``frame0``, 1 gives ``frame1`` exactly.

    Returns:
        ``[len(times), 3, H, W]``, dtype of ``frame0``.
    """
    values = _check_pair(frame0, frame1, times)
    out = [frame0.clone() if t == 0 else frame1.clone() if t == 1 else (1 - t) * frame0 + t * frame1 for t in values]
    return torch.stack(out) if out else frame0.new_zeros((0, *frame0.shape))


def flow_grey(frame: torch.Tensor, white: float) -> np.ndarray:
    """8-bit grey image for optical flow: mu-law of luminance, with ``white`` mapped to 255.

    Args:
        frame: ``[3, H, W]`` float, linear RGB (sRGB primaries), >= 0.
        white: luminance shown as 255 (use the same value for both frames of a pair).

    Returns:
        ``(H, W)`` uint8 numpy array, C-contiguous.
    """
    weights = torch.tensor(LUMINANCE, dtype=frame.dtype, device=frame.device).view(3, 1, 1)
    luminance = (frame * weights).sum(0) / white
    grey = mu_law(luminance.clamp(0, 1), FLOW_TONEMAP_MU) * 255 + 0.5
    return np.ascontiguousarray(grey.to(torch.uint8).cpu().numpy())


def _white_level(frame0: torch.Tensor, frame1: torch.Tensor) -> float:
    """Robust maximum of the pair's luminance (a high quantile of a strided subsample), > 0."""
    weights = torch.tensor(LUMINANCE, dtype=torch.float32).view(3, 1, 1)
    step = max(1, int(math.sqrt(frame0.shape[-1] * frame0.shape[-2] / 65536)))  # about 64k samples per frame
    luminance = torch.cat([(f[:, ::step, ::step].float().cpu() * weights).sum(0).flatten() for f in (frame0, frame1)])
    white = float(torch.quantile(luminance, FLOW_TONEMAP_PERCENTILE))
    return white if white > 0 else 1.0


def dis_flows(frame0: torch.Tensor, frame1: torch.Tensor,
              preset: int = cv2.DISOPTICAL_FLOW_PRESET_MEDIUM) -> tuple[torch.Tensor, torch.Tensor]:
    """Optical flows ``F01`` and ``F10`` of a linear HDR pair by OpenCV DIS on tonemapped grey images.

    Args:
        frame0, frame1: ``[3, H, W]`` float, linear RGB, >= 0.
        preset: a ``cv2.DISOPTICAL_FLOW_PRESET_*`` value.

    Returns:
        ``(F01, F10)``, each ``[H, W, 2]`` float32 on the CPU, (dx, dy) in pixels; ``I0(x) ~ I1(x + F01(x))``.
    """
    white = _white_level(frame0, frame1)
    grey0, grey1 = flow_grey(frame0, white), flow_grey(frame1, white)
    dis = cv2.DISOpticalFlow_create(preset)
    f01 = dis.calc(grey0, grey1, None)
    f10 = dis.calc(grey1, grey0, None)
    return torch.from_numpy(f01), torch.from_numpy(f10)


class DisPair:
    """One pair of consecutive video frames, prepared for DIS interpolation: the two flows are computed once,
    then any number of intermediate frames are made one at a time (:meth:`frames`).

    The flows are stored in ``grid_sample``'s normalised coordinates, so a frame costs two scaled additions
    and two bilinear warps: ``I_t = (1 - t) I0(x + F_t0) + t I1(x + F_t1)`` (see the module doc).

    Args:
        frame0, frame1: ``[3, H, W]`` float, linear HDR (>= 0, unbounded), consecutive video frames, same shape.
    """

    def __init__(self, frame0: torch.Tensor, frame1: torch.Tensor) -> None:
        self.frame0, self.frame1 = frame0, frame1
        f01, f10 = (f.to(device=frame0.device, dtype=frame0.dtype) for f in dis_flows(frame0, frame1))
        height, width = frame0.shape[-2:]
        to_grid = torch.tensor([2.0 / width, 2.0 / height], dtype=frame0.dtype, device=frame0.device)
        self.f01, self.f10 = (f01 * to_grid)[None], (f10 * to_grid)[None]  # [1, H, W, 2], grid units
        ys = (2 * torch.arange(height, dtype=frame0.dtype, device=frame0.device) + 1) / height - 1
        xs = (2 * torch.arange(width, dtype=frame0.dtype, device=frame0.device) + 1) / width - 1
        self.base = torch.stack(torch.meshgrid(xs, ys, indexing="xy"), dim=-1)[None]  # [1, H, W, 2] pixel centres

    def _warp(self, frame: torch.Tensor, a01: float, a10: float) -> torch.Tensor:
        """``frame`` read at ``x + a01 F01 + a10 F10``: ``[3, H, W]``."""
        grid = torch.add(self.base, self.f01, alpha=a01).add_(self.f10, alpha=a10)
        return F.grid_sample(frame[None], grid, mode="bilinear", padding_mode="border", align_corners=False)[0]

    def frame(self, t: float) -> torch.Tensor:
        """The frame at ``t`` in [0, 1]: ``[3, H, W]``; 0 and 1 give copies of the inputs (no warp)."""
        if t == 0 or t == 1:
            return (self.frame0 if t == 0 else self.frame1).clone()
        warped0 = self._warp(self.frame0, -(1 - t) * t, t * t)
        warped1 = self._warp(self.frame1, (1 - t) ** 2, -t * (1 - t))
        return warped0.mul_(1 - t).add_(warped1, alpha=t)

    def frames(self, times: Sequence[float]) -> Iterator[torch.Tensor]:
        """The frames at ``times``, one at a time (a long exposure never holds all its sub-frames at once)."""
        return (self.frame(t) for t in times)


def interpolate_dis(frame0: torch.Tensor, frame1: torch.Tensor, times: Sequence[float]) -> torch.Tensor:
    """Intermediate frames by DIS optical flow and Super SloMo's flow approximation (see the module doc).

    Args:
        frame0, frame1: ``[3, H, W]`` float, linear HDR (>= 0, unbounded), consecutive video frames.
        times: values in [0, 1]; 0 gives ``frame0`` and 1 gives ``frame1`` exactly (no warp).

    Returns:
        ``[len(times), 3, H, W]``, dtype and device of ``frame0``; warping and blending are done in
        linear light, so the output stays >= 0 and within the inputs' range.
    """
    values = _check_pair(frame0, frame1, times)
    if not any(0 < t < 1 for t in values):
        return interpolate_blend(frame0, frame1, values)
    return torch.stack(list(DisPair(frame0, frame1).frames(values)))


INTERPOLATORS = Registry(
    "frame interpolator",
    {"dis": "simulator.interpolate:interpolate_dis", "blend": "simulator.interpolate:interpolate_blend"},
)


def interpolate_frames(frame0: torch.Tensor, frame1: torch.Tensor, times: Sequence[float],
                       method: str = "dis") -> torch.Tensor:
    """Frames between two video frames at fractional ``times``, by a registered interpolator.

    Args:
        frame0, frame1: ``[3, H, W]`` float32, linear HDR RGB (>= 0, unbounded), same shape.
        times: values in [0, 1] (0 = ``frame0``, 1 = ``frame1``, both reproduced exactly).
        method: a name in ``INTERPOLATORS`` (``"dis"`` or ``"blend"``).

    Returns:
        ``[len(times), 3, H, W]``, dtype of ``frame0``.
    """
    return INTERPOLATORS[method](frame0, frame1, times)


def pair_interpolator(frame0: torch.Tensor, frame1: torch.Tensor,
                      method: str = "dis") -> Callable[[Sequence[float]], Iterable[torch.Tensor]]:
    """``times -> frames`` for one pair, reusable: what a caller that needs several sets of times from the same
    pair uses (the video motion model, whose exposure windows share the pair at their boundary).

    ``dis`` computes its two flows once (:class:`DisPair`) and yields the frames one at a time; any other
    registered interpolator is called on each set of times.

    Args:
        frame0, frame1: ``[3, H, W]`` float32, linear HDR RGB (>= 0, unbounded), same shape.
        method: a name in ``INTERPOLATORS``.

    Returns:
        A function of ``times`` (values in [0, 1]) returning ``len(times)`` frames ``[3, H, W]``.
    """
    function = INTERPOLATORS[method]
    if function is not interpolate_dis:
        return lambda times: function(frame0, frame1, times)
    pair: DisPair | None = None

    def frames(times: Sequence[float]) -> Iterable[torch.Tensor]:
        nonlocal pair
        values = _check_pair(frame0, frame1, times)
        if not any(0 < t < 1 for t in values):
            return interpolate_blend(frame0, frame1, values)  # the inputs themselves: no flow needed
        pair = pair or DisPair(frame0, frame1)
        return pair.frames(values)

    return frames
