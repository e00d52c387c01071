"""Every simulation setting checked before any work starts.

A setting that every sample would trip over (an unknown noise model, ``exposure.frames=0``, a NaN ratio, a
black level above the white level) is a :class:`~simulator.core.errors.ConfigError` raised here, once, before
``simulate`` creates a folder or draws a sample, never a "skipped source" per sample. Only problems of a
single source file remain skippable (``source.on_error``).

    check_simulation_config(config)   # raises ConfigError naming the key, the value and what was expected
"""

from __future__ import annotations

import math
from pathlib import Path

from simulator.core.errors import ConfigError, DataError
from simulator.settings import SimulationConfig

MAX_BIT_DEPTH = 16  # stored as uint16
MAX_FRAMES = 16  # exposures per bracket: file names raw_{ratio^k} (ratio 4: up to raw_1073741824) stay sane
MAX_SIDE = 16384  # pixels per side of output.size: a 16384x16384 ground truth is already 1.5 GiB as float32 RGB


def _finite(key: str, value: float, low: float | None = None, *, above: bool = False) -> None:
    """``value`` must be a finite number, ``>= low`` (or ``> low`` with ``above``)."""
    if not math.isfinite(value):
        raise ConfigError(f"{key}={value}; expected a finite number")
    if low is not None and (value <= low if above else value < low):
        raise ConfigError(f"{key}={value}; expected a number {'>' if above else '>='} {low}")


def _at_least(key: str, value: int, low: int) -> None:
    if value < low:
        raise ConfigError(f"{key}={value}; expected an integer >= {low}")


def _as_config_error(check, *args) -> object:  # type: ignore[no-untyped-def]
    """Run one of the pipeline's own checks and report its DataError as a setting error."""
    try:
        return check(*args)
    except ConfigError:
        raise
    except DataError as err:
        raise ConfigError(str(err)) from None


def _check_source(config: SimulationConfig) -> None:
    from simulator.scenes import SCENE_SOURCES

    source = config.source
    if SCENE_SOURCES[source.name].needs_path:  # an unknown name raises with a did-you-mean
        if source.path is None:
            raise ConfigError(f"source.name={source.name} needs source.path (--source-path FILE_OR_FOLDER)")
        if not Path(source.path).exists():
            raise ConfigError(f"source.path={source.path}: no such file or folder")
    _finite("source.highlight_gain", source.highlight_gain, 1.0)
    _finite("source.scale", source.scale, 0.0, above=True)
    _at_least("source.frames_per_group", source.frames_per_group, 1)
    _at_least("source.min_size", source.min_size, 1)


def _check_motion(config: SimulationConfig) -> None:
    from simulator.interpolate import INTERPOLATORS
    from simulator.motion_models import MOTION_MODELS

    motion = config.motion
    MOTION_MODELS[motion.model].check(config)  # an unknown name raises with a did-you-mean
    low, high = motion.length
    _finite("motion.length[0]", low, 0.0)
    _finite("motion.length[1]", high, 0.0)
    if low > high:
        raise ConfigError(f"motion.length={[low, high]}; expected [low, high] with low <= high")
    _finite("motion.rotation", motion.rotation, 0.0)
    _at_least("motion.subframes", motion.subframes, 1)
    _at_least("motion.subframes_per_key", motion.subframes_per_key, 1)
    INTERPOLATORS[motion.interpolator]  # noqa: B018  (an unknown name raises with a did-you-mean)


def _check_exposure(config: SimulationConfig) -> None:
    from simulator.exposure import exposure_multiples, relative_exposures

    exposure = config.exposure
    if not 2 <= exposure.frames <= MAX_FRAMES:
        raise ConfigError(f"exposure.frames={exposure.frames}; expected 2..{MAX_FRAMES} frames per bracket "
                          "(the file names raw_<ratio^k> grow with it)")
    _finite("exposure.ratio", exposure.ratio)
    _as_config_error(exposure_multiples, exposure.frames, exposure.ratio)
    _as_config_error(relative_exposures, exposure.frames, exposure.ratio, exposure.unit_frame)


def _check_noise(config: SimulationConfig) -> None:
    from simulator.noise import NOISE_LEVELS, NOISE_MODELS, OWN_NOISE_LEVELS

    noise = config.noise
    NOISE_MODELS[noise.model]  # noqa: B018
    if not 1 <= noise.bit_depth <= MAX_BIT_DEPTH:
        raise ConfigError(f"noise.bit_depth={noise.bit_depth}; expected 1..{MAX_BIT_DEPTH} (stored as uint16)")
    white = 2**noise.bit_depth - 1
    if not 0 <= noise.black_level < white:
        raise ConfigError(f"noise.black_level={noise.black_level}; expected 0 <= black_level < {white} "
                          f"(the white level of noise.bit_depth={noise.bit_depth})")
    fixed = (noise.shot_noise, noise.read_noise)
    if (fixed[0] is None) != (fixed[1] is None):
        raise ConfigError("noise.shot_noise and noise.read_noise must be given together (or neither)")
    for key, value in zip(("noise.shot_noise", "noise.read_noise"), fixed):
        if value is not None:
            _finite(key, value, 0.0)
    if noise.model in OWN_NOISE_LEVELS:  # eld: levels from noise.eld_preset
        if fixed[0] is not None:
            raise ConfigError(f"noise.model={noise.model} draws its own levels; "
                              "unset noise.shot_noise and noise.read_noise")
        _as_config_error(OWN_NOISE_LEVELS[noise.model], noise)
    elif fixed[0] is None:
        NOISE_LEVELS[noise.levels]  # noqa: B018


def _check_output(config: SimulationConfig) -> None:
    from simulator.demosaic import DEMOSAICERS
    from simulator.pipeline import check_size

    split = config.output.split
    if not split or split in (".", "..") or split.startswith(".") or any(c in split for c in "/\\\0"):
        raise ConfigError(f"output.split={split!r}; expected a plain folder name such as Test or Train")
    for scale in config.downsample.scales:
        if scale < 2:
            raise ConfigError(f"downsample.scales={list(config.downsample.scales)}; expected factors >= 2")
    if len(set(config.downsample.scales)) != len(config.downsample.scales):
        raise ConfigError(f"downsample.scales={list(config.downsample.scales)}; a factor appears twice")
    width, height = config.output.size
    if not all(isinstance(side, int) and 0 < side <= MAX_SIDE and side % 2 == 0 for side in (width, height)):
        raise ConfigError(f"output.size={[width, height]}; expected [width, height], each a positive even number "
                          f"<= {MAX_SIDE}")
    _as_config_error(check_size, config)
    if config.output.previews:
        DEMOSAICERS[config.output.preview_demosaicer]  # noqa: B018


def check_simulation_config(config: SimulationConfig) -> None:
    """Check every setting of ``config``; nothing is simulated or written.

    Raises:
        ConfigError: the first bad setting, naming its key, its value and what was expected
            (``UnknownNameError``, a ConfigError, for a name missing from its registry).
    """
    from simulator.camera import CAMERAS

    _at_least("num_samples", config.num_samples, 1)
    _at_least("seed", config.seed, 0)
    _check_source(config)
    _check_motion(config)
    _check_exposure(config)
    CAMERAS[config.camera.name]  # noqa: B018
    _check_noise(config)
    _check_output(config)
