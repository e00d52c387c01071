"""Models: the registry, shared layers, TMRNet, the burst / HDR baselines (``models.baselines``) and the runner.

Depends on ``simulator`` only. Entries are explicit and imported lazily, so one broken optional model
never breaks the others::

    model = build_model("tmrnet", mid_channels=16)
"""

from __future__ import annotations

from typing import Any

from torch import nn

from models.baselines import BASELINES
from simulator.registry import Registry

MODELS = Registry(
    "model",
    {
        "tmrnet": "models.tmrnet:TMRNet",
        "tmrnet_plus": "models.tmrnet:TMRNetPlus",
        "reference": "models.classical:ReferenceFrame",
        "merge": "models.classical:NoiseAwareMerge",
        **BASELINES,
    },
)


def list_models() -> list[str]:
    """Registered model names."""
    return MODELS.names()


def build_model(name: str, **kwargs: Any) -> nn.Module:
    """Build the registered model ``name`` with constructor arguments ``kwargs`` (a did-you-mean error otherwise)."""
    return MODELS[name](**kwargs)


def parameter_count(model: nn.Module) -> int:
    """Number of parameters (buffers excluded)."""
    return sum(p.numel() for p in model.parameters())
