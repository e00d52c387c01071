"""The ELD physics-based sensor noise model, and its calibration from a camera's own frames.

Model (Wei et al., "A Physics-based Noise Formation Model for Extreme Low-light Raw Denoising",
CVPR 2020), in digital numbers (DN) above the black level, per frame:

    D = K * Poisson(S / K) + N_read + N_row          (then rounded: the quantisation noise)

* ``K``: system gain (DN per electron), drawn log-uniformly in ``[k_min, k_max]`` (the ISO setting);
* ``N_read``: Tukey-lambda noise of shape ``lambda`` and scale ``sigma_read`` (heavy tails from the
  readout and dark current), ``log sigma_read = a log K + b + N(0, s)``;
* ``N_row``: one Gaussian offset per sensor row (banding), ``log sigma_row = a log K + b + N(0, s)``.

A camera is described by an :class:`EldPreset`, stored as JSON. :func:`calibrate_eld` makes one from flat
and dark (bias) frames taken at several ISO settings, the way the ELD paper calibrates: K from the photon
transfer curve of flat-frame pairs, lambda by the probability-plot correlation of dark frames, row noise
from the dark frames' row means, and the log-linear laws by least squares across the settings. Shipped
presets live in ``simulator/presets/eld_<name>.json``.
"""

from __future__ import annotations

import functools
import json
import math
from collections.abc import Callable
from dataclasses import asdict, dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import torch

from simulator.bayer import pack, unpack
from simulator.core.checks import check_image
from simulator.core.errors import DataError
from simulator.core.registry import unknown_name


@dataclass(frozen=True)
class LogLinear:
    """``log y = slope * log K + bias + N(0, sigma)``."""

    slope: float
    bias: float
    sigma: float


@dataclass(frozen=True)
class EldPreset:
    """Noise parameters of one camera (DN units of its raw files).

    Attributes:
        name: camera or preset name.
        white_level, black_level: raw range in DN.
        k_min, k_max: range of the system gain K (DN per electron) over the ISO settings used.
        tukey_lambdas: read-noise shapes observed across settings (one is drawn per frame).
        read_scale, row_scale: the log-linear laws of the read- and row-noise scales against K.
        source: where the numbers come from (paper, repository, licence), shown by ``cli.py info``.
        lambda_law: ``"choice"`` draws one of ``tukey_lambdas`` per frame; ``"uniform"`` draws uniformly
            between its two values.
    """

    name: str
    white_level: int
    black_level: int
    k_min: float
    k_max: float
    tukey_lambdas: tuple[float, ...]
    read_scale: LogLinear
    row_scale: LogLinear
    source: str = ""
    lambda_law: str = "choice"

    def __post_init__(self) -> None:
        uniform = self.lambda_law == "uniform"
        if self.lambda_law not in ("choice", "uniform") or (uniform and len(self.tukey_lambdas) != 2):
            raise DataError(f"eld preset {self.name}: lambda_law={self.lambda_law!r} with {len(self.tukey_lambdas)} "
                            "lambdas; expected 'choice', or 'uniform' with two bounds")
        if not 0 < self.k_min <= self.k_max or not self.tukey_lambdas:
            raise DataError(f"eld preset {self.name}: k range [{self.k_min}, {self.k_max}] and lambdas "
                            f"{self.tukey_lambdas}; expected 0 < k_min <= k_max and at least one lambda")

    def to_json(self) -> str:
        """JSON text of the preset."""
        return json.dumps(asdict(self), indent=1)

    @classmethod
    def from_json(cls, text: str, source: str = "eld preset") -> EldPreset:
        """Inverse of :meth:`to_json`; a DataError naming ``source`` for bad content."""
        try:
            data = json.loads(text)
            data["read_scale"] = LogLinear(**data["read_scale"])
            data["row_scale"] = LogLinear(**data["row_scale"])
            data["tukey_lambdas"] = tuple(data["tukey_lambdas"])
            return cls(**data)
        except (json.JSONDecodeError, KeyError, TypeError) as err:
            raise DataError(f"{source}: not an ELD preset ({type(err).__name__}: {err})") from None


@dataclass(frozen=True)
class EldLevels:
    """One frame's draw of the ELD parameters (DN units; ``span`` = white - black)."""

    system_gain: float
    tukey_lambda: float
    read_scale: float
    row_scale: float
    span: float


def load_eld_preset(name_or_path: str) -> EldPreset:
    """A calibrated camera (``simulator.sensors``), a shipped JSON preset (``presets/eld_<name>.json``) or a JSON file."""
    from simulator.sensors import CALIBRATIONS

    if name_or_path in CALIBRATIONS:
        return CALIBRATIONS[name_or_path].eld_preset()
    path = Path(name_or_path)
    if path.suffix != ".json":  # a name: a shipped preset, or a did-you-mean
        path = Path(str(resources.files("simulator") / "presets" / f"eld_{name_or_path}.json"))
        if not path.is_file():
            raise unknown_name("ELD preset", name_or_path, eld_preset_names())
    if not path.is_file():
        raise DataError(f"{name_or_path}: no ELD preset file there; expected a calibration JSON "
                        f"or a shipped preset name ({', '.join(eld_preset_names())})")
    return EldPreset.from_json(path.read_text(), str(path))


def eld_preset_names() -> list[str]:
    """Names of the shipped ELD presets: the calibrated cameras of ``simulator.sensors`` and the JSON presets."""
    from simulator.sensors import CALIBRATIONS

    folder = resources.files("simulator") / "presets"
    files = [p.name[4:-5] for p in folder.iterdir() if p.name.startswith("eld_") and p.name.endswith(".json")]
    return sorted({*CALIBRATIONS, *files})


def eld_level_sampler(noise: Any) -> Callable[[torch.Generator], EldLevels]:
    """The level sampler of ``noise.model=eld``: draws from the preset ``noise.eld_preset`` names.

    Args:
        noise: the simulation's ``NoiseConfig`` (only ``eld_preset`` is read).

    Returns:
        ``generator -> EldLevels``, one frame's draw (:func:`sample_eld_levels`).
    """
    return functools.partial(sample_eld_levels, load_eld_preset(noise.eld_preset))


def sample_eld_levels(preset: EldPreset, generator: torch.Generator) -> EldLevels:
    """Draw one frame's ELD parameters from a preset (K, lambda, then the two scales)."""
    u = torch.rand(1, generator=generator)
    if preset.lambda_law == "uniform":
        low, high = preset.tukey_lambdas
        lam = low + float(torch.rand(1, generator=generator)) * (high - low)
    else:
        lam = preset.tukey_lambdas[int(torch.randint(len(preset.tukey_lambdas), (1,), generator=generator))]
    z_read, z_row = torch.randn(2, generator=generator)
    log_k = math.log(preset.k_min) + float(u) * (math.log(preset.k_max) - math.log(preset.k_min))
    read = preset.read_scale
    row = preset.row_scale
    return EldLevels(
        system_gain=math.exp(log_k),
        tukey_lambda=lam,
        read_scale=math.exp(read.slope * log_k + read.bias + read.sigma * float(z_read)),
        row_scale=math.exp(row.slope * log_k + row.bias + row.sigma * float(z_row)),
        span=float(preset.white_level - preset.black_level),
    )


def tukey_lambda_noise(shape: tuple[int, ...], lam: float, generator: torch.Generator) -> torch.Tensor:
    """Standard Tukey-lambda samples by the inverse CDF, float64 (lambda = 0 is the logistic law)."""
    u = torch.rand(shape, generator=generator, dtype=torch.float64).clamp(1e-12, 1 - 1e-12)
    if abs(lam) < 1e-8:
        return torch.log(u) - torch.log1p(-u)
    return (u**lam - (1 - u) ** lam) / lam


def add_eld_noise(clean: torch.Tensor, levels: EldLevels, generator: torch.Generator) -> torch.Tensor:
    """Add ELD noise to normalised packed RAW.

    Args:
        clean: ``[..., 4, h, w]`` packed RGGB in [0, 1] (1 = white level).
        levels: one frame's parameters (see :func:`sample_eld_levels`).
        generator: source of randomness.

    Returns:
        Same shape, dtype and device, normalised, not clamped. Row noise acts on the rows of the
        full-resolution mosaic, as on a sensor.
    """
    check_image(clean, "clean", 4)
    span, gain = levels.span, levels.system_gain
    electrons = (clean.clamp_min(0).double().cpu() * span / gain)
    signal = torch.poisson(electrons, generator=generator) * gain
    read = tukey_lambda_noise(tuple(clean.shape), levels.tukey_lambda, generator) * levels.read_scale
    bayer = unpack(signal + read)
    rows = torch.randn((*bayer.shape[:-1], 1), generator=generator, dtype=torch.float64) * levels.row_scale
    return (pack(bayer + rows) / span).to(dtype=clean.dtype, device=clean.device)


def _tukey_fit(residual: np.ndarray) -> tuple[float, float]:
    """(lambda, scale) of zero-mean samples by the probability-plot correlation (ELD's calibration)."""
    from scipy import stats

    sample = np.random.default_rng(0).choice(residual.ravel(), size=min(residual.size, 20000), replace=False)
    lam = float(stats.ppcc_max(sample, brack=(-0.5, 0.5), dist="tukeylambda"))
    (_, _), (scale, _, _) = stats.probplot(sample, (lam,), dist="tukeylambda", fit=True)
    return lam, float(scale)


def _log_linear(log_k: np.ndarray, values: np.ndarray) -> LogLinear:
    slope, bias = np.polyfit(log_k, np.log(values), 1)
    residual = np.log(values) - (slope * log_k + bias)
    sigma = float(residual.std(ddof=2)) if len(values) > 2 else 0.0
    return LogLinear(float(slope), float(bias), max(sigma, 1e-3))


def calibrate_eld(
    flats: list[np.ndarray],
    darks: list[np.ndarray],
    white_level: int,
    black_level: int,
    name: str = "calibrated",
) -> EldPreset:
    """Fit an ELD preset from a camera's raw frames at several ISO settings.

    Args:
        flats: per setting, ``(L, 2, H, W)`` DN: L brightness levels, two frames of each (a flat field).
        darks: per setting (same order), ``(N, H, W)`` DN bias frames (lens capped, shortest exposure).
        white_level, black_level: the raw files' range.
        name: the preset's name.

    Returns:
        The fitted :class:`EldPreset`; needs at least two settings.

    Raises:
        DataError: too few settings, or frames of the wrong shape.
    """
    if len(flats) != len(darks) or len(flats) < 2:
        raise DataError(f"calibration needs flat and dark frames for at least 2 ISO settings; got {len(flats)} and {len(darks)}")
    gains, lambdas, read_scales, row_scales = [], [], [], []
    for index, (flat, dark) in enumerate(zip(flats, darks)):
        flat, dark = np.asarray(flat, np.float64), np.asarray(dark, np.float64)
        if flat.ndim != 4 or flat.shape[1] != 2 or dark.ndim != 3:
            raise DataError(f"setting {index}: flats must be (L, 2, H, W) and darks (N, H, W); got {flat.shape}, {dark.shape}")
        means = flat.mean(axis=(1, 2, 3)) - black_level
        half_var = (flat[:, 0] - flat[:, 1]).var(axis=(1, 2)) / 2  # pair difference removes fixed patterns
        gains.append(float(np.polyfit(means, half_var, 1)[0]))  # photon transfer: var = K * mean + c
        centred = dark - dark.mean(axis=(1, 2), keepdims=True)
        row_means = centred.mean(axis=2, keepdims=True)
        width = dark.shape[2]
        row_var = max(row_means.var() - (centred - row_means).var() / width, 1e-12)
        row_scales.append(math.sqrt(row_var))
        lam, scale = _tukey_fit(centred - row_means)
        lambdas.append(lam)
        read_scales.append(scale)
    log_k = np.log(gains)
    return EldPreset(
        name=name,
        white_level=int(white_level),
        black_level=int(black_level),
        k_min=float(min(gains)),
        k_max=float(max(gains)),
        tukey_lambdas=tuple(round(v, 4) for v in lambdas),
        read_scale=_log_linear(log_k, np.array(read_scales)),
        row_scale=_log_linear(log_k, np.array(row_scales)),
    )
