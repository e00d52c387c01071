"""Training the flow network on the simulator's own ground truth: ``python cli.py train --model spynet``.

The pairs come from :func:`simulator.flowpairs.flow_pair` (a bracket's shortest frame and a longer one, with
the exact flow between them), turned into what SPyNet sees inside TMRNet: exposure-normalised packed RAW as
RGB, clipped at 1 and gamma-encoded (:func:`models.bracket.packed_to_rgb`). The loss is the mean end-point
error (EPE, pixels) over every pixel; validation reports the EPE on a held-out stream of pairs (another seed),
over all pixels and over the pixels visible in both frames (``val_epe``, ``val_epe_visible``), beside the
EPE of a zero flow on the same pairs. The held-out set is ``data.val_limit`` pairs of twice the training patch.

Pairs are generated on the fly (no data folder): item ``i`` of the training stream is pair ``i`` of seed
``train.seed``, so batches stay a function of ``(seed, step)`` and ``--resume`` is exact.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn
from torch.utils.data import Dataset

from models.bracket import packed_to_rgb
from models.training import TrainingBehaviour
from simulator.flowpairs import flow_pair

VALIDATION_SEED_OFFSET = 7_777  # the held-out stream: seed + this
STREAM_LENGTH = 100_000  # items per "epoch" of the stream; epoch e's item i is pair e * STREAM_LENGTH + i (never repeated)


class FlowPairDataset(Dataset):
    """Item ``i``: ``{"pair": [2, 3, p, p] (reference, supporting) RGB as SPyNet sees it, "flow": [2, p, p],
    "valid": [1, p, p]}``, all float32, from :func:`~simulator.flowpairs.flow_pair` (``index=i``, ``seed``)."""

    def __init__(self, seed: int, patch: int, length: int = STREAM_LENGTH) -> None:
        self.seed, self.patch, self.length = seed, patch, length

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        return self.sample(index, 0)

    def sample(self, index: int, epoch: int) -> dict[str, torch.Tensor]:
        """Item ``index`` of epoch ``epoch`` (the runner's batches address items this way): pair ``epoch * len + index``."""
        pair = flow_pair(epoch * self.length + int(index), self.seed, self.patch, self.patch)
        return {"pair": torch.stack([packed_to_rgb(pair.ref), packed_to_rgb(pair.supp)]), "flow": pair.flow,
                "valid": pair.valid}


def end_point_error(flow: torch.Tensor, truth: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """Mean Euclidean distance between ``flow`` and ``truth`` (``[N, 2, H, W]``, pixels), over ``mask [N, 1, H, W]``."""
    distance = (flow - truth).square().sum(1, keepdim=True).sqrt()
    if mask is None:
        return distance.mean()
    return (distance * mask).sum() / mask.sum().clamp_min(1)


class FlowTraining(TrainingBehaviour):
    """The runner's view of a flow network: pairs from the simulator, EPE loss, EPE validation."""

    needs_bracket_data = False

    def dataset(self, config: Any) -> Dataset:
        return FlowPairDataset(config.train.seed, config.train.patch)

    def flow_modules(self, model: nn.Module) -> list[nn.Module]:
        return []  # the flow network is what trains: never frozen

    def prepare(self, batch: dict[str, torch.Tensor], device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
        target = torch.cat([batch["flow"], batch["valid"]], dim=1)
        return batch["pair"].to(device, non_blocking=True), target.to(device, non_blocking=True)

    def forward(self, model: nn.Module, net: nn.Module, inputs: torch.Tensor) -> tuple[torch.Tensor, dict]:
        return net(inputs[:, 0], inputs[:, 1]), {}

    def loss(self, output: torch.Tensor, extras: dict[str, torch.Tensor], gt: torch.Tensor, kind: str) -> torch.Tensor:
        return end_point_error(output, gt[:, :2])

    def validator(self, config: Any):
        return FlowValidator(config.train.seed + VALIDATION_SEED_OFFSET, config.data.val_limit, 2 * config.train.patch)


class FlowValidator:
    """EPE of a flow network on a fixed held-out set of ``pairs`` pairs of ``size x size`` packed pixels (built on
    first use): ``validate(model, step) -> dict``."""

    def __init__(self, seed: int, pairs: int = 16, size: int = 128) -> None:
        self.seed, self.pairs, self.size = seed, pairs, size
        self.pair = self.flow = self.valid = torch.empty(0)

    def _build(self) -> None:
        items = [FlowPairDataset(self.seed, self.size)[i] for i in range(self.pairs)]
        self.pair = torch.stack([item["pair"] for item in items])
        self.flow = torch.stack([item["flow"] for item in items])
        self.valid = torch.stack([item["valid"] for item in items])

    @torch.no_grad()
    def __call__(self, model: nn.Module, step: int = 0) -> dict[str, float]:
        if not len(self.pair):
            self._build()
        device = next(model.parameters()).device
        flows = torch.cat([model(self.pair[i:i + 4, 0].to(device), self.pair[i:i + 4, 1].to(device)).cpu()
                           for i in range(0, len(self.pair), 4)])
        zero = torch.zeros_like(self.flow)
        return {"epe": float(end_point_error(flows, self.flow)),
                "epe_visible": float(end_point_error(flows, self.flow, self.valid)),
                "epe_zero_flow": float(end_point_error(zero, self.flow))}
