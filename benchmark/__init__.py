"""Benchmark: the published rendering protocol, metrics, protocols, submission scoring and tables.

May use ``simulator`` (camera model, dataset reader) and ``models`` (to run a model).
"""

from __future__ import annotations

import importlib
from typing import Any

from simulator.core.weights import WEIGHT_FILES

for _name, _target in (("alexnet", "benchmark.lpips:ALEXNET_WEIGHTS"), ("lpips_alex", "benchmark.lpips:LPIPS_HEADS_WEIGHTS")):
    if _name not in WEIGHT_FILES:
        WEIGHT_FILES.register(_name, _target)

_PUBLIC = {  # name -> "module:attribute", imported on first use (importing the package stays cheap)
    "bench": "benchmark.bench:bench",
    "create_metric": "benchmark.metrics:create_metric",
    "get_protocol": "benchmark.protocols:get_protocol",
    "make_validator": "benchmark.validation:make_validator",
    "METRICS": "benchmark.metrics:METRICS",
    "PROTOCOLS": "benchmark.protocols:PROTOCOLS",
    "register_metric": "benchmark.metrics:register_metric",
    "score": "benchmark.scoring:score",
    "toolkit_registries": "benchmark.info:toolkit_registries",
}
__all__ = sorted(_PUBLIC)


def __getattr__(name: str) -> Any:
    if name in _PUBLIC:
        module, _, attr = _PUBLIC[name].partition(":")
        return getattr(importlib.import_module(module), attr)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
