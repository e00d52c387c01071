"""Training with the benchmark's eyes: the runner (``models.runner``) plus validation by the protocol's metrics.

``models`` may not import ``benchmark``, so the runner takes a validation callback; this module builds it:
each validation crop of the published loaders (every 20th frame per scene, ``[10:138, 10:522]``) is run
through the model, rendered with the published chain (``tonemap_raw``: white balance, DemosaicNet, colour
matrix, mu-law, 16-bit) together with its ground truth, and scored with PSNR and SSIM.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch
from torch import nn

from benchmark.metrics import psnr, ssim
from models.data import BracketDataset
from models.runner import TrainResult, Validator, train
from models.train_config import RunConfig
from simulator.camera import CameraMeta
from simulator.render import to_uint16, tonemap_raw


def make_validator(root: str | os.PathLike[str], split: str = "Test", scale: int = 1, limit: int = 16,
                   white: float = 1023.0, demosaicer: str = "demosaicnet") -> Validator:
    """A ``validate(model, step) -> {"psnr", "ssim"}`` over at most ``limit`` validation crops of ``split``."""
    dataset = BracketDataset(root, split, "val", scale=scale, white=white)
    items = [dataset[i] for i in range(min(limit, len(dataset)))]
    rendered_gt = [to_uint16(tonemap_raw(item["gt"], _meta(item), demosaicer)) for item in items]

    @torch.no_grad()
    def validate(model: nn.Module, step: int) -> dict[str, float]:
        device = next(model.parameters(), torch.zeros(())).device
        scores: dict[str, list[float]] = {"psnr": [], "ssim": []}
        for item, gt in zip(items, rendered_gt):
            out = model(item["raws"][None].to(device))[0].float().cpu().clamp_min(0)
            png = to_uint16(tonemap_raw(out, _meta(item), demosaicer))
            scores["psnr"].append(psnr(png, gt))
            scores["ssim"].append(ssim(png, gt))
        return {k: sum(v) / len(v) for k, v in scores.items()}

    return validate


def _meta(item: dict[str, object]) -> CameraMeta:
    return CameraMeta.from_arrays({k: v.numpy() for k, v in item["meta"].items()})  # type: ignore[union-attr]


def train_model(config: RunConfig, run_dir: str | os.PathLike[str], resume: bool = False,
                stop_at: int | None = None) -> TrainResult:
    """Train ``config`` with validation on ``config.data.val_split`` (when set and present)."""
    data = config.data
    validate = None
    if data.val_split and (Path(data.root) / data.val_split).is_dir():
        validate = make_validator(data.root, data.val_split, data.scale, data.val_limit, data.white)
    return train(config, run_dir, resume=resume, validate=validate, stop_at=stop_at)
