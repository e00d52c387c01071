"""Pretrained parts: sub-networks a model starts from when it trains (TMRNet's, DBSR's, Kalantari17's SPyNet).

A spec declares them as ``pretrained_parts={"spynet": "spynet"}`` (submodule prefix -> the registered model whose
weights fill it). Each part gets a setting ``model.<prefix>_weights`` (``--set model.spynet_weights=...``):

========== ==========================================================================================
``auto``    the default: the part model's shipped weights when they fit the part, else random initialisation
``shipped`` the weights shipped with the toolkit (``models/weights/``); an error if they do not fit
``published`` the part's published file (SPyNet: MMEditing's BasicVSR SPyNet, found as ``info`` says)
``none``    random initialisation
``zero``    random initialisation with the output layer zeroed (SPyNet: every level's last convolution), so
            the part starts by predicting no motion instead of random flow (the part needs a ``zero_output()``)
a path      a file holding the part's state dict (plain, or under ``params_ema`` / ``params`` / ``state_dict``)
========== ==========================================================================================

The runner loads them once, when it builds a new run's model (``--resume`` restores the run's own weights).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn

from simulator.core.errors import ConfigError, DataError
from simulator.core.files import load_torch_file
from simulator.core.weights import resolve_weights, sha256_of

SOURCES = ("auto", "shipped", "published", "none", "zero")


def part_keys(spec: Any) -> dict[str, str]:
    """``{"<prefix>_weights": prefix}`` for every pretrained part of ``spec``."""
    return {f"{prefix}_weights": prefix for prefix in spec.pretrained_parts}


def check_part_source(key: str, value: Any) -> str:
    """``value`` of setting ``model.<key>`` as a string: a word of :data:`SOURCES` or an existing file.

    Raises:
        ConfigError: naming the key, the value and what was expected.
    """
    text = str(value)
    if text not in SOURCES and not Path(text).expanduser().is_file():
        raise ConfigError(f"model.{key}={text}: no such file; expected {', '.join(SOURCES)} or a weight file")
    return text


def split_part_args(spec: Any, args: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """``(constructor arguments, {prefix: source})``: the ``<prefix>_weights`` settings taken out of ``args``."""
    keys = part_keys(spec)
    sources = {keys[k]: str(v) for k, v in args.items() if k in keys}
    return {k: v for k, v in args.items() if k not in keys}, sources


def _state_dict(path: Path, prefix: str) -> dict[str, torch.Tensor]:
    state = load_torch_file(path, "PyTorch checkpoint")
    for key in ("params_ema", "params", "state_dict"):
        if isinstance(state, dict) and isinstance(state.get(key), dict):
            state = state[key]
            break
    if not isinstance(state, dict):
        raise DataError(f"{path}: expected a state dict of {prefix!r} weights, got {type(state).__name__}")
    cleaned = {}
    for key, value in state.items():
        for lead in ("module.", "generator.", f"{prefix}."):
            key = key[len(lead):] if key.startswith(lead) else key
        cleaned[key] = value
    return cleaned


def _fits(part: nn.Module, state: Mapping[str, torch.Tensor]) -> bool:
    own = part.state_dict()
    return set(own) == set(state) and all(own[k].shape == state[k].shape for k in own)


def _file(part_spec: Any, source: str, key: str) -> Path | None:
    """The weight file of ``source``; ``None`` for ``none`` or an ``auto`` with nothing shipped."""
    if source == "none":
        return None
    if source in ("auto", "shipped", "published"):
        weights = part_spec.weights().get("published" if source == "published" else "shipped")
        if weights is None:
            if source == "auto":
                return None
            raise ConfigError(f"model.{key}={source}: {part_spec.name} has no {source} weights")
        if source == "auto":
            try:
                return resolve_weights(weights, allow_download=False)
            except Exception:
                return None
        return resolve_weights(weights)
    check_part_source(key, source)
    return Path(source).expanduser()


def load_pretrained_parts(model: nn.Module, spec: Any, sources: Mapping[str, str]) -> dict[str, str]:
    """Fill ``model``'s pretrained parts as ``sources`` say (missing prefixes: ``auto``).

    Returns:
        prefix -> what it started from: ``"random"``, ``"zero output"`` or ``"<file name> sha256:<first 12>"``.

    Raises:
        ConfigError: a source that is not a known word or a file; explicit weights that do not fit the part.
        WeightsNotFoundError: ``shipped`` or ``published`` weights that cannot be found.
    """
    from models import MODELS

    started: dict[str, str] = {}
    for prefix, part_name in spec.pretrained_parts.items():
        key, source = f"{prefix}_weights", sources.get(prefix, "auto")
        part = getattr(model, prefix, None)
        if not isinstance(part, nn.Module):
            started[prefix] = "absent"
            continue
        if source == "zero":
            if not callable(getattr(part, "zero_output", None)):
                raise ConfigError(f"model.{key}=zero: {spec.name}.{prefix} has no zero_output(); use none or a file")
            part.zero_output()
            started[prefix] = "zero output"
            continue
        path = _file(MODELS.spec(part_name), source, key)
        if path is None:
            started[prefix] = "random"
            continue
        state = _state_dict(path, prefix)
        if not _fits(part, state):
            if source == "auto":  # e.g. a tiny configuration's 2-level SPyNet: the shipped 6-level one cannot fill it
                started[prefix] = "random (shipped weights do not fit this configuration)"
                continue
            raise ConfigError(f"model.{key}={source}: {path} does not fit {spec.name}.{prefix} (its keys or shapes differ)")
        part.load_state_dict(state)
        started[prefix] = f"{path.name} sha256:{sha256_of(path)[:12]}"
    return started
