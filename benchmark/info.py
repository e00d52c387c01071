"""What the toolkit can do: every registry, for ``cli.py info``."""

from __future__ import annotations

from dataclasses import dataclass

from benchmark.metrics import METRIC_SPECS, METRICS
from benchmark.protocols import PROTOCOLS
from models import MODELS
from models.complexity import model_complexity
from simulator import __version__
from simulator.bayer import CFA_OFFSETS
from simulator.camera import CAMERAS
from simulator.core.errors import WeightsNotFoundError
from simulator.core.registry import Registry
from simulator.core.weights import WEIGHT_FILES, WeightSpec, resolve_weights
from simulator.demosaic import DEMOSAICERS
from simulator.eld import eld_preset_names, load_eld_preset
from simulator.interpolate import INTERPOLATORS
from simulator.motion_models import MOTION_MODELS
from simulator.noise import NOISE_LEVELS, NOISE_MODELS
from simulator.scenes import SCENE_SOURCES
from simulator.settings import preset_names


@dataclass(frozen=True)
class RegistryEntry:
    """One line of ``info``: a registered name and what it is."""

    name: str
    summary: str


def _entries(registry: Registry) -> list[RegistryEntry]:
    return [RegistryEntry(name, registry.summary(name)) for name in registry.names()]


def toolkit_registries() -> dict[str, list[RegistryEntry]]:
    """Every registry of the toolkit, title -> entries, in a stable order."""
    return {
        "demosaicers": _entries(DEMOSAICERS),
        "cameras": _entries(CAMERAS),
        "cfa orders": [RegistryEntry(name, f"2x2 tile {name[:2]}/{name[2:]}, packed as R, Gr, Gb, B") for name in CFA_OFFSETS],
        "simulation presets": [RegistryEntry(name, f"--preset {name}") for name in preset_names()],
        "scene sources": _entries(SCENE_SOURCES),
        "motion models": _entries(MOTION_MODELS),
        "noise models": _entries(NOISE_MODELS),
        "noise level samplers": _entries(NOISE_LEVELS),
        "eld presets": [RegistryEntry(name, load_eld_preset(name).source or "noise.eld_preset") for name in eld_preset_names()],
        "frame interpolators": _entries(INTERPOLATORS),
        "models": [RegistryEntry(name, _model_summary(name)) for name in MODELS.names()],
        "metrics": [RegistryEntry(name, _metric_summary(name)) for name in METRICS.names()],
        "protocols": [RegistryEntry(p.tag, p.description) for p in PROTOCOLS.values()],
        "weights": [RegistryEntry(name, _weight_status(WEIGHT_FILES[name])) for name in WEIGHT_FILES.names()],
    }


def _model_summary(name: str) -> str:
    """Parameters, MACs and FLOPs (= 2 MACs, as the NTIRE tables) at the stated input, and the docstring line."""
    c = model_complexity(name)
    cost = "n/a (data-dependent)" if c["gmacs"] is None else f"{c['gmacs']:.1f} GMACs / {c['gflops']:.1f} GFLOPs"
    spec = MODELS.spec(name)
    needs = "weight-free" if not spec.needs_weights else "needs weights" + (
        f" (published: {', '.join(spec.weights())})" if spec.weights() else " (train it)")
    return f"{c['params_m']:.2f} M params, {cost} at {c['input']}, {needs}: {spec.summary()}"


def _metric_summary(name: str) -> str:
    spec = METRIC_SPECS[name]
    better = "lower" if spec.lower_better else "higher"
    return f"{spec.kind}, {better} is better: {METRICS.summary(name)}"


def _weight_status(spec: WeightSpec) -> str:
    """Where a weight file was found, or that it is missing (never downloads)."""
    try:
        return f"{spec.name}: found {resolve_weights(spec, allow_download=False)}"
    except WeightsNotFoundError:
        return f"{spec.name}: missing (set ${spec.env_var}" + ("; downloaded on first use when online)" if spec.urls else ")")


def toolkit_version() -> str:
    """The toolkit's version string."""
    return __version__
