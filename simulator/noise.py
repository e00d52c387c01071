"""Sensor noise: per-frame noise levels, noise models and quantisation of clean RAW frames.

Levels (``NOISE_LEVELS``, samplers ``generator -> NoiseLevels``):

* ``iso1600near`` — the published BracketIRE generators' draw, one per exposure frame:
  ``u ~ U(0, 1)``, ``log shot = log 0.0012 + u (log 0.0048 - log 0.0012)``,
  ``log read = 1.869 log shot + 0.3276 + 0.30 z`` with ``z ~ N(0, 1)`` (drawn in that order).
* ``iso1600`` — the published fixed-shot variant (defined there, unused by its generators):
  ``shot = 0.00242237221``, ``log read = log 1.790097494e-05 + 0.30 z``.
* calibrated cameras and published samplers (``simulator/sensors.py``, each with its source): ``imx686``,
  ``a7s2_low``, ``a7s2_high``, ``d850``, ``canon_5d4``, ``imx385``, ``brooks2019``, ``ntire_dslr``.

Models (``NOISE_MODELS``, ``(clean, levels, generator) -> noisy``), on normalised RAW in [0, 1]:

* ``heteroscedastic`` — the published model: Gaussian with variance ``shot * x + read``.
* ``poisson_gaussian`` — Poisson photon counts ``x / shot`` times ``shot``, plus Gaussian read noise of
  variance ``read``; same mean and variance as ``heteroscedastic`` but discrete and skewed in the dark.
* ``eld`` — the physics-based model of Wei et al. (CVPR 2020): Poisson shot noise, Tukey-lambda read
  noise, row noise, with per-frame parameters drawn from a camera preset (``simulator/eld.py``).

A model that draws its own levels (``eld``) also has an entry in ``OWN_NOISE_LEVELS``: a factory
``NoiseConfig -> sampler`` used instead of ``noise.levels`` (a plug-in registers both for such a model).

``read`` is a variance (as in the published code), ``shot`` a gain in normalised units.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from simulator.core.checks import check_image
from simulator.core.errors import DataError
from simulator.core.registry import Registry

ISO1600NEAR_SHOT = (0.0012, 0.0048)
ISO1600NEAR_READ_LINE = (1.869, 0.3276)  # slope, intercept of log read against log shot
ISO1600NEAR_READ_JITTER = 0.30
ISO1600_SHOT = 0.00242237221
ISO1600_READ = 1.790097494e-05


@dataclass(frozen=True)
class NoiseLevels:
    """Noise levels of one frame, in units of the normalised signal (white = 1).

    Attributes:
        shot: variance added per unit of signal (the signal-dependent part).
        read: variance added everywhere (the signal-independent part).
    """

    shot: float
    read: float

    def variance(self, signal: torch.Tensor) -> torch.Tensor:
        """Noise variance ``shot * signal + read`` for a clean signal (any shape)."""
        return signal * self.shot + self.read


def iso1600near_levels(u: torch.Tensor, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The published level law for given draws, in float32 as the reference computes it.

    Args:
        u: position between the lowest and highest shot level, in [0, 1], any shape.
        z: standard normal jitter of the read level, broadcastable against ``u``.

    Returns:
        ``(shot, read)`` tensors of the broadcast shape, float32.
    """
    low, high = (torch.log(torch.tensor(v, dtype=torch.float32)) for v in ISO1600NEAR_SHOT)
    log_shot = low + u.float() * (high - low)
    slope, intercept = ISO1600NEAR_READ_LINE
    log_read = slope * log_shot + intercept + ISO1600NEAR_READ_JITTER * z.float()
    return torch.exp(log_shot), torch.exp(log_read)


def sample_iso1600near(generator: torch.Generator) -> NoiseLevels:
    """One frame's levels by the published ``iso1600near`` draw (u, then z, from ``generator``)."""
    u = torch.rand(1, generator=generator)[0]
    z = torch.randn(1, generator=generator)
    shot, read = iso1600near_levels(u, z)
    return NoiseLevels(float(shot), float(read[0]))


def sample_iso1600(generator: torch.Generator) -> NoiseLevels:
    """One frame's levels by the published (unused) ``iso1600`` draw: fixed shot, jittered read."""
    z = torch.randn(1, generator=generator)
    read = torch.exp(torch.log(torch.tensor(ISO1600_READ, dtype=torch.float32)) + ISO1600NEAR_READ_JITTER * z)
    return NoiseLevels(ISO1600_SHOT, float(read[0]))


def add_heteroscedastic_noise(clean: torch.Tensor, levels: NoiseLevels, generator: torch.Generator) -> torch.Tensor:
    """Gaussian noise of variance ``shot * x + read`` (the published ``add_noise``).

    Args:
        clean: ``[..., C, H, W]`` normalised RAW, float, in [0, 1] (negative values are treated as 0
            for the variance).
        levels: the frame's noise levels.
        generator: source of randomness (CPU generator; the noise is drawn on the CPU and moved).

    Returns:
        Same shape, dtype and device; not clamped.
    """
    check_image(clean, "clean")
    std = levels.variance(clean.clamp_min(0)).sqrt()
    noise = torch.randn(clean.shape, generator=generator, dtype=clean.dtype).to(clean.device)
    return clean + noise * std


def add_poisson_gaussian_noise(clean: torch.Tensor, levels: NoiseLevels, generator: torch.Generator) -> torch.Tensor:
    """Poisson photon noise with gain ``shot`` plus Gaussian read noise of variance ``read``.

    Args:
        clean: ``[..., C, H, W]`` normalised RAW, float, in [0, 1].
        levels: the frame's noise levels (``shot`` > 0).
        generator: source of randomness.

    Returns:
        Same shape, dtype and device; not clamped. Mean ``x``, variance ``shot * x + read``.
    """
    check_image(clean, "clean")
    if levels.shot <= 0:
        raise DataError(f"noise levels: shot={levels.shot}; the Poisson model needs shot > 0")
    photons = torch.poisson((clean.clamp_min(0) / levels.shot).double().cpu(), generator=generator)
    read = torch.randn(clean.shape, generator=generator, dtype=torch.float64) * math.sqrt(levels.read)
    return (photons * levels.shot + read).to(dtype=clean.dtype, device=clean.device)


def quantize(raw: torch.Tensor, bit_depth: int = 10, black_level: int = 0) -> torch.Tensor:
    """Quantise normalised RAW to integer digital numbers, as the published generators store it.

    ``round(clamp(x * (white - black) + black, 0, white))`` with ``white = 2**bit_depth - 1``; with the
    defaults this is the published ``round(clamp(x * 1023, 0, 1023))``.

    Args:
        raw: normalised RAW, any shape, float.
        bit_depth: bits per sample (1..16).
        black_level: digital number of zero signal.

    Returns:
        Same shape, ``torch.int32`` (convert to uint16 when writing).
    """
    if not 1 <= bit_depth <= 16:
        raise DataError(f"bit_depth={bit_depth}; expected 1..16")
    white = 2**bit_depth - 1
    if not 0 <= black_level < white:
        raise DataError(f"black_level={black_level}; expected 0 <= black_level < {white}")
    return torch.round(torch.clamp(raw * (white - black_level) + black_level, 0, white)).to(torch.int32)


def dequantize(digital: torch.Tensor, bit_depth: int = 10, black_level: int = 0) -> torch.Tensor:
    """Inverse of :func:`quantize` up to rounding: ``(d - black) / (white - black)`` as float32."""
    white = 2**bit_depth - 1
    return (digital.float() - black_level) / (white - black_level)


NOISE_LEVELS = Registry(
    "noise level sampler",
    {"iso1600near": "simulator.noise:sample_iso1600near", "iso1600": "simulator.noise:sample_iso1600",
     **{name: f"simulator.sensors:sample_{name}" for name in (  # calibrated cameras and published samplers
         "imx686", "a7s2_low", "a7s2_high", "d850", "canon_5d4", "imx385", "brooks2019", "ntire_dslr")}},
)
NOISE_MODELS = Registry(
    "noise model",
    {
        "heteroscedastic": "simulator.noise:add_heteroscedastic_noise",
        "poisson_gaussian": "simulator.noise:add_poisson_gaussian_noise",
        "eld": "simulator.eld:add_eld_noise",
    },
)
OWN_NOISE_LEVELS = Registry(  # noise models that draw their own levels: name -> factory(NoiseConfig) -> sampler
    "noise model with its own levels",
    {"eld": "simulator.eld:eld_level_sampler"},  # from noise.eld_preset instead of noise.levels
)
