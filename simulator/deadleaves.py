"""Dead-leaves HDR scenes: the default ``builtin`` source, made to share the statistics of night photographs.

A dead-leaves image is a stack of randomly placed opaque shapes, each hiding what lies under it. With shape
radii drawn from a density proportional to ``r^-3`` between two bounds, the picture is (between the bounds)
scale invariant, as natural images are, and its gradients are heavy tailed. Restoration networks trained only on
such images come close to networks trained on photographs when colours and textures follow natural-image
statistics too:

* P. Achddou, Y. Gousseau, S. Ladjal, "Synthetic images as a regularity prior for image restoration neural
  networks", SSVM 2021; and "Fully synthetic training for image restoration tasks", CVIU 2023.
* M. Baradad, J. Wulff, T. Wang, P. Isola, A. Torralba, "Learning to see by looking at noise", NeurIPS 2021.

Our generator (written for this toolkit from those descriptions) adds what HDR bracketing needs:

* shapes: ellipses and rotated rectangles, radii ``~ r^-3`` on ``[r_min, r_max]`` (proportional to the image
  size), painted back to front, so small shapes occlude large ones as often as the model predicts;
* reflectances: log-normal luminance and opponent chroma (mostly muted, a few saturated), a power-law
  (``1/f^beta``) texture and a linear shading across each shape;
* depth-ordered layers (:class:`LayeredScene`): a full-coverage far layer, a sparse middle layer and a few
  large near occluders, each with its own defocus (soft edges where out of focus, hard where sharp) and its
  own velocity, so that as a video (:meth:`LayeredScene.frames`) near layers move past far ones;
* illumination of a night scene: a dim, smooth (power-law) ambient field with hard and soft deep shadows
  (x 0.003 - 0.05), lit windows, lamps with glow and specular highlights whose brightness is Pareto
  distributed (heavy tailed: most are a few tens of times the median, some thousands).

Every draw comes from the caller's ``torch.Generator`` in a fixed order: the same seed gives the same scene.
Shapes are painted with numpy on small bounding boxes (thousands of tiny slices, where numpy's per-call cost is
several times lower than torch's); every whole-image step is torch.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np
import torch

from simulator.core.errors import DataError

R_MIN_FRACTION = 0.006  # smallest shape radius, fraction of the longer side (>= 1.5 px)
R_MAX_FRACTION = 0.35  # largest shape radius, fraction of the longer side
FAR_COVERAGE = 3.0  # expected painted area of the far layer, in canvas areas (uncovered: the base shape)
MID_COVERAGE = 0.35  # expected painted area of the middle layer (the rest is transparent)
VELOCITY = ((0.0, 0.4), (0.2, 1.2), (0.5, 2.5))  # px per video frame, far / middle / near layer, drawn uniformly
PARETO_ALPHA = 1.1  # tail index of light and highlight brightness (smaller: heavier tail)
AMBIENT = (0.03, 0.18)  # median ambient illumination of the scene, drawn log-uniformly
MAX_LIGHT = 3000.0  # brightest light, in units of the scene's median


@dataclass(frozen=True)
class SceneLayer:
    """One depth layer on a canvas ``margin`` pixels larger than the image on every side.

    Attributes:
        color: ``[3, Hc, Wc]`` float32 linear sRGB radiance, premultiplied by ``alpha``, >= 0.
        alpha: ``[1, Hc, Wc]`` float32 coverage in [0, 1] (1 everywhere for the far layer).
        velocity: ``(vx, vy)`` content motion in pixels per video frame (x right, y down).
    """

    color: torch.Tensor
    alpha: torch.Tensor
    velocity: tuple[float, float]


@dataclass(frozen=True)
class LayeredScene:
    """Depth layers, far to near, composited with the *over* operator.

    Attributes:
        layers: far to near.
        height, width: the image size; each layer's canvas is ``(height + 2 margin, width + 2 margin)``.
        margin: how far (pixels) a layer may move before its canvas runs out.
    """

    layers: tuple[SceneLayer, ...]
    height: int
    width: int
    margin: int

    def render(self, shifts: Sequence[tuple[float, float]]) -> torch.Tensor:
        """Composite with layer ``i`` moved by ``shifts[i] = (dx, dy)`` pixels (content motion).

        Returns:
            ``[3, height, width]`` float32 linear sRGB, >= 0.

        Raises:
            DataError: a shift larger than the margin allows.
        """
        if len(shifts) != len(self.layers):
            raise DataError(f"{len(shifts)} shifts for {len(self.layers)} layers")
        out = torch.zeros(3, self.height, self.width)
        for layer, (dx, dy) in zip(self.layers, shifts):
            stacked = torch.cat([layer.color, layer.alpha])
            moved = _shift_crop(stacked, dx, dy, self.margin, self.height, self.width)
            out = out * (1 - moved[3:]) + moved[:3]
        return out.clamp_min(0)

    def frame(self, time: float = 0.0) -> torch.Tensor:
        """The scene at video frame ``time`` (layers moved by ``time x velocity``): ``[3, H, W]``."""
        return self.render([(time * layer.velocity[0], time * layer.velocity[1]) for layer in self.layers])

    def frames(self, count: int) -> torch.Tensor:
        """``count`` consecutive video frames, ``[count, 3, H, W]`` float32; frame 0 is :meth:`frame` (0)."""
        return torch.stack([self.frame(float(k)) for k in range(count)])


def _shift_crop(image: torch.Tensor, dx: float, dy: float, margin: int, height: int, width: int) -> torch.Tensor:
    """Bilinear crop of ``[C, Hc, Wc]`` showing the content moved by ``(dx, dy)``: ``[C, height, width]``."""
    if max(abs(dx), abs(dy)) > max(0, margin - 1) + 1e-9:
        raise DataError(f"layer shift ({dx:.2f}, {dy:.2f}) px exceeds the scene's margin of {margin} px")
    x, y = margin - dx, margin - dy
    x0, y0 = math.floor(x), math.floor(y)
    fx, fy = x - x0, y - y0
    rows = image[:, y0 : y0 + height + 1] if fy > 0 else image[:, y0 : y0 + height]
    rows = rows[:, :height] * (1 - fy) + rows[:, 1 : height + 1] * fy if fy > 0 else rows
    cols = rows[:, :, x0 : x0 + width + 1] if fx > 0 else rows[:, :, x0 : x0 + width]
    return cols[:, :, :width] * (1 - fx) + cols[:, :, 1 : width + 1] * fx if fx > 0 else cols


def power_law_field(height: int, width: int, beta: float, generator: torch.Generator) -> torch.Tensor:
    """Gaussian random field with amplitude spectrum ``1 / f^beta``, zero mean, unit standard deviation.

    ``beta = 1`` is the spectrum of natural images; larger is smoother. Returns ``[height, width]`` float32.
    """
    noise = torch.randn(height, width, generator=generator)
    fy = torch.fft.fftfreq(height).abs()[:, None]
    fx = torch.fft.rfftfreq(width)[None, :]
    radius = torch.sqrt(fx**2 + fy**2).clamp_min(1.0 / max(height, width))
    field = torch.fft.irfft2(torch.fft.rfft2(noise) * radius**-beta, s=(height, width))
    field = field - field.mean()
    return (field / field.std().clamp_min(1e-12)).float()


def _gaussian_blur(image: torch.Tensor, sigma: float) -> torch.Tensor:
    """Gaussian blur of ``[C, H, W]`` float32 (reflected borders, OpenCV's SIMD filter); ``sigma < 0.3``: unchanged."""
    if sigma < 0.3:
        return image
    array = image.permute(1, 2, 0).contiguous().numpy()
    blurred = cv2.GaussianBlur(array, (0, 0), sigma, borderType=cv2.BORDER_REFLECT)
    return torch.from_numpy(blurred.reshape(array.shape)).permute(2, 0, 1).contiguous()


def sample_radii(count: int, r_min: float, r_max: float, generator: torch.Generator) -> torch.Tensor:
    """``count`` radii with density proportional to ``r^-3`` on ``[r_min, r_max]`` (inverse CDF), float64."""
    u = torch.rand(count, generator=generator, dtype=torch.float64)
    return (r_min**-2 - u * (r_min**-2 - r_max**-2)) ** -0.5


def _inside(dx: np.ndarray, dy: np.ndarray, r: np.ndarray, aspect: np.ndarray, angle: np.ndarray,
            rect: np.ndarray) -> np.ndarray:
    """Whether offsets ``(dx, dy)`` from a shape's centre fall inside it (all arrays broadcast together)."""
    c, s = np.cos(angle), np.sin(angle)
    u = (dx * c + dy * s) / r
    v = (dy * c - dx * s) / (r * aspect)
    return np.where(rect > 0, np.maximum(np.abs(u), np.abs(v)) < 1, u * u + v * v < 1)


STENCILS = (5, 12, 24)  # shapes reaching at most this far (px) are painted together, class by class, on a stencil


def _paint(labels: np.ndarray, params: np.ndarray, first: int) -> None:
    """Paint shapes into ``labels`` (int32 ``[Hc, Wc]``, -1 = empty); shape ``k`` writes ``first + k`` and
    covers every shape painted before it (a pixel keeps the largest index covering it, so painting order does
    not matter and small shapes can be painted in one vectorised pass).

    ``params``: ``[N, 6]`` float64 rows ``(cx, cy, r, aspect, angle, is_rectangle)``.
    """
    height, width = labels.shape
    reach = params[:, 2] * np.where(params[:, 5] > 0, 1.42, 1.0)
    low = 0.0
    for size in STENCILS:
        batch = np.flatnonzero((reach > low) & (reach <= size))
        low = size
        if not len(batch):
            continue
        cx, cy, r, aspect, angle, rect = (params[batch, i][:, None, None] for i in range(6))
        offsets = np.arange(-size, size + 1)
        px = np.floor(cx).astype(np.int64) + offsets[None, None, :]
        py = np.floor(cy).astype(np.int64) + offsets[None, :, None]
        hit = _inside(px + 0.5 - cx, py + 0.5 - cy, r, aspect, angle, rect)
        hit &= (px >= 0) & (px < width) & (py >= 0) & (py < height)
        which = np.broadcast_to((first + batch)[:, None, None], hit.shape)[hit]
        flat = np.broadcast_to(py * width + px, hit.shape)[hit]
        np.maximum.at(labels.reshape(-1), flat, which.astype(np.int32))
    for k in np.flatnonzero(reach > STENCILS[-1]):
        cx, cy, r, aspect, angle, rect = params[k]
        x0, x1 = max(0, int(cx - reach[k])), min(width, int(cx + reach[k]) + 2)
        y0, y1 = max(0, int(cy - reach[k])), min(height, int(cy + reach[k]) + 2)
        if x0 >= x1 or y0 >= y1:
            continue
        inside = _inside(np.arange(x0, x1) + 0.5 - cx, (np.arange(y0, y1) + 0.5 - cy)[:, None], r, aspect, angle, rect)
        window = labels[y0:y1, x0:x1]
        window[inside] = np.maximum(window[inside], first + k)


def _shape_params(count: int, height: int, width: int, r_range: tuple[float, float],
                  generator: torch.Generator) -> np.ndarray:
    """``[count, 6]`` shape parameters (see :func:`_paint`), centres uniform over the canvas."""
    r = sample_radii(count, *r_range, generator)
    u = torch.rand(count, 5, generator=generator, dtype=torch.float64)
    return torch.stack([u[:, 0] * width, u[:, 1] * height, r, 0.35 + 0.65 * u[:, 2], u[:, 3] * math.pi,
                        (u[:, 4] < 0.4).double()], dim=1).numpy()


def _reflectances(count: int, generator: torch.Generator) -> torch.Tensor:
    """``[count, 3]`` linear RGB reflectances: log-normal luminance, opponent chroma, mostly muted."""
    z = torch.randn(count, 3, generator=generator)
    saturated = torch.rand(count, generator=generator) < 0.12
    luminance = torch.exp(math.log(0.18) + 0.8 * z[:, 0]).clamp(0.01, 0.9)
    chroma = torch.where(saturated[:, None], 0.9, 0.22) * z[:, 1:]
    rgb = luminance[:, None] * torch.exp(torch.stack([chroma[:, 0], -0.5 * chroma[:, 0] - 0.3 * chroma[:, 1],
                                                      chroma[:, 1] + 0.05], dim=1))
    return rgb.clamp(0.003, 1.0)


def _pareto(count: int, generator: torch.Generator) -> torch.Tensor:
    """``count`` draws >= 1 with tail ``P(X > x) = x^-PARETO_ALPHA``."""
    u = torch.rand(count, generator=generator).clamp_min(1e-6)
    return u ** (-1.0 / PARETO_ALPHA)


def _textured_layer(labels: torch.Tensor, count: int, generator: torch.Generator,
                    fields: torch.Tensor, params: torch.Tensor) -> torch.Tensor:
    """Reflectance image ``[3, Hc, Wc]`` of a label map (``-1`` = empty, left 0): per-shape colour, power-law
    texture of per-shape strength and a linear shading across the shape."""
    colour = _reflectances(count, generator)
    draws = torch.rand(count, 4, generator=generator)
    if count == 0:
        return torch.zeros(3, *labels.shape)
    strength = 0.6 * draws[:, 0] ** 2  # texture contrast in log units; many shapes nearly flat
    which = (draws[:, 1] * fields.shape[0]).long().clamp_max(fields.shape[0] - 1)
    slope = (draws[:, 2:] - 0.5) * 1.2  # log-shading gradient across one radius
    height, width = labels.shape
    valid = labels >= 0
    idx = labels.clamp_min(0).long()
    yy, xx = torch.meshgrid(torch.arange(height, dtype=torch.float32), torch.arange(width, dtype=torch.float32),
                            indexing="ij")
    cx, cy, radius = params[:, 0].float(), params[:, 1].float(), params[:, 2].float().clamp_min(1.0)
    shade = (slope[idx, 0] * (xx - cx[idx]) + slope[idx, 1] * (yy - cy[idx])) / radius[idx]
    texture = torch.gather(fields.reshape(fields.shape[0], -1), 0, which[idx].reshape(1, -1)).reshape(height, width)
    log_gain = (strength[idx] * texture + shade.clamp(-1.5, 1.5))
    out = colour[idx].permute(2, 0, 1) * torch.exp(log_gain)[None]
    return torch.where(valid[None], out, 0.0)


def _spots(image: torch.Tensor, labels: np.ndarray, params: np.ndarray, chosen: np.ndarray, gains: torch.Tensor,
           base: float, first: int, generator: torch.Generator) -> None:
    """Add specular highlights in place: a Gaussian spot inside each chosen shape, only where it is visible."""
    offsets = torch.rand(len(chosen), 3, generator=generator).numpy()
    height, width = labels.shape
    for (k, gain), (ox, oy, size) in zip(zip(chosen, gains.tolist()), offsets):
        cx, cy, r = params[k, 0], params[k, 1], params[k, 2]
        sx, sy, sigma = cx + (ox - 0.5) * r, cy + (oy - 0.5) * r, max(0.7, (0.05 + 0.2 * size) * r)
        reach = 3 * sigma
        x0, x1 = max(0, int(sx - reach)), min(width, int(sx + reach) + 2)
        y0, y1 = max(0, int(sy - reach)), min(height, int(sy + reach) + 2)
        if x0 >= x1 or y0 >= y1:
            continue
        gx = np.exp(-0.5 * ((np.arange(x0, x1) + 0.5 - sx) / sigma) ** 2)
        gy = np.exp(-0.5 * ((np.arange(y0, y1) + 0.5 - sy) / sigma) ** 2)
        spot = torch.from_numpy((gy[:, None] * gx * (labels[y0:y1, x0:x1] == first + k)).astype(np.float32))
        image[:, y0:y1, x0:x1] += base * gain * spot


def _lights(height: int, width: int, count: int, base: float, generator: torch.Generator) -> torch.Tensor:
    """Lamps: small bright discs with a glow, Pareto brightness, ``[3, height, width]``."""
    out = torch.zeros(3, height, width)
    if count == 0:
        return out
    draws = torch.rand(count, 6, generator=generator)
    gains = _pareto(count, generator).clamp_max(MAX_LIGHT / 30)
    scale = max(height, width)
    yy = torch.arange(height, dtype=torch.float32)[:, None]
    xx = torch.arange(width, dtype=torch.float32)[None, :]
    for (px, py, size, warm, glow, _), gain in zip(draws.tolist(), gains.tolist()):
        radius = max(1.0, (0.002 + 0.01 * size) * scale)
        dist2 = ((xx - px * width) ** 2 + (yy - py * height) ** 2) / radius**2
        profile = (dist2 < 1).float() + (0.02 + 0.1 * glow) * torch.where(dist2 < 900, torch.exp(-dist2.clamp(max=900).sqrt() / 2.5), 0.0)
        colour = torch.tensor([1.0, 0.8 - 0.25 * warm + 0.2, 0.5 - 0.3 * warm + 0.3]).clamp(0.2, 1.0)
        out += 30 * base * gain * colour[:, None, None] * profile[None]
    return out


def dead_leaves_layers(height: int, width: int, generator: torch.Generator, margin: int = 0) -> LayeredScene:
    """A layered dead-leaves night scene (see the module docstring).

    Args:
        height, width: image size in pixels (at least 16 each).
        generator: every draw comes from it, in a fixed order.
        margin: extra canvas on every side, so layers can move that far (:meth:`LayeredScene.frames`).

    Returns:
        The scene; :meth:`LayeredScene.frame` gives ``[3, height, width]`` float32 linear sRGB, >= 0, whose
        median is about the drawn ambient level (0.03 - 0.18) and whose maximum is up to ~ 10^4 x the median.
    """
    if height < 16 or width < 16:
        raise DataError(f"dead-leaves scene size {width}x{height}; expected at least 16x16")
    hc, wc = height + 2 * margin, width + 2 * margin
    longer = max(height, width)
    r_min, r_max = max(1.5, R_MIN_FRACTION * longer), R_MAX_FRACTION * longer
    mean_area = math.pi * 2 * math.log(r_max / r_min) / (r_min**-2 - r_max**-2)  # E[pi r^2] under r^-3
    ambient = math.exp(math.log(AMBIENT[0]) + (math.log(AMBIENT[1]) - math.log(AMBIENT[0])) * float(torch.rand(1, generator=generator)))
    fields = torch.stack([power_law_field(hc, wc, beta, generator) for beta in (0.8, 1.2, 1.6)])
    light = torch.exp(0.6 * power_law_field(hc, wc, 2.0, generator))  # smooth illumination, log-normal
    layers = []
    plans = [(FAR_COVERAGE, (r_min, r_max)), (MID_COVERAGE, (2 * r_min, r_max / 2)), (None, (0.15 * longer, 0.45 * longer))]
    for depth, (coverage, r_range) in enumerate(plans):
        if coverage is None:  # near occluders: 1 - 2 large shapes (centres may fall outside the view)
            count = int(torch.randint(1, 3, (1,), generator=generator))
        else:
            count = max(1, round(coverage * hc * wc / mean_area))
        params = _shape_params(count, hc, wc, r_range, generator)
        labels = np.full((hc, wc), -1, dtype=np.int32)
        if depth == 0:  # a base shape under everything: a wall or sky covering the whole canvas
            params = np.concatenate([[[wc / 2, hc / 2, 2.0 * max(hc, wc), 1.0, 0.0, 1.0]], params])
        _paint(labels, params, 0)
        count = len(params)
        reflect = _textured_layer(torch.from_numpy(labels), count, generator, fields, torch.from_numpy(params))
        visible = torch.from_numpy(labels >= 0)[None].float()
        # shadows: large hard or soft shapes cutting the illumination to 0.3 - 5 %
        shadow = np.full((hc, wc), -1, dtype=np.int32)
        n_shadow = int(torch.randint(2, 5, (1,), generator=generator))
        _paint(shadow, _shape_params(n_shadow, hc, wc, (0.1 * longer, 0.4 * longer), generator), 0)
        depth_of_shadow = torch.exp(math.log(0.003) + (math.log(0.05) - math.log(0.003)) * torch.rand(n_shadow, generator=generator))
        shadow_gain = torch.where(torch.from_numpy(shadow) >= 0, depth_of_shadow[torch.from_numpy(shadow).clamp_min(0).long()], 1.0)
        shadow_gain = _gaussian_blur(shadow_gain[None], float(torch.rand(1, generator=generator)) * 0.02 * longer)
        color = reflect * ambient * light[None] * shadow_gain
        # lit windows: a few shapes glow on their own, 5 - 50 x the ambient level
        emissive = torch.rand(count, generator=generator) < (0.03 if depth < 2 else 0.0)
        if depth == 0:
            emissive[0] = False  # never the far layer's base shape
        glow = torch.exp(math.log(5) + math.log(10) * torch.rand(count, generator=generator))
        idx = torch.from_numpy(labels).clamp_min(0).long()
        window = (emissive[idx] & (torch.from_numpy(labels) >= 0))[None]
        color = torch.where(window, reflect.clamp_min(0.3 * reflect.mean(0, keepdim=True)) * ambient * glow[idx][None] * 4, color)
        # specular highlights on ~5 % of the shapes, Pareto brightness
        chosen = np.flatnonzero((torch.rand(count, generator=generator) < 0.05).numpy())
        _spots(color, labels, params, chosen, _pareto(len(chosen), generator).clamp_max(MAX_LIGHT / 20) * 8,
               ambient, 0, generator)
        if depth < 2:
            n_lights = int(torch.randint(0, 4 if depth == 0 else 3, (1,), generator=generator))
            lamps = _lights(hc, wc, n_lights, ambient, generator)
            color = color + lamps
            visible = torch.maximum(visible, (lamps.amax(0, keepdim=True) > 0.1 * ambient).float())
        sigma = float(torch.rand(1, generator=generator)) * (1.5, 1.0, 3.0)[depth] + 0.4  # defocus: soft or sharp
        color = _gaussian_blur(color * visible, sigma)
        alpha = torch.ones(1, hc, wc) if depth == 0 else _gaussian_blur(visible, sigma)
        low, high = VELOCITY[depth]
        speed = low + (high - low) * float(torch.rand(1, generator=generator))
        heading = 2 * math.pi * float(torch.rand(1, generator=generator))
        layers.append(SceneLayer(color.float().contiguous(), alpha.clamp(0, 1).float().contiguous(),
                                 (speed * math.cos(heading), speed * math.sin(heading))))
    return LayeredScene(tuple(layers), height, width, margin)


def dead_leaves_scene(height: int, width: int, generator: torch.Generator) -> torch.Tensor:
    """A still dead-leaves night scene, ``[3, height, width]`` float32 linear sRGB, >= 0."""
    image = dead_leaves_layers(height, width, generator).frame(0.0)
    return image.masked_fill(image < 1e-30, 0.0).contiguous()


def dead_leaves_video(height: int, width: int, count: int, generator: torch.Generator) -> torch.Tensor:
    """``count`` frames of a dead-leaves scene whose layers move at their own velocities, ``[count, 3, H, W]``."""
    reach = max(v for _, v in VELOCITY) * max(0, count - 1)
    scene = dead_leaves_layers(height, width, generator, margin=math.ceil(reach) + 2)
    frames = scene.frames(count)
    return frames.masked_fill(frames < 1e-30, 0.0).contiguous()
