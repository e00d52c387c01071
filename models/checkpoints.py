"""Loading published and our own checkpoints into a model, safely and with clear reports."""

from __future__ import annotations

import os

import torch
from torch import nn

from simulator.core.errors import DataError
from simulator.core.files import load_torch_file

_WRAPPERS = ("state_dict", "params_ema", "params", "model")
_PREFIXES = ("module.", "netTMRNet.", "generator.")


def read_state_dict(path: str | os.PathLike[str]) -> dict[str, torch.Tensor]:
    """The tensors of a checkpoint file, unwrapped and without DataParallel prefixes.

    Accepts a plain state dict or one wrapped under ``state_dict`` (the published TMRNet files),
    ``params_ema``, ``params`` or ``model``; strips ``module.`` and similar prefixes. Read with
    ``torch.load(..., weights_only=True)``: no code in the file is run.

    Raises:
        DataError: missing file, not a weights-only checkpoint, or no tensors in it.
    """
    state = load_torch_file(path, "PyTorch checkpoint")
    while isinstance(state, dict) and not any(isinstance(v, torch.Tensor) for v in state.values()):
        inner = next((state[k] for k in _WRAPPERS if isinstance(state.get(k), dict)), None)
        if inner is None:
            break
        state = inner
    if not isinstance(state, dict) or not any(isinstance(v, torch.Tensor) for v in state.values()):
        raise DataError(f"{path}: holds no state dict (expected tensors, possibly under {list(_WRAPPERS)})")
    cleaned = {}
    for key, value in state.items():
        for prefix in _PREFIXES:
            if key.startswith(prefix):
                key = key[len(prefix):]
        cleaned[key] = value
    return cleaned


def read_model_config(path: str | os.PathLike[str]) -> dict | None:
    """``{"name": ..., "kwargs": {...}}`` saved by the runner in its checkpoints, or None for other files."""
    state = load_torch_file(path, "PyTorch checkpoint")
    config = state.get("model_config") if isinstance(state, dict) else None
    if config is None:
        return None
    if not isinstance(config, dict) or not isinstance(config.get("name"), str) or not isinstance(config.get("kwargs"), dict):
        raise DataError(f"{path}: model_config must be {{'name': str, 'kwargs': dict}}")
    return config


def load_checkpoint(model: nn.Module, path: str | os.PathLike[str], strict: bool = True) -> nn.Module:
    """Load a checkpoint file into ``model``.

    Args:
        model: the built model.
        path: the checkpoint (see :func:`read_state_dict` for accepted forms).
        strict: raise if keys are missing or unexpected, or shapes differ; otherwise load what matches.

    Raises:
        DataError: naming the file and the missing / unexpected / mismatched keys.
    """
    state = read_state_dict(path)
    own = model.state_dict()
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    mismatched = [f"{k} {tuple(state[k].shape)} != {tuple(own[k].shape)}" for k in own
                  if k in state and state[k].shape != own[k].shape]
    if strict and (missing or unexpected or mismatched):
        def show(items: list[str]) -> str:
            return ", ".join(items[:5]) + (f" (+{len(items) - 5} more)" if len(items) > 5 else "")

        parts = [f"missing {show(missing)}" if missing else "", f"unexpected {show(unexpected)}" if unexpected else "",
                 f"shape mismatch {show(mismatched)}" if mismatched else ""]
        raise DataError(f"{path}: does not fit {type(model).__name__}: " + "; ".join(p for p in parts if p))
    model.load_state_dict({k: v for k, v in state.items() if k in own and v.shape == own[k].shape}, strict=False)
    return model
