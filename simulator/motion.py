"""Camera motion over a bracket: random shake trajectories, their blur kernels, and how to apply them.

Time is counted in *sub-frames*: exposure ``t`` of a bracket with ratio ``r`` integrates the window
``[s_t, s_t + r^t)`` with ``s_0 = 0`` and ``s_t = sum_{i<t} r^i`` (:func:`simulator.exposure.exposure_windows`); for 5 frames
and ``r = 4`` the windows are (0, 1), (1, 5), (5, 21), (21, 85), (85, 341). The ground truth is the
sharp scene at time 0, where the displacement is zero.

A :class:`Trajectory` gives, at each time, the displacement ``d = (dx, dy)`` in pixels (x right, y down)
of the image *content* relative to time 0, and an in-plane rotation angle. A sub-frame at time ``s``
shows ``scene(p - d(s))`` (content moved by ``+d``), rotated about the image centre when the angle is not
zero. An exposure's blur kernel holds the fraction of its window spent at each displacement, centred
on zero displacement, so the misalignment between exposures follows from the path itself.

Motion models the pipeline offers (``MOTION_MODELS``, defined in :mod:`simulator.motion_models`):

* ``none`` — a still camera: every exposure sees the sharp scene (the kernel is ``[[1]]``).
* ``trajectory`` — a random hand-shake path (:func:`sample_trajectory`, after Boracchi & Foi, IEEE TIP
  2012) over the whole bracket. Translation only: each exposure is the scene convolved with its kernel
  (:func:`trajectory_kernel`, :func:`apply_kernel`, FFT). With rotation: each exposure is the average
  of sub-frames warped by the rigid transform of their instant (:func:`render_subframes`).
* ``video`` — real motion from an HDR video: frames between consecutive video frames are interpolated
  (:func:`~simulator.interpolate.interpolate_frames`) and averaged over each exposure window.
"""

from __future__ import annotations

import cmath
import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from simulator.core.checks import check_image
from simulator.core.errors import DataError
from simulator.interpolate import INTERPOLATORS, interpolate_frames  # re-exported for the pipeline
from simulator.motion_models import MOTION_MODELS  # re-exported: the registry of motion.model names

__all__ = [
    "INTERPOLATORS", "MOTION_MODELS", "Trajectory", "apply_kernel", "displacement",
    "interpolate_frames", "path_length", "render_subframes", "sample_trajectory", "trajectory_kernel",
]


# Shake dynamics, in units of the trajectory's duration (the path is rescaled to its length afterwards,
# so only shapes matter): velocity memory, period of the pull back towards the start, rate of shakes.
MEMORY = (0.05, 0.25)  # velocity correlation time tau, drawn uniformly per trajectory
PULL_PERIOD = (0.3, 1.5)  # period P of the centripetal spring (stiffness (2 pi / P)^2)
SHAKE_RATE = (0.0, 4.0)  # expected number of impulsive shakes over the whole trajectory
SHAKE_TURN = 0.5  # a shake reverses the velocity, turned by up to +-SHAKE_TURN radians more
KERNEL_SAMPLES_PER_PIXEL = 8  # time samples per pixel of path length when splatting a kernel
MAX_KERNEL_SAMPLES = 1 << 20


@dataclass(frozen=True, eq=False)
class Trajectory:
    """A piecewise-linear camera path, sampled at increasing times.

    Attributes:
        times: ``[N]`` float64, strictly increasing, from 0 to the duration (sub-frames), N >= 2.
        positions: ``[N, 2]`` float64 content displacement ``(dx, dy)`` in pixels (x right, y down);
            ``positions[0] == (0, 0)``. Linear in time between samples.
        angles: ``[N]`` float64 in-plane rotation in radians (positive turns content from +x towards +y,
            i.e. clockwise on screen), ``angles[0] == 0``. Linear in time between samples.
    """

    times: torch.Tensor
    positions: torch.Tensor
    angles: torch.Tensor

    def __post_init__(self) -> None:
        times, positions, angles = self.times, self.positions, self.angles
        if not all(isinstance(v, torch.Tensor) and v.dtype == torch.float64 for v in (times, positions, angles)):
            raise DataError("trajectory: times, positions and angles must be float64 tensors")
        n = times.shape[0] if times.ndim == 1 else -1
        if n < 2 or positions.shape != (n, 2) or angles.shape != (n,):
            raise DataError(f"trajectory: shapes {tuple(times.shape)}, {tuple(positions.shape)}, {tuple(angles.shape)}"
                            "; expected [N], [N, 2], [N] with N >= 2")
        if not all(bool(torch.isfinite(v).all()) for v in (times, positions, angles)):
            raise DataError("trajectory: contains NaN or infinite values")
        if times[0] != 0 or not bool((times[1:] > times[:-1]).all()):
            raise DataError("trajectory: times must start at 0 and increase strictly")
        if bool(positions[0].any()) or angles[0] != 0:
            raise DataError(f"trajectory: starts at {positions[0].tolist()}, angle {float(angles[0])}; expected 0")

    @property
    def duration(self) -> float:
        """Time of the last sample, in sub-frames."""
        return float(self.times[-1])


def sample_trajectory(duration: float, length: float, generator: torch.Generator, rotation: float = 0.0,
                      steps_per_unit: int = 4, max_steps: int = 4096) -> Trajectory:
    """A random hand-shake path in the spirit of Boracchi & Foi (IEEE TIP 2012).

    The velocity ``v`` has inertia: it is an Ornstein-Uhlenbeck process (memory ``tau``) driven by
    Gaussian acceleration, with a spring pulling the position back towards the start (the hand hovers)
    and, at Poisson-distributed instants, impulsive shakes that reverse the velocity (turned by a random
    angle up to ``SHAKE_TURN`` and rescaled by a factor in [0.5, 1.5]). The dynamics are in units of
    the duration, integrated with exact damping and an implicit spring (stable for any step count),
    then the path is scaled so that its length over ``[0, duration]`` is ``length``. The rotation is a
    smooth random walk (integrated OU angular velocity) scaled so that its largest magnitude is
    ``rotation`` degrees. The positions do not depend on ``rotation`` (the same draws are made).

    Args:
        duration: length of the bracket in sub-frames (> 0), e.g. 341 for 5 frames of ratio 4.
        length: total path length in pixels (>= 0; 0 gives a still camera).
        generator: source of randomness; the result is a deterministic function of its state.
        rotation: largest absolute in-plane rotation over the bracket, degrees (0 = translation only).
        steps_per_unit: samples per sub-frame.
        max_steps: cap on the number of steps.

    Returns:
        A :class:`Trajectory` with ``N = min(max_steps, ceil(steps_per_unit * duration)) + 1`` samples
        uniformly spaced on ``[0, duration]``.
    """
    if not (math.isfinite(duration) and duration > 0):
        raise DataError(f"trajectory duration={duration}; expected a positive number of sub-frames")
    if not (math.isfinite(length) and length >= 0) or not math.isfinite(rotation):
        raise DataError(f"trajectory length={length}, rotation={rotation}; expected finite values, length >= 0")
    if steps_per_unit < 1 or max_steps < 1:
        raise DataError(f"steps_per_unit={steps_per_unit}, max_steps={max_steps}; expected both >= 1")
    steps = max(1, min(max_steps, math.ceil(steps_per_unit * duration - 1e-9)))
    f64 = torch.float64
    params = torch.rand(4, generator=generator, dtype=f64).tolist()
    tau = MEMORY[0] + (MEMORY[1] - MEMORY[0]) * params[0]
    stiffness = (2 * math.pi / (PULL_PERIOD[0] + (PULL_PERIOD[1] - PULL_PERIOD[0]) * params[1])) ** 2
    shake_rate = SHAKE_RATE[0] + (SHAKE_RATE[1] - SHAKE_RATE[0]) * params[2]
    noise = torch.randn(steps, 2, generator=generator, dtype=f64)
    shakes = torch.rand(steps, 3, generator=generator, dtype=f64).tolist()
    spin = torch.randn(steps, generator=generator, dtype=f64).tolist()

    dt = 1.0 / steps
    decay = math.exp(-dt / tau)
    kicks = (noise[:, 0] + 1j * noise[:, 1]).mul(math.sqrt(dt)).tolist()  # Brownian increments of the force
    velocity = math.sqrt(tau) * cmath.exp(2j * math.pi * params[3])  # moving at the typical speed at t = 0
    position = 0j
    path = [0j]
    for k in range(steps):
        if shakes[k][0] < shake_rate * dt:
            velocity *= -(0.5 + shakes[k][2]) * cmath.exp(1j * SHAKE_TURN * (2 * shakes[k][1] - 1))
        # v' = v e^{-dt/tau} - K dt x' + kick with x' = x + dt v'  (implicit spring)
        velocity = (velocity * decay - stiffness * dt * position + kicks[k]) / (1 + stiffness * dt * dt)
        position = position + dt * velocity
        path.append(position)
    positions = torch.tensor([[z.real, z.imag] for z in path], dtype=f64)
    travelled = float((positions[1:] - positions[:-1]).norm(dim=1).sum())
    positions = positions * (length / travelled) if length > 0 and travelled > 0 else torch.zeros_like(positions)

    angular, angle, angles = 0.0, 0.0, [0.0]
    for k in range(steps):
        angular = angular * decay + math.sqrt(dt) * spin[k]
        angle += dt * angular
        angles.append(angle)
    angles_t = torch.tensor(angles, dtype=f64)
    peak = float(angles_t.abs().max())
    angles_t = angles_t * (math.radians(abs(rotation)) / peak) if rotation and peak > 0 else torch.zeros_like(angles_t)
    times = torch.linspace(0.0, duration, steps + 1, dtype=f64)
    return Trajectory(times, positions, angles_t)


def _check_window(trajectory: Trajectory, start: float, end: float) -> tuple[float, float]:
    slack = 1e-9 * max(1.0, trajectory.duration)
    if not (-slack <= start < end <= trajectory.duration + slack):
        raise DataError(f"window [{start}, {end}); expected 0 <= start < end <= {trajectory.duration} (the duration)")
    return max(start, 0.0), min(end, trajectory.duration)


def _interpolate(trajectory: Trajectory, times: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Positions ``[M, 2]`` and angles ``[M]`` (float64) at ``times`` ``[M]`` within ``[0, duration]``."""
    knots = trajectory.times
    index = (torch.searchsorted(knots, times, right=True) - 1).clamp(0, knots.shape[0] - 2)
    weight = ((times - knots[index]) / (knots[index + 1] - knots[index])).clamp(0, 1)
    positions = torch.lerp(trajectory.positions[index], trajectory.positions[index + 1], weight[:, None])
    angles = torch.lerp(trajectory.angles[index], trajectory.angles[index + 1], weight)
    return positions, angles


def displacement(trajectory: Trajectory, time: float) -> tuple[float, float]:
    """Content displacement ``(dx, dy)`` in pixels at ``time`` (in ``[0, duration]``), interpolated linearly."""
    if not -1e-9 * max(1.0, trajectory.duration) <= time <= trajectory.duration * (1 + 1e-12) + 1e-9:
        raise DataError(f"time {time}; expected within [0, {trajectory.duration}] (the trajectory's duration)")
    position, _ = _interpolate(trajectory, torch.tensor([float(time)], dtype=torch.float64))
    return float(position[0, 0]), float(position[0, 1])


def _window_knots(trajectory: Trajectory, start: float, end: float) -> torch.Tensor:
    """The window's end points and the sample times strictly inside it, increasing, float64."""
    inside = trajectory.times[(trajectory.times > start) & (trajectory.times < end)]
    return torch.cat([inside.new_tensor([start]), inside, inside.new_tensor([end])])


def path_length(trajectory: Trajectory, start: float, end: float) -> float:
    """Pixels travelled by the content during ``[start, end)`` (exact for the piecewise-linear path)."""
    start, end = _check_window(trajectory, start, end)
    points, _ = _interpolate(trajectory, _window_knots(trajectory, start, end))
    return float((points[1:] - points[:-1]).norm(dim=1).sum())


def trajectory_kernel(trajectory: Trajectory, start: float, end: float) -> torch.Tensor:
    """Blur kernel (PSF) of the exposure window ``[start, end)``.

    The path is sampled at the midpoints of equal time steps (at least ``KERNEL_SAMPLES_PER_PIXEL`` per
    pixel of path length and 8 per trajectory segment) and each displacement is splatted bilinearly.

    Args:
        trajectory: the camera path.
        start, end: the window, ``0 <= start < end <= duration``, in sub-frames.

    Returns:
        ``[k, k]`` float32, ``k`` odd, >= 0, sums to 1. ``kernel[k//2 + dy, k//2 + dx]`` is the fraction of
        the window during which the content was displaced by ``(+dx, +dy)``, so the exposure is
        ``apply_kernel(scene, kernel)``. Centred on zero displacement; ``k`` is the smallest size that
        holds every tap of this window (a still camera gives ``[[1.0]]``).
    """
    start, end = _check_window(trajectory, start, end)
    knots = _window_knots(trajectory, start, end)
    points, _ = _interpolate(trajectory, knots)
    travelled = float((points[1:] - points[:-1]).norm(dim=1).sum())
    count = max(8 * (knots.shape[0] - 1), math.ceil(KERNEL_SAMPLES_PER_PIXEL * travelled))
    count = min(count, MAX_KERNEL_SAMPLES)
    times = start + (torch.arange(count, dtype=torch.float64) + 0.5) * ((end - start) / count)
    shifts, _ = _interpolate(trajectory, times)
    base = shifts.floor()
    frac = shifts - base
    base = base.long()
    radius = int(base.abs().max()) + 1
    size = 2 * radius + 1
    kernel = torch.zeros(size * size, dtype=torch.float64)
    for ox in (0, 1):
        for oy in (0, 1):
            wx = frac[:, 0] if ox else 1 - frac[:, 0]
            wy = frac[:, 1] if oy else 1 - frac[:, 1]
            flat = (base[:, 1] + oy + radius) * size + (base[:, 0] + ox + radius)
            kernel.index_add_(0, flat, wx * wy)
    kernel = kernel.view(size, size)
    kernel[kernel < 1e-12 * count] = 0  # round-off taps of samples sitting exactly on a pixel
    rows, cols = torch.nonzero(kernel, as_tuple=True)
    keep = int(max((rows - radius).abs().max(), (cols - radius).abs().max()))
    kernel = kernel[radius - keep: radius + keep + 1, radius - keep: radius + keep + 1]
    return (kernel / kernel.sum()).float()


def _check_kernel(kernel: object) -> torch.Tensor:
    if not isinstance(kernel, torch.Tensor) or not kernel.is_floating_point():
        raise DataError(f"kernel: expected a floating-point torch.Tensor, got {getattr(kernel, 'dtype', type(kernel))}")
    if kernel.ndim != 2 or kernel.shape[0] != kernel.shape[1] or kernel.shape[0] % 2 == 0:
        raise DataError(f"kernel: shape {tuple(kernel.shape)}; expected [k, k] with k odd")
    if not bool(torch.isfinite(kernel).all()):
        raise DataError("kernel: contains NaN or infinite values")
    return kernel


def _fft_size(n: int, even: bool = False) -> int:
    """Smallest integer >= n with no prime factor above 5 (even if asked: rfft's halved axis), a fast FFT length."""
    while True:
        m = n
        for p in (2, 3, 5):
            while m % p == 0:
                m //= p
        if m == 1 and (n % 2 == 0 or not even):
            return n
        n += 1


def apply_kernel(image: torch.Tensor, kernel: torch.Tensor) -> torch.Tensor:
    """Convolve every channel with ``kernel``: ``out(p) = sum_d kernel[c + d] image(p - d)``, ``c = k//2``.

    By FFT (``torch.fft.rfft2``) on the image padded by ``k//2`` with replicate padding, so nothing wraps
    around; equal to a direct convolution up to float round-off (float32: a few 1e-7 of the image's largest
    values, e.g. 2e-5 absolute next to an 83x-white light, so deep shadows may be off by ~0.3 %).

    Args:
        image: ``[..., C, H, W]`` float, any range (linear HDR values are fine).
        kernel: ``[k, k]`` float, ``k`` odd (normally >= 0 and summing to 1, not required).

    Returns:
        Same shape, dtype and device as ``image``. A ``1x1`` kernel just scales the image.
    """
    check_image(image, "image")
    _check_kernel(kernel)
    size = kernel.shape[0]
    if size == 1:
        return image * kernel[0, 0].to(image)
    work = torch.float64 if image.dtype == torch.float64 else torch.float32
    radius = size // 2
    height, width = image.shape[-2:]
    flat = image.reshape(1, -1, height, width).to(work)
    padded = F.pad(flat, (radius, radius, radius, radius), mode="replicate")[0]
    shape = (_fft_size(height + 2 * radius), _fft_size(width + 2 * radius, even=True))
    spectrum = torch.fft.rfft2(padded, s=shape) * torch.fft.rfft2(kernel.to(padded), s=shape)
    full = torch.fft.irfft2(spectrum, s=shape)
    out = full[:, 2 * radius: 2 * radius + height, 2 * radius: 2 * radius + width]
    return out.reshape(image.shape).to(image.dtype)


def render_subframes(image: torch.Tensor, trajectory: Trajectory, start: float, end: float,
                     count: int) -> torch.Tensor:
    """The scene as seen at ``count`` instants of the window ``[start, end)``, each warped rigidly.

    Instants are the midpoints of ``count`` equal parts of the window. Sub-frame ``i`` at instant ``s``
    with displacement ``d`` and angle ``a`` is ``out(p) = image(c + R(-a) (p - c - d))``, ``c`` the image
    centre, sampled bilinearly with border replication (``grid_sample``, ``align_corners=False``). The
    mean over sub-frames is the exposure; with zero rotation it tends to ``apply_kernel(image,
    trajectory_kernel(trajectory, start, end))`` as ``count`` grows.

    Args:
        image: ``[C, H, W]`` float, any range.
        trajectory: the camera path.
        start, end: the window, ``0 <= start < end <= duration``, in sub-frames.
        count: number of sub-frames (>= 1); the output holds ``count * C * H * W`` values (plus one ``2 H W`` grid).

    Returns:
        ``[count, C, H, W]``, dtype and device of ``image``.
    """
    check_image(image, "image")
    if image.ndim != 3:
        raise DataError(f"image: expected shape [C, H, W], got {tuple(image.shape)}")
    if count < 1:
        raise DataError(f"count={count}; expected at least one sub-frame")
    start, end = _check_window(trajectory, start, end)
    times = start + (torch.arange(count, dtype=torch.float64) + 0.5) * ((end - start) / count)
    shifts, angles = _interpolate(trajectory, times)
    channels, height, width = image.shape
    dtype = image.dtype if image.dtype == torch.float64 else torch.float32
    source = image.to(dtype).unsqueeze(0)
    # grid_sample's normalised coordinates (align_corners=False) put the image centre at 0, so the source
    # point c + R(-a) u of u = p - c - d is (2/W, 2/H) * R(-a) u: a sum of a row term and a column term.
    ux = torch.arange(width, dtype=torch.float64) - (width - 1) / 2
    uy = torch.arange(height, dtype=torch.float64) - (height - 1) / 2
    out = torch.empty((count, channels, height, width), dtype=image.dtype, device=image.device)
    grid = torch.empty((1, height, width, 2), dtype=dtype, device=image.device)
    for i in range(count):
        cos, sin = math.cos(float(angles[i])), math.sin(float(angles[i]))
        u, v = ux - float(shifts[i, 0]), uy - float(shifts[i, 1])
        terms = [(2 / width) * cos * u, (2 / width) * sin * v, (-2 / height) * sin * u, (2 / height) * cos * v]
        along_x, down_x, along_y, down_y = (t.to(device=image.device, dtype=dtype) for t in terms)
        torch.add(along_x.view(1, -1), down_x.view(-1, 1), out=grid[0, :, :, 0])
        torch.add(along_y.view(1, -1), down_y.view(-1, 1), out=grid[0, :, :, 1])
        out[i] = F.grid_sample(source, grid, mode="bilinear", padding_mode="border", align_corners=False)[0]
    return out
