"""Calibrated sensor noise: published camera calibrations as ELD presets and as noise-level samplers.

Every number here is a published calibration, quoted with its source (the project's summary of them is
``shared/noise_presets.md``). Units: ELD tables are in digital numbers (DN) at the sensor's native bit depth,
system gain ``K`` in DN per electron, ``log sigma = slope log K + bias + N(0, spread^2)`` (natural logs),
``log K`` uniform over the calibrated range. Poisson-Gaussian levels are in normalised units (after the
black level, white = 1): variance ``shot x + read``, with ``shot = K / (white - black)`` and
``read = (sigma / (white - black))^2``.

* ELD presets (``noise.model=eld``, ``noise.eld_preset=<name>``): ``imx686``, ``a7s2_low``, ``a7s2_high``,
  ``d850`` (PMN: Feng et al., ACM MM 2022, ``megvii-research/PMN`` ``data_process/process.py``
  ``get_camera_noisy_params``, Apache-2.0) and ``canon_5d4`` (ELD: Wei et al., CVPR 2020 / TPAMI 2021,
  ``Vandermode/ELD``, MIT).
* Level samplers (``noise.levels=<name>``, for ``heteroscedastic`` and ``poisson_gaussian``): the same five
  cameras reduced to Poisson-Gaussian levels (their Gaussian read law ``sigma_Gs``), ``imx385`` (RViDeNet's
  five ISO points), ``brooks2019`` and ``ntire_dslr``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from simulator.eld import EldPreset, LogLinear
from simulator.noise import NoiseLevels


@dataclass(frozen=True)
class SensorCalibration:
    """One camera's published ELD-style calibration (DN at its native bit depth).

    Attributes:
        name: preset name.
        source: paper, repository and licence the numbers come from.
        log_k: ``(low, high)`` range of ``ln K``, K in DN per electron.
        tukey_lambdas: Tukey-lambda shapes; ``lambda_law`` says how one is drawn per frame.
        lambda_law: ``"choice"`` (one of the values) or ``"uniform"`` (uniform between the two values).
        tukey_scale, row_scale, gaussian_scale: ``(slope, bias, spread)`` of ``ln sigma`` against ``ln K``
            for the Tukey-lambda read scale, the row noise and the Gaussian read alternative.
        white_level, black_level: raw range in DN.
    """

    name: str
    source: str
    log_k: tuple[float, float]
    tukey_lambdas: tuple[float, ...]
    tukey_scale: tuple[float, float, float]
    row_scale: tuple[float, float, float]
    gaussian_scale: tuple[float, float, float]
    white_level: int
    black_level: int
    lambda_law: str = "choice"

    @property
    def span(self) -> float:
        """``white - black`` in DN."""
        return float(self.white_level - self.black_level)

    def eld_preset(self) -> EldPreset:
        """The calibration as an :class:`~simulator.eld.EldPreset` (Tukey-lambda read noise, row noise)."""
        return EldPreset(
            name=self.name, white_level=self.white_level, black_level=self.black_level,
            k_min=math.exp(self.log_k[0]), k_max=math.exp(self.log_k[1]), tukey_lambdas=self.tukey_lambdas,
            read_scale=LogLinear(*self.tukey_scale), row_scale=LogLinear(*self.row_scale),
            source=self.source, lambda_law=self.lambda_law,
        )

    def sample_levels(self, generator: torch.Generator) -> NoiseLevels:
        """Poisson-Gaussian levels of one frame: ``ln K ~ U(log_k)``, ``ln sigma_Gs`` from its law.

        Draws ``u ~ U(0, 1)`` then ``z ~ N(0, 1)`` from ``generator``; ``shot = K / span``,
        ``read = (sigma_Gs / span)^2`` (normalised units).
        """
        u = float(torch.rand(1, generator=generator, dtype=torch.float64))
        z = float(torch.randn(1, generator=generator, dtype=torch.float64))
        log_k = self.log_k[0] + u * (self.log_k[1] - self.log_k[0])
        slope, bias, spread = self.gaussian_scale
        sigma = math.exp(slope * log_k + bias + spread * z)
        return NoiseLevels(math.exp(log_k) / self.span, (sigma / self.span) ** 2)


_PMN = "PMN (Feng et al., ACM MM 2022), megvii-research/PMN data_process/process.py get_camera_noisy_params, Apache-2.0"
_ELD = "ELD (Wei et al., CVPR 2020 / TPAMI 2021), Vandermode/ELD, MIT"

CALIBRATIONS: dict[str, SensorCalibration] = {
    c.name: c for c in (
        SensorCalibration("imx686", f"Sony IMX686 phone sensor, ISO 640-6400; {_PMN}", (-0.19118, 2.16820), (0.102,),
                          (0.85187, 0.07991, 0.02921), (0.87611, -2.11455, 0.03274), (0.85187, 0.67991, 0.02921),
                          1023, 64),
        SensorCalibration("a7s2_low", f"Sony A7S2, low ISO; {_PMN}", (-1.67214, 0.42228), (-0.026,),
                          (0.74043, 0.86182, 0.00712), (0.78782, -0.34227, 0.02832), (0.82966, 1.49343, 0.00359),
                          16383, 512),
        SensorCalibration("a7s2_high", f"Sony A7S2, high ISO; {_PMN}", (0.64567, 2.51606), (-0.025,),
                          (0.74901, -0.12348, 0.00638), (0.62945, -1.51040, 0.02609), (0.82878, 0.44162, 0.00153),
                          16383, 512),
        SensorCalibration("d850", f"Nikon D850; {_PMN}", (1.2, 2.4828), (-0.26,),
                          (0.906, -0.6754, 0.035165), (0.8322, -2.3326, 0.301333), (0.8322, -0.1754, 0.035165),
                          16383, 512),
        # ELD gives K in [0.2182, 3.0] and lambda "between 0.014 and 0.2 across ISOs": drawn uniformly between them
        SensorCalibration("canon_5d4", f"Canon EOS 5D Mark IV; {_ELD}", (math.log(0.2182), math.log(3.0)), (0.014, 0.2),
                          (0.6559, 1.0927, 0.2860), (0.4713, -0.8079, 0.2436), (0.6771, 1.5122, 0.2464),
                          16383, 2048, lambda_law="uniform"),
    )
}

# RViDeNet (Yue et al., CVPR 2020, CRVD dataset), Sony IMX385, 12-bit, black 240, white 4095, at
# ISO 1600 / 3200 / 6400 / 12800 / 25600: gain a (DN per electron) and read variance b (DN^2).
IMX385_ISOS = (1600, 3200, 6400, 12800, 25600)
IMX385_GAIN = (3.513, 6.956, 13.49, 26.59, 52.03)
IMX385_READ_VARIANCE = (11.92, 38.12, 130.8, 484.5, 1819.8)
IMX385_RANGE = (240, 4095)

# Brooks et al., "Unprocessing images for learned raw denoising" (CVPR 2019, google-research, Apache-2.0):
BROOKS_SHOT = (1e-4, 0.012)  # log-uniform
BROOKS_READ_LINE = (2.18, 1.20, 0.26)  # ln read = slope ln shot + bias + N(0, spread^2)
# NTIRE RAW restoration challenges' "DSLR" sampler, base-10 logs:
NTIRE_DSLR_LOG10_SHOT = (-4.0, -3.0)  # uniform
NTIRE_DSLR_READ_LINE = (1.34, 0.22, 0.1)  # log10 read = slope log10 shot + bias + N(0, spread^2)


def sample_imx686(generator: torch.Generator) -> NoiseLevels:
    """Sony IMX686 phone sensor, ISO 640-6400, Poisson-Gaussian (PMN, ACM MM 2022, Apache-2.0)."""
    return CALIBRATIONS["imx686"].sample_levels(generator)


def sample_a7s2_low(generator: torch.Generator) -> NoiseLevels:
    """Sony A7S2 at low ISO, Poisson-Gaussian (PMN, ACM MM 2022, Apache-2.0)."""
    return CALIBRATIONS["a7s2_low"].sample_levels(generator)


def sample_a7s2_high(generator: torch.Generator) -> NoiseLevels:
    """Sony A7S2 at high ISO, Poisson-Gaussian (PMN, ACM MM 2022, Apache-2.0)."""
    return CALIBRATIONS["a7s2_high"].sample_levels(generator)


def sample_d850(generator: torch.Generator) -> NoiseLevels:
    """Nikon D850, Poisson-Gaussian (PMN, ACM MM 2022, Apache-2.0)."""
    return CALIBRATIONS["d850"].sample_levels(generator)


def sample_canon_5d4(generator: torch.Generator) -> NoiseLevels:
    """Canon EOS 5D Mark IV, Poisson-Gaussian (ELD, Wei et al. CVPR 2020, MIT)."""
    return CALIBRATIONS["canon_5d4"].sample_levels(generator)


def sample_imx385(generator: torch.Generator) -> NoiseLevels:
    """Sony IMX385 at one of ISO 1600-25600, uniformly (RViDeNet, Yue et al. CVPR 2020, CRVD points).

    ``shot = a / (white - black)``, ``read = b / (white - black)^2`` from the calibrated point.
    """
    index = int(torch.randint(len(IMX385_ISOS), (1,), generator=generator))
    span = float(IMX385_RANGE[1] - IMX385_RANGE[0])
    return NoiseLevels(IMX385_GAIN[index] / span, IMX385_READ_VARIANCE[index] / span**2)


def sample_brooks2019(generator: torch.Generator) -> NoiseLevels:
    """Brooks et al. (CVPR 2019) unprocessing sampler: log-uniform shot in [1e-4, 0.012], log-linear read.

    Draws ``u ~ U(0, 1)`` then ``z ~ N(0, 1)``: ``ln shot = ln 1e-4 + u ln 120``,
    ``ln read = 2.18 ln shot + 1.20 + 0.26 z``.
    """
    u = float(torch.rand(1, generator=generator, dtype=torch.float64))
    z = float(torch.randn(1, generator=generator, dtype=torch.float64))
    low, high = (math.log(v) for v in BROOKS_SHOT)
    log_shot = low + u * (high - low)
    slope, bias, spread = BROOKS_READ_LINE
    return NoiseLevels(math.exp(log_shot), math.exp(slope * log_shot + bias + spread * z))


def sample_ntire_dslr(generator: torch.Generator) -> NoiseLevels:
    """NTIRE RAW restoration challenges' DSLR sampler: log10 shot ~ U(-4, -3), log-linear read.

    Draws ``u ~ U(0, 1)`` then ``z ~ N(0, 1)``: ``log10 read = 1.34 log10 shot + 0.22 + 0.1 z``.
    """
    u = float(torch.rand(1, generator=generator, dtype=torch.float64))
    z = float(torch.randn(1, generator=generator, dtype=torch.float64))
    low, high = NTIRE_DSLR_LOG10_SHOT
    log_shot = low + u * (high - low)
    slope, bias, spread = NTIRE_DSLR_READ_LINE
    return NoiseLevels(10.0**log_shot, 10.0 ** (slope * log_shot + bias + spread * z))
