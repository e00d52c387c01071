"""Validation during training with the benchmark's eyes: the protocol's rendering and metrics on validation crops.

``models`` may not import ``benchmark``, so the runner (``models.runner``) takes a validation callback; this
module builds it from a :class:`~benchmark.protocols.Protocol`: each validation crop of the published loaders
(every 20th frame per scene, ``[10:138, 10:522]``) is run through the model and rendered by the very function
``bench`` uses (``render_png_array``, with the protocol's demosaicer, white level and mu-law), its ground truth
likewise, and both are scored by the protocol's metrics after its border crop, so validation and bench numbers
cannot drift apart. Metrics that cannot run here (LPIPS without its weights) are left out.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path

import numpy as np
import torch
from torch import nn

from benchmark.images import crop_border
from benchmark.metrics import Metric, create_metric
from benchmark.protocols import Protocol, get_protocol
from benchmark.render import render_png_array
from models import MODELS
from models.data import BracketDataset
from models.runner import TrainResult, Validator, train
from models.train_config import RunConfig
from simulator.camera import CameraMeta
from simulator.core.errors import MetricUnavailableError
from simulator.layout import STORED_WHITE


def make_validator(root: str | os.PathLike[str], split: str = "Test", scale: int = 1, limit: int = 16,
                   white: float = STORED_WHITE, protocol: str | Protocol = "bracketire") -> Validator:
    """A ``validate(model, step) -> {metric: mean}`` over at most ``limit`` validation crops of ``split``.

    Args:
        root, split, scale, white: the dataset (published layout), as ``BracketDataset`` reads it.
        limit: at most this many validation crops.
        protocol: the scoring protocol (name or object) whose rendering, border crop and metrics are used.
    """
    proto = get_protocol(protocol) if isinstance(protocol, str) else protocol
    render = functools.partial(render_png_array, padding=0, demosaicer=proto.demosaicer,
                               white_level=proto.white_level, mu=proto.mu)
    metrics = _available_metrics(proto)
    dataset = BracketDataset(root, split, "val", scale=scale, white=white)
    items = [dataset[i] for i in range(min(limit, len(dataset)))]
    rendered_gt = [crop_border(render(item["gt"], _meta(item)), proto.crop) for item in items]

    @torch.no_grad()
    def validate(model: nn.Module, step: int) -> dict[str, float]:
        device = next(model.parameters(), torch.zeros(())).device
        scores: dict[str, list[float]] = {name: [] for name in metrics}
        for item, gt in zip(items, rendered_gt):
            out = model(item["raws"][None].to(device))[0].float().cpu().clamp_min(0)
            png: np.ndarray = crop_border(render(out, _meta(item)), proto.crop)
            for name, metric in metrics.items():
                scores[name].append(metric(png, gt))
        return {k: sum(v) / len(v) for k, v in scores.items() if v}

    return validate


def _available_metrics(protocol: Protocol) -> dict[str, Metric]:
    """The protocol's full-reference metrics that can run here (by name, in table order)."""
    found = {}
    for name in protocol.metrics:
        try:
            found[name] = create_metric(name)
        except MetricUnavailableError:
            continue
    return found


def _meta(item: dict[str, object]) -> CameraMeta:
    return CameraMeta.from_arrays({k: v.numpy() for k, v in item["meta"].items()})  # type: ignore[union-attr]


def train_model(config: RunConfig, run_dir: str | os.PathLike[str], resume: bool = False,
                stop_at: int | None = None, protocol: str = "bracketire") -> TrainResult:
    """Train ``config`` with validation on ``config.data.val_split`` (when set and present) by ``protocol``."""
    data = config.data
    validate = MODELS.spec(config.model).training_behaviour().validator(config)
    if validate is None and data.val_split and (Path(data.root) / data.val_split).is_dir():
        validate = make_validator(data.root, data.val_split, data.scale, data.val_limit, data.white, protocol)
    return train(config, run_dir, resume=resume, validate=validate, stop_at=stop_at)
