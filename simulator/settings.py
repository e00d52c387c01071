"""Configuration of the data simulator: one typed section per pipeline stage, YAML presets.

Presets live in ``simulator/presets/<name>.yaml`` (``bracketire``, ``bracketire_plus``); any field can be
overridden from the command line with ``--set section.key=value``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Literal

from simulator.core.config import load_config
from simulator.core.errors import ConfigError
from simulator.core.registry import unknown_name


@dataclass(frozen=True)
class SourceConfig:
    name: str = "builtin"  # a source in simulator.scenes.SCENE_SOURCES: builtin | shapes | photos | hdr | ldr | video
    path: str | None = None  # file or folder for file-based sources
    highlight_gain: float = 1.0  # ldr: boost of near-white regions (1 = off)
    colorspace: Literal["linear_srgb", "alexa_wide_gamut"] = "linear_srgb"  # HdM-HDR-2014 clips: alexa_wide_gamut
    awg_matrix: Literal["published", "colour_science"] = "published"  # alexa_wide_gamut -> sRGB matrix (published consts)
    scale: float = 1.0  # brightness multiplier applied to every source (alexa_wide_gamut adds the published 2^-4)
    frames_per_group: int = 12  # video: consecutive source frames per sample (published: 12)
    min_size: int = 64  # smallest accepted source side, pixels
    on_error: Literal["skip", "fail"] = "skip"  # a bad source file is reported and skipped, or stops the run


@dataclass(frozen=True)
class MotionConfig:
    model: str = "trajectory"  # a motion model in simulator.motion_models.MOTION_MODELS: none | trajectory | video
    length: tuple[float, float] = (4.0, 24.0)  # camera path length over the bracket, pixels, drawn uniformly
    rotation: float = 0.0  # max in-plane rotation over the bracket, degrees (0: kernels, exact and fast)
    subframes: int = 8  # sub-frames per exposure when rotating, or interpolating video with video_timing=subsampled
    video_timing: Literal["published", "subsampled"] = "published"  # video: every whole sub-frame time (1..256 per
    # exposure, raw_1 at the GT instant, as published) or motion.subframes per exposure (an approximation, faster)
    video_peak: Literal["first_frame", "none"] = "none"  # video: clip interpolation inputs at the first frame's peak
    # (published: its interpolator sees frames normalised by that peak and clamped) or keep brighter lights
    subframes_per_key: int = 32  # video: sub-frame units between two source frames (published: 32)
    interpolator: str = "dis"  # video frame interpolator


@dataclass(frozen=True)
class ExposureConfig:
    frames: int = 5
    ratio: float = 4.0
    unit_frame: int = 2  # the frame with gain 1 (the ground truth's scale)
    clipping: Literal["srgb_subframe", "raw"] = "srgb_subframe"  # published, or physical clipping in RAW


@dataclass(frozen=True)
class CameraConfig:
    name: str = "bracketire"  # a camera in simulator.camera.CAMERAS


@dataclass(frozen=True)
class DownsampleConfig:
    scales: tuple[int, ...] = ()  # () BracketIRE; (2, 4) BracketIRE+ (inputs in x2/ and x4/)
    method: Literal["bicubic", "area"] = "bicubic"  # published: bicubic, align_corners=True


@dataclass(frozen=True)
class NoiseConfig:
    model: str = "heteroscedastic"  # a model in simulator.noise.NOISE_MODELS (eld draws its own levels)
    levels: str = "iso1600near"  # a level sampler in simulator.noise.NOISE_LEVELS (calibrated: simulator/sensors.py)
    shot_noise: float | None = None  # fixed levels override the sampler (both must be given)
    read_noise: float | None = None
    eld_preset: str = "generic14"  # model eld: a shipped preset name or a calibration JSON (simulator/eld.py)
    bracket_iso: Literal["per_frame", "shared"] = "per_frame"  # levels drawn per frame (published) or once per
    # bracket (one ISO setting for all its frames, as a camera shoots a bracket; frames keep their own noise)
    bit_depth: int = 10
    black_level: int = 0


@dataclass(frozen=True)
class OutputConfig:
    split: str = "Test"
    size: tuple[int, int] = (1920, 1080)  # width, height of the ground truth at full resolution
    previews: bool = False  # also write rgb_vis_gt.png (16-bit, the scoring render) and rgb_vis_<m>.png
    preview_demosaicer: str = "demosaicnet"


@dataclass(frozen=True)
class SimulationConfig:
    source: SourceConfig = field(default_factory=SourceConfig)
    motion: MotionConfig = field(default_factory=MotionConfig)
    exposure: ExposureConfig = field(default_factory=ExposureConfig)
    camera: CameraConfig = field(default_factory=CameraConfig)
    downsample: DownsampleConfig = field(default_factory=DownsampleConfig)
    noise: NoiseConfig = field(default_factory=NoiseConfig)
    output: OutputConfig = field(default_factory=OutputConfig)
    seed: int = 0
    num_samples: int = 4


def preset_names() -> list[str]:
    """Names of the shipped presets."""
    folder = resources.files("simulator") / "presets"
    return sorted(Path(p.name).stem for p in folder.iterdir() if p.name.endswith(".yaml"))


def load_simulation_config(preset: str = "bracketire", overrides: tuple[str, ...] | list[str] = ()) -> SimulationConfig:
    """A preset (a shipped name or a YAML path) with ``section.key=value`` overrides applied."""
    path = Path(preset)
    if not path.suffix:
        if preset not in preset_names():
            raise unknown_name("preset", preset, preset_names())
        path = Path(str(resources.files("simulator") / "presets" / f"{preset}.yaml"))
    return load_config(SimulationConfig, path, overrides)


def options_as_overrides(
    source: str | None = None,
    source_path: str | Path | None = None,
    split: str | None = None,
    num_samples: int | None = None,
    size: str | None = None,
    seed: int | None = None,
) -> list[str]:
    """The ``simulate`` command's shortcut options as ``section.key=value`` overrides (None: unchanged).

    ``size`` is ``"WIDTHxHEIGHT"``.
    """
    overrides = []
    if source is not None:
        overrides.append(f"source.name={source}")
    if source_path is not None:
        overrides.append(f"source.path={source_path}")
    if split is not None:
        overrides.append(f"output.split={split}")
    if num_samples is not None:
        overrides.append(f"num_samples={num_samples}")
    if size is not None:
        parts = size.lower().split("x")
        if len(parts) != 2 or not all(p.isdigit() for p in parts):
            raise ConfigError(f"--size {size!r}; expected WIDTHxHEIGHT, e.g. 1920x1080")
        overrides.append(f"output.size=[{parts[0]}, {parts[1]}]")
    if seed is not None:
        overrides.append(f"seed={seed}")
    return overrides
