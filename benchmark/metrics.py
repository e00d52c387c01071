"""Image-quality metrics of the BracketIRE protocols, found by name (a small pyiqa-style registry).

======== ==== ============ =================================================================================
name     kind lower better what
======== ==== ============ =================================================================================
psnr     FR   no           ``syn_metrics.calc_psnr_np`` on the 16-bit scale (float32 terms), ``inf`` if equal
ssim     FR   no           ``skimage.metrics.structural_similarity(..., win_size=11, gaussian_weights=True,
                           data_range=65535, channel_axis=2)``, our own fast float64 implementation
lpips    FR   yes          LPIPS v0.1, AlexNet (``lpips.LPIPS(net='alex')``), see :mod:`benchmark.lpips`
clipiqa  NR   no           CLIP-IQA through pyiqa (extra ``iqa``), mean over the 4x4 tiles of the image
maniqa   NR   no           MANIQA through pyiqa (extra ``iqa``), mean over the 4x4 tiles of the image
======== ==== ============ =================================================================================

Every metric takes the 16-bit PNG content as numpy ``uint16`` ``(H, W, 3)`` RGB in [0, 65535], already
border-cropped by the caller: ``metric(output, gt)`` for FR metrics, ``metric(output)`` for NR ones.
``create_metric`` raises :class:`MetricUnavailableError` when a metric cannot run here (missing weights,
pyiqa not installed); the message says what is missing and how to get it.
"""

from __future__ import annotations

import importlib
import inspect
import math
import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from simulator.core.checks import check_shape
from simulator.core.errors import ConfigError, DataError, MetricUnavailableError
from simulator.core.registry import Registry, unknown_name
from simulator.core.threads import one_thread

UINT16_MAX = 65535.0




@dataclass(frozen=True)
class MetricSpec:
    """What a registered metric is.

    Attributes:
        name: registry name.
        kind: ``"FR"`` (full reference: ``metric(output, gt)``) or ``"NR"`` (no reference: ``metric(output)``).
        lower_better: True when a smaller value means a better image (LPIPS).
        target: the constructor, which returns the scoring function, or its ``"module:attribute"``.
    """

    name: str
    kind: str
    lower_better: bool
    target: Any


METRIC_SPECS: dict[str, MetricSpec] = {
    spec.name: spec
    for spec in (
        MetricSpec("psnr", "FR", False, "benchmark.metrics:make_psnr"),
        MetricSpec("ssim", "FR", False, "benchmark.metrics:make_ssim"),
        MetricSpec("lpips", "FR", True, "benchmark.lpips:make_lpips"),
        MetricSpec("clipiqa", "NR", False, "benchmark.metrics:make_clipiqa"),
        MetricSpec("maniqa", "NR", False, "benchmark.metrics:make_maniqa"),
    )
}
METRICS = Registry("metric", {name: spec.target for name, spec in METRIC_SPECS.items()})


class Metric:
    """A named, callable metric on 16-bit RGB images (see the module docstring for the call forms).

    Attributes:
        name, kind, lower_better: from the metric's :class:`MetricSpec`.
    """

    def __init__(self, spec: MetricSpec, score: Callable[..., float]) -> None:
        self.spec = spec
        self._score = score

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def kind(self) -> str:
        return self.spec.kind

    @property
    def lower_better(self) -> bool:
        return self.spec.lower_better

    def __call__(self, output: np.ndarray, gt: np.ndarray | None = None) -> float:
        """Score ``output`` (and ``gt`` for FR metrics): uint16 ``(H, W, 3)`` RGB in [0, 65535] -> float."""
        if self.kind == "NR":
            if gt is not None:
                raise DataError(f"{self.name} is a no-reference metric: call it with the output image only")
            return float(self._score(check_rgb16(output, "output")))
        if gt is None:
            raise DataError(f"{self.name} is a full-reference metric: call it as metric(output, gt)")
        check_pair(output, gt)
        return float(self._score(output, gt))

    def __repr__(self) -> str:
        return f"Metric({self.name!r}, kind={self.kind!r}, lower_better={self.lower_better})"


def register_metric(spec: MetricSpec, replace: bool = False) -> MetricSpec:
    """Add a user's metric: ``score``, ``bench`` and ``info`` then know it by ``spec.name``.

    Raises:
        ConfigError: the name is taken (unless ``replace``) or ``spec.kind`` is not ``"FR"`` / ``"NR"``.
    """
    if spec.kind not in ("FR", "NR"):
        raise ConfigError(f"metric {spec.name!r}: kind must be 'FR' or 'NR', not {spec.kind!r}")
    METRICS.register(spec.name, spec.target, replace=replace)
    METRIC_SPECS[spec.name] = spec
    return spec


def metric_names() -> list[str]:
    """The registered metric names, in table order."""
    return list(METRIC_SPECS)


def metric_spec(name: str) -> MetricSpec:
    """The :class:`MetricSpec` of ``name``; an unknown name raises UnknownNameError with a did-you-mean."""
    try:
        return METRIC_SPECS[name]
    except KeyError:
        raise unknown_name("metric", name, METRIC_SPECS) from None


def create_metric(name: str, **options: Any) -> Metric:
    """Build the metric ``name`` (weights are loaded and optional packages imported here, once).

    Args:
        name: a name in :data:`METRIC_SPECS`.
        options: passed to the metric's constructor (e.g. ``device=``, ``alexnet=`` / ``heads=`` for LPIPS).

    Raises:
        UnknownNameError: unknown metric or option name.
        MetricUnavailableError: the metric cannot run here; the message says what is missing.
    """
    spec = metric_spec(name)
    constructor = METRICS[name]
    accepted = inspect.signature(constructor).parameters
    for key in options:
        if key not in accepted:
            raise unknown_name(f"option of metric {name!r}", key, accepted)
    return Metric(spec, constructor(**options))


def check_rgb16(image: object, name: str) -> np.ndarray:
    """Check that ``image`` is a numpy uint16 ``(H, W, 3)`` array; returns it, else raises DataError."""
    if not isinstance(image, np.ndarray):
        raise DataError(f"{name}: expected a numpy uint16 (H, W, 3) RGB array, got {type(image).__name__}")
    if image.dtype != np.uint16:
        raise DataError(f"{name}: expected dtype uint16 (16-bit PNG content), got {image.dtype}")
    if image.ndim == 3 and image.shape[2] == 3 and (image.shape[0] == 0 or image.shape[1] == 0):
        raise DataError(f"{name}: image is empty, shape {image.shape}")
    check_shape(image.shape, ["H", "W", 3], name, brackets="()")
    return image


def check_pair(output: object, gt: object) -> None:
    """Check an output / ground-truth pair: both uint16 ``(H, W, 3)``, same shape; else DataError."""
    out_shape, gt_shape = check_rgb16(output, "output").shape, check_rgb16(gt, "gt").shape
    if out_shape != gt_shape:
        raise DataError(f"output has shape {out_shape}; expected the ground truth's shape {gt_shape}")


# ----------------------------------------------------------------------------------------------- PSNR

_PSNR_CHUNK = 1 << 18  # values per step: the float32 temporaries stay in cache


def psnr(output: np.ndarray, gt: np.ndarray) -> float:
    """PSNR in dB of two 16-bit images, as ``syn_metrics.calc_psnr_np(output, gt, range=65535.0)``.

    Every term ``((out.f32 - gt.f32) / 65535)**2`` is the official float32 value, bit for bit; torch sums
    them in float32 per chunk of 2^18 (numpy pairwise over the whole image), chunk sums add up in float64:
    the result moves by ~1e-7 dB, far inside the 1e-4 dB tolerance of the reference fixtures.

    Args:
        output, gt: uint16 ``(H, W, 3)`` RGB in [0, 65535], same shape.

    Returns:
        ``-10 * log10(mse)``; ``inf`` for identical images (the official code raises ``ValueError`` there).
    """
    check_pair(output, gt)
    flat_out = torch.from_numpy(np.ascontiguousarray(output)).view(-1)
    flat_gt = torch.from_numpy(np.ascontiguousarray(gt)).view(-1)
    mse = float(_single_threaded(lambda: _squared_error_sum(flat_out, flat_gt))) / flat_out.numel()
    return math.inf if mse == 0 else -10.0 * math.log10(mse)


def _squared_error_sum(flat_out: torch.Tensor, flat_gt: torch.Tensor) -> torch.Tensor:
    """Float64 sum of the float32 terms ``((out - gt) / 65535)**2`` of two flat uint16 tensors."""
    size = flat_out.numel()
    step = min(size, _PSNR_CHUNK)
    diff, other = torch.empty(step), torch.empty(step)
    total = torch.zeros((), dtype=torch.float64)
    for start in range(0, size, step):
        n = min(step, size - start)
        d, g = diff[:n], other[:n]
        d.copy_(flat_out[start : start + n])
        g.copy_(flat_gt[start : start + n])
        total += d.sub_(g).div_(UINT16_MAX).square_().sum()
    return total


# ----------------------------------------------------------------------------------------------- SSIM

SSIM_SIGMA, SSIM_TRUNCATE, SSIM_K1, SSIM_K2 = 1.5, 3.5, 0.01, 0.03
SSIM_RADIUS = int(SSIM_TRUNCATE * SSIM_SIGMA + 0.5)  # 5: an 11-tap window, as skimage derives it


def gaussian_taps(sigma: float = SSIM_SIGMA, radius: int = SSIM_RADIUS) -> torch.Tensor:
    """The normalised 1-D Gaussian of ``scipy.ndimage.gaussian_filter`` (float64, ``2 * radius + 1`` taps)."""
    x = torch.arange(-radius, radius + 1, dtype=torch.float64)
    taps = torch.exp(-0.5 / (sigma * sigma) * x * x)
    return taps / taps.sum()


def ssim(output: np.ndarray, gt: np.ndarray, threads: int | None = None) -> float:
    """Mean SSIM of two 16-bit RGB images, equal to scikit-image's (to ~1e-15) and much faster.

    Same value as ``skimage.metrics.structural_similarity(output, gt, win_size=11, gaussian_weights=True,
    data_range=65535, channel_axis=2)``: per channel, Gaussian-weighted moments (sigma 1.5, truncate 3.5)
    in float64, sample covariance (121/120), K1 = 0.01, K2 = 0.03, mean of ``S[5:-5, 5:-5]``, then the mean
    of the channels. Only that interior is averaged and its 11x11 windows lie inside the image, so the
    filters need no border mode: they are computed 'valid', and skimage's ``mode='reflect'`` is never used.
    With ``B1 = ux^2 + uy^2 + C1``, ``A1 = 2 ux uy + C1`` and ``G`` the Gaussian filter, skimage's
    ``vx + vy + C2/cn = G(a^2 + b^2 + k) - B1`` and ``2 vxy + C2/cn = G(2ab + k) - A1`` with
    ``k = C1 + C2/cn`` (cn = 121/120, the weights sum to 1), so four filtered maps give
    ``S = A1 (G(2ab+k) - A1) / (B1 (G(a^2+b^2+k) - B1))``.

    How it is fast: one compiled float64 pass over the rows (:mod:`benchmark.ssim_kernel`: ring buffer,
    separable filter, formula and sum fused, nothing allocated per row).

    How it stays fast on a busy machine: no operation waits for another thread. The image is cut into bands
    of rows (10 rows of overlap) that ``threads`` Python threads take from a queue and sum independently (the
    kernel releases the GIL); a thread that loses its core delays only its own band. On one thread it is
    already many times faster than scikit-image, so a busy machine keeps the ratio.

    Args:
        output, gt: uint16 ``(H, W, 3)`` RGB in [0, 65535], same shape, H and W at least 11.
        threads: bands computed at once; None: :func:`metric_threads` (the CPU count, or what a caller that
            runs several metrics in parallel set for its thread with :func:`set_metric_threads`).

    Returns:
        Mean SSIM, float in [-1, 1]; 1.0 for identical images.
    """
    check_pair(output, gt)
    height, width = output.shape[:2]
    if min(height, width) < 2 * SSIM_RADIUS + 1:
        raise DataError(f"SSIM needs images of at least 11x11 pixels (its window); got {height}x{width}")
    interior = (height - 2 * SSIM_RADIUS) * (width - 2 * SSIM_RADIUS) * 3
    a = np.ascontiguousarray(output).reshape(height, width * 3)
    b = np.ascontiguousarray(gt).reshape(height, width * 3)
    return ssim_sum(a, b, metric_threads() if threads is None else threads) / interior


# ------------------------------------------------------------------------------------ thread budget

_BUDGET = threading.local()
_BAND_ROWS = 64  # output rows per band at least: the 10 rows each band reloads stay a small overhead


def set_metric_threads(threads: int | None) -> None:
    """Threads a metric call from *this* thread may use (None: back to the default); see :func:`ssim`.

    A pool that scores ``n`` images at once gives each of its threads ``max(1, cpus // n)``, so that pool
    threads times metric threads never exceed the cores.
    """
    _BUDGET.threads = threads


def metric_threads() -> int:
    """This thread's metric thread budget: what :func:`set_metric_threads` set, else the CPU count."""
    threads = getattr(_BUDGET, "threads", None)
    return max(1, threads if threads is not None else (os.cpu_count() or 1))


def _single_threaded(fn: Callable[[], torch.Tensor]) -> torch.Tensor:
    """Run ``fn`` with torch's intra-op parallelism off for the calling thread (a per-thread setting)."""
    with one_thread():
        return fn()


def ssim_sum(a: np.ndarray, b: np.ndarray, threads: int, band_rows: int = _BAND_ROWS, chunk: int | None = None) -> float:
    """Sum of the SSIM map of uint16 ``[H, W * 3]`` images over their interior, in bands of at least
    ``band_rows`` output rows on ``threads`` threads (the bands' sums add up to the same value, to rounding);
    ``chunk``: the kernel's column strip (None: its default)."""
    from benchmark.ssim_kernel import CHUNK, ssim_rows  # compiles (or loads the cached kernel) on first use

    out_h = a.shape[0] - 2 * SSIM_RADIUS
    count = 1 if threads <= 1 else max(1, min(4 * threads, out_h // band_rows))
    edges = [out_h * i // count for i in range(count + 1)]
    taps = gaussian_taps().numpy()
    c1 = (SSIM_K1 * UINT16_MAX) ** 2
    k = c1 + (SSIM_K2 * UINT16_MAX) ** 2 * (120 / 121)

    def band(rows: tuple[int, int]) -> float:
        return ssim_rows(a, b, taps, rows[0], rows[1], c1, k, chunk or CHUNK)

    jobs = list(zip(edges, edges[1:]))
    if count == 1:
        return band(jobs[0])
    with ThreadPoolExecutor(max_workers=min(threads, count), thread_name_prefix="ssim") as pool:
        return float(sum(pool.map(band, jobs)))


def make_psnr() -> Callable[[np.ndarray, np.ndarray], float]:
    """PSNR of the BracketIRE test script (dB, higher is better, ``inf`` for identical images)."""
    return psnr


def make_ssim() -> Callable[[np.ndarray, np.ndarray], float]:
    """SSIM of the BracketIRE test script (skimage's, Gaussian 11x11 window, data range 65535)."""
    return ssim


# ------------------------------------------------------------------------------ no-reference (pyiqa)

TILE_GRID = 4  # the published real-data script scores a 4x4 grid of tiles and averages them


def tile_bounds(size: int, grid: int = TILE_GRID) -> list[tuple[int, int]]:
    """``[start, stop)`` of each of ``grid`` tiles along a side: ``i*size//grid`` .. ``(i+1)*size//grid``."""
    return [(i * size // grid, (i + 1) * size // grid) for i in range(grid)]


def tile_average(image: np.ndarray, score: Callable[[np.ndarray], float], grid: int = TILE_GRID) -> float:
    """Mean of ``score(tile)`` over a ``grid x grid`` split of ``image``, row by row, as ``real_metrics.py``.

    Args:
        image: ``(H, W, C)`` array, H and W at least ``grid``.
        score: maps one tile (a contiguous copy, same dtype) to a float.
        grid: tiles per side (1 scores the whole image).
    """
    height, width = image.shape[:2]
    if min(height, width) < grid:
        raise DataError(f"image of {height}x{width} pixels cannot be split into {grid}x{grid} tiles")
    scores = [
        float(score(np.ascontiguousarray(image[top:bottom, left:right])))
        for top, bottom in tile_bounds(height, grid)
        for left, right in tile_bounds(width, grid)
    ]
    return sum(scores) / len(scores)


def _pyiqa_scorer(
    name: str, device: str | torch.device | None, tiles: int, seed: int | None
) -> Callable[[np.ndarray], float]:
    """A pyiqa no-reference metric as ``uint16 (H, W, 3) -> float`` (tensor ``float32(img) / 65535``, NCHW)."""
    try:
        pyiqa = importlib.import_module("pyiqa")
    except ImportError as err:
        raise MetricUnavailableError(
            f"{name} needs the optional package pyiqa ({err}); install it with: pip install '.[iqa]' "
            "(its network weights download on first use)"
        ) from None
    target = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    try:
        net = pyiqa.create_metric(name, device=target, as_loss=False)
    except Exception as err:  # pyiqa downloads its weights here; offline that fails in many ways
        raise MetricUnavailableError(f"{name}: pyiqa could not build the metric or fetch its weights ({err})") from None
    lock = threading.Lock()  # seeded calls share the global RNG: one at a time

    def one(tile: np.ndarray) -> float:
        x = torch.from_numpy(tile.astype(np.float32).transpose(2, 0, 1) / np.float32(UINT16_MAX))[None].to(target)
        devices = [] if target.type != "cuda" else [torch.cuda.current_device() if target.index is None else target.index]
        with torch.no_grad(), torch.random.fork_rng(devices=devices):
            if seed is not None:  # MANIQA scores random crops: a fixed seed makes a score reproducible
                torch.manual_seed(seed)
            return float(net(x).mean())

    def score(image: np.ndarray) -> float:
        with lock:
            return tile_average(image, one, tiles)

    return score


def make_clipiqa(device: str | None = None, tiles: int = TILE_GRID, seed: int | None = 0) -> Callable[[np.ndarray], float]:
    """CLIP-IQA (pyiqa, extra ``iqa``): mean over a ``tiles x tiles`` grid as the real-data script does."""
    return _pyiqa_scorer("clipiqa", device, tiles, seed)


def make_maniqa(device: str | None = None, tiles: int = TILE_GRID, seed: int | None = 0) -> Callable[[np.ndarray], float]:
    """MANIQA (pyiqa, extra ``iqa``): mean over a ``tiles x tiles`` grid as the real-data script does."""
    return _pyiqa_scorer("maniqa", device, tiles, seed)
