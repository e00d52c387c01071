"""Frame pairs with their exact optical flow, for pretraining the flow network (SPyNet) of the bracket models.

The simulator knows the motion it applies, so it can teach a flow network itself. A pair is two frames of one
bracket as TMRNet's SPyNet sees them: the shortest exposure (the reference, frame 0) and a longer one (frame
``t`` in 1..4), both exposure-normalised packed RAW, noisy and 10-bit quantised, the longer one clipped at its
white level. Between the two, the content moves as it does in a handheld night bracket:

* a camera motion: a similarity transform (translation log-uniform up to ``max_shift`` px in any direction,
  rotation and zoom of a few tenths of a percent) applied to the whole supporting frame;
* independently moving layers: each depth layer of a :func:`~simulator.deadleaves.dead_leaves_layers` scene
  shifts by its own amount (near layers most), so near occluders slide over far ones.

The flow is exact by construction: ``ref(p) = supp(p + flow(p))`` wherever the point seen at ``p`` in the
reference is visible in the supporting frame (bilinear sampling, pixel centres at integers: the convention of
``models.layers.flow.flow_warp``). Where the visible layer changes (the point is occluded in the supporting
frame, or leaves it) and on the soft edges of defocused layers (where two layers mix and no single motion
explains the colour), ``valid`` is 0; the flow there is still the motion of the dominant surface.

What it leaves out: the longer frames' motion blur (trajectory blur) and the colour mixing of a camera
matrix (the packed planes are the scene's R, G, G, B times white-balance-like gains).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from simulator.deadleaves import dead_leaves_layers
from simulator.noise import add_heteroscedastic_noise, dequantize, quantize, sample_iso1600near

FRAMES = 5
RATIO = 4.0
UNIT_FRAME = 2


@dataclass(frozen=True)
class FlowPair:
    """One training pair, all float32 at packed resolution ``(h, w)``.

    Attributes:
        ref: ``[4, h, w]`` frame 0 (shortest), normalised to the unit frame (x16), >= 0.
        supp: ``[4, h, w]`` frame ``t``, normalised to the unit frame.
        flow: ``[2, h, w]`` (dx, dy) in pixels: ``ref(p) = supp(p + flow(p))``.
        valid: ``[1, h, w]`` 1 where the reference point is visible in ``supp`` (not occluded, not on a soft
            edge, inside the frame), else 0.
        frame: the index ``t`` of ``supp`` in the bracket.
    """

    ref: torch.Tensor
    supp: torch.Tensor
    flow: torch.Tensor
    valid: torch.Tensor
    frame: int


def _grid(height: int, width: int) -> tuple[torch.Tensor, torch.Tensor]:
    ys, xs = torch.meshgrid(torch.arange(height, dtype=torch.float32), torch.arange(width, dtype=torch.float32),
                            indexing="ij")
    return xs, ys


def _sample(image: torch.Tensor, xs: torch.Tensor, ys: torch.Tensor, mode: str = "bilinear") -> torch.Tensor:
    """``image [C, Hc, Wc]`` at pixel positions ``(xs, ys) [h, w]`` (centres at integers, zeros outside)."""
    height, width = image.shape[-2:]
    grid = torch.stack([2 * xs / (width - 1) - 1, 2 * ys / (height - 1) - 1], dim=-1)[None]
    return F.grid_sample(image[None], grid, mode=mode, padding_mode="zeros", align_corners=True)[0]


def _uniform(generator: torch.Generator, low: float, high: float) -> float:
    return low + (high - low) * float(torch.rand(1, generator=generator))


def _camera(generator: torch.Generator, max_shift: float) -> tuple[float, float, float, float]:
    """(tx, ty, angle in radians, zoom): translation log-uniform in [0.05, max_shift] px, any direction."""
    magnitude = math.exp(_uniform(generator, math.log(0.05), math.log(max(max_shift, 0.06))))
    heading = _uniform(generator, 0, 2 * math.pi)
    angle = math.radians(_uniform(generator, -1.0, 1.0))
    zoom = 1 + _uniform(generator, -0.01, 0.01)
    return magnitude * math.cos(heading), magnitude * math.sin(heading), angle, zoom


def _visibility(layers_alpha: list[torch.Tensor]) -> torch.Tensor:
    """Per-layer weights of the *over* composite, far to near: ``[L, h, w]``, summing to 1."""
    weights, above = [], torch.ones_like(layers_alpha[0])
    for alpha in reversed(layers_alpha):
        weights.append(alpha * above)
        above = above * (1 - alpha)
    return torch.stack(weights[::-1])


def _bracket_frame(linear: torch.Tensor, frame: int, generator: torch.Generator, noise: bool) -> torch.Tensor:
    """Unit-frame linear RAW ``[4, h, w]`` -> frame ``frame`` of the bracket, noisy, 10-bit, renormalised."""
    exposure = RATIO ** (frame - UNIT_FRAME)
    clean = (linear * exposure).clamp(0, 1)
    if not noise:
        return clean / exposure
    noisy = add_heteroscedastic_noise(clean, sample_iso1600near(generator), generator)
    return dequantize(quantize(noisy)) / exposure


def flow_pair(index: int, seed: int, height: int, width: int, max_shift: float = 12.0,
              max_layer_shift: float = 6.0, noise: bool = True) -> FlowPair:
    """Pair ``index`` of the stream ``seed`` (a pure function of both), at packed size ``height x width``.

    Args:
        index, seed: which pair; the same two numbers always give the same pair.
        height, width: packed size (at least 16).
        max_shift: largest camera translation, packed pixels.
        max_layer_shift: largest extra shift of the nearest layer, packed pixels (far layers move less).
        noise: False leaves out noise and quantisation (the same draws otherwise): the exactness tests use it.
    """
    generator = torch.Generator().manual_seed(seed * 1_000_003 + index)
    margin = math.ceil(max_shift * 1.2 + max_layer_shift + 0.03 * max(height, width)) + 4
    canvas_h, canvas_w = height + 2 * margin, width + 2 * margin
    scene = dead_leaves_layers(canvas_h, canvas_w, generator, margin=math.ceil(max_layer_shift) + 2)
    shifts = []
    for depth in range(len(scene.layers)):
        reach = max_layer_shift * (0.15, 0.5, 1.0)[min(depth, 2)] * float(torch.rand(1, generator=generator) > 0.2)
        shifts.append((_uniform(generator, -reach, reach), _uniform(generator, -reach, reach)))
    zero = [(0.0, 0.0)] * len(scene.layers)
    ref_canvas = scene.render(zero)
    supp_canvas = scene.render(shifts)

    # the supporting frame views the canvas through the camera motion A(y) = R (y - c) + c + margin + t
    tx, ty, angle, zoom = _camera(generator, max_shift)
    xs, ys = _grid(height, width)
    cx, cy = (width - 1) / 2, (height - 1) / 2
    cos, sin = math.cos(angle) * zoom, math.sin(angle) * zoom
    ax = cos * (xs - cx) - sin * (ys - cy) + cx + margin + tx
    ay = sin * (xs - cx) + cos * (ys - cy) + cy + margin + ty
    supp_rgb = _sample(supp_canvas, ax, ay)
    ref_rgb = ref_canvas[:, margin:margin + height, margin:margin + width]

    # flow: the reference point p shows layer i at canvas p + margin; in the supporting canvas that content sits
    # at p + margin + d_i, seen in the supporting frame at y = A^-1(p + margin + d_i)
    alphas = [layer.alpha for layer in scene.layers]
    ref_weights = _visibility([_crop_alpha(a, scene.margin, (0.0, 0.0), canvas_h, canvas_w)
                               for a in alphas])[:, 0, margin:margin + height, margin:margin + width]
    det = cos * cos + sin * sin
    flow_x = torch.zeros(height, width)
    flow_y = torch.zeros(height, width)
    for weight, (dx, dy) in zip(ref_weights, shifts):
        qx, qy = xs + dx - cx - tx, ys + dy - cy - ty
        yx = (cos * qx + sin * qy) / det + cx
        yy = (-sin * qx + cos * qy) / det + cy
        flow_x += weight * (yx - xs)
        flow_y += weight * (yy - ys)
    flow = torch.stack([flow_x, flow_y])

    # valid: the layer visible at p in the reference is the layer visible at p + flow in the supporting frame
    supp_weights = _visibility([_crop_alpha(a, scene.margin, d, canvas_h, canvas_w) for a, d in zip(alphas, shifts)])[:, 0]
    seen = _sample(supp_weights, ax, ay)  # [L, h, w] in supporting-frame coordinates
    back = _sample(seen, xs + flow_x, ys + flow_y)
    inside = ((xs + flow_x >= 0) & (xs + flow_x <= width - 1) & (ys + flow_y >= 0) & (ys + flow_y <= height - 1))
    solid = (ref_weights.amax(0) > 0.9) & (back.amax(0) > 0.9)  # not a soft (defocused) edge between layers
    valid = (ref_weights.argmax(0) == back.argmax(0)) & solid & inside

    gains = torch.tensor([_uniform(generator, 0.45, 0.9), 1.0, 1.0, _uniform(generator, 0.45, 0.9)])
    level = math.exp(_uniform(generator, math.log(0.3), math.log(3.0)))
    to_packed = lambda rgb: torch.stack([rgb[0], rgb[1], rgb[1], rgb[2]]) * gains.view(4, 1, 1) * level  # noqa: E731
    frame = int(torch.randint(1, FRAMES, (1,), generator=generator))
    ref = _bracket_frame(to_packed(ref_rgb), 0, generator, noise)
    supp = _bracket_frame(to_packed(supp_rgb), frame, generator, noise)
    return FlowPair(ref.float(), supp.float(), flow.float(), valid[None].float(), frame)


def _crop_alpha(alpha: torch.Tensor, margin: int, shift: tuple[float, float], height: int, width: int) -> torch.Tensor:
    """A layer's alpha ``[1, Hc, Wc]`` moved by ``shift`` and cropped to the scene's image: ``[1, height, width]``."""
    xs, ys = _grid(height, width)
    return _sample(alpha, xs + margin - shift[0], ys + margin - shift[1])
