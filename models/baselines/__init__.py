"""Burst and HDR baselines re-implemented for bracketed RAW, one file per architecture.

Each is registered by one :class:`~models.spec.ModelSpec` line in ``models/registry.py``, which holds its
``tiny`` (CPU test) and ``card`` (published network, parameter count) configurations.
"""

from __future__ import annotations

from typing import Any


def __getattr__(name: str) -> Any:
    """``BASELINES``: registry name -> ``"module:attr"`` of the learned baselines, derived from the specs."""
    if name == "BASELINES":
        from models.registry import MODELS

        return {spec.name: spec.target for spec in MODELS.specs()
                if isinstance(spec.target, str) and spec.target.startswith("models.baselines.")}
    raise AttributeError(name)
