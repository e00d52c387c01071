"""Models: the registry of model specs, shared layers, TMRNet, the burst / HDR baselines and the runner.

Depends on ``simulator`` only. Every model is one :class:`~models.spec.ModelSpec` line in
``models/registry.py``; entries are imported lazily, so one broken optional model never breaks the others::

    model = build_model("tmrnet", mid_channels=16)
    tiny = MODELS.spec("tmrnet").build_tiny()
"""

from __future__ import annotations

from typing import Any

from torch import nn

from models.registry import MODELS
from models.spec import ModelRegistry, ModelSpec

__all__ = ["MODELS", "ModelRegistry", "ModelSpec", "build_model", "list_models", "model_spec", "parameter_count",
           "register_model", "weight_free_models"]


def list_models() -> list[str]:
    """Registered model names."""
    return MODELS.names()


def model_spec(name: str) -> ModelSpec:
    """The spec of registered model ``name`` (a did-you-mean error otherwise)."""
    return MODELS.spec(name)


def register_model(spec: ModelSpec, replace: bool = False) -> ModelSpec:
    """Add a user's model to the registry (``train``, ``bench``, ``info`` then know it by ``spec.name``)."""
    return MODELS.register(spec, replace=replace)


def weight_free_models() -> list[str]:
    """Registered models that run without trained weights."""
    return [spec.name for spec in MODELS.specs() if not spec.needs_weights]


def build_model(name: str, **kwargs: Any) -> nn.Module:
    """Build the registered model ``name`` with constructor arguments ``kwargs`` (a did-you-mean error otherwise)."""
    return MODELS.spec(name).build(**kwargs)


def parameter_count(model: nn.Module) -> int:
    """Number of parameters (buffers excluded)."""
    return sum(p.numel() for p in model.parameters())
