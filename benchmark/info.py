"""What the toolkit can do: every registry, for ``cli.py info``."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from benchmark.info_cache import weight_status
from benchmark.metrics import METRIC_SPECS, METRICS
from benchmark.protocols import PROTOCOLS
from models import MODELS, build_model
from models.complexity import model_complexity
from simulator import __version__
from simulator.bayer import CFA_OFFSETS
from simulator.camera import CAMERAS
from simulator.core.registry import Registry
from simulator.core.weights import WEIGHT_FILES, WeightSpec
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
    """Every registry of the toolkit, title -> entries, in a stable order (weight files last, looked up now)."""
    listing, weights = toolkit_listing()
    return {**{title: [RegistryEntry(name, summary) for name, summary in entries] for title, entries in listing.items()},
            "weights": [RegistryEntry(name, weight_status(spec)) for name, spec in weights.items()]}


def toolkit_listing() -> tuple[dict[str, list[tuple[str, str]]], dict[str, WeightSpec]]:
    """Every registry but the weight files as ``title -> [(name, summary)]``, and the weight files' specs.

    What :mod:`benchmark.info_cache` stores: none of it depends on the machine's files, unlike where each
    weight file is found.
    """
    registries = {
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
        "flow networks (train alone: train --model NAME)": [RegistryEntry(name, _model_summary(name))
                                                             for name in MODELS.names(task="flow")],
        "metrics": [RegistryEntry(name, _metric_summary(name)) for name in METRICS.names()],
        "protocols": [RegistryEntry(p.tag, p.description) for p in PROTOCOLS.values()],
    }
    listing = {title: [(e.name, e.summary) for e in entries] for title, entries in registries.items()}
    return listing, {name: WEIGHT_FILES[name] for name in WEIGHT_FILES.names()}


def _needs(name: str) -> str:
    spec = MODELS.spec(name)
    return "weight-free" if not spec.needs_weights else "needs weights" + (
        f" ({' or '.join(spec.weights())} file)" if spec.weights() else " (train it)")


def _model_summary(name: str) -> str:
    """Parameters (counted on the ``meta`` device, no memory), what weights it needs, and the docstring line.

    MACs and FLOPs are left to :func:`model_card` (``info --model NAME``): counting them at the card's input
    takes seconds per model, too slow for a listing.
    """
    with torch.device("meta"):
        model = build_model(name)
    params = sum(p.numel() for p in model.parameters())
    return f"{params / 1e6:.2f} M params, {_needs(name)}: {MODELS.spec(name).summary()}"


def model_card(name: str) -> list[RegistryEntry]:
    """What ``info --model NAME`` prints: parameters, MACs and FLOPs (= 2 MACs, as the NTIRE tables) at the
    stated input, the weights it needs and where each was found, its tiny and published configurations.

    Raises:
        UnknownNameError: ``name`` is not a registered model (with a did-you-mean).
    """
    spec = MODELS.spec(name)
    c = model_complexity(name)
    cost = "n/a (data-dependent)" if c["gmacs"] is None else f"{c['gmacs']:.1f} GMACs / {c['gflops']:.1f} GFLOPs"
    entries = [RegistryEntry("summary", spec.summary()),
               RegistryEntry("parameters", f"{c['params_m']:.3f} M"),
               RegistryEntry("compute", f"{cost} at input {c['input']} (B x T x 4 x h x w)"),
               RegistryEntry("scale", f"x{spec.scale}" + (f" (preset {dict(spec.preset)})" if spec.preset else "")),
               RegistryEntry("weights", _needs(name))]
    entries += [RegistryEntry(f"  {key}", _weight_status(weights)) for key, weights in spec.weights().items()]
    entries.append(RegistryEntry("tiny", str(dict(spec.tiny))))
    if spec.card is not None:
        entries.append(RegistryEntry("card", f"{dict(spec.card['kwargs'])}, {spec.card['params_m']} M params published"))
    return entries


def _metric_summary(name: str) -> str:
    spec = METRIC_SPECS[name]
    better = "lower" if spec.lower_better else "higher"
    return f"{spec.kind}, {better} is better: {METRICS.summary(name)}"


_weight_status = weight_status  # where a weight file was found (never downloads)


def toolkit_version() -> str:
    """The toolkit's version string."""
    return __version__
