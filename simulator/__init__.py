"""Simulator: camera model (ISP both ways), motion, noise, exposure, scene sources and the dataset writer.

It also holds the infrastructure every package shares (errors, registries, typed configs, weight files, checks,
safe file I/O, plugins).

The lowest layer of the toolkit: it imports nothing from ``models``, ``benchmark`` or ``leaderboards``.
Importing this package is cheap (no torch); import the submodules you need.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"
_PUBLIC = {  # name -> "module:attribute", imported on first use (importing the package stays cheap)
    "BracketIREError": "simulator.core.errors:BracketIREError",
    "ConfigError": "simulator.core.errors:ConfigError",
    "DataError": "simulator.core.errors:DataError",
    "Registry": "simulator.core.registry:Registry",
    "WEIGHT_FILES": "simulator.core.weights:WEIGHT_FILES",
    "generate_dataset": "simulator.dataset:generate_dataset",
    "load_plugin": "simulator.core.plugins:load_plugin",
    "load_simulation_config": "simulator.settings:load_simulation_config",
    "simulate_sample": "simulator.pipeline:simulate_sample",
}
__all__ = ["__version__", *sorted(_PUBLIC)]


def __getattr__(name: str) -> Any:
    if name in _PUBLIC:
        module, _, attr = _PUBLIC[name].partition(":")
        return getattr(importlib.import_module(module), attr)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
