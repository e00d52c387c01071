"""One bracket from one HDR scene: motion, exposure, camera, downsampling, noise, quantisation.

::

    scene (linear sRGB)  -> camera path over the bracket (or video frames)
      -> per exposure: gain, clipping, inverse ISP to camera RGB, integrated over its time window
      -> mosaic -> optional downsampling (BracketIRE+) -> noise -> quantisation -> BracketSample

Clipping (``exposure.clipping``): ``srgb_subframe`` clips every sub-frame at white in linear sRGB before
the inverse ISP, as the published generator does; ``raw`` integrates unclipped light through an exact
inverse white balance and clips the integrated RAW at white, as a sensor does.

The ground truth is the sharp scene at time 0 in camera space, unclipped, made as the published
generator makes it: inverse ISP of the scene normalised by its maximum, times that maximum
(``alignratio``). Translation commutes with every per-pixel step, so blurring by the path's kernel
after those steps is exactly the average of clipped, shifted sub-frames.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F

from simulator.bayer import mosaic
from simulator.camera import CameraMeta, sample_camera
from simulator.core.errors import DataError
from simulator.exposure import exposure_multiples, exposure_windows, relative_exposures
from simulator.isp import linear_rgb_to_camera
from simulator.motion_models import MOTION_MODELS
from simulator.noise import NOISE_LEVELS, NOISE_MODELS, OWN_NOISE_LEVELS, NoiseLevels, quantize
from simulator.settings import SimulationConfig


@dataclass(frozen=True)
class BracketSample:
    """One simulated sample, channels first.

    Attributes:
        raws: scale -> ``[T, 4, h/scale, w/scale]`` int32 digital numbers in [0, 2^bits - 1], short to long.
        gt: ``[4, h, w]`` float32 linear HDR ground truth at the unit frame's scale, >= 0, unclipped.
        meta: camera metadata of the sample.
        alignratio: the scene maximum used to normalise the ground truth (as published).
        exposures: exposure multiples (file names), short to long.
        info: JSON-serialisable facts: noise levels and motion length per frame, seeds.
        unrounded: scale -> ``[T, 4, h/scale, w/scale]`` float32 noisy RAW in [0, 1] before quantisation, kept
            only when ``output.previews`` is on (the published previews are rendered from these values).
    """

    raws: dict[int, torch.Tensor]
    gt: torch.Tensor
    meta: CameraMeta
    alignratio: float
    exposures: tuple[int, ...]
    info: dict[str, Any] = field(default_factory=dict)
    unrounded: dict[int, torch.Tensor] | None = None


def check_size(config: SimulationConfig) -> tuple[int, int]:
    """``(height, width)`` of the ground truth; both divisible by 2 x the largest downsampling scale."""
    width, height = config.output.size
    step = 2 * max((1, *config.downsample.scales))
    if width % step or height % step or width < 16 or height < 16:
        raise DataError(f"output.size={width}x{height}; expected at least 16x16 and multiples of {step}")
    return height, width


def _pointwise(linear: torch.Tensor, gain: float, meta: CameraMeta, clipping: str) -> torch.Tensor:
    """One sub-frame's per-pixel path to camera RGB: ``[3, H, W]`` linear sRGB -> ``[3, H, W]`` camera RGB."""
    if clipping == "srgb_subframe":
        return linear_rgb_to_camera((linear * gain).clamp(0, 1), meta, highlight_safe=True).clamp(0, 1)
    return linear_rgb_to_camera(linear * gain, meta, highlight_safe=False)


def simulate_sample(config: SimulationConfig, frames: torch.Tensor, generator: torch.Generator) -> BracketSample:
    """Simulate one bracket.

    Args:
        config: the simulation settings.
        frames: ``[K, 3, H, W]`` float32 linear sRGB scene, >= 0, at the output size; K = 1 for stills,
            K > 1 consecutive source frames for ``motion.model = "video"``.
        generator: the sample's own random generator (all draws come from it, in a fixed order).

    Returns:
        The sample; see :class:`BracketSample`.
    """
    height, width = check_size(config)
    if frames.ndim != 4 or frames.shape[1] != 3 or tuple(frames.shape[-2:]) != (height, width):
        raise DataError(f"scene frames have shape {tuple(frames.shape)}; expected [K, 3, {height}, {width}]")
    exp, motion, noise = config.exposure, config.motion, config.noise
    windows = exposure_windows(exp.frames, exp.ratio)
    gains = relative_exposures(exp.frames, exp.ratio, exp.unit_frame)
    multiples = exposure_multiples(exp.frames, exp.ratio)
    if (noise.shot_noise is None) != (noise.read_noise is None):
        raise DataError("noise.shot_noise and noise.read_noise must be given together (or neither)")

    meta = sample_camera(config.camera.name, generator)
    scene = frames[0]
    alignratio = float(scene.max().clamp_min(1e-8))
    if exp.clipping == "srgb_subframe":
        gt_rgb = linear_rgb_to_camera((scene / alignratio).clamp(0, 1), meta, highlight_safe=True).clamp(0, 1) * alignratio
    else:
        gt_rgb = linear_rgb_to_camera(scene, meta, highlight_safe=False).clamp_min(0)
    gt = mosaic(gt_rgb).float()

    movement = MOTION_MODELS[motion.model](config, frames, windows, generator)  # draws its randomness now
    lengths = movement.lengths

    clean = []
    for gain, window in zip(gains, windows):
        def transform(frame: torch.Tensor, gain: float = gain) -> torch.Tensor:
            return _pointwise(frame, gain, meta, exp.clipping)

        exposed = movement.expose(window, transform)
        clean.append(mosaic(exposed.clamp(0, 1)))
    clean_stack = torch.stack(clean)  # [T, 4, h, w]

    scaled = {1: clean_stack} if not config.downsample.scales else {
        s: _downsample(clean_stack, s, config.downsample.method) for s in config.downsample.scales
    }
    add_noise = NOISE_MODELS[noise.model]
    if noise.model in OWN_NOISE_LEVELS:  # a noise model that draws its own levels (eld: from noise.eld_preset)
        if noise.shot_noise is not None:
            raise DataError(f"noise.model={noise.model} draws its own levels; unset noise.shot_noise/read_noise")
        draw_levels = OWN_NOISE_LEVELS[noise.model](noise)
    else:
        draw_levels = NOISE_LEVELS[noise.levels]
    levels_used, raws, unrounded = [], {s: [] for s in scaled}, {s: [] for s in scaled}
    first_levels = None  # noise.bracket_iso=shared: the bracket's one draw
    for t in range(exp.frames):
        if noise.shot_noise is not None:
            levels = NoiseLevels(noise.shot_noise, noise.read_noise)
        elif noise.bracket_iso == "shared" and first_levels is not None:  # one ISO setting for the whole bracket
            levels = first_levels
        else:
            levels = draw_levels(generator)
        first_levels = first_levels or levels
        levels_used.append(dataclasses.asdict(levels))
        for s, stack in scaled.items():  # the same levels at every scale, as published
            noisy = add_noise(stack[t].clamp(0, 1), levels, generator).clamp(0, 1)
            raws[s].append(quantize(noisy, noise.bit_depth, noise.black_level))
            if config.output.previews:
                unrounded[s].append(noisy)
    info = {"noise": levels_used, "motion_length_px": lengths, "motion": motion.model, "alignratio": alignratio,
            "bit_depth": noise.bit_depth, "black_level": noise.black_level}  # readers normalise the raws with them
    kept = {s: torch.stack(v) for s, v in unrounded.items()} if config.output.previews else None
    stacks = {s: torch.stack(v) for s, v in raws.items()}
    return BracketSample(stacks, gt, meta, alignratio, tuple(multiples), info, kept)


def _downsample(stack: torch.Tensor, scale: int, method: str) -> torch.Tensor:
    """``[T, 4, h, w]`` clean packed RAW -> ``[T, 4, h/scale, w/scale]`` in [0, 1]."""
    if method == "area":
        return F.avg_pool2d(stack, scale)
    height, width = stack.shape[-2] // scale, stack.shape[-1] // scale
    return F.interpolate(stack, size=(height, width), mode="bicubic", align_corners=True).clamp(0, 1)
